//! Store benchmarks against the foundation issue's targets, printed as a table (figures are
//! reported, never asserted):
//!
//! - acknowledged (fsynced) writes per second with 1, 16, 64 and 256 concurrent clients, each
//!   committing one `Node` per transaction in a loop (target: ≥ 5,000 writes/s);
//! - restart with 100,000 objects stored, a snapshot plus a log tail on disk: in a fresh process
//!   (as a daemon restart), `Store::open`, leadership, a read of every object and the first
//!   write (target: serving in < 1 s).
//!
//! Run: `cargo bench -p shoal-store --bench store [-- writes|restart]` (both by default). Data
//! goes to Cargo's target tmp dir (a real disk, not tmpfs), or to `SHOAL_BENCH_DIR` if set; the
//! output says which filesystem it was.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_store::{Connector, Store, StoreConfig};
use shoal_types::node::PluginDescription;
use shoal_types::{
    EngineDescription, Node, NodeDescription, NodeRole, NodeSpec, NodeState, NodeStatus, Platform,
    Resources, TlsInfo, new_id,
};

/// How long each concurrency level writes.
const WRITE_SECS: f64 = 3.0;
/// Concurrent writer tasks per run.
const CLIENTS: [usize; 4] = [1, 16, 64, 256];
/// Objects stored before the restart.
const RESTART_OBJECTS: usize = 100_000;
/// Timed restarts of the same data, each a fresh process (each adds one object).
const RESTARTS: usize = 3;
/// Objects per transaction while filling the store for the restart. One writer, so one
/// transaction is one Raft entry whatever the store batches: 12,500 entries, a snapshot at
/// 10,000 (the default interval) holding 80,000 objects, and a log tail of 2,500 entries
/// (20,000 objects) replayed on open.
const FILL_BATCH: usize = 8;

struct NoPeers;
impl Connector for NoPeers {
    fn endpoint(&self, addr: &str) -> Result<tonic::transport::Endpoint, String> {
        Err(format!("single-node benchmark has no peer at {addr}"))
    }
}

/// First argument of the re-executed bench that times one restart: `restart-child DIR ROUND CACHE`.
const RESTART_CHILD: &str = "restart-child";

fn main() {
    // Cargo passes `--bench`; any other argument picks the sections to run.
    let picked: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if let [child, dir, round, cache] = picked.as_slice()
        && child == RESTART_CHILD
    {
        let round = round.parse().expect("round number");
        return restart_child(Path::new(dir), round, cache);
    }
    let run = |section: &str| picked.is_empty() || picked.iter().any(|p| p == section);
    let base = bench_dir();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(std::thread::available_parallelism().map_or(2, |n| n.get()))
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!("shoal-store benchmark");
    println!("data dir: {} ({})", base.display(), filesystem_of(&base));
    println!(
        "cpus: {}, node object: {} bytes of JSON",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        serde_json::to_vec(&sample_node(0))
            .expect("a node serialises")
            .len()
    );
    println!();
    rt.block_on(async {
        if run("writes") {
            writes(&base).await;
            println!();
        }
        if run("restart") {
            restart(&base).await;
        }
    });
}

/// Where the stores live: `SHOAL_BENCH_DIR`, else Cargo's per-target tmp dir (on the same disk
/// as `target/`).
fn bench_dir() -> PathBuf {
    let dir = std::env::var_os("SHOAL_BENCH_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from);
    std::fs::create_dir_all(&dir).expect("create the benchmark dir");
    dir
}

/// The filesystem type and device of the mount holding `path` (from /proc/self/mounts).
fn filesystem_of(path: &Path) -> String {
    let path = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 3 && path.starts_with(f[1])).then(|| {
                (
                    f[1].len(),
                    format!("{} on {}, mounted at {}", f[2], f[0], f[1]),
                )
            })
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "filesystem unknown".to_string(), |(_, s)| s)
}

/// The data key the bench seals with (fixed, so every restart process can open the store).
const BENCH_KEY: [u8; shoal_store::DATA_KEY_LEN] = [7; shoal_store::DATA_KEY_LEN];

