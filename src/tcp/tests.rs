//! Reassembly at its boundaries, through the public API, with a recording handler.

use std::net::SocketAddr;

use proptest::prelude::*;

use super::call_log::{CallLog, Event};
use super::*;
use crate::capture::{Segment, TcpFlags};

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;
const PSH: u8 = TcpFlags::PSH;

const CI: u32 = 1000;
const SI: u32 = 5000;
const SEC: u64 = 1_000_000_000;

use Dir::{FromInitiator as UP, FromResponder as DOWN};

fn addr(s: &str) -> SocketAddr {
    s.parse().expect("test address")
}

/// A reassembler and a call log between one client and one server (more with `other_port`).
struct Wire {
    r: Reassembler<CallLog>,
    h: CallLog,
    client: SocketAddr,
    server: SocketAddr,
}

impl Wire {
    fn new() -> Wire {
        Wire::with(TcpConfig::default())
    }

    fn with(cfg: TcpConfig) -> Wire {
        Wire {
            r: Reassembler::new(cfg),
            h: CallLog::new(),
            client: addr("10.0.0.1:40000"),
            server: addr("10.0.0.2:80"),
        }
    }

    fn send(&mut self, up: bool, ts: u64, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        self.send_cut(up, ts, seq, ack, flags, payload, 0);
    }

    #[allow(clippy::too_many_arguments)]
    fn send_cut(
        &mut self,
        up: bool,
        ts: u64,
        seq: u32,
        ack: u32,
        flags: u8,
        payload: &[u8],
        missing: u32,
    ) {
        let (src, dst) = if up {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        };
        let seg = Segment {
            ts_ns: ts,
            src,
            dst,
            seq,
            ack,
            flags: TcpFlags(flags),
            window: 65535,
            payload,
            missing,
        };
        self.r.segment(&seg, &mut self.h);
        self.r.check_invariants();
    }

    /// Client data at stream offset `off` (after the SYN), acking nothing new.
    fn up(&mut self, ts: u64, off: u32, payload: &[u8]) {
        self.send(true, ts, CI + 1 + off, SI + 1, ACK | PSH, payload);
    }

    /// Server data at stream offset `off`, acking the client's SYN only.
    fn down(&mut self, ts: u64, off: u32, payload: &[u8]) {
        self.send(false, ts, SI + 1 + off, CI + 1, ACK | PSH, payload);
    }

    fn handshake(&mut self) {
        self.send(true, 0, CI, 0, SYN, b"");
        self.send(false, 1, SI, CI + 1, SYN | ACK, b"");
        self.send(true, 2, CI + 1, SI + 1, ACK, b"");
    }

    fn finish(&mut self) {
        self.r.finish(&mut self.h);
        self.r.check_invariants();
        assert_eq!(self.r.buffered_bytes(), 0);
        assert_eq!(self.r.open_flows(), 0);
    }

    fn data_events(&self) -> Vec<(Dir, u64, Vec<u8>)> {
        self.h
            .events
            .iter()
            .filter_map(|e| match e {
                Event::Data {
                    dir, ts_ns, bytes, ..
                } => Some((*dir, *ts_ns, bytes.clone())),
                _ => None,
            })
            .collect()
    }
}

const REQUEST: &[u8] = b"GET /index.html HTTP/1.1\r\nHost: example.com\r\n\r\n";

#[test]
fn handshake_data_and_fins_give_exact_calls() {
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, REQUEST);
    w.down(20, 0, b"HTTP/1.1 200 OK\r\n\r\n");
    w.send(
        false,
        30,
        SI + 20,
        CI + 1 + REQUEST.len() as u32,
        FIN | ACK,
        b"",
    );
    w.send(
        true,
        40,
        CI + 1 + REQUEST.len() as u32,
        SI + 21,
        FIN | ACK,
        b"",
    );
    let info = ConnInfo {
        id: 1,
        initiator: w.client,
        responder: w.server,
        handshake_seen: true,
    };
    assert_eq!(
        w.h.events,
        vec![
            Event::Open(info),
            Event::Data {
                conn: 1,
                dir: UP,
                ts_ns: 10,
                bytes: REQUEST.to_vec()
            },
            Event::Data {
                conn: 1,
                dir: DOWN,
                ts_ns: 20,
                bytes: b"HTTP/1.1 200 OK\r\n\r\n".to_vec()
            },
            Event::Fin { conn: 1, dir: DOWN },
            Event::Fin { conn: 1, dir: UP },
            Event::Close {
                conn: 1,
                ts_ns: 40,
                reason: CloseReason::Fin
            },
        ]
    );
    assert_eq!(w.r.open_flows(), 0);
    assert_eq!(w.r.stats().closed_fin, 1);
    assert_eq!(w.r.stats().payload_bytes, REQUEST.len() as u64 + 19);
    // The last ACK after both FINs belongs to no connection and opens none.
    w.send(false, 50, SI + 21, CI + 2 + REQUEST.len() as u32, ACK, b"");
    assert_eq!(w.r.stats().ignored_segments, 1);
    assert_eq!(w.h.opened().len(), 1);
}

