//! Frame decoding: link header → IPv4/IPv6 (extension headers, fragments) → TCP segment.
//!
//! The link type is checked first ([`super::link`]); the rest is parsed through etherparse's
//! checked slices (Ethernet, VLAN tags, lax IP with extension headers, TCP). On the common path
//! (Ethernet/IPv4/TCP) no byte is copied and nothing is allocated: the [`Segment`] borrows the
//! frame. Only datagrams rebuilt from fragments live in the decoder's own buffer.
//!
//! etherparse's `LaxSlicedPacket` gives the same answers but builds (and moves) a large struct
//! per frame, which cost half the decode time; the component slices it is made of are used
//! directly instead.
//!
//! Never panics, whatever the bytes or link type: every outcome that is not a segment is one
//! of the counters of [`DecodeStats`]. Checksums are not validated (captures taken on the sending
//! host carry offloaded, unset checksums).

use std::net::{IpAddr, SocketAddr};

use etherparse::err::ip::LaxHeaderSliceError;
use etherparse::err::tcp::HeaderSliceError as TcpHeaderSliceError;
use etherparse::{
    Ethernet2Slice, IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice, Ipv6Header, LaxIpSlice,
    LaxIpv4Slice, SingleVlanSlice, TcpSlice, UdpSlice,
};

use super::frag::{DatagramKey, Defrag, DefragLimits, Fragment, Reassembled};
use super::link::{self, Link};
use super::{Frame, Segment, TcpFlags};

/// Limits of the decoder's IP fragment reassembly.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    /// Most datagrams being reassembled at once; the oldest is given up to make room.
    pub max_fragment_datagrams: usize,
    /// Most bytes held by datagrams being reassembled (at least one 64 KiB datagram fits).
    pub max_fragment_bytes: usize,
    /// A datagram still incomplete this long (capture time) after its first fragment is given up.
    pub fragment_timeout_ns: u64,
}

impl Default for DecodeConfig {
    /// Linux's own defaults: 4 MiB of fragments, 30 s to complete.
    fn default() -> Self {
        DecodeConfig {
            max_fragment_datagrams: 1024,
            max_fragment_bytes: 4 << 20,
            fragment_timeout_ns: 30_000_000_000,
        }
    }
}

/// What the decoder did with the frames it was given.
///
/// Every frame counts in `frames`; every call that returned no segment counts in exactly one of
/// `not_ip`, `not_tcp`, `unsupported_encapsulation`, `unknown_linktype`, `malformed`,
/// `snaplen_cut` (headers cut) or is a fragment held for reassembly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames given to the decoder.
    pub frames: u64,
    /// Captured bytes of those frames.
    pub bytes: u64,
    /// TCP segments returned (one per reassembled datagram, not per fragment).
    pub tcp_segments: u64,
    /// Frames that carry no IP (ARP, LLDP, STP…).
    pub not_ip: u64,
    /// IP packets that are not TCP (UDP, ICMP…).
    pub not_tcp: u64,
    /// Tunnels and framings reel does not decode: GRE, IP-in-IP, VXLAN, Geneve, L2TP, GTP-U,
    /// PPPoE, MPLS, MACsec, and the 802.11 and PPP link types.
    pub unsupported_encapsulation: u64,
    /// Frames of a link type reel does not know.
    pub unknown_linktype: u64,
    /// Frames whose headers are inconsistent or shorter than they say, with no snaplen to blame.
    pub malformed: u64,
    /// Frames the snaplen cut: headers cut (no segment), or a segment returned with
    /// [`Segment::missing`] > 0.
    pub snaplen_cut: u64,
    /// IP fragments (not atomic IPv6 fragments) taken into reassembly.
    pub fragments: u64,
    /// Datagrams rebuilt from fragments.
    pub datagrams_reassembled: u64,
    /// Fragment frames given up: timed out, evicted to stay within the limits, overlapping
    /// inconsistently, or still incomplete at [`Decoder::finish`].
    pub fragments_dropped: u64,
}

impl DecodeStats {
    /// The counters as `(name, value)` pairs, in a fixed order, for summaries.
    pub fn counters(&self) -> [(&'static str, u64); 12] {
        [
            ("frames", self.frames),
            ("bytes", self.bytes),
            ("tcp_segments", self.tcp_segments),
            ("not_ip", self.not_ip),
            ("not_tcp", self.not_tcp),
            ("unsupported_encapsulation", self.unsupported_encapsulation),
            ("unknown_linktype", self.unknown_linktype),
            ("malformed", self.malformed),
            ("snaplen_cut", self.snaplen_cut),
            ("fragments", self.fragments),
            ("datagrams_reassembled", self.datagrams_reassembled),
            ("fragments_dropped", self.fragments_dropped),
        ]
    }
}

/// Turns frames into TCP segments, reassembling IP fragments within bounds.
#[derive(Debug)]
pub struct Decoder {
    stats: DecodeStats,
    defrag: Defrag,
}

/// Why a frame gave no segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Skip {
    NotIp,
    NotTcp,
    Unsupported,
    UnknownLinktype,
    Malformed,
    SnaplenCut,
}

