//! Convergence progress after `service create|update|scale`, as docker/cli's
//! `service/progress` shows it: `overall progress: N out of M tasks`, a bar per slot
//! (`1/3: running   [=====…>]`), then `verify: Waiting N seconds to verify that tasks are
//! stable...` and `verify: Service X converged` once every task has run for the monitor
//! period (5 s, or the service's `UpdateConfig.Monitor`).
//!
//! [`Progress::step`] is pure (state, snapshot and elapsed time in; messages out) so the rules
//! are tested over canned JSON; `service::wait_on_service` polls the API every 200 ms and renders the messages
//! with docker's `jsonmessage` rules: on a terminal lines are redrawn in place; elsewhere
//! progress bars are left out and each line is printed when its text changes (docker repeats
//! unchanged lines on every poll).
//!
//! The update's state decides the exit status, as docker's: a paused update fails with
//! `service update paused: <message>`, a paused rollback with `service rollback paused:
//! <message>`. Beyond docker, which waits forever, shoal gives up with the task's error when a
//! slot's task fails or is rejected [`FAILURE_LIMIT`] times, or stays pending with an error
//! (e.g. `no suitable node (…)`) for [`PENDING_LIMIT`]; and, where docker exits 0, an update
//! the daemon rolled back by itself (its failure action) fails with `service rolled back:
//! <why>` once the rollback converged, after docker's usual lines. A rollback the user asked
//! for (`service rollback`, `update --rollback`: the daemon's "manually requested rollback")
//! succeeds.
//!
//! Beyond docker, two hints that leave docker's lines as they are: when an update or rollback
//! is under way and the service has a `PreviousSpec`, a first line names what changes
//! (`update: shoal-demo:1 → shoal-demo:2`, or `update: env, health check` when the image
//! stays; `rollback: …` for a rollback), and a slot whose task is `starting` while the
//! service has a health check reads `starting (health check)`: it runs, and waits for its
//! check to pass before it counts as running.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;
use shoal_types::Service;
use shoal_types::service::ServiceSpec;

use crate::service_table::TaskView;

#[cfg(test)]
use crate::progress_render::bar_text;
pub use crate::progress_render::{Renderer, terminal_width};

/// Failed or rejected tasks in one slot before giving up.
pub const FAILURE_LIMIT: usize = 3;
/// How long a task may stay pending with an error before giving up.
pub const PENDING_LIMIT: Duration = Duration::from_secs(10);
/// Poll period (docker's).
pub const POLL: Duration = Duration::from_millis(200);
/// swarmkit's `UpdateStatus` message of a rollback the user asked for.
const MANUAL_ROLLBACK: &str = "manually requested rollback";

/// docker's `numberedStates`: progress position of each state; unknown states are 0.
fn numbered(state: &str) -> i64 {
    match state {
        "new" => 1,
        "allocated" => 2,
        "pending" => 3,
        "assigned" => 4,
        "accepted" => 5,
        "preparing" => 6,
        "ready" => 7,
        "starting" => 8,
        "running" => 9,
        "complete" => 10,
        "shutdown" => 11,
        "failed" => 12,
        "rejected" => 13,
        _ => 0,
    }
}

fn terminal(state: &str) -> bool {
    numbered(state) > 9
}

/// Width states are padded to (the longest non-terminal state, or `complete`).
const LONGEST_STATE: usize = 9;

/// One progress message, as docker's progress writer emits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    /// Line key (`overall progress`, `1/3`, `verify`); empty for plain messages.
    pub id: String,
    pub text: String,
    /// Position out of 9 for a bar (`Some` only for per-task state lines).
    pub bar: Option<i64>,
    /// Progress lines are redrawn in place; plain status messages are not.
    pub progress: bool,
}

impl Msg {
    fn action(id: &str, text: impl Into<String>) -> Msg {
        Msg {
            id: id.into(),
            text: text.into(),
            bar: None,
            progress: true,
        }
    }
    fn status(id: &str, text: impl Into<String>) -> Msg {
        Msg {
            progress: false,
            ..Msg::action(id, text)
        }
    }
}

/// What a step decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Continue,
    /// Converged (or the update finished): success.
    Done,
    /// Will not converge; the error to exit with.
    Failed(String),
}

/// What one poll saw.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub service: Service,
    /// Up-to-date tasks of the service.
    pub tasks: Vec<TaskView>,
    /// Nodes not down.
    pub active_nodes: HashSet<String>,
}

