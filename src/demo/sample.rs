//! The sample capture embedded in the binary (`captures-sample/shop.pcap`: real nginx traffic, see
//! `captures-sample/README.md`), turned into a `.reel` log by the capture side's own extraction, in
//! memory: no libpcap file handle, nothing read from the current directory.
//!
//! The pcap is read by [`PcapFrames`], a reader of the classic pcap format (the one the sample is
//! in): a 24-byte file header (magic `a1b2c3d4` for µs or `a1b23c4d` for ns timestamps, in the
//! writer's byte order; the link type in its last 4 bytes), then records of a 16-byte header
//! (seconds, fraction, captured length, wire length) and the captured bytes.

use std::path::Path;

use crate::capture::Frame;
use crate::exchange::{Counters, Meta, Record};
use crate::http::ExtractConfig;
use crate::record::extraction::{Extraction, ExtractionConfig};

use super::DemoError;

/// The sample capture, as shipped in `captures-sample/shop.pcap`.
pub const SHOP_PCAP: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/captures-sample/shop.pcap"
));

/// The port nginx listened on in the sample.
pub const SHOP_PORT: u16 = 8080;

/// The frames of a classic pcap held in memory. Never panics: every length is checked against
/// the bytes left; a record cut short ends the frames.
pub struct PcapFrames<'a> {
    bytes: &'a [u8],
    at: usize,
    big_endian: bool,
    nanos: bool,
    linktype: i32,
}

impl<'a> PcapFrames<'a> {
    /// Reads the file header; `None` when `bytes` is not a classic pcap.
    pub fn new(bytes: &'a [u8]) -> Option<PcapFrames<'a>> {
        let magic: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        let (big_endian, nanos) = match u32::from_le_bytes(magic) {
            0xa1b2_c3d4 => (false, false),
            0xa1b2_3c4d => (false, true),
            0xd4c3_b2a1 => (true, false),
            0x4d3c_b2a1 => (true, true),
            _ => return None,
        };
        let mut frames = PcapFrames {
            bytes,
            at: 20,
            big_endian,
            nanos,
            linktype: 0,
        };
        frames.linktype = frames.u32()? as i32;
        Some(frames)
    }

    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.bytes.get(self.at..self.at + 4)?.try_into().ok()?;
        self.at += 4;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
}

impl<'a> Iterator for PcapFrames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        let secs = u64::from(self.u32()?);
        let frac = u64::from(self.u32()?);
        let captured = self.u32()? as usize;
        let wire_len = self.u32()?;
        let data = self.bytes.get(self.at..self.at.checked_add(captured)?)?;
        self.at += captured;
        let frac_ns = if self.nanos { frac } else { frac * 1_000 };
        Some(Frame {
            ts_ns: secs * 1_000_000_000 + frac_ns,
            linktype: self.linktype,
            data,
            wire_len,
        })
    }
}

/// What the sample holds, for the demo's opening lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SampleFacts {
    /// Request records written.
    pub requests: u64,
    /// Production responses paired with them.
    pub responses: u64,
    /// Recorded connections.
    pub connections: u64,
    /// First to last request, ns.
    pub span_ns: u64,
}

/// Extracts the embedded sample and writes it as a `.reel` log at `path`.
pub fn write_log(path: &Path) -> Result<SampleFacts, DemoError> {
    let frames = PcapFrames::new(SHOP_PCAP).ok_or(DemoError::Sample)?;
    let mut extraction = Extraction::new(ExtractionConfig {
        http: ExtractConfig {
            server_ports: vec![SHOP_PORT],
            ..ExtractConfig::default()
        },
        ..ExtractionConfig::default()
    });
    let mut records = Vec::new();
    for frame in frames {
        extraction.push(&frame, &mut records);
    }
    extraction.finish(&mut records);

    let mut facts = SampleFacts {
        requests: 0,
        responses: 0,
        connections: 0,
        span_ns: 0,
    };
    let (mut first, mut last) = (u64::MAX, 0u64);
    let mut conns = std::collections::HashSet::new();
    for r in &records {
        match r {
            Record::Request(m) => {
                facts.requests += 1;
                first = first.min(m.first_ts_ns);
                last = last.max(m.first_ts_ns);
                conns.insert(m.conn);
            }
            Record::Response(_) => facts.responses += 1,
            _ => {}
        }
    }
    facts.connections = conns.len() as u64;
    facts.span_ns = last.saturating_sub(first);
    if facts.requests == 0 {
        return Err(DemoError::Sample);
    }

    let mut writer = crate::log::create(path, crate::log::CreateOptions::default())?;
    writer.write(&Record::Meta(Meta {
        sources: vec!["captures-sample/shop.pcap (embedded in reel)".into()],
        tool_version: env!("CARGO_PKG_VERSION").into(),
        command: "demo".into(),
        ..Meta::default()
    }))?;
    for r in &records {
        writer.write(r)?;
    }
    writer.finish(Counters::default())?;
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_sample_reads_whole() {
        let frames = PcapFrames::new(SHOP_PCAP).unwrap();
        assert_eq!(frames.linktype, crate::capture::linktype::EN10MB);
        let all: Vec<Frame<'_>> = PcapFrames::new(SHOP_PCAP).unwrap().collect();
        // tshark -r captures-sample/shop.pcap | wc -l
        assert_eq!(all.len(), 3396);
        assert!(all.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns));
    }

    #[test]
    fn not_a_pcap_or_cut_short_never_panics() {
        assert!(PcapFrames::new(b"").is_none());
        assert!(PcapFrames::new(b"\x0a\x0d\x0d\x0a pcapng").is_none());
        let whole: Vec<usize> = PcapFrames::new(SHOP_PCAP)
            .unwrap()
            .map(|f| f.data.len())
            .collect();
        for cut in [20, 24, 30, 40, 41, 100, 1000, 5000] {
            // Exactly the records that fit whole.
            let mut end = 24;
            let fit = whole
                .iter()
                .take_while(|len| {
                    end += 16 + **len;
                    end <= cut
                })
                .count();
            let n = PcapFrames::new(&SHOP_PCAP[..cut]).map_or(0, Iterator::count);
            assert_eq!(n, fit, "{cut}");
        }
        let big_endian_header = [
            0xa1, 0xb2, 0xc3, 0xd4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 0,
            1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0xaa,
        ];
        let frames: Vec<_> = PcapFrames::new(&big_endian_header).unwrap().collect();
        assert_eq!(frames.len(), 1);
        assert_eq!(
            (frames[0].ts_ns, frames[0].linktype, frames[0].data),
            (2_000_003_000, 1, &[0xaa][..])
        );
    }

    #[test]
    fn the_sample_becomes_a_log_of_640_exchanges() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shop.reel");
        let facts = write_log(&path).unwrap();
        // captures-sample/shop.access.log has 640 lines; 166 connections (reel inspect).
        assert_eq!((facts.requests, facts.responses), (640, 640));
        assert_eq!(facts.connections, 166);
        assert!(facts.span_ns > 8_000_000_000 && facts.span_ns < 9_000_000_000);
        let requests = crate::log::open(&path)
            .unwrap()
            .filter(|r| matches!(r, Ok(Record::Request(_))))
            .count();
        assert_eq!(requests, 640);
    }
}