/// What one frame holds.
enum Decoded<'a> {
    Segment(Segment<'a>),
    Fragment(Fragment<'a>),
    Skip(Skip),
}

impl Decoder {
    /// A decoder with the given reassembly limits.
    pub fn new(config: DecodeConfig) -> Self {
        Decoder {
            stats: DecodeStats::default(),
            defrag: Defrag::new(DefragLimits {
                max_datagrams: config.max_fragment_datagrams.max(1),
                max_bytes: config.max_fragment_bytes,
                timeout_ns: config.fragment_timeout_ns,
            }),
        }
    }

    /// Decodes one frame. `None` when it holds no TCP segment, or holds an IP fragment kept for
    /// reassembly; each `None` is counted in [`DecodeStats`]. The segment borrows the frame's
    /// bytes (or, for a reassembled datagram, the decoder's buffer, and carries the time of the
    /// fragment that completed it).
    ///
    /// Never panics, whatever the frame's bytes and link type.
    #[inline]
    pub fn decode<'a>(&'a mut self, frame: &Frame<'a>) -> Option<Segment<'a>> {
        self.stats.frames += 1;
        self.stats.bytes += frame.data.len() as u64;
        self.defrag.expire(frame.ts_ns, &mut self.stats);
        match decode_frame(frame) {
            Decoded::Segment(segment) => {
                self.stats.tcp_segments += 1;
                if segment.missing > 0 {
                    self.stats.snaplen_cut += 1;
                }
                Some(segment)
            }
            Decoded::Skip(skip) => {
                self.count(skip);
                None
            }
            Decoded::Fragment(fragment) => {
                let datagram = self.defrag.add(&fragment, frame.ts_ns, &mut self.stats)?;
                let bytes = self.defrag.done.get(..datagram.len).unwrap_or_default();
                match from_datagram(frame.ts_ns, &datagram, bytes) {
                    Ok(segment) => {
                        self.stats.tcp_segments += 1;
                        Some(segment)
                    }
                    Err(skip) => {
                        count(&mut self.stats, skip);
                        None
                    }
                }
            }
        }
    }

    /// What the decoder has done so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// Ends the input: datagrams still being reassembled are given up and counted in
    /// `fragments_dropped`.
    pub fn finish(&mut self) {
        self.defrag.finish(&mut self.stats);
    }

    /// Bytes held by datagrams being reassembled (never above `max_fragment_bytes`).
    pub fn fragment_bytes_held(&self) -> usize {
        self.defrag.held_bytes()
    }

    fn count(&mut self, skip: Skip) {
        count(&mut self.stats, skip);
    }
}

fn count(stats: &mut DecodeStats, skip: Skip) {
    let counter = match skip {
        Skip::NotIp => &mut stats.not_ip,
        Skip::NotTcp => &mut stats.not_tcp,
        Skip::Unsupported => &mut stats.unsupported_encapsulation,
        Skip::UnknownLinktype => &mut stats.unknown_linktype,
        Skip::Malformed => &mut stats.malformed,
        Skip::SnaplenCut => &mut stats.snaplen_cut,
    };
    *counter += 1;
}

/// Headers shorter than announced: the snaplen's doing when the frame was cut, else malformed.
fn short(cut: bool) -> Skip {
    if cut {
        Skip::SnaplenCut
    } else {
        Skip::Malformed
    }
}

/// UDP ports of tunnels reel does not decode: L2TP, GTP-U, VXLAN, Geneve.
fn is_tunnel_port(port: u16) -> bool {
    matches!(port, 1701 | 2152 | 4789 | 6081)
}

/// IP protocols that carry another network layer: IP-in-IP, IPv6-in-IP, GRE, EtherIP, L2TPv3,
/// MPLS-in-IP.
fn is_tunnel_protocol(protocol: IpNumber) -> bool {
    matches!(protocol.0, 4 | 41 | 47 | 97 | 115 | 137)
}

/// Most VLAN tags (802.1Q, 802.1ad, 0x9100) skipped before the ether type that says IP.
const MAX_VLAN_TAGS: usize = 4;

fn decode_frame<'a>(frame: &Frame<'a>) -> Decoded<'a> {
    let cut = (frame.data.len() as u64) < u64::from(frame.wire_len);
    let ip = match link::strip(frame.linktype, frame.data) {
        Link::Ethernet(bytes) => match Ethernet2Slice::from_slice_without_fcs(bytes) {
            Ok(ethernet) => ether_payload(ethernet.ether_type().0, ethernet.payload_slice(), cut),
            Err(_) => Err(short(cut)),
        },
        Link::EtherType(ether_type, bytes) => ether_payload(ether_type, bytes, cut),
        Link::Ip(bytes) => Ok(bytes),
        Link::NotIp => Err(Skip::NotIp),
        Link::Unsupported => Err(Skip::Unsupported),
        Link::UnknownLinktype => Err(Skip::UnknownLinktype),
        Link::Truncated => Err(short(cut)),
    };
    match ip {
        Ok(bytes) => ip_packet(frame.ts_ns, bytes, cut),
        Err(skip) => Decoded::Skip(skip),
    }
}

