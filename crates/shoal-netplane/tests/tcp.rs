//! The TCP routing mesh over real sockets on 127.0.0.1.

mod common;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use common::*;
use shoal_netplane::{Mesh, MeshConfig, Protocol, Route};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn mesh() -> Mesh {
    Mesh::new(IpAddr::V4(LOCALHOST))
}

/// A mesh that resets a connection as soon as no backend accepts it.
fn impatient_mesh() -> Mesh {
    Mesh::with_config(
        IpAddr::V4(LOCALHOST),
        MeshConfig {
            retry_for: Duration::ZERO,
            ..MeshConfig::default()
        },
    )
}

#[tokio::test]
async fn round_robin_over_three_backends() {
    let (a, _) = tcp_echo("a").await;
    let (b, _) = tcp_echo("b").await;
    let (c, _) = tcp_echo("c").await;
    let mesh = mesh();
    let port = free_port();
    assert!(
        mesh.apply(vec![Route::tcp(port, vec![a, b, c])])
            .await
            .is_empty()
    );

    let mut tags = Vec::new();
    for i in 0..6 {
        tags.push(ask_once(port, &format!("hello {i}")).await);
    }
    assert_eq!(tags, ["a", "b", "c", "a", "b", "c"]);
    let stats = mesh.stats()[&(port, Protocol::Tcp)];
    assert_eq!(stats.accepted, 6);
    assert_eq!(stats.connect_failures, 0);
}

#[tokio::test]
async fn dead_backend_is_skipped_and_then_tried_last() {
    let (a, _) = tcp_echo("a").await;
    let config = MeshConfig {
        // Long enough that the test never outlives the memory, however slow the machine.
        failure_memory: Duration::from_secs(600),
        ..MeshConfig::default()
    };
    let mesh = Mesh::with_config(IpAddr::V4(LOCALHOST), config);
    let port = free_port();
    mesh.apply(vec![Route::tcp(port, vec![dead_addr(), a])])
        .await;

    for i in 0..4 {
        assert_eq!(ask_once(port, &format!("req {i}")).await, "a");
    }
    // Only the first connection paid for the dead backend; later ones tried it last.
    assert_eq!(mesh.stats()[&(port, Protocol::Tcp)].connect_failures, 1);
}

/// Reads from a connection the mesh should have closed: EOF or a reset, never data.
async fn assert_closed(mut stream: TcpStream) {
    let mut buf = [0u8; 16];
    let _ = stream.write_all(b"anyone?\n").await;
    let read = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .expect("connection not closed");
    assert!(matches!(read, Ok(0) | Err(_)), "got data: {read:?}");
}

#[tokio::test]
async fn all_backends_dead_closes_the_client_after_trying_each_once() {
    let mesh = impatient_mesh();
    let port = free_port();
    mesh.apply(vec![Route::tcp(port, vec![dead_addr(), dead_addr()])])
        .await;
    assert_closed(TcpStream::connect((LOCALHOST, port)).await.unwrap()).await;
    let stats = mesh.stats()[&(port, Protocol::Tcp)];
    assert_eq!(stats.connect_failures, 2);
    assert_eq!(stats.rejected, 1);
}

#[tokio::test]
async fn no_backends_accepts_and_closes_at_once() {
    let mesh = impatient_mesh();
    let port = free_port();
    assert!(mesh.apply(vec![Route::tcp(port, vec![])]).await.is_empty());
    assert_closed(TcpStream::connect((LOCALHOST, port)).await.unwrap()).await;
    assert!(eventually(|| mesh.stats()[&(port, Protocol::Tcp)].rejected == 1).await);
}

#[tokio::test]
async fn swapped_backends_serve_new_connections_while_old_ones_keep_working() {
    let (a, _) = tcp_echo("a").await;
    let (b, _) = tcp_echo("b").await;
    let mesh = mesh();
    let port = free_port();
    mesh.apply(vec![Route::tcp(port, vec![a])]).await;
    let mut old = Client::connect(port).await.unwrap();
    assert_eq!(old.ask("1").await.unwrap().as_deref(), Some("a:1"));

    assert!(mesh.apply(vec![Route::tcp(port, vec![b])]).await.is_empty());
    for i in 0..3 {
        assert_eq!(ask_once(port, &format!("new {i}")).await, "b");
    }
    assert_eq!(old.ask("2").await.unwrap().as_deref(), Some("a:2"));
}

#[tokio::test]
async fn removed_route_stops_listening_but_keeps_established_connections() {
    let (a, _) = tcp_echo("a").await;
    let mesh = mesh();
    let port = free_port();
    mesh.apply(vec![Route::tcp(port, vec![a])]).await;
    let mut old = Client::connect(port).await.unwrap();
    assert_eq!(old.ask("1").await.unwrap().as_deref(), Some("a:1"));

    assert!(mesh.apply(vec![]).await.is_empty());
    assert!(mesh.stats().is_empty());
    // The listener is closed by the time apply returns.
    let err = TcpStream::connect((LOCALHOST, port)).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(old.ask("2").await.unwrap().as_deref(), Some("a:2"));

    // And the port can be routed again.
    assert!(mesh.apply(vec![Route::tcp(port, vec![a])]).await.is_empty());
    assert_eq!(ask_once(port, "again").await, "a");
}

#[tokio::test]
async fn idle_connection_survives() {
    let (a, _) = tcp_echo("a").await;
    let mesh = mesh();
    let port = free_port();
    mesh.apply(vec![Route::tcp(port, vec![a])]).await;
    let mut client = Client::connect(port).await.unwrap();
    assert_eq!(
        client.ask("before").await.unwrap().as_deref(),
        Some("a:before")
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        client.ask("after").await.unwrap().as_deref(),
        Some("a:after")
    );
}

