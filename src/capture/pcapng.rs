//! A small pcapng reader, used only where libpcap refuses a file: pcapng files whose interfaces
//! have different link types (libpcap 1.10 stops at the first interface whose type differs).
//!
//! Format (pcapng, draft-ietf-opsawg-pcapng): a sequence of blocks, each
//! `type u32, total_length u32, body, total_length u32`, total_length a multiple of 4, in the
//! byte order of the Section Header Block (SHB, type 0x0A0D0D0A, byte-order magic 0x1A2B3C4D)
//! that opens the section. Read here: SHB (a new one starts a new section and forgets the
//! interfaces), Interface Description Block (IDB, 1: link type, snaplen, options if_tsresol 9
//! and if_tsoffset 14), Enhanced Packet Block (EPB, 6), Simple Packet Block (SPB, 3, interface 0,
//! no timestamp) and the obsolete Packet Block (2). Other blocks are skipped.
//!
//! Never panics, whatever the bytes: every field is read through `get`, every length is checked
//! against the block before use, blocks are at most [`MAX_BLOCK`] bytes so memory is bounded.

use std::io::{self, Read};

/// Largest block accepted (libpcap's limit too): larger ones mean a corrupt length field.
pub(crate) const MAX_BLOCK: usize = 16 << 20;

const SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const OPT_TSRESOL: u16 = 9;
const OPT_TSOFFSET: u16 = 14;

/// Why reading stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The file ends inside a block (cut short, or still being written).
    Truncated,
    /// A block says something impossible.
    Corrupt(String),
    /// The first block is not a section header: not a pcapng file.
    NotPcapng,
    /// The system failed to read.
    Io(io::Error),
}

/// One packet, borrowing the reader's block buffer.
#[derive(Debug)]
pub(crate) struct Packet<'a> {
    pub ts_ns: u64,
    pub linktype: i32,
    pub wire_len: u32,
    pub data: &'a [u8],
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: i32,
    snaplen: u32,
    /// Timestamp units per second (if_tsresol).
    units_per_second: u128,
    /// Seconds added to every timestamp (if_tsoffset).
    offset_seconds: i64,
}

/// Where the packet of the current block is.
struct Found {
    ts_ns: u64,
    linktype: i32,
    wire_len: u32,
    start: usize,
    len: usize,
}

/// Reads packets from a pcapng stream.
pub(crate) struct Reader<R> {
    input: R,
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// The body and trailer of the current block.
    block: Vec<u8>,
}

impl<R: Read> Reader<R> {
    /// Reads the first section header.
    pub(crate) fn new(input: R) -> Result<Self, ReadError> {
        let mut reader = Reader {
            input,
            big_endian: false,
            interfaces: Vec::new(),
            block: Vec::new(),
        };
        let mut head = [0u8; 8];
        match read_full(&mut reader.input, &mut head).map_err(ReadError::Io)? {
            8 => {}
            _ => return Err(ReadError::Truncated),
        }
        if head[..4] != SHB {
            return Err(ReadError::NotPcapng);
        }
        reader.section_header(head)?;
        Ok(reader)
    }

