//! The UDP routing mesh over real sockets on 127.0.0.1.

mod common;

use std::net::IpAddr;
use std::time::Duration;

use common::*;
use shoal_netplane::{Mesh, MeshConfig, Protocol, Route};
use tokio::net::UdpSocket;

async fn client() -> UdpSocket {
    UdpSocket::bind((LOCALHOST, 0)).await.unwrap()
}

#[tokio::test]
async fn clients_alternate_over_two_backends_and_stick_to_theirs() {
    let (a, _) = udp_echo("a").await;
    let (b, _) = udp_echo("b").await;
    let mesh = Mesh::new(IpAddr::V4(LOCALHOST));
    let port = free_port();
    assert!(
        mesh.apply(vec![Route::udp(port, vec![a, b])])
            .await
            .is_empty()
    );

    let clients = [client().await, client().await, client().await];
    let mut first = Vec::new();
    for (i, c) in clients.iter().enumerate() {
        first.push(udp_ask(c, port, &format!("hi {i}")).await);
    }
    assert_eq!(first, ["a:hi 0", "b:hi 1", "a:hi 2"]);
    // Each client's later datagrams go to the backend its flow picked.
    for (i, c) in clients.iter().enumerate().rev() {
        let tag = &first[i][..1];
        assert_eq!(udp_ask(c, port, "again").await, format!("{tag}:again"));
    }
    let stats = mesh.stats()[&(port, Protocol::Udp)];
    assert_eq!(stats.accepted, 3);
    assert_eq!(stats.active, 3);
}

#[tokio::test]
async fn idle_flows_expire_and_the_client_gets_a_new_one() {
    let (a, _) = udp_echo("a").await;
    let (b, _) = udp_echo("b").await;
    let config = MeshConfig {
        udp_idle_timeout: Duration::from_millis(200),
        ..MeshConfig::default()
    };
    let mesh = Mesh::with_config(IpAddr::V4(LOCALHOST), config);
    let port = free_port();
    mesh.apply(vec![Route::udp(port, vec![a, b])]).await;

    let c = client().await;
    assert_eq!(udp_ask(&c, port, "1").await, "a:1");
    assert!(eventually(|| mesh.stats()[&(port, Protocol::Udp)].active == 0).await);
    // A new flow, so the next backend in rotation.
    assert_eq!(udp_ask(&c, port, "2").await, "b:2");
    assert_eq!(mesh.stats()[&(port, Protocol::Udp)].accepted, 2);
}

#[tokio::test]
async fn swapped_backends_serve_new_flows() {
    let (a, _) = udp_echo("a").await;
    let (b, _) = udp_echo("b").await;
    let mesh = Mesh::new(IpAddr::V4(LOCALHOST));
    let port = free_port();
    mesh.apply(vec![Route::udp(port, vec![a])]).await;
    let old = client().await;
    assert_eq!(udp_ask(&old, port, "1").await, "a:1");

    mesh.apply(vec![Route::udp(port, vec![b])]).await;
    assert_eq!(udp_ask(&client().await, port, "2").await, "b:2");
    assert_eq!(udp_ask(&old, port, "3").await, "a:3");
}

#[tokio::test]
async fn removed_route_frees_the_port() {
    let (a, _) = udp_echo("a").await;
    let mesh = Mesh::new(IpAddr::V4(LOCALHOST));
    let port = free_port();
    mesh.apply(vec![Route::udp(port, vec![a])]).await;
    assert_eq!(udp_ask(&client().await, port, "1").await, "a:1");

    assert!(mesh.apply(vec![]).await.is_empty());
    // Flows hold the listening socket for replies; apply waits for them, so it is free now.
    let rebound = std::net::UdpSocket::bind((LOCALHOST, port));
    assert!(rebound.is_ok(), "{rebound:?}");
}

#[tokio::test]
async fn no_backends_drops_datagrams() {
    let mesh = Mesh::new(IpAddr::V4(LOCALHOST));
    let port = free_port();
    mesh.apply(vec![Route::udp(port, vec![])]).await;
    client()
        .await
        .send_to(b"x", (LOCALHOST, port))
        .await
        .unwrap();
    assert!(eventually(|| mesh.stats()[&(port, Protocol::Udp)].rejected == 1).await);
}

#[tokio::test]
async fn udp_port_in_use_is_reported() {
    let (a, _) = udp_echo("a").await;
    let occupant = std::net::UdpSocket::bind((LOCALHOST, 0)).unwrap();
    let busy = occupant.local_addr().unwrap().port();
    let mesh = Mesh::new(IpAddr::V4(LOCALHOST));
    let errors = mesh.apply(vec![Route::udp(busy, vec![a])]).await;
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].port, errors[0].protocol), (busy, Protocol::Udp));
    assert_eq!(errors[0].source.kind(), std::io::ErrorKind::AddrInUse);
    drop(occupant);
    assert!(mesh.apply(vec![Route::udp(busy, vec![a])]).await.is_empty());
    assert_eq!(udp_ask(&client().await, busy, "y").await, "a:y");
}

#[tokio::test]
async fn backend_answering_icmp_unreachable_ends_its_flow_and_is_tried_last() {
    let (a, _) = udp_echo("a").await;
    let dead = {
        let s = std::net::UdpSocket::bind((LOCALHOST, 0)).unwrap();
        s.local_addr().unwrap()
    };
    let config = MeshConfig {
        failure_memory: Duration::from_secs(600),
        ..MeshConfig::default()
    };
    let mesh = Mesh::with_config(IpAddr::V4(LOCALHOST), config);
    let port = free_port();
    mesh.apply(vec![Route::udp(port, vec![dead, a])]).await;

    // The first flow goes to the dead backend: the kernel's ICMP port unreachable ends it.
    let first = client().await;
    first.send_to(b"lost", (LOCALHOST, port)).await.unwrap();
    assert!(eventually(|| mesh.stats()[&(port, Protocol::Udp)].connect_failures == 1).await);
    assert!(eventually(|| mesh.stats()[&(port, Protocol::Udp)].active == 0).await);
    // The client retries and gets a new flow; a later client whose turn would be the dead
    // backend gets `a` too, since the dead one is now tried last.
    assert_eq!(udp_ask(&first, port, "retry").await, "a:retry");
    assert_eq!(udp_ask(&client().await, port, "next").await, "a:next");
}
