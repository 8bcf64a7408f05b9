//! The convergence display over canned API answers and a fake clock.

use super::*;

fn service(json: serde_json::Value) -> Service {
    serde_json::from_value(json).unwrap()
}

fn web(replicas: u64) -> Service {
    service(serde_json::json!({
        "ID": "svc1", "Spec": {"Name": "web", "Mode": {"Replicated": {"Replicas": replicas}},
        "TaskTemplate": {"ContainerSpec": {"Image": "nginx"}}}}))
}

fn task(id: &str, slot: u64, state: &str, desired: &str, err: &str) -> TaskView {
    serde_json::from_value(serde_json::json!({
        "ID": id, "Slot": slot, "NodeID": "node1", "DesiredState": desired,
        "Status": {"State": state, "Err": err, "Timestamp": format!("2026-01-01T00:00:0{slot}Z")}}))
    .unwrap()
}

fn snap(service: Service, tasks: Vec<TaskView>) -> Snapshot {
    Snapshot {
        service,
        tasks,
        active_nodes: ["node1".to_string()].into(),
    }
}

fn plain(p: &mut Progress, r: &mut Renderer, now: u64, s: &Snapshot) -> (String, Outcome) {
    let (msgs, outcome) = p.step(Duration::from_millis(now), s);
    (msgs.iter().map(|m| r.render(m)).collect(), outcome)
}

#[test]
fn replicated_service_converges_after_the_monitor_period() {
    let mut p = Progress::new("web");
    let mut r = Renderer::new(false, 0);
    let pending = snap(
        web(2),
        vec![
            task("a", 1, "pending", "running", ""),
            task("b", 2, "new", "running", ""),
        ],
    );
    let (out, o) = plain(&mut p, &mut r, 0, &pending);
    assert_eq!(o, Outcome::Continue);
    assert_eq!(out, "overall progress: 0 out of 2 tasks\n1/2:  \n2/2:  \n");
    let (out, _) = plain(&mut p, &mut r, 200, &pending);
    assert_eq!(
        out, "",
        "off a terminal, unchanged lines and bars are not repeated"
    );
    let running = snap(
        web(2),
        vec![
            task("a", 1, "running", "running", ""),
            task("b", 2, "running", "running", ""),
        ],
    );
    let (out, o) = plain(&mut p, &mut r, 400, &running);
    assert_eq!(o, Outcome::Continue);
    assert_eq!(
        out,
        "overall progress: 2 out of 2 tasks\nverify: Waiting 5 seconds to verify that tasks are stable...\n"
    );
    let (out, _) = plain(&mut p, &mut r, 2_600, &running);
    assert_eq!(
        out,
        "verify: Waiting 3 seconds to verify that tasks are stable...\n"
    );
    let (out, o) = plain(&mut p, &mut r, 5_400, &running);
    assert_eq!(
        (out.as_str(), o),
        ("verify: Service web converged\n", Outcome::Done)
    );
}

#[test]
fn a_failure_while_verifying_restarts_the_wait() {
    let mut p = Progress::new("web");
    let mut r = Renderer::new(false, 0);
    let running = snap(web(1), vec![task("a", 1, "running", "running", "")]);
    plain(&mut p, &mut r, 0, &running);
    let failed = snap(
        web(1),
        vec![
            task("a", 1, "failed", "shutdown", "task: non-zero exit (1)"),
            task("b", 1, "ready", "running", ""),
        ],
    );
    let (out, o) = plain(&mut p, &mut r, 1_000, &failed);
    assert_eq!(o, Outcome::Continue);
    assert_eq!(
        out,
        "overall progress: 0 out of 1 tasks\nverify: Detected task failure\n"
    );
}