    /// The next packet, `None` at the end of the file.
    pub(crate) fn next_packet(&mut self) -> Result<Option<Packet<'_>>, ReadError> {
        let found = loop {
            let mut head = [0u8; 8];
            match read_full(&mut self.input, &mut head).map_err(ReadError::Io)? {
                0 => return Ok(None),
                8 => {}
                _ => return Err(ReadError::Truncated),
            }
            if head[..4] == SHB {
                self.section_header(head)?;
                continue;
            }
            let block_type = self.u32_of([head[0], head[1], head[2], head[3]]);
            let total = self.u32_of([head[4], head[5], head[6], head[7]]);
            self.read_block(total)?;
            let found = match block_type {
                IDB => {
                    self.interface()?;
                    None
                }
                EPB => Some(self.enhanced_packet()?),
                SPB => Some(self.simple_packet()?),
                PB => Some(self.obsolete_packet()?),
                _ => None,
            };
            if let Some(found) = found {
                break found;
            }
        };
        let data = self
            .block
            .get(found.start..found.start + found.len)
            .ok_or_else(|| ReadError::Corrupt("packet data outside its block".into()))?;
        Ok(Some(Packet {
            ts_ns: found.ts_ns,
            linktype: found.linktype,
            wire_len: found.wire_len,
            data,
        }))
    }

    /// Reads a section header whose first 8 bytes are `head`, learning the byte order.
    fn section_header(&mut self, head: [u8; 8]) -> Result<(), ReadError> {
        let mut magic = [0u8; 4];
        if read_full(&mut self.input, &mut magic).map_err(ReadError::Io)? != 4 {
            return Err(ReadError::Truncated);
        }
        self.big_endian = match u32::from_le_bytes(magic) {
            BYTE_ORDER_MAGIC => false,
            m if m.swap_bytes() == BYTE_ORDER_MAGIC => true,
            other => {
                return Err(ReadError::Corrupt(format!(
                    "section header with byte-order magic {other:#010x}"
                )));
            }
        };
        let total = self.u32_of([head[4], head[5], head[6], head[7]]);
        let total_len = block_len(total, 28)?;
        // Body after the magic, then the trailer.
        self.block.resize(total_len - 12, 0);
        read_exact(&mut self.input, &mut self.block)?;
        self.check_trailer(total)?;
        let major = self.u16_at(0).unwrap_or(0);
        if major != 1 {
            return Err(ReadError::Corrupt(format!(
                "unsupported pcapng version {major}"
            )));
        }
        self.interfaces.clear();
        Ok(())
    }

    /// Reads the body and trailer of a block of `total` bytes whose header was read.
    fn read_block(&mut self, total: u32) -> Result<(), ReadError> {
        let total_len = block_len(total, 12)?;
        self.block.resize(total_len - 8, 0);
        read_exact(&mut self.input, &mut self.block)?;
        self.check_trailer(total)
    }

    fn check_trailer(&self, total: u32) -> Result<(), ReadError> {
        let at = self.block.len().saturating_sub(4);
        match self.u32_at(at) {
            Some(trailer) if trailer == total => Ok(()),
            _ => Err(ReadError::Corrupt(format!(
                "block of {total} bytes whose trailing length differs"
            ))),
        }
    }

    /// Body length of the current block (without trailer).
    fn body_len(&self) -> usize {
        self.block.len().saturating_sub(4)
    }

    fn interface(&mut self) -> Result<(), ReadError> {
        let (Some(linktype), Some(snaplen)) = (self.u16_at(0), self.u32_at(4)) else {
            return Err(ReadError::Corrupt("interface block too short".into()));
        };
        let mut interface = Interface {
            linktype: i32::from(linktype),
            snaplen,
            units_per_second: 1_000_000,
            offset_seconds: 0,
        };
        let mut at = 8;
        let end = self.body_len();
        while at + 4 <= end {
            let (Some(code), Some(len)) = (self.u16_at(at), self.u16_at(at + 2)) else {
                break;
            };
            let value_at = at + 4;
            let len = usize::from(len);
            if code == 0 || value_at + len > end {
                break;
            }
            match code {
                OPT_TSRESOL => {
                    let resolution = self.block.get(value_at).copied().unwrap_or(6);
                    interface.units_per_second = units_per_second(resolution)?;
                }
                OPT_TSOFFSET => {
                    if let Some(offset) = self.u64_at(value_at) {
                        interface.offset_seconds = offset as i64;
                    }
                }
                _ => {}
            }
            at = value_at + ((len + 3) & !3);
        }
        self.interfaces.push(interface);
        Ok(())
    }

    fn interface_at(&self, id: u32) -> Result<Interface, ReadError> {
        usize::try_from(id)
            .ok()
            .and_then(|id| self.interfaces.get(id))
            .copied()
            .ok_or_else(|| {
                ReadError::Corrupt(format!(
                    "packet of interface {id}, but the section describes {}",
                    self.interfaces.len()
                ))
            })
    }

    fn packet_at(
        &self,
        interface: Interface,
        ts: u64,
        start: usize,
        caplen: u32,
        wire_len: u32,
    ) -> Result<Found, ReadError> {
        let len = usize::try_from(caplen).unwrap_or(usize::MAX);
        if start.saturating_add(len) > self.body_len() {
            return Err(ReadError::Corrupt(format!(
                "packet of {caplen} bytes in a block of {} bytes",
                self.block.len() + 8
            )));
        }
        Ok(Found {
            ts_ns: interface.ns(ts),
            linktype: interface.linktype,
            wire_len: wire_len.max(caplen),
            start,
            len,
        })
    }

    fn enhanced_packet(&self) -> Result<Found, ReadError> {
        let fields = (
            self.u32_at(0),
            self.u32_at(4),
            self.u32_at(8),
            self.u32_at(12),
            self.u32_at(16),
        );
        let (Some(id), Some(high), Some(low), Some(caplen), Some(wire_len)) = fields else {
            return Err(ReadError::Corrupt("enhanced packet block too short".into()));
        };
        let interface = self.interface_at(id)?;
        let ts = (u64::from(high) << 32) | u64::from(low);
        self.packet_at(interface, ts, 20, caplen, wire_len)
    }

    fn simple_packet(&self) -> Result<Found, ReadError> {
        let Some(wire_len) = self.u32_at(0) else {
            return Err(ReadError::Corrupt("simple packet block too short".into()));
        };
        let interface = self.interface_at(0)?;
        let room = u32::try_from(self.body_len().saturating_sub(4)).unwrap_or(u32::MAX);
        let mut caplen = wire_len.min(room);
        if interface.snaplen > 0 {
            caplen = caplen.min(interface.snaplen);
        }
        // A simple packet block carries no timestamp.
        self.packet_at(interface, 0, 4, caplen, wire_len)
    }

    fn obsolete_packet(&self) -> Result<Found, ReadError> {
        let fields = (
            self.u16_at(0),
            self.u32_at(4),
            self.u32_at(8),
            self.u32_at(12),
            self.u32_at(16),
        );
        let (Some(id), Some(high), Some(low), Some(caplen), Some(wire_len)) = fields else {
            return Err(ReadError::Corrupt("packet block too short".into()));
        };
        let interface = self.interface_at(u32::from(id))?;
        let ts = (u64::from(high) << 32) | u64::from(low);
        self.packet_at(interface, ts, 20, caplen, wire_len)
    }

    fn u16_at(&self, at: usize) -> Option<u16> {
        let bytes: [u8; 2] = self.block.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(bytes)
        } else {
            u16::from_le_bytes(bytes)
        })
    }

    fn u32_at(&self, at: usize) -> Option<u32> {
        let bytes: [u8; 4] = self.block.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(self.u32_of(bytes))
    }

    fn u64_at(&self, at: usize) -> Option<u64> {
        let bytes: [u8; 8] = self.block.get(at..at.checked_add(8)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u64::from_be_bytes(bytes)
        } else {
            u64::from_le_bytes(bytes)
        })
    }

    fn u32_of(&self, bytes: [u8; 4]) -> u32 {
        if self.big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        }
    }
}

