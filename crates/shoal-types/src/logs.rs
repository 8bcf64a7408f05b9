//! A line of a task's logs as the log endpoints stream it.

/// One line, with the task it came from (for the `com.docker.swarm.*` details).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogEntry {
    pub task_id: String,
    pub service_id: String,
    pub node_id: String,
    /// 1 stdout, 2 stderr.
    pub stream: u8,
    /// RFC 3339 with nanoseconds.
    pub timestamp: String,
    pub line: Vec<u8>,
}
