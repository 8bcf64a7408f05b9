//! `GET /services/{id}/logs` and `GET /tasks/{id}/logs`: which tasks, on which nodes, and the
//! stream of their lines through the leader's log broker (directly on the leader, over the
//! cluster port from any other manager).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::stream::{self, BoxStream, StreamExt};
use shoal_types::{Error, LogEntry, Task};

use shoal_proto::dispatcher::LogMessage;
use shoal_proto::membership::membership_client::MembershipClient;
use shoal_proto::membership::{LogsRequest, NodeTasks};
use shoal_store::Connector;
use tokio::sync::mpsc;

use crate::dispatcher::Subscription;
use crate::manager::Manager;

/// Whose logs.
#[derive(Debug, Clone, Copy)]
pub enum LogTarget<'a> {
    Service(&'a str),
    Task(&'a str),
}

impl Manager {
    /// Streams the lines of a service's (or one task's) tasks. Without `follow` the stream ends
    /// once every node has sent what it has; `tail` < 0 means all lines.
    pub fn logs(
        &self,
        target: LogTarget<'_>,
        follow: bool,
        tail: i64,
    ) -> Result<BoxStream<'static, LogEntry>, Error> {
        let tasks: Vec<Task> = match target {
            LogTarget::Service(s) => {
                let svc = self.get_service(s, false)?;
                self.store.view(|v| v.find::<Task>("service", &svc.id))
            }
            LogTarget::Task(t) => vec![self.get_task(t)?],
        };
        let tasks: Vec<Task> = tasks
            .into_iter()
            .filter(|t| !t.node_id.is_empty())
            .collect();
        let mut by_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for t in &tasks {
            by_node
                .entry(t.node_id.clone())
                .or_default()
                .push(t.id.clone());
        }
        let mut open: BTreeSet<String> = tasks.iter().map(|t| t.id.clone()).collect();
        let info: HashMap<String, (String, String)> = tasks
            .into_iter()
            .map(|t| (t.id, (t.service_id, t.node_id)))
            .collect();
        // Agents keep their sessions with the leader, so its broker reaches them; another
        // manager subscribes through it.
        let source = if self.store.is_leader() {
            let sub = self.logs.subscribe(by_node, follow, tail);
            for t in &sub.unreachable {
                open.remove(t);
            }
            Source::Local(sub)
        } else {
            Source::Remote(self.logs_through_leader(by_node, follow, tail)?)
        };
        Ok(lines(source, open, info, follow))
    }

    /// Subscribes through the leader's broker; the lines arrive on the receiver.
    fn logs_through_leader(
        &self,
        by_node: BTreeMap<String, Vec<String>>,
        follow: bool,
        tail: i64,
    ) -> Result<mpsc::Receiver<LogMessage>, Error> {
        let leader = self
            .store
            .leader()
            .ok_or_else(|| Error::unavailable("no manager is the leader; logs are unavailable"))?;
        let channel = self
            .connector
            .connect(&leader.addr)
            .map_err(Error::unavailable)?;
        let req = LogsRequest {
            nodes: by_node
                .into_iter()
                .map(|(node_id, task_ids)| NodeTasks { node_id, task_ids })
                .collect(),
            follow,
            tail,
        };
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(async move {
            let mut client = MembershipClient::new(channel);
            let Ok(resp) = client.subscribe_logs(req).await else {
                return;
            };
            let mut stream = resp.into_inner();
            while let Ok(Some(l)) = stream.message().await {
                let msg = LogMessage {
                    subscription_id: String::new(),
                    task_id: l.task_id,
                    stream: l.stream,
                    timestamp: l.timestamp,
                    line: l.line,
                    end: l.end,
                };
                if tx.send(msg).await.is_err() {
                    return; // the client went away; dropping the stream cancels upstream
                }
            }
        });
        Ok(rx)
    }
}

/// Where a log stream's lines come from.
enum Source {
    Local(Subscription),
    Remote(mpsc::Receiver<LogMessage>),
}

impl Source {
    async fn recv(&mut self) -> Option<LogMessage> {
        match self {
            Source::Local(sub) => sub.rx.recv().await,
            Source::Remote(rx) => rx.recv().await,
        }
    }
}

fn lines(
    source: Source,
    open: BTreeSet<String>,
    info: HashMap<String, (String, String)>,
    follow: bool,
) -> BoxStream<'static, LogEntry> {
    stream::unfold(
        (source, open, info),
        move |(mut sub, mut open, info)| async move {
            loop {
                if !follow && open.is_empty() {
                    return None;
                }
                let msg = sub.recv().await?;
                if msg.end {
                    open.remove(&msg.task_id);
                    continue;
                }
                let (service_id, node_id) = info.get(&msg.task_id).cloned().unwrap_or_default();
                let entry = LogEntry {
                    task_id: msg.task_id,
                    service_id,
                    node_id,
                    stream: if msg.stream == 2 { 2 } else { 1 },
                    timestamp: msg.timestamp,
                    line: msg.line,
                };
                return Some((entry, (sub, open, info)));
            }
        },
    )
    .boxed()
}