impl Interface {
    /// A timestamp in this interface's units as ns since the epoch, saturating at the ends of u64.
    fn ns(&self, ts: u64) -> u64 {
        let ns = u128::from(ts) * 1_000_000_000 / self.units_per_second.max(1);
        let ns = i128::try_from(ns).unwrap_or(i128::MAX);
        let ns = ns.saturating_add(i128::from(self.offset_seconds) * 1_000_000_000);
        u64::try_from(ns.max(0)).unwrap_or(u64::MAX)
    }
}

/// if_tsresol: 10^-v seconds when the top bit is clear, 2^-v when set.
fn units_per_second(resolution: u8) -> Result<u128, ReadError> {
    let exponent = u32::from(resolution & 0x7f);
    let units = if resolution & 0x80 == 0 {
        10u128.checked_pow(exponent)
    } else {
        2u128.checked_pow(exponent)
    };
    units.ok_or_else(|| ReadError::Corrupt(format!("timestamp resolution {resolution:#04x}")))
}

/// Checks a block's total length: a multiple of 4, at least `min`, at most [`MAX_BLOCK`].
fn block_len(total: u32, min: usize) -> Result<usize, ReadError> {
    let len = usize::try_from(total).unwrap_or(usize::MAX);
    if len < min || len % 4 != 0 || len > MAX_BLOCK {
        return Err(ReadError::Corrupt(format!("block length {total}")));
    }
    Ok(len)
}

