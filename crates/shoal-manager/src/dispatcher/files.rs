//! The secret and config files a node's tasks mount, attached (with their data) to the tasks
//! the dispatcher sends that node, and to nothing else: a node learns only the secrets its own
//! running tasks use, and only while they run.

use shoal_store::ReadTx;
use shoal_types::task::{FileKind, TaskFile};
use shoal_types::{Config, Secret, Task, TaskState};

/// `t` with its files, when it is meant to run.
pub(crate) fn attach(view: &ReadTx<'_>, mut t: Task) -> Task {
    t.files.clear();
    if t.desired_state > TaskState::Running {
        return t;
    }
    let Some(c) = t.spec.container_spec.as_ref() else {
        return t;
    };
    let mut files = Vec::new();
    for r in c.secrets.iter().flatten() {
        let Some(s) = r.secret_id.as_deref().and_then(|id| view.get::<Secret>(id)) else {
            continue;
        };
        let f = r.file.as_ref();
        files.push(file(
            FileKind::Secret,
            s.name(),
            f.and_then(|f| f.name.as_deref()),
            f.map(|f| (f.uid.clone(), f.gid.clone(), f.mode)),
            s.spec.data.clone(),
        ));
    }
    for r in c.configs.iter().flatten() {
        let Some(cf) = r.config_id.as_deref().and_then(|id| view.get::<Config>(id)) else {
            continue;
        };
        let f = r.file.as_ref();
        files.push(file(
            FileKind::Config,
            cf.name(),
            f.and_then(|f| f.name.as_deref()),
            f.map(|f| (f.uid.clone(), f.gid.clone(), f.mode)),
            cf.spec.data.clone(),
        ));
    }
    t.files = files;
    t
}

type Owner = (Option<String>, Option<String>, Option<u32>);

/// One file with Docker's defaults: target = name, uid and gid 0, mode 0444.
fn file(
    kind: FileKind,
    name: &str,
    target: Option<&str>,
    owner: Option<Owner>,
    data: Option<String>,
) -> TaskFile {
    let (uid, gid, mode) = owner.unwrap_or_default();
    let target = target.filter(|t| !t.is_empty()).unwrap_or(name);
    TaskFile {
        kind,
        name: name.to_string(),
        path: TaskFile::path_for(kind, target),
        uid: uid.filter(|u| !u.is_empty()).unwrap_or_else(|| "0".into()),
        gid: gid.filter(|g| !g.is_empty()).unwrap_or_else(|| "0".into()),
        mode: mode.unwrap_or(0o444),
        data: data.unwrap_or_default(),
    }
}
