//! The docker driver against the real engine (unix:///var/run/docker.sock), with images
//! built here from Debian's busybox-static (`FROM scratch`; nothing is pulled).

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::{HealthConfig, Mount, MountType};
use bollard::query_parameters::BuildImageOptionsBuilder;
use common::*;
use futures::StreamExt;
use shoal_agent::driver::{Driver, LogOptions, LogSource, Phase};
use shoal_agent::{DockerDriver, Worker};
use shoal_types::{Task, TaskState};
use tokio::sync::OnceCell;

const SOCKET: &str = "/var/run/docker.sock";
const IMAGE: &str = "shoal-test-busybox:latest";
const HEALTHY_IMAGE: &str = "shoal-test-busybox-health:latest";

static IMAGES: OnceCell<()> = OnceCell::const_new();

/// A ustar archive of `(name, mode, bytes)` files: the build context.
fn tar(files: &[(&str, u32, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, mode, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        let octal = |v: u64, width: usize| format!("{v:0w$o}\0", w = width - 1).into_bytes();
        h[100..108].copy_from_slice(&octal(*mode as u64, 8));
        h[108..116].copy_from_slice(&octal(0, 8));
        h[116..124].copy_from_slice(&octal(0, 8));
        h[124..136].copy_from_slice(&octal(data.len() as u64, 12));
        h[136..148].copy_from_slice(&octal(0, 12));
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|b| *b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

async fn build(docker: &Docker, tag: &str, dockerfile: &str) {
    if docker.inspect_image(tag).await.is_ok() {
        return;
    }
    let busybox = std::fs::read("/bin/busybox")
        .expect("/bin/busybox (install Debian's busybox-static) to build the test image");
    let context = tar(&[
        ("Dockerfile", 0o644, dockerfile.as_bytes()),
        ("busybox", 0o755, &busybox),
    ]);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .build();
    let mut progress = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(step) = progress.next().await {
        let step = step.expect("image build");
        assert!(step.error_detail.is_none(), "building {tag}: {step:?}");
    }
}

async fn images() {
    IMAGES
        .get_or_init(|| async {
            let docker = Docker::connect_with_unix(SOCKET, 120, bollard::API_DEFAULT_VERSION)
                .unwrap()
                .negotiate_version()
                .await
                .expect("a Docker Engine at /var/run/docker.sock");
            let base = "FROM scratch\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n";
            build(&docker, IMAGE, base).await;
            let health = format!("FROM {IMAGE}\nHEALTHCHECK --interval=1s --timeout=2s CMD [\"/bin/test\", \"-f\", \"/healthy\"]\n");
            build(&docker, HEALTHY_IMAGE, &health).await;
        })
        .await;
}

/// A docker driver for this test's own node ID, with its leftovers from earlier runs removed.
async fn driver(node: &str) -> Arc<DockerDriver> {
    images().await;
    let d = Arc::new(
        DockerDriver::connect(SOCKET, node)
            .await
            .expect("docker driver"),
    );
    for o in d.list().await.unwrap() {
        d.remove(&o.task_id).await.unwrap();
    }
    d
}

fn task(id: &str, node: &str, script: &str) -> Task {
    let mut t = sh_task(id, script);
    t.node_id = node.into();
    let spec = t.spec.container_spec.as_mut().unwrap();
    spec.image = Some(IMAGE.into());
    // An init as PID 1 passes SIGTERM on; a bare `sleep` as PID 1 would ignore it and every
    // stop would wait out the 10 s grace period.
    spec.init = Some(true);
    t
}

async fn worker(node: &str, state: &std::path::Path) -> Worker {
    Worker::new(driver(node).await, state, node).unwrap()
}

/// A task using most container options.
fn full_task(node: &str) -> Task {
    let mut t = task("t-run", node, "echo hi; echo err >&2; exec sleep 30");
    let spec = t.spec.container_spec.as_mut().unwrap();
    spec.env = Some(vec!["A=1".into()]);
    spec.dir = Some("/tmp".into());
    spec.user = Some("1000:1000".into());
    spec.hostname = Some("h1".into());
    spec.init = Some(true);
    spec.read_only = Some(true);
    spec.stop_grace_period = Some(5_000_000_000);
    spec.labels = Some(HashMap::from([("app".to_string(), "web".to_string())]));
    spec.mounts = Some(vec![Mount {
        target: Some("/data".into()),
        typ: Some(MountType::TMPFS),
        ..Default::default()
    }]);
    t.spec.resources = Some(shoal_types::service::TaskSpecResources {
        limits: Some(bollard::models::Limit {
            nano_cpus: Some(500_000_000),
            memory_bytes: Some(64 << 20),
            pids: None,
        }),
        ..Default::default()
    });
    t
}

/// The engine's view of the container matches what moby's executor would create.
async fn assert_container_like_swarm(d: &DockerDriver, node: &str, container_id: &str) {
    let c = d
        .client()
        .inspect_container("svc.1.t-run", None)
        .await
        .unwrap();
    assert_eq!(c.id.as_deref(), Some(container_id));
    let config = c.config.unwrap();
    let labels = config.labels.unwrap();
    for (k, v) in [
        ("com.docker.swarm.task.id", "t-run"),
        ("com.docker.swarm.task.name", "svc.1.t-run"),
        ("com.docker.swarm.node.id", node),
        ("com.docker.swarm.service.id", "svc-id"),
        ("com.docker.swarm.service.name", "svc"),
        ("com.docker.swarm.task", ""),
        ("app", "web"),
    ] {
        assert_eq!(labels.get(k).map(String::as_str), Some(v), "label {k}");
    }
    assert_eq!(config.entrypoint.unwrap(), ["/bin/sh", "-c"]);
    assert!(config.env.unwrap().contains(&"A=1".to_string()));
    let identity = (
        config.working_dir.as_deref(),
        config.user.as_deref(),
        config.hostname.as_deref(),
    );
    assert_eq!(identity, (Some("/tmp"), Some("1000:1000"), Some("h1")));
    let hc = c.host_config.unwrap();
    assert_eq!(
        (hc.nano_cpus, hc.memory, hc.init, hc.readonly_rootfs),
        (Some(500_000_000), Some(64 << 20), Some(true), Some(true))
    );
    assert_eq!(hc.mounts.unwrap()[0].target.as_deref(), Some("/data"));
}

/// The task's log lines, once at least `n` are there.
async fn logs_of(w: &Worker, id: &str, n: usize) -> Vec<(LogSource, Vec<u8>)> {
    let mut seen = Vec::new();
    for _ in 0..100 {
        let logs = w.logs(id, LogOptions::default()).await.unwrap();
        seen = logs
            .map(|l| l.unwrap())
            .map(|l| (l.source, l.line))
            .collect()
            .await;
        if seen.len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

#[tokio::test]
async fn runs_a_container_as_swarm_does() {
    let node = "dtest-run";
    let state = tempfile::tempdir().unwrap();
    let d = driver(node).await;
    let w = Worker::new(d.clone(), state.path(), node).unwrap();
    let mut rx = Statuses::new(w.statuses());
    let mut t = full_task(node);
    w.assign(vec![t.clone()]).await.unwrap();
    let running = until_state(&mut rx, "t-run", TaskState::Running).await;
    let cs = running.container_status.unwrap();
    assert!(cs.pid > 0 && !cs.container_id.is_empty());
    assert_container_like_swarm(&d, node, &cs.container_id).await;

    let seen = logs_of(&w, "t-run", 2).await;
    assert!(
        seen.contains(&(LogSource::Stdout, b"hi\n".to_vec())),
        "{seen:?}"
    );
    assert!(
        seen.contains(&(LogSource::Stderr, b"err\n".to_vec())),
        "{seen:?}"
    );

    let t0 = Instant::now();
    t.desired_state = TaskState::Shutdown;
    w.assign(vec![t]).await.unwrap();
    let down = until_state(&mut rx, "t-run", TaskState::Shutdown).await;
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "SIGTERM through init, within the grace"
    );
    assert_eq!(down.container_status.unwrap().exit_code, 143);
    clean_up(&w).await;
    assert!(
        d.list().await.unwrap().is_empty(),
        "the container is removed"
    );
}

#[tokio::test]
async fn a_missing_image_rejects_the_task() {
    let node = "dtest-missing";
    let state = tempfile::tempdir().unwrap();
    let w = worker(node, state.path()).await;
    let mut rx = Statuses::new(w.statuses());
    let mut t = task("t-missing", node, "true");
    t.spec.container_spec.as_mut().unwrap().image = Some("shoal-no-such-image:1".into());
    w.assign(vec![t]).await.unwrap();
    let rejected = until(&mut rx, "t-missing", |s| s.state > TaskState::Running).await;
    assert_eq!(rejected.state, TaskState::Rejected);
    assert_eq!(rejected.err, "No such image: shoal-no-such-image:1");
    clean_up(&w).await;
}

#[tokio::test]
async fn a_failing_container_fails_with_its_code() {
    let node = "dtest-fail";
    let state = tempfile::tempdir().unwrap();
    let w = worker(node, state.path()).await;
    let mut rx = Statuses::new(w.statuses());
    w.assign(vec![task("t-fail", node, "exit 3")])
        .await
        .unwrap();
    let failed = until(&mut rx, "t-fail", |s| s.state > TaskState::Running).await;
    assert_eq!(
        (failed.state, failed.err.as_str()),
        (TaskState::Failed, "task: non-zero exit (3)")
    );
    assert_eq!(failed.container_status.unwrap().exit_code, 3);
    clean_up(&w).await;
}

#[tokio::test]
async fn the_image_health_check_gates_running() {
    let node = "dtest-health";
    let state = tempfile::tempdir().unwrap();
    let d = driver(node).await;
    let w = Worker::new(d.clone(), state.path(), node).unwrap();
    let mut rx = Statuses::new(w.statuses());
    let mut t = task("t-healthy", node, "sleep 1; touch /healthy; exec sleep 30");
    t.spec.container_spec.as_mut().unwrap().image = Some(HEALTHY_IMAGE.into());
    t.spec.container_spec.as_mut().unwrap().init = Some(true);
    w.assign(vec![t]).await.unwrap();
    until_state(&mut rx, "t-healthy", TaskState::Running).await;
    let c = d
        .client()
        .inspect_container("svc.1.t-healthy", None)
        .await
        .unwrap();
    let health = c.state.unwrap().health.unwrap().status.unwrap();
    assert_eq!(health.to_string(), "healthy", "RUNNING only once healthy");
    clean_up(&w).await;
}

#[tokio::test]
async fn an_unhealthy_container_fails() {
    let node = "dtest-unhealthy";
    let state = tempfile::tempdir().unwrap();
    let w = worker(node, state.path()).await;
    let mut rx = Statuses::new(w.statuses());
    let mut t = task("t-sick", node, "exec sleep 30");
    let spec = t.spec.container_spec.as_mut().unwrap();
    spec.init = Some(true);
    spec.stop_grace_period = Some(1_000_000_000);
    spec.health_check = Some(HealthConfig {
        test: Some(vec!["CMD".into(), "/bin/false".into()]),
        interval: Some(200_000_000),
        timeout: Some(1_000_000_000),
        retries: Some(1),
        ..Default::default()
    });
    w.assign(vec![t]).await.unwrap();
    let failed = until(&mut rx, "t-sick", |s| s.state > TaskState::Running).await;
    assert_eq!(failed.state, TaskState::Failed);
    assert_eq!(
        failed.err,
        "task: non-zero exit (143): dockerexec: unhealthy container"
    );
    clean_up(&w).await;
}

#[tokio::test]
async fn a_restarted_worker_adopts_containers_and_learns_exits() {
    let node = "dtest-adopt";
    let state = tempfile::tempdir().unwrap();
    let first = worker(node, state.path()).await;
    let mut rx = Statuses::new(first.statuses());
    first
        .assign(vec![
            task("t-a", node, "exec sleep 30"),
            task("t-b", node, "exec sleep 30"),
        ])
        .await
        .unwrap();
    let a = until_state(&mut rx, "t-a", TaskState::Running).await;
    until_state(&mut rx, "t-b", TaskState::Running).await;
    drop(rx);
    drop(first);
    let docker = Docker::connect_with_unix(SOCKET, 120, bollard::API_DEFAULT_VERSION)
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    docker.kill_container("svc.1.t-b", None).await.unwrap();

    let second = worker_keeping(node, state.path()).await;
    let mut rx = Statuses::new(second.statuses());
    let adopted = until(&mut rx, "t-a", |s| {
        s.state == TaskState::Running && s.timestamp > a.timestamp
    })
    .await;
    assert_eq!(
        adopted.container_status.unwrap().container_id,
        a.container_status.unwrap().container_id
    );
    let failed = until(&mut rx, "t-b", |s| s.state > TaskState::Running).await;
    assert_eq!(
        (failed.state, failed.err.as_str()),
        (TaskState::Failed, "task: non-zero exit (137)")
    );
    let containers = docker
        .list_containers(None::<bollard::query_parameters::ListContainersOptions>)
        .await
        .unwrap();
    let running_a = containers
        .iter()
        .filter(|c| c.names.iter().flatten().any(|n| n.contains("t-a")))
        .count();
    assert_eq!(running_a, 1, "no second container");
    clean_up(&second).await;
}

#[tokio::test]
async fn leftover_containers_are_removed() {
    let node = "dtest-leftover";
    let state = tempfile::tempdir().unwrap();
    let w = worker(node, state.path()).await;
    let stray = task("t-stray", node, "exec sleep 30");
    w.driver().prepare(&stray).await.unwrap();
    w.driver().start(&stray).await.unwrap();
    assert_eq!(w.driver().list().await.unwrap().len(), 1);
    w.assign(vec![]).await.unwrap();
    let d = w.driver().clone();
    let deadline = Instant::now() + PATIENCE;
    while !d.list().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "leftover not removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A worker for a restarted agent: unlike `worker`, keeps the node's containers.
async fn worker_keeping(node: &str, state: &std::path::Path) -> Worker {
    let d = Arc::new(DockerDriver::connect(SOCKET, node).await.unwrap());
    Worker::new(d, state, node).unwrap()
}

/// A start asked again of a container that already ran and exited (a driver that did not
/// create it: an earlier agent run, or a retried start) reports how it ended instead of
/// running it a second time.
#[tokio::test]
async fn a_start_of_an_exited_container_does_not_run_it_again() {
    let node = "n-restart-exited";
    let first = driver(node).await;
    let t = task("t-exited", node, "echo once; exit 3");
    first.prepare(&t).await.unwrap();
    first.start(&t).await.unwrap();
    let exit = first.wait(&t).await.unwrap();
    assert_eq!(exit.code, 3);

    // Another driver instance, as after an agent restart: the container exists (409 on create).
    let second = Arc::new(DockerDriver::connect(SOCKET, node).await.unwrap());
    second.prepare(&t).await.unwrap();
    let o = second.start(&t).await.unwrap();
    assert_eq!(o.phase, Phase::Exited, "{o:?}");
    assert_eq!(o.container.exit_code, 3);
    let docker = second.client();
    let logs: Vec<_> = docker
        .logs(
            &t.container_name(),
            Some(
                bollard::query_parameters::LogsOptionsBuilder::default()
                    .stdout(true)
                    .build(),
            ),
        )
        .collect()
        .await;
    assert_eq!(logs.len(), 1, "ran once: {logs:?}");
    second.remove(&t.id).await.unwrap();
}
