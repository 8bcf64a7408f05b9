//! The subset of Go templates scripts pass to `--format`: `{{.}}`, `{{.Status.Addr}}` and
//! `{{json .Spec}}`, evaluated on the JSON the daemon returned. Anything else is refused
//! rather than guessed.

use serde_json::Value;

use crate::error::CliError;

/// Renders `tmpl` against `v` (no trailing newline is added).
pub fn render(tmpl: &str, v: &Value) -> Result<String, CliError> {
    let mut out = String::new();
    let mut rest = tmpl;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or_else(|| {
            CliError::msg("template parsing error: template: :1: unclosed action")
        })?;
        out.push_str(&action(
            after[..end].trim_matches(|c: char| c == '-' || c == ' '),
            v,
        )?);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

fn action(act: &str, v: &Value) -> Result<String, CliError> {
    let (json, path) = match act.strip_prefix("json ") {
        Some(p) => (true, p.trim()),
        None => (false, act),
    };
    let Some(path) = path.strip_prefix('.') else {
        return Err(CliError::msg(format!(
            "template parsing error: unsupported action {{{{{act}}}}}: \
             only {{{{.Field}}}} and {{{{json .Field}}}} are supported"
        )));
    };
    let found = path
        .split('.')
        .filter(|s| !s.is_empty())
        .try_fold(v, |v, key| v.get(key));
    Ok(match (found, json) {
        (Some(x), true) => serde_json::to_string(x).expect("a JSON value serialises"),
        (None, true) => "null".to_string(),
        (Some(x), false) => go_print(x),
        (None, false) => "<no value>".to_string(),
    })
}

/// How Go's template prints a decoded JSON value.
fn go_print(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_print).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let parts: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_print(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_and_json() {
        let v = json!({"ID": "abc", "Status": {"Addr": "10.0.0.1", "State": "ready"},
                       "Spec": {"Labels": {"b": "2", "a": "1"}}, "N": 3});
        assert_eq!(render("{{.Status.Addr}}", &v).unwrap(), "10.0.0.1");
        assert_eq!(
            render("{{ .ID }} is {{.Status.State}}", &v).unwrap(),
            "abc is ready"
        );
        assert_eq!(
            render("{{json .Spec.Labels}}", &v).unwrap(),
            r#"{"a":"1","b":"2"}"#
        );
        assert_eq!(render("{{.Spec.Labels}}", &v).unwrap(), "map[a:1 b:2]");
        assert_eq!(render("{{.N}}", &v).unwrap(), "3");
        assert_eq!(render("{{.Nope}}", &v).unwrap(), "<no value>");
        assert!(render("{{if .ID}}x{{end}}", &v).is_err());
        assert!(render("{{.ID", &v).is_err());
    }
}
