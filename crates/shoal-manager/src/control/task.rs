//! `GET /tasks` and `GET /tasks/{id}`.

use std::collections::BTreeMap;

use shoal_store::ReadTx;
use shoal_types::{Error, Filters, Node, Service, Task, TaskState};

use super::lookup::resolve;
use crate::manager::Manager;

/// Filter keys `GET /tasks` accepts (moby's `newListTasksFilters`).
const TASK_FILTERS: &[&str] = &[
    "_up-to-date",
    "desired-state",
    "id",
    "label",
    "name",
    "node",
    "runtime",
    "service",
];

impl Manager {
    /// `GET /tasks` with filters. `service` and `node` values may be IDs, names or ID
    /// prefixes (resolved as moby does, with its "not found" errors).
    pub fn list_tasks(&self, filters: &Filters) -> Result<Vec<Task>, Error> {
        filters.validate(TASK_FILTERS)?;
        for s in filters.values("desired-state") {
            if !s.is_empty() && parse_state(s).is_none() {
                return Err(Error::invalid(format!(
                    "Invalid desired-state filter: '{s}'"
                )));
            }
        }
        self.store.view(|v| {
            let services = resolve_all::<Service>(v, filters.values("service"), |s| s.name())?;
            let nodes = resolve_all::<Node>(v, filters.values("node"), |n| n.display_name())?;
            let by_id: BTreeMap<String, Service> = v
                .list::<Service>()
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect();
            let up_to_date = filters.values("_up-to-date").next().is_some();
            Ok(v.list::<Task>()
                .into_iter()
                .filter(|t| {
                    let service = by_id.get(&t.service_id);
                    (services.is_empty() || services.contains(&t.service_id))
                        && (nodes.is_empty() || nodes.contains(&t.node_id))
                        && (!up_to_date || service.is_some_and(|s| is_up_to_date(s, t)))
                        && task_matches(t, service, filters)
                })
                .map(|t| t.to_api())
                .collect())
        })
    }

    /// `GET /tasks/{id}`: by ID, then by name (`<service>.<slot>.<id>`), then unique ID prefix.
    pub fn get_task(&self, input: &str) -> Result<Task, Error> {
        self.store.view(|v| {
            let not_found = || Error::not_found(format!("task {input} not found"));
            if input.is_empty() {
                return Err(not_found());
            }
            if let Some(t) = v.get::<Task>(input) {
                return Ok(t.to_api());
            }
            let services: BTreeMap<String, Service> = v
                .list::<Service>()
                .into_iter()
                .map(|s| (s.id.clone(), s))
                .collect();
            let mut found: Vec<Task> = v
                .list::<Task>()
                .into_iter()
                .filter(|t| task_name(t, services.get(&t.service_id)) == input)
                .collect();
            if found.is_empty() {
                found = v.list_prefix::<Task>(input);
            }
            match found.len() {
                0 => Err(not_found()),
                1 => Ok(found.remove(0).to_api()),
                n => Err(Error::invalid(format!(
                    "task {input} is ambiguous ({n} matches found)"
                ))),
            }
        })
    }
}

/// Resolves every reference to an ID, failing on the first unknown or ambiguous one.
fn resolve_all<'a, T: shoal_types::StoreObject>(
    view: &ReadTx<'_>,
    refs: impl Iterator<Item = &'a str>,
    name_of: impl Fn(&T) -> &str + Copy,
) -> Result<Vec<String>, Error> {
    refs.filter(|r| !r.is_empty())
        .map(|r| resolve::<T>(view, r, name_of).map(|o| o.id().to_string()))
        .collect()
}

/// A task is up to date when it was made from its service's current spec version (tasks
/// without a recorded version are compared by spec, as swarmkit's `IsTaskDirty` does).
pub(crate) fn is_up_to_date(service: &Service, task: &Task) -> bool {
    if task.spec_version != 0 {
        return task.spec_version == service.spec_version;
    }
    task.spec == service.task_spec()
}

/// swarmkit's `naming.Task`: `<service>.<slot>.<task id>`, or the node ID for global tasks.
fn task_name(t: &Task, service: Option<&Service>) -> String {
    let service_name = service.map_or(t.service_name.as_str(), |s| s.name());
    if t.slot > 0 {
        format!("{service_name}.{}.{}", t.slot, t.id)
    } else {
        format!("{service_name}.{}.{}", t.node_id, t.id)
    }
}

fn task_matches(t: &Task, service: Option<&Service>, f: &Filters) -> bool {
    // swarmkit matches the labels of the service the task belongs to.
    let labels: BTreeMap<String, String> = match service.and_then(|s| s.spec.labels.clone()) {
        Some(l) => l.into_iter().collect(),
        None => t.labels.clone(),
    };
    f.any("id", |v| t.id.starts_with(v))
        && f.any("name", |v| task_name(t, service).starts_with(v))
        && f.labels_match("label", &labels)
        && f.any("desired-state", |v| {
            parse_state(v).is_some_and(|s| s == t.desired_state)
        })
        && f.any("runtime", |v| v.is_empty() || v == "container")
}

fn parse_state(s: &str) -> Option<TaskState> {
    serde_json::from_value(serde_json::Value::String(s.to_ascii_lowercase())).ok()
}