/// The convergence watcher's state.
#[derive(Debug, Default)]
pub struct Progress {
    /// The service as the user named it (`verify: Service <this> converged`).
    reference: String,
    initialized: bool,
    /// The first step ran (the line naming what changes is decided on it).
    announced: bool,
    done: bool,
    /// Actual slot → contiguous display slot.
    slot_map: BTreeMap<String, usize>,
    converged: bool,
    converged_at: Option<Duration>,
    rollback: bool,
    /// Saw the update run (`updating`) since the last manually requested rollback.
    saw_update: bool,
    /// The daemon rolled back an update by itself: why (its `rollback_started` message).
    auto_rollback: Option<String>,
    /// `auto_rollback` reached `rollback_completed`: the error to end with once converged.
    rolled_back: Option<String>,
    final_message: Option<Msg>,
    /// Task ID → when it was first seen pending with an error.
    pending_errors: HashMap<String, Duration>,
}

impl Progress {
    pub fn new(reference: &str) -> Progress {
        Progress {
            reference: reference.into(),
            ..Default::default()
        }
    }

    /// One poll's worth of docker's `ServiceProgress` loop; `now` is the time since start.
    pub fn step(&mut self, now: Duration, snap: &Snapshot) -> (Vec<Msg>, Outcome) {
        let mut out = Vec::new();
        let svc = &snap.service;
        if !self.announced {
            self.announced = true;
            out.extend(change_line(svc));
        }
        let monitor = svc
            .spec
            .update_config
            .as_ref()
            .and_then(|u| u.monitor)
            .filter(|m| *m > 0)
            .map_or(Duration::from_secs(5), |m| Duration::from_nanos(m as u64));
        if let Some(u) = &svc.update_status {
            match u.state.as_str() {
                "updating" => {
                    self.rollback = false;
                    self.saw_update = true;
                }
                "completed" if !self.converged => return (out, Outcome::Done),
                "paused" => {
                    return (
                        out,
                        Outcome::Failed(format!("service update paused: {}", u.message)),
                    );
                }
                "rollback_started" => {
                    if !self.rollback && !u.message.is_empty() {
                        out.push(Msg::action("rollback", u.message.clone()));
                    }
                    self.rollback = true;
                    if u.message == MANUAL_ROLLBACK {
                        self.saw_update = false;
                        self.auto_rollback = None;
                    } else {
                        self.auto_rollback = Some(u.message.clone());
                    }
                }
                "rollback_paused" => {
                    let text = format!("service rollback paused: {}", u.message);
                    return (out, Outcome::Failed(text));
                }
                "rollback_completed" => {
                    if !self.converged {
                        self.final_message = Some(Msg::status("rollback", u.message.clone()));
                    }
                    self.rollback = true;
                    if self.rolled_back.is_none()
                        && (self.saw_update || self.auto_rollback.is_some())
                    {
                        let why = self.auto_rollback.take().unwrap_or(u.message.clone());
                        self.rolled_back = Some(why);
                    }
                }
                _ => {}
            }
        }
        if let Some(at) = self.converged_at
            && self.converged
            && now.saturating_sub(at) >= monitor
        {
            let text = format!("Service {} converged", self.reference);
            out.push(Msg::action("verify", text));
            out.extend(self.final_message.take());
            // The tasks may converge on the old spec before the daemon marks the rollback
            // completed: an automatic rollback seen under way is enough.
            if let Some(why) = self.rolled_back.take().or(self.auto_rollback.take()) {
                return (out, Outcome::Failed(format!("service rolled back: {why}")));
            }
            return (out, Outcome::Done);
        }
        let mode = svc.spec.mode.clone().unwrap_or_default();
        let result = if let Some(r) = &mode.replicated {
            self.update_slots(snap, r.replicas.unwrap_or(1).max(0) as u64, &mut out)
        } else if mode.global.is_some() {
            self.update_global(snap, &mut out)
        } else if mode.replicated_job.is_some() || mode.global_job.is_some() {
            return self.update_job(snap, out);
        } else {
            Err("unrecognized service mode".to_string())
        };
        let converged = match result {
            Ok(c) => c,
            Err(e) => return (out, Outcome::Failed(e)),
        };
        if let Some(e) = self.give_up(now, snap) {
            return (out, Outcome::Failed(e));
        }
        self.converged = converged;
        if converged {
            let at = *self.converged_at.get_or_insert(now);
            let waited = now.saturating_sub(at);
            if waited <= monitor {
                // docker: `wait/time.Second + 1`, where some time always passed since `convergedAt`.
                let secs = (monitor - waited).as_nanos().saturating_sub(1) / 1_000_000_000 + 1;
                out.push(Msg::action(
                    "verify",
                    format!("Waiting {secs} seconds to verify that tasks are stable..."),
                ));
            }
        } else {
            if self.converged_at.is_some() {
                out.push(Msg::action("verify", "Detected task failure"));
            }
            self.converged_at = None;
        }
        (out, Outcome::Continue)
    }

