//! The error every driver returns. Its `Display` text is what lands in `Task.Status.Err`, so
//! variants carry Docker's own wording where one exists.

/// A driver operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The task spec cannot run on this driver (no command, bad user, bad mount…).
    #[error("{0}")]
    InvalidSpec(String),
    /// The image is not on this node and no registry is consulted.
    #[error("No such image: {0}")]
    NoSuchImage(String),
    /// The task has no runtime object on this node.
    #[error("No such container: {0}")]
    NotFound(String),
    /// The runtime could not start the task.
    #[error("starting container failed: {0}")]
    Start(String),
    /// The task's runtime object disappeared or its supervisor died.
    #[error("{0}")]
    Vanished(String),
    /// A local file or process operation failed.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The Docker Engine refused or failed a request.
    #[error("{0}")]
    Docker(#[from] bollard::errors::Error),
}

impl DriverError {
    /// Wraps an IO error with what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        DriverError::Io {
            context: context.into(),
            source,
        }
    }

    /// Whether retrying later may succeed (the engine was unreachable, a request timed out),
    /// so the runner keeps the task's state instead of failing it, as swarmkit does for
    /// temporary errors.
    pub fn is_temporary(&self) -> bool {
        match self {
            DriverError::Docker(e) => !matches!(
                e,
                bollard::errors::Error::DockerResponseServerError { .. }
                    | bollard::errors::Error::DockerContainerWaitError { .. }
            ),
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_docker() {
        assert_eq!(
            DriverError::NoSuchImage("app:2".into()).to_string(),
            "No such image: app:2"
        );
        let e = DriverError::io("writing x", std::io::Error::other("disk full"));
        assert_eq!(e.to_string(), "writing x: disk full");
        assert!(!e.is_temporary());
    }
}