/// Reads until `buf` is full or the input ends; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(buf.get_mut(filled..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn read_exact(input: &mut impl Read, buf: &mut [u8]) -> Result<(), ReadError> {
    if read_full(input, buf).map_err(ReadError::Io)? == buf.len() {
        Ok(())
    } else {
        Err(ReadError::Truncated)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds pcapng blocks in either byte order.
    struct Builder {
        big: bool,
        out: Vec<u8>,
    }

    impl Builder {
        fn u16(&self, v: u16) -> [u8; 2] {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn u32(&self, v: u32) -> [u8; 4] {
            if self.big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        }
        fn block(&mut self, kind: u32, body: &[u8]) {
            let mut padded = body.to_vec();
            while padded.len() % 4 != 0 {
                padded.push(0);
            }
            let total = 12 + padded.len() as u32;
            let kind = if kind == 0x0a0d0d0a {
                SHB
            } else {
                self.u32(kind)
            };
            self.out.extend_from_slice(&kind);
            self.out.extend_from_slice(&self.u32(total));
            self.out.extend_from_slice(&padded);
            self.out.extend_from_slice(&self.u32(total));
        }
        fn shb(&mut self) {
            let mut body = self.u32(BYTE_ORDER_MAGIC).to_vec();
            body.extend_from_slice(&self.u16(1));
            body.extend_from_slice(&self.u16(0));
            body.extend_from_slice(&[0xff; 8]);
            self.block(0x0a0d0d0a, &body);
        }
        fn idb(&mut self, linktype: u16, tsresol: Option<u8>) {
            let mut body = self.u16(linktype).to_vec();
            body.extend_from_slice(&[0, 0]);
            body.extend_from_slice(&self.u32(0));
            if let Some(r) = tsresol {
                body.extend_from_slice(&self.u16(OPT_TSRESOL));
                body.extend_from_slice(&self.u16(1));
                body.extend_from_slice(&[r, 0, 0, 0]);
                body.extend_from_slice(&[0, 0, 0, 0]);
            }
            self.block(IDB, &body);
        }
        fn epb(&mut self, interface: u32, ts: u64, data: &[u8], wire_len: u32) {
            let mut body = self.u32(interface).to_vec();
            body.extend_from_slice(&self.u32((ts >> 32) as u32));
            body.extend_from_slice(&self.u32(ts as u32));
            body.extend_from_slice(&self.u32(data.len() as u32));
            body.extend_from_slice(&self.u32(wire_len));
            body.extend_from_slice(data);
            self.block(EPB, &body);
        }
    }

    /// A packet as (ts_ns, linktype, wire_len, data).
    type Owned = (u64, i32, u32, Vec<u8>);

    fn read_all(bytes: &[u8]) -> (Vec<Owned>, Option<ReadError>) {
        let mut reader = match Reader::new(bytes) {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Some(e)),
        };
        let mut out = Vec::new();
        loop {
            match reader.next_packet() {
                Ok(Some(p)) => out.push((p.ts_ns, p.linktype, p.wire_len, p.data.to_vec())),
                Ok(None) => return (out, None),
                Err(e) => return (out, Some(e)),
            }
        }
    }

    #[test]
    fn mixed_link_types_and_resolutions_in_both_byte_orders() {
        for big in [false, true] {
            let mut b = Builder {
                big,
                out: Vec::new(),
            };
            b.shb();
            b.idb(1, None);
            b.idb(113, Some(9));
            b.block(5, &[1, 2, 3, 4]); // interface statistics: skipped
            b.epb(0, 1_500_000, b"abc", 3);
            b.epb(1, 2_000_000_001, b"defgh", 60);
            let (packets, err) = read_all(&b.out);
            assert!(err.is_none(), "{err:?}");
            assert_eq!(
                packets,
                [
                    (1_500_000_000, 1, 3, b"abc".to_vec()),
                    (2_000_000_001, 113, 60, b"defgh".to_vec()),
                ]
            );
        }
    }

    #[test]
    fn a_new_section_forgets_the_interfaces() {
        let mut b = Builder {
            big: false,
            out: Vec::new(),
        };
        b.shb();
        b.idb(1, None);
        b.shb();
        b.epb(0, 1, b"x", 1);
        let (packets, err) = read_all(&b.out);
        assert!(packets.is_empty());
        assert!(matches!(err, Some(ReadError::Corrupt(_))), "{err:?}");
    }

    #[test]
    fn truncation_and_corruption_are_told_apart() {
        let mut b = Builder {
            big: false,
            out: Vec::new(),
        };
        b.shb();
        b.idb(1, None);
        b.epb(0, 1, b"first", 5);
        let good = b.out.len();
        b.epb(0, 2, b"second", 6);
        for cut in good + 1..b.out.len() {
            let (packets, err) = read_all(&b.out[..cut]);
            assert_eq!(packets.len(), 1);
            assert!(
                matches!(err, Some(ReadError::Truncated)),
                "cut {cut}: {err:?}"
            );
        }
        // A caplen beyond its block.
        let mut bad = b.out.clone();
        bad[good + 20..good + 24].copy_from_slice(&1000u32.to_le_bytes());
        let (packets, err) = read_all(&bad);
        assert_eq!(packets.len(), 1);
        assert!(matches!(err, Some(ReadError::Corrupt(_))), "{err:?}");
        // A length that is not a multiple of 4.
        let mut bad = b.out.clone();
        bad[good + 4] = 0x2a;
        assert!(matches!(read_all(&bad).1, Some(ReadError::Corrupt(_))));
        // Not pcapng at all, and a header cut short.
        assert!(matches!(
            read_all(b"\xd4\xc3\xb2\xa1rest").1,
            Some(ReadError::NotPcapng)
        ));
        assert!(matches!(
            read_all(&b.out[..20]).1,
            Some(ReadError::Truncated)
        ));
    }

    #[test]
    fn timestamps_saturate_instead_of_overflowing() {
        let interface = Interface {
            linktype: 1,
            snaplen: 0,
            units_per_second: 1_000_000,
            offset_seconds: 0,
        };
        assert_eq!(interface.ns(u64::MAX), u64::MAX);
        let early = Interface {
            offset_seconds: -10,
            ..interface
        };
        assert_eq!(early.ns(5_000_000), 0);
        assert!(units_per_second(0x7f).is_err());
        assert_eq!(units_per_second(0x80 | 10).ok(), Some(1024));
    }

    proptest::proptest! {
        #[test]
        fn damaged_files_never_panic(
            flips in proptest::collection::vec((0usize..200, proptest::prelude::any::<u8>()), 0..8),
            cut in 0usize..220,
        ) {
            let mut b = Builder { big: false, out: Vec::new() };
            b.shb();
            b.idb(1, Some(9));
            b.epb(0, 7, b"first packet", 12);
            b.epb(0, 8, b"second", 60);
            let mut bytes = b.out;
            for (at, value) in flips {
                if let Some(byte) = bytes.get_mut(at) {
                    *byte = value;
                }
            }
            bytes.truncate(cut);
            let (packets, _) = read_all(&bytes);
            proptest::prop_assert!(packets.len() <= 2 + bytes.len() / 12);
        }
    }
}
