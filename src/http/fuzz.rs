//! The HTTP stage's fuzz entry point (`fuzz/fuzz_targets/http_framing.rs`; the seed corpus runs
//! in `tests/fuzz_corpus_http.rs`), built with the `testing` feature only.

use crate::tcp::{CloseReason, Dir, GapCause};

use super::drive::{self, Event};
use super::framing::{
    FrameError, Head, Kind, MessageFramer, Method, RequestContext, RequestHead, ResponseHead,
    Version,
};
use super::{ExtractConfig, Extractor};

/// Frames `bytes` as a sequence of messages of `kind` the way the replay client does (a buffer
/// filled `piece` bytes at a time, the framer consuming from its front); a 1xx is followed by
/// another response to the same request, a tunnel ends HTTP. Each entry is a message's head and
/// length, the last may be the error that stopped framing.
fn frame_sequence(
    kind: Kind,
    bytes: &[u8],
    piece: usize,
) -> Vec<Result<(Option<Head>, usize), FrameError>> {
    let mut framer = MessageFramer::with_max_head(kind, 1024);
    let mut buf: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    let mut head = None;
    let mut len = 0;
    for part in bytes.chunks(piece.max(1)) {
        buf.extend_from_slice(part);
        loop {
            let f = match framer.push(&buf) {
                Ok(f) => f,
                Err(e) => {
                    out.push(Err(e));
                    return out;
                }
            };
            buf.drain(..f.skipped + f.consumed);
            len += f.consumed;
            if f.head.is_some() {
                head = f.head;
            }
            if !f.done {
                break;
            }
            out.push(Ok((head.take(), std::mem::take(&mut len))));
            if out.len() > bytes.len()
                || matches!(out.last(), Some(Ok((Some(h), _))) if h.body == super::framing::BodyKind::Tunnel)
            {
                return out;
            }
            framer.reset(kind);
            if buf.is_empty() {
                break;
            }
        }
    }
    let in_progress = framer.started();
    match framer.finish() {
        Ok(()) if in_progress => out.push(Ok((head.take(), len))),
        Ok(()) => {}
        Err(e) => out.push(Err(e)),
    }
    out
}

/// Fuzz entry point (`fuzz/fuzz_targets/http_framing.rs`, and `tests/fuzz_corpus_http.rs` over the
/// seed corpus): frames the bytes as responses the way the replay client will, whole and split,
/// and requires the same messages; parses them as stored heads; then drives the extractor over a
/// connection scripted from the same bytes, as delivered and with every data call split at a
/// data-derived point, and requires the same records and the output invariants. Panics only when
/// one of those properties fails (a bug), never on the input itself.
pub fn fuzz_framing(data: &[u8]) {
    let Some((&ctl, body)) = data.split_first() else {
        return;
    };
    let method = match ctl & 3 {
        0 => Method::Get,
        1 => Method::Head,
        2 => Method::Connect,
        _ => Method::Post,
    };
    let version = if ctl & 4 != 0 {
        Version::Http09
    } else {
        Version::Http11
    };
    let piece = usize::from(ctl >> 3) + 1;
    for kind in [
        Kind::Response(RequestContext { method, version }),
        Kind::Request,
    ] {
        let whole = frame_sequence(kind, body, body.len());
        let split = frame_sequence(kind, body, piece);
        assert_eq!(
            whole, split,
            "framing differs between whole and {piece}-byte pieces"
        );
    }
    let _ = RequestHead::parse(body);
    let _ = ResponseHead::parse(body);

    let events = script(ctl, body);
    let config = ExtractConfig {
        server_ports: if ctl & 8 != 0 { vec![80] } else { Vec::new() },
        max_body: if ctl & 16 != 0 { Some(16) } else { None },
        max_head: 256,
    };
    let info = drive::conn_info(7, "10.0.0.1:40000", "10.0.0.2:80", ctl & 32 != 0);
    let mut one = Extractor::new(config.clone());
    let as_given = drive::run(&mut one, &info, events.iter().copied());
    let split_events = events.iter().flat_map(|e| match *e {
        Event::Data { dir, ts, bytes } if bytes.len() > 1 => {
            let at = 1 + usize::from(bytes[0]) % (bytes.len() - 1);
            vec![
                Event::Data {
                    dir,
                    ts,
                    bytes: &bytes[..at],
                },
                Event::Data {
                    dir,
                    ts,
                    bytes: &bytes[at..],
                },
            ]
        }
        other => vec![other],
    });
    let mut two = Extractor::new(config.clone());
    let split = drive::run(&mut two, &info, split_events);
    // Resynchronisation deliberately looks at delivery boundaries (a new segment often starts a
    // message), so only runs that never had to resynchronise must be split-invariant.
    let stats = one.stats();
    let framed_throughout = stats.resync_skipped_bytes == 0
        && stats.framing_errors == 0
        && stats.gaps == 0
        && stats.non_http_conns == 0
        && stats.tls_conns == 0;
    if framed_throughout {
        assert_eq!(
            as_given.records, split.records,
            "records differ when data calls are split"
        );
    }
    if let Err(problem) = drive::check_records(&as_given.records) {
        panic!("output invariant broken: {problem}");
    }
    for record in &as_given.records {
        if let crate::exchange::Record::Request(m) = record {
            if m.truncation.is_none() {
                let _ = RequestHead::parse(&m.bytes);
            }
        }
    }
    let bound = 2 * (config.max_head + 2) + 2 * 16 + 4096;
    assert!(
        as_given.max_buffered <= bound + body.len(),
        "buffered {} bytes",
        as_given.max_buffered
    );
}

