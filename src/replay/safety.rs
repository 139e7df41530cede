//! Refusing production targets: a target whose address (IP and port) is a recorded server
//! address, or whose host name is a recorded Host value's name, is refused unless
//! `--allow-production-target`.
//!
//! The log is scanned from its start for at most [`SCAN_RECORDS`] records (of the merged inputs),
//! keeping at most [`MAX_HOSTS`] distinct Host values and as many server addresses: a bounded
//! prefix, so a server that appears only later in a long log is not seen. Targets are compared by
//! their resolved addresses and by the host name in their URL.

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use crate::exchange::Record;
use crate::http::framing::RequestHead;
use crate::log::merge::Merger;

use super::ReplayError;
use super::target::{Target, host_name};

/// Records scanned from the start of the log.
pub const SCAN_RECORDS: u64 = 100_000;
/// Distinct Host values and server addresses kept.
pub const MAX_HOSTS: usize = 10_000;

/// What the scanned prefix says production is.
#[derive(Debug, Default, Clone)]
pub struct Production {
    /// Server addresses of recorded requests.
    pub servers: HashSet<SocketAddr>,
    /// Host values' names, lower case, without port.
    pub hosts: HashSet<String>,
}

/// Scans the start of the inputs.
pub fn scan(inputs: &[PathBuf]) -> Result<Production, ReplayError> {
    let mut readers = Vec::with_capacity(inputs.len());
    for p in inputs {
        readers.push(crate::log::open(p)?);
    }
    let mut merger = Merger::new(readers)?;
    let mut prod = Production::default();
    let mut n = 0u64;
    while let Some(record) = merger.next_record()? {
        n += 1;
        if n > SCAN_RECORDS {
            break;
        }
        if let Record::Request(m) = record {
            if prod.servers.len() < MAX_HOSTS {
                prod.servers.insert(m.server);
            }
            if prod.hosts.len() < MAX_HOSTS {
                if let Some(h) = RequestHead::parse(&m.bytes)
                    .ok()
                    .and_then(|h| h.header("host"))
                    .and_then(|h| std::str::from_utf8(h).ok())
                {
                    prod.hosts
                        .insert(host_name(&h.trim().to_ascii_lowercase()).to_owned());
                }
            }
        }
    }
    Ok(prod)
}

/// Refuses the first target that is a production server. The loopback addresses and this
/// host's own are one host: a server recorded at `127.0.0.1:8080` (or at this host's
/// `10.0.0.5:8080`) is the target `http://[::1]:8080` or `http://localhost:8080`.
pub fn check(targets: &[Target], prod: &Production) -> Result<(), ReplayError> {
    check_with(targets, prod, &own_addresses())
}

/// This host's interface addresses (none when they cannot be listed).
fn own_addresses() -> HashSet<IpAddr> {
    nix::ifaddrs::getifaddrs()
        .map(|addrs| {
            addrs
                .filter_map(|a| a.address)
                .filter_map(|a| {
                    a.as_sockaddr_in()
                        .map(|v4| IpAddr::V4(v4.ip()))
                        .or_else(|| a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip())))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The address `a` stands for: any loopback, unspecified or own address is `127.0.0.1` with its
/// port (an IPv4-mapped IPv6 address is its IPv4 one first).
fn canonical(a: SocketAddr, own: &HashSet<IpAddr>) -> SocketAddr {
    let ip = a.ip().to_canonical();
    if ip.is_loopback() || ip.is_unspecified() || own.contains(&ip) || own.contains(&a.ip()) {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), a.port())
    } else {
        SocketAddr::new(ip, a.port())
    }
}

fn check_with(
    targets: &[Target],
    prod: &Production,
    own: &HashSet<IpAddr>,
) -> Result<(), ReplayError> {
    let servers: HashSet<SocketAddr> = prod.servers.iter().map(|a| canonical(*a, own)).collect();
    for t in targets {
        if let Some(a) = t
            .addrs
            .iter()
            .find(|a| servers.contains(&canonical(**a, own)))
        {
            return Err(ReplayError::ProductionTarget {
                target: t.url.clone(),
                found: format!("server address {a}"),
            });
        }
        let name = t.host.to_ascii_lowercase();
        if prod.hosts.contains(&name) {
            return Err(ReplayError::ProductionTarget {
                target: t.url.clone(),
                found: format!("Host {name}"),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_or_host_name_matches() {
        let mut prod = Production::default();
        prod.servers.insert("10.0.0.1:80".parse().unwrap());
        prod.hosts.insert("api.example.com".into());
        let mut t = Target::parse("http://10.0.0.1:80").unwrap();
        t.addrs = vec!["10.0.0.1:80".parse().unwrap()];
        let e = check(&[t.clone()], &prod).unwrap_err();
        assert!(e.to_string().contains("server address 10.0.0.1:80"), "{e}");
        t.addrs = vec!["10.0.0.1:8080".parse().unwrap()];
        assert!(check(&[t], &prod).is_ok());
        let t = Target::parse("https://API.example.com:8443").unwrap();
        let e = check(&[t], &prod).unwrap_err();
        assert!(e.to_string().contains("Host api.example.com"), "{e}");
        assert!(e.to_string().contains("--allow-production-target"));
    }

    #[test]
    fn loopback_names_and_own_addresses_are_one_host() {
        let own: HashSet<IpAddr> = ["10.0.0.5".parse().unwrap()].into_iter().collect();
        let target = |addrs: &[&str]| {
            let mut t = Target::parse("http://staging.test:8080").unwrap();
            t.addrs = addrs.iter().map(|a| a.parse().unwrap()).collect();
            t
        };
        for recorded in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "10.0.0.5:8080",
            "127.0.0.53:8080",
        ] {
            let mut prod = Production::default();
            prod.servers.insert(recorded.parse().unwrap());
            for addrs in [
                &["[::1]:8080"][..],
                &["127.0.0.1:8080"],
                &["[::1]:8080", "127.0.0.1:8080"],
                &["10.0.0.5:8080"],
                &["[::ffff:127.0.0.1]:8080"],
            ] {
                let e = check_with(&[target(addrs)], &prod, &own);
                assert!(e.is_err(), "recorded {recorded}, target {addrs:?}");
            }
            // Another port on this host is another server.
            assert!(check_with(&[target(&["127.0.0.1:18080"])], &prod, &own).is_ok());
        }
        // Another host is another host.
        let mut prod = Production::default();
        prod.servers.insert("10.0.0.9:8080".parse().unwrap());
        assert!(check_with(&[target(&["127.0.0.1:8080"])], &prod, &own).is_ok());
    }
}
