//! Reading the engine's answers (container inspect, list, log frames) into driver terms.

use bollard::container::LogOutput;
use bollard::models::{
    ContainerInspectResponse, ContainerStateStatusEnum, ContainerSummary, ContainerSummaryStateEnum,
};
use shoal_types::task::ContainerStatus;

use super::config::TASK_ID_LABEL;
use crate::driver::{LogLine, LogSource, Observed, Phase};

/// The container as the driver reports it.
pub fn observed(task_id: &str, c: &ContainerInspectResponse) -> Observed {
    let state = c.state.clone().unwrap_or_default();
    let phase = match state.status {
        Some(ContainerStateStatusEnum::CREATED) | None | Some(ContainerStateStatusEnum::EMPTY) => {
            Phase::Created
        }
        Some(ContainerStateStatusEnum::EXITED) | Some(ContainerStateStatusEnum::DEAD) => {
            Phase::Exited
        }
        Some(_) => Phase::Running,
    };
    Observed {
        task_id: task_id.to_string(),
        phase,
        container: ContainerStatus {
            container_id: c.id.clone().unwrap_or_default(),
            pid: state.pid.unwrap_or_default(),
            exit_code: state.exit_code.unwrap_or_default(),
        },
        ports: super::ports::port_status(c),
        error: state.error.filter(|e| !e.is_empty()),
    }
}

/// The container's health status (`starting`, `healthy`, `unhealthy`), if it has a check.
pub fn health(c: &ContainerInspectResponse) -> Option<String> {
    let status = c.state.as_ref()?.health.as_ref()?.status?;
    Some(status.to_string())
}

/// Whether the container has a health check (its own or its image's), as moby decides.
pub fn has_healthcheck(c: &ContainerInspectResponse) -> bool {
    let test = c
        .config
        .as_ref()
        .and_then(|c| c.healthcheck.as_ref())
        .and_then(|h| h.test.as_ref());
    matches!(test, Some(t) if !t.is_empty() && t[0] != "NONE")
}

/// A listed container as `(container id, observed)`, when it carries a task ID.
pub fn summary_observed(s: &ContainerSummary) -> Option<(String, Observed)> {
    let id = s.id.clone()?;
    let task_id = s.labels.as_ref()?.get(TASK_ID_LABEL)?.clone();
    let phase = match s.state {
        Some(ContainerSummaryStateEnum::CREATED) => Phase::Created,
        Some(ContainerSummaryStateEnum::EXITED) | Some(ContainerSummaryStateEnum::DEAD) => {
            Phase::Exited
        }
        _ => Phase::Running,
    };
    let container = ContainerStatus {
        container_id: id.clone(),
        ..Default::default()
    };
    Some((
        id,
        Observed {
            task_id,
            phase,
            container,
            ports: None,
            error: None,
        },
    ))
}

/// A log frame read with `timestamps=true`: `<RFC 3339 time> <line>`.
pub fn log_line(frame: LogOutput) -> LogLine {
    let source = LogSource::from(&frame);
    let bytes = frame.into_bytes();
    let (timestamp, line) = match bytes.iter().position(|b| *b == b' ') {
        Some(i) => (
            String::from_utf8_lossy(&bytes[..i]).into_owned(),
            bytes[i + 1..].to_vec(),
        ),
        None => (String::new(), bytes.to_vec()),
    };
    LogLine {
        source,
        timestamp,
        line,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn log_frames_split_the_timestamp() {
        let frame = LogOutput::StdErr {
            message: "2026-01-01T00:00:00.5Z oops\n".as_bytes().to_vec().into(),
        };
        let l = log_line(frame);
        assert_eq!(
            (l.source, l.timestamp.as_str(), l.line.as_slice()),
            (LogSource::Stderr, "2026-01-01T00:00:00.5Z", &b"oops\n"[..])
        );
    }
}
