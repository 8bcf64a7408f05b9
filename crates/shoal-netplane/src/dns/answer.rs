//! Answering one DNS query from a network's names, or deciding to forward it (pure).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

/// How long resolvers may cache an answer: short, since tasks come and go (Docker uses 600 s
/// for its VIPs, which never change; task addresses do).
pub const TTL: u32 = 5;

/// The names of one network: lowercase, without the trailing dot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names(pub HashMap<String, Vec<Ipv4Addr>>);

/// What to do with a query.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// Send these bytes back.
    Local(Vec<u8>),
    /// Not ours: relay it to the node's resolvers.
    Forward,
    /// Not a query we can read: drop it.
    Drop,
}

/// The reply to `query` from `names`. A name that is ours answers `A` queries with its
/// addresses (rotated by `turn`, so clients spread over them) and other types with no records;
/// other names are forwarded.
pub fn reply(names: &Names, query: &[u8], turn: usize) -> Reply {
    let Ok(request) = Message::from_vec(query) else {
        return Reply::Drop;
    };
    if request.metadata.message_type != MessageType::Query
        || request.metadata.op_code != OpCode::Query
    {
        return Reply::Forward;
    }
    let Some(q) = request.queries.first() else {
        return Reply::Drop;
    };
    let name = q.name().to_ascii().trim_end_matches('.').to_lowercase();
    let Some(addrs) = names.0.get(&name) else {
        return Reply::Forward;
    };
    let mut response = Message::response(request.metadata.id, OpCode::Query);
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.metadata.response_code = ResponseCode::NoError;
    response.add_query(q.clone());
    if q.query_type() == RecordType::A && !addrs.is_empty() {
        let start = turn % addrs.len();
        for ip in addrs[start..].iter().chain(&addrs[..start]) {
            response.add_answer(Record::from_rdata(q.name().clone(), TTL, RData::A(A(*ip))));
        }
    }
    match response.to_vec() {
        Ok(bytes) => Reply::Local(bytes),
        Err(_) => Reply::Drop,
    }
}

#[cfg(test)]
mod tests {
    use hickory_proto::op::Query;
    use hickory_proto::rr::Name;

    use super::*;

    fn query(name: &str, t: RecordType) -> Vec<u8> {
        let mut m = Message::query();
        m.metadata.recursion_desired = true;
        m.add_query(Query::query(Name::from_ascii(name).unwrap(), t));
        m.to_vec().unwrap()
    }

    fn names() -> Names {
        Names(
            [
                ("redis".to_string(), vec![Ipv4Addr::new(10, 0, 1, 2)]),
                (
                    "tasks.web".to_string(),
                    vec![Ipv4Addr::new(10, 0, 1, 3), Ipv4Addr::new(10, 0, 1, 4)],
                ),
                ("empty".to_string(), vec![]),
            ]
            .into(),
        )
    }

    fn answers(r: Reply) -> (ResponseCode, Vec<Ipv4Addr>) {
        let Reply::Local(bytes) = r else {
            panic!("not answered locally: {r:?}")
        };
        let m = Message::from_vec(&bytes).unwrap();
        let ips = m
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::A(a) => Some(a.0),
                _ => None,
            })
            .collect();
        (m.metadata.response_code, ips)
    }

    #[test]
    fn our_names_are_answered_in_turn_and_others_forwarded() {
        let n = names();
        assert_eq!(
            answers(reply(&n, &query("Redis.", RecordType::A), 0)),
            (ResponseCode::NoError, vec![Ipv4Addr::new(10, 0, 1, 2)])
        );
        let first = answers(reply(&n, &query("tasks.web.", RecordType::A), 0)).1;
        let second = answers(reply(&n, &query("tasks.web.", RecordType::A), 1)).1;
        assert_eq!(
            first,
            [Ipv4Addr::new(10, 0, 1, 3), Ipv4Addr::new(10, 0, 1, 4)]
        );
        assert_eq!(
            second,
            [Ipv4Addr::new(10, 0, 1, 4), Ipv4Addr::new(10, 0, 1, 3)]
        );
        // Ours but no IPv6, or no task running: an empty answer, not a forward.
        assert_eq!(
            answers(reply(&n, &query("redis.", RecordType::AAAA), 0)),
            (ResponseCode::NoError, vec![])
        );
        assert_eq!(
            answers(reply(&n, &query("empty.", RecordType::A), 0)),
            (ResponseCode::NoError, vec![])
        );
        assert_eq!(
            reply(&n, &query("example.com.", RecordType::A), 0),
            Reply::Forward
        );
        assert_eq!(reply(&n, b"garbage", 0), Reply::Drop);
    }
}
