//! The one error type that crosses layers up to the HTTP API. Each kind maps to one HTTP status
//! (the mapping lives in shoal-httpapi); messages are Docker's own texts where Docker has one.

use std::fmt;

/// What went wrong, in the terms the Engine API reports (gRPC-code-like, as moby maps them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 400: the request is malformed or breaks a rule.
    InvalidArgument,
    /// 404
    NotFound,
    /// 409: an object with that name or ID exists.
    AlreadyExists,
    /// 409: the state does not allow it (e.g. "swarm is not locked").
    Conflict,
    /// 503: this node cannot serve it now (no swarm, not a manager, no quorum).
    Unavailable,
    /// 403
    PermissionDenied,
    /// 401
    Unauthorized,
    /// 501
    NotImplemented,
    /// 500
    Internal,
}

/// An error with a kind and a user-facing message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unavailable, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    /// Docker's answer to any cluster call on a node that is in no swarm.
    pub fn not_a_manager() -> Self {
        Self::unavailable(
            "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" \
             to connect this node to swarm and try again.",
        )
    }

    /// Docker's answer to a cluster call on a worker.
    pub fn worker_not_manager() -> Self {
        Self::unavailable(
            "This node is not a swarm manager. Worker nodes can't be used to view or modify \
             cluster state. Please run this command on a manager node or promote the current node \
             to a manager.",
        )
    }

    /// Docker's answer to `swarm init` or `swarm join` on a node already in a swarm.
    pub fn already_in_swarm() -> Self {
        Self::unavailable(
            "This node is already part of a swarm. Use \"docker swarm leave\" to leave this \
             swarm and join another one.",
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