async fn open(dir: &Path) -> Store {
    // Defaults throughout: snapshots every 10,000 entries, 500 kept behind; log and snapshots
    // sealed with a data key as a manager's are.
    let mut cfg = StoreConfig::new(dir.to_path_buf(), 1);
    cfg.sealer = shoal_store::Sealer::new(&BENCH_KEY);
    Store::open(cfg, Arc::new(NoPeers))
        .await
        .expect("open the store")
}

/// A worker node as an agent would describe it (`docker node inspect`-like content).
fn sample_node(i: usize) -> Node {
    let labels = |pairs: &[(&str, String)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    };
    let plugin = |kind: &str, name: &str| PluginDescription {
        kind: kind.into(),
        name: name.into(),
    };
    Node {
        id: new_id(),
        spec: NodeSpec {
            name: String::new(),
            labels: labels(&[
                ("zone", format!("zone-{}", i % 3)),
                ("rack", format!("r{:02}", i % 40)),
                ("disk", "ssd".into()),
            ]),
            role: NodeRole::Worker,
            ..Default::default()
        },
        description: NodeDescription {
            hostname: format!("worker-{i:06}.dc1.example.internal"),
            platform: Platform {
                architecture: "x86_64".into(),
                os: "linux".into(),
            },
            resources: Resources {
                nano_cpus: 8_000_000_000,
                memory_bytes: 33_524_129_792,
            },
            engine: EngineDescription {
                engine_version: "shoal 0.1.0".into(),
                labels: labels(&[("com.example.pool", "general".into())]),
                plugins: vec![
                    plugin("Log", "json-file"),
                    plugin("Log", "journald"),
                    plugin("Network", "bridge"),
                    plugin("Network", "overlay"),
                    plugin("Volume", "local"),
                ],
            },
            tls_info: TlsInfo {
                // A CA certificate PEM is ~560 bytes; every node object carries one.
                trust_root: format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    "MIIBazCCARCgAwIBAgIUQmFzZTY0IGZpbGxlciBmb3IgYSBiZW5jaG1hcmsw".repeat(8)
                ),
                cert_issuer_subject: "MBMxETAPBgNVBAMTCHN3YXJtLWNh".into(),
                cert_issuer_public_key:
                    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEsnuf2yZbGJ6dQ1Wq8bq7mJz4Lq0oX5g0a3Q\
                     o9cJx6sN1yq0Wz8b7rJZ5oW0m3uS4hY1kPz5xq9Ff2XK9z3kS4A=="
                        .into(),
            },
        },
        status: NodeStatus {
            state: NodeState::Ready,
            message: String::new(),
            addr: format!("10.{}.{}.{}", (i >> 16) & 255, (i >> 8) & 255, i & 255),
        },
        ..Default::default()
    }
}

/// Latency percentile (`q` in 0..=1) of sorted samples.
fn pct(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

async fn writes(base: &Path) {
    println!(
        "acknowledged writes (one Node per transaction, fsynced), {WRITE_SECS} s per row; target >= 5,000 writes/s"
    );
    println!(
        "{:>8} {:>10} {:>12} {:>10} {:>10} {:>10}",
        "clients", "writes", "writes/s", "p50", "p99", "max"
    );
    for clients in CLIENTS {
        let dir = tempfile::tempdir_in(base).expect("tempdir");
        let store = open(dir.path()).await;
        store.bootstrap("127.0.0.1:2377").await.expect("bootstrap");
        let deadline = Instant::now() + Duration::from_secs_f64(WRITE_SECS);
        let start = Instant::now();
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let store = store.clone();
                tokio::spawn(async move {
                    let mut lat = Vec::new();
                    let mut i = c;
                    while Instant::now() < deadline {
                        let n = sample_node(i);
                        let t = Instant::now();
                        store.update(|tx| tx.create(n)).await.expect("write");
                        lat.push(t.elapsed());
                        i += clients;
                    }
                    lat
                })
            })
            .collect();
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.expect("writer task"));
        }
        let elapsed = start.elapsed().as_secs_f64();
        lat.sort_unstable();
        let stored = store.view(|v| v.count::<Node>());
        assert_eq!(stored, lat.len(), "every acknowledged write is stored");
        println!(
            "{:>8} {:>10} {:>12.0} {:>10} {:>10} {:>10}",
            clients,
            lat.len(),
            lat.len() as f64 / elapsed,
            ms(pct(&lat, 0.50)),
            ms(pct(&lat, 0.99)),
            ms(lat.last().copied().unwrap_or_default())
        );
        store.shutdown().await;
    }
}

