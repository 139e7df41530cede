//! Link layers: the libpcap link types reel decodes, and the first step of decoding a frame —
//! strip the link header and say what follows it.
//!
//! Never panics: every read of the frame's bytes goes through `get`, so any byte string, of any
//! length, under any link type value, gives a [`Link`] answer.

/// libpcap link type values (DLT_*/LINKTYPE_*) that reel knows by name.
pub mod linktype {
    /// BSD loopback: a 4-byte address family in the capturing host's byte order.
    pub const NULL: i32 = 0;
    /// Ethernet II, possibly with 802.1Q / 802.1ad (QinQ) tags.
    pub const EN10MB: i32 = 1;
    /// PPP (out of scope: counted as an unsupported encapsulation).
    pub const PPP: i32 = 9;
    /// DLT_RAW as most systems define it: the frame starts with an IPv4 or IPv6 header.
    pub const RAW_12: i32 = 12;
    /// DLT_RAW as OpenBSD defines it.
    pub const RAW_14: i32 = 14;
    /// PPP in HDLC-like framing (out of scope).
    pub const PPP_HDLC: i32 = 50;
    /// PPPoE as a link type (out of scope).
    pub const PPP_ETHER: i32 = 51;
    /// LINKTYPE_RAW, the value files carry for raw IP.
    pub const RAW: i32 = 101;
    /// 802.11 without a radio header (out of scope).
    pub const IEEE802_11: i32 = 105;
    /// OpenBSD loopback: a 4-byte address family in network byte order.
    pub const LOOP: i32 = 108;
    /// Linux cooked capture v1 (the `any` device).
    pub const LINUX_SLL: i32 = 113;
    /// 802.11 with a Prism header (out of scope).
    pub const IEEE802_11_PRISM: i32 = 119;
    /// 802.11 with a radiotap header (out of scope).
    pub const IEEE802_11_RADIOTAP: i32 = 127;
    /// 802.11 with an AVS header (out of scope).
    pub const IEEE802_11_AVS: i32 = 163;
    /// Per-Packet Information header, usually 802.11 (out of scope).
    pub const PPI: i32 = 192;
    /// Raw IPv4.
    pub const IPV4: i32 = 228;
    /// Raw IPv6.
    pub const IPV6: i32 = 229;
    /// Linux netfilter NFLOG: a 4-byte header, then TLVs, one of which holds the IP packet.
    pub const NFLOG: i32 = 239;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: i32 = 276;

    /// The link type's name as libpcap and tcpdump print it (`EN10MB`, `LINUX_SLL`, …), or its
    /// number for types without a constant here.
    pub fn name(linktype: i32) -> String {
        let known = match linktype {
            NULL => "NULL",
            EN10MB => "EN10MB",
            PPP => "PPP",
            RAW_12 | RAW_14 | RAW => "RAW",
            PPP_HDLC => "PPP_HDLC",
            PPP_ETHER => "PPP_ETHER",
            IEEE802_11 => "IEEE802_11",
            LOOP => "LOOP",
            LINUX_SLL => "LINUX_SLL",
            IEEE802_11_PRISM => "IEEE802_11_PRISM",
            IEEE802_11_RADIOTAP => "IEEE802_11_RADIOTAP",
            IEEE802_11_AVS => "IEEE802_11_AVS",
            PPI => "PPI",
            IPV4 => "IPV4",
            IPV6 => "IPV6",
            NFLOG => "NFLOG",
            LINUX_SLL2 => "LINUX_SLL2",
            other => return other.to_string(),
        };
        known.to_string()
    }

    /// True for the link types the decoder turns into IP packets.
    pub fn is_decoded(linktype: i32) -> bool {
        matches!(
            linktype,
            NULL | EN10MB
                | RAW_12
                | RAW_14
                | RAW
                | LOOP
                | LINUX_SLL
                | IPV4
                | IPV6
                | NFLOG
                | LINUX_SLL2
        )
    }

    /// True for link types that are known encapsulations reel does not decode (802.11, PPP):
    /// counted as unsupported encapsulation rather than unknown link type.
    pub fn is_unsupported_encapsulation(linktype: i32) -> bool {
        matches!(
            linktype,
            PPP | PPP_HDLC
                | PPP_ETHER
                | IEEE802_11
                | IEEE802_11_PRISM
                | IEEE802_11_RADIOTAP
                | IEEE802_11_AVS
                | PPI
        )
    }
}

/// Ether types that mean a tunnel or framing reel does not decode.
pub(crate) fn is_unsupported_ether_type(ether_type: u16) -> bool {
    matches!(
        ether_type,
        0x8863 // PPPoE discovery
            | 0x8864 // PPPoE session
            | 0x8847 // MPLS unicast
            | 0x8848 // MPLS multicast
            | 0x88e5 // MACsec
            | 0x88e7 // 802.1ah (MAC-in-MAC)
            | 0x88be // ERSPAN
            | 0x6558 // transparent Ethernet bridging
            | 0x894f // NSH
    )
}

