//! Real captures rewritten at the packet level — segments reordered, duplicated, dropped, the start
//! of the capture cut off, sequence numbers shifted to wrap mid-message, retransmissions with other
//! boundaries — and what extraction must still recover from them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;

use common::exchanges::{Exchange, exchanges};
use common::pcapfile::{
    OwnedFrame, extract, payload, read, seq_ack, set_seq_ack, src_port, tcp_offsets, with_payload,
};
use common::repo;
use reel::exchange::Record;
use reel::record::extraction::ExtractionConfig;

/// What must survive a rewrite: who asked what, what came back, byte for byte, and the latency.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Signature {
    client_port: u16,
    request_ts: u64,
    request: Vec<u8>,
    response: Option<Vec<u8>>,
    status: Option<u16>,
    latency: Option<u64>,
}

fn signature(x: &Exchange) -> Signature {
    Signature {
        client_port: x.request.client.port(),
        request_ts: x.request.first_ts_ns,
        request: x.request.bytes.to_vec(),
        response: x.response.as_ref().map(|r| r.message.bytes.to_vec()),
        status: x.status(),
        latency: x.response.as_ref().and_then(|r| r.latency_ns),
    }
}

fn signatures(records: &[Record]) -> Vec<Signature> {
    let mut s: Vec<Signature> = exchanges(records).iter().map(signature).collect();
    s.sort();
    s
}

fn shop() -> (i32, Vec<OwnedFrame>) {
    let p = read(&repo().join("captures-sample/shop.pcap"));
    (p.linktype, p.frames)
}

/// A deterministic pseudo-random sequence (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn has_payload(f: &OwnedFrame) -> bool {
    tcp_offsets(&f.data).is_some_and(|(_, _, len)| len > 0)
}

#[test]
fn reordered_segments_give_the_same_exchanges() {
    let (lt, frames) = shop();
    let want = signatures(&extract(lt, &frames, ExtractionConfig::default()));
    let mut rng = Rng(0x5eed);
    let mut shuffled = frames.clone();
    let mut swaps = 0;
    // Swap a data segment with a later one of the same connection and direction, when nothing of
    // that connection comes between them (an ACK for the later one must not come first).
    let conn = |f: &OwnedFrame| {
        let (tcp, _, _) = tcp_offsets(&f.data).unwrap_or((0, 0, 0));
        let ports = [
            u16::from_be_bytes([f.data[tcp], f.data[tcp + 1]]),
            u16::from_be_bytes([f.data[tcp + 2], f.data[tcp + 3]]),
        ];
        ((ports[0].min(ports[1]), ports[0].max(ports[1])), ports[0])
    };
    let mut i = 0;
    while i + 1 < shuffled.len() {
        let here = conn(&shuffled[i]);
        let partner = (i + 1..(i + 4).min(shuffled.len()))
            .take_while(|&j| conn(&shuffled[j]).0 != here.0 || conn(&shuffled[j]) == here)
            .find(|&j| conn(&shuffled[j]) == here);
        match partner {
            Some(j)
                if has_payload(&shuffled[i])
                    && has_payload(&shuffled[j])
                    && rng.next() % 2 == 0 =>
            {
                shuffled.swap(i, j);
                swaps += 1;
                i = j + 1;
            }
            _ => i += 1,
        }
    }
    assert!(swaps > 60, "only {swaps} swaps");
    let got = signatures(&extract(lt, &shuffled, ExtractionConfig::default()));
    let diff: Vec<_> = want
        .iter()
        .filter(|s| !got.contains(s))
        .map(|s| (s.client_port, s.request_ts, s.status))
        .collect();
    assert!(
        diff.is_empty(),
        "reordering changed {} exchanges: {diff:?}; got {} want {}",
        diff.len(),
        got.len(),
        want.len()
    );
}

#[test]
fn duplicated_segments_give_the_same_exchanges() {
    let (lt, frames) = shop();
    let want = signatures(&extract(lt, &frames, ExtractionConfig::default()));
    let mut rng = Rng(42);
    let mut doubled = Vec::new();
    for f in &frames {
        doubled.push(f.clone());
        if rng.next() % 5 == 0 {
            // A retransmission seen a little later.
            let mut copy = f.clone();
            copy.ts_ns += 200_000;
            doubled.push(copy);
        }
    }
    let got = signatures(&extract(lt, &doubled, ExtractionConfig::default()));
    assert!(got == want, "duplicates changed the exchanges");
}

