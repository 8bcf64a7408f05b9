//! A quick figure of the mesh's cost on loopback: throughput and request latency with 64
//! concurrent connections, straight to an echo backend and through the mesh.
//!
//! `cargo run --release -p shoal-netplane --example mesh_bench [connections] [MiB per conn]
//! [mesh buffer KiB]`
//!
//! The backend, the mesh and the clients each get their own tokio runtime (two worker
//! threads each), as separate processes would; they still share the machine's cores.
//! Reports figures only; nothing here is asserted.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use shoal_netplane::{Mesh, MeshConfig, Route};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let conns: usize = args.next().map_or(Ok(64), |a| a.parse())?;
    let mib: usize = args.next().map_or(Ok(16), |a| a.parse())?;
    let mut config = MeshConfig::default();
    if let Some(kib) = args.next() {
        config.tcp_buffer_size = kib.parse::<usize>()? * 1024;
    }

    let backend_rt = runtime()?;
    let backend = backend_rt.block_on(echo_server())?;
    let port = {
        let l = std::net::TcpListener::bind((LOCALHOST, 0))?;
        l.local_addr()?.port()
    };
    let mesh_rt = runtime()?;
    let mesh = Mesh::with_config(IpAddr::V4(LOCALHOST), config);
    let errors = mesh_rt.block_on(mesh.apply(vec![Route::tcp(port, vec![backend])]));
    anyhow::ensure!(errors.is_empty(), "{errors:?}");
    let via_mesh = SocketAddr::from((LOCALHOST, port));
    runtime()?.block_on(run(backend, via_mesh, conns, mib))
}

async fn run(
    backend: SocketAddr,
    via_mesh: SocketAddr,
    conns: usize,
    mib: usize,
) -> anyhow::Result<()> {
    for (name, target) in [("direct", backend), ("mesh", via_mesh)] {
        let (secs, bytes) = throughput(target, conns, mib * 1024 * 1024).await?;
        let gbit = bytes as f64 * 8.0 / secs / 1e9;
        println!("{name:>6}: throughput {gbit:.2} Gbit/s each way ({conns} conns, {secs:.2} s)");
    }
    for (name, target) in [("direct", backend), ("mesh", via_mesh)] {
        let mut rtts = latency(target, conns, 2000).await?;
        rtts.sort();
        let at = |q: f64| rtts[((rtts.len() as f64 * q) as usize).min(rtts.len() - 1)];
        println!(
            "{name:>6}: 64-byte round trip p50 {:?} p99 {:?} ({} samples)",
            at(0.50),
            at(0.99),
            rtts.len()
        );
    }
    Ok(())
}

async fn echo_server() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind((LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let (mut r, mut w) = stream.into_split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
            });
        }
    });
    Ok(addr)
}

/// Every connection sends `per_conn` bytes and reads its echo; returns (seconds, bytes sent).
async fn throughput(
    target: SocketAddr,
    conns: usize,
    per_conn: usize,
) -> anyhow::Result<(f64, usize)> {
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..conns {
        tasks.push(tokio::spawn(async move {
            let stream = TcpStream::connect(target).await?;
            let (mut r, mut w) = stream.into_split();
            let writer = tokio::spawn(async move {
                let chunk = vec![0x5au8; 64 * 1024];
                let mut left = per_conn;
                while left > 0 {
                    let n = left.min(chunk.len());
                    w.write_all(&chunk[..n]).await?;
                    left -= n;
                }
                w.shutdown().await
            });
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0;
            loop {
                let n = r.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                got += n;
            }
            writer.await??;
            anyhow::ensure!(got == per_conn, "short echo: {got} of {per_conn}");
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((start.elapsed().as_secs_f64(), conns * per_conn))
}

/// Every connection does `rounds` 64-byte ping-pongs; returns all round-trip times.
async fn latency(target: SocketAddr, conns: usize, rounds: usize) -> anyhow::Result<Vec<Duration>> {
    let mut tasks = Vec::new();
    for _ in 0..conns {
        tasks.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(target).await?;
            stream.set_nodelay(true)?;
            let mut buf = [7u8; 64];
            let mut rtts = Vec::with_capacity(rounds);
            for _ in 0..rounds {
                let t = Instant::now();
                stream.write_all(&buf).await?;
                stream.read_exact(&mut buf).await?;
                rtts.push(t.elapsed());
            }
            anyhow::Ok(rtts)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await??);
    }
    Ok(all)
}