async fn restart(base: &Path) {
    println!(
        "restart with {RESTART_OBJECTS} objects (snapshot + log tail); target: serving in < 1 s"
    );
    let dir = tempfile::tempdir_in(base).expect("tempdir");
    let fill_start = Instant::now();
    {
        let store = open(dir.path()).await;
        store.bootstrap("127.0.0.1:2377").await.expect("bootstrap");
        for t in 0..RESTART_OBJECTS / FILL_BATCH {
            let nodes: Vec<Node> = (0..FILL_BATCH)
                .map(|k| sample_node(t * FILL_BATCH + k))
                .collect();
            store
                .update(|tx| nodes.into_iter().try_for_each(|n| tx.create(n)))
                .await
                .expect("fill");
        }
        assert_eq!(store.view(|v| v.count::<Node>()), RESTART_OBJECTS);
        // Let openraft finish the snapshot it started at 10,000 entries.
        let m = store
            .raft()
            .wait(Some(Duration::from_secs(60)))
            .metrics(|m| m.snapshot.is_some(), "a snapshot exists")
            .await
            .expect("snapshot taken");
        let snap = m.snapshot.map_or(0, |s| s.index);
        let last = m.last_log_index.unwrap_or(0);
        println!(
            "  filled in {:.1} s: {} entries, snapshot at index {snap}, log tail of {} entries to replay",
            fill_start.elapsed().as_secs_f64(),
            last,
            last - snap
        );
        // Stopped as a crash would stop it (no snapshot at shutdown): round 1 replays the tail;
        // later rounds follow a clean shutdown, which snapshots first.
        let _ = store.raft().shutdown().await;
    }
    // The last handle on the file drops on a Raft task just after `shutdown` returns; give it
    // time so the timed opens never wait for this process's file lock.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let file = dir.path().join("raft.redb");
    let size = std::fs::metadata(&file).map_or(0, |m| m.len());
    println!("  redb file: {:.1} MB", size as f64 / 1e6);

    println!(
        "  each restart is a new process; times are cumulative from the start of Store::open;"
    );
    println!(
        "  the first runs with the file evicted from the page cache, the others with it cached"
    );
    println!(
        "{:>8} {:>8} {:>12} {:>10} {:>16} {:>12}",
        "restart", "cache", "open", "leader", "read all (count)", "first write"
    );
    let exe = std::env::current_exe().expect("the bench executable");
    for round in 1..=RESTARTS {
        let cache = if round == 1 { evict(&file) } else { "warm" };
        let status = std::process::Command::new(&exe)
            .args([
                RESTART_CHILD,
                &dir.path().to_string_lossy(),
                &round.to_string(),
                cache,
            ])
            .status()
            .expect("run the restart");
        assert!(status.success(), "restart {round} failed: {status}");
    }
}

/// Drops `file` from the page cache (GNU dd's `nocache`, which only touches this file).
fn evict(file: &Path) -> &'static str {
    let ok = std::process::Command::new("dd")
        .arg(format!("if={}", file.display()))
        .args(["iflag=nocache", "count=0", "status=none"])
        .status()
        .is_ok_and(|s| s.success());
    if ok { "cold" } else { "as is" }
}

/// One timed restart, in its own process: a new heap and runtime, like a restarted daemon.
fn restart_child(dir: &Path, round: usize, cache: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async {
        let t0 = Instant::now();
        let store = open(dir).await;
        let opened = t0.elapsed();
        store
            .wait_leader(Duration::from_secs(10))
            .await
            .expect("leader after restart");
        let leading = t0.elapsed();
        let count = store.view(|v| v.count::<Node>());
        let read = t0.elapsed();
        assert_eq!(count, RESTART_OBJECTS + round - 1, "every object is back");
        store
            .update(|tx| tx.create(sample_node(RESTART_OBJECTS + round)))
            .await
            .expect("first write");
        let written = t0.elapsed();
        println!(
            "{:>8} {:>8} {:>12} {:>10} {:>16} {:>12}",
            round,
            cache,
            ms(opened),
            ms(leading),
            ms(read),
            ms(written)
        );
        store.shutdown().await;
    });
}
