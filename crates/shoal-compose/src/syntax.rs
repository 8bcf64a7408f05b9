//! Short syntaxes of `ports` (docker's `nat.ParsePortSpec` + `opts.ConvertPortToPortConfig`)
//! and `volumes` (docker/cli `loader.ParseVolume`), expanded to their long forms.

use serde_json::{Map, Value, json};

use crate::error::Error;

fn port_range(s: &str, what: &str) -> Result<(u64, u64), Error> {
    let bad = || Error::invalid(format!("Invalid {what}: {s}"));
    let (a, b) = s.split_once('-').unwrap_or((s, s));
    let a: u64 = a.parse().map_err(|_| bad())?;
    let b: u64 = b.parse().map_err(|_| bad())?;
    if b < a || b > 65535 {
        return Err(bad());
    }
    Ok((a, b))
}

/// `"[ip:][host[-end]:]container[-end][/proto]"` to long-syntax ports with mode `ingress`.
/// The host IP is accepted and ignored, as swarm publishes on every address.
pub fn parse_port(spec: &str) -> Result<Vec<Value>, Error> {
    let (rest, proto) = spec.rsplit_once('/').unwrap_or((spec, "tcp"));
    let proto = proto.to_ascii_lowercase();
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(Error::invalid(format!("Invalid proto: {proto}")));
    }
    let parts: Vec<&str> = rest.split(':').collect();
    let container = parts[parts.len() - 1];
    let host = if parts.len() >= 2 {
        parts[parts.len() - 2]
    } else {
        ""
    };
    if container.is_empty() {
        return Err(Error::invalid(format!("No port specified: {spec}<empty>")));
    }
    let (c0, c1) = port_range(container, "containerPort")?;
    let mut pairs: Vec<(u64, u64)> = Vec::new();
    if host.is_empty() {
        pairs.extend((c0..=c1).map(|c| (c, 0)));
    } else {
        let (h0, h1) = port_range(host, "hostPort")?;
        if c1 - c0 == h1 - h0 {
            pairs.extend((c0..=c1).zip(h0..=h1));
        } else if c0 == c1 {
            pairs.extend((h0..=h1).map(|h| (c0, h)));
        } else {
            return Err(Error::invalid(format!(
                "Invalid ranges specified for container and host Ports: {container} and {host}"
            )));
        }
    }
    // docker sorts the "port/proto" keys as strings.
    pairs.sort_by_key(|(c, h)| (format!("{c}/{proto}"), *h));
    Ok(pairs
        .into_iter()
        .map(|(target, published)| {
            json!({"mode": "ingress", "target": target, "published": published, "protocol": proto})
        })
        .collect())
}

const PROPAGATIONS: [&str; 6] = [
    "shared", "rshared", "slave", "rslave", "private", "rprivate",
];
const CONSISTENCIES: [&str; 3] = ["cached", "delegated", "consistent"];

/// `"[source:]target[:opts]"` to a long-syntax volume: a source that is a path (`/`, `.`,
/// `~`) makes a bind, anything else a named volume; no source makes an anonymous volume.
pub fn parse_volume(spec: &str) -> Result<Value, Error> {
    if spec.is_empty() {
        return Err(Error::invalid("invalid empty volume spec"));
    }
    let parts: Vec<&str> = spec.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(Error::invalid(format!(
            "invalid spec: {spec}: empty section between colons"
        )));
    }
    let mut v = Map::new();
    let (source, target, opts) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, o] => (Some(*s), *t, Some(*o)),
        _ => {
            return Err(Error::invalid(format!(
                "invalid spec: {spec}: too many colons"
            )));
        }
    };
    let kind = match source {
        Some(s) if s.starts_with(['/', '.', '~']) => "bind",
        _ => "volume",
    };
    v.insert("type".into(), kind.into());
    if let Some(s) = source {
        v.insert("source".into(), s.into());
    }
    v.insert("target".into(), target.into());
    for opt in opts
        .map(|o| o.split(',').collect())
        .unwrap_or_else(Vec::new)
    {
        match opt {
            "ro" => {
                v.insert("read_only".into(), true.into());
            }
            "rw" => {
                v.insert("read_only".into(), false.into());
            }
            "nocopy" => {
                v.insert("volume".into(), json!({"nocopy": true}));
            }
            o if PROPAGATIONS.contains(&o) => {
                v.insert("bind".into(), json!({"propagation": o}));
            }
            o if CONSISTENCIES.contains(&o) => {
                v.insert("consistency".into(), o.into());
            }
            o => {
                return Err(Error::invalid(format!(
                    "invalid spec: {spec}: unknown option {o:?}"
                )));
            }
        }
    }
    Ok(Value::Object(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(spec: &str) -> Vec<(u64, u64, String)> {
        parse_port(spec)
            .unwrap()
            .iter()
            .map(|v| {
                assert_eq!(v["mode"], "ingress");
                (
                    v["target"].as_u64().unwrap(),
                    v["published"].as_u64().unwrap(),
                    v["protocol"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }

    #[test]
    fn ports() {
        let t = |c, h| (c, h, "tcp".to_string());
        assert_eq!(p("8080:80"), [t(80, 8080)]);
        assert_eq!(p("80"), [t(80, 0)]);
        assert_eq!(p("8080:80/udp"), [(80, 8080, "udp".into())]);
        assert_eq!(p("127.0.0.1:8001:8001"), [t(8001, 8001)]);
        assert_eq!(p("8000-8001:80-81"), [t(80, 8000), t(81, 8001)]);
        assert_eq!(p("3001-3003"), [t(3001, 0), t(3002, 0), t(3003, 0)]);
        assert_eq!(p("5000-5001:80"), [t(80, 5000), t(80, 5001)]);
        assert_eq!(p("::1:9000:90"), [t(90, 9000)]);
        assert!(parse_port("80-81:90-92").is_err());
        assert_eq!(
            parse_port("abc").unwrap_err().to_string(),
            "Invalid containerPort: abc"
        );
        assert_eq!(
            parse_port("80/xyz").unwrap_err().to_string(),
            "Invalid proto: xyz"
        );
    }

    #[test]
    fn volumes() {
        assert_eq!(
            parse_volume("/var/lib/mysql").unwrap(),
            json!({"type": "volume", "target": "/var/lib/mysql"})
        );
        assert_eq!(
            parse_volume("~/configs:/etc/configs/:ro").unwrap(),
            json!({"type": "bind", "source": "~/configs", "target": "/etc/configs/", "read_only": true})
        );
        assert_eq!(
            parse_volume("data:/d:nocopy").unwrap(),
            json!({"type": "volume", "source": "data", "target": "/d", "volume": {"nocopy": true}})
        );
        assert_eq!(
            parse_volume("./x:/x:rw,rshared").unwrap(),
            json!({"type": "bind", "source": "./x", "target": "/x", "read_only": false,
                   "bind": {"propagation": "rshared"}})
        );
        assert!(parse_volume("a::b").is_err());
        assert!(parse_volume("a:b:zz").is_err());
    }
}
