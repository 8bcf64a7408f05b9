//! The client against a tiny in-process HTTP server on a unix socket: version negotiation
//! and docker's reading of error answers.

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use shoal_cli::{CliError, Client};

/// Answers like an Engine API daemon that only speaks API 1.41.
async fn handle(req: Request<hyper::body::Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (status, ctype, body) = match (req.method().as_str(), req.uri().path()) {
        ("HEAD", "/_ping") => (200, "text/plain", ""),
        ("GET", "/v1.41/nodes/missing") => (
            404,
            "application/json",
            r#"{"message":"node missing not found"}"#,
        ),
        ("GET", "/v1.41/plain") => (500, "text/plain; charset=utf-8", "boom\n"),
        ("GET", "/v1.41/empty") => (404, "application/json", "{}"),
        ("GET", "/v1.41/info") => (200, "application/json", r#"{"Name":"n1"}"#),
        _ => (404, "application/json", r#"{"message":"page not found"}"#),
    };
    let resp = Response::builder()
        .status(status)
        .header("Api-Version", "1.41")
        .header("Content-Type", ctype)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    Ok(resp)
}

fn serve(listener: tokio::net::UnixListener) {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(handle);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
}

#[tokio::test]
async fn negotiates_and_reads_daemon_errors() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("shoal.sock");
    serve(tokio::net::UnixListener::bind(&sock).unwrap());
    let c = Client::new(&format!("unix://{}", sock.display())).unwrap();
    assert_eq!(c.api_version(), "1.47");
    assert_eq!(c.negotiate().await.unwrap(), "1.41");
    assert_eq!(c.api_version(), "1.41");

    let info: serde_json::Value = c.get_json("/info").await.unwrap();
    assert_eq!(info["Name"], "n1");

    let err = c
        .get_json::<serde_json::Value>("/nodes/missing")
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error response from daemon: node missing not found"
    );
    assert_eq!(err.status(), Some(404));
    assert_eq!(err.exit_code(), 1);

    let err = c.get_raw("/plain").await.unwrap_err();
    assert_eq!(err.to_string(), "Error response from daemon: boom");

    let err = c.get_raw("/empty").await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "Error response from daemon: API returned a 404 (Not Found) but provided no error-message"
    );
}

#[tokio::test]
async fn missing_socket_is_docker_s_connect_error() {
    let dir = tempfile::tempdir().unwrap();
    let host = format!("unix://{}/nope.sock", dir.path().display());
    let c = Client::new(&host).unwrap();
    let err = c.get_raw("/info").await.unwrap_err();
    assert!(matches!(err, CliError::Connect { .. }));
    assert_eq!(
        err.to_string(),
        format!("Cannot connect to the shoal daemon at {host}. Is the shoal daemon running?")
    );
    let err = shoal_cli::run(
        &host,
        shoal_cli::Command::Info(shoal_cli::InfoArgs {
            format: String::new(),
        }),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, CliError::Connect { .. }));
}
