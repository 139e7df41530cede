//! Exchanges joined from a log's records, and the comparison with a server's access log.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use reel::exchange::{Message, Record, Response};
use reel::http::framing::RequestHead;

use super::AccessEntry;

/// A request with its final response and interim responses, as extracted.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// The request.
    pub request: Message,
    /// Its final response, if one was captured.
    pub response: Option<Response>,
    /// Its 1xx responses, in order.
    pub interim: Vec<Response>,
}

impl Exchange {
    /// Request method.
    pub fn method(&self) -> String {
        RequestHead::parse(self.request.head())
            .map(|h| h.method.to_string())
            .unwrap_or_default()
    }

    /// Request target as sent.
    pub fn target(&self) -> String {
        RequestHead::parse(self.request.head())
            .map(|h| h.target_str().into_owned())
            .unwrap_or_default()
    }

    /// Final status.
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }
}

/// Joins records into exchanges, ordered by connection then index.
pub fn exchanges(records: &[Record]) -> Vec<Exchange> {
    let mut by_key: BTreeMap<(u64, u32), Exchange> = BTreeMap::new();
    for r in records {
        match r {
            Record::Request(m) => {
                let old = by_key.insert(
                    (m.conn, m.index),
                    Exchange {
                        request: m.clone(),
                        response: None,
                        interim: Vec::new(),
                    },
                );
                assert!(old.is_none(), "request {}#{} twice", m.conn, m.index);
            }
            Record::Response(resp) => {
                let key = (resp.message.conn, resp.message.index);
                let e = by_key
                    .get_mut(&key)
                    .unwrap_or_else(|| panic!("response before its request: {key:?}"));
                assert!(e.response.is_none(), "two final responses for {key:?}");
                e.response = Some(resp.clone());
            }
            Record::Interim(resp) => {
                let key = (resp.message.conn, resp.message.index);
                by_key
                    .get_mut(&key)
                    .unwrap_or_else(|| panic!("1xx before its request: {key:?}"))
                    .interim
                    .push(resp.clone());
            }
            _ => {}
        }
    }
    by_key.into_values().collect()
}

/// Reads every record of a log.
pub fn read_log(path: &std::path::Path) -> Vec<Record> {
    reel::log::open(path)
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// Checks that every request of the access log was extracted, with the same method, target and
/// status, in the same order per connection (connections matched by client port), and nothing
/// more. Returns the number of requests matched.
pub fn assert_matches_access_log(exchanges: &[Exchange], log: &[AccessEntry]) -> usize {
    let mut truth: BTreeMap<u16, Vec<(String, String, u16)>> = BTreeMap::new();
    let mut entries: Vec<&AccessEntry> = log.iter().collect();
    entries.sort_by_key(|e| (e.port, e.conn, e.number));
    for e in entries {
        truth
            .entry(e.port)
            .or_default()
            .push((e.method.clone(), e.target.clone(), e.status));
    }
    let mut seen: BTreeMap<u16, Vec<(String, String, u16)>> = BTreeMap::new();
    for x in exchanges {
        seen.entry(x.request.client.port()).or_default().push((
            x.method(),
            x.target(),
            x.status().unwrap_or(0),
        ));
    }
    let mut problems = Vec::new();
    for (port, want) in &truth {
        match seen.get(port) {
            None => problems.push(format!(
                "client port {port}: no requests extracted, want {want:?}"
            )),
            Some(got) if got != want => {
                let at = want.iter().zip(got).take_while(|(w, g)| w == g).count();
                let around = |v: &[(String, String, u16)]| {
                    v[at.saturating_sub(1).min(v.len())..(at + 2).min(v.len())].to_vec()
                };
                problems.push(format!(
                    "client port {port}: {} requests in the access log, {} extracted, first difference at #{at}:\n  want {:?}\n  got  {:?}",
                    want.len(),
                    got.len(),
                    around(want),
                    around(got)
                ))
            }
            Some(_) => {}
        }
    }
    for port in seen.keys() {
        if !truth.contains_key(port) {
            problems.push(format!(
                "client port {port}: extracted but not in the access log"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    log.len()
}
