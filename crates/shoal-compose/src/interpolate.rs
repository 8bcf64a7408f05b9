//! `${VAR}` interpolation as docker/cli's `cli/compose/template` does it, and `.env` parsing.
//!
//! The unbraced form follows docker/cli's pattern `$NAME` plus an optional `:-`/`-`/`:?`/`?`
//! tail up to the next `}`, so `$FOO-bar` means "FOO, or `bar` if unset", as in docker.
//! Unlike docker/cli, the operator is the one right after the name (docker tests `:-`, `-`,
//! `:?`, `?` anywhere in the expression, so `${A:?must-be-set}` there yields `be-set`).

use serde_json::Value;

use crate::error::Error;
use crate::origin::join;

/// A template that could not be expanded. Its text is what docker/cli reports: the whole
/// template for bad syntax, or `required variable X is missing a value: msg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Invalid template: {template:?}")]
pub struct TemplateError {
    pub template: String,
}

/// Expands every `$` expression in `template`; `$$` is a literal `$`.
pub fn substitute(
    template: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(n) = match_subst(after) {
            out.push_str(&apply(&after[..n], lookup)?);
            rest = &after[n..];
        } else if let Some(n) = after
            .strip_prefix('{')
            .and_then(match_subst)
            .filter(|&n| after[1 + n..].starts_with('}'))
        {
            out.push_str(&apply(&after[1..1 + n], lookup)?);
            rest = &after[n + 2..];
        } else {
            return Err(TemplateError {
                template: template.to_string(),
            });
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Length of docker/cli's `[_a-z][_a-z0-9]*(?::?[-?][^}]*)?` (case-insensitive) at the start.
fn match_subst(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    if b.is_empty() || !(b[0] == b'_' || b[0].is_ascii_alphabetic()) {
        return None;
    }
    let mut n = 1;
    while n < b.len() && (b[n] == b'_' || b[n].is_ascii_alphanumeric()) {
        n += 1;
    }
    let mut op = n;
    if b.get(op) == Some(&b':') {
        op += 1;
    }
    if matches!(b.get(op), Some(b'-') | Some(b'?')) {
        n = op + 1 + s[op + 1..].find('}').unwrap_or(s.len() - op - 1);
    }
    Some(n)
}

fn apply(expr: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, TemplateError> {
    let name_len = expr
        .find(|c: char| !(c == '_' || c.is_ascii_alphanumeric()))
        .unwrap_or(expr.len());
    let (name, tail) = expr.split_at(name_len);
    let value = lookup(name);
    let missing = |msg: &str| TemplateError {
        template: format!("required variable {name} is missing a value: {msg}"),
    };
    if let Some(default) = tail.strip_prefix(":-") {
        Ok(value
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| default.into()))
    } else if let Some(default) = tail.strip_prefix('-') {
        Ok(value.unwrap_or_else(|| default.into()))
    } else if let Some(msg) = tail.strip_prefix(":?") {
        value.filter(|v| !v.is_empty()).ok_or_else(|| missing(msg))
    } else if let Some(msg) = tail.strip_prefix('?') {
        value.ok_or_else(|| missing(msg))
    } else {
        Ok(value.unwrap_or_default())
    }
}

/// Interpolates every string value (never a key) under `value`. `path` names the value for
/// errors, dotted as docker/cli does (`services.web.environment.[]` for list items).
pub fn interpolate(
    value: &mut Value,
    path: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    interpolate_at(value, path, path, lookup)
}

/// [`interpolate`], tracking beside docker's path the one with list indices (`at`) that
/// locates the value in its file.
fn interpolate_at(
    value: &mut Value,
    path: &str,
    at: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<(), Error> {
    match value {
        Value::String(s) if s.contains('$') => {
            *s = substitute(s, lookup).map_err(|e| Error::Interpolation {
                path: path.to_string(),
                template: e.template,
                at: at.to_string(),
            })?;
        }
        Value::Array(items) => {
            let p = format!("{path}.[]");
            for (i, item) in items.iter_mut().enumerate() {
                interpolate_at(item, &p, &join(at, &i.to_string()), lookup)?;
            }
        }
        Value::Object(map) => {
            for (k, v) in map.iter_mut() {
                interpolate_at(v, &join(path, k), &join(at, k), lookup)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Parses an env file the way docker/cli's `opts.ParseEnvFile` does: `KEY=VALUE` lines, `#`
/// comments and blank lines skipped, the value taken verbatim (no unquoting); a bare `KEY` is
/// returned with `None` so the caller can take it from its environment.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, Option<String>)>, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (line, None),
        };
        let key = key.trim_start();
        if key.is_empty() {
            return Err(Error::invalid(format!(
                "no variable name on line '{line}' (line {})",
                i + 1
            )));
        }
        if key.contains(char::is_whitespace) {
            return Err(Error::invalid(format!(
                "variable '{key}' contains whitespaces"
            )));
        }
        out.push((key.to_string(), value));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "FOO" => Some("foo".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    fn sub(t: &str) -> Result<String, TemplateError> {
        substitute(t, &env)
    }

    #[test]
    fn forms() {
        assert_eq!(sub("${FOO}/$FOO/x").unwrap(), "foo/foo/x");
        assert_eq!(sub("$$FOO $${FOO}").unwrap(), "$FOO ${FOO}");
        assert_eq!(sub("${NOPE}|$NOPE|").unwrap(), "||");
        assert_eq!(sub("${NOPE:-d} ${EMPTY:-d} ${FOO:-d}").unwrap(), "d d foo");
        assert_eq!(sub("${NOPE-d} [${EMPTY-d}] ${FOO-d}").unwrap(), "d [] foo");
        assert_eq!(sub("${EMPTY?e}|${FOO:?e}").unwrap(), "|foo");
        assert_eq!(sub("pre${FOO}post").unwrap(), "prefoopost");
        assert_eq!(sub("${NOPE:-a-b}").unwrap(), "a-b");
    }

    #[test]
    fn unbraced_default_like_docker() {
        // docker/cli's pattern lets the unbraced form carry a default up to the next `}`.
        assert_eq!(sub("$NOPE-bar").unwrap(), "bar");
        assert_eq!(sub("$FOO:x").unwrap(), "foo:x");
    }

    #[test]
    fn required_errors() {
        let e = sub("${NOPE:?must be set}").unwrap_err();
        assert_eq!(
            e.template,
            "required variable NOPE is missing a value: must be set"
        );
        let e = sub("${EMPTY:?err}").unwrap_err();
        assert_eq!(
            e.template,
            "required variable EMPTY is missing a value: err"
        );
        let e = sub("${NOPE?err}").unwrap_err();
        assert_eq!(e.template, "required variable NOPE is missing a value: err");
    }

    #[test]
    fn invalid_syntax() {
        for t in ["${", "${FOO", "$", "x $ y", "${1abc}", "${FOO:x}", "${}"] {
            let e = sub(t).unwrap_err();
            assert_eq!(e.template, t, "{t}");
            assert_eq!(e.to_string(), format!("Invalid template: {t:?}"));
        }
    }

    #[test]
    fn interpolates_values_not_keys_with_path() {
        let mut v = serde_json::json!({"services": {"$FOO": {"image": "${FOO}:1", "n": 3,
            "environment": ["A=$FOO"]}}});
        interpolate(&mut v, "", &env).unwrap();
        assert_eq!(v["services"]["$FOO"]["image"], "foo:1");
        assert_eq!(v["services"]["$FOO"]["environment"][0], "A=foo");
        let mut v = serde_json::json!({"services": {"web": {"environment": ["A=${X:?no X}"]}}});
        let e = interpolate(&mut v, "", &env).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid interpolation format for services.web.environment.[]: \
             \"required variable X is missing a value: no X\"; \
             you may need to escape any $ with another $"
        );
    }

    #[test]
    fn env_file() {
        let got = parse_env_file("\u{feff}# c\n\nA=1\n  B = x\nC\nD=\"q\"=2\n").unwrap_err();
        assert_eq!(got.to_string(), "variable 'B ' contains whitespaces");
        let got = parse_env_file("# c\n\nA=1\n  B=two words\nC\nD=\"q\"=2\n").unwrap();
        assert_eq!(
            got,
            vec![
                ("A".into(), Some("1".into())),
                ("B".into(), Some("two words".into())),
                ("C".into(), None),
                ("D".into(), Some("\"q\"=2".into())),
            ]
        );
    }
}