#[test]
fn a_capture_that_starts_mid_connection_picks_up_at_the_next_request() {
    let (lt, frames) = shop();
    let want = signatures(&extract(lt, &frames, ExtractionConfig::default()));
    let first = frames[0].ts_ns;
    let last = frames.last().unwrap().ts_ns;
    let cut_ts = first + (last - first) / 3;
    let cut: Vec<OwnedFrame> = frames
        .iter()
        .filter(|f| f.ts_ns >= cut_ts)
        .cloned()
        .collect();
    let records = extract(lt, &cut, ExtractionConfig::default());
    let got: HashMap<(u16, u64), Signature> = signatures(&records)
        .into_iter()
        .map(|s| ((s.client_port, s.request_ts), s))
        .collect();
    let after: Vec<&Signature> = want.iter().filter(|s| s.request_ts > cut_ts).collect();
    assert!(after.len() > 300, "{}", after.len());
    let mut missing = Vec::new();
    for s in &after {
        match got.get(&(s.client_port, s.request_ts)) {
            Some(g) if g == *s => {}
            other => missing.push((s.client_port, s.request_ts, other.is_some())),
        }
    }
    assert!(
        missing.is_empty(),
        "not recovered after the cut: {missing:?}"
    );
}

#[test]
fn dropped_segments_are_gaps_and_everything_else_survives() {
    let (lt, frames) = shop();
    let original = extract(lt, &frames, ExtractionConfig::default());
    let want = exchanges(&original);
    // Drop five data segments that are neither the first nor the last of their message, each on
    // a different connection.
    let mut rng = Rng(7);
    let mut dropped: Vec<usize> = Vec::new();
    let mut ports = Vec::new();
    while dropped.len() < 5 {
        let i = (rng.next() % frames.len() as u64) as usize;
        let f = &frames[i];
        let Some((_, _, len)) = tcp_offsets(&f.data) else {
            continue;
        };
        let port = src_port(&f.data).unwrap();
        let client_port = if port == 8080 {
            u16::from_be_bytes([f.data[36], f.data[37]])
        } else {
            port
        };
        let inside = want.iter().any(|x| {
            let msgs = [Some(&x.request), x.response.as_ref().map(|r| &r.message)];
            msgs.into_iter().flatten().any(|m| {
                m.client.port() == client_port && m.first_ts_ns < f.ts_ns && f.ts_ns < m.last_ts_ns
            })
        });
        if len > 0 && inside && !ports.contains(&client_port) {
            ports.push(client_port);
            dropped.push(i);
        }
    }
    let kept: Vec<OwnedFrame> = frames
        .iter()
        .enumerate()
        .filter(|(i, _)| !dropped.contains(i))
        .map(|(_, f)| f.clone())
        .collect();
    let records = extract(lt, &kept, ExtractionConfig::default());
    let gaps: Vec<u64> = records
        .iter()
        .filter_map(|r| match r {
            Record::Gap(g) => Some(g.len),
            _ => None,
        })
        .collect();
    let lost: u64 = dropped
        .iter()
        .map(|&i| payload(&frames[i].data).len() as u64)
        .sum();
    assert_eq!(gaps.len(), dropped.len(), "gaps {gaps:?}");
    assert_eq!(gaps.iter().sum::<u64>(), lost);
    // Every exchange none of whose messages spans a dropped segment comes out unchanged.
    let touched = |x: &Exchange| {
        let msgs = [Some(&x.request), x.response.as_ref().map(|r| &r.message)];
        msgs.into_iter().flatten().any(|m| {
            dropped.iter().any(|&i| {
                let f = &frames[i];
                ports.contains(&m.client.port())
                    && m.client.port() == {
                        let p = src_port(&f.data).unwrap();
                        if p == 8080 {
                            u16::from_be_bytes([f.data[36], f.data[37]])
                        } else {
                            p
                        }
                    }
                    && m.first_ts_ns <= f.ts_ns
                    && f.ts_ns <= m.last_ts_ns
            })
        })
    };
    let got: std::collections::HashSet<Signature> =
        exchanges(&records).iter().map(signature).collect();
    let untouched: Vec<&Exchange> = want.iter().filter(|x| !touched(x)).collect();
    assert!(untouched.len() >= want.len() - dropped.len());
    for x in untouched {
        assert!(
            got.contains(&signature(x)),
            "lost an exchange no dropped segment touched: {} {}",
            x.method(),
            x.target()
        );
    }
    // The touched ones are kept, marked truncated.
    let truncated = exchanges(&records)
        .iter()
        .filter(|x| {
            x.request.truncation.is_some()
                || x.response
                    .as_ref()
                    .is_some_and(|r| r.message.truncation.is_some())
        })
        .count();
    assert_eq!(truncated, dropped.len());
}

