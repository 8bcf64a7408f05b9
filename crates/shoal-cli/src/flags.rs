//! Value parsers of docker's flags, with docker's error texts.

use shoal_types::{Availability, NodeRole};

/// `--availability`: docker's check and text.
pub(crate) fn parse_availability(s: &str) -> Result<Availability, String> {
    match s.to_lowercase().as_str() {
        "active" => Ok(Availability::Active),
        "pause" => Ok(Availability::Pause),
        "drain" => Ok(Availability::Drain),
        _ => Err(format!(
            "invalid availability \"{s}\", only active, pause and drain are supported"
        )),
    }
}

/// `--listen-addr` as docker's `NodeAddrOption`: missing host → `0.0.0.0`, missing port →
/// 2377, `tcp://` prefix dropped.
pub(crate) fn parse_listen_addr(s: &str) -> Result<String, String> {
    let s = s.strip_prefix("tcp://").unwrap_or(s);
    let (host, port) = shoal_types::validate::host_port(s, 2377).map_err(|e| e.to_string())?;
    let host = if host.is_empty() {
        "0.0.0.0".to_string()
    } else {
        host
    };
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

/// `--default-addr-pool`: an IPv4 or IPv6 CIDR.
pub(crate) fn parse_cidr(s: &str) -> Result<String, String> {
    let bad = || format!("invalid CIDR address: {s}");
    let (ip, bits) = s.split_once('/').ok_or_else(bad)?;
    let ip: std::net::IpAddr = ip.parse().map_err(|_| bad())?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    if bits > if ip.is_ipv4() { 32 } else { 128 } {
        return Err(bad());
    }
    Ok(s.to_string())
}

/// `--filter name=value` as docker's `filters.ParseFlag` reads it.
pub(crate) fn parse_filter(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or("bad format of filter (expected name=value)")?;
    Ok((k.trim().to_lowercase(), v.trim().to_string()))
}

/// `--role`: `worker` or `manager`.
pub(crate) fn parse_role(s: &str) -> Result<NodeRole, String> {
    match s {
        "worker" => Ok(NodeRole::Worker),
        "manager" => Ok(NodeRole::Manager),
        _ => Err(format!(
            "invalid role \"{s}\", only worker and manager are supported"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_parsers() {
        assert_eq!(parse_availability("Drain"), Ok(Availability::Drain));
        assert_eq!(
            parse_availability("x"),
            Err("invalid availability \"x\", only active, pause and drain are supported".into())
        );
        assert_eq!(parse_listen_addr("eth0").unwrap(), "eth0:2377");
        assert_eq!(parse_listen_addr(":4000").unwrap(), "0.0.0.0:4000");
        assert_eq!(
            parse_listen_addr("tcp://10.0.0.1:2377").unwrap(),
            "10.0.0.1:2377"
        );
        assert_eq!(parse_listen_addr("[::1]:2377").unwrap(), "[::1]:2377");
        assert_eq!(parse_cidr("10.10.0.0/16").unwrap(), "10.10.0.0/16");
        assert!(parse_cidr("10.10.0.0").is_err());
        assert!(parse_cidr("10.10.0.0/33").is_err());
    }

    #[test]
    fn filters_and_roles() {
        assert_eq!(
            parse_filter(" Role = manager"),
            Ok(("role".into(), "manager".into()))
        );
        assert_eq!(
            parse_filter("label=a=b"),
            Ok(("label".into(), "a=b".into()))
        );
        assert_eq!(
            parse_filter("role"),
            Err("bad format of filter (expected name=value)".into())
        );
        assert_eq!(parse_role("manager"), Ok(NodeRole::Manager));
        assert!(parse_role("boss").is_err());
    }
}