#[test]
fn every_split_point_in_two_and_three_segments() {
    let n = REQUEST.len();
    for a in 1..n {
        let mut w = Wire::new();
        w.handshake();
        w.up(10, 0, &REQUEST[..a]);
        w.up(11, a as u32, &REQUEST[a..]);
        assert_eq!(w.h.stream(1, UP), REQUEST, "split at {a}");
        // In-order pieces come straight from the segments: one call each.
        assert_eq!(w.data_events().len(), 2);
        assert_eq!(w.r.stats().out_of_order_segments, 0);
        for b in a + 1..n {
            let mut w = Wire::new();
            w.handshake();
            // Last piece first, then the middle, then the first.
            w.up(10, b as u32, &REQUEST[b..]);
            w.up(11, a as u32, &REQUEST[a..b]);
            assert_eq!(w.h.stream(1, UP), b"", "nothing before the first piece");
            w.up(12, 0, &REQUEST[..a]);
            assert_eq!(w.h.stream(1, UP), REQUEST, "split at {a}, {b}");
            let ts: Vec<u64> = w.data_events().iter().map(|e| e.1).collect();
            assert_eq!(
                ts,
                vec![12, 11, 10],
                "each piece keeps its own capture time"
            );
            assert_eq!(w.r.buffered_bytes(), 0);
        }
    }
}

#[test]
fn reordered_segments_wait_for_the_hole() {
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 10, b"KLMNOPQRST");
    w.up(11, 30, b"UVWXYZ");
    assert_eq!(w.r.stats().out_of_order_segments, 2);
    assert!(w.r.buffered_bytes() > 16);
    w.up(12, 0, b"ABCDEFGHIJ");
    assert_eq!(w.h.stream(1, UP), b"ABCDEFGHIJKLMNOPQRST");
    w.up(13, 20, b"0123456789");
    assert_eq!(w.h.stream(1, UP), b"ABCDEFGHIJKLMNOPQRST0123456789UVWXYZ");
    assert_eq!(w.r.buffered_bytes(), 0);
    assert_eq!(w.r.stats().gaps, 0);
}

#[test]
fn duplicates_are_delivered_once() {
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, b"hello ");
    w.up(11, 0, b"hello ");
    w.up(12, 6, b"world");
    w.up(13, 6, b"world");
    w.up(14, 20, b"later");
    w.up(15, 20, b"later");
    assert_eq!(w.h.stream(1, UP), b"hello world");
    assert_eq!(w.r.stats().retransmitted_bytes, 6 + 5 + 5);
}

#[test]
fn overlapping_retransmission_delivers_only_new_bytes_and_first_copy_wins() {
    // Delivered [0,10) and [10,20); a retransmission [5,25) brings only [20,25).
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, b"0123456789");
    w.up(11, 10, b"abcdefghij");
    w.up(12, 5, b"XXXXXXXXXXXXXXXklmno");
    assert_eq!(w.h.stream(1, UP), b"0123456789abcdefghijklmno");
    assert_eq!(w.r.stats().retransmitted_bytes, 15);

    // Buffered [10,14) and [16,20) with different boundaries; the retransmission [8,22)
    // overlaps both: the buffered copies win, only the holes are taken from it.
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, b"01234567");
    w.up(11, 10, b"AAAA");
    w.up(12, 16, b"BBBB");
    w.up(13, 8, b"xxyyyyzzwwwwvv");
    assert_eq!(w.h.stream(1, UP), b"01234567xxAAAAzzBBBBvv");
    let ts: Vec<u64> = w.data_events().iter().map(|e| e.1).collect();
    assert_eq!(ts, vec![10, 13, 11, 13, 12, 13]);
    assert_eq!(w.r.stats().retransmitted_bytes, 8);
}

