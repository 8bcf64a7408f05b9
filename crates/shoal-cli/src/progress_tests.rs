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

fn with_status(replicas: u64, state: &str, message: &str) -> Service {
    let mut s = web(replicas);
    s.update_status = Some(shoal_types::service::UpdateStatus {
        state: state.into(),
        message: message.into(),
        ..Default::default()
    });
    s
}

fn running(service: Service) -> Snapshot {
    snap(service, vec![task("a", 1, "running", "running", "")])
}

#[test]
fn a_paused_update_fails_with_docker_s_text() {
    let why = "update paused after 1 of 3 tasks (shoal.update.pause-after=1): \
               `service update --continue` resumes it, `service rollback` returns";
    let mut p = Progress::new("web");
    let (_, o) = p.step(Duration::ZERO, &running(with_status(1, "updating", "")));
    assert_eq!(o, Outcome::Continue);
    let (msgs, o) = p.step(
        Duration::from_millis(200),
        &running(with_status(1, "paused", why)),
    );
    assert!(msgs.is_empty(), "docker writes nothing more: {msgs:?}");
    assert_eq!(o, Outcome::Failed(format!("service update paused: {why}")));
}

#[test]
fn a_paused_rollback_fails_with_docker_s_text() {
    let mut p = Progress::new("web");
    let why = "rollback paused due to failure or early termination of task t1";
    let (msgs, _) = p.step(
        Duration::ZERO,
        &running(with_status(
            1,
            "rollback_started",
            "manually requested rollback",
        )),
    );
    assert_eq!(
        msgs[0],
        Msg::action("rollback", "manually requested rollback")
    );
    let (_, o) = p.step(
        Duration::from_millis(200),
        &running(with_status(1, "rollback_paused", why)),
    );
    assert_eq!(
        o,
        Outcome::Failed(format!("service rollback paused: {why}"))
    );
}

/// Polls `s` at `at` ms, its one task in `state`, rendered off a terminal.
fn poll(p: &mut Progress, r: &mut Renderer, at: u64, s: Service, state: &str) -> (String, Outcome) {
    plain(p, r, at, &snap(s, vec![task("a", 1, state, "running", "")]))
}

fn rollback_done() -> Service {
    with_status(1, "rollback_completed", "rollback completed")
}

#[test]
fn an_update_rolled_back_by_the_daemon_fails_after_docker_s_lines() {
    let why = "update rolled back due to failure or early termination of task t2";
    let mut p = Progress::new("web");
    let mut r = Renderer::new(false, 0);
    let updating = with_status(1, "updating", "update in progress");
    let (_, o) = poll(&mut p, &mut r, 0, updating, "starting");
    assert_eq!(o, Outcome::Continue);
    let rolling = with_status(1, "rollback_started", why);
    let (out, o) = poll(&mut p, &mut r, 200, rolling, "preparing");
    assert_eq!(o, Outcome::Continue);
    assert_eq!(
        out,
        format!("rollback: {why}\noverall progress: rolling back update: 0 out of 1 tasks\n")
    );
    let (_, o) = poll(&mut p, &mut r, 400, rollback_done(), "starting");
    assert_eq!(o, Outcome::Continue);
    let (out, o) = poll(&mut p, &mut r, 600, rollback_done(), "running");
    assert_eq!(o, Outcome::Continue, "the rollback is verified first");
    assert!(out.contains("Waiting 5 seconds"), "{out}");
    let (out, o) = poll(&mut p, &mut r, 5_600, rollback_done(), "running");
    assert_eq!(
        out,
        "verify: Service web converged\nrollback: rollback completed\n"
    );
    assert_eq!(o, Outcome::Failed(format!("service rolled back: {why}")));
}

