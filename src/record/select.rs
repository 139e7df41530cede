//! Selection: which of the records extraction produced a recording keeps, in this order —
//! `--sample` (whole connections, by a fixed hash of their two endpoints), the request filters
//! (`filter`: a request left out takes its responses with it), then `--limit` (the first N
//! requests and the responses to them). What is left out is counted, never silently lost.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;

use crate::exchange::Record;
use crate::filter::Filter;

/// How long (capture time) to wait for responses to the last requests kept by `--limit`.
const LIMIT_GRACE_NS: u64 = 30_000_000_000;

/// Keeps the first `--limit` requests and the responses to them, drops the rest.
pub(crate) struct Limiter {
    limit: u64,
    kept: HashSet<(u64, u32)>,
    unanswered: u64,
    reached_at_ns: Option<u64>,
}

impl Limiter {
    pub(crate) fn new(limit: u64) -> Limiter {
        Limiter {
            limit,
            kept: HashSet::new(),
            unanswered: 0,
            reached_at_ns: None,
        }
    }

    /// Whether to keep a record.
    pub(crate) fn keep(&mut self, record: &Record) -> bool {
        match record {
            Record::Request(m) => {
                if self.reached_at_ns.is_some() {
                    return false;
                }
                self.kept.insert((m.conn, m.index));
                self.unanswered += 1;
                if self.kept.len() as u64 >= self.limit {
                    self.reached_at_ns = Some(m.first_ts_ns);
                }
                true
            }
            Record::Response(r) => {
                let kept = self.kept.contains(&(r.message.conn, r.message.index));
                if kept {
                    self.unanswered = self.unanswered.saturating_sub(1);
                }
                kept
            }
            Record::Interim(r) => self.kept.contains(&(r.message.conn, r.message.index)),
            Record::Orphan(_) => self.reached_at_ns.is_none(),
            _ => true,
        }
    }

    /// True once the limit is reached and its requests are answered (or waited for long enough).
    pub(crate) fn done(&self, now_ns: u64) -> bool {
        self.reached_at_ns
            .is_some_and(|at| self.unanswered == 0 || now_ns.saturating_sub(at) > LIMIT_GRACE_NS)
    }
}

/// Whether `--sample` keeps the connection between these endpoints: xxh3-64 (seed 0) of the two
/// endpoints, the lower first — each as its address bytes (4 for IPv4, 16 for IPv6) then its
/// port, big-endian — is below `per_million` once taken modulo 1 000 000. The same connection
/// gets the same answer on every node and every run, whichever side is named first.
pub fn sample_keeps(a: SocketAddr, b: SocketAddr, per_million: u64) -> bool {
    fn bytes(s: SocketAddr) -> Vec<u8> {
        let mut v = match s.ip() {
            std::net::IpAddr::V4(ip) => ip.octets().to_vec(),
            std::net::IpAddr::V6(ip) => ip.octets().to_vec(),
        };
        v.extend_from_slice(&s.port().to_be_bytes());
        v
    }
    let (x, y) = (bytes(a), bytes(b));
    let mut key = if x <= y { x.clone() } else { y.clone() };
    key.extend_from_slice(if x <= y { &y } else { &x });
    xxhash_rust::xxh3::xxh3_64(&key) % 1_000_000 < per_million
}

/// Requests left out by the filters whose final response has not come yet, remembered at most
/// (the oldest are forgotten: a response that comes later than that is written without its request).
const MAX_DROPPED_KEYS: usize = 1 << 16;

/// What selection keeps, validated.
#[derive(Debug, Clone, Default)]
pub struct SelectionConfig {
    /// `--sample` as parts per million of connections.
    pub sample_per_million: Option<u64>,
    /// `--method`, `--path`, `--exclude-path`, `--header`; `None` when none was given.
    pub filter: Option<Filter>,
}

/// `--sample` and the request filters, with what they left out.
#[derive(Default)]
pub(crate) struct Selection {
    /// `--sample` as parts per million of connections.
    sample_per_million: Option<u64>,
    /// `--method`, `--path`, `--exclude-path`, `--header`; `None` when none was given.
    filter: Option<Filter>,
    /// Requests left out by the filter whose final response has not come yet.
    dropped: HashSet<(u64, u32)>,
    dropped_order: VecDeque<(u64, u32)>,
    pub(crate) sampled_out_requests: u64,
    sampled_out_records: u64,
    pub(crate) filtered_requests: u64,
    filtered_responses: u64,
}

impl Selection {
    pub(crate) fn new(config: SelectionConfig) -> Selection {
        Selection {
            sample_per_million: config.sample_per_million,
            filter: config.filter,
            ..Selection::default()
        }
    }

    pub(crate) fn active(&self) -> bool {
        self.sample_per_million.is_some() || self.filter.is_some()
    }

    fn sampled(&self, record: &Record) -> bool {
        let Some(per_million) = self.sample_per_million else {
            return true;
        };
        let ends = match record {
            Record::Request(m) => Some((m.client, m.server)),
            Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => {
                Some((r.message.client, r.message.server))
            }
            Record::Gap(g) => Some((g.client, g.server)),
            _ => None,
        };
        ends.is_none_or(|(a, b)| sample_keeps(a, b, per_million))
    }

