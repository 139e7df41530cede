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
