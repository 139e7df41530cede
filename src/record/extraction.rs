//! Extraction: the capture side wired end to end — frames in, exchange records out.
//!
//! `capture::Decoder` → `tcp::Reassembler` → `http::Extractor`, driven one frame at a time by
//! whatever produces frames (`record --read` from files, live capture from a device). Records come
//! out in the order the extractor completes them (see the ordering invariant in `http`).

use crate::capture::{DecodeConfig, Decoder, Frame};
use crate::exchange::Record;
use crate::http::{ExtractConfig, Extractor};
use crate::tcp::{Reassembler, TcpConfig};

/// The configuration of every stage of extraction.
#[derive(Debug, Clone, Default)]
pub struct ExtractionConfig {
    /// Link and IP layer limits (fragment reassembly).
    pub decode: DecodeConfig,
    /// Flow table limits: idle timeout, memory budget.
    pub tcp: TcpConfig,
    /// HTTP framing: server ports, body cap.
    pub http: ExtractConfig,
}

/// Decoder, reassembler and HTTP extractor, fed frames, yielding records.
pub struct Extraction {
    decoder: Decoder,
    tcp: Reassembler<Extractor>,
    http: Extractor,
}

impl Extraction {
    /// All three stages, configured.
    pub fn new(config: ExtractionConfig) -> Extraction {
        Extraction {
            decoder: Decoder::new(config.decode),
            tcp: Reassembler::new(config.tcp),
            http: Extractor::new(config.http),
        }
    }

    /// Feeds one frame; the records it completed are appended to `out`.
    pub fn push(&mut self, frame: &Frame<'_>, out: &mut Vec<Record>) {
        if let Some(segment) = self.decoder.decode(frame) {
            self.tcp.segment(&segment, &mut self.http);
            out.extend(self.http.drain());
        }
    }

    /// Closes idle connections as of `now_ns` (live capture, when no frames arrive).
    pub fn expire(&mut self, now_ns: u64, out: &mut Vec<Record>) {
        self.tcp.expire(now_ns, &mut self.http);
        out.extend(self.http.drain());
    }

    /// End of input: every connection is closed, what is complete is emitted, the rest counted.
    pub fn finish(&mut self, out: &mut Vec<Record>) {
        self.decoder.finish();
        self.tcp.finish(&mut self.http);
        out.extend(self.http.drain());
    }

    /// Bytes buffered by reassembly and framing together (what `--max-memory` bounds).
    pub fn buffered_bytes(&self) -> usize {
        self.tcp.buffered_bytes() + self.decoder.fragment_bytes_held()
    }

    /// Connections currently tracked.
    pub fn open_flows(&self) -> usize {
        self.tcp.open_flows()
    }

    /// Every stage's counters, named `decode.*`, `tcp.*` and `http.*`.
    pub fn counters(&self) -> Vec<(String, u64)> {
        let decode = self
            .decoder
            .stats()
            .counters()
            .into_iter()
            .map(|(k, v)| (format!("decode.{k}"), v));
        let tcp = self
            .tcp
            .stats()
            .iter()
            .map(|(k, v)| (format!("tcp.{k}"), v));
        let http = self
            .http
            .stats()
            .iter()
            .map(|(k, v)| (format!("http.{k}"), v));
        decode.chain(tcp).chain(http).collect()
    }

    /// The HTTP stage's counters.
    pub fn http_stats(&self) -> &crate::http::ExtractStats {
        self.http.stats()
    }

    /// The TCP stage's counters.
    pub fn tcp_stats(&self) -> &crate::tcp::TcpStats {
        self.tcp.stats()
    }