#[test]
fn tasks_converged_back_before_the_rollback_is_marked_completed_fail_too() {
    let why = "update rolled back due to failure or early termination of task t2";
    let mut p = Progress::new("web");
    let mut r = Renderer::new(false, 0);
    poll(
        &mut p,
        &mut r,
        0,
        with_status(1, "updating", "update in progress"),
        "starting",
    );
    let rolling = || with_status(1, "rollback_started", why);
    poll(&mut p, &mut r, 200, rolling(), "running");
    let (out, o) = poll(&mut p, &mut r, 5_200, rolling(), "running");
    assert_eq!(out, "verify: Service web converged\n");
    assert_eq!(o, Outcome::Failed(format!("service rolled back: {why}")));
}

#[test]
fn an_update_seen_only_updating_then_rolled_back_fails_too() {
    let mut p = Progress::new("web");
    let mut r = Renderer::new(false, 0);
    let updating = with_status(1, "updating", "update in progress");
    poll(&mut p, &mut r, 0, updating, "starting");
    poll(&mut p, &mut r, 200, rollback_done(), "running");
    let (out, o) = poll(&mut p, &mut r, 5_200, rollback_done(), "running");
    assert_eq!(
        out,
        "verify: Service web converged\nrollback: rollback completed\n"
    );
    assert_eq!(
        o,
        Outcome::Failed("service rolled back: rollback completed".into())
    );
}

#[test]
fn a_manual_rollback_that_completes_succeeds() {
    for saw_update_first in [false, true] {
        let mut p = Progress::new("web");
        let mut r = Renderer::new(false, 0);
        let mut at = 0;
        if saw_update_first {
            let updating = with_status(1, "updating", "update in progress");
            poll(&mut p, &mut r, at, updating, "starting");
            at += 200;
        }
        let manual = with_status(1, "rollback_started", "manually requested rollback");
        let (out, o) = poll(&mut p, &mut r, at, manual, "preparing");
        assert_eq!(o, Outcome::Continue);
        assert!(
            out.starts_with("rollback: manually requested rollback\n"),
            "{out}"
        );
        poll(&mut p, &mut r, at + 200, rollback_done(), "running");
        let (out, o) = poll(&mut p, &mut r, at + 5_200, rollback_done(), "running");
        assert_eq!(
            (out.as_str(), o),
            (
                "verify: Service web converged\nrollback: rollback completed\n",
                Outcome::Done
            ),
            "saw the update first: {saw_update_first}"
        );
    }
}

