//! The log broker: `service logs` on any manager reaches the nodes that ran the tasks. A client
//! subscription is split per node and pushed down each node's dispatcher session; the agents
//! publish the lines back over `PublishLogs`, and the broker routes them to the subscriber.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use shoal_proto::dispatcher::{LogMessage, LogSubscription};
use tokio::sync::mpsc;

/// Routes log subscriptions to nodes and their lines back.
#[derive(Default)]
pub struct LogBroker {
    nodes: Mutex<HashMap<String, mpsc::UnboundedSender<LogSubscription>>>,
    subs: Mutex<HashMap<String, Sub>>,
}

struct Sub {
    tx: mpsc::Sender<LogMessage>,
    nodes: Vec<String>,
}

/// A live subscription; dropping it cancels the streams on the nodes.
pub struct Subscription {
    broker: Arc<LogBroker>,
    id: String,
    pub rx: mpsc::Receiver<LogMessage>,
    /// Tasks whose node has no session: they will send nothing.
    pub unreachable: Vec<String>,
}

impl LogBroker {
    /// Registers a node's session; subscriptions for its tasks arrive on the receiver.
    pub fn attach(&self, node_id: &str) -> mpsc::UnboundedReceiver<LogSubscription> {
        let (tx, rx) = mpsc::unbounded_channel();
        self.nodes
            .lock()
            .expect("broker")
            .insert(node_id.to_string(), tx);
        rx
    }

    /// Asks every node for its tasks' lines.
    pub fn subscribe(
        self: &Arc<Self>,
        by_node: BTreeMap<String, Vec<String>>,
        follow: bool,
        tail: i64,
    ) -> Subscription {
        let id = shoal_types::new_id();
        let (tx, rx) = mpsc::channel(1024);
        let mut unreachable = Vec::new();
        let mut reached = Vec::new();
        {
            let nodes = self.nodes.lock().expect("broker");
            for (node, task_ids) in by_node {
                let sub = LogSubscription {
                    id: id.clone(),
                    task_ids: task_ids.clone(),
                    follow,
                    tail,
                    cancel: false,
                };
                match nodes.get(&node) {
                    Some(n) if n.send(sub).is_ok() => reached.push(node),
                    _ => unreachable.extend(task_ids),
                }
            }
        }
        self.subs
            .lock()
            .expect("broker")
            .insert(id.clone(), Sub { tx, nodes: reached });
        Subscription {
            broker: self.clone(),
            id,
            rx,
            unreachable,
        }
    }

    /// A line (or an end marker) from an agent.
    pub async fn publish(&self, msg: LogMessage) -> bool {
        let tx = self
            .subs
            .lock()
            .expect("broker")
            .get(&msg.subscription_id)
            .map(|s| s.tx.clone());
        match tx {
            Some(tx) => tx.send(msg).await.is_ok(),
            None => false,
        }
    }

    fn cancel(&self, id: &str) {
        let Some(sub) = self.subs.lock().expect("broker").remove(id) else {
            return;
        };
        let nodes = self.nodes.lock().expect("broker");
        for node in sub.nodes {
            if let Some(n) = nodes.get(&node) {
                let _ = n.send(LogSubscription {
                    id: id.to_string(),
                    cancel: true,
                    ..Default::default()
                });
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.broker.cancel(&self.id);
    }
}
