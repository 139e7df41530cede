//! Test, fuzz and bench support: drives an [`Extractor`] through a scripted connection, calling
//! the [`StreamHandler`] methods the way the TCP reassembler does, without the TCP stage.

use std::net::SocketAddr;

use crate::exchange::Record;
use crate::tcp::{CloseReason, ConnInfo, Dir, GapCause, Interest, StreamHandler};

use super::Extractor;

/// One thing that happens on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// In-order bytes on one direction.
    Data {
        /// Direction.
        dir: Dir,
        /// Capture time.
        ts: u64,
        /// The bytes.
        bytes: &'a [u8],
    },
    /// Bytes lost on one direction.
    Gap {
        /// Direction.
        dir: Dir,
        /// Capture time of the data after the gap.
        ts: u64,
        /// Bytes lost.
        len: u64,
        /// Why.
        cause: GapCause,
    },
    /// One direction ended with a FIN.
    Fin {
        /// Direction.
        dir: Dir,
        /// Capture time.
        ts: u64,
    },
    /// The connection leaves the flow table.
    Close {
        /// Capture time.
        ts: u64,
        /// Why.
        reason: CloseReason,
    },
}

/// What running a script gave.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Records drained after each event, in order.
    pub records: Vec<Record>,
    /// The most bytes the extractor reported buffering for the connection after any event.
    pub max_buffered: usize,
    /// True when the extractor asked to skip the connection's payload.
    pub skipped: bool,
}

/// A connection between two addresses; `handshake_seen` as the reassembler would say.
pub fn conn_info(id: u64, initiator: &str, responder: &str, handshake_seen: bool) -> ConnInfo {
    let parse = |s: &str| {
        s.parse::<SocketAddr>()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    };
    ConnInfo {
        id,
        initiator: parse(initiator),
        responder: parse(responder),
        handshake_seen,
    }
}

/// Opens `info`'s connection, plays `events` (data after a `Skip` answer is dropped, as the
/// reassembler does), and closes it at the first `Close` event or, when there is none, at the end
/// with [`CloseReason::EndOfInput`].
pub fn run<'a>(
    extractor: &mut Extractor,
    info: &ConnInfo,
    events: impl IntoIterator<Item = Event<'a>>,
) -> Outcome {
    let mut slot = Some(extractor.open(info));
    let mut out = Outcome {
        records: Vec::new(),
        max_buffered: 0,
        skipped: false,
    };
    let mut last_ts = 0;
    for event in events {
        let Some(conn) = slot.as_mut() else {
            break;
        };
        match event {
            Event::Data { dir, ts, bytes } => {
                last_ts = ts;
                if !out.skipped && extractor.data(conn, info, dir, ts, bytes) == Interest::Skip {
                    out.skipped = true;
                }
            }
            Event::Gap {
                dir,
                ts,
                len,
                cause,
            } => {
                last_ts = ts;
                if !out.skipped && extractor.gap(conn, info, dir, ts, len, cause) == Interest::Skip
                {
                    out.skipped = true;
                }
            }
            Event::Fin { dir, ts } => {
                last_ts = ts;
                extractor.fin(conn, info, dir, ts);
            }
            Event::Close { ts, reason } => {
                if let Some(conn) = slot.take() {
                    extractor.close(conn, info, ts, reason);
                }
            }
        }
        if let Some(conn) = slot.as_ref() {
            out.max_buffered = out.max_buffered.max(Extractor::buffered(conn));
        }
        out.records.extend(extractor.drain());
    }
    if let Some(conn) = slot.take() {
        extractor.close(conn, info, last_ts, CloseReason::EndOfInput);
        out.records.extend(extractor.drain());
    }
    out
}

/// Checks the extractor's output invariants on a list of records: per connection, requests come
/// in strictly increasing index order, and every 1xx or final response that names a request
/// (latency set) comes after that request; an orphan's index is never a request's; stored bytes
/// hold the head and, unless truncated, exactly the body. Returns the first violation.
pub fn check_records(records: &[Record]) -> Result<(), String> {
    use std::collections::{HashMap, HashSet};
    let mut requests: HashMap<u64, HashSet<u32>> = HashMap::new();
    let mut last_request: HashMap<u64, u32> = HashMap::new();
    let mut orphans: HashMap<u64, HashSet<u32>> = HashMap::new();
    for (n, record) in records.iter().enumerate() {
        let message = match record {
            Record::Request(m) => m,
            Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => &r.message,
            _ => continue,
        };
        let head_len = message.head_len as usize;
        if head_len > message.bytes.len() {
            return Err(format!(
                "record {n}: head_len {head_len} > {} bytes",
                message.bytes.len()
            ));
        }
        if message.truncation.is_none()
            && (message.bytes.len() - head_len) as u64 != message.body_len
        {
            return Err(format!(
                "record {n}: untruncated message stores {} body bytes, body_len {}",
                message.bytes.len() - head_len,
                message.body_len
            ));
        }
        if message.first_ts_ns > message.last_ts_ns {
            return Err(format!("record {n}: first_ts after last_ts"));
        }
        let conn = message.conn;
        match record {
            Record::Request(m) => {
                if last_request.get(&conn).is_some_and(|&last| m.index <= last) {
                    return Err(format!(
                        "record {n}: request index {} out of order",
                        m.index
                    ));
                }
                if orphans.get(&conn).is_some_and(|o| o.contains(&m.index)) {
                    return Err(format!(
                        "record {n}: request index {} taken by an orphan",
                        m.index
                    ));
                }
                last_request.insert(conn, m.index);
                requests.entry(conn).or_default().insert(m.index);
            }
            Record::Response(r) | Record::Interim(r) if r.latency_ns.is_some() => {
                let known = requests
                    .get(&conn)
                    .is_some_and(|s| s.contains(&r.message.index));
                if !known {
                    return Err(format!(
                        "record {n}: response to request {} before the request",
                        r.message.index
                    ));
                }
                if r.latency_last_ns < r.latency_ns {
                    return Err(format!("record {n}: latency to last byte below latency"));
                }
            }
            Record::Response(_) => {
                return Err(format!("record {n}: paired response without latency"));
            }
            Record::Orphan(r) => {
                if r.latency_ns.is_some() {
                    return Err(format!("record {n}: orphan with a latency"));
                }
                if requests
                    .get(&conn)
                    .is_some_and(|s| s.contains(&r.message.index))
                {
                    return Err(format!(
                        "record {n}: orphan takes request index {}",
                        r.message.index
                    ));
                }
                orphans.entry(conn).or_default().insert(r.message.index);
            }
            _ => {}
        }
    }
    Ok(())
}
