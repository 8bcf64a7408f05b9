//! The `filters` query parameter of list endpoints, in both encodings Docker clients send:
//! `{"role":["manager"]}` and the older `{"role":{"manager":true}}`.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Error;

/// Parsed filters: key → accepted values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters(pub BTreeMap<String, BTreeSet<String>>);

impl Filters {
    /// Parses the JSON text of the `filters` parameter; empty means no filter.
    pub fn parse(json: &str) -> Result<Filters, Error> {
        if json.trim().is_empty() {
            return Ok(Filters::default());
        }
        let bad = |e: String| Error::invalid(format!("invalid filter: {e}"));
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let obj = v
            .as_object()
            .ok_or_else(|| bad("expected a JSON object".into()))?;
        let mut out = BTreeMap::new();
        for (key, vals) in obj {
            let set: BTreeSet<String> = match vals {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                serde_json::Value::Object(m) => m
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => return Err(bad(format!("values of '{key}' must be a list"))),
            };
            out.insert(key.clone(), set);
        }
        Ok(Filters(out))
    }

    /// Refuses keys this endpoint does not know, with Docker's text.
    pub fn validate(&self, allowed: &[&str]) -> Result<(), Error> {
        match self.0.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(Error::invalid(format!("invalid filter '{k}'"))),
            None => Ok(()),
        }
    }

    /// The values given for `key` (empty when the filter is absent).
    pub fn values(&self, key: &str) -> impl Iterator<Item = &str> {
        self.0.get(key).into_iter().flatten().map(String::as_str)
    }

    /// True when `key` is absent, or `pred` holds for one of its values.
    pub fn any(&self, key: &str, pred: impl Fn(&str) -> bool) -> bool {
        match self.0.get(key) {
            None => true,
            Some(vals) if vals.is_empty() => true,
            Some(vals) => vals.iter().any(|v| pred(v)),
        }
    }

    /// Label filter semantics: each value is `key` (present) or `key=value` (equal); all of
    /// them must match (Docker ANDs label filters).
    pub fn labels_match(
        &self,
        key: &str,
        labels: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        self.values(key).all(|want| match want.split_once('=') {
            Some((k, v)) => labels.get(k).is_some_and(|have| have == v),
            None => labels.contains_key(want),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encodings_parse_the_same() {
        let a = Filters::parse(r#"{"role":["manager"]}"#).unwrap();
        let b = Filters::parse(r#"{"role":{"manager":true}}"#).unwrap();
        assert_eq!(a, b);
        assert!(a.any("role", |v| v == "manager"));
        assert!(!a.any("role", |v| v == "worker"));
        assert!(a.any("name", |_| false), "absent filter matches everything");
    }

    #[test]
    fn unknown_keys_and_bad_json_are_refused() {
        let f = Filters::parse(r#"{"colour":["red"]}"#).unwrap();
        assert_eq!(
            f.validate(&["role"]).unwrap_err().message,
            "invalid filter 'colour'"
        );
        assert!(Filters::parse("{not json").is_err());
        assert!(Filters::parse(r#"{"role":"manager"}"#).is_err());
    }

    #[test]
    fn label_filters_and_together() {
        let f = Filters::parse(r#"{"node.label":["zone=a","ssd"]}"#).unwrap();
        let mut labels = std::collections::BTreeMap::new();
        labels.insert("zone".to_string(), "a".to_string());
        assert!(!f.labels_match("node.label", &labels));
        labels.insert("ssd".to_string(), "yes".to_string());
        assert!(f.labels_match("node.label", &labels));
        labels.insert("zone".to_string(), "b".to_string());
        assert!(!f.labels_match("node.label", &labels));
    }
}
