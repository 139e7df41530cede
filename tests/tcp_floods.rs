//! Floods through the reassembler: generated segment sequences that try to make it grow without
//! bound. The budget must hold and what was given up must be counted exactly.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use reel::capture::{Segment, TcpFlags};
use reel::tcp::{
    CloseReason, ConnInfo, Dir, GapCause, Interest, Reassembler, StreamHandler, TcpConfig,
};

/// Counts calls and checks delivered bytes against a generated pattern, keeping no bytes.
#[derive(Default)]
struct Counter {
    opened: u64,
    data_bytes: u64,
    gaps: Vec<(u64, GapCause)>,
    closed: Vec<(u64, CloseReason)>,
}

/// Per-connection state: where the next delivered byte falls in the pattern, per direction.
struct Offsets([u64; 2]);

/// The byte at `off` of every generated stream.
fn pattern(off: u64) -> u8 {
    (off % 251) as u8
}

impl StreamHandler for Counter {
    type Conn = Offsets;

    fn open(&mut self, _info: &ConnInfo) -> Offsets {
        self.opened += 1;
        Offsets([0, 0])
    }

    fn data(
        &mut self,
        conn: &mut Offsets,
        _info: &ConnInfo,
        dir: Dir,
        _ts_ns: u64,
        bytes: &[u8],
    ) -> Interest {
        let off = &mut conn.0[dir as usize];
        for (i, b) in bytes.iter().enumerate() {
            assert_eq!(*b, pattern(*off + i as u64), "byte at {}", *off + i as u64);
        }
        *off += bytes.len() as u64;
        self.data_bytes += bytes.len() as u64;
        Interest::Continue
    }

    fn gap(
        &mut self,
        conn: &mut Offsets,
        _info: &ConnInfo,
        dir: Dir,
        _ts_ns: u64,
        len: u64,
        cause: GapCause,
    ) -> Interest {
        conn.0[dir as usize] += len;
        self.gaps.push((len, cause));
        Interest::Continue
    }

    fn fin(&mut self, _conn: &mut Offsets, _info: &ConnInfo, _dir: Dir, _ts_ns: u64) {}

    fn close(&mut self, _conn: Offsets, info: &ConnInfo, _ts_ns: u64, reason: CloseReason) {
        self.closed.push((info.id, reason));
    }

    fn buffered(_conn: &Offsets) -> usize {
        0
    }
}

fn client(i: u32) -> SocketAddr {
    let ip = Ipv4Addr::from(0x0a00_0000 + (i >> 14));
    SocketAddr::new(IpAddr::V4(ip), 1024 + (i & 0x3fff) as u16)
}

fn server() -> SocketAddr {
    "192.168.1.1:80".parse().expect("address")
}

fn seg<'a>(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    flags: u8,
    payload: &'a [u8],
) -> Segment<'a> {
    Segment {
        ts_ns: 1_000_000_000,
        src,
        dst,
        seq,
        ack: 0,
        flags: TcpFlags(flags),
        window: 0,
        payload,
        missing: 0,
    }
}

/// Resident memory of this process, in bytes (Linux).
fn rss() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn a_hundred_thousand_half_open_connections_fit() {
    const N: u32 = 100_000;
    let mut r = Reassembler::new(TcpConfig::default());
    let mut h = Counter::default();
    let before = rss();
    for i in 0..N {
        r.segment(
            &seg(
                client(i),
                server(),
                i.wrapping_mul(7919),
                TcpFlags::SYN,
                b"",
            ),
            &mut h,
        );
    }
    let after = rss();
    assert_eq!(r.open_flows(), N as usize);
    assert_eq!(r.stats().flows_opened, u64::from(N));
    assert_eq!(r.buffered_bytes(), 0);
    if let (Some(before), Some(after)) = (before, after) {
        let per_flow = after.saturating_sub(before) / u64::from(N);
        eprintln!("resident bytes per half-open flow: {per_flow}");
        // Other tests run alongside, so this is a loose bound; the flow state is ~200 bytes.
        assert!(per_flow < 1024, "{per_flow} bytes per half-open flow");
    }
    r.finish(&mut h);
    assert_eq!(r.stats().closed_end_of_input, u64::from(N));
    assert_eq!(r.open_flows(), 0);
}

#[test]
fn a_syn_flood_beyond_the_table_evicts_exactly_the_excess() {
    const N: u32 = 50_000;
    const MAX: usize = 10_000;
    let mut r = Reassembler::new(TcpConfig {
        max_flows: MAX,
        ..TcpConfig::default()
    });
    let mut h = Counter::default();
    for i in 0..N {
        r.segment(&seg(client(i), server(), i, TcpFlags::SYN, b""), &mut h);
    }
    assert_eq!(r.open_flows(), MAX);
    assert_eq!(r.stats().evicted_flows, u64::from(N) - MAX as u64);
    assert_eq!(r.stats().closed_memory, u64::from(N) - MAX as u64);
    // The idlest (oldest) ones went, in order.
    let evicted: Vec<u64> = h.closed.iter().map(|c| c.0).collect();
    assert_eq!(evicted, (1..=u64::from(N) - MAX as u64).collect::<Vec<_>>());
}

