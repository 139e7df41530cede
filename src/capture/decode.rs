//! Frame decoding: link header → IPv4/IPv6 (extension headers, fragments) → TCP segment.
//!
//! The link type is checked first ([`super::link`]); the rest is parsed by etherparse's lax
//! slicing, which reads only through checked slices. On the common path (Ethernet/IPv4/TCP) no
//! byte is copied and nothing is allocated: the [`Segment`] borrows the frame. Only datagrams
//! rebuilt from fragments live in the decoder's own buffer.
//!
//! Never panics, whatever the bytes or link type: every outcome that is not a segment is one
//! of the counters of [`DecodeStats`]. Checksums are not validated (captures taken on the sending
//! host carry offloaded, unset checksums).

use std::net::{IpAddr, SocketAddr};

use etherparse::err::packet::SliceError;
use etherparse::{
    EtherType, IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice, LaxIpv4Slice, LaxIpv6Slice,
    LaxNetSlice, LaxSlicedPacket, TcpSlice, TransportSlice, UdpSlice,
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
    /// bytes (or, for a reassembled datagram, the decoder's buffer).
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

fn stop_reason(err: &SliceError, cut: bool) -> Skip {
    match err {
        SliceError::Len(_) => short(cut),
        _ => Skip::Malformed,
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

/// IPv6 extension header numbers (an unparsable one leaves the payload number on it).
fn is_ipv6_extension(protocol: IpNumber) -> bool {
    matches!(protocol.0, 0 | 43 | 44 | 51 | 60 | 135 | 139 | 140)
}

fn decode_frame<'a>(frame: &Frame<'a>) -> Decoded<'a> {
    let cut = (frame.data.len() as u64) < u64::from(frame.wire_len);
    let packet = match link::strip(frame.linktype, frame.data) {
        Link::Ethernet(bytes) => match LaxSlicedPacket::from_ethernet(bytes) {
            Ok(packet) => packet,
            Err(_) => return Decoded::Skip(short(cut)),
        },
        Link::EtherType(ether_type, bytes) => {
            LaxSlicedPacket::from_ether_type(EtherType(ether_type), bytes)
        }
        Link::Ip(bytes) => match LaxSlicedPacket::from_ip(bytes) {
            Ok(packet) => packet,
            Err(etherparse::err::ip::LaxHeaderSliceError::Len(_)) => {
                return Decoded::Skip(short(cut));
            }
            Err(etherparse::err::ip::LaxHeaderSliceError::Content(_)) => {
                return Decoded::Skip(Skip::Malformed);
            }
        },
        Link::NotIp => return Decoded::Skip(Skip::NotIp),
        Link::Unsupported => return Decoded::Skip(Skip::Unsupported),
        Link::UnknownLinktype => return Decoded::Skip(Skip::UnknownLinktype),
        Link::Truncated => return Decoded::Skip(short(cut)),
    };
    match &packet.net {
        Some(LaxNetSlice::Ipv4(ip)) => ipv4(frame.ts_ns, ip, &packet, cut),
        Some(LaxNetSlice::Ipv6(ip)) => ipv6(frame.ts_ns, ip, &packet, cut),
        Some(LaxNetSlice::Arp(_)) => Decoded::Skip(Skip::NotIp),
        None => Decoded::Skip(without_ip(&packet, cut)),
    }
}

/// Why a frame whose link layer parsed has no IP layer.
fn without_ip(packet: &LaxSlicedPacket<'_>, cut: bool) -> Skip {
    let Some(payload) = packet.ether_payload() else {
        // MACsec whose payload is encrypted.
        return Skip::Unsupported;
    };
    match payload.ether_type.0 {
        // IP or a VLAN tag that did not parse.
        0x0800 | 0x86dd | 0x8100 | 0x88a8 | 0x9100 => match &packet.stop_err {
            Some((err, _)) => stop_reason(err, cut),
            None => Skip::Malformed,
        },
        other if link::is_unsupported_ether_type(other) => Skip::Unsupported,
        _ => Skip::NotIp,
    }
}

fn ipv4<'a>(
    ts_ns: u64,
    ip: &LaxIpv4Slice<'a>,
    packet: &LaxSlicedPacket<'a>,
    cut: bool,
) -> Decoded<'a> {
    let header = ip.header();
    let payload = ip.payload();
    let src = IpAddr::V4(header.source_addr());
    let dst = IpAddr::V4(header.destination_addr());
    if payload.fragmented {
        if payload.incomplete {
            return Decoded::Skip(short(cut));
        }
        if header.protocol() == IpNumber::AUTHENTICATION_HEADER {
            // Offsets would count the AH that etherparse strips from the first fragment.
            return Decoded::Skip(Skip::NotTcp);
        }
        return Decoded::Fragment(Fragment {
            key: DatagramKey {
                src,
                dst,
                id: u32::from(header.identification()),
                protocol: header.protocol().0,
            },
            offset: usize::from(header.fragments_offset().byte_offset()),
            more: header.more_fragments(),
            next_header: header.protocol().0,
            parts: [payload.payload, &[]],
        });
    }
    match &packet.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let missing = if payload.incomplete {
                let announced = usize::from(header.total_len());
                let auth = ip.extensions().auth.map_or(0, |auth| auth.slice().len());
                let held = header.slice().len() + auth + tcp.slice().len();
                announced.saturating_sub(held)
            } else {
                0
            };
            Decoded::Segment(segment(ts_ns, src, dst, tcp, missing))
        }
        _ => Decoded::Skip(not_a_segment(payload.ip_number, packet, cut)),
    }
}