/// Follows VLAN tags to the IP packet an ether type announces.
fn ether_payload(mut ether_type: u16, mut bytes: &[u8], cut: bool) -> Result<&[u8], Skip> {
    for _ in 0..=MAX_VLAN_TAGS {
        match ether_type {
            0x0800 | 0x86dd => return Ok(bytes),
            0x8100 | 0x88a8 | 0x9100 => {
                let tag = SingleVlanSlice::from_slice(bytes).map_err(|_| short(cut))?;
                ether_type = tag.ether_type().0;
                bytes = tag.payload_slice();
            }
            other if link::is_unsupported_ether_type(other) => return Err(Skip::Unsupported),
            _ => return Err(Skip::NotIp),
        }
    }
    Err(Skip::Malformed)
}

/// Decodes an IPv4 or IPv6 packet (lax: the IP lengths may announce more than was captured).
fn ip_packet(ts_ns: u64, bytes: &[u8], cut: bool) -> Decoded<'_> {
    let (ip, extension_error) = match LaxIpSlice::from_slice(bytes) {
        Ok(parsed) => parsed,
        Err(LaxHeaderSliceError::Len(_)) => return Decoded::Skip(short(cut)),
        Err(LaxHeaderSliceError::Content(_)) => return Decoded::Skip(Skip::Malformed),
    };
    let (src, dst, payload, header_len, announced) = match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let header = v4.header();
            let auth = v4.extensions().auth.map_or(0, |auth| auth.slice().len());
            (
                IpAddr::V4(header.source_addr()),
                IpAddr::V4(header.destination_addr()),
                v4.payload(),
                header.slice().len() + auth,
                usize::from(header.total_len()),
            )
        }
        LaxIpSlice::Ipv6(v6) => {
            let header = v6.header();
            (
                IpAddr::V6(header.source_addr()),
                IpAddr::V6(header.destination_addr()),
                v6.payload(),
                Ipv6Header::LEN + v6.extensions().slice().len(),
                Ipv6Header::LEN + usize::from(header.payload_length()),
            )
        }
    };
    if payload.fragmented {
        if payload.incomplete {
            return Decoded::Skip(short(cut));
        }
        let fragment = match &ip {
            LaxIpSlice::Ipv4(v4) => ipv4_fragment(src, dst, v4),
            LaxIpSlice::Ipv6(v6) => ipv6_fragment(src, dst, v6.extensions(), payload.payload),
        };
        return match fragment {
            Some(fragment) => Decoded::Fragment(fragment),
            None => Decoded::Skip(Skip::NotTcp),
        };
    }
    if let Some((err, _)) = extension_error {
        return Decoded::Skip(match err {
            etherparse::err::ipv6_exts::HeaderSliceError::Len(_) => short(cut),
            etherparse::err::ipv6_exts::HeaderSliceError::Content(_) => Skip::Malformed,
        });
    }
    match payload.ip_number {
        IpNumber::TCP => match TcpSlice::from_slice(payload.payload) {
            Ok(tcp) => {
                let missing = if payload.incomplete {
                    announced.saturating_sub(header_len + tcp.slice().len())
                } else {
                    0
                };
                Decoded::Segment(segment(ts_ns, src, dst, &tcp, missing))
            }
            Err(TcpHeaderSliceError::Len(_)) => Decoded::Skip(short(cut)),
            Err(TcpHeaderSliceError::Content(_)) => Decoded::Skip(Skip::Malformed),
        },
        other => Decoded::Skip(not_tcp(other, payload.payload)),
    }
}

/// An IPv4 fragment: offsets count from the end of the IPv4 header.
fn ipv4_fragment<'a>(src: IpAddr, dst: IpAddr, ip: &LaxIpv4Slice<'a>) -> Option<Fragment<'a>> {
    let header = ip.header();
    if header.protocol() == IpNumber::AUTHENTICATION_HEADER {
        // Offsets would count the AH that etherparse strips from the first fragment.
        return None;
    }
    Some(Fragment {
        key: DatagramKey {
            src,
            dst,
            id: u32::from(header.identification()),
            protocol: header.protocol().0,
        },
        offset: usize::from(header.fragments_offset().byte_offset()),
        more: header.more_fragments(),
        next_header: header.protocol().0,
        parts: [ip.payload().payload, &[]],
    })
}