#[test]
fn sequence_numbers_wrap_mid_message() {
    for isn in [u32::MAX - 20, u32::MAX - 1, u32::MAX, 0] {
        let mut w = Wire::new();
        w.send(true, 0, isn, 0, SYN, b"");
        w.send(false, 1, SI, isn.wrapping_add(1), SYN | ACK, b"");
        let at = |off: u32| isn.wrapping_add(1).wrapping_add(off);
        // Out of order across the wrap, then in order.
        w.send(true, 2, at(30), SI + 1, ACK, &REQUEST[30..]);
        w.send(true, 3, at(0), SI + 1, ACK, &REQUEST[..15]);
        w.send(true, 4, at(15), SI + 1, ACK, &REQUEST[15..30]);
        assert_eq!(w.h.stream(1, UP), REQUEST, "isn {isn}");
        let end = at(REQUEST.len() as u32);
        w.send(true, 5, end, SI + 1, FIN | ACK, b"");
        w.send(false, 6, SI + 1, end.wrapping_add(1), FIN | ACK, b"");
        assert_eq!(w.h.closed(), vec![(1, CloseReason::Fin)], "isn {isn}");
        assert_eq!(w.r.stats().gaps, 0);
    }
}

#[test]
fn keepalive_and_zero_window_probes_deliver_nothing() {
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, b"abc");
    // Keep-alives: seq = next - 1 with no byte, or one garbage byte.
    w.up(11, 2, b"");
    w.up(12, 2, b"\0");
    assert_eq!(w.r.stats().keepalive_probes, 2);
    // Linux zero-window probe: seq = next - 1, no data. Windows probe: the next byte itself,
    // later sent again inside a full segment.
    w.up(13, 2, b"");
    w.up(14, 3, b"d");
    w.up(15, 3, b"defg");
    // Pure ACKs.
    w.send(false, 16, SI + 1, CI + 8, ACK, b"");
    assert_eq!(w.h.stream(1, UP), b"abcdefg");
    assert_eq!(w.r.stats().gaps, 0);
    assert_eq!(w.r.stats().retransmitted_bytes, 1);
    assert_eq!(w.r.stats().keepalive_probes, 3);
}

#[test]
fn fin_waits_for_data_before_it() {
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, REQUEST);
    // Server data with FIN arrives before the data in front of it.
    w.down(11, 5, b"world");
    w.send(false, 12, SI + 11, CI + 1, FIN | ACK, b"");
    assert!(w.h.fins().is_empty());
    w.down(13, 0, b"hello");
    assert_eq!(w.h.fins(), vec![(1, DOWN)]);
    assert_eq!(w.h.stream(1, DOWN), b"helloworld");
    // Data after the FIN position is nonsense and dropped.
    w.down(14, 10, b"junk");
    assert_eq!(w.h.stream(1, DOWN), b"helloworld");
}

#[test]
fn rst_delivers_buffered_data_after_a_gap_and_closes() {
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, b"abc");
    w.up(11, 10, b"klm");
    w.send(false, 12, SI + 1, 0, RST, b"");
    assert_eq!(w.h.stream(1, UP), b"abcklm");
    assert_eq!(w.h.gaps(1, UP), vec![(7, GapCause::Loss)]);
    assert_eq!(w.h.closed(), vec![(1, CloseReason::Rst)]);
    assert_eq!(w.r.buffered_bytes(), 0);
    // A stray RST afterwards opens nothing.
    w.send(true, 13, CI + 14, 0, RST, b"");
    assert_eq!(w.r.stats().ignored_segments, 1);
    assert_eq!(w.r.open_flows(), 0);
}

#[test]
fn connection_without_syn_is_picked_up_at_the_first_data() {
    let mut w = Wire::new();
    // Pure ACKs of a connection already open: nothing to follow yet.
    w.send(false, 1, 70_000, 90_000, ACK, b"");
    assert_eq!(w.r.open_flows(), 0);
    // The server speaks first in the capture: it is taken as the initiator (a guess).
    w.send(false, 2, 70_000, 90_000, ACK, b"tail of a response");
    w.send(true, 3, 90_000, 70_018, ACK, b"GET / HTTP/1.1\r\n\r\n");
    w.send(false, 4, 70_018, 90_018, ACK, b"HTTP/1.1 200 OK\r\n");
    let opened = w.h.opened();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].initiator, w.server);
    assert_eq!(opened[0].responder, w.client);
    assert!(!opened[0].handshake_seen);
    assert_eq!(w.h.stream(1, UP), b"tail of a responseHTTP/1.1 200 OK\r\n");
    assert_eq!(w.h.stream(1, DOWN), b"GET / HTTP/1.1\r\n\r\n");
    w.finish();
    assert_eq!(w.h.closed(), vec![(1, CloseReason::EndOfInput)]);
}

#[test]
fn syn_ack_without_syn_knows_the_initiator() {
    let mut w = Wire::new();
    w.send(false, 1, SI, CI + 1, SYN | ACK, b"");
    w.up(2, 0, b"GET");
    w.down(3, 0, b"HTTP");
    let opened = w.h.opened();
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0].initiator, w.client);
    assert!(opened[0].handshake_seen);
    assert_eq!(w.h.stream(1, UP), b"GET");
    assert_eq!(w.h.stream(1, DOWN), b"HTTP");
    // The SYN seen late (capture reordering) belongs to the same connection.
    w.send(true, 4, CI, 0, SYN, b"");
    assert_eq!(w.h.opened().len(), 1);
}

