//! `service logs`: the multiplexed log stream of a service, each line labelled as the docker
//! CLI does (`web.1.abcdef123456@host    | message`) from the task and node the line's
//! `com.docker.swarm.*` details name.

use std::collections::HashMap;
use std::io::Write;

use clap::Args;
use shoal_types::{Node, Service, Task};
use tokio::sync::mpsc;

use crate::client::{Client, path_escape, query};
use crate::error::CliError;

/// `service logs` flags.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Do not include task IDs in output
    #[arg(long)]
    pub no_task_ids: bool,
    #[arg(value_name = "SERVICE")]
    pub service: String,
}

/// Splits a stdcopy stream into (stream, payload) frames as bytes arrive.
#[derive(Default)]
struct Frames(Vec<u8>);

impl Frames {
    fn push(&mut self, data: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.0.extend_from_slice(data);
        let mut out = Vec::new();
        while self.0.len() >= 8 {
            let len = u32::from_be_bytes([self.0[4], self.0[5], self.0[6], self.0[7]]) as usize;
            if self.0.len() < 8 + len {
                break;
            }
            let payload = self.0[8..8 + len].to_vec();
            out.push((self.0[0], payload));
            self.0.drain(..8 + len);
        }
        out
    }
}

/// Splits `[ts ]k=v,k=v message` into (timestamp, task id, node id, message).
fn parse_line(line: &str, timestamps: bool) -> (String, String, String, String) {
    let (ts, rest) = if timestamps {
        line.split_once(' ').unwrap_or((line, ""))
    } else {
        ("", line)
    };
    let (details, msg) = rest.split_once(' ').unwrap_or((rest, ""));
    let mut task = String::new();
    let mut node = String::new();
    for kv in details.split(',') {
        match kv.split_once('=') {
            Some(("com.docker.swarm.task.id", v)) => task = v.to_string(),
            Some(("com.docker.swarm.node.id", v)) => node = v.to_string(),
            _ => {}
        }
    }
    (ts.to_string(), task, node, msg.to_string())
}

fn digits(n: u64) -> usize {
    n.max(1).to_string().len()
}

/// Prints the service's logs until the stream ends.
pub async fn logs(c: &Client, a: LogsArgs) -> Result<(), CliError> {
    let svc: Service = c
        .get_json(&format!("/services/{}", path_escape(&a.service)))
        .await?;
    let width = match svc.mode() {
        shoal_types::Mode::Replicated { replicas } => digits(replicas),
        _ => 1,
    };
    let q = query(&[
        ("details", "1".into()),
        ("follow", if a.follow { "1" } else { "0" }.into()),
        ("stderr", "1".into()),
        ("stdout", "1".into()),
        ("tail", a.tail.clone()),
        ("timestamps", if a.timestamps { "1" } else { "0" }.into()),
    ]);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let path = format!("/services/{}/logs{q}", path_escape(&svc.id));
    let fetch = c.get_stream(&path, move |chunk| {
        let _ = tx.send(chunk.to_vec());
    });
    let print = async {
        let mut frames = Frames::default();
        let mut names: HashMap<String, String> = HashMap::new();
        while let Some(chunk) = rx.recv().await {
            for (stream, payload) in frames.push(&chunk) {
                let text = String::from_utf8_lossy(&payload);
                let (ts, task, node, msg) = parse_line(text.trim_end_matches('\n'), a.timestamps);
                if !names.contains_key(&task) {
                    let label = label(c, &svc, &task, &node, a.no_task_ids, width).await;
                    names.insert(task.clone(), label);
                }
                let ts = if ts.is_empty() {
                    String::new()
                } else {
                    format!("{ts} ")
                };
                let line = format!("{ts}{}    | {msg}\n", names[&task]);
                let _ = if stream == 2 {
                    std::io::stderr().write_all(line.as_bytes())
                } else {
                    std::io::stdout().write_all(line.as_bytes())
                };
            }
        }
    };
    let (res, ()) = tokio::join!(fetch, print);
    res
}

/// `service.slot[.taskid]@node`, padded so slots of different widths line up.
async fn label(
    c: &Client,
    svc: &Service,
    task_id: &str,
    node_id: &str,
    no_ids: bool,
    width: usize,
) -> String {
    let task: Option<Task> = c
        .get_json(&format!("/tasks/{}", path_escape(task_id)))
        .await
        .ok();
    let node: Option<Node> = c
        .get_json(&format!("/nodes/{}", path_escape(node_id)))
        .await
        .ok();
    let slot = task.as_ref().map_or(0, |t| t.slot);
    let mut name = if slot > 0 {
        format!("{}.{slot}", svc.name())
    } else {
        format!("{}.{node_id}", svc.name())
    };
    if !no_ids {
        name.push('.');
        name.push_str(&task_id[..task_id.len().min(12)]);
    }
    let host = node.map_or_else(|| node_id.to_string(), |n| n.description.hostname);
    let pad = " ".repeat(width.saturating_sub(digits(slot)));
    format!("{name}@{host}{pad}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_chunks() {
        let mut f = Frames::default();
        let mut data = vec![1, 0, 0, 0, 0, 0, 0, 3];
        data.extend_from_slice(b"abc");
        data.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 1, b'x']);
        assert!(f.push(&data[..5]).is_empty());
        let out = f.push(&data[5..]);
        assert_eq!(out, vec![(1, b"abc".to_vec()), (2, b"x".to_vec())]);
    }

    #[test]
    fn details_are_read() {
        let (ts, task, node, msg) = parse_line(
            "2026-01-01T00:00:00Z com.docker.swarm.node.id=n1,com.docker.swarm.service.id=s,com.docker.swarm.task.id=t1 hello world",
            true,
        );
        assert_eq!(
            (ts.as_str(), task.as_str(), node.as_str(), msg.as_str()),
            ("2026-01-01T00:00:00Z", "t1", "n1", "hello world")
        );
    }
}