    /// The Ctrl-C message when not converged yet.
    pub fn interrupted(&self) -> Vec<Msg> {
        if self.converged {
            return Vec::new();
        }
        vec![
            Msg::status("", "Operation continuing in background."),
            Msg::status(
                "",
                format!(
                    "Use `shoal service ps {}` to check progress.",
                    self.reference
                ),
            ),
        ]
    }

    fn overall(&self, running: u64, total: u64) -> Msg {
        let text = if self.rollback {
            format!("rolling back update: {running} out of {total} tasks")
        } else {
            format!("{running} out of {total} tasks")
        };
        Msg::action("overall progress", text)
    }

    /// docker's `replicatedProgressUpdater.update`.
    fn update_slots(
        &mut self,
        snap: &Snapshot,
        replicas: u64,
        out: &mut Vec<Msg>,
    ) -> Result<bool, String> {
        if !self.initialized {
            out.push(self.overall(0, replicas));
            if replicas <= 20 {
                (1..=replicas).for_each(|i| out.push(Msg::action(&format!("{i}/{replicas}"), " ")));
            }
            self.initialized = true;
        }
        let health = has_health_check(&snap.service.spec);
        let by_slot = pick(&snap.tasks, |t| {
            let active = t.node_id.is_empty() || snap.active_nodes.contains(&t.node_id);
            active.then(|| format!("{:020}", t.slot))
        });
        if self.done && by_slot.values().any(|t| t.status.state != "running") {
            self.done = false;
        }
        let mut running = 0;
        for (slot, t) in &by_slot {
            let next = self.slot_map.len() + 1;
            let mapped = *self.slot_map.entry(slot.clone()).or_insert(next);
            if !terminal(&t.desired_state) && t.status.state == "running" {
                running += 1;
            }
            if !self.done && replicas <= 20 && mapped as u64 <= replicas {
                out.extend(task_line(&format!("{mapped}/{replicas}"), t, health));
            }
        }
        if !self.done {
            out.push(self.overall(running, replicas));
            self.done = running == replicas;
        }
        Ok(running == replicas)
    }

    /// docker's `globalProgressUpdater.update`.
    fn update_global(&mut self, snap: &Snapshot, out: &mut Vec<Msg>) -> Result<bool, String> {
        let health = has_health_check(&snap.service.spec);
        let by_node = pick(&snap.tasks, |t| Some(t.node_id.clone()));
        let count = by_node.len() as u64;
        if !self.initialized {
            if count == 0 {
                out.push(Msg::action("overall progress", "waiting for new tasks"));
                return Ok(false);
            }
            out.push(self.overall(0, count));
            self.initialized = true;
        }
        if self.done && by_node.values().any(|t| t.status.state != "running") {
            self.done = false;
        }
        let mut running = 0;
        for (node, t) in &by_node {
            if !snap.active_nodes.contains(node) {
                continue;
            }
            if !terminal(&t.desired_state) && t.status.state == "running" {
                running += 1;
            }
            if !self.done && count <= 20 {
                out.extend(task_line(
                    crate::service_table::truncate_id(node),
                    t,
                    health,
                ));
            }
        }
        if !self.done {
            out.push(self.overall(running, count));
            self.done = running == count;
        }
        Ok(running == count)
    }

    /// Jobs: done once the wanted number of tasks completed (no verification period).
    fn update_job(&mut self, snap: &Snapshot, mut out: Vec<Msg>) -> (Vec<Msg>, Outcome) {
        let mode = snap.service.spec.mode.clone().unwrap_or_default();
        // Only the current execution counts: an update re-runs the job (swarmkit's
        // JobIteration), and the earlier run's completed tasks stay as history.
        let iteration = snap.service.job_iteration();
        let current: Vec<&TaskView> = snap
            .tasks
            .iter()
            .filter(|t| t.job_iteration.map_or(0, |v| v.index) == iteration)
            .collect();
        let completed = current
            .iter()
            .filter(|t| t.status.state == "complete")
            .count() as u64;
        let total = match mode.replicated_job {
            Some(j) => j.total_completions.unwrap_or(1).max(0) as u64,
            None => current.len() as u64,
        };
        out.push(Msg::action(
            "job progress",
            format!("{completed} out of {total} complete"),
        ));
        if total > 0 && completed >= total {
            out.push(Msg::status("", "job complete"));
            return (out, Outcome::Done);
        }
        (out, Outcome::Continue)
    }

