//! Reading and writing pcap files frame by frame, for tests that rewrite real captures at the packet
//! level (reorder, duplicate, drop, shift sequence numbers) and feed them to extraction.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use reel::capture::Frame;
use reel::exchange::Record;
use reel::record::extraction::{Extraction, ExtractionConfig};

/// One captured frame, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedFrame {
    /// Capture time, ns since the epoch.
    pub ts_ns: u64,
    /// The captured bytes.
    pub data: Vec<u8>,
    /// Length on the wire.
    pub wire_len: u32,
}

/// A capture read whole: its link type and frames.
pub struct Pcap {
    /// libpcap link type.
    pub linktype: i32,
    /// The frames in file order.
    pub frames: Vec<OwnedFrame>,
}

/// Reads every frame of a pcap/pcapng file with libpcap, at nanosecond precision.
pub fn read(path: &Path) -> Pcap {
    let mut cap = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let linktype = cap.get_datalink().0;
    let mut frames = Vec::new();
    while let Ok(p) = cap.next_packet() {
        let ts_ns = p.header.ts.tv_sec as u64 * 1_000_000_000 + p.header.ts.tv_usec as u64;
        frames.push(OwnedFrame {
            ts_ns,
            data: p.data.to_vec(),
            wire_len: p.header.len,
        });
    }
    Pcap { linktype, frames }
}

/// Runs extraction over frames in the given order, returning every record.
pub fn extract(linktype: i32, frames: &[OwnedFrame], config: ExtractionConfig) -> Vec<Record> {
    let mut x = Extraction::new(config);
    let mut out = Vec::new();
    for f in frames {
        x.push(
            &Frame {
                ts_ns: f.ts_ns,
                linktype,
                data: &f.data,
                wire_len: f.wire_len,
            },
            &mut out,
        );
    }
    x.finish(&mut out);
    out
}

/// The TCP part of an Ethernet/IPv4/TCP frame: (offset of the TCP header, payload offset, payload length).
pub fn tcp_offsets(frame: &[u8]) -> Option<(usize, usize, usize)> {
    if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
        return None;
    }
    let ip = 14;
    let ihl = usize::from(frame[ip] & 0x0f) * 4;
    if frame[ip + 9] != 6 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([frame[ip + 2], frame[ip + 3]]));
    let tcp = ip + ihl;
    let doff = usize::from(frame[tcp + 12] >> 4) * 4;
    let payload = tcp + doff;
    Some((tcp, payload, (ip + total).saturating_sub(payload)))
}

/// Source port of an Ethernet/IPv4/TCP frame.
pub fn src_port(frame: &[u8]) -> Option<u16> {
    let (tcp, _, _) = tcp_offsets(frame)?;
    Some(u16::from_be_bytes([frame[tcp], frame[tcp + 1]]))
}

/// Reads the sequence and acknowledgement numbers.
pub fn seq_ack(frame: &[u8]) -> Option<(u32, u32)> {
    let (tcp, _, _) = tcp_offsets(frame)?;
    let seq = u32::from_be_bytes(frame[tcp + 4..tcp + 8].try_into().ok()?);
    let ack = u32::from_be_bytes(frame[tcp + 8..tcp + 12].try_into().ok()?);
    Some((seq, ack))
}

/// Overwrites the sequence and acknowledgement numbers (checksums are not fixed: reel ignores them).
pub fn set_seq_ack(frame: &mut [u8], seq: u32, ack: u32) {
    let (tcp, _, _) = tcp_offsets(frame).expect("an Ethernet/IPv4/TCP frame");
    frame[tcp + 4..tcp + 8].copy_from_slice(&seq.to_be_bytes());
    frame[tcp + 8..tcp + 12].copy_from_slice(&ack.to_be_bytes());
}

/// A copy of an Ethernet/IPv4/TCP frame with another sequence number and payload (IP total length
/// fixed up; checksums left as they are).
pub fn with_payload(frame: &[u8], seq: u32, payload: &[u8]) -> Vec<u8> {
    let (tcp, start, _) = tcp_offsets(frame).expect("an Ethernet/IPv4/TCP frame");
    let mut out = frame[..start].to_vec();
    out.extend_from_slice(payload);
    let total = (out.len() - 14) as u16;
    out[16..18].copy_from_slice(&total.to_be_bytes());
    out[tcp + 4..tcp + 8].copy_from_slice(&seq.to_be_bytes());
    out
}

/// The payload of an Ethernet/IPv4/TCP frame.
pub fn payload(frame: &[u8]) -> &[u8] {
    match tcp_offsets(frame) {
        Some((_, start, len)) => &frame[start..(start + len).min(frame.len())],
        None => &[],
    }
}