#[test]
fn repeated_failures_and_pending_errors_end_the_wait_with_the_task_error() {
    let mut p = Progress::new("web");
    let err = "task: non-zero exit (1)";
    let s = snap(
        web(1),
        vec![
            task("a", 1, "failed", "shutdown", err),
            task("b", 1, "rejected", "shutdown", err),
            task("c", 1, "failed", "shutdown", err),
            task("d", 1, "pending", "running", ""),
        ],
    );
    let (_, o) = p.step(Duration::ZERO, &s);
    assert_eq!(o, Outcome::Failed(format!("1/1: {err}")));

    let mut p = Progress::new("web");
    let mut r = Renderer::new(false, 0);
    let why = "no suitable node (scheduling constraints not satisfied on 1 node)";
    let s = snap(web(1), vec![task("a", 1, "pending", "running", why)]);
    let (out, o) = plain(&mut p, &mut r, 0, &s);
    assert_eq!(o, Outcome::Continue);
    assert!(out.contains(&format!("1/1: {why}\n")), "{out}");
    let (_, o) = plain(&mut p, &mut r, 9_000, &s);
    assert_eq!(o, Outcome::Continue);
    let (_, o) = plain(&mut p, &mut r, 10_000, &s);
    assert_eq!(o, Outcome::Failed(format!("1/1: {why}")));
}

#[test]
fn update_states_pause_and_rollback() {
    let mut s = web(1);
    s.update_status = Some(shoal_types::service::UpdateStatus {
        state: "paused".into(),
        message: "update paused due to failure".into(),
        ..Default::default()
    });
    let (_, o) = Progress::new("web").step(Duration::ZERO, &snap(s.clone(), vec![]));
    assert_eq!(
        o,
        Outcome::Failed("service update paused: update paused due to failure".into())
    );
    s.update_status = Some(shoal_types::service::UpdateStatus {
        state: "rollback_started".into(),
        message: "manually requested rollback".into(),
        ..Default::default()
    });
    let (msgs, _) = Progress::new("web").step(Duration::ZERO, &snap(s, vec![]));
    assert_eq!(
        msgs[0],
        Msg::action("rollback", "manually requested rollback")
    );
    assert_eq!(msgs[1].text, "rolling back update: 0 out of 1 tasks");
}

#[test]
fn global_service_waits_for_tasks() {
    let g = service(serde_json::json!({"ID": "g", "Spec": {"Name": "g", "Mode": {"Global": {}}}}));
    let mut p = Progress::new("g");
    let (msgs, _) = p.step(Duration::ZERO, &snap(g.clone(), vec![]));
    assert_eq!(
        msgs,
        vec![Msg::action("overall progress", "waiting for new tasks")]
    );
    let (msgs, _) = p.step(
        Duration::ZERO,
        &snap(g, vec![task("a", 0, "running", "running", "")]),
    );
    assert_eq!(msgs[0].text, "0 out of 1 tasks");
    assert_eq!(msgs[1].id, "node1");
    assert_eq!(msgs[2].text, "1 out of 1 tasks");
}

#[test]
fn terminal_rendering_redraws_lines_with_bars() {
    let mut r = Renderer::new(true, 200);
    let overall = r.render(&Msg::action("overall progress", "0 out of 1 tasks"));
    assert_eq!(
        overall,
        "\n\x1b[1A\x1b[2K\roverall progress: 0 out of 1 tasks \r\x1b[1B"
    );
    let slot = Msg {
        bar: Some(9),
        ..Msg::action("1/1", format!("{:<9}", "running"))
    };
    let line = r.render(&slot);
    assert!(
        line.contains(&format!("1/1: running   [{}>] \r", "=".repeat(50))),
        "{line:?}"
    );
    // Redrawing the first line moves up two lines and back down.
    let again = r.render(&Msg::action("overall progress", "1 out of 1 tasks"));
    assert_eq!(
        again,
        "\x1b[2A\x1b[2K\roverall progress: 1 out of 1 tasks \r\x1b[2B"
    );
    assert_eq!(
        bar_text(3, 200),
        format!("[{}>{}] ", "=".repeat(16), " ".repeat(34))
    );
    assert_eq!(bar_text(9, 80), "", "narrow terminals get no bar");
    assert_eq!(r.finish(), "\n");
}

#[test]
fn errors_are_cut_like_docker() {
    let long = "x".repeat(80) + "\nmore";
    let cut = trunc_error(&long);
    assert_eq!(cut.chars().count(), 75);
    assert!(cut.ends_with('…'));
    assert_eq!(trunc_error("a\nb"), "a b");
}
