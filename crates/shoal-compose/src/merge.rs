//! Merging several normalised files (`-c a.yml -c b.yml`) as docker/cli's `merge.go` does:
//! per service, maps merge recursively and later scalars win; `command`/`entrypoint` are
//! replaced; `ports` are de-duplicated and sorted by published port; `secrets`/`configs`
//! are keyed by source and `volumes` by target (later wins, sorted by key); a network
//! attachment's `aliases` are replaced; other lists are appended. Top-level networks,
//! volumes, secrets and configs are replaced whole, by name.

use serde_json::{Map, Value};

/// Merges `over` into `base` (both normalised top-level objects).
pub fn merge_files(base: &mut Map<String, Value>, over: Map<String, Value>) {
    for (key, value) in over {
        match (key.as_str(), base.get_mut(&key)) {
            ("services", Some(Value::Object(b))) => {
                if let Value::Object(o) = value {
                    for (name, svc) in o {
                        match b.get_mut(&name) {
                            Some(existing) => merge_service(existing, svc),
                            None => {
                                b.insert(name, svc);
                            }
                        }
                    }
                }
            }
            (_, Some(Value::Object(b))) if value.is_object() => {
                if let Value::Object(o) = value {
                    b.extend(o);
                }
            }
            _ => {
                base.insert(key, value);
            }
        }
    }
}

fn merge_service(base: &mut Value, over: Value) {
    let (Value::Object(b), Value::Object(o)) = (base, over) else {
        return;
    };
    for (key, value) in o {
        let Some(existing) = b.get_mut(&key) else {
            b.insert(key, value);
            continue;
        };
        match key.as_str() {
            "command" | "entrypoint" => *existing = value,
            "ports" => merge_keyed(
                existing,
                value,
                |p| p.to_string(),
                |p| p["published"].as_u64(),
            ),
            "secrets" | "configs" => merge_keyed(
                existing,
                value,
                |s| s["source"].to_string(),
                |s| s["source"].as_str().map(str::to_string),
            ),
            "volumes" => merge_keyed(
                existing,
                value,
                |v| v["target"].to_string(),
                |v| v["target"].as_str().map(str::to_string),
            ),
            "networks" => merge_networks(existing, value),
            _ => merge_value(existing, value),
        }
    }
}

fn merge_value(base: &mut Value, over: Value) {
    match (base, over) {
        (_, Value::Null) => {}
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(e) => merge_value(e, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) => b.extend(o),
        (b, o) => *b = o,
    }
}

fn merge_keyed<K: Ord>(
    base: &mut Value,
    over: Value,
    key: impl Fn(&Value) -> String,
    sort: impl Fn(&Value) -> K,
) {
    let mut items: Vec<Value> = base.as_array().cloned().unwrap_or_default();
    for v in over.as_array().cloned().unwrap_or_default() {
        let k = key(&v);
        items.retain(|e| key(e) != k);
        items.push(v);
    }
    items.sort_by_key(|v| sort(v));
    *base = Value::Array(items);
}

fn merge_networks(base: &mut Value, over: Value) {
    let (Value::Object(b), Value::Object(o)) = (base, over) else {
        return;
    };
    for (name, net) in o {
        match (b.get_mut(&name), net) {
            (Some(Value::Object(e)), Value::Object(n)) => {
                for (k, v) in n {
                    e.insert(k, v);
                }
            }
            (Some(_), Value::Null) => {}
            (_, n) => {
                b.insert(name, n);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merges_like_docker() {
        let mut base = json!({"version": "3.8", "services": {"web": {
            "image": "a:1", "command": ["x", "y"], "environment": {"A": "1", "B": "2"},
            "ports": [{"target": 80, "published": 8080}], "dns": ["1.1.1.1"],
            "volumes": [{"type": "volume", "target": "/d", "source": "v1"}],
            "secrets": [{"source": "s1"}],
            "networks": {"front": {"aliases": ["a"]}},
            "deploy": {"replicas": 2, "labels": {"l": "1"}}
        }, "db": {"image": "pg"}}, "networks": {"front": {"driver": "overlay"}}})
        .as_object()
        .cloned()
        .unwrap();
        let over = json!({"services": {"web": {
            "image": "a:2", "command": ["z"], "environment": {"B": "3"},
            "ports": [{"target": 80, "published": 8080}, {"target": 443, "published": 443}],
            "dns": ["8.8.8.8"],
            "volumes": [{"type": "bind", "target": "/d", "source": "/host"}],
            "secrets": [{"source": "s1", "target": "t"}, {"source": "s0"}],
            "networks": {"front": {"aliases": ["b"]}},
            "deploy": {"replicas": 5}
        }}, "networks": {"front": {"driver": "bridge"}}})
        .as_object()
        .cloned()
        .unwrap();
        merge_files(&mut base, over);
        let web = &base["services"]["web"];
        assert_eq!(web["image"], "a:2");
        assert_eq!(web["command"], json!(["z"]));
        assert_eq!(web["environment"], json!({"A": "1", "B": "3"}));
        assert_eq!(
            web["ports"],
            json!([{"target": 443, "published": 443}, {"target": 80, "published": 8080}])
        );
        assert_eq!(web["dns"], json!(["1.1.1.1", "8.8.8.8"]));
        assert_eq!(
            web["volumes"],
            json!([{"type": "bind", "target": "/d", "source": "/host"}])
        );
        assert_eq!(
            web["secrets"],
            json!([{"source": "s0"}, {"source": "s1", "target": "t"}])
        );
        assert_eq!(web["networks"], json!({"front": {"aliases": ["b"]}}));
        assert_eq!(web["deploy"], json!({"replicas": 5, "labels": {"l": "1"}}));
        assert_eq!(base["services"]["db"]["image"], "pg");
        assert_eq!(base["networks"]["front"], json!({"driver": "bridge"}));
    }
}
