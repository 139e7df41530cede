//! De-chunking a stored body: the chunk data of a complete chunked body, concatenated, for the
//! tools that read what a body says (response diff). Framing itself ([`super::MessageFramer`])
//! never copies bodies; this does, once, with a cap on the bytes kept.

use super::FrameError;
use super::body::{Chunk, decode_chunked_with};

/// A de-chunked body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dechunked {
    /// The chunk data, at most the cap.
    pub data: Vec<u8>,
    /// True when the data passed the cap (the rest was checked but not kept).
    pub truncated: bool,
}

/// The data of the chunked body `body`, read by the framer's own chunked decoder (so a body is
/// de-chunked exactly as [`super::MessageFramer`] framed it), keeping at most `max` bytes.
/// Errors: the decoder's for malformed framing, [`FrameError::Incomplete`] when the body ends
/// before its last chunk and trailers. Never panics.
pub fn dechunk(body: &[u8], max: usize) -> Result<Dechunked, FrameError> {
    let mut data = Vec::new();
    let mut truncated = false;
    let mut chunk = Chunk::Size {
        value: 0,
        digits: 0,
    };
    let step = decode_chunked_with(&mut chunk, body, usize::MAX, |r| {
        let piece = body.get(r).unwrap_or_default();
        let room = max.saturating_sub(data.len());
        truncated |= piece.len() > room;
        data.extend_from_slice(&piece[..piece.len().min(room)]);
    })?;
    if step.done {
        Ok(Dechunked { data, truncated })
    } else {
        Err(FrameError::Incomplete)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_extensions_trailers_and_bare_lf() {
        let body = b"4;ext=1\r\nWiki\r\n5 \r\npedia\r\n0\r\nX-T: 1\r\n\r\n";
        let d = dechunk(body, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.data, b"Wikipedia");
        assert!(!d.truncated);
        let d = dechunk(b"3\nabc\n0\n\n", 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.data, b"abc");
    }

    #[test]
    fn the_cap_keeps_the_first_bytes_and_says_so() {
        let d =
            dechunk(b"4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n", 6).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.data, b"abcdef");
        assert!(d.truncated);
    }

    #[test]
    fn malformed_and_cut_bodies_are_errors() {
        assert_eq!(dechunk(b"x\r\nabc", 9), Err(FrameError::Chunked));
        assert_eq!(
            dechunk(b"3\r\nabcX\r\n0\r\n\r\n", 9),
            Err(FrameError::Chunked)
        );
        assert_eq!(
            dechunk(b"3 x\r\nabc\r\n0\r\n\r\n", 9),
            Err(FrameError::Chunked)
        );
        assert_eq!(dechunk(b"5\r\nabc", 9), Err(FrameError::Incomplete));
        assert_eq!(dechunk(b"3\r\nabc\r\n", 9), Err(FrameError::Incomplete));
        assert_eq!(dechunk(b"", 9), Err(FrameError::Incomplete));
        // 16 hex digits fit the framer's u64: a size the body never delivers.
        assert_eq!(
            dechunk(b"ffffffffffffffff\r\n", 9),
            Err(FrameError::Incomplete)
        );
        assert_eq!(
            dechunk(b"10000000000000000\r\n", 9),
            Err(FrameError::Chunked)
        );
    }
}