/// The fragment of an IPv6 packet whose fragment header fragments it: the bytes after that
/// header, which etherparse split between the extension headers it went on to parse and the
/// payload.
fn ipv6_fragment<'a>(
    src: IpAddr,
    dst: IpAddr,
    extensions: &Ipv6ExtensionsSlice<'a>,
    payload: &'a [u8],
) -> Option<Fragment<'a>> {
    let all = extensions.slice();
    let mut offset = 0usize;
    for extension in extensions.clone() {
        let len = match &extension {
            Ipv6ExtensionSlice::HopByHop(h)
            | Ipv6ExtensionSlice::Routing(h)
            | Ipv6ExtensionSlice::DestinationOptions(h) => h.slice().len(),
            Ipv6ExtensionSlice::Authentication(h) => h.slice().len(),
            Ipv6ExtensionSlice::Fragment(fragment) => {
                if !fragment.is_fragmenting_payload() {
                    offset += fragment.slice().len();
                    continue;
                }
                let after = all.get(offset + fragment.slice().len()..)?;
                return Some(Fragment {
                    key: DatagramKey {
                        src,
                        dst,
                        id: fragment.identification(),
                        protocol: 0,
                    },
                    offset: usize::from(fragment.fragment_offset().byte_offset()),
                    more: fragment.more_fragments(),
                    next_header: fragment.next_header().0,
                    parts: [after, payload],
                });
            }
        };
        offset += len;
    }
    None
}

/// Why an IP payload that is not TCP is skipped: a tunnel (by protocol, or UDP port), or not TCP.
fn not_tcp(protocol: IpNumber, payload: &[u8]) -> Skip {
    if protocol == IpNumber::UDP {
        return match UdpSlice::from_slice_lax(payload) {
            Ok(udp)
                if is_tunnel_port(udp.source_port()) || is_tunnel_port(udp.destination_port()) =>
            {
                Skip::Unsupported
            }
            _ => Skip::NotTcp,
        };
    }
    if is_tunnel_protocol(protocol) {
        return Skip::Unsupported;
    }
    Skip::NotTcp
}

/// The segment in a datagram rebuilt from fragments (`bytes` = its fragmentable part).
fn from_datagram<'a>(
    ts_ns: u64,
    datagram: &Reassembled,
    bytes: &'a [u8],
) -> Result<Segment<'a>, Skip> {
    let (protocol, rest) = if datagram.src.is_ipv6() {
        let (_, protocol, rest, err) =
            Ipv6ExtensionsSlice::from_slice_lax(IpNumber(datagram.next_header), bytes);
        if err.is_some() {
            return Err(Skip::Malformed);
        }
        (protocol, rest)
    } else {
        (IpNumber(datagram.next_header), bytes)
    };
    if protocol == IpNumber::TCP {
        let tcp = TcpSlice::from_slice(rest).map_err(|_| Skip::Malformed)?;
        return Ok(segment(ts_ns, datagram.src, datagram.dst, &tcp, 0));
    }
    Err(not_tcp(protocol, rest))
}

