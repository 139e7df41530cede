//! Byte layout of the file header, the block header and record frames (`docs/FORMAT.md`).
//!
//! Everything here is fixed-width little-endian except record frames, whose lengths are LEB128
//! varints (the same varint postcard uses). Parsing functions take untrusted bytes and never panic.

/// First 8 bytes of every `.reel` file: `\x89REEL\r\n\x1a` (PNG-style: the high byte catches 7-bit
/// transfers, CR LF catches line-ending conversion, 0x1A stops `type` on DOS).
pub const MAGIC: [u8; 8] = [0x89, b'R', b'E', b'E', b'L', 0x0D, 0x0A, 0x1A];

/// Major format version this code writes and reads. A file with a higher major is refused.
pub const VERSION_MAJOR: u16 = 1;

/// Minor format version this code writes. Minors only add (record kinds, trailing fields).
pub const VERSION_MINOR: u16 = 0;

/// Length of the file header: magic, major, minor, flags, crc.
pub const FILE_HEADER_LEN: usize = 20;

/// Bytes that start every block, so that a reader can find the next block after a corrupt one.
pub const SYNC_MARKER: [u8; 8] = [0xE2, 0x9C, b'R', b'B', b'L', b'K', 0x0A, 0xB7];

/// Length of a block header, sync marker included.
pub const BLOCK_HEADER_LEN: usize = 48;

/// Largest decompressed block a reader accepts (and a writer produces): 64 MiB.
pub const MAX_RAW_LEN: usize = 64 << 20;

/// Largest compressed payload a reader accepts: 65 MiB (zstd's bound for 64 MiB is below it).
pub const MAX_PAYLOAD_LEN: usize = 65 << 20;

/// Largest zstd window a reader accepts, as a power of two (writers use at most 2^22).
pub const MAX_WINDOW_LOG: u32 = 27;

/// zstd window writers use, as a power of two (4 MiB; zstd shrinks it for smaller blocks).
pub const WRITER_WINDOW_LOG: u32 = 22;

/// crc32c (Castagnoli, reflected, init and final xor 0xFFFFFFFF): the checksum of the format.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}

/// The file header as read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    /// Major format version.
    pub major: u16,
    /// Minor format version.
    pub minor: u16,
    /// Reserved flag bits, 0 in version 1.0; readers ignore them.
    pub flags: u32,
}

impl FileHeader {
    /// The header this code writes.
    pub fn current() -> FileHeader {
        FileHeader {
            major: VERSION_MAJOR,
            minor: VERSION_MINOR,
            flags: 0,
        }
    }

    /// Serialized form, crc included.
    pub fn encode(&self) -> [u8; FILE_HEADER_LEN] {
        let mut out = [0u8; FILE_HEADER_LEN];
        out[0..8].copy_from_slice(&MAGIC);
        out[8..10].copy_from_slice(&self.major.to_le_bytes());
        out[10..12].copy_from_slice(&self.minor.to_le_bytes());
        out[12..16].copy_from_slice(&self.flags.to_le_bytes());
        let crc = crc32c(&out[0..16]);
        out[16..20].copy_from_slice(&crc.to_le_bytes());
        out
    }
}

/// Why a file header was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// The first bytes are not the magic: not a `.reel` file.
    BadMagic,
    /// Fewer bytes than a header (the magic, as far as present, matched).
    Short(usize),
    /// The header's crc does not match its bytes.
    BadCrc,
    /// Written by a newer major version.
    Newer {
        /// Major version found.
        major: u16,
        /// Minor version found.
        minor: u16,
    },
}

