//! Golden tests: every compose file under `tests/golden/` (the broad fixture and the blocks
//! extracted from the user guides in `tests/golden/seeds/`) is loaded, converted for the
//! stack `app` and rendered as text, then compared with the `.expected` file next to it.
//!
//! Run with `SHOAL_BLESS=1` to (re)write the expected files instead of comparing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use shoal_compose::{ConfigFile, Stack, convert, load_files};

const NAMESPACE: &str = "app";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// The variables a fixture's interpolation sees (none for most).
fn variables(name: &str) -> BTreeMap<&'static str, &'static str> {
    match name {
        "broad" => BTreeMap::from([("PASSTHROUGH", "from-env")]),
        "seeds/000_743206ae41d72d0a-1" | "guide-000-simple-locker" => BTreeMap::from([
            ("WEB_TAG", "1.0.0"),
            ("API_TAG", "2.0.0"),
            ("IDENTITY_KEY", "identity-key"),
            ("AUTH_SECRET_KEY", "auth-secret-key"),
        ]),
        _ => BTreeMap::new(),
    }
}

/// Every `*.yml` fixture as `(name relative to golden/ without extension, path)`, sorted.
fn fixtures() -> Vec<(String, PathBuf)> {
    let root = golden_dir();
    let mut out = Vec::new();
    for sub in ["", "seeds"] {
        let dir = root.join(sub);
        for entry in std::fs::read_dir(&dir).expect("read fixture dir") {
            let path = entry.expect("dir entry").path();
            if path.extension().and_then(|e| e.to_str()) != Some("yml") {
                continue;
            }
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            let name = if sub.is_empty() {
                stem
            } else {
                format!("{sub}/{stem}")
            };
            out.push((name, path));
        }
    }
    out.sort();
    out
}

/// Rebuilds a JSON value with every object's keys in sorted order.
fn sorted(v: Value) -> Value {
    match v {
        Value::Object(m) => {
            let entries: BTreeMap<String, Value> =
                m.into_iter().map(|(k, v)| (k, sorted(v))).collect();
            Value::Object(entries.into_iter().collect::<Map<_, _>>())
        }
        Value::Array(a) => Value::Array(a.into_iter().map(sorted).collect()),
        other => other,
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serialize")
}

fn stack_json(stack: &Stack) -> Value {
    json!({
        "networks": stack.networks.iter().map(to_json).collect::<Vec<_>>(),
        "external_networks": stack.external_networks,
        "secrets": stack
            .secrets
            .iter()
            .map(|s| json!({"spec": to_json(&s.spec), "file": s.file}))
            .collect::<Vec<_>>(),
        "external_secrets": stack.external_secrets,
        "configs": stack
            .configs
            .iter()
            .map(|c| json!({"spec": to_json(&c.spec), "file": c.file}))
            .collect::<Vec<_>>(),
        "external_configs": stack.external_configs,
        "volumes": stack
            .volumes
            .iter()
            .map(|v| json!({"name": v.name, "external": v.external}))
            .collect::<Vec<_>>(),
        "services": stack
            .services
            .iter()
            .map(|(name, spec)| json!({"name": name, "spec": to_json(spec)}))
            .collect::<Vec<_>>(),
        "wait_healthy": stack.wait_healthy,
    })
}

fn render(name: &str, path: &Path) -> String {
    let dir = path.parent().unwrap();
    let dir_str = dir.display().to_string();
    let content = std::fs::read_to_string(path).expect("read fixture");
    let vars = variables(name);
    let lookup = |k: &str| vars.get(k).map(|v| v.to_string());
    let file = ConfigFile {
        filename: path.file_name().unwrap().to_str().unwrap().to_string(),
        content,
    };
    let mut out = String::new();
    let result = load_files(&[file], &dir_str, &lookup).and_then(|loaded| {
        out.push_str("== warnings\n");
        if loaded.warnings.is_empty() {
            out.push_str("(none)\n");
        }
        for w in &loaded.warnings {
            out.push_str(w);
            if !w.ends_with('\n') {
                out.push('\n');
            }
        }
        convert(NAMESPACE, &loaded.compose)
    });
    match result {
        Err(e) => {
            out.push_str("== error\n");
            out.push_str(&e.to_string());
            out.push('\n');
        }
        Ok(stack) => {
            out.push_str("== stack\n");
            let pretty = serde_json::to_string_pretty(&sorted(stack_json(&stack))).unwrap();
            out.push_str(&pretty);
            out.push('\n');
        }
    }
    // Absolute paths of the fixture directory would make the output machine-specific.
    out.replace(&dir_str, "<fixture-dir>")
}

#[test]
fn golden() {
    let bless = std::env::var("SHOAL_BLESS").is_ok_and(|v| v == "1");
    let fixtures = fixtures();
    assert!(
        fixtures.len() > 1,
        "no fixtures found in {:?}",
        golden_dir()
    );
    let mut failures = Vec::new();
    for (name, path) in &fixtures {
        let got = render(name, path);
        let expected_path = golden_dir().join(format!("{name}.expected"));
        if bless {
            std::fs::write(&expected_path, &got).expect("write expected file");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{name}: output differs from {}\n--- expected\n{want}\n--- got\n{got}",
                expected_path.display()
            )),
            Err(e) => failures.push(format!(
                "{name}: cannot read {} ({e}); run with SHOAL_BLESS=1",
                expected_path.display()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
