//! What a shadow captures: what `record` would, minus reel's own connections to staging.
//!
//! reel's connections to the targets leave from this host, so a capture on `any`, on the route to
//! staging, or on a staging that listens on a captured port of this host would see them; shadowed
//! again, each request would loop forever. The capture filter leaves out every TCP segment that has
//! a target's address and port as its source or its destination: exactly the connections to the
//! targets. A production connection is only left out if its server is a target itself, and
//! [`check_not_production`] refuses that.

use std::net::{IpAddr, SocketAddr};

use super::ShadowError;

/// `base` (a BPF filter) without the TCP segments from or to any of `targets`.
///
/// Each target gives `(src host A and src port P) or (dst host A and dst port P)`: both
/// directions of every connection to it, whatever the local port. Addresses are written as
/// libpcap reads them (IPv6 without brackets or zone). A target reached through address
/// translation on this host (a container's published port) shows with its translated address
/// past the translation; `--filter` can leave that out too.
pub fn exclude_targets(base: &str, targets: &[SocketAddr]) -> String {
    let mut distinct: Vec<SocketAddr> = Vec::new();
    for t in targets {
        if !distinct.contains(t) {
            distinct.push(*t);
        }
    }
    if distinct.is_empty() {
        return base.to_string();
    }
    let clauses: Vec<String> = distinct
        .iter()
        .map(|t| {
            let (ip, port) = (t.ip(), t.port());
            format!("(src host {ip} and src port {port}) or (dst host {ip} and dst port {port})")
        })
        .collect();
    format!("({base}) and not ({})", clauses.join(" or "))
}

/// Refuses a target that is this host on a captured port: shadowing production to itself would
/// double its load (and the filter that keeps reel's own traffic out would keep production out).
/// An address is this host's when a socket can be bound to it; unspecified addresses (0.0.0.0,
/// ::) are too.
pub fn check_not_production(
    targets: &[(String, SocketAddr)],
    ports: &[u16],
) -> Result<(), ShadowError> {
    for (url, addr) in targets {
        if ports.contains(&addr.port()) && is_local(addr.ip()) {
            return Err(ShadowError::ProductionTarget {
                target: url.clone(),
                addr: *addr,
            });
        }
    }
    Ok(())
}

/// True when `ip` is an address of this host (in this network namespace).
fn is_local(ip: IpAddr) -> bool {
    ip.is_unspecified() || std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use pcap::{Capture, Linktype};

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_target_is_left_out_once() {
        assert_eq!(
            exclude_targets("tcp and (port 80)", &[]),
            "tcp and (port 80)"
        );
        assert_eq!(
            exclude_targets(
                "tcp and (port 80)",
                &[addr("10.0.0.9:80"), addr("[::1]:8080"), addr("10.0.0.9:80")]
            ),
            "(tcp and (port 80)) and not ((src host 10.0.0.9 and src port 80) or \
             (dst host 10.0.0.9 and dst port 80) or (src host ::1 and src port 8080) or \
             (dst host ::1 and dst port 8080))"
        );
    }

    /// An Ethernet frame of a TCP segment between two endpoints.
    fn frame(src: &str, dst: &str) -> Vec<u8> {
        let (src, dst) = (addr(src), addr(dst));
        let builder = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6]);
        let builder = match (src.ip(), dst.ip()) {
            (IpAddr::V4(s), IpAddr::V4(d)) => builder.ipv4(s.octets(), d.octets(), 64),
            (IpAddr::V6(s), IpAddr::V6(d)) => builder.ipv6(s.octets(), d.octets(), 64),
            _ => panic!("mixed families"),
        };
        let builder = builder.tcp(src.port(), dst.port(), 1, 65535).ack(1);
        let payload = b"GET / HTTP/1.1\r\n\r\n";
        let mut out = Vec::with_capacity(builder.size(payload.len()));
        builder.write(&mut out, payload).unwrap();
        out
    }

    /// The filter compiled by libpcap itself, judging real frames: reel's own connections to
    /// staging (on the production port, on this host) are left out in both directions; production
    /// connections, even from the staging host's address or to another port of it, are kept.
    #[test]
    fn libpcap_leaves_out_exactly_the_connections_to_the_targets() {
        let filter = exclude_targets(
            "tcp and (port 8080)",
            &[addr("10.78.0.2:8080"), addr("[fd00::2]:8080")],
        );
        let dead = Capture::dead(Linktype::ETHERNET).unwrap();
        let program = dead.compile(&filter, true).unwrap();
        let cases = [
            // Production: clients to the server, both ways.
            ("10.77.0.2:40000", "10.77.0.1:8080", true),
            ("10.77.0.1:8080", "10.77.0.2:40000", true),
            // A production client that happens to be the staging host.
            ("10.78.0.2:41000", "10.77.0.1:8080", true),
            ("10.77.0.1:8080", "10.78.0.2:41000", true),
            // reel to staging and back.
            ("10.78.0.1:45000", "10.78.0.2:8080", false),
            ("10.78.0.2:8080", "10.78.0.1:45000", false),
            ("[fd00::1]:45000", "[fd00::2]:8080", false),
            ("[fd00::2]:8080", "[fd00::1]:45000", false),
            ("[fd00::1]:45000", "[fd00::3]:8080", true),
            // Not a watched port at all.
            ("10.77.0.2:40000", "10.77.0.1:9090", false),
        ];
        for (src, dst, kept) in cases {
            assert_eq!(program.filter(&frame(src, dst)), kept, "{src} -> {dst}");
        }
    }

    #[test]
    fn a_local_target_on_a_captured_port_is_refused() {
        let local = [("http://127.0.0.1:8080".to_string(), addr("127.0.0.1:8080"))];
        let e = check_not_production(&local, &[8080]).unwrap_err();
        assert!(e.to_string().starts_with("http://127.0.0.1:8080: "), "{e}");
        assert!(check_not_production(&local, &[80]).is_ok());
        // 192.0.2.0/24 is documentation space: never an address of this host.
        let remote = [("http://192.0.2.7:8080".to_string(), addr("192.0.2.7:8080"))];
        assert!(check_not_production(&remote, &[8080]).is_ok());
        let any = [("http://0.0.0.0:80".to_string(), addr("0.0.0.0:80"))];
        assert!(check_not_production(&any, &[80]).is_err());
    }
}