/// What follows the link header of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Link<'a> {
    /// A whole Ethernet II frame (the header is parsed by etherparse, tags included).
    Ethernet(&'a [u8]),
    /// Bytes whose type an ether type names (after a Linux cooked header).
    EtherType(u16, &'a [u8]),
    /// Bytes that start with an IPv4 or IPv6 header.
    Ip(&'a [u8]),
    /// The link header says the frame does not carry IP.
    NotIp,
    /// A known link type or link-level protocol that reel does not decode.
    Unsupported,
    /// A link type reel does not know.
    UnknownLinktype,
    /// The frame is shorter than its link header.
    Truncated,
}

/// BSD address family values that mean IPv4 / IPv6 in NULL and LOOP headers.
const AF_INET: u32 = 2;
const AF_INET6_VALUES: [u32; 3] = [24, 28, 30];

/// NFLOG TLV type of the attribute holding the packet.
const NFULA_PAYLOAD: u16 = 9;

/// Linux ARPHRD values in cooked headers that change the meaning of the protocol field.
const ARPHRD_IPGRE: u16 = 778;
const ARPHRD_NETLINK: u16 = 824;

/// Strips the link header of a frame of link type `linktype`.
pub(crate) fn strip(link_type: i32, data: &[u8]) -> Link<'_> {
    use self::linktype as lt;
    match link_type {
        lt::EN10MB => Link::Ethernet(data),
        lt::RAW | lt::RAW_12 | lt::RAW_14 | lt::IPV4 | lt::IPV6 => Link::Ip(data),
        lt::NULL | lt::LOOP => null_loop(data),
        lt::LINUX_SLL => cooked(data, 16, 14, 2),
        lt::LINUX_SLL2 => cooked(data, 20, 0, 8),
        lt::NFLOG => nflog(data),
        other if lt::is_unsupported_encapsulation(other) => Link::Unsupported,
        _ => Link::UnknownLinktype,
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    let bytes = data.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]))
}

/// NULL (host byte order) and LOOP (network byte order): the 4-byte family is read in whichever
/// order gives the smaller value, so files from hosts of either byte order decode.
fn null_loop(data: &[u8]) -> Link<'_> {
    let (Some(header), Some(rest)) = (data.get(..4), data.get(4..)) else {
        return Link::Truncated;
    };
    let mut family = [0u8; 4];
    family.copy_from_slice(header);
    let family = u32::from_le_bytes(family).min(u32::from_be_bytes(family));
    if family == AF_INET || AF_INET6_VALUES.contains(&family) {
        Link::Ip(rest)
    } else {
        Link::NotIp
    }
}

/// Linux cooked headers (SLL: 16 bytes, SLL2: 20 bytes): the protocol field is an ether type
/// when it is at least 0x0600; smaller values are Linux's own (802.2, CAN…), never IP.
fn cooked(data: &[u8], header_len: usize, protocol_at: usize, hatype_at: usize) -> Link<'_> {
    let (Some(rest), Some(protocol), Some(hatype)) = (
        data.get(header_len..),
        be16(data, protocol_at),
        be16(data, hatype_at),
    ) else {
        return Link::Truncated;
    };
    match hatype {
        ARPHRD_IPGRE => Link::Unsupported,
        ARPHRD_NETLINK => Link::NotIp,
        _ if protocol >= 0x0600 => Link::EtherType(protocol, rest),
        _ => Link::NotIp,
    }
}

