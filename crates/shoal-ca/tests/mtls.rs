//! Real in-memory TLS handshakes between the crate's rustls configs: bytes are pumped
//! between a `ClientConnection` and a `ServerConnection` through `Vec<u8>` buffers.

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use rustls_pki_types::ServerName;
use shoal_ca::{
    NodeCert, Role, RootCa, anonymous_client_config, client_config, identity_from_der,
    insecure_bootstrap_client_config, server_config, server_config_allow_anonymous,
};

const DAY: Duration = Duration::from_secs(86_400);

/// Which side of the connection failed.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Side {
    Client,
    Server,
}

struct Pair {
    client: Connection,
    server: Connection,
}

fn connect(client: ClientConfig, server: ServerConfig, name: &str) -> Result<Pair, (Side, String)> {
    let server_name = ServerName::try_from(name.to_string()).unwrap();
    let client = ClientConnection::new(Arc::new(client), server_name).unwrap();
    let server = ServerConnection::new(Arc::new(server)).unwrap();
    let mut pair = Pair {
        client: client.into(),
        server: server.into(),
    };
    pump(&mut pair)?;
    assert!(!pair.client.is_handshaking() && !pair.server.is_handshaking());
    Ok(pair)
}

/// Moves bytes both ways until neither side has anything left to send.
fn pump(pair: &mut Pair) -> Result<(), (Side, String)> {
    for _ in 0..32 {
        let to_server = transfer(&mut pair.client, &mut pair.server, Side::Server)?;
        let to_client = transfer(&mut pair.server, &mut pair.client, Side::Client)?;
        if to_server == 0 && to_client == 0 {
            return Ok(());
        }
    }
    panic!("handshake did not settle");
}

/// Sends everything `from` has queued to `to` and lets `to` process it.
fn transfer(
    from: &mut Connection,
    to: &mut Connection,
    to_side: Side,
) -> Result<usize, (Side, String)> {
    let mut buf = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut buf).unwrap();
    }
    let mut rest = &buf[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).unwrap();
        to.process_new_packets()
            .map_err(|e| (to_side, format!("{e:?}")))?;
    }
    Ok(buf.len())
}

struct Cluster {
    root: RootCa,
    manager: NodeCert,
    worker: NodeCert,
}

fn cluster(now: SystemTime) -> Cluster {
    let root = RootCa::generate(now).unwrap();
    let manager = root
        .issue("mgr-1", Role::Manager, "cl-1", now, 90 * DAY)
        .unwrap();
    let worker = root
        .issue("wrk-7", Role::Worker, "cl-1", now, 90 * DAY)
        .unwrap();
    Cluster {
        root,
        manager,
        worker,
    }
}

fn manager_server(c: &Cluster) -> ServerConfig {
    server_config(&c.root.cert_pem, &c.manager.cert_pem, &c.manager.key_pem).unwrap()
}

fn node_client(root: &RootCa, node: &NodeCert) -> ClientConfig {
    client_config(&root.cert_pem, &node.cert_pem, &node.key_pem).unwrap()
}

#[test]
fn mutual_tls_handshake_carries_identities_and_data() {
    let c = cluster(SystemTime::now());
    let mut pair = connect(
        node_client(&c.root, &c.worker),
        manager_server(&c),
        "swarm-manager",
    )
    .unwrap();

    // Each side sees the other's identity from the verified chain.
    let peer = pair.server.peer_certificates().unwrap()[0].clone();
    let ident = identity_from_der(&peer).unwrap();
    assert_eq!(
        (ident.node_id.as_str(), ident.role),
        ("wrk-7", Role::Worker)
    );
    assert_eq!(ident.cluster_id, "cl-1");
    let peer = pair.client.peer_certificates().unwrap()[0].clone();
    assert_eq!(identity_from_der(&peer).unwrap().role, Role::Manager);
    assert_eq!(pair.client.alpn_protocol(), Some(&b"h2"[..]));
    assert_eq!(pair.server.alpn_protocol(), Some(&b"h2"[..]));

    pair.client.writer().write_all(b"ping").unwrap();
    pump(&mut pair).unwrap();
    let mut got = [0u8; 4];
    pair.server.reader().read_exact(&mut got).unwrap();
    assert_eq!(&got, b"ping");
}