#[inline]
fn segment<'a>(
    ts_ns: u64,
    src: IpAddr,
    dst: IpAddr,
    tcp: &TcpSlice<'a>,
    missing: usize,
) -> Segment<'a> {
    Segment {
        ts_ns,
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        seq: tcp.sequence_number(),
        ack: tcp.acknowledgment_number(),
        // Byte 13 of the header holds CWR ECE URG ACK PSH RST SYN FIN.
        flags: TcpFlags(tcp.header_slice().get(13).copied().unwrap_or(0)),
        window: tcp.window_size(),
        payload: tcp.payload(),
        missing: u32::try_from(missing).unwrap_or(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::linktype;
    use etherparse::PacketBuilder;
    use std::path::PathBuf;

    /// A frame read from a corpus capture.
    struct Owned {
        ts_ns: u64,
        linktype: i32,
        wire_len: u32,
        data: Vec<u8>,
    }

    impl Owned {
        fn frame(&self) -> Frame<'_> {
            Frame {
                ts_ns: self.ts_ns,
                linktype: self.linktype,
                data: &self.data,
                wire_len: self.wire_len,
            }
        }
    }

    fn public_corpus() -> Option<PathBuf> {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let found = ["../shared/captures/public", "../../shared/captures/public"]
            .iter()
            .map(|rel| manifest.join(rel))
            .find(|dir| dir.join("INDEX.tsv").is_file());
        if found.is_none() {
            eprintln!("skipped: ../shared/captures not found");
        }
        found
    }

    /// Every frame of a corpus file, read with libpcap.
    fn load(rel: &str) -> Option<Vec<Owned>> {
        let path = public_corpus()?.join(rel);
        let mut capture =
            pcap::Capture::from_file_with_precision(&path, pcap::Precision::Nano).expect("open");
        let linktype = capture.get_datalink().0;
        let mut out = Vec::new();
        while let Ok(packet) = capture.next_packet() {
            out.push(Owned {
                ts_ns: packet.header.ts.tv_sec as u64 * 1_000_000_000
                    + packet.header.ts.tv_usec as u64,
                linktype,
                wire_len: packet.header.len,
                data: packet.data.to_vec(),
            });
        }
        Some(out)
    }

    /// A decoded segment, owned.
    #[derive(Debug, Clone, PartialEq, Eq)]
    struct Seen {
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        flags: u8,
        payload: Vec<u8>,
        missing: u32,
    }

    fn decode_all(frames: &[Owned]) -> (DecodeStats, Vec<Seen>) {
        let mut decoder = Decoder::new(DecodeConfig::default());
        let mut seen = Vec::new();
        for owned in frames {
            if let Some(s) = decoder.decode(&owned.frame()) {
                seen.push(Seen {
                    src: s.src,
                    dst: s.dst,
                    seq: s.seq,
                    flags: s.flags.0,
                    payload: s.payload.to_vec(),
                    missing: s.missing,
                });
            }
        }
        decoder.finish();
        (decoder.stats().clone(), seen)
    }

    /// (segments, payload bytes announced, segments with payload) — what tshark reports for the
    /// same file with `-Y tcp -e tcp.len` (tunnelled and fragment frames left out).
    fn summary(seen: &[Seen]) -> (usize, u64, usize) {
        (
            seen.len(),
            seen.iter()
                .map(|s| s.payload.len() as u64 + u64::from(s.missing))
                .sum(),
            seen.iter().filter(|s| !s.payload.is_empty()).count(),
        )
    }

    fn first_request(seen: &[Seen]) -> &Seen {
        seen.iter()
            .find(|s| s.payload.starts_with(b"GET ") || s.payload.starts_with(b"POST "))
            .expect("a request segment")
    }

    /// Runs a corpus file and checks it against tshark's counts.
    fn check_file(
        rel: &str,
        linktype: i32,
        expected: (usize, u64, usize),
    ) -> Option<(DecodeStats, Vec<Seen>)> {
        let frames = load(rel)?;
        assert_eq!(frames.first().map(|f| f.linktype), Some(linktype), "{rel}");
        let (stats, seen) = decode_all(&frames);
        assert_eq!(summary(&seen), expected, "{rel}");
        assert_eq!(stats.frames, frames.len() as u64);
        assert_eq!(stats.tcp_segments, seen.len() as u64);
        assert_eq!(stats.unknown_linktype + stats.malformed, 0, "{rel}");
        Some((stats, seen))
    }

    #[test]
    fn ethernet_ipv4() {
        let Some((_, seen)) = check_file("zeek/http/get.pcap", linktype::EN10MB, (14, 5143, 5))
        else {
            return;
        };
        let syn = &seen[0];
        assert_eq!(syn.src, "141.142.228.5:59856".parse().unwrap());
        assert_eq!(syn.dst, "192.150.187.43:80".parse().unwrap());
        assert_eq!(syn.seq, 4_263_588_410);
        assert_eq!(syn.flags, TcpFlags::SYN);
        assert!(
            first_request(&seen)
                .payload
                .starts_with(b"GET /download/CHANGES.bro-aux.txt")
        );
    }

    #[test]
    fn vlan_and_qinq_tags_are_skipped() {
        // The same connection as get.pcap, with one tag and with two.
        let Some((_, plain)) = check_file("zeek/http/get.pcap", linktype::EN10MB, (14, 5143, 5))
        else {
            return;
        };
        for rel in ["zeek/http-vlan-0.pcap", "zeek/http-qinq-0.pcap"] {
            let (_, seen) = check_file(rel, linktype::EN10MB, (14, 5143, 5)).unwrap();
            assert_eq!(seen, plain, "{rel}");
        }
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let Some((stats, seen)) = check_file(
            "pcapplusplus/sll.pcap",
            linktype::LINUX_SLL,
            (483, 415_114, 324),
        ) else {
            return;
        };
        assert_eq!((stats.not_ip, stats.not_tcp), (7, 28));
        assert!(first_request(&seen).payload.starts_with(b"GET "));
        let (stats, _) = check_file(
            "suricata-verify/decode-sll2-02/input.pcap",
            linktype::LINUX_SLL2,
            (159, 2_598_957, 83),
        )
        .unwrap();
        assert_eq!(stats.frames, 159);
    }

    #[test]
    fn bsd_null_loopback() {
        let Some((_, seen)) = check_file(
            "gopacket/test_loopback.pcap",
            linktype::NULL,
            (24, 56_331, 11),
        ) else {
            return;
        };
        assert!(first_request(&seen).payload.starts_with(b"GET "));
    }

    #[test]
    fn raw_ip_under_each_link_type_value() {
        // LINKTYPE_RAW (101) in the file; libpcap reports DLT_RAW (12).
        let Some((stats, _)) = check_file(
            "pcapplusplus/raw_ip.pcap",
            linktype::RAW_12,
            (92, 24_437, 40),
        ) else {
            return;
        };
        assert_eq!(stats.not_tcp, 8);
        // Header value 12 in the file, IPv6.
        let (_, seen) = check_file(
            "pcapplusplus/four_ipv6_http_streams.pcap",
            linktype::RAW_12,
            (81, 34_770, 39),
        )
        .unwrap();
        assert!(seen.iter().all(|s| s.src.is_ipv6()));
        // LINKTYPE_IPV4 (228).
        check_file(
            "zeek/http/261/variant-04-te_cl_desync.pcap",
            linktype::IPV4,
            (8, 132, 1),
        )
        .unwrap();
        // The same raw frames under every raw link type value decode alike.
        let frames = load("pcapplusplus/raw_ip.pcap").unwrap();
        let (_, reference) = decode_all(&frames);
        for value in [linktype::RAW, linktype::RAW_14] {
            let relabelled: Vec<Owned> = frames
                .iter()
                .map(|f| Owned {
                    linktype: value,
                    data: f.data.clone(),
                    ..*f
                })
                .collect();
            assert_eq!(decode_all(&relabelled).1, reference, "link type {value}");
        }
    }

    #[test]
    fn nflog() {
        let Some((_, seen)) = check_file("zeek/nflog-http.pcap", linktype::NFLOG, (13, 1682, 2))
        else {
            return;
        };
        assert!(first_request(&seen).payload.starts_with(b"GET "));
    }

    #[test]
    fn out_of_scope_encapsulations_are_counted() {
        // 802.11 radiotap: every frame.
        let Some(frames) = load("arkime/80211http.pcap") else {
            return;
        };
        let (stats, seen) = decode_all(&frames);
        assert!(seen.is_empty());
        assert_eq!(stats.unsupported_encapsulation, 26);
        // PPPoE and L2TP: the plain IPoE connection decodes, the tunnelled ones are counted.
        let (stats, seen) =
            check_file("dpkt/nb6-http.pcap", linktype::EN10MB, (10, 1023, 2)).unwrap();
        assert_eq!(
            (stats.unsupported_encapsulation, stats.not_ip, stats.not_tcp),
            (46, 6, 0)
        );
        assert!(first_request(&seen).payload.starts_with(b"GET "));
        // GRE and VXLAN among plain traffic.
        let (stats, _) = check_file(
            "arkime/arkime_synthetic.pcap",
            linktype::EN10MB,
            (733, 21_822, 222),
        )
        .unwrap();
        assert_eq!(stats.unsupported_encapsulation, 17);
        // PPPoE session only.
        let (stats, _) = check_file(
            "suricata-verify/bug-4810/pppoe-session-http.pcap",
            linktype::EN10MB,
            (0, 0, 0),
        )
        .unwrap();
        assert_eq!(stats.unsupported_encapsulation, 30);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        // One-byte request segments in 60-byte (padded) frames.
        let Some((_, seen)) = check_file(
            "zeek/tcp-http-with-padding.pcap",
            linktype::EN10MB,
            (25, 207, 10),
        ) else {
            return;
        };
        let request: Vec<u8> = seen
            .iter()
            .filter(|s| s.dst.port() == 27272)
            .flat_map(|s| s.payload.clone())
            .collect();
        assert!(
            request.starts_with(b"GET "),
            "{:?}",
            String::from_utf8_lossy(&request)
        );
    }

    #[test]
    fn ipv6_extension_headers_and_atomic_fragment() {
        // The same GET behind destination options, an atomic fragment header, hop-by-hop
        // options and a routing header, one connection each.
        let Some((_, seen)) = check_file(
            "zeek/ipv6-http-atomic-frag.pcap",
            linktype::EN10MB,
            (36, 412, 8),
        ) else {
            return;
        };
        let gets: Vec<(u16, u32)> = seen
            .iter()
            .filter(|s| s.payload == b"GET /bad.html\r\n")
            .map(|s| (s.src.port(), s.seq))
            .collect();
        assert_eq!(
            gets,
            [
                (36951, 3_810_442_575),
                (59694, 1_770_092_806),
                (27393, 1_365_224_418),
                (45805, 466_053_856)
            ]
        );
    }

    #[test]
    fn ipv4_fragments_are_reassembled() {
        let Some(frames) = load("pcapplusplus/frag_http_req.pcap") else {
            return;
        };
        let (stats, seen) = decode_all(&frames);
        assert_eq!(summary(&seen), (1, 1460, 1));
        assert_eq!(
            (
                stats.fragments,
                stats.datagrams_reassembled,
                stats.fragments_dropped
            ),
            (11, 1, 0)
        );
        assert_eq!(seen[0].src, "172.16.133.54:64415".parse().unwrap());
        assert_eq!(seen[0].seq, 2_290_951_306);
        assert!(seen[0].payload.starts_with(b"GET "));
        for rel in [
            "peafowl/tcp_resegment/http_ip_fragmented.pcap",
            "peafowl/tcp_resegment/http_ip_fragmented_out_of_order.pcap",
        ] {
            let (stats, seen) = decode_all(&load(rel).unwrap());
            assert_eq!(summary(&seen), (11, 3275, 5), "{rel}");
            assert_eq!(
                (
                    stats.fragments,
                    stats.datagrams_reassembled,
                    stats.fragments_dropped
                ),
                (444, 11, 0),
                "{rel}"
            );
        }
    }

    // ---- hand-made frames, for cases no capture has ----

    fn frame(linktype: i32, data: &[u8]) -> Frame<'_> {
        Frame {
            ts_ns: 1,
            linktype,
            data,
            wire_len: data.len() as u32,
        }
    }

    fn ethernet_tcp(payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .tcp(40000, 80, 1000, 512)
            .ack(77)
            .psh()
            .write(&mut out, payload)
            .unwrap();
        out
    }

    #[test]
    fn common_path_fields() {
        let bytes = ethernet_tcp(b"GET / HTTP/1.1\r\n\r\n");
        let mut decoder = Decoder::new(DecodeConfig::default());
        let s = decoder.decode(&frame(linktype::EN10MB, &bytes)).unwrap();
        assert_eq!(s.src, "10.0.0.1:40000".parse().unwrap());
        assert_eq!(s.dst, "10.0.0.2:80".parse().unwrap());
        assert_eq!((s.seq, s.ack, s.window), (1000, 77, 512));
        assert_eq!(s.flags, TcpFlags(TcpFlags::ACK | TcpFlags::PSH));
        assert_eq!(s.payload, b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!((s.missing, s.ts_ns), (0, 1));
    }

    #[test]
    fn snaplen_cuts_are_told_from_malformed_frames() {
        let bytes = ethernet_tcp(&[b'x'; 100]);
        let mut decoder = Decoder::new(DecodeConfig::default());
        // Cut inside the payload: a segment with the rest announced as missing.
        let cut_payload = Frame {
            wire_len: bytes.len() as u32,
            ..frame(linktype::EN10MB, &bytes[..bytes.len() - 30])
        };
        let s = decoder.decode(&cut_payload).unwrap();
        assert_eq!((s.payload.len(), s.missing), (70, 30));
        // Cut inside the TCP header.
        let cut_header = Frame {
            wire_len: bytes.len() as u32,
            ..frame(linktype::EN10MB, &bytes[..14 + 20 + 10])
        };
        assert!(decoder.decode(&cut_header).is_none());
        // The same bytes, not cut by a snaplen: the IP header lies.
        assert!(
            decoder
                .decode(&frame(linktype::EN10MB, &bytes[..14 + 20 + 10]))
                .is_none()
        );
        // Shorter than an Ethernet header.
        assert!(
            decoder
                .decode(&frame(linktype::EN10MB, &bytes[..5]))
                .is_none()
        );
        let stats = decoder.stats();
        assert_eq!(
            (stats.tcp_segments, stats.snaplen_cut, stats.malformed),
            (1, 2, 2)
        );
    }

    #[test]
    fn other_protocols_are_counted() {
        let mut decoder = Decoder::new(DecodeConfig::default());
        let mut udp = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
            .udp(5353, 53)
            .write(&mut udp, b"dns")
            .unwrap();
        let mut vxlan = Vec::new();
        PacketBuilder::ethernet2([1; 6], [2; 6])
            .ipv6([1; 16], [2; 16], 64)
            .udp(50000, 4789)
            .write(&mut vxlan, &[0; 8])
            .unwrap();
        let mut gre = ethernet_tcp(b"");
        gre[14 + 9] = 47; // the IPv4 protocol field
        let mut arp = ethernet_tcp(b"");
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        let mut pppoe = ethernet_tcp(b"");
        pppoe[12..14].copy_from_slice(&0x8864u16.to_be_bytes());
        for bytes in [&udp, &vxlan, &gre, &arp, &pppoe] {
            assert!(decoder.decode(&frame(linktype::EN10MB, bytes)).is_none());
        }
        assert!(decoder.decode(&frame(147, &udp)).is_none());
        assert!(decoder.decode(&frame(linktype::IEEE802_11, &udp)).is_none());
        let stats = decoder.stats().clone();
        assert_eq!(
            (
                stats.not_tcp,
                stats.unsupported_encapsulation,
                stats.not_ip,
                stats.unknown_linktype
            ),
            (1, 4, 1, 1)
        );
        assert_eq!(stats.frames, 7);
    }

    /// An IPv6 packet from 2001:db8::1 to 2001:db8::2 with `extensions` (already encoded, the
    /// first one's type in `first`) and then `body`.
    fn ipv6_packet(first: u8, extensions: &[u8], body: &[u8]) -> Vec<u8> {
        let mut out = vec![0x60, 0, 0, 0];
        out.extend_from_slice(&((extensions.len() + body.len()) as u16).to_be_bytes());
        out.push(first);
        out.push(64);
        let mut src = [0u8; 16];
        src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        let mut dst = src;
        src[15] = 1;
        dst[15] = 2;
        out.extend_from_slice(&src);
        out.extend_from_slice(&dst);
        out.extend_from_slice(extensions);
        out.extend_from_slice(body);
        out
    }

    fn fragment_header(next: u8, offset: u16, more: bool, id: u32) -> [u8; 8] {
        let field = (offset / 8) << 3 | u16::from(more);
        let mut out = [next, 0, 0, 0, 0, 0, 0, 0];
        out[2..4].copy_from_slice(&field.to_be_bytes());
        out[4..8].copy_from_slice(&id.to_be_bytes());
        out
    }

    #[test]
    fn ipv6_extension_headers_and_fragments() {
        let mut tcp = Vec::new();
        PacketBuilder::ipv6([0; 16], [0; 16], 64)
            .tcp(40000, 80, 5, 100)
            .write(&mut tcp, &[b'a'; 40])
            .unwrap();
        let tcp = &tcp[40..]; // the TCP header and payload only
        // Hop-by-hop, then destination options, then TCP.
        let hop = [60u8, 0, 1, 4, 0, 0, 0, 0];
        let dest = [6u8, 0, 1, 4, 0, 0, 0, 0];
        let plain = ipv6_packet(0, &[hop, dest].concat(), tcp);
        let mut decoder = Decoder::new(DecodeConfig::default());
        let s = decoder.decode(&frame(linktype::IPV6, &plain)).unwrap();
        assert_eq!(s.payload, [b'a'; 40]);
        assert_eq!(s.dst, "[2001:db8::2]:80".parse().unwrap());

        // Fragmented: destination options + TCP split at byte 24 of the fragmentable part.
        let fragmentable = [&dest[..], tcp].concat();
        let (head, tail) = fragmentable.split_at(24);
        let first = ipv6_packet(44, &fragment_header(60, 0, true, 9), head);
        let second = ipv6_packet(44, &fragment_header(60, 24, false, 9), tail);
        assert!(decoder.decode(&frame(linktype::IPV6, &second)).is_none());
        let s = decoder.decode(&frame(linktype::IPV6, &first)).unwrap();
        assert_eq!(s.payload, [b'a'; 40]);
        assert_eq!(s.seq, 5);
        let stats = decoder.stats();
        assert_eq!((stats.fragments, stats.datagrams_reassembled), (2, 1));
        assert_eq!(stats.tcp_segments, 2);
    }

    #[test]
    fn fragment_memory_stays_within_the_limit() {
        let config = DecodeConfig {
            max_fragment_datagrams: 1000,
            max_fragment_bytes: 100_000,
            fragment_timeout_ns: u64::MAX,
        };
        let mut decoder = Decoder::new(config);
        let mut peak = 0;
        for id in 0..2000u16 {
            // First fragments of datagrams that never complete, 1000 bytes each.
            let mut bytes = Vec::new();
            PacketBuilder::ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(1, 2)
                .write(&mut bytes, &[0; 992])
                .unwrap();
            bytes[4..6].copy_from_slice(&id.to_be_bytes());
            bytes[6] = 0x20; // more fragments
            assert!(decoder.decode(&frame(linktype::IPV4, &bytes)).is_none());
            peak = peak.max(decoder.fragment_bytes_held());
            assert!(decoder.fragment_bytes_held() <= 100_000);
        }
        assert!(peak > 50_000, "peak {peak}");
        let stats = decoder.stats().clone();
        assert_eq!(stats.fragments, 2000);
        decoder.finish();
        assert_eq!(decoder.fragment_bytes_held(), 0);
        assert_eq!(decoder.stats().fragments_dropped, 2000);
        assert_eq!(stats.datagrams_reassembled, 0);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_under_any_link_type_never_panic(
            linktype in proptest::prop_oneof![
                proptest::sample::select(vec![0, 1, 12, 14, 101, 108, 113, 127, 228, 229, 239, 276]),
                proptest::prelude::any::<i32>(),
            ],
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
            extra in 0u32..100,
        ) {
            let mut decoder = Decoder::new(DecodeConfig::default());
            let frame = Frame { ts_ns: 0, linktype, data: &data, wire_len: data.len() as u32 + extra };
            let _ = decoder.decode(&frame);
            proptest::prop_assert_eq!(decoder.stats().frames, 1);
        }

        #[test]
        fn mutated_real_frames_never_panic(
            flips in proptest::collection::vec((0usize..120, proptest::prelude::any::<u8>()), 1..6),
            cut in 0usize..130,
        ) {
            let mut bytes = ethernet_tcp(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            for (at, value) in flips {
                if let Some(b) = bytes.get_mut(at) { *b = value; }
            }
            bytes.truncate(cut.max(1));
            let mut decoder = Decoder::new(DecodeConfig::default());
            let frame = frame(linktype::EN10MB, &bytes);
            if let Some(s) = decoder.decode(&frame) {
                proptest::prop_assert!(s.payload.len() <= bytes.len());
            }
        }
    }
}