/// Shifts one side's sequence numbers (and the other side's acknowledgements) by `offset`.
fn shift(frames: &mut [OwnedFrame], sender_port: u16, offset: u32) {
    for f in frames.iter_mut() {
        let Some((seq, ack)) = seq_ack(&f.data) else {
            continue;
        };
        if src_port(&f.data) == Some(sender_port) {
            set_seq_ack(&mut f.data, seq.wrapping_add(offset), ack);
        } else {
            set_seq_ack(&mut f.data, seq, ack.wrapping_add(offset));
        }
    }
}

#[test]
fn sequence_numbers_wrapping_mid_message_change_nothing() {
    let p = read(&repo().join("tests/data/odd.pcap"));
    let want = signatures(&extract(p.linktype, &p.frames, ExtractionConfig::default()));
    // Wrap inside the chunked request, then inside the chunked response.
    for (needle, from_server) in [
        (&b"POST /chunked-upload"[..], false),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked", true),
    ] {
        let i = p
            .frames
            .iter()
            .position(|f| payload(&f.data).starts_with(needle))
            .expect("the message");
        let (seq, _) = seq_ack(&p.frames[i].data).unwrap();
        let offset = 0u32.wrapping_sub(seq.wrapping_add(10));
        let mut frames = p.frames.clone();
        let port = src_port(&p.frames[i].data).unwrap();
        assert_eq!(port == 8081, from_server);
        shift(&mut frames, port, offset);
        assert_eq!(seq_ack(&frames[i].data).unwrap().0, u32::MAX - 9);
        let got = signatures(&extract(p.linktype, &frames, ExtractionConfig::default()));
        assert!(
            got == want,
            "wrap inside {:?} changed the exchanges",
            String::from_utf8_lossy(needle)
        );
    }
}

#[test]
fn a_retransmission_overlapping_two_segments_with_other_boundaries() {
    let p = read(&repo().join("tests/data/expect.pcap"));
    let want = signatures(&extract(p.linktype, &p.frames, ExtractionConfig::default()));
    // Two consecutive full-sized segments of the 3000-byte upload.
    let i = (0..p.frames.len() - 1)
        .find(|&i| {
            let (a, b) = (&p.frames[i].data, &p.frames[i + 1].data);
            payload(a).len() > 1000
                && payload(b).len() > 500
                && src_port(a) == src_port(b)
                && seq_ack(b).unwrap().0
                    == seq_ack(a).unwrap().0.wrapping_add(payload(a).len() as u32)
        })
        .expect("two consecutive data segments");
    let (a, b) = (&p.frames[i], &p.frames[i + 1]);
    let (seq_a, _) = seq_ack(&a.data).unwrap();
    let half = payload(&a.data).len() / 2;
    let mut spanning = payload(&a.data)[half..].to_vec();
    spanning.extend_from_slice(&payload(&b.data)[..payload(&b.data).len() / 2]);
    for garbage in [false, true] {
        // With garbage, the retransmission disagrees with the first copy: the first copy wins.
        let bytes: Vec<u8> = if garbage {
            spanning.iter().map(|b| b ^ 0x5a).collect()
        } else {
            spanning.clone()
        };
        let retrans = OwnedFrame {
            ts_ns: b.ts_ns + 1000,
            data: with_payload(&a.data, seq_a.wrapping_add(half as u32), &bytes),
            wire_len: 0,
        };
        let mut frames = p.frames.clone();
        frames.insert(
            i + 2,
            OwnedFrame {
                wire_len: retrans.data.len() as u32,
                ..retrans
            },
        );
        let got = signatures(&extract(p.linktype, &frames, ExtractionConfig::default()));
        assert!(
            got == want,
            "an overlapping retransmission (garbage: {garbage}) changed the exchanges"
        );
    }
}