/// Parses a file header from the first bytes of a file (`bytes` may be shorter than a header).
/// Never panics.
pub fn parse_file_header(bytes: &[u8]) -> Result<FileHeader, HeaderProblem> {
    let magic_len = bytes.len().min(MAGIC.len());
    if bytes.get(..magic_len) != MAGIC.get(..magic_len) || bytes.is_empty() {
        return Err(HeaderProblem::BadMagic);
    }
    let Some(h) = bytes.get(..FILE_HEADER_LEN) else {
        return Err(HeaderProblem::Short(bytes.len()));
    };
    let stored_crc = le_u32(h, 16);
    if crc32c(&h[0..16]) != stored_crc {
        return Err(HeaderProblem::BadCrc);
    }
    let header = FileHeader {
        major: u16::from_le_bytes([h[8], h[9]]),
        minor: u16::from_le_bytes([h[10], h[11]]),
        flags: le_u32(h, 12),
    };
    if header.major > VERSION_MAJOR {
        return Err(HeaderProblem::Newer {
            major: header.major,
            minor: header.minor,
        });
    }
    Ok(header)
}

/// The fixed part in front of every block's compressed payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockHeader {
    /// Length of the compressed payload that follows the header.
    pub payload_len: u32,
    /// Length of the payload once decompressed (≤ [`MAX_RAW_LEN`]).
    pub raw_len: u32,
    /// Number of record frames in the block (body definitions included).
    pub frames: u32,
    /// Reserved flag bits, 0 in version 1.0; readers ignore them.
    pub flags: u32,
    /// Earliest record time in the block, ns since the epoch (0 when no record has a time).
    pub min_ts_ns: u64,
    /// Latest record time in the block, ns since the epoch.
    pub max_ts_ns: u64,
    /// crc32c of the compressed payload.
    pub payload_crc: u32,
}

impl BlockHeader {
    /// Serialized form: sync marker, fields, then the crc32c of the 44 bytes before it.
    pub fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut out = [0u8; BLOCK_HEADER_LEN];
        out[0..8].copy_from_slice(&SYNC_MARKER);
        out[8..12].copy_from_slice(&self.payload_len.to_le_bytes());
        out[12..16].copy_from_slice(&self.raw_len.to_le_bytes());
        out[16..20].copy_from_slice(&self.frames.to_le_bytes());
        out[20..24].copy_from_slice(&self.flags.to_le_bytes());
        out[24..32].copy_from_slice(&self.min_ts_ns.to_le_bytes());
        out[32..40].copy_from_slice(&self.max_ts_ns.to_le_bytes());
        out[40..44].copy_from_slice(&self.payload_crc.to_le_bytes());
        let crc = crc32c(&out[0..44]);
        out[44..48].copy_from_slice(&crc.to_le_bytes());
        out
    }
}

/// Why a block header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockProblem {
    /// The bytes do not start with the sync marker.
    NoMarker,
    /// The header crc does not match (a corrupt length, count or time).
    BadHeaderCrc,
    /// The header is intact but states a length above the caps.
    TooLarge,
}

impl BlockProblem {
    /// Words for the warning a reader prints.
    pub fn describe(self) -> &'static str {
        match self {
            BlockProblem::NoMarker => "no block marker",
            BlockProblem::BadHeaderCrc => "block header checksum mismatch",
            BlockProblem::TooLarge => "block larger than the 64 MiB cap",
        }
    }
}

/// Parses a block header from exactly [`BLOCK_HEADER_LEN`] bytes (fewer gives `NoMarker`).
/// Never panics.
pub fn parse_block_header(bytes: &[u8]) -> Result<BlockHeader, BlockProblem> {
    let Some(h) = bytes.get(..BLOCK_HEADER_LEN) else {
        return Err(BlockProblem::NoMarker);
    };
    if h[0..8] != SYNC_MARKER {
        return Err(BlockProblem::NoMarker);
    }
    if crc32c(&h[0..44]) != le_u32(h, 44) {
        return Err(BlockProblem::BadHeaderCrc);
    }
    let header = BlockHeader {
        payload_len: le_u32(h, 8),
        raw_len: le_u32(h, 12),
        frames: le_u32(h, 16),
        flags: le_u32(h, 20),
        min_ts_ns: le_u64(h, 24),
        max_ts_ns: le_u64(h, 32),
        payload_crc: le_u32(h, 40),
    };
    if header.payload_len as usize > MAX_PAYLOAD_LEN || header.raw_len as usize > MAX_RAW_LEN {
        return Err(BlockProblem::TooLarge);
    }
    Ok(header)
}