#[test]
fn fast_open_data_in_the_syn_is_delivered() {
    let mut w = Wire::new();
    w.send(true, 0, CI, 0, SYN, b"GET / HTTP/1.1\r\n");
    w.send(false, 1, SI, CI + 17, SYN | ACK, b"");
    w.up(2, 16, b"\r\n");
    // A retransmitted SYN with its data brings nothing new.
    w.send(true, 3, CI, 0, SYN, b"GET / HTTP/1.1\r\n");
    assert_eq!(w.h.stream(1, UP), b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(w.h.opened().len(), 1);
}

#[test]
fn a_new_syn_on_the_same_addresses_opens_a_new_connection() {
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, b"one");
    w.send(true, 11, CI + 4, SI + 1, FIN | ACK, b"");
    // Port reuse after a half-close: the old connection ends (as FIN), a new one starts.
    w.send(true, 12, 77_000, 0, SYN, b"");
    w.send(false, 13, 88_000, 77_001, SYN | ACK, b"");
    w.send(true, 14, 77_001, 88_001, ACK | PSH, b"two");
    // A SYN with yet another ISN while the second connection is open replaces it too.
    w.send(true, 15, 99_000, 0, SYN, b"");
    w.send(true, 16, 99_001, 0, ACK | PSH, b"three");
    assert_eq!(
        w.h.closed(),
        vec![(1, CloseReason::Fin), (2, CloseReason::Rst)]
    );
    assert_eq!(w.h.stream(1, UP), b"one");
    assert_eq!(w.h.stream(2, UP), b"two");
    assert_eq!(w.h.stream(3, UP), b"three");
    let ids: Vec<u64> = w.h.opened().iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![1, 2, 3]);
}

#[test]
fn ack_beyond_a_hole_reports_the_loss() {
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, b"GET /a HTTP/1.1\r\n\r\n");
    // The first response segment [0,100) was lost by the capture; [100,150) arrives.
    w.down(11, 100, &[b'x'; 50]);
    // A repeated ACK proves nothing new: the capture may just be reordered.
    w.send(true, 12, CI + 20, SI + 1, ACK, b"");
    assert!(w.h.gaps(1, DOWN).is_empty());
    // The client acknowledges all 150 bytes: the receiver has bytes the capture never saw.
    w.send(true, 13, CI + 20, SI + 151, ACK, b"");
    assert_eq!(w.h.gaps(1, DOWN), vec![(100, GapCause::Loss)]);
    assert_eq!(w.h.stream(1, DOWN), vec![b'x'; 50]);
    // The late copy of the lost segment is old news now.
    w.down(14, 0, &[b'y'; 100]);
    assert_eq!(w.h.stream(1, DOWN).len(), 50);
    assert_eq!(w.r.stats().gap_bytes_loss, 100);
}

#[test]
fn ack_of_a_fin_after_lost_data_closes_the_stream() {
    let mut w = Wire::new();
    w.handshake();
    w.down(10, 0, b"abc");
    // [3,10) lost, then the FIN at 10.
    w.send(false, 11, SI + 11, CI + 1, FIN | ACK, b"");
    assert!(w.h.fins().is_empty());
    w.send(true, 12, CI + 1, SI + 12, FIN | ACK, b"");
    assert_eq!(w.h.gaps(1, DOWN), vec![(7, GapCause::Loss)]);
    assert_eq!(w.h.fins(), vec![(1, DOWN), (1, UP)]);
    assert_eq!(w.h.closed(), vec![(1, CloseReason::Fin)]);
}

#[test]
fn snaplen_cut_bytes_become_gaps_in_place() {
    let mut w = Wire::new();
    w.handshake();
    // In order: 4 bytes captured of 10.
    w.send_cut(true, 10, CI + 1, SI + 1, ACK, b"abcd", 6);
    // Out of order: [20,24) captured of [20,30), then [10,20) in full.
    w.send_cut(true, 11, CI + 21, SI + 1, ACK, b"klmn", 6);
    w.send_cut(true, 12, CI + 11, SI + 1, ACK, b"0123456789", 0);
    w.send(true, 13, CI + 31, SI + 1, ACK, b"end");
    let pieces: Vec<(u64, Option<Vec<u8>>)> =
        w.h.events
            .iter()
            .filter_map(|e| match e {
                Event::Data { ts_ns, bytes, .. } => Some((*ts_ns, Some(bytes.clone()))),
                Event::Gap {
                    ts_ns, len, cause, ..
                } => {
                    assert_eq!(*cause, GapCause::Snaplen);
                    Some((*ts_ns, Some(vec![b'?'; *len as usize])))
                }
                _ => None,
            })
            .collect();
    let flat: Vec<u8> = pieces
        .iter()
        .flat_map(|p| p.1.clone().unwrap_or_default())
        .collect();
    assert_eq!(flat, b"abcd??????0123456789klmn??????end");
    assert_eq!(w.r.stats().gap_bytes_snaplen, 12);
    assert_eq!(w.r.stats().gaps, 2);
}