/// Splits `bytes` into pieces whose sizes the bytes themselves give (1 to 1531 bytes).
fn pieces(bytes: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = bytes;
    let mut i = 0;
    while !rest.is_empty() {
        let pick = bytes.get(i * 7 % bytes.len()).copied().unwrap_or(0);
        let (piece, tail) = rest.split_at((1 + usize::from(pick) * 6).min(rest.len()));
        out.push(piece);
        rest = tail;
        i += 1;
    }
    out
}

/// Requests the synthetic client of script mode 0 sends, one per method the fuzz byte picks.
const SYNTHETIC_REQUESTS: &[u8] = b"GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nCONNECT h:443 HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n";

/// A connection scripted from fuzz bytes; `ctl >> 6` picks how:
/// 0. the bytes are the server's, answering a pipeline of synthetic requests;
/// 1. the bytes are the client's;
/// 2. each control byte picks a direction and an event (data of a length it gives, a gap, a FIN);
/// 3. the bytes are a conversation: the client's up to the first line starting `HTTP/1.`, the
///    server's from there (how the seed corpus is laid out), delivered alternately.
///
/// Data comes in pieces whose sizes the bytes themselves give; the close reason comes from the
/// length.
fn script(ctl: u8, bytes: &[u8]) -> Vec<Event<'_>> {
    let mut events = Vec::new();
    let mut ts = 1_000_000u64;
    let mut tick = || {
        ts += 1000;
        ts
    };
    match ctl >> 6 {
        0 => {
            events.push(Event::Data {
                dir: Dir::FromInitiator,
                ts: tick(),
                bytes: SYNTHETIC_REQUESTS,
            });
            for piece in pieces(bytes) {
                events.push(Event::Data {
                    dir: Dir::FromResponder,
                    ts: tick(),
                    bytes: piece,
                });
            }
            events.push(Event::Fin {
                dir: Dir::FromResponder,
                ts: tick(),
            });
        }
        1 => {
            for piece in pieces(bytes) {
                events.push(Event::Data {
                    dir: Dir::FromInitiator,
                    ts: tick(),
                    bytes: piece,
                });
            }
        }
        2 => {
            let mut bytes = bytes;
            while let Some((&h, rest)) = bytes.split_first() {
                bytes = rest;
                let dir = if h & 1 == 0 {
                    Dir::FromInitiator
                } else {
                    Dir::FromResponder
                };
                match (h >> 1) & 7 {
                    0..=4 => {
                        let len = (usize::from(h >> 4) * 16 + 1).min(bytes.len());
                        let (chunk, rest) = bytes.split_at(len);
                        bytes = rest;
                        events.push(Event::Data {
                            dir,
                            ts: tick(),
                            bytes: chunk,
                        });
                    }
                    5 | 6 => {
                        let cause = if h & 0x80 != 0 {
                            GapCause::Snaplen
                        } else {
                            GapCause::Loss
                        };
                        events.push(Event::Gap {
                            dir,
                            ts: tick(),
                            len: u64::from(h >> 4) + 1,
                            cause,
                        });
                    }
                    _ => events.push(Event::Fin { dir, ts: tick() }),
                }
            }
        }
        _ => {
            let split = if bytes.starts_with(b"HTTP/1.") {
                0
            } else {
                memchr::memmem::find(bytes, b"\nHTTP/1.").map_or(bytes.len(), |i| i + 1)
            };
            let (client, server) = bytes.split_at(split);
            let (mut c, mut s) = (pieces(client).into_iter(), pieces(server).into_iter());
            loop {
                let (a, b) = (c.next(), s.next());
                if a.is_none() && b.is_none() {
                    break;
                }
                if let Some(piece) = a {
                    events.push(Event::Data {
                        dir: Dir::FromInitiator,
                        ts: tick(),
                        bytes: piece,
                    });
                }
                if let Some(piece) = b {
                    events.push(Event::Data {
                        dir: Dir::FromResponder,
                        ts: tick(),
                        bytes: piece,
                    });
                }
            }
            events.push(Event::Fin {
                dir: Dir::FromResponder,
                ts: tick(),
            });
            events.push(Event::Fin {
                dir: Dir::FromInitiator,
                ts: tick(),
            });
        }
    }
    let reason = match bytes.len() % 4 {
        0 => CloseReason::Fin,
        1 => CloseReason::Rst,
        2 => CloseReason::Memory,
        _ => CloseReason::EndOfInput,
    };
    events.push(Event::Close { ts: tick(), reason });
    events
}