fn ipv6<'a>(
    ts_ns: u64,
    ip: &LaxIpv6Slice<'a>,
    packet: &LaxSlicedPacket<'a>,
    cut: bool,
) -> Decoded<'a> {
    let header = ip.header();
    let payload = ip.payload();
    let src = IpAddr::V6(header.source_addr());
    let dst = IpAddr::V6(header.destination_addr());
    if payload.fragmented {
        if payload.incomplete {
            return Decoded::Skip(short(cut));
        }
        return match ipv6_fragment(src, dst, ip.extensions(), payload.payload) {
            Some(fragment) => Decoded::Fragment(fragment),
            None => Decoded::Skip(Skip::Malformed),
        };
    }
    match &packet.transport {
        Some(TransportSlice::Tcp(tcp)) => {
            let missing = if payload.incomplete {
                let announced = 40 + usize::from(header.payload_length());
                let held = 40 + ip.extensions().slice().len() + tcp.slice().len();
                announced.saturating_sub(held)
            } else {
                0
            };
            Decoded::Segment(segment(ts_ns, src, dst, tcp, missing))
        }
        _ => Decoded::Skip(not_a_segment(payload.ip_number, packet, cut)),
    }
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

/// Why an unfragmented IP packet with no TCP slice is not a segment.
fn not_a_segment(protocol: IpNumber, packet: &LaxSlicedPacket<'_>, cut: bool) -> Skip {
    if protocol == IpNumber::TCP || is_ipv6_extension(protocol) {
        return match &packet.stop_err {
            Some((err, _)) => stop_reason(err, cut),
            None => Skip::Malformed,
        };
    }
    if protocol == IpNumber::UDP {
        if let Some(TransportSlice::Udp(udp)) = &packet.transport {
            if is_tunnel_port(udp.source_port()) || is_tunnel_port(udp.destination_port()) {
                return Skip::Unsupported;
            }
        }
        return Skip::NotTcp;
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
    if protocol == IpNumber::UDP {
        return match UdpSlice::from_slice_lax(rest) {
            Ok(udp)
                if is_tunnel_port(udp.source_port()) || is_tunnel_port(udp.destination_port()) =>
            {
                Err(Skip::Unsupported)
            }
            _ => Err(Skip::NotTcp),
        };
    }
    if is_tunnel_protocol(protocol) {
        return Err(Skip::Unsupported);
    }
    Err(Skip::NotTcp)
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