    fn remember_dropped(&mut self, key: (u64, u32)) {
        if self.dropped.insert(key) {
            self.dropped_order.push_back(key);
        }
        while self.dropped.len() > MAX_DROPPED_KEYS {
            match self.dropped_order.pop_front() {
                Some(old) => {
                    self.dropped.remove(&old);
                }
                None => break,
            }
        }
        // Keys answered since are still queued: compact once they are most of the queue.
        if self.dropped_order.len() > 2 * self.dropped.len() + 1024 {
            let live = &self.dropped;
            self.dropped_order.retain(|k| live.contains(k));
        }
    }

    /// Whether to keep a record (before `--limit`): whole connections by `--sample`, then
    /// requests by the filter, with the responses of the requests left out.
    pub(crate) fn keep(&mut self, record: &Record) -> bool {
        if !self.sampled(record) {
            self.sampled_out_records += 1;
            if matches!(record, Record::Request(_)) {
                self.sampled_out_requests += 1;
            }
            return false;
        }
        let Some(filter) = &self.filter else {
            return true;
        };
        match record {
            Record::Request(m) => {
                if filter.keeps_bytes(&m.bytes) {
                    return true;
                }
                self.filtered_requests += 1;
                self.remember_dropped((m.conn, m.index));
                false
            }
            Record::Response(r) => {
                let key = (r.message.conn, r.message.index);
                if self.dropped.remove(&key) {
                    self.filtered_responses += 1;
                    return false;
                }
                true
            }
            Record::Interim(r) => {
                let dropped = self.dropped.contains(&(r.message.conn, r.message.index));
                self.filtered_responses += u64::from(dropped);
                !dropped
            }
            // A response whose request was not captured cannot be judged: left out.
            Record::Orphan(_) => {
                self.filtered_responses += 1;
                false
            }
            _ => true,
        }
    }

    pub(crate) fn counters(&self) -> [(&'static str, u64); 4] {
        [
            ("sampled_out_requests", self.sampled_out_requests),
            ("sampled_out_records", self.sampled_out_records),
            ("filtered_requests", self.filtered_requests),
            ("filtered_responses", self.filtered_responses),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::FilterArgs;

    #[test]
    fn sampling_is_by_connection_and_symmetric() {
        let a: SocketAddr = "10.0.0.1:40000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:80".parse().unwrap();
        for per_million in [0, 1, 100_000, 999_999, 1_000_000] {
            assert_eq!(
                sample_keeps(a, b, per_million),
                sample_keeps(b, a, per_million)
            );
        }
        assert!(sample_keeps(a, b, 1_000_000));
        assert!(!sample_keeps(a, b, 0));
        // About the share asked for, over many connections.
        let kept = (0..20_000u16)
            .filter(|p| {
                let c: SocketAddr = format!("10.0.0.1:{}", 20_000 + p).parse().unwrap();
                sample_keeps(c, b, 100_000)
            })
            .count();
        assert!((1_800..2_200).contains(&kept), "{kept}");
    }

    fn message(conn: u64, index: u32, bytes: &[u8]) -> crate::exchange::Message {
        crate::exchange::Message {
            conn,
            index,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
            first_ts_ns: 1,
            last_ts_ns: 1,
            bytes: bytes::Bytes::copy_from_slice(bytes),
            head_len: bytes.len() as u32,
            body_len: 0,
            truncation: None,
            external_id: None,
        }
    }

    fn response(conn: u64, index: u32) -> crate::exchange::Response {
        crate::exchange::Response {
            message: message(conn, index, b"HTTP/1.1 200 OK\r\n\r\n"),
            status: 200,
            latency_ns: Some(1),
            latency_last_ns: Some(1),
        }
    }

    #[test]
    fn filtered_requests_take_their_responses_with_them() {
        let filter = FilterArgs {
            exclude_paths: vec!["^/health".into()],
            ..FilterArgs::default()
        }
        .build()
        .unwrap();
        let mut s = Selection {
            filter: Some(filter),
            ..Selection::default()
        };
        let health = b"GET /health HTTP/1.1\r\n\r\n";
        let api = b"GET /api/x HTTP/1.1\r\n\r\n";
        let kept: Vec<bool> = [
            Record::Request(message(1, 0, health)),
            Record::Interim(response(1, 0)),
            Record::Response(response(1, 0)),
            Record::Request(message(1, 1, api)),
            Record::Response(response(1, 1)),
            Record::Orphan(response(2, 0)),
        ]
        .iter()
        .map(|r| s.keep(r))
        .collect();
        assert_eq!(kept, [false, false, false, true, true, false]);
        assert_eq!(
            s.counters(),
            [
                ("sampled_out_requests", 0),
                ("sampled_out_records", 0),
                ("filtered_requests", 1),
                ("filtered_responses", 3),
            ]
        );
        assert!(s.dropped.is_empty(), "answered keys are forgotten");
    }

    #[test]
    fn dropped_keys_stay_bounded() {
        let mut s = Selection::default();
        for i in 0..(MAX_DROPPED_KEYS as u32 + 10) {
            s.remember_dropped((1, i));
        }
        assert_eq!(s.dropped.len(), MAX_DROPPED_KEYS);
        assert!(!s.dropped.contains(&(1, 0)) && s.dropped.contains(&(1, 10)));
    }
}