/// Little-endian u32 at `at`; the caller has checked the length.
fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Little-endian u64 at `at`; the caller has checked the length.
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(w)
}

/// Appends `value` as an unsigned LEB128 varint (7 bits a byte, low group first, high bit = more).
pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

/// Reads a LEB128 varint of at most 10 bytes from the start of `bytes`: the value and the number
/// of bytes used, or `None` when it is cut short or overflows 64 bits. Never panics.
pub fn get_varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &b) in bytes.iter().enumerate().take(10) {
        let group = u64::from(b & 0x7F);
        if i == 9 && group > 1 {
            return None;
        }
        value |= group << (7 * i);
        if b & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_is_castagnoli() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn file_header_layout_is_pinned() {
        let bytes = FileHeader::current().encode();
        assert_eq!(
            bytes[..16],
            [
                0x89, b'R', b'E', b'E', b'L', 0x0D, 0x0A, 0x1A, 1, 0, 0, 0, 0, 0, 0, 0
            ]
        );
        assert_eq!(parse_file_header(&bytes), Ok(FileHeader::current()));
    }

    #[test]
    fn file_header_problems() {
        let good = FileHeader::current().encode();
        assert_eq!(parse_file_header(b""), Err(HeaderProblem::BadMagic));
        assert_eq!(
            parse_file_header(b"GET / HTTP/1.1"),
            Err(HeaderProblem::BadMagic)
        );
        assert_eq!(parse_file_header(&good[..5]), Err(HeaderProblem::Short(5)));
        let mut bad = good;
        bad[12] ^= 1;
        assert_eq!(parse_file_header(&bad), Err(HeaderProblem::BadCrc));
        let newer = FileHeader {
            major: 2,
            minor: 3,
            flags: 0,
        }
        .encode();
        assert_eq!(
            parse_file_header(&newer),
            Err(HeaderProblem::Newer { major: 2, minor: 3 })
        );
        let newer_minor = FileHeader {
            major: 1,
            minor: 9,
            flags: 0,
        };
        assert_eq!(parse_file_header(&newer_minor.encode()), Ok(newer_minor));
    }

    #[test]
    fn block_header_round_trip_and_crc() {
        let h = BlockHeader {
            payload_len: 1234,
            raw_len: 99_999,
            frames: 7,
            flags: 0,
            min_ts_ns: 1_700_000_000_000_000_000,
            max_ts_ns: 1_700_000_000_500_000_000,
            payload_crc: 0xDEAD_BEEF,
        };
        let bytes = h.encode();
        assert_eq!(bytes[0..8], SYNC_MARKER);
        assert_eq!(bytes[8..12], 1234u32.to_le_bytes());
        assert_eq!(parse_block_header(&bytes), Ok(h));
        for i in 8..BLOCK_HEADER_LEN {
            let mut bad = bytes;
            bad[i] ^= 0x10;
            assert_eq!(
                parse_block_header(&bad),
                Err(BlockProblem::BadHeaderCrc),
                "byte {i}"
            );
        }
        let mut no_marker = bytes;
        no_marker[0] = 0;
        assert_eq!(parse_block_header(&no_marker), Err(BlockProblem::NoMarker));
        assert_eq!(
            parse_block_header(&bytes[..47]),
            Err(BlockProblem::NoMarker)
        );
        let huge = BlockHeader {
            raw_len: (MAX_RAW_LEN + 1) as u32,
            ..h
        };
        assert_eq!(
            parse_block_header(&huge.encode()),
            Err(BlockProblem::TooLarge)
        );
    }

    #[test]
    fn varints() {
        for (value, bytes) in [
            (0u64, vec![0u8]),
            (127, vec![0x7F]),
            (128, vec![0x80, 0x01]),
            (300, vec![0xAC, 0x02]),
            (
                u64::MAX,
                vec![0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            ),
        ] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert_eq!(out, bytes);
            assert_eq!(get_varint(&out), Some((value, bytes.len())));
        }
        assert_eq!(get_varint(&[0x80]), None);
        assert_eq!(get_varint(&[0xFF; 10]), None);
        assert_eq!(
            get_varint(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02]),
            None
        );
    }
}
