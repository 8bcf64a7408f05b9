//! `GET /services/{id}/logs` and `GET /tasks/{id}/logs`: which tasks, on which nodes, and the
//! stream of their lines through the log broker.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::stream::{self, BoxStream, StreamExt};
use shoal_types::{Error, LogEntry, Task};

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
        let sub = self.logs.subscribe(by_node, follow, tail);
        let mut open: BTreeSet<String> = tasks.iter().map(|t| t.id.clone()).collect();
        for t in &sub.unreachable {
            open.remove(t);
        }
        let info: HashMap<String, (String, String)> = tasks
            .into_iter()
            .map(|t| (t.id, (t.service_id, t.node_id)))
            .collect();
        Ok(lines(sub, open, info, follow))
    }
}

fn lines(
    sub: Subscription,
    open: BTreeSet<String>,
    info: HashMap<String, (String, String)>,
    follow: bool,
) -> BoxStream<'static, LogEntry> {
    stream::unfold(
        (sub, open, info),
        move |(mut sub, mut open, info)| async move {
            loop {
                if !follow && open.is_empty() {
                    return None;
                }
                let msg = sub.rx.recv().await?;
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
