//! Choosing the cluster listen and advertise addresses as Docker does: an explicit address
//! wins; otherwise advertise the listen IP, or the address of the interface that routes
//! outward when listening on all interfaces.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use shoal_types::Error;

/// Parses a listen address (`ip[:port]`, default port 2377).
pub fn listen_addr(raw: &str) -> Result<SocketAddr, Error> {
    let (host, port) = shoal_types::validate::host_port(raw, 2377)?;
    let ip: IpAddr = host.parse().map_err(|_| {
        Error::invalid(format!("invalid listen address {raw}: expected an IP address (interface names are not supported)"))
    })?;
    Ok(SocketAddr::new(ip, port))
}

/// The address to advertise, given what was asked and where we listen (with the real port).
pub fn advertise_addr(requested: Option<&str>, listen: SocketAddr) -> Result<String, Error> {
    if let Some(raw) = requested.filter(|s| !s.is_empty()) {
        let (host, port) = shoal_types::validate::host_port(raw, listen.port())?;
        let ip: IpAddr = host.parse().map_err(|_| {
            Error::invalid(format!("invalid advertise address {raw}: expected an IP address (interface names are not supported)"))
        })?;
        if ip.is_unspecified() {
            return Err(Error::invalid(format!(
                "advertise address must be a non-zero IP address, got {raw}"
            )));
        }
        return Ok(SocketAddr::new(ip, port).to_string());
    }
    if !listen.ip().is_unspecified() {
        return Ok(listen.to_string());
    }
    let ip = outward_ip().ok_or_else(|| {
        Error::invalid("could not find the system's IP address - specify one with --advertise-addr")
    })?;
    Ok(SocketAddr::new(ip, listen.port()).to_string())
}

/// The source address the kernel would use toward the outside; `connect` on UDP sends nothing.
fn outward_ip() -> Option<IpAddr> {
    let sock = UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("192.0.2.1:9").ok()?;
    let ip = sock.local_addr().ok()?.ip();
    (!ip.is_unspecified()).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_advertise_wins_and_takes_the_listen_port() {
        let listen: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        assert_eq!(
            advertise_addr(Some("10.1.2.3"), listen).unwrap(),
            "10.1.2.3:4000"
        );
        assert_eq!(
            advertise_addr(Some("10.1.2.3:5000"), listen).unwrap(),
            "10.1.2.3:5000"
        );
        assert!(advertise_addr(Some("0.0.0.0"), listen).is_err());
        assert!(advertise_addr(Some("eth0"), listen).is_err());
    }

    #[test]
    fn specific_listen_ip_is_advertised() {
        let listen: SocketAddr = "127.0.0.1:2377".parse().unwrap();
        assert_eq!(advertise_addr(None, listen).unwrap(), "127.0.0.1:2377");
        assert_eq!(listen_addr("127.0.0.1").unwrap(), listen);
        assert!(listen_addr("nope:1").is_err());
    }
}