#[tokio::test]
async fn half_close_passes_the_fin_and_keeps_the_reply_direction() {
    // A backend that reads until the client is done sending, then answers and closes.
    let backend = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = backend.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut stream, _) = backend.accept().await.unwrap();
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        let reply = format!("got {} bytes", got.len());
        stream.write_all(reply.as_bytes()).await.unwrap();
    });
    let mesh = mesh();
    let port = free_port();
    mesh.apply(vec![Route::tcp(port, vec![addr])]).await;

    let mut client = TcpStream::connect((LOCALHOST, port)).await.unwrap();
    client.write_all(&[7u8; 100_000]).await.unwrap();
    client.shutdown().await.unwrap();
    let mut reply = String::new();
    tokio::time::timeout(PATIENCE, client.read_to_string(&mut reply))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reply, "got 100000 bytes");
    assert!(
        eventually(|| {
            let s = mesh.stats()[&(port, Protocol::Tcp)];
            s.active == 0 && s.bytes_to_backend == 100_000 && s.bytes_to_client == 16
        })
        .await
    );
}

#[tokio::test]
async fn proxy_protocol_v2_header_precedes_client_bytes() {
    let backend = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let addr = backend.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut stream, _) = backend.accept().await.unwrap();
        let mut header = [0u8; 28];
        stream.read_exact(&mut header).await.unwrap();
        let mut payload = [0u8; 6];
        stream.read_exact(&mut payload).await.unwrap();
        tx.send((header, payload)).unwrap();
    });
    let mesh = mesh();
    let port = free_port();
    mesh.apply(vec![Route::tcp(port, vec![addr]).with_proxy_protocol()])
        .await;

    let mut client = TcpStream::connect((LOCALHOST, port)).await.unwrap();
    let client_addr = client.local_addr().unwrap();
    client.write_all(b"hello\n").await.unwrap();
    let (h, payload) = tokio::time::timeout(PATIENCE, rx).await.unwrap().unwrap();

    // Parsed field by field as haproxy's proxy-protocol.txt section 2.2 lays them out.
    assert_eq!(
        &h[0..12],
        b"\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A"
    );
    assert_eq!(h[12] >> 4, 2, "version");
    assert_eq!(h[12] & 0x0F, 1, "command PROXY");
    assert_eq!(h[13] >> 4, 1, "family AF_INET");
    assert_eq!(h[13] & 0x0F, 1, "transport STREAM");
    assert_eq!(
        u16::from_be_bytes([h[14], h[15]]),
        12,
        "address block length"
    );
    let src = SocketAddr::from((
        [h[16], h[17], h[18], h[19]],
        u16::from_be_bytes([h[24], h[25]]),
    ));
    let dst = SocketAddr::from((
        [h[20], h[21], h[22], h[23]],
        u16::from_be_bytes([h[26], h[27]]),
    ));
    assert_eq!(src, client_addr);
    assert_eq!(dst, SocketAddr::from((LOCALHOST, port)));
    assert_eq!(&payload, b"hello\n");
}

#[tokio::test]
async fn port_in_use_is_reported_and_retried_on_the_next_apply() {
    let (a, _) = tcp_echo("a").await;
    let occupant = std::net::TcpListener::bind((LOCALHOST, 0)).unwrap();
    let busy = occupant.local_addr().unwrap().port();
    let free = free_port();
    let mesh = mesh();
    let routes = vec![Route::tcp(busy, vec![a]), Route::tcp(free, vec![a])];

    let errors = mesh.apply(routes.clone()).await;
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].port, errors[0].protocol), (busy, Protocol::Tcp));
    assert_eq!(errors[0].source.kind(), std::io::ErrorKind::AddrInUse);
    assert!(!mesh.stats().contains_key(&(busy, Protocol::Tcp)));
    assert_eq!(ask_once(free, "x").await, "a");

    drop(occupant);
    assert!(mesh.apply(routes).await.is_empty());
    assert_eq!(ask_once(busy, "y").await, "a");
}

#[tokio::test]
async fn a_backend_that_starts_listening_late_still_gets_the_connection() {
    let mesh = mesh();
    let port = free_port();
    // Reserved now, listening only later: a task reported running before it listens.
    let late = dead_addr();
    mesh.apply(vec![Route::tcp(port, vec![late])]).await;
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let listener = TcpListener::bind(late).await.unwrap();
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"late but here\n").await.unwrap();
    });
    let mut client = TcpStream::connect((LOCALHOST, port)).await.unwrap();
    let mut got = String::new();
    tokio::time::timeout(PATIENCE, client.read_to_string(&mut got))
        .await
        .expect("an answer")
        .unwrap();
    assert_eq!(got, "late but here\n");
    server.await.unwrap();
    assert!(mesh.stats()[&(port, Protocol::Tcp)].connect_failures >= 1);
}

#[tokio::test]
async fn a_route_without_backends_waits_for_the_table_to_get_one() {
    let mesh = std::sync::Arc::new(mesh());
    let port = free_port();
    mesh.apply(vec![Route::tcp(port, vec![])]).await;
    let (backend, _echo) = tcp_echo("b").await;
    let later = {
        let mesh = mesh.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            mesh.apply(vec![Route::tcp(port, vec![backend])]).await;
        })
    };
    assert_eq!(ask_once(port, "hello").await, "b");
    later.await.unwrap();
}
