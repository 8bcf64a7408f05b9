//! Backend choice for one published port: round-robin, with backends that failed recently
//! tried last.
//!
//! The data path touches this once per TCP connection (or UDP flow): one read lock to clone
//! the current table's `Arc`, one atomic increment for the round-robin position. Everything
//! after that works on the snapshot, so `apply` can swap the list at any time without
//! disturbing connections in flight.
//!
//! Failure memory exists because a task that just died leaves its address in the table until
//! the manager notices; without it every new connection would pay a connect timeout first.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// The backends of one port as of one `apply`, shared by the connections that picked from it.
#[derive(Debug)]
pub(crate) struct Table {
    pub(crate) backends: Box<[Backend]>,
    pub(crate) proxy_protocol: bool,
}

#[derive(Debug)]
pub(crate) struct Backend {
    pub(crate) addr: SocketAddr,
    /// Milliseconds after the balancer's epoch of the last connect failure, 0 for none.
    /// An atomic in the shared table, so marking needs no lock.
    failed_at: AtomicU64,
}

/// Round-robin over a swappable backend table, remembering recent connect failures.
#[derive(Debug)]
pub(crate) struct Balancer {
    table: RwLock<Arc<Table>>,
    next: AtomicUsize,
    epoch: Instant,
    failure_memory: Duration,
}

/// The order in which one connection tries the backends: every backend exactly once.
#[derive(Debug)]
pub(crate) struct Pick {
    pub(crate) table: Arc<Table>,
    order: Vec<u32>,
    pos: usize,
}

impl Balancer {
    pub(crate) fn new(backends: &[SocketAddr], proxy_protocol: bool, memory: Duration) -> Self {
        let balancer = Balancer {
            table: RwLock::new(Arc::new(Table {
                backends: Box::new([]),
                proxy_protocol: false,
            })),
            next: AtomicUsize::new(0),
            epoch: Instant::now(),
            failure_memory: memory,
        };
        balancer.set(backends, proxy_protocol);
        balancer
    }

    /// Replaces the table. Connections that already picked keep their snapshot; the next one
    /// sees the new list. Failure marks of backends still present carry over, so a swap does
    /// not make a dead backend look healthy again.
    pub(crate) fn set(&self, backends: &[SocketAddr], proxy_protocol: bool) {
        let mut guard = self.table.write().unwrap_or_else(PoisonError::into_inner);
        let old = Arc::clone(&guard);
        let backends = backends
            .iter()
            .map(|&addr| {
                let failed_at = old
                    .backends
                    .iter()
                    .find(|b| b.addr == addr)
                    .map_or(0, |b| b.failed_at.load(Ordering::Relaxed));
                Backend {
                    addr,
                    failed_at: AtomicU64::new(failed_at),
                }
            })
            .collect();
        *guard = Arc::new(Table {
            backends,
            proxy_protocol,
        });
    }