#[test]
fn idle_connections_expire_on_capture_time() {
    let mut w = Wire::with(TcpConfig {
        idle_timeout_ns: 10 * SEC,
        ..TcpConfig::default()
    });
    w.handshake();
    w.up(SEC, 0, b"abc");
    w.up(SEC, 10, b"klm");
    // Another connection 12 s later: the first one is idle, its buffered data comes out.
    w.client = addr("10.0.0.3:50000");
    w.send(true, 13 * SEC, 1, 0, SYN, b"");
    assert_eq!(w.h.stream(1, UP), b"abcklm");
    assert_eq!(w.h.gaps(1, UP), vec![(7, GapCause::Loss)]);
    assert_eq!(
        w.h.events.last(),
        Some(&Event::Open(ConnInfo {
            id: 2,
            initiator: w.client,
            responder: w.server,
            handshake_seen: true
        }))
    );
    assert!(w.h.events.contains(&Event::Close {
        conn: 1,
        ts_ns: SEC,
        reason: CloseReason::Idle
    }));
    assert_eq!(w.r.open_flows(), 1);
    // The live path: time passes without segments.
    w.r.expire(30 * SEC, &mut w.h);
    assert_eq!(w.r.open_flows(), 0);
    assert_eq!(w.r.stats().closed_idle, 2);
}

#[test]
fn over_the_total_budget_the_largest_flow_is_given_up() {
    let mut w = Wire::with(TcpConfig {
        max_total_bytes: 3000,
        ..TcpConfig::default()
    });
    // Three connections each hold out-of-order data: 600, 1200, 900 bytes (plus chunk costs).
    for (i, size) in [600usize, 1200, 900].into_iter().enumerate() {
        w.client = addr(&format!("10.0.0.1:{}", 40000 + i));
        w.handshake();
        w.up(10, 100, &vec![b'x'; size]);
    }
    let cost = super::stream::CHUNK_COST;
    assert_eq!(w.r.buffered_bytes(), 2700 + 3 * cost);
    assert_eq!(w.r.stats().given_up_flows, 0);
    // A fourth pushes the total over: the 1200-byte one goes first, and that is enough.
    w.client = addr("10.0.0.1:40003");
    w.handshake();
    w.up(10, 100, &[b'y'; 500]);
    assert_eq!(w.h.closed(), vec![(2, CloseReason::Memory)]);
    assert_eq!(w.r.stats().given_up_flows, 1);
    assert_eq!(w.r.stats().given_up_bytes, (1200 + cost) as u64);
    assert_eq!(w.r.buffered_bytes(), 2000 + 3 * cost);
    assert_eq!(w.r.open_flows(), 3);
    // The given-up connection's later segments are absorbed without calls, until its FINs.
    w.client = addr("10.0.0.1:40001");
    let before = w.h.events.len();
    w.up(11, 0, &[b'z'; 100]);
    w.send(true, 12, CI + 1301, SI + 1, FIN | ACK, b"");
    w.send(false, 13, SI + 1, CI + 1302, FIN | ACK, b"");
    assert_eq!(w.h.events.len(), before);
    assert_eq!(w.r.open_flows(), 3);
    w.finish();
    assert_eq!(w.r.stats().closed_memory, 1);
    assert_eq!(w.r.stats().closed_end_of_input, 3);
    assert!(w.r.stats().peak_buffered_bytes <= 3000);
}

#[test]
fn a_full_table_evicts_the_idlest_flow() {
    let mut w = Wire::with(TcpConfig {
        max_flows: 2,
        ..TcpConfig::default()
    });
    for i in 0..2 {
        w.client = addr(&format!("10.0.0.1:{}", 40000 + i));
        w.handshake();
    }
    // Touch the first one again: the second becomes the idlest.
    w.client = addr("10.0.0.1:40000");
    w.up(5, 0, b"a");
    w.client = addr("10.0.0.1:40002");
    w.handshake();
    assert_eq!(w.h.closed(), vec![(2, CloseReason::Memory)]);
    assert_eq!(w.r.stats().evicted_flows, 1);
    assert_eq!(w.r.open_flows(), 2);
}