    /// The decoder's counters.
    pub fn decode_stats(&self) -> &crate::capture::DecodeStats {
        self.decoder.stats()
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/packets.rs`): arbitrary bytes read as a sequence of frames
/// and fed through decode → reassembly → framing; the output must keep the extractor's invariants.
///
/// Input format, chunk after chunk: a tag byte. With its high bit set, a raw frame follows:
/// `[linktype index][len: u16 LE][bytes]` (the index picks one of the decoded link types or an
/// unknown one). Otherwise a TCP segment on one of four fixed flows is built from
/// `[flags][seq delta: u16 LE][len: u8][payload]`: tag bits 0-1 pick the flow, bit 2 the direction.
/// Structured segments reach reassembly and HTTP quickly; raw frames reach the decoder's corners.
#[cfg(feature = "testing")]
pub fn fuzz_packets(data: &[u8]) {
    use crate::capture::linktype;
    const LINKTYPES: [i32; 8] = [
        linktype::EN10MB,
        linktype::LINUX_SLL,
        linktype::LINUX_SLL2,
        linktype::NULL,
        linktype::RAW,
        linktype::IPV4,
        linktype::NFLOG,
        147,
    ];
    let mut x = Extraction::new(ExtractionConfig {
        tcp: TcpConfig {
            max_flow_bytes: 64 << 10,
            max_total_bytes: 256 << 10,
            max_holes: 8,
            max_flows: 64,
            ..TcpConfig::default()
        },
        http: ExtractConfig {
            max_body: Some(4096),
            max_head: 4096,
            ..ExtractConfig::default()
        },
        ..ExtractionConfig::default()
    });
    let mut out = Vec::new();
    let mut seqs = [[1000u32, 900_000u32]; 4];
    let mut ts = 1_700_000_000_000_000_000u64;
    let mut rest = data;
    while let Some((&tag, tail)) = rest.split_first() {
        ts += 1_000_000;
        if tag & 0x80 != 0 {
            let Some((&lt, tail)) = tail.split_first() else {
                break;
            };
            let Some((len, tail)) = tail.split_first_chunk::<2>() else {
                break;
            };
            let len = usize::from(u16::from_le_bytes(*len)).min(tail.len());
            let (bytes, tail) = tail.split_at(len);
            let frame = Frame {
                ts_ns: ts,
                linktype: LINKTYPES[usize::from(lt) % LINKTYPES.len()],
                data: bytes,
                wire_len: len as u32 + u32::from(lt >> 4),
            };
            x.push(&frame, &mut out);
            rest = tail;
        } else {
            let Some((head, tail)) = tail.split_first_chunk::<4>() else {
                break;
            };
            let [flags, d0, d1, len] = *head;
            let len = usize::from(len).min(tail.len());
            let (payload, tail) = tail.split_at(len);
            let flow = usize::from(tag & 3);
            let from_client = tag & 4 == 0;
            let (src, dst, sport, dport) = if from_client {
                ([10, 0, 0, 1], [10, 0, 0, 2], 40000 + flow as u16, 80)
            } else {
                ([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000 + flow as u16)
            };
            let side = usize::from(!from_client);
            let seq = seqs[flow][side].wrapping_add(u32::from(u16::from_le_bytes([d0, d1])) / 64);
            if tag & 8 == 0 {
                seqs[flow][side] = seq.wrapping_add(payload.len() as u32);
            }
            let ack = seqs[flow][1 - side];
            let mut tcp = etherparse::PacketBuilder::ethernet2([2; 6], [4; 6])
                .ipv4(src, dst, 64)
                .tcp(sport, dport, seq, 65535)
                .ack(ack);
            if flags & 1 != 0 {
                tcp = tcp.fin();
            }
            if flags & 2 != 0 {
                tcp = tcp.syn();
            }
            if flags & 4 != 0 {
                tcp = tcp.rst();
            }
            let mut bytes = Vec::with_capacity(tcp.size(payload.len()));
            if tcp.write(&mut bytes, payload).is_ok() {
                let frame = Frame {
                    ts_ns: ts,
                    linktype: linktype::EN10MB,
                    data: &bytes,
                    wire_len: bytes.len() as u32,
                };
                x.push(&frame, &mut out);
            }
            rest = tail;
        }
        assert!(
            x.buffered_bytes() <= (256 << 10) + (64 << 10) + (4 << 20),
            "memory budget"
        );
    }
    x.finish(&mut out);
    crate::http::drive::check_records(&out).unwrap_or_else(|e| panic!("invariant broken: {e}"));
}
