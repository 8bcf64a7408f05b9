//! `/services/create`, `/services`, `/services/{id}`, `/services/{id}/update`. Registry auth
//! headers (`X-Registry-Auth`) and `registryAuthFrom` are accepted and ignored: shoal pulls
//! nothing through the manager.

use axum::extract::{Path, Query as QueryParams};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use shoal_types::Error;
use shoal_types::service::ServiceSpec;

use super::State;
use crate::backend::Backend;
use crate::error::{ApiError, json_response};
use crate::extract::{JsonBody, Query, bool_value, filters_param, version_param};

/// `201 {"ID": …, "Warnings": null}`: moby's `ServiceCreateResponse` (its `Warnings` has no
/// `omitempty`).
pub async fn create<B: Backend>(
    state: State<B>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let id = state.service_create(spec_from_json(body)?).await?;
    Ok(json_response(
        StatusCode::CREATED,
        &serde_json::json!({ "ID": id, "Warnings": null }),
    ))
}

pub async fn list<B: Backend>(
    state: State<B>,
    QueryParams(q): QueryParams<Query>,
) -> Result<Response, ApiError> {
    let services = state.service_list(filters_param(&q)?, bool_value(&q, "status"))?;
    Ok(json_response(StatusCode::OK, &services))
}

pub async fn inspect<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
) -> Result<Response, ApiError> {
    let service = state.service_inspect(&id, bool_value(&q, "insertDefaults"))?;
    Ok(json_response(StatusCode::OK, &service))
}

/// `200 {}`: moby's `ServiceUpdateResponse` omits empty `Warnings`.
pub async fn update<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
    QueryParams(q): QueryParams<Query>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let version = version_param(&q, "service")?;
    let rollback = match q.get("rollback").map(String::as_str) {
        None | Some("") | Some("none") => false,
        Some("previous") => true,
        Some(other) => {
            return Err(Error::invalid(format!("unrecognized rollback option {other}")).into());
        }
    };
    let spec = spec_from_json(body)?;
    state.service_update(&id, version, spec, rollback).await?;
    Ok(json_response(StatusCode::OK, &serde_json::json!({})))
}

pub async fn remove<B: Backend>(
    state: State<B>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.service_remove(&id).await?;
    Ok(StatusCode::OK)
}

/// Reads a `ServiceSpec` body the way moby's conversion does: enum values it does not know are
/// refused with its texts (or, for port protocol and publish mode, read as the default, as
/// moby's lookup tables do), before the model's own parsing.
pub(crate) fn spec_from_json(mut v: Value) -> Result<ServiceSpec, Error> {
    let check = |v: &Value, allowed: &[&str], text: &dyn Fn(&str) -> String| match v {
        Value::String(s) if !allowed.contains(&s.as_str()) => Err(Error::invalid(text(s))),
        _ => Ok(()),
    };
    check(
        &v["TaskTemplate"]["RestartPolicy"]["Condition"],
        &["", "none", "on-failure", "any"],
        &|s| format!("invalid RestartCondition: \"{s}\""),
    )?;
    check(&v["EndpointSpec"]["Mode"], &["", "vip", "dnsrr"], &|s| {
        format!("invalid resolution mode: \"{s}\"")
    })?;
    for cfg in ["UpdateConfig", "RollbackConfig"] {
        let actions: &[&str] = if cfg == "UpdateConfig" {
            &["", "pause", "continue", "rollback"]
        } else {
            &["", "pause", "continue"]
        };
        check(&v[cfg]["FailureAction"], actions, &|s| {
            format!("unrecognized update failure action {s}")
        })?;
        check(&v[cfg]["Order"], &["", "stop-first", "start-first"], &|s| {
            format!("unrecognized update order {s}")
        })?;
    }
    if let Some(ports) = v
        .pointer_mut("/EndpointSpec/Ports")
        .and_then(Value::as_array_mut)
    {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            default_unknown(p, "Protocol", &["", "tcp", "udp", "sctp"], "tcp");
            default_unknown(p, "PublishMode", &["", "ingress", "host"], "ingress");
        }
    }
    // moby's Go field is `Healthcheck` (what the docker CLI sends) while the API's model says
    // `HealthCheck`; Go reads keys case-insensitively, serde does not.
    if let Some(c) = v
        .pointer_mut("/TaskTemplate/ContainerSpec")
        .and_then(Value::as_object_mut)
        && !c.contains_key("HealthCheck")
        && let Some(h) = c.remove("Healthcheck")
    {
        c.insert("HealthCheck".into(), h);
    }
    serde_json::from_value(v).map_err(|e| Error::invalid(format!("invalid JSON body: {e}")))
}

fn default_unknown(
    obj: &mut serde_json::Map<String, Value>,
    key: &str,
    known: &[&str],
    default: &str,
) {
    if let Some(Value::String(s)) = obj.get(key)
        && !known.contains(&s.to_ascii_lowercase().as_str())
    {
        obj.insert(key.into(), Value::String(default.into()));
    } else if let Some(Value::String(s)) = obj.get_mut(key) {
        *s = s.to_ascii_lowercase();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_docker_cli_s_healthcheck_key_is_read() {
        let spec = spec_from_json(serde_json::json!({"TaskTemplate": {"ContainerSpec": {
            "Image": "x", "Healthcheck": {"Test": ["CMD-SHELL", "true"], "Retries": 2}}}}))
        .unwrap();
        let c = spec.task_template.unwrap().container_spec.unwrap();
        assert_eq!(c.health_check.unwrap().retries, Some(2));
    }

    #[test]
    fn enum_values_get_moby_s_texts() {
        let cases = [
            (
                serde_json::json!({"TaskTemplate": {"RestartPolicy": {"Condition": "sometimes"}}}),
                "invalid RestartCondition: \"sometimes\"",
            ),
            (
                serde_json::json!({"EndpointSpec": {"Mode": "round-robin"}}),
                "invalid resolution mode: \"round-robin\"",
            ),
            (
                serde_json::json!({"UpdateConfig": {"FailureAction": "panic"}}),
                "unrecognized update failure action panic",
            ),
            (
                serde_json::json!({"RollbackConfig": {"Order": "random"}}),
                "unrecognized update order random",
            ),
        ];
        for (json, want) in cases {
            assert_eq!(spec_from_json(json).unwrap_err().message, want);
        }
        let spec = spec_from_json(serde_json::json!({"EndpointSpec": {"Ports": [
            {"TargetPort": 80, "Protocol": "TCP", "PublishMode": "weird"}]}}))
        .unwrap();
        let v = serde_json::to_value(spec).unwrap();
        assert_eq!(v["EndpointSpec"]["Ports"][0]["Protocol"], "tcp");
        assert_eq!(v["EndpointSpec"]["Ports"][0]["PublishMode"], "ingress");
        let e = spec_from_json(serde_json::json!({"Name": 5})).unwrap_err();
        assert!(
            e.message.starts_with("invalid JSON body: "),
            "{}",
            e.message
        );
    }
}
