//! Helpers for the mesh tests: backends on 127.0.0.1, free ports, one-line requests.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::JoinHandle;

pub const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Generous bound on anything a test waits for, so a broken mesh fails instead of hanging.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A port nothing listens on right now (TCP and UDP), for a published port.
pub fn free_port() -> u16 {
    loop {
        let tcp = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
        let port = tcp.local_addr().unwrap().port();
        if std::net::UdpSocket::bind((LOCALHOST, port)).is_ok() {
            return port;
        }
    }
}

/// An address that refuses TCP connections (a port that was just closed).
pub fn dead_addr() -> SocketAddr {
    let l = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
    l.local_addr().unwrap()
}

/// A TCP backend that answers every line with `<tag>:<line>`, until the client closes.
pub async fn tcp_echo(tag: &'static str) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    let reply = format!("{tag}:{line}\n");
                    if write.write_all(reply.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, task)
}

/// A client connection through the mesh that sends lines and reads the answers.
pub struct Client {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Client {
    pub async fn connect(port: u16) -> std::io::Result<Client> {
        let stream = TcpStream::connect((LOCALHOST, port)).await?;
        let (read, write) = stream.into_split();
        Ok(Client {
            lines: BufReader::new(read).lines(),
            write,
        })
    }

    /// Sends `line` and returns the answer line (`None` if the connection closed).
    pub async fn ask(&mut self, line: &str) -> std::io::Result<Option<String>> {
        self.write.write_all(format!("{line}\n").as_bytes()).await?;
        tokio::time::timeout(PATIENCE, self.lines.next_line())
            .await
            .expect("no answer in time")
    }
}

/// One request on a fresh connection; returns the answering backend's tag.
pub async fn ask_once(port: u16, line: &str) -> String {
    let mut client = Client::connect(port).await.unwrap();
    let answer = client.ask(line).await.unwrap().expect("connection closed");
    let (tag, echoed) = answer.split_once(':').unwrap();
    assert_eq!(echoed, line);
    tag.to_string()
}

/// A UDP backend that answers every datagram with `<tag>:<datagram>`.
pub async fn udp_echo(tag: &'static str) -> (SocketAddr, JoinHandle<()>) {
    let socket = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let addr = socket.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut buf = vec![0u8; 65536];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let mut reply = format!("{tag}:").into_bytes();
            reply.extend_from_slice(&buf[..n]);
            let _ = socket.send_to(&reply, from).await;
        }
    });
    (addr, task)
}

/// Sends `msg` from `client` to the published port and returns the answer as text.
pub async fn udp_ask(client: &UdpSocket, port: u16, msg: &str) -> String {
    client
        .send_to(msg.as_bytes(), (LOCALHOST, port))
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let (n, from) = tokio::time::timeout(PATIENCE, client.recv_from(&mut buf))
        .await
        .expect("no udp answer in time")
        .unwrap();
    // Replies must come from the published address, not from the backend.
    assert_eq!(from, SocketAddr::from((LOCALHOST, port)));
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

/// Polls `cond` until it holds or PATIENCE runs out.
pub async fn eventually(mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    cond()
}