/// NFLOG: a 4-byte header (family, version, resource id), then TLVs of `length u16, type u16`
/// padded to 4 bytes. libpcap hands the TLV fields in the reading host's byte order; a length
/// that makes no sense that way is tried byte-swapped (a file written on a host of the other
/// order and read without libpcap's fix-up).
fn nflog(data: &[u8]) -> Link<'_> {
    if data.len() < 4 {
        return Link::Truncated;
    }
    let mut offset = 4usize;
    while let Some(&[l0, l1, t0, t1]) = data.get(offset..offset.saturating_add(4)) {
        let raw_len = [l0, l1];
        let raw_type = [t0, t1];
        let remaining = data.len() - offset;
        let native_len = usize::from(u16::from_ne_bytes(raw_len));
        let (len, kind) = if native_len >= 4 && native_len <= remaining {
            (native_len, u16::from_ne_bytes(raw_type))
        } else {
            let swapped_len = usize::from(u16::from_ne_bytes([raw_len[1], raw_len[0]]));
            if swapped_len >= 4 && swapped_len <= remaining {
                (swapped_len, u16::from_ne_bytes([raw_type[1], raw_type[0]]))
            } else if native_len >= 4 {
                // Announced past the captured bytes: the snaplen cut this TLV.
                (native_len, u16::from_ne_bytes(raw_type))
            } else {
                return Link::Truncated;
            }
        };
        if kind & 0x7fff == NFULA_PAYLOAD {
            let end = offset.saturating_add(len).min(data.len());
            return match data.get(offset + 4..end) {
                Some(packet) => Link::Ip(packet),
                None => Link::Truncated,
            };
        }
        offset = offset.saturating_add((len + 3) & !3);
    }
    // No payload attribute: an NFLOG message about a packet without its bytes.
    Link::NotIp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_family_is_read_in_either_byte_order() {
        let ip = [0x45u8, 0, 0, 20];
        let little = [[2u8, 0, 0, 0].as_slice(), &ip].concat();
        let big = [[0u8, 0, 0, 2].as_slice(), &ip].concat();
        let v6_big = [[0u8, 0, 0, 30].as_slice(), &ip].concat();
        let v6_little = [[24u8, 0, 0, 0].as_slice(), &ip].concat();
        let v6_28 = [[28u8, 0, 0, 0].as_slice(), &ip].concat();
        for frame in [&little, &big, &v6_big, &v6_little, &v6_28] {
            assert_eq!(strip(linktype::NULL, frame), Link::Ip(&ip));
            assert_eq!(strip(linktype::LOOP, frame), Link::Ip(&ip));
        }
        // AF_APPLETALK (16) and the like are not IP.
        assert_eq!(strip(linktype::NULL, &[16, 0, 0, 0, 1]), Link::NotIp);
        assert_eq!(strip(linktype::NULL, &[2, 0, 0]), Link::Truncated);
    }

    #[test]
    fn cooked_headers_give_the_ether_type() {
        let mut sll = vec![0u8; 16];
        sll[2..4].copy_from_slice(&1u16.to_be_bytes()); // ARPHRD_ETHER
        sll[14..16].copy_from_slice(&0x0800u16.to_be_bytes());
        sll.extend_from_slice(&[0x45, 0]);
        assert_eq!(
            strip(linktype::LINUX_SLL, &sll),
            Link::EtherType(0x0800, &[0x45, 0])
        );
        sll[14..16].copy_from_slice(&0x0004u16.to_be_bytes()); // LINUX_SLL_P_802_2
        assert_eq!(strip(linktype::LINUX_SLL, &sll), Link::NotIp);
        assert_eq!(strip(linktype::LINUX_SLL, &sll[..15]), Link::Truncated);

        let mut sll2 = vec![0u8; 20];
        sll2[0..2].copy_from_slice(&0x86ddu16.to_be_bytes());
        sll2[8..10].copy_from_slice(&1u16.to_be_bytes());
        assert_eq!(
            strip(linktype::LINUX_SLL2, &sll2),
            Link::EtherType(0x86dd, &[])
        );
        sll2[8..10].copy_from_slice(&ARPHRD_IPGRE.to_be_bytes());
        assert_eq!(strip(linktype::LINUX_SLL2, &sll2), Link::Unsupported);
    }

    #[test]
    fn nflog_walks_the_tlvs_to_the_payload() {
        let mut frame = vec![2u8, 0, 0, 0];
        // A 5-byte prefix TLV (type 1), padded to 8.
        frame.extend_from_slice(&5u16.to_ne_bytes());
        frame.extend_from_slice(&1u16.to_ne_bytes());
        frame.extend_from_slice(&[9, 0, 0, 0]);
        // The payload TLV.
        frame.extend_from_slice(&7u16.to_ne_bytes());
        frame.extend_from_slice(&NFULA_PAYLOAD.to_ne_bytes());
        frame.extend_from_slice(&[0x45, 1, 2]);
        assert_eq!(strip(linktype::NFLOG, &frame), Link::Ip(&[0x45, 1, 2]));
        // Cut by the snaplen inside the payload: what was captured.
        assert_eq!(
            strip(linktype::NFLOG, &frame[..frame.len() - 1]),
            Link::Ip(&[0x45, 1])
        );
        // No payload TLV at all.
        assert_eq!(strip(linktype::NFLOG, &frame[..12]), Link::NotIp);
        // A zero length TLV cannot be walked past.
        assert_eq!(
            strip(linktype::NFLOG, &[2, 0, 0, 0, 0, 0, 0, 0]),
            Link::Truncated
        );
    }

    #[test]
    fn out_of_scope_and_unknown_link_types_are_told_apart() {
        assert_eq!(
            strip(linktype::IEEE802_11_RADIOTAP, &[0; 40]),
            Link::Unsupported
        );
        assert_eq!(strip(linktype::IEEE802_11, &[0; 40]), Link::Unsupported);
        assert_eq!(strip(147, &[0; 40]), Link::UnknownLinktype);
        assert_eq!(strip(-1, &[]), Link::UnknownLinktype);
    }
}
