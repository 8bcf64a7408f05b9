//! The PROXY protocol version 2 header (binary form), which tells a backend behind the mesh
//! the client's real address: without it every connection would appear to come from the
//! node that proxied it.
//!
//! Layout (haproxy's proxy-protocol.txt, section 2.2), all integers big-endian:
//!
//! | bytes | content |
//! |---|---|
//! | 0..12 | signature `\r\n\r\n\0\r\nQUIT\n` |
//! | 12 | version 2 (high nibble) and command PROXY (low nibble 1): `0x21` |
//! | 13 | family (1 = IPv4, 2 = IPv6) and transport (1 = STREAM): `0x11` or `0x21` |
//! | 14..16 | length of the address block: 12 (IPv4) or 36 (IPv6) |
//! | 16.. | source address, destination address, source port, destination port |
//!
//! The header is built on the stack: no allocation per connection.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The 12-byte signature every v2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// Version 2, command PROXY.
const VERSION_2_PROXY: u8 = 0x21;
/// AF_INET, STREAM.
const TCP_OVER_IPV4: u8 = 0x11;
/// AF_INET6, STREAM.
const TCP_OVER_IPV6: u8 = 0x21;

const FIXED_LEN: usize = 16;
const IPV4_BLOCK: usize = 12;
const IPV6_BLOCK: usize = 36;

/// An encoded header; [`ProxyHeader::as_bytes`] is what goes on the wire.
#[derive(Debug, Clone, Copy)]
pub struct ProxyHeader {
    buf: [u8; FIXED_LEN + IPV6_BLOCK],
    len: usize,
}

impl ProxyHeader {
    /// The header for a TCP connection from `source` (the client) to `destination` (the
    /// address the client connected to on this node).
    ///
    /// IPv4-mapped IPv6 addresses (what a dual-stack `[::]` listener reports for IPv4
    /// clients) are written as IPv4. If the two families still differ, both are written as
    /// IPv6, IPv4 mapped into it, since the header has a single family.
    pub fn tcp(source: SocketAddr, destination: SocketAddr) -> ProxyHeader {
        let mut buf = [0u8; FIXED_LEN + IPV6_BLOCK];
        buf[..12].copy_from_slice(&SIGNATURE);
        buf[12] = VERSION_2_PROXY;
        let block = &mut buf[FIXED_LEN..];
        let len = match (source.ip().to_canonical(), destination.ip().to_canonical()) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                block[0..4].copy_from_slice(&src.octets());
                block[4..8].copy_from_slice(&dst.octets());
                block[8..10].copy_from_slice(&source.port().to_be_bytes());
                block[10..12].copy_from_slice(&destination.port().to_be_bytes());
                IPV4_BLOCK
            }
            (src, dst) => {
                block[0..16].copy_from_slice(&as_v6(src).octets());
                block[16..32].copy_from_slice(&as_v6(dst).octets());
                block[32..34].copy_from_slice(&source.port().to_be_bytes());
                block[34..36].copy_from_slice(&destination.port().to_be_bytes());
                IPV6_BLOCK
            }
        };
        buf[13] = if len == IPV4_BLOCK {
            TCP_OVER_IPV4
        } else {
            TCP_OVER_IPV6
        };
        buf[14..16].copy_from_slice(&(len as u16).to_be_bytes());
        ProxyHeader {
            buf,
            len: FIXED_LEN + len,
        }
    }

    /// The bytes to send before any client data.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

fn as_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(v4) => v4.to_ipv6_mapped(),
        IpAddr::V6(v6) => v6,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_header_matches_the_spec_byte_for_byte() {
        let src: SocketAddr = "192.0.2.10:51000".parse().unwrap();
        let dst: SocketAddr = "198.51.100.7:8080".parse().unwrap();
        let h = ProxyHeader::tcp(src, dst);
        let expected: &[u8] = &[
            0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54,
            0x0A, // signature
            0x21, // v2, PROXY
            0x11, // TCP over IPv4
            0x00, 0x0C, // 12 bytes follow
            192, 0, 2, 10, // source address
            198, 51, 100, 7, // destination address
            0xC7, 0x38, // 51000
            0x1F, 0x90, // 8080
        ];
        assert_eq!(h.as_bytes(), expected);
    }

    #[test]
    fn ipv6_header_has_36_address_bytes() {
        let src: SocketAddr = "[2001:db8::1]:40000".parse().unwrap();
        let dst: SocketAddr = "[2001:db8::2]:443".parse().unwrap();
        let h = ProxyHeader::tcp(src, dst);
        let b = h.as_bytes();
        assert_eq!(b.len(), 16 + 36);
        assert_eq!(&b[..12], &SIGNATURE);
        assert_eq!(b[12], 0x21);
        assert_eq!(b[13], 0x21);
        assert_eq!(u16::from_be_bytes([b[14], b[15]]), 36);
        assert_eq!(
            &b[16..32],
            &"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(
            &b[32..48],
            &"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets()
        );
        assert_eq!(u16::from_be_bytes([b[48], b[49]]), 40000);
        assert_eq!(u16::from_be_bytes([b[50], b[51]]), 443);
    }

    #[test]
    fn mapped_ipv4_from_a_dual_stack_listener_is_written_as_ipv4() {
        let src: SocketAddr = "[::ffff:10.1.2.3]:1234".parse().unwrap();
        let dst: SocketAddr = "[::ffff:10.1.2.4]:80".parse().unwrap();
        let b = ProxyHeader::tcp(src, dst);
        let b = b.as_bytes();
        assert_eq!(b[13], 0x11);
        assert_eq!(b.len(), 28);
        assert_eq!(&b[16..20], &[10, 1, 2, 3]);
        assert_eq!(&b[20..24], &[10, 1, 2, 4]);
    }

    #[test]
    fn mixed_families_are_written_as_ipv6() {
        let src: SocketAddr = "10.1.2.3:1234".parse().unwrap();
        let dst: SocketAddr = "[2001:db8::2]:80".parse().unwrap();
        let b = ProxyHeader::tcp(src, dst);
        let b = b.as_bytes();
        assert_eq!(b[13], 0x21);
        assert_eq!(
            &b[16..32],
            &"::ffff:10.1.2.3".parse::<Ipv6Addr>().unwrap().octets()
        );
    }
}
