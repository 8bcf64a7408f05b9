//! The embedded DNS server over real sockets on loopback addresses of its own: a big answer
//! is truncated over UDP and whole over TCP, and names it does not know are relayed over TCP
//! too (Docker's resolver in a container asks again over TCP after a TC answer).

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType, rdata::A};
use shoal_netplane::dns::{Dns, Names};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};

/// 127.0.0.0/8 is all loopback; each test takes an address of its own for port 53.
const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 1);
const SERVER_RELAY: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 2);
const SERVER_DEAD: Ipv4Addr = Ipv4Addr::new(127, 0, 53, 3);

fn query(name: &str) -> Vec<u8> {
    let mut m = Message::query();
    m.metadata.id = 7;
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

fn big_names(n: u8) -> Names {
    let ips = (1..=n).map(|i| Ipv4Addr::new(10, 0, 9, i)).collect();
    Names([("tasks.web".to_string(), ips)].into())
}

fn addresses(m: &Message) -> Vec<Ipv4Addr> {
    m.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

async fn ask_udp(server: Ipv4Addr, q: &[u8]) -> Message {
    let s = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    s.send_to(q, (server, 53)).await.unwrap();
    let mut buf = vec![0u8; 65535];
    let (n, _) = tokio::time::timeout(Duration::from_secs(5), s.recv_from(&mut buf))
        .await
        .expect("an answer over UDP")
        .unwrap();
    assert!(
        n <= 512,
        "a UDP answer of {n} bytes to a query without EDNS"
    );
    Message::from_vec(&buf[..n]).unwrap()
}

async fn read_framed(c: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 2];
    c.read_exact(&mut len).await.unwrap();
    let mut msg = vec![0u8; u16::from_be_bytes(len) as usize];
    c.read_exact(&mut msg).await.unwrap();
    msg
}

async fn write_framed(c: &mut TcpStream, msg: &[u8]) {
    let mut out = (msg.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(msg);
    c.write_all(&out).await.unwrap();
}

#[tokio::test]
async fn a_big_answer_is_truncated_over_udp_and_whole_over_tcp() {
    let mut dns = Dns::new(vec![]);
    let errors = dns.apply(vec![(SERVER, big_names(100))], Default::default());
    assert!(errors.is_empty(), "{errors:?}");

    let udp = ask_udp(SERVER, &query("tasks.web.")).await;
    assert!(udp.metadata.truncation, "TC set on the UDP answer");
    assert_eq!(addresses(&udp).len(), 30);

    // Two queries on one connection, as resolvers may send them.
    let mut c = TcpStream::connect((SERVER, 53)).await.unwrap();
    for _ in 0..2 {
        write_framed(&mut c, &query("tasks.web.")).await;
        let m = Message::from_vec(&read_framed(&mut c).await).unwrap();
        assert_eq!(m.metadata.id, 7);
        assert!(!m.metadata.truncation);
        let mut got = addresses(&m);
        got.sort();
        let want: Vec<_> = (1..=100).map(|i| Ipv4Addr::new(10, 0, 9, i)).collect();
        assert_eq!(got, want);
    }
}

/// A resolver on TCP that answers every query with one address.
async fn upstream(answer: Ipv4Addr) -> SocketAddr {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut c, _) = l.accept().await.unwrap();
            let q = Message::from_vec(&read_framed(&mut c).await).unwrap();
            let mut r = Message::response(q.metadata.id, q.metadata.op_code);
            let name = q.queries[0].name().clone();
            r.add_query(q.queries[0].clone());
            r.add_answer(Record::from_rdata(name, 60, RData::A(A(answer))));
            write_framed(&mut c, &r.to_vec().unwrap()).await;
        }
    });
    addr
}

#[tokio::test]
async fn other_names_are_relayed_over_tcp() {
    let up = upstream(Ipv4Addr::new(192, 0, 2, 7)).await;
    let mut dns = Dns::new(vec![up]);
    let errors = dns.apply(vec![(SERVER_RELAY, big_names(3))], Default::default());
    assert!(errors.is_empty(), "{errors:?}");

    let mut c = TcpStream::connect((SERVER_RELAY, 53)).await.unwrap();
    write_framed(&mut c, &query("example.org.")).await;
    let m = Message::from_vec(&read_framed(&mut c).await).unwrap();
    assert_eq!(addresses(&m), [Ipv4Addr::new(192, 0, 2, 7)]);
    // The same connection still answers the network's own names.
    write_framed(&mut c, &query("tasks.web.")).await;
    let m = Message::from_vec(&read_framed(&mut c).await).unwrap();
    assert_eq!(addresses(&m).len(), 3);
}

#[tokio::test]
async fn a_relay_nobody_answers_gets_servfail_over_tcp() {
    // A resolver address where nothing listens: the relay fails at once.
    let dead = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let up = dead.local_addr().unwrap();
    drop(dead);
    let mut dns = Dns::new(vec![up]);
    let errors = dns.apply(vec![(SERVER_DEAD, big_names(1))], Default::default());
    assert!(errors.is_empty(), "{errors:?}");
    let mut c = TcpStream::connect((SERVER_DEAD, 53)).await.unwrap();
    write_framed(&mut c, &query("example.org.")).await;
    let m = Message::from_vec(&read_framed(&mut c).await).unwrap();
    assert_eq!(m.metadata.id, 7);
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::ServFail
    );
}