#[test]
fn a_completed_update_succeeds() {
    let mut p = Progress::new("web");
    let mut r = Renderer::new(false, 0);
    let updating = with_status(1, "updating", "update in progress");
    poll(&mut p, &mut r, 0, updating, "running");
    let done = || with_status(1, "completed", "update completed");
    poll(&mut p, &mut r, 200, done(), "running");
    let (out, o) = poll(&mut p, &mut r, 5_000, done(), "running");
    assert_eq!(
        (out.as_str(), o),
        ("verify: Service web converged\n", Outcome::Done)
    );
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

/// `web` at `image` with `env` and, when `health`, a `CMD-SHELL` health check.
fn spec(image: &str, env: &[&str], health: bool) -> serde_json::Value {
    let mut cs = serde_json::json!({"Image": image, "Env": env});
    if health {
        cs["HealthCheck"] =
            serde_json::json!({"Test": ["CMD-SHELL", "true"], "Interval": 200_000_000});
    }
    serde_json::json!({"Name": "web", "Mode": {"Replicated": {"Replicas": 1}}, "TaskTemplate": {"ContainerSpec": cs}})
}

/// A service going from `previous` to `spec`, its update in `state`.
fn changing(previous: serde_json::Value, spec: serde_json::Value, state: &str) -> Service {
    service(serde_json::json!({
        "ID": "svc1", "Spec": spec, "PreviousSpec": previous,
        "UpdateStatus": {"State": state, "Message": "update in progress"}}))
}

#[test]
fn an_update_first_names_the_image_it_rolls_to_once() {
    let s = changing(
        spec("shoal-demo:1", &[], false),
        spec("shoal-demo:2", &[], false),
        "updating",
    );
    let mut p = Progress::new("web");
    let mut r = Renderer::new(false, 0);
    let (out, o) = poll(&mut p, &mut r, 0, s.clone(), "ready");
    assert_eq!(o, Outcome::Continue);
    assert_eq!(
        out,
        "update: shoal-demo:1 → shoal-demo:2\noverall progress: 0 out of 1 tasks\n1/1:  \n"
    );
    let (out, _) = poll(&mut p, &mut r, 200, s, "running");
    assert_eq!(
        out,
        "overall progress: 1 out of 1 tasks\nverify: Waiting 5 seconds to verify that tasks are stable...\n"
    );
}

#[test]
fn an_update_that_keeps_the_image_names_what_changes() {
    let s = changing(
        spec("shoal-demo:1", &["A=1"], false),
        spec("shoal-demo:1", &["A=2"], true),
        "updating",
    );
    let (msgs, _) = Progress::new("web").step(Duration::ZERO, &running(s));
    assert_eq!(msgs[0], Msg::status("update", "env, health check"));
    // With the image: it comes first, the rest after it; pinned digests are left out.
    let from = spec("shoal-demo:1@sha256:aaaa", &[], false);
    let mut to = spec("shoal-demo:2@sha256:bbbb", &[], false);
    to["TaskTemplate"]["Placement"] = serde_json::json!({"Constraints": ["node.role==manager"]});
    to["TaskTemplate"]["ForceUpdate"] = serde_json::json!(1);
    let (from, to): (ServiceSpec, ServiceSpec) = (
        serde_json::from_value(from).unwrap(),
        serde_json::from_value(to).unwrap(),
    );
    assert_eq!(
        what_changed(&from, &to).as_deref(),
        Some("shoal-demo:1 → shoal-demo:2 (and forced update, placement)")
    );
    // Only the digest: it is what changes.
    let a: ServiceSpec = serde_json::from_value(spec("d:1@sha256:aaaa", &[], false)).unwrap();
    let b: ServiceSpec = serde_json::from_value(spec("d:1@sha256:bbbb", &[], false)).unwrap();
    assert_eq!(
        what_changed(&a, &b).as_deref(),
        Some("d:1@sha256:aaaa → d:1@sha256:bbbb")
    );
    // Absent and empty are the same; replicas are not the task template.
    let mut c = spec("d:1", &[], false);
    c["TaskTemplate"]["ContainerSpec"]["Mounts"] = serde_json::json!([]);
    c["Mode"]["Replicated"]["Replicas"] = serde_json::json!(3);
    let c: ServiceSpec = serde_json::from_value(c).unwrap();
    let d: ServiceSpec = serde_json::from_value(spec("d:1", &[], false)).unwrap();
    assert_eq!(what_changed(&c, &d), None);
}

#[test]
fn a_rollback_names_the_image_it_returns_to_before_docker_s_line() {
    // The daemon swaps the specs: `PreviousSpec` is what is rolled back from.
    let s = changing(
        spec("shoal-demo:2", &[], false),
        spec("shoal-demo:1", &[], false),
        "rollback_started",
    );
    let mut s = s;
    s.update_status.as_mut().unwrap().message = MANUAL_ROLLBACK.into();
    let mut p = Progress::new("web");
    let mut r = Renderer::new(false, 0);
    let (out, _) = poll(&mut p, &mut r, 0, s, "ready");
    assert!(
        out.starts_with(
            "rollback: shoal-demo:2 → shoal-demo:1\nrollback: manually requested rollback\n\
             overall progress: rolling back update: 0 out of 1 tasks\n"
        ),
        "{out}"
    );
}

#[test]
fn no_change_line_without_an_update_under_way_or_a_previous_spec() {
    for state in ["completed", "paused", "rollback_completed"] {
        let s = changing(spec("a:1", &[], false), spec("a:2", &[], false), state);
        let (msgs, _) = Progress::new("web").step(Duration::ZERO, &running(s));
        assert!(
            msgs.iter()
                .all(|m| m.id != "update" && !m.text.contains('→')),
            "{state}: {msgs:?}"
        );
    }
    let mut s = changing(spec("a:1", &[], false), spec("a:2", &[], false), "updating");
    s.previous_spec = None;
    let (msgs, _) = Progress::new("web").step(Duration::ZERO, &running(s));
    assert_eq!(msgs[0].id, "overall progress");
    // A change line appears only on the first poll, never later.
    let mut p = Progress::new("web");
    p.step(Duration::ZERO, &running(web(1)));
    let s = changing(spec("a:1", &[], false), spec("a:2", &[], false), "updating");
    let (msgs, _) = p.step(Duration::from_millis(200), &running(s));
    assert!(msgs.iter().all(|m| m.id != "update"), "{msgs:?}");
}

#[test]
fn a_starting_task_with_a_health_check_says_it_waits_for_it() {
    let checked = service(serde_json::json!({"ID": "svc1", "Spec": spec("a:1", &[], true)}));
    let (msgs, _) = Progress::new("web").step(
        Duration::ZERO,
        &snap(checked, vec![task("a", 1, "starting", "running", "")]),
    );
    assert_eq!(
        msgs[2],
        Msg {
            bar: Some(8),
            ..Msg::action("1/1", "starting (health check)")
        }
    );
    let mut r = Renderer::new(true, 200);
    let line = r.render(&msgs[2]);
    assert!(
        line.contains(&format!(
            "1/1: starting (health check) [{}>{}] \r",
            "=".repeat(44),
            " ".repeat(6)
        )),
        "{line:?}"
    );
    // No check, or `NONE`: docker's padded state.
    let mut none = spec("a:1", &[], true);
    none["TaskTemplate"]["ContainerSpec"]["HealthCheck"]["Test"] = serde_json::json!(["NONE"]);
    for s in [
        web(1),
        service(serde_json::json!({"ID": "svc1", "Spec": none})),
    ] {
        let (msgs, _) = Progress::new("web").step(
            Duration::ZERO,
            &snap(s, vec![task("a", 1, "starting", "running", "")]),
        );
        assert_eq!(msgs[2].text, "starting ");
    }
    // Other states are docker's, check or not.
    let checked = service(serde_json::json!({"ID": "svc1", "Spec": spec("a:1", &[], true)}));
    let (msgs, _) = Progress::new("web").step(
        Duration::ZERO,
        &snap(checked, vec![task("a", 1, "preparing", "running", "")]),
    );
    assert_eq!(msgs[2].text, "preparing");
}

#[test]
fn a_re_run_job_counts_only_its_current_execution() {
    // Iteration 1 of a 1-completion job: the completed task of iteration 0 is history.
    let job = service(serde_json::json!({
        "ID": "svc1", "JobStatus": {"JobIteration": {"Index": 1}},
        "Spec": {"Name": "once", "Mode": {"ReplicatedJob": {"TotalCompletions": 1}},
        "TaskTemplate": {"ContainerSpec": {"Image": "busybox"}}}}));
    let iteration = |mut t: TaskView, i: u64| {
        t.job_iteration = Some(shoal_types::Version { index: i });
        t
    };
    let old = iteration(task("old", 0, "complete", "running", ""), 0);
    let new = iteration(task("new", 0, "running", "running", ""), 1);
    let mut p = Progress::new("once");
    let mut r = Renderer::new(false, 0);
    let (text, o) = plain(
        &mut p,
        &mut r,
        0,
        &snap(job.clone(), vec![old.clone(), new]),
    );
    assert_eq!(o, Outcome::Continue, "{text}");
    assert!(text.contains("0 out of 1 complete"), "{text}");
    let done = iteration(task("new", 0, "complete", "running", ""), 1);
    let (text, o) = plain(&mut p, &mut r, 100, &snap(job, vec![old, done]));
    assert_eq!(o, Outcome::Done, "{text}");
    assert!(text.contains("1 out of 1 complete"), "{text}");
}
