//! Refusing production targets: a target whose address (IP and port) is a recorded server
//! address, or whose host name is a recorded Host value's name, is refused unless
//! `--allow-production-target`.
//!
//! The log is scanned from its start for at most [`SCAN_RECORDS`] records (of the merged inputs),
//! keeping at most [`MAX_HOSTS`] distinct Host values and as many server addresses: a bounded
//! prefix, so a server that appears only later in a long log is not seen. Targets are compared by
//! their resolved addresses and by the host name in their URL.

use std::collections::HashSet;
use std::net::SocketAddr;
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

/// Refuses the first target that is a production server.
pub fn check(targets: &[Target], prod: &Production) -> Result<(), ReplayError> {
    for t in targets {
        if let Some(a) = t.addrs.iter().find(|a| prod.servers.contains(a)) {
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
}