#[test]
fn too_many_holes_gives_up_the_oldest() {
    let mut w = Wire::with(TcpConfig {
        max_holes: 2,
        ..TcpConfig::default()
    });
    w.handshake();
    w.up(10, 10, b"b");
    w.up(11, 20, b"c");
    assert!(w.h.gaps(1, UP).is_empty());
    w.up(12, 30, b"d");
    assert_eq!(w.h.gaps(1, UP), vec![(10, GapCause::Overflow)]);
    assert_eq!(w.h.stream(1, UP), b"b");
    // A segment touching both neighbours closes a hole without adding one.
    w.up(13, 21, b"xxxxxxxxx");
    w.up(14, 11, b"yyyyyyyyy");
    assert_eq!(w.h.stream(1, UP), b"byyyyyyyyycxxxxxxxxxd");
    assert_eq!(w.r.stats().gap_bytes_overflow, 10);
}

#[test]
fn over_the_flow_share_the_oldest_out_of_order_data_becomes_a_gap() {
    let cost = super::stream::CHUNK_COST;
    let mut w = Wire::with(TcpConfig {
        max_flow_bytes: 2 * (1000 + cost),
        ..TcpConfig::default()
    });
    w.handshake();
    w.up(10, 100, &[b'a'; 1000]);
    w.up(11, 1200, &[b'b'; 1000]);
    assert!(w.h.gaps(1, UP).is_empty());
    w.up(12, 2300, &[b'c'; 1000]);
    assert_eq!(w.h.gaps(1, UP), vec![(100, GapCause::Overflow)]);
    assert_eq!(w.h.stream(1, UP), vec![b'a'; 1000]);
    assert_eq!(w.r.buffered_bytes(), 2 * (1000 + cost));
}

#[test]
fn over_the_flow_share_held_by_the_next_stage_the_connection_is_given_up() {
    // The next stage keeps every byte (a body stored whole): nothing out of order can be given
    // up, so the connection goes, counted, and its later segments are absorbed.
    let mut w = Wire::with(TcpConfig {
        max_flow_bytes: 2500,
        ..TcpConfig::default()
    });
    w.h.hold_bytes = true;
    w.handshake();
    w.up(10, 0, &[b'a'; 1000]);
    w.up(11, 1000, &[b'b'; 1000]);
    assert_eq!(w.r.buffered_bytes(), 2000);
    w.up(12, 2000, &[b'c'; 1000]);
    assert_eq!(w.h.closed(), vec![(1, CloseReason::Memory)]);
    assert_eq!(w.r.stats().given_up_flows, 1);
    assert_eq!(w.r.stats().given_up_bytes, 3000);
    assert_eq!(w.r.stats().peak_buffered_bytes, 2000);
    assert_eq!(w.r.buffered_bytes(), 0);
    let before = w.h.events.len();
    w.up(13, 3000, &[b'd'; 1000]);
    assert_eq!(w.h.events.len(), before);
    w.finish();
    assert_eq!(w.r.stats().closed_memory, 1);
}

#[test]
fn a_handler_that_skips_gets_no_more_bytes() {
    let mut w = Wire::new();
    w.h.skip_after = Some(3);
    w.handshake();
    w.up(10, 5, b"later");
    w.up(11, 0, b"abcde");
    w.down(12, 0, b"HTTP");
    assert_eq!(w.h.stream(1, UP), b"abcde");
    assert_eq!(w.h.stream(1, DOWN), b"");
    assert_eq!(w.r.buffered_bytes(), 0);
    w.send(true, 13, CI + 11, SI + 1, FIN | ACK, b"");
    w.send(false, 14, SI + 1, CI + 12, FIN | ACK, b"");
    assert_eq!(w.h.closed(), vec![(1, CloseReason::Fin)]);
    assert!(w.h.fins().is_empty());
}

#[test]
fn segments_far_out_of_window_are_dropped() {
    let mut w = Wire::new();
    w.handshake();
    w.send(true, 10, CI + 1 + (1 << 30) + 5, SI + 1, ACK, b"far");
    w.send_cut(true, 11, CI + 1, SI + 1, ACK, b"ab", u32::MAX);
    assert_eq!(w.r.stats().out_of_window_segments, 1);
    assert_eq!(w.h.stream(1, UP), b"ab");
    w.finish();
}

#[test]
fn idle_flow_state_is_small() {
    let size = Reassembler::<CallLog>::idle_flow_size();
    // Flow (ConnInfo, two directions, LRU and budget fields) plus the handler's state; the
    // table adds a 36-byte key, a slot index and an 8-byte LRU link per flow.
    eprintln!("flow state: {size} bytes");
    assert!(size <= 200, "flow state is {size} bytes");
}