    /// The current table (for settings such as the PROXY flag and for tests).
    pub(crate) fn snapshot(&self) -> Arc<Table> {
        Arc::clone(&self.table.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn pick(&self) -> Pick {
        self.pick_at(Instant::now())
    }

    /// The try order for one connection at `now`: round-robin from the next position, healthy
    /// backends first, recently failed ones after them (still in round-robin order, so a
    /// table where everything failed recently is still tried in full).
    pub(crate) fn pick_at(&self, now: Instant) -> Pick {
        let table = self.snapshot();
        let n = table.backends.len();
        let mut order = Vec::with_capacity(n);
        if n > 0 {
            let start = self.next.fetch_add(1, Ordering::Relaxed) % n;
            let now_ms = self.millis(now);
            let rotation = (0..n).map(|i| (start + i) % n);
            let suspect = |i: usize| self.is_suspect(&table.backends[i], now_ms);
            // Decided once here: marks made while this connection tries must not reorder it.
            order.extend(rotation.clone().filter(|&i| !suspect(i)).map(|i| i as u32));
            order.extend(rotation.filter(|&i| suspect(i)).map(|i| i as u32));
        }
        Pick {
            table,
            order,
            pos: 0,
        }
    }

    pub(crate) fn mark_failed(&self, backend: &Backend) {
        self.mark_failed_at(backend, Instant::now());
    }

    pub(crate) fn mark_failed_at(&self, backend: &Backend, now: Instant) {
        backend.failed_at.store(self.millis(now), Ordering::Relaxed);
    }

    pub(crate) fn mark_ok(&self, backend: &Backend) {
        // Load first: the common case (never failed) then writes nothing, and the cache line
        // shared by all connections to this backend stays clean.
        if backend.failed_at.load(Ordering::Relaxed) != 0 {
            backend.failed_at.store(0, Ordering::Relaxed);
        }
    }

    fn is_suspect(&self, backend: &Backend, now_ms: u64) -> bool {
        let failed_at = backend.failed_at.load(Ordering::Relaxed);
        failed_at != 0 && now_ms.saturating_sub(failed_at) < self.failure_memory.as_millis() as u64
    }

    /// Milliseconds since the epoch plus one, so that 0 can mean "never failed".
    fn millis(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.epoch).as_millis() as u64 + 1
    }
}

impl Pick {
    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl Iterator for Pick {
    type Item = usize;

    /// The index into `self.table.backends` of the next backend to try.
    fn next(&mut self) -> Option<usize> {
        let i = *self.order.get(self.pos)?;
        self.pos += 1;
        Some(i as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addrs(n: u16) -> Vec<SocketAddr> {
        (0..n)
            .map(|i| SocketAddr::from(([10, 0, 0, 1], 8000 + i)))
            .collect()
    }

    fn order(b: &Balancer, now: Instant) -> Vec<u16> {
        let pick = b.pick_at(now);
        let table = Arc::clone(&pick.table);
        pick.map(|i| table.backends[i].addr.port() - 8000).collect()
    }

    #[test]
    fn round_robin_rotates_and_tries_everything_once() {
        let b = Balancer::new(&addrs(3), false, Duration::from_secs(5));
        let now = Instant::now();
        assert_eq!(order(&b, now), [0, 1, 2]);
        assert_eq!(order(&b, now), [1, 2, 0]);
        assert_eq!(order(&b, now), [2, 0, 1]);
        assert_eq!(order(&b, now), [0, 1, 2]);
    }

    #[test]
    fn empty_table_yields_nothing() {
        let b = Balancer::new(&[], false, Duration::from_secs(5));
        assert!(b.pick().is_empty());
        assert_eq!(b.pick().count(), 0);
    }

    #[test]
    fn recent_failures_go_last_until_forgotten() {
        let b = Balancer::new(&addrs(3), false, Duration::from_secs(5));
        let t0 = Instant::now();
        let table = b.snapshot();
        b.mark_failed_at(&table.backends[0], t0);
        assert_eq!(order(&b, t0), [1, 2, 0]);
        assert_eq!(order(&b, t0 + Duration::from_secs(1)), [1, 2, 0]);
        assert_eq!(order(&b, t0 + Duration::from_secs(4)), [2, 1, 0]);
        // Forgotten after the memory: plain rotation again (position 3 % 3 = 0).
        assert_eq!(order(&b, t0 + Duration::from_secs(6)), [0, 1, 2]);
    }

    #[test]
    fn all_failed_still_tries_all_in_rotation() {
        let b = Balancer::new(&addrs(2), false, Duration::from_secs(5));
        let t0 = Instant::now();
        let table = b.snapshot();
        b.mark_failed_at(&table.backends[0], t0);
        b.mark_failed_at(&table.backends[1], t0);
        assert_eq!(order(&b, t0), [0, 1]);
        assert_eq!(order(&b, t0), [1, 0]);
    }

    #[test]
    fn success_clears_the_mark() {
        let b = Balancer::new(&addrs(2), false, Duration::from_secs(5));
        let t0 = Instant::now();
        let table = b.snapshot();
        b.mark_failed_at(&table.backends[0], t0);
        assert_eq!(order(&b, t0), [1, 0]);
        b.mark_ok(&table.backends[0]);
        assert_eq!(order(&b, t0), [1, 0]); // position 1: plain rotation
        assert_eq!(order(&b, t0), [0, 1]);
    }

    #[test]
    fn marks_made_during_a_pick_do_not_repeat_a_backend() {
        let b = Balancer::new(&addrs(3), false, Duration::from_secs(5));
        let now = Instant::now();
        let pick = b.pick_at(now);
        let table = Arc::clone(&pick.table);
        let mut seen = Vec::new();
        for i in pick {
            b.mark_failed_at(&table.backends[i], now);
            seen.push(i);
        }
        seen.sort();
        assert_eq!(seen, [0, 1, 2]);
    }

    #[test]
    fn swap_replaces_the_list_and_keeps_failure_marks() {
        let all = addrs(4);
        let b = Balancer::new(&all[..2], true, Duration::from_secs(5));
        let t0 = Instant::now();
        let old = b.pick_at(t0);
        b.mark_failed_at(&old.table.backends[1], t0);

        b.set(&all[1..4], false);
        let snap = b.snapshot();
        assert!(!snap.proxy_protocol);
        // 8001 failed before the swap and stays last; position 1 starts the rotation at 8002.
        assert_eq!(order(&b, t0), [2, 3, 1]);
        // The old snapshot is untouched.
        assert!(old.table.proxy_protocol);
        assert_eq!(old.table.backends.len(), 2);
    }
}