#[test]
fn node_id_is_also_a_valid_server_name() {
    let c = cluster(SystemTime::now());
    connect(node_client(&c.root, &c.worker), manager_server(&c), "mgr-1").unwrap();
}

#[test]
fn client_cert_from_another_root_is_refused() {
    let now = SystemTime::now();
    let c = cluster(now);
    let intruder = cluster(now);
    let err = connect(
        node_client(&intruder.root, &intruder.worker),
        manager_server(&c),
        "swarm-manager",
    )
    .err()
    .expect("foreign client certificate accepted");
    // The client trusts its own root only, so it already refuses the server's chain...
    assert_eq!(err.0, Side::Client, "{err:?}");

    // ...and when it trusts our root but presents a foreign certificate, the server refuses.
    let forged = client_config(
        &c.root.cert_pem,
        &intruder.worker.cert_pem,
        &intruder.worker.key_pem,
    )
    .unwrap();
    let err = connect(forged, manager_server(&c), "swarm-manager")
        .err()
        .expect("foreign client certificate accepted");
    assert_eq!(err.0, Side::Server, "{err:?}");
    // Every root is named `swarm-ca`, so webpki matches the foreign issuer name to our
    // root and then fails on the signature rather than reporting an unknown issuer.
    assert!(err.1.contains("BadSignature"), "{err:?}");
}

#[test]
fn worker_cannot_pose_as_manager() {
    let c = cluster(SystemTime::now());
    // A server holding a worker certificate is not valid for the name swarm-manager.
    let worker_server =
        server_config(&c.root.cert_pem, &c.worker.cert_pem, &c.worker.key_pem).unwrap();
    let err = connect(
        node_client(&c.root, &c.manager),
        worker_server,
        "swarm-manager",
    )
    .err()
    .expect("worker accepted as swarm-manager");
    assert_eq!(err.0, Side::Client);
    assert!(err.1.contains("NotValidForName"), "{err:?}");
}

#[test]
fn anonymous_client_needs_the_lenient_server() {
    let now = SystemTime::now();
    let c = cluster(now);
    let anon = || anonymous_client_config(&c.root.cert_pem).unwrap();
    let err = connect(anon(), manager_server(&c), "swarm-manager")
        .err()
        .expect("strict server admitted an anonymous client");
    assert_eq!(err.0, Side::Server, "{err:?}");

    let lenient = || {
        server_config_allow_anonymous(&c.root.cert_pem, &c.manager.cert_pem, &c.manager.key_pem)
            .unwrap()
    };
    let pair = connect(anon(), lenient(), "swarm-manager").unwrap();
    assert!(pair.server.peer_certificates().is_none());

    // A certificate that is presented must still chain to the root.
    let intruder = cluster(now);
    let forged = client_config(
        &c.root.cert_pem,
        &intruder.worker.cert_pem,
        &intruder.worker.key_pem,
    )
    .unwrap();
    let err = connect(forged, lenient(), "swarm-manager")
        .err()
        .expect("lenient server admitted a foreign certificate");
    assert_eq!(err.0, Side::Server);
}

#[test]
fn bootstrap_client_reaches_any_server() {
    let other = cluster(SystemTime::now());
    let server = server_config_allow_anonymous(
        &other.root.cert_pem,
        &other.manager.cert_pem,
        &other.manager.key_pem,
    )
    .unwrap();
    let pair = connect(
        insecure_bootstrap_client_config().unwrap(),
        server,
        "swarm-manager",
    );
    // Connects without knowing the root; the caller then checks the fetched root's digest.
    assert!(pair.is_ok());
}

#[test]
fn expired_client_certificate_is_refused() {
    let now = SystemTime::now();
    let c = cluster(now);
    let stale = c
        .root
        .issue("old", Role::Worker, "cl-1", now - 10 * DAY, DAY)
        .unwrap();
    let err = connect(
        node_client(&c.root, &stale),
        manager_server(&c),
        "swarm-manager",
    )
    .err()
    .expect("expired certificate accepted");
    assert_eq!(err.0, Side::Server);
    assert!(err.1.contains("Expired"), "{err:?}");
}