/// Segments of one direction of a stream: (offset, length) pieces covering `0..len`, shuffled,
/// some repeated with different boundaries.
fn cuts(len: usize) -> impl Strategy<Value = Vec<(usize, usize)>> {
    let points = proptest::collection::vec(0..=len, 0..12);
    let extra = proptest::collection::vec((0..len.max(1), 1..40usize), 0..6);
    (points, extra, any::<u64>()).prop_map(move |(mut points, extra, seed)| {
        points.push(0);
        points.push(len);
        points.sort_unstable();
        points.dedup();
        let mut segs: Vec<(usize, usize)> =
            points.windows(2).map(|w| (w[0], w[1] - w[0])).collect();
        for (off, l) in extra {
            segs.push((off, l.min(len - off)));
        }
        shuffle(&mut segs, seed);
        segs
    })
}

fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = (seed >> 33) as usize % (i + 1);
        v.swap(i, j);
    }
}

/// Replays what the call log got on one direction against the stream: every delivered byte is
/// the stream's byte at its offset; returns (bytes delivered, bytes in gaps).
fn account(h: &CallLog, dir: Dir, stream: &[u8]) -> (u64, u64) {
    let mut off = 0usize;
    let (mut data, mut gaps) = (0u64, 0u64);
    for e in &h.events {
        match e {
            Event::Data { dir: d, bytes, .. } if *d == dir => {
                assert_eq!(
                    stream.get(off..off + bytes.len()),
                    Some(&bytes[..]),
                    "bytes at offset {off}"
                );
                off += bytes.len();
                data += bytes.len() as u64;
            }
            Event::Gap { dir: d, len, .. } if *d == dir => {
                off += *len as usize;
                gaps += len;
            }
            _ => {}
        }
    }
    (data, gaps)
}

#[derive(Debug, Clone)]
struct Case {
    isn: [u32; 2],
    streams: [Vec<u8>; 2],
    cuts: [Vec<(usize, usize)>; 2],
    /// Which direction each step takes its next segment from.
    order: Vec<bool>,
    drops: Vec<bool>,
}

fn case() -> impl Strategy<Value = Case> {
    let isn = prop_oneof![Just(u32::MAX - 50), any::<u32>(), Just(0u32)];
    (
        isn.clone(),
        isn,
        proptest::collection::vec(any::<u8>(), 1..300),
        proptest::collection::vec(any::<u8>(), 1..300),
    )
        .prop_flat_map(|(i0, i1, s0, s1)| {
            let (l0, l1) = (s0.len(), s1.len());
            (
                Just([i0, i1]),
                Just([s0, s1]),
                cuts(l0),
                cuts(l1),
                proptest::collection::vec(any::<bool>(), 60),
                proptest::collection::vec(proptest::bool::weighted(0.2), 60),
            )
        })
        .prop_map(|(isn, streams, c0, c1, order, drops)| Case {
            isn,
            streams,
            cuts: [c0, c1],
            order,
            drops,
        })
}

/// Plays a case: SYN, SYN-ACK, then the shuffled segments of both directions interleaved (some
/// dropped by the "capture" when `drop`), then both FINs. With `acks`, every segment acknowledges
/// what its sender really received (dropped segments included: only the capture lost them).
fn run(case: &Case, drop: bool, acks: bool) -> Wire {
    let mut w = Wire::with(TcpConfig {
        max_holes: 1000,
        ..TcpConfig::default()
    });
    let [ci, si] = case.isn;
    w.send(true, 0, ci, 0, SYN, b"");
    w.send(false, 1, si, ci.wrapping_add(1), SYN | ACK, b"");
    let mut next = [0usize; 2];
    let mut step = 0;
    // What each side's peer received of its stream, and the contiguous prefix of it.
    let mut received = [
        vec![false; case.streams[0].len()],
        vec![false; case.streams[1].len()],
    ];
    let mut prefix = [0usize; 2];
    let ack_for = |d: usize, prefix: &[usize; 2]| {
        let other = 1 - d;
        let ack = case.isn[other]
            .wrapping_add(1)
            .wrapping_add(prefix[other] as u32);
        if acks { (ack, ACK) } else { (0, 0) }
    };
    while next[0] < case.cuts[0].len() || next[1] < case.cuts[1].len() {
        let want = case
            .order
            .get(step % case.order.len())
            .copied()
            .unwrap_or(true);
        let d = if next[usize::from(want)] < case.cuts[usize::from(want)].len() {
            usize::from(want)
        } else {
            usize::from(!want)
        };
        let (off, len) = case.cuts[d][next[d]];
        next[d] += 1;
        step += 1;
        let (ack, ack_flag) = ack_for(d, &prefix);
        for seen in &mut received[d][off..off + len] {
            *seen = true;
        }
        while received[d].get(prefix[d]) == Some(&true) {
            prefix[d] += 1;
        }
        if drop && case.drops.get(step % case.drops.len()) == Some(&true) {
            continue;
        }
        let seq = case.isn[d].wrapping_add(1).wrapping_add(off as u32);
        let payload = &case.streams[d][off..off + len];
        w.send(d == 0, 10 + step as u64, seq, ack, PSH | ack_flag, payload);
    }
    // FINs are never lost here, so the end of each stream is known.
    for d in [0usize, 1] {
        let end = case.isn[d]
            .wrapping_add(1)
            .wrapping_add(case.streams[d].len() as u32);
        let (ack, ack_flag) = ack_for(d, &prefix);
        w.send(d == 0, 1000, end, ack, FIN | ack_flag, b"");
    }
    w.finish();
    w
}

