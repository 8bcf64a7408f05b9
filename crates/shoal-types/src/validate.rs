//! Input rules shared by the API and the store, with the Engine API's error texts.

use serde::{Deserialize, Deserializer};

use crate::error::Error;

/// Go clients send `null` for empty maps and lists; read it as the default.
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Label keys must be non-empty (swarmkit rejects `=value`).
pub fn labels<'a>(labels: impl IntoIterator<Item = (&'a String, &'a String)>) -> Result<(), Error> {
    for (k, _) in labels {
        if k.trim().is_empty() {
            return Err(Error::invalid("invalid label: label key must not be empty"));
        }
    }
    Ok(())
}

/// `host:port` or `ip:port` or an interface-less `:port`, as Docker accepts for listen and
/// advertise addresses; returns (host, port) with the default port filled in.
pub fn host_port(addr: &str, default_port: u16) -> Result<(String, u16), Error> {
    let bad = || Error::invalid(format!("invalid listen address {addr}"));
    if addr.is_empty() {
        return Err(bad());
    }
    let (host, port) = match addr.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') || h.starts_with('[') => {
            (h.trim_start_matches('[').trim_end_matches(']'), Some(p))
        }
        _ => (addr, None),
    };
    let port = match port {
        None => default_port,
        Some(p) => p.parse::<u16>().map_err(|_| bad())?,
    };
    if host.contains(char::is_whitespace) || host.contains('/') {
        return Err(bad());
    }
    Ok((host.to_string(), port))
}

/// Go clients send `""` for an unset enum; read it as `None`.
pub fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = Option::<serde_json::Value>::deserialize(d)?;
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if s.is_empty() => Ok(None),
        Some(v) => T::deserialize(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_port_forms() {
        assert_eq!(
            host_port("0.0.0.0:2377", 2377).unwrap(),
            ("0.0.0.0".into(), 2377)
        );
        assert_eq!(
            host_port("10.1.2.3", 2377).unwrap(),
            ("10.1.2.3".into(), 2377)
        );
        assert_eq!(host_port("eth0:4000", 2377).unwrap(), ("eth0".into(), 4000));
        assert_eq!(host_port("[::1]:4000", 2377).unwrap(), ("::1".into(), 4000));
        assert!(host_port("1.2.3.4:notaport", 2377).is_err());
        assert!(host_port("1.2.3.4:70000", 2377).is_err());
        assert!(host_port("", 2377).is_err());
    }

    #[test]
    fn empty_label_key_is_refused() {
        let (k, v) = (String::new(), "x".to_string());
        assert!(labels([(&k, &v)]).is_err());
        let k = "zone".to_string();
        assert!(labels([(&k, &v)]).is_ok());
    }
}
