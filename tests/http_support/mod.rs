//! Shared helpers for the HTTP extractor tests: a script builder over `reel::http::drive` and a
//! one-line summary of each record, so tests compare whole outputs exactly.
#![allow(dead_code)]

use reel::exchange::Record;
use reel::http::drive::{self, Event, Outcome};
use reel::http::framing::{RequestHead, ResponseHead};
use reel::http::{ExtractConfig, ExtractStats, Extractor};
use reel::tcp::{CloseReason, ConnInfo, Dir, GapCause};

/// The client's direction in the default connection (it sent the SYN).
pub const C: Dir = Dir::FromInitiator;
/// The server's direction.
pub const S: Dir = Dir::FromResponder;

/// A scripted connection: events with owned bytes.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub events: Vec<Owned>,
}

#[derive(Debug, Clone)]
pub enum Owned {
    Data(Dir, u64, Vec<u8>),
    Gap(Dir, u64, u64, GapCause),
    Fin(Dir, u64),
    Close(u64, CloseReason),
}

impl Script {
    pub fn new() -> Self {
        Script::default()
    }
    pub fn data(mut self, dir: Dir, ts: u64, bytes: impl AsRef<[u8]>) -> Self {
        self.events
            .push(Owned::Data(dir, ts, bytes.as_ref().to_vec()));
        self
    }
    pub fn gap(mut self, dir: Dir, ts: u64, len: u64) -> Self {
        self.events.push(Owned::Gap(dir, ts, len, GapCause::Loss));
        self
    }
    pub fn gap_cause(mut self, dir: Dir, ts: u64, len: u64, cause: GapCause) -> Self {
        self.events.push(Owned::Gap(dir, ts, len, cause));
        self
    }
    pub fn fin(mut self, dir: Dir, ts: u64) -> Self {
        self.events.push(Owned::Fin(dir, ts));
        self
    }
    pub fn close(mut self, ts: u64, reason: CloseReason) -> Self {
        self.events.push(Owned::Close(ts, reason));
        self
    }
    pub fn events(&self) -> Vec<Event<'_>> {
        self.events
            .iter()
            .map(|e| match e {
                Owned::Data(dir, ts, bytes) => Event::Data {
                    dir: *dir,
                    ts: *ts,
                    bytes,
                },
                Owned::Gap(dir, ts, len, cause) => Event::Gap {
                    dir: *dir,
                    ts: *ts,
                    len: *len,
                    cause: *cause,
                },
                Owned::Fin(dir, ts) => Event::Fin { dir: *dir, ts: *ts },
                Owned::Close(ts, reason) => Event::Close {
                    ts: *ts,
                    reason: *reason,
                },
            })
            .collect()
    }
}

pub fn info() -> ConnInfo {
    drive::conn_info(1, "10.0.0.1:40000", "10.0.0.2:80", true)
}

pub fn run_info(
    config: ExtractConfig,
    info: &ConnInfo,
    script: &Script,
) -> (Outcome, ExtractStats) {
    let mut ex = Extractor::new(config);
    let outcome = drive::run(&mut ex, info, script.events());
    if let Err(problem) = drive::check_records(&outcome.records) {
        panic!("invariant broken: {problem}\n{:#?}", outcome.records);
    }
    (outcome, ex.stats().clone())
}

pub fn run_with(config: ExtractConfig, script: &Script) -> (Vec<String>, ExtractStats) {
    let (outcome, stats) = run_info(config, &info(), script);
    (summarize(&outcome.records), stats)
}

pub fn run(script: &Script) -> (Vec<String>, ExtractStats) {
    run_with(ExtractConfig::default(), script)
}

fn trunc(t: Option<reel::exchange::Truncation>) -> String {
    t.map_or(String::new(), |t| format!(" trunc={}", t.as_str()))
}

/// One line per record: kind, index, what it is, lengths, timing, truncation.
pub fn summarize(records: &[Record]) -> Vec<String> {
    records.iter().map(summary).collect()
}

pub fn summary(record: &Record) -> String {
    match record {
        Record::Request(m) => {
            let what = match RequestHead::parse(&m.bytes) {
                Ok(h) => format!("{} {}", h.method, h.target_str()),
                Err(_) => format!(
                    "<{}>",
                    String::from_utf8_lossy(&m.bytes[..m.head_len as usize])
                ),
            };
            format!(
                "req {} {} head={} body={} stored={} t={}..{}{}",
                m.index,
                what,
                m.head_len,
                m.body_len,
                m.bytes.len(),
                m.first_ts_ns,
                m.last_ts_ns,
                trunc(m.truncation)
            )
        }
        Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => {
            let kind = match record {
                Record::Response(_) => "resp",
                Record::Interim(_) => "1xx",
                _ => "orphan",
            };
            let m = &r.message;
            let reason = ResponseHead::parse(&m.bytes)
                .map(|h| String::from_utf8_lossy(h.reason).into_owned())
                .unwrap_or_default();
            let lat = match (r.latency_ns, r.latency_last_ns) {
                (Some(a), Some(b)) => format!(" lat={a}/{b}"),
                _ => String::new(),
            };
            format!(
                "{kind} {} {} {reason:?} head={} body={} stored={}{lat}{}",
                m.index,
                r.status,
                m.head_len,
                m.body_len,
                m.bytes.len(),
                trunc(m.truncation)
            )
        }
        Record::Gap(g) => format!(
            "gap {} len={} t={}",
            if g.from_client { "client" } else { "server" },
            g.len,
            g.ts_ns
        ),
        other => format!("{other:?}"),
    }
}