    /// shoal's addition: repeated failures in a slot, or a long pending error, end the wait.
    fn give_up(&mut self, now: Duration, snap: &Snapshot) -> Option<String> {
        let global = snap
            .service
            .spec
            .mode
            .as_ref()
            .is_some_and(|m| m.global.is_some());
        let label = |t: &TaskView| {
            if global {
                crate::service_table::truncate_id(&t.node_id).to_string()
            } else {
                let r = snap
                    .service
                    .spec
                    .mode
                    .as_ref()
                    .and_then(|m| m.replicated.as_ref());
                let replicas = r.and_then(|r| r.replicas).unwrap_or(1);
                format!("{}/{replicas}", t.slot)
            }
        };
        let mut failures: BTreeMap<String, Vec<&TaskView>> = BTreeMap::new();
        for t in &snap.tasks {
            if matches!(t.status.state.as_str(), "failed" | "rejected") {
                failures.entry(label(t)).or_default().push(t);
            }
        }
        for (slot, failed) in failures {
            if failed.len() >= FAILURE_LIMIT {
                let last = failed
                    .iter()
                    .max_by_key(|t| &t.status.timestamp)
                    .expect("non-empty");
                return Some(format!("{slot}: {}", task_error(last)));
            }
        }
        let mut seen = HashSet::new();
        for t in &snap.tasks {
            if numbered(&t.status.state) <= 3 && !t.status.err.is_empty() {
                seen.insert(t.id.clone());
                let since = *self.pending_errors.entry(t.id.clone()).or_insert(now);
                if now.saturating_sub(since) >= PENDING_LIMIT {
                    return Some(format!("{}: {}", label(t), t.status.err));
                }
            }
        }
        self.pending_errors.retain(|id, _| seen.contains(id));
        None
    }
}

fn task_error(t: &TaskView) -> &str {
    if t.status.err.is_empty() {
        &t.status.message
    } else {
        &t.status.err
    }
}

/// docker's `tasksBySlot` / `tasksByNode`: per key, the task with the lowest desired state
/// (ties: the lowest observed state); unknown states are skipped.
fn pick(
    tasks: &[TaskView],
    key: impl Fn(&TaskView) -> Option<String>,
) -> BTreeMap<String, TaskView> {
    let mut by: BTreeMap<String, TaskView> = BTreeMap::new();
    for t in tasks {
        if numbered(&t.desired_state) == 0 || numbered(&t.status.state) == 0 {
            continue;
        }
        let Some(k) = key(t) else { continue };
        if let Some(e) = by.get(&k) {
            let (ed, td) = (numbered(&e.desired_state), numbered(&t.desired_state));
            if ed < td || (ed == td && numbered(&e.status.state) <= numbered(&t.status.state)) {
                continue;
            }
        }
        by.insert(k, t.clone());
    }
    by
}

/// A slot's line: its error (cut to 75 characters), or its state with a bar; beyond docker,
/// `starting (health check)` when the service's tasks wait for a health check to pass.
fn task_line(id: &str, t: &TaskView, health: bool) -> Option<Msg> {
    if !t.status.err.is_empty() {
        return Some(Msg::action(id, trunc_error(&t.status.err)));
    }
    if terminal(&t.desired_state) || terminal(&t.status.state) {
        return None;
    }
    let state = match t.status.state.as_str() {
        "starting" if health => "starting (health check)",
        s => s,
    };
    Some(Msg {
        bar: Some(numbered(&t.status.state)),
        ..Msg::action(id, format!("{state:<LONGEST_STATE$}"))
    })
}

/// Whether the spec's tasks have a health check of their own: a test other than `NONE` (an
/// empty test inherits the image's, which the spec does not tell).
pub(crate) fn has_health_check(spec: &ServiceSpec) -> bool {
    let test = spec
        .task_template
        .as_ref()
        .and_then(|t| t.container_spec.as_ref())
        .and_then(|c| c.health_check.as_ref())
        .and_then(|h| h.test.as_deref())
        .unwrap_or_default();
    test.first().is_some_and(|kind| kind != "NONE")
}