proptest! {
    #[test]
    fn reordered_and_duplicated_segments_give_the_stream_exactly(
        case in case(),
        acks in any::<bool>(),
    ) {
        let w = run(&case, false, acks);
        prop_assert_eq!(w.h.stream(1, UP), case.streams[0].clone());
        prop_assert_eq!(w.h.stream(1, DOWN), case.streams[1].clone());
        prop_assert_eq!(w.r.stats().gaps, 0);
        prop_assert_eq!(w.h.closed(), vec![(1, CloseReason::Fin)]);
    }

    #[test]
    fn with_losses_delivered_bytes_and_gaps_account_for_the_stream(
        case in case(),
        acks in any::<bool>(),
    ) {
        let w = run(&case, true, acks);
        for (d, dir) in [(0, UP), (1, DOWN)] {
            let (data, gaps) = account(&w.h, dir, &case.streams[d]);
            prop_assert_eq!(data + gaps, case.streams[d].len() as u64);
        }
        prop_assert_eq!(w.h.fins().len(), 2);
    }
}

/// Anything at all on the wire: flags, numbers and lengths at random, around a few base values so
/// that segments hit each other's windows, on three address pairs, with tight limits.
fn wild_segment() -> impl Strategy<Value = (u8, bool, u32, u32, u8, usize, u32, u64)> {
    let near = prop_oneof![
        (0u32..3000).prop_map(|x| x.wrapping_add(u32::MAX - 1000)),
        0u32..3000,
        any::<u32>(),
    ];
    (
        0u8..3,
        any::<bool>(),
        near.clone(),
        near,
        any::<u8>(),
        prop_oneof![Just(0usize), 1usize..50, 1000usize..1500],
        prop_oneof![Just(0u32), any::<u32>(), 0u32..100],
        0u64..5_000_000_000,
    )
}

proptest! {
    #[test]
    fn any_segment_sequence_keeps_the_invariants(
        segs in proptest::collection::vec(wild_segment(), 0..120),
        max_holes in 0usize..4,
        max_flow_bytes in 0usize..6000,
        max_total_bytes in 0usize..9000,
        max_flows in 0usize..3,
        skip_after in proptest::option::of(0u64..200),
    ) {
        let mut w = Wire::with(TcpConfig {
            first_conn_id: u64::MAX - 2,
            idle_timeout_ns: 2_000_000_000,
            max_flow_bytes,
            max_total_bytes,
            max_holes,
            max_flows,
        });
        w.h.hold_bytes = true;
        w.h.skip_after = skip_after;
        let payload = vec![b'p'; 1500];
        let ports = ["10.0.0.1:1", "10.0.0.1:2", "[::1]:3"];
        let mut clock = 0u64;
        for (pair, up, seq, ack, flags, len, missing, dt) in segs {
            w.client = addr(ports[usize::from(pair)]);
            clock = if dt < 4_000_000_000 { clock + dt } else { dt };
            w.send_cut(up, clock, seq, ack, flags, &payload[..len], missing);
            prop_assert!(w.r.buffered_bytes() <= max_total_bytes);
        }
        w.finish();
        let stats = w.r.stats();
        prop_assert_eq!(stats.flows_opened, stats.flows_closed());
        prop_assert_eq!(w.h.opened().len() as u64, stats.flows_opened);
        prop_assert_eq!(w.h.closed().len() as u64, stats.flows_closed());
    }
}

#[test]
fn stats_list_every_counter_by_name() {
    let mut w = Wire::new();
    w.handshake();
    w.up(10, 0, b"abc");
    let stats = w.r.stats().clone();
    let pairs: Vec<(&str, u64)> = stats.iter().collect();
    assert_eq!(pairs.len(), 21);
    assert_eq!(pairs[0], ("segments", 4));
    assert_eq!(pairs[1], ("payload_bytes", 3));
    assert!(pairs.contains(&("flows_opened", 1)));
    assert!(pairs.contains(&("ignored_segments", 0)));
}
