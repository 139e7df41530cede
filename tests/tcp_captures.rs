//! Public captures with retransmissions, reordering, sequence wrap and loss, through TCP
//! reassembly. Until the capture stage lands, frames are decoded by a minimal local helper
//! (etherparse's `SlicedPacket`, Ethernet and BSD null link types only).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use etherparse::{NetSlice, SlicedPacket, TransportSlice};
use reel::capture::{Segment, TcpFlags};
use reel::tcp::call_log::CallLog;
use reel::tcp::{CloseReason, Dir, GapCause, Reassembler, TcpConfig, TcpStats};

/// The public capture corpus beside the checkout (or beside the worktrees' folder).
fn corpus() -> Option<PathBuf> {
    let found = [
        concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/captures/public"),
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/captures/public"),
    ]
    .into_iter()
    .map(Path::new)
    .find(|dir| dir.is_dir());
    if found.is_none() {
        eprintln!("skipped: ../shared/captures not found");
    }
    found.map(Path::to_path_buf)
}

/// Decodes one frame into a segment (None for anything but TCP over IPv4/IPv6).
fn decode<'a>(linktype: i32, ts_ns: u64, data: &'a [u8]) -> Option<Segment<'a>> {
    let sliced = match linktype {
        1 => SlicedPacket::from_ethernet(data).ok()?,
        0 => SlicedPacket::from_ip(data.get(4..)?).ok()?,
        _ => return None,
    };
    let (src_ip, dst_ip): (IpAddr, IpAddr) = match sliced.net? {
        NetSlice::Ipv4(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Ipv6(ip) => (
            ip.header().source_addr().into(),
            ip.header().destination_addr().into(),
        ),
        NetSlice::Arp(_) => return None,
    };
    let TransportSlice::Tcp(tcp) = sliced.transport? else {
        return None;
    };
    let mut flags = 0;
    for (set, bit) in [
        (tcp.fin(), TcpFlags::FIN),
        (tcp.syn(), TcpFlags::SYN),
        (tcp.rst(), TcpFlags::RST),
        (tcp.psh(), TcpFlags::PSH),
        (tcp.ack(), TcpFlags::ACK),
    ] {
        if set {
            flags |= bit;
        }
    }
    Some(Segment {
        ts_ns,
        src: SocketAddr::new(src_ip, tcp.source_port()),
        dst: SocketAddr::new(dst_ip, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        flags: TcpFlags(flags),
        window: tcp.window_size(),
        payload: tcp.payload(),
        missing: 0,
    })
}

/// What came out of one capture.
struct Outcome {
    h: CallLog,
    stats: TcpStats,
}

fn reassemble(path: &Path) -> Outcome {
    let mut cap = pcap::Capture::from_file(path).expect("open capture");
    let linktype = cap.get_datalink().0;
    let mut r = Reassembler::new(TcpConfig::default());
    let mut h = CallLog::new();
    while let Ok(packet) = cap.next_packet() {
        let ts = packet.header.ts;
        let ts_ns = ts.tv_sec as u64 * 1_000_000_000 + ts.tv_usec as u64 * 1_000;
        if let Some(seg) = decode(linktype, ts_ns, packet.data) {
            r.segment(&seg, &mut h);
        }
    }
    r.finish(&mut h);
    assert_eq!(r.buffered_bytes(), 0);
    assert_eq!(r.open_flows(), 0);
    Outcome {
        stats: r.stats().clone(),
        h,
    }
}

/// Where HTTP message heads start in a byte stream: (request starts, response starts).
fn message_starts(bytes: &[u8]) -> (usize, usize) {
    let requests = regex::bytes::Regex::new(
        r"(GET|POST|HEAD|PUT|DELETE|OPTIONS|PATCH) [^ \r\n]+ HTTP/1\.[01]\r\n",
    )
    .expect("regex");
    let responses = regex::bytes::Regex::new(r"HTTP/1\.[01] [1-5][0-9][0-9] ").expect("regex");
    (
        requests.find_iter(bytes).count(),
        responses.find_iter(bytes).count(),
    )
}

impl Outcome {
    /// Connection ids opened, in order.
    fn conns(&self) -> Vec<u64> {
        self.h.opened().iter().map(|i| i.id).collect()
    }

    /// Requests and responses found in each direction, summed over connections:
    /// ((requests, responses) from initiators, (requests, responses) from responders).
    fn starts(&self) -> ((usize, usize), (usize, usize)) {
        let mut up = (0, 0);
        let mut down = (0, 0);
        for id in self.conns() {
            let u = message_starts(&self.h.stream(id, Dir::FromInitiator));
            let d = message_starts(&self.h.stream(id, Dir::FromResponder));
            up = (up.0 + u.0, up.1 + u.1);
            down = (down.0 + d.0, down.1 + d.1);
        }
        (up, down)
    }

    fn gaps(&self) -> Vec<(u64, Dir, u64, GapCause)> {
        let mut out = Vec::new();
        for id in self.conns() {
            for dir in [Dir::FromInitiator, Dir::FromResponder] {
                for (len, cause) in self.h.gaps(id, dir) {
                    out.push((id, dir, len, cause));
                }
            }
        }
        out
    }
}

fn run(rel: &str) -> Option<Outcome> {
    let path = corpus()?.join(rel);
    let outcome = reassemble(&path);
    eprintln!(
        "{rel}: conns {:?} starts {:?} gaps {:?} closed {:?}\n  stats {:?}",
        outcome.conns(),
        outcome.starts(),
        outcome.gaps(),
        outcome.h.closed(),
        outcome.stats
    );
    Some(outcome)
}

#[test]
fn wireshark_retrans_four_posts_four_responses_despite_75_retransmissions() {
    let Some(o) = run("arkime/wireshark-retrans.pcap") else {
        return;
    };
    assert_eq!(o.conns().len(), 1);
    assert_eq!(o.starts(), ((4, 0), (0, 4)));
    assert!(o.gaps().is_empty());
    assert!(o.stats.retransmitted_bytes > 0);
}

#[test]
fn range_responses_of_half_a_megabyte_arrive_whole_despite_retransmissions() {
    let Some(o) = run("zeek/http/206_example_a.pcap") else {
        return;
    };
    assert_eq!(o.conns(), vec![1, 2]);
    assert_eq!(o.starts(), ((2, 0), (0, 2)));
    assert!(o.gaps().is_empty());
    assert_eq!(
        o.h.closed(),
        vec![(1, CloseReason::Fin), (2, CloseReason::Fin)]
    );
    assert!(o.stats.retransmitted_bytes > 0);
    // Each response is exactly its head plus Content-Length bytes of body.
    let length = regex::bytes::Regex::new(r"(?i)\r\ncontent-length: *([0-9]+)\r\n").expect("regex");
    for id in o.conns() {
        let bytes = o.h.stream(id, Dir::FromResponder);
        let head_end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("end of head")
            + 4;
        let declared: usize = std::str::from_utf8(&length.captures(&bytes).expect("length")[1])
            .expect("digits")
            .parse()
            .expect("number");
        assert!(declared >= 32768);
        assert_eq!(bytes.len(), head_end + declared, "connection {id}");
    }
}

#[test]
fn requests_sent_after_later_data_are_put_back_in_order() {
    for f in [
        "peafowl/tcp_resegment/http_out_of_order_1.pcap",
        "peafowl/tcp_resegment/http_out_of_order_2.pcap",
    ] {
        let Some(o) = run(f) else {
            return;
        };
        assert_eq!(o.conns(), vec![1], "{f}");
        assert_eq!(o.starts(), ((2, 0), (0, 2)), "{f}");
        assert!(o.gaps().is_empty(), "{f}");
        assert!(o.stats.out_of_order_segments > 0, "{f}");
    }
}

#[test]
fn sequence_numbers_wrapping_past_2_to_the_32() {
    for f in [
        "peafowl/tcp_resegment/http_seq_num_wrapping.pcap",
        "peafowl/tcp_resegment/http_seq_num_wrapping_out_of_order.pcap",
    ] {
        let Some(o) = run(f) else {
            return;
        };
        assert_eq!(o.conns(), vec![1], "{f}");
        assert_eq!(o.starts(), ((2, 0), (0, 2)), "{f}");
        assert!(o.gaps().is_empty(), "{f}");
        assert!(o.h.opened()[0].handshake_seen);
    }
}

#[test]
fn connections_without_syn_are_picked_up() {
    // Without the SYN the SYN-ACK still tells who the initiator is.
    let Some(o) = run("peafowl/tcp_resegment/http_no_syn.pcap") else {
        return;
    };
    assert_eq!(o.conns(), vec![1]);
    assert_eq!(o.h.opened()[0].initiator.port(), 1093);
    assert!(o.h.opened()[0].handshake_seen);
    assert_eq!(o.starts(), ((2, 0), (0, 2)));
    assert!(o.gaps().is_empty());
    // Without any of the handshake, the first sender is taken as the initiator.
    let Some(o) = run("peafowl/tcp_resegment/http_no_syn_synack_ack.pcap") else {
        return;
    };
    assert_eq!(o.conns(), vec![1]);
    assert_eq!(o.h.opened()[0].initiator.port(), 1093);
    assert!(!o.h.opened()[0].handshake_seen);
    // Frame 2 is a segment of six zero bytes (an ACK whose IP length counts the Ethernet
    // padding) at the sequence number where the first response starts; the response's own
    // segment comes next. The first copy of a byte wins, as in the receiver's TCP, so the first
    // response head reads "\0\0\0\0\0\0.1 401": tshark (1 response) agrees.
    assert_eq!(o.starts(), ((2, 0), (0, 1)));
    assert!(
        o.h.stream(1, Dir::FromResponder)
            .starts_with(b"\0\0\0\0\0\0.1 401")
    );
    assert!(o.gaps().is_empty());
}

#[test]
fn one_response_lost_in_a_thousand_over_ipv6() {
    let Some(o) = run("zeek/http/1000-requests-one-dropped-response.pcap") else {
        return;
    };
    assert_eq!(o.conns(), vec![1]);
    assert!(o.h.opened()[0].initiator.is_ipv6());
    assert_eq!(o.starts(), ((1000, 0), (0, 999)));
    assert_eq!(o.gaps(), vec![(1, Dir::FromResponder, 238, GapCause::Loss)]);
    assert_eq!(o.h.closed(), vec![(1, CloseReason::Fin)]);
}

#[test]
fn acknowledged_but_uncaptured_segments_become_gaps() {
    // Each file removes 14-byte response-body segments that the client acknowledged.
    for (f, gaps) in [
        ("suricata-verify/http-gap-simple/input.pcap", 1),
        ("suricata-verify/http-gap-double/input.pcap", 2),
        ("suricata-verify/http-gap-whole-body/input.pcap", 1),
    ] {
        let Some(o) = run(f) else {
            return;
        };
        assert_eq!(o.conns(), vec![1], "{f}");
        assert_eq!(
            o.gaps(),
            vec![(1, Dir::FromResponder, 14, GapCause::Loss); gaps],
            "{f}"
        );
        // The response after the gap is found again: three requests, three response heads.
        assert_eq!(o.starts(), ((3, 0), (0, 3)), "{f}");
        assert_eq!(o.h.closed(), vec![(1, CloseReason::Fin)], "{f}");
    }
}