/// The line naming what an update or rollback under way changes, from the `PreviousSpec` to
/// the `Spec` (a rollback swaps them, so it reads from the spec left to the one returned to).
fn change_line(svc: &Service) -> Option<Msg> {
    let previous = svc.previous_spec.as_ref()?;
    let id = match svc.update_status.as_ref()?.state.as_str() {
        "updating" => "update",
        "rollback_started" => "rollback",
        _ => return None,
    };
    Some(Msg::status(id, what_changed(previous, &svc.spec)?))
}

/// `old → new` when the image changes (with the other changes after it), else the names of
/// what changes in the task template and endpoint; `None` when nothing there does.
pub(crate) fn what_changed(from: &ServiceSpec, to: &ServiceSpec) -> Option<String> {
    let image = |s: &ServiceSpec| {
        s.task_template
            .as_ref()
            .and_then(|t| t.container_spec.as_ref())
            .and_then(|c| c.image.clone())
            .unwrap_or_default()
    };
    let (mut old, mut new) = (image(from), image(to));
    let json = |s: &ServiceSpec| {
        let mut v = serde_json::to_value(&s.task_template).unwrap_or_default();
        prune(&mut v);
        v
    };
    let mut names = template_changes(&json(from), &json(to));
    let endpoint = |s: &ServiceSpec| {
        let mut v = serde_json::to_value(&s.endpoint_spec).unwrap_or_default();
        prune(&mut v);
        v
    };
    if endpoint(from) != endpoint(to) {
        names.push("endpoint".into());
    }
    if old == new {
        return (!names.is_empty()).then(|| names.join(", "));
    }
    // Digests pinned by a registry lookup are noise unless they are all that changes.
    let strip = |i: &str| i.split('@').next().unwrap_or_default().to_string();
    if strip(&old) != strip(&new) {
        (old, new) = (strip(&old), strip(&new));
    }
    let none = |i: String| if i.is_empty() { "(no image)".into() } else { i };
    let mut line = format!("{} → {}", none(old), none(new));
    if !names.is_empty() {
        line += &format!(" (and {})", names.join(", "));
    }
    Some(line)
}

/// Drops nulls and empty arrays, objects and strings, so a field left out and one sent empty
/// compare equal.
fn prune(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.values_mut().for_each(prune);
            m.retain(|_, v| !is_empty(v));
        }
        Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// The names of the task template's fields (the container spec's one by one, but its image)
/// that differ between two pruned templates.
fn template_changes(from: &Value, to: &Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut add = |name: String| {
        if !names.contains(&name) {
            names.push(name);
        }
    };
    let field = |v: &Value, k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    let (fc, tc) = (field(from, "ContainerSpec"), field(to, "ContainerSpec"));
    for k in keys(&fc, &tc) {
        if k != "Image" && field(&fc, &k) != field(&tc, &k) {
            add(field_name(&k));
        }
    }
    for k in keys(from, to) {
        if k != "ContainerSpec" && field(from, &k) != field(to, &k) {
            add(field_name(&k));
        }
    }
    names
}

/// The keys of two JSON objects, sorted, once each.
fn keys(a: &Value, b: &Value) -> Vec<String> {
    let mut all: Vec<String> = [a, b]
        .iter()
        .filter_map(|v| v.as_object())
        .flat_map(|m| m.keys().cloned())
        .collect();
    all.sort();
    all.dedup();
    all
}

/// A short human name for a task template or container spec field.
fn field_name(key: &str) -> String {
    let fixed = match key {
        "HealthCheck" => "health check",
        "Labels" => "container labels",
        "Dir" => "workdir",
        "TTY" => "tty",
        "DNSConfig" => "dns",
        "CapabilityAdd" | "CapabilityDrop" => "capabilities",
        "OpenStdin" => "stdin",
        "ForceUpdate" => "forced update",
        "RestartPolicy" => "restart policy",
        "LogDriver" => "log driver",
        "PluginSpec" => "plugin",
        _ => "",
    };
    if !fixed.is_empty() {
        return fixed.into();
    }
    // `StopGracePeriod` → `stop grace period`.
    let mut name = String::new();
    for (i, ch) in key.chars().enumerate() {
        if ch.is_uppercase() && i > 0 {
            name.push(' ');
        }
        name.extend(ch.to_lowercase());
    }
    name
}

/// docker's `truncError`: newlines become spaces; at most 75 bytes (74 + `…`).
fn trunc_error(err: &str) -> String {
    let e = err.replace('\n', " ");
    if e.len() <= 75 {
        return e;
    }
    let mut cut = 74;
    while !e.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…", &e[..cut])
}

#[cfg(test)]
#[path = "progress_tests.rs"]
mod tests;