/// One connection whose server sends `count` segments of `size` bytes after the handshake,
/// skipping those for which `lost` is true; returns the reassembler and the handler after the
/// end of input.
fn one_stream(
    cfg: TcpConfig,
    count: u32,
    size: u32,
    lost: impl Fn(u32) -> bool,
) -> (Reassembler<Counter>, Counter) {
    let mut r = Reassembler::new(cfg.clone());
    let mut h = Counter::default();
    let (c, s) = (client(0), server());
    let isn = u32::MAX - 5000; // the stream wraps past 2^32 early on
    r.segment(&seg(c, s, 100, TcpFlags::SYN, b""), &mut h);
    let mut syn_ack = seg(s, c, isn, TcpFlags::SYN | TcpFlags::ACK, b"");
    syn_ack.ack = 101;
    r.segment(&syn_ack, &mut h);
    let payload: Vec<u8> = (0..u64::from(size) * 251).map(pattern).collect();
    for k in 0..count {
        if lost(k) {
            continue;
        }
        let off = u64::from(k) * u64::from(size);
        let start = (off % 251) as usize;
        let bytes = &payload[start..start + size as usize];
        let seq = isn.wrapping_add(1).wrapping_add(off as u32);
        r.segment(&seg(s, c, seq, TcpFlags::PSH, bytes), &mut h);
        assert!(r.buffered_bytes() <= cfg.max_flow_bytes);
    }
    r.finish(&mut h);
    (r, h)
}

#[test]
fn an_endless_stream_with_a_hole_every_ten_segments_stays_in_its_share() {
    const COUNT: u32 = 50_000;
    let cfg = TcpConfig {
        max_flow_bytes: 1 << 20,
        ..TcpConfig::default()
    };
    let (r, h) = one_stream(cfg.clone(), COUNT, 1000, |k| k % 10 == 3);
    let lost = u64::from(COUNT / 10);
    // Every lost segment is exactly one gap: given up when the 33rd hole opens (max_holes 32),
    // the last 32 at the end of input.
    assert_eq!(h.gaps.len() as u64, lost);
    assert!(h.gaps.iter().all(|g| g.0 == 1000));
    let overflow = h.gaps.iter().filter(|g| g.1 == GapCause::Overflow).count();
    assert_eq!(overflow as u64, lost - 32);
    assert_eq!(r.stats().gap_bytes_overflow, (lost - 32) * 1000);
    assert_eq!(r.stats().gap_bytes_loss, 32 * 1000);
    assert_eq!(h.data_bytes, (u64::from(COUNT) - lost) * 1000);
    assert!(r.stats().peak_buffered_bytes <= cfg.max_flow_bytes as u64);
    assert_eq!(r.stats().out_of_order_segments, u64::from(COUNT) - lost - 3);
}

#[test]
fn a_stream_whose_first_segment_never_comes_overflows_once() {
    let cfg = TcpConfig {
        max_flow_bytes: 1 << 20,
        ..TcpConfig::default()
    };
    let (r, h) = one_stream(cfg.clone(), 20_000, 1400, |k| k == 0);
    assert_eq!(h.gaps, vec![(1400, GapCause::Overflow)]);
    assert_eq!(h.data_bytes, 19_999 * 1400);
    assert!(r.stats().peak_buffered_bytes <= cfg.max_flow_bytes as u64);
    assert!(r.stats().peak_buffered_bytes > (cfg.max_flow_bytes as u64) / 2);
}

#[test]
fn many_flows_holding_out_of_order_data_stay_within_the_total_budget() {
    const N: u32 = 3000;
    const BUDGET: usize = 500_000;
    let mut r = Reassembler::new(TcpConfig {
        max_total_bytes: BUDGET,
        ..TcpConfig::default()
    });
    let mut h = Counter::default();
    let payload: Vec<u8> = (0..2000).map(pattern).collect();
    let mut charge = 0;
    for i in 0..N {
        let (c, s) = (client(i), server());
        r.segment(&seg(c, s, 0, TcpFlags::SYN, b""), &mut h);
        // One byte missing before 1000 bytes: they wait in the buffer.
        let off = 1u64;
        let start = (off % 251) as usize;
        let bytes = &payload[start..start + 1000];
        r.segment(&seg(c, s, off as u32 + 1, TcpFlags::PSH, bytes), &mut h);
        if i == 0 {
            charge = r.buffered_bytes();
        }
        assert!(r.buffered_bytes() <= BUDGET);
    }
    let fit = (BUDGET / charge) as u64;
    let given_up = u64::from(N) - fit;
    assert_eq!(r.stats().given_up_flows, given_up);
    assert_eq!(r.stats().given_up_bytes, given_up * charge as u64);
    assert_eq!(r.buffered_bytes() as u64, fit * charge as u64);
    assert!(r.stats().peak_buffered_bytes <= BUDGET as u64);
    // All hold the same: the oldest goes first.
    let ids: Vec<u64> = h.closed.iter().map(|c| c.0).collect();
    assert_eq!(ids, (1..=given_up).collect::<Vec<_>>());
    assert!(h.closed.iter().all(|c| c.1 == CloseReason::Memory));
    // Given-up connections stay as silent tombstones until their end.
    assert_eq!(r.open_flows() as u64, fit);
    r.finish(&mut h);
    assert_eq!(r.stats().closed_end_of_input, fit);
    assert_eq!(h.gaps.len() as u64, fit);
    assert_eq!(h.data_bytes, fit * 1000);
}
