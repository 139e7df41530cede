//! De-chunking a stored body: the chunk data of a complete chunked body, concatenated, for the
//! tools that read what a body says (response diff). Framing itself ([`super::MessageFramer`])
//! never copies bodies; this does, once, with a cap on the bytes kept.

use memchr::memchr;

use super::FrameError;

/// A de-chunked body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dechunked {
    /// The chunk data, at most the cap.
    pub data: Vec<u8>,
    /// True when the data passed the cap (the rest was checked but not kept).
    pub truncated: bool,
}

/// The data of the chunked body `body` (chunk-size lines with optional extensions, CRLF or bare
/// LF line ends, optional trailers), keeping at most `max` bytes. Errors: [`FrameError::Chunked`]
/// for malformed framing, [`FrameError::Incomplete`] when the body ends before its last chunk.
/// Never panics.
pub fn dechunk(body: &[u8], max: usize) -> Result<Dechunked, FrameError> {
    let mut data = Vec::new();
    let mut truncated = false;
    let mut at = 0;
    loop {
        let rest = body.get(at..).ok_or(FrameError::Incomplete)?;
        let eol = memchr(b'\n', rest).ok_or(FrameError::Incomplete)?;
        let line = &rest[..eol];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let after = &line[digits..];
        let after_ok = after.is_empty()
            || after
                .iter()
                .position(|&b| b != b' ' && b != b'\t')
                .is_none_or(|p| after[p] == b';');
        if digits == 0 || digits > 15 || !after_ok {
            return Err(FrameError::Chunked);
        }
        let size = line[..digits].iter().fold(0u64, |v, &b| {
            v << 4 | u64::from((b as char).to_digit(16).unwrap_or(0))
        });
        at += eol + 1;
        if size == 0 {
            // Trailers (ignored) up to the empty line; a body cut inside them still said all.
            return Ok(Dechunked { data, truncated });
        }
        let size = usize::try_from(size).map_err(|_| FrameError::Chunked)?;
        let chunk = body
            .get(at..at.saturating_add(size))
            .ok_or(FrameError::Incomplete)?;
        let room = max.saturating_sub(data.len());
        if chunk.len() > room {
            truncated = true;
        }
        data.extend_from_slice(&chunk[..chunk.len().min(room)]);
        at += size;
        match body.get(at..) {
            Some([b'\r', b'\n', ..]) => at += 2,
            Some([b'\n', ..]) => at += 1,
            Some([] | [b'\r']) | None => return Err(FrameError::Incomplete),
            Some(_) => return Err(FrameError::Chunked),
        }
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
        assert_eq!(
            dechunk(b"ffffffffffffffff\r\n", 9),
            Err(FrameError::Chunked)
        );
    }
}
