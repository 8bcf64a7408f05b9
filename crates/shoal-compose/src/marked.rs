//! YAML parsing that keeps where each key came from: serde-saphyr reads the text into
//! [`Spanned`] nodes, which are then turned into the plain JSON value the loader works on and
//! a [`FileLines`] table (key path → line) that errors are located with afterwards.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use serde_saphyr::{MessageFormatter, Spanned};

use crate::error::Error;
use crate::origin::{FileLines, Mark};

/// One YAML node; collections keep the spans of their keys and items.
enum Node {
    Scalar(Value),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

/// Builds nodes with the same scalar typing as `serde_json::Value`'s own visitor, so the
/// value the loader sees is what deserialising straight into `Value` would give.
struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Number(v.into())))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        let n = Number::from_i128(v).ok_or_else(|| E::custom("JSON number out of range"))?;
        Ok(Node::Scalar(Value::Number(n)))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        let n = Number::from_u128(v).ok_or_else(|| E::custom("JSON number out of range"))?;
        Ok(Node::Scalar(Value::Number(n)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Scalar(
            Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v.into())))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Scalar(Value::String(v)))
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Scalar(Value::Null))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Map(entries))
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn text_of(node: &Node) -> Option<String> {
    match node {
        Node::Scalar(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

/// The plain value of `node`, recording under `path` the line of every key and list item
/// below it (a key's own line, not its value's, which may start on the next one).
fn unmark(node: Node, path: &str, lines: &mut BTreeMap<String, Mark>) -> Value {
    match node {
        Node::Scalar(v) => v,
        Node::Seq(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    let p = child(path, &i.to_string());
                    let mark = Mark::new(item.referenced.line(), text_of(&item.value));
                    lines.insert(p.clone(), mark);
                    unmark(item.value, &p, lines)
                })
                .collect(),
        ),
        Node::Map(entries) => {
            let mut out = Map::new();
            for (key, value) in entries {
                let p = child(path, &key.value);
                let mark = Mark::new(key.referenced.line(), text_of(&value.value));
                lines.insert(p.clone(), mark);
                out.insert(key.value, unmark(value.value, &p, lines));
            }
            Value::Object(out)
        }
    }
}

/// The parser's message on one line, with the column but not the line (the caller prefixes
/// `file:line`) nor the source snippet (a CLI error is one line).
fn yaml_message(e: &serde_saphyr::Error) -> String {
    let msg = serde_saphyr::DefaultMessageFormatter.format_message(e.without_snippet());
    let msg: String = msg
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match e.location().filter(|l| l.column() > 0) {
        Some(l) => format!("{msg} (column {})", l.column()),
        None => msg,
    }
}

/// Parses `content` (YAML 1.1 octals like `0440`, as go-yaml) into its value and the lines
/// of its keys. `file` names it in errors.
pub fn parse(file: &str, content: &str) -> Result<(Value, FileLines), Error> {
    let opts = serde_saphyr::options!(legacy_octal_numbers: true, strict_booleans: true);
    let root: Spanned<Node> =
        serde_saphyr::from_str_with_options(content, opts).map_err(|e| Error::Yaml {
            file: file.to_string(),
            line: e.location().map_or(1, |l| l.line().max(1)),
            message: yaml_message(&e),
        })?;
    let mut lines = BTreeMap::new();
    lines.insert(
        String::new(),
        Mark::new(root.referenced.line().max(1), None),
    );
    let value = unmark(root.value, "", &mut lines);
    Ok((value, FileLines::new(file, lines)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_lines() {
        let yaml = "version: '3.8'\nservices:\n  web:\n    image: a\n    ports:\n      - 80\n      - target: 81\n    deploy: {replicas: 2, mode: 0440}\nx: &a {k: 1}\ny:\n  <<: *a\n  z: no\n";
        let (v, lines) = parse("f.yml", yaml).unwrap();
        let want: Value = serde_saphyr::from_str_with_options(
            yaml,
            serde_saphyr::options!(legacy_octal_numbers: true, strict_booleans: true),
        )
        .unwrap();
        assert_eq!(v, want);
        let line = |p: &str| lines.get(p).map(|m| m.line);
        assert_eq!(line("services"), Some(2));
        assert_eq!(line("services.web.ports"), Some(5));
        assert_eq!(line("services.web.ports.0"), Some(6));
        assert_eq!(line("services.web.ports.1"), Some(7));
        assert_eq!(line("services.web.ports.1.target"), Some(7));
        assert_eq!(line("services.web.deploy.mode"), Some(8));
        assert_eq!(line("y.z"), Some(12));
        assert!(line("y.k").is_some());
    }

    #[test]
    fn syntax_error_has_the_line() {
        let e = parse("f.yml", "services:\n  web:\n    image: [a\n").unwrap_err();
        let Error::Yaml { line, message, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(*line >= 3, "{e}");
        assert!(!message.contains('\n'), "{message}");
    }
}
