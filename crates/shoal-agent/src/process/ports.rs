//! Node-local ports for process tasks that publish one: each gets a distinct free port from a
//! range (default 20000–29999, clear of the routing mesh's 30000–32767), passed as `PORT`.

use std::collections::HashSet;
use std::net::{Ipv4Addr, TcpListener};
use std::ops::RangeInclusive;

/// The default range for task ports.
pub const DEFAULT_PORT_RANGE: RangeInclusive<u16> = 20000..=29999;

/// Picks the first port of `range`, searching from `cursor` and wrapping, that no task holds
/// (`used`) and that `is_free` accepts. Starting after the last pick avoids handing a port
/// that was just released (and may still be in the mesh's tables) to the next task.
pub fn pick_port(
    range: &RangeInclusive<u16>,
    cursor: u16,
    used: &HashSet<u16>,
    is_free: impl Fn(u16) -> bool,
) -> Option<u16> {
    let (lo, hi) = (*range.start() as u32, *range.end() as u32);
    if lo > hi {
        return None;
    }
    let span = hi - lo + 1;
    let start = (cursor as u32).clamp(lo, hi) - lo;
    (0..span)
        .map(|i| (lo + (start + i) % span) as u16)
        .find(|p| !used.contains(p) && is_free(*p))
}

/// Whether nothing listens on TCP `port` of any address right now.
pub fn tcp_port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::UNSPECIFIED, port)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_used_ports_and_wraps() {
        let range = 100..=104;
        let used: HashSet<u16> = [100, 101].into();
        assert_eq!(pick_port(&range, 0, &used, |_| true), Some(102));
        assert_eq!(pick_port(&range, 104, &used, |p| p != 104), Some(102));
        assert_eq!(pick_port(&range, 103, &HashSet::new(), |_| true), Some(103));
        assert_eq!(pick_port(&range, 0, &used, |_| false), None);
        let all: HashSet<u16> = (100..=104).collect();
        assert_eq!(pick_port(&range, 0, &all, |_| true), None);
    }

    #[test]
    fn a_listening_port_is_not_free() {
        let l = TcpListener::bind((Ipv4Addr::UNSPECIFIED, 0)).unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(!tcp_port_is_free(port));
    }
}
