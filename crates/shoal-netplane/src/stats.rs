//! Counters per published port, for tests and metrics. Relaxed atomics: they are statistics,
//! never used to make decisions.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of one port's counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PortStats {
    /// TCP connections accepted, or UDP flows (client addresses) created.
    pub accepted: u64,
    /// TCP connections open now (including those still connecting), or UDP flows alive.
    pub active: u64,
    /// TCP connects to a backend that failed (refused, timed out, unreachable), or UDP flows
    /// ended by an ICMP error from their backend.
    pub connect_failures: u64,
    /// TCP connections closed because no backend was configured or none could be reached, or
    /// UDP datagrams dropped because there was no backend or the flow table was full.
    pub rejected: u64,
    /// Bytes from clients to backends. For TCP counted when a connection ends.
    pub bytes_to_backend: u64,
    /// Bytes from backends to clients. For TCP counted when a connection ends.
    pub bytes_to_client: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) active: AtomicU64,
    pub(crate) connect_failures: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) bytes_to_backend: AtomicU64,
    pub(crate) bytes_to_client: AtomicU64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> PortStats {
        PortStats {
            accepted: self.accepted.load(Ordering::Relaxed),
            active: self.active.load(Ordering::Relaxed),
            connect_failures: self.connect_failures.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            bytes_to_backend: self.bytes_to_backend.load(Ordering::Relaxed),
            bytes_to_client: self.bytes_to_client.load(Ordering::Relaxed),
        }
    }

    /// Counts one accepted connection or flow as active until the guard is dropped, which
    /// also covers tasks cancelled mid-way.
    pub(crate) fn open(self: &Arc<Self>) -> ActiveGuard {
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::Relaxed);
        ActiveGuard(Arc::clone(self))
    }
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

pub(crate) struct ActiveGuard(Arc<Counters>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::Relaxed);
    }
}
