//! Answering one DNS query from a network's names, or deciding to forward it (pure).

use std::collections::HashMap;
use std::net::Ipv4Addr;

use hickory_proto::op::{Edns, Message, MessageType, OpCode, ResponseCode};
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

/// How a query came, which bounds the size of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// At most 512 bytes, or the size the query's EDNS record offers.
    Udp,
    /// Up to a DNS message's 65,535 bytes.
    Tcp,
}

/// The largest UDP answer sent, whatever a query's EDNS offers: what the listener reads.
pub const MAX_UDP: usize = 4096;

/// The reply to `query` from `names`. A name that is ours answers `A` queries with its
/// addresses (rotated by `turn`, so clients spread over them) and other types with no records;
/// other names are forwarded. A UDP answer that would not fit the client's size keeps the
/// records that fit and sets TC, so the client asks again over TCP (RFC 1035 4.2.1, RFC 6891
/// 7): `tasks.<service>` of a service with more than about 30 tasks needs that.
pub fn reply(names: &Names, query: &[u8], turn: usize, transport: Transport) -> Reply {
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
    if request.edns.is_some() {
        let mut edns = Edns::new();
        edns.set_max_payload(MAX_UDP as u16);
        response.set_edns(edns);
    }
    if q.query_type() == RecordType::A && !addrs.is_empty() {
        let start = turn % addrs.len();
        for ip in addrs[start..].iter().chain(&addrs[..start]) {
            response.add_answer(Record::from_rdata(q.name().clone(), TTL, RData::A(A(*ip))));
        }
    }
    let limit = match transport {
        Transport::Udp => usize::from(request.max_payload()).min(MAX_UDP),
        Transport::Tcp => usize::from(u16::MAX),
    };
    match fit(response, limit) {
        Some(bytes) => Reply::Local(bytes),
        None => Reply::Drop,
    }
}

/// SERVFAIL for `query` (RFC 7766 asks for an answer over TCP when a relay failed, not
/// silence), or `None` when it cannot be read.
pub fn server_failure(query: &[u8]) -> Option<Vec<u8>> {
    let request = Message::from_vec(query).ok()?;
    let mut response = Message::error_msg(
        request.metadata.id,
        request.metadata.op_code,
        ResponseCode::ServFail,
    );
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    if let Some(q) = request.queries.first() {
        response.add_query(q.clone());
    }
    response.to_vec().ok()
}

/// The response's bytes within `limit`: answers are dropped from the end until it fits, and
/// TC is set if any was.
fn fit(mut response: Message, limit: usize) -> Option<Vec<u8>> {
    let bytes = response.to_vec().ok()?;
    if bytes.len() <= limit {
        return Some(bytes);
    }
    response.metadata.truncation = true;
    // All answers are A records of the one name (a compression pointer), so all take the
    // same room: the number that fits follows from the size with none and with one.
    let answers = std::mem::take(&mut response.answers);
    let base = response.to_vec().ok()?.len();
    let per = bytes.len().saturating_sub(base) / answers.len().max(1);
    let room = limit.saturating_sub(base) / per.max(1);
    response.answers = answers.into_iter().take(room).collect();
    loop {
        let bytes = response.to_vec().ok()?;
        if bytes.len() <= limit {
            return Some(bytes);
        }
        response.answers.pop()?;
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
            answers(reply(
                &n,
                &query("Redis.", RecordType::A),
                0,
                Transport::Udp
            )),
            (ResponseCode::NoError, vec![Ipv4Addr::new(10, 0, 1, 2)])
        );
        let first = answers(reply(
            &n,
            &query("tasks.web.", RecordType::A),
            0,
            Transport::Udp,
        ))
        .1;
        let second = answers(reply(
            &n,
            &query("tasks.web.", RecordType::A),
            1,
            Transport::Udp,
        ))
        .1;
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
            answers(reply(
                &n,
                &query("redis.", RecordType::AAAA),
                0,
                Transport::Udp
            )),
            (ResponseCode::NoError, vec![])
        );
        assert_eq!(
            answers(reply(
                &n,
                &query("empty.", RecordType::A),
                0,
                Transport::Udp
            )),
            (ResponseCode::NoError, vec![])
        );
        assert_eq!(
            reply(&n, &query("example.com.", RecordType::A), 0, Transport::Udp),
            Reply::Forward
        );
        assert_eq!(reply(&n, b"garbage", 0, Transport::Udp), Reply::Drop);
    }

    fn many(n: u8) -> Names {
        let ips = (1..=n).map(|i| Ipv4Addr::new(10, 0, 2, i)).collect();
        Names([("tasks.big".to_string(), ips)].into())
    }

    fn decode(r: Reply) -> (Message, usize) {
        let Reply::Local(bytes) = r else {
            panic!("not answered locally: {r:?}")
        };
        (Message::from_vec(&bytes).unwrap(), bytes.len())
    }

    #[test]
    fn a_udp_answer_too_big_keeps_what_fits_and_sets_tc() {
        let n = many(100);
        let q = query("tasks.big.", RecordType::A);
        let (m, len) = decode(reply(&n, &q, 0, Transport::Udp));
        assert!(m.metadata.truncation, "TC set");
        assert!(len <= 512, "{len} bytes over UDP without EDNS");
        // 12 header + 14 question + 16 per record: 30 fit in 512.
        assert_eq!(m.answers.len(), 30);
        // Over TCP all of them, without TC.
        let (m, _) = decode(reply(&n, &q, 0, Transport::Tcp));
        assert!(!m.metadata.truncation);
        assert_eq!(m.answers.len(), 100);
        // A small answer is not truncated.
        let (m, _) = decode(reply(&many(3), &q, 0, Transport::Udp));
        assert_eq!((m.metadata.truncation, m.answers.len()), (false, 3));
    }

    #[test]
    fn an_edns_query_gets_the_size_it_offers_and_an_opt_record() {
        let mut m = Message::query();
        m.add_query(Query::query(
            Name::from_ascii("tasks.big.").unwrap(),
            RecordType::A,
        ));
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        m.set_edns(edns);
        let (r, len) = decode(reply(&many(100), &m.to_vec().unwrap(), 0, Transport::Udp));
        assert!(len <= 1232 && len > 512, "{len}");
        assert!(r.metadata.truncation);
        assert!(r.edns.is_some(), "OPT in the answer");
        let (r, _) = decode(reply(&many(60), &m.to_vec().unwrap(), 0, Transport::Udp));
        assert_eq!((r.metadata.truncation, r.answers.len()), (false, 60));
    }
}
