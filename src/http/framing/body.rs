//! The incremental body decoder: how many bytes of a buffer belong to the body, and when it ends.
//!
//! It never buffers: Content-Length bodies and chunk data are skipped by length, chunk-size lines
//! and trailers are walked byte by byte (they are short) or by line search. Any split of the input
//! gives the same result, one byte at a time included. Never panics on any input.

use std::ops::Range;

use memchr::memchr;

use super::FrameError;

/// Where a body decoder stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Body {
    /// `remaining` bytes to go (Content-Length).
    Length { remaining: u64 },
    /// Chunked transfer coding.
    Chunked(Chunk),
    /// Ends when the connection closes.
    UntilClose,
}

/// Position inside a chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    /// Reading the hex digits of a chunk size.
    Size { value: u64, digits: u32 },
    /// After the digits: optional whitespace and `;extensions`, through the line end. `len`
    /// counts the line's bytes so far, `semi` whether the `;` was seen, `cr` whether a CR was
    /// (before the `;`, only the LF may follow it).
    Ext {
        value: u64,
        len: usize,
        semi: bool,
        cr: bool,
    },
    /// Inside chunk data.
    Data { remaining: u64 },
    /// After chunk data: the CRLF (a bare LF is accepted); `cr` when the CR was seen.
    DataEnd { cr: bool },
    /// At the start of a trailer line (or of the final empty line); `total` trailer bytes so far.
    TrailerStart { total: usize },
    /// Saw CR at the start of a trailer line: the LF ends the body.
    TrailerCr,
    /// Inside a trailer field line.
    TrailerLine { total: usize },
}

/// How a decode step went: bytes that belong to the body, and whether the body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Step {
    pub consumed: usize,
    pub done: bool,
}

fn hex(b: u8) -> Option<u64> {
    match b {
        b'0'..=b'9' => Some(u64::from(b - b'0')),
        b'a'..=b'f' => Some(u64::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u64::from(b - b'A' + 10)),
        _ => None,
    }
}

impl Body {
    /// Consumes the body bytes at the start of `buf`. `limit` bounds chunk-size lines and the
    /// trailer section (the maximum head size), so a hostile peer cannot make us scan forever
    /// without progress being reported as an error.
    pub(crate) fn decode(&mut self, buf: &[u8], limit: usize) -> Result<Step, FrameError> {
        match self {
            Body::Length { remaining } => {
                let n = (*remaining).min(buf.len() as u64);
                *remaining -= n;
                Ok(Step {
                    consumed: n as usize,
                    done: *remaining == 0,
                })
            }
            Body::UntilClose => Ok(Step {
                consumed: buf.len(),
                done: false,
            }),
            Body::Chunked(chunk) => decode_chunked(chunk, buf, limit),
        }
    }
}

fn decode_chunked(chunk: &mut Chunk, buf: &[u8], limit: usize) -> Result<Step, FrameError> {
    decode_chunked_with(chunk, buf, limit, |_| {})
}

/// [`decode_chunked`], telling `on_data` where each piece of chunk data lies in `buf`.
pub(crate) fn decode_chunked_with(
    chunk: &mut Chunk,
    buf: &[u8],
    limit: usize,
    mut on_data: impl FnMut(Range<usize>),
) -> Result<Step, FrameError> {
    let mut pos = 0;
    while pos < buf.len() {
        match *chunk {
            Chunk::Size { value, digits } => {
                let b = buf[pos];
                if let Some(d) = hex(b) {
                    if value >> 60 != 0 {
                        return Err(FrameError::Chunked);
                    }
                    *chunk = Chunk::Size {
                        value: value << 4 | d,
                        digits: digits + 1,
                    };
                    pos += 1;
                } else if digits == 0 {
                    return Err(FrameError::Chunked);
                } else {
                    *chunk = Chunk::Ext {
                        value,
                        len: digits as usize,
                        semi: false,
                        cr: false,
                    };
                }
            }
            Chunk::Ext {
                value,
                mut len,
                mut semi,
                mut cr,
            } => {
                let rest = &buf[pos..];
                let end = memchr(b'\n', rest);
                let segment = &rest[..end.unwrap_or(rest.len())];
                if !semi {
                    // Before the `;`: only whitespace, and a CR only just before the LF.
                    for &b in segment {
                        if cr {
                            return Err(FrameError::Chunked);
                        }
                        match b {
                            b';' => {
                                semi = true;
                                break;
                            }
                            b' ' | b'\t' => {}
                            b'\r' => cr = true,
                            _ => return Err(FrameError::Chunked),
                        }
                    }
                }
                len += segment.len();
                if len > limit {
                    return Err(FrameError::Chunked);
                }
                match end {
                    Some(i) => {
                        pos += i + 1;
                        *chunk = if value == 0 {
                            Chunk::TrailerStart { total: 0 }
                        } else {
                            Chunk::Data { remaining: value }
                        };
                    }
                    None => {
                        pos = buf.len();
                        *chunk = Chunk::Ext {
                            value,
                            len,
                            semi,
                            cr,
                        };
                    }
                }
            }
            Chunk::Data { remaining } => {
                let n = remaining.min((buf.len() - pos) as u64);
                on_data(pos..pos + n as usize);
                pos += n as usize;
                *chunk = if remaining == n {
                    Chunk::DataEnd { cr: false }
                } else {
                    Chunk::Data {
                        remaining: remaining - n,
                    }
                };
            }
            Chunk::DataEnd { cr } => {
                match buf[pos] {
                    b'\r' if !cr => *chunk = Chunk::DataEnd { cr: true },
                    b'\n' => {
                        *chunk = Chunk::Size {
                            value: 0,
                            digits: 0,
                        }
                    }
                    _ => return Err(FrameError::Chunked),
                }
                pos += 1;
            }
            Chunk::TrailerStart { total } => match buf[pos] {
                b'\r' => {
                    *chunk = Chunk::TrailerCr;
                    pos += 1;
                }
                b'\n' => {
                    return Ok(Step {
                        consumed: pos + 1,
                        done: true,
                    });
                }
                _ => *chunk = Chunk::TrailerLine { total },
            },
            Chunk::TrailerCr => {
                if buf[pos] == b'\n' {
                    return Ok(Step {
                        consumed: pos + 1,
                        done: true,
                    });
                }
                return Err(FrameError::Chunked);
            }
            Chunk::TrailerLine { total } => {
                let rest = &buf[pos..];
                match memchr(b'\n', rest) {
                    Some(i) => {
                        let total = total + i + 1;
                        if total > limit {
                            return Err(FrameError::Chunked);
                        }
                        pos += i + 1;
                        *chunk = Chunk::TrailerStart { total };
                    }
                    None => {
                        let total = total + rest.len();
                        if total > limit {
                            return Err(FrameError::Chunked);
                        }
                        pos = buf.len();
                        *chunk = Chunk::TrailerLine { total };
                    }
                }
            }
        }
    }
    Ok(Step {
        consumed: pos,
        done: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked() -> Body {
        Body::Chunked(Chunk::Size {
            value: 0,
            digits: 0,
        })
    }

    /// Decodes `input` in pieces of `piece` bytes; returns the body length when it ended.
    fn run(mut body: Body, input: &[u8], piece: usize) -> Result<Option<usize>, FrameError> {
        let mut total = 0;
        for part in input.chunks(piece) {
            let step = body.decode(part, 1024)?;
            total += step.consumed;
            if step.done {
                return Ok(Some(total));
            }
            assert_eq!(step.consumed, part.len());
        }
        Ok(None)
    }

    #[test]
    fn chunked_with_extensions_and_trailers_any_split() {
        let body = b"5;name=value\r\nhello\r\n1A ; x\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: t\r\nOther: o\r\n\r\nNEXT";
        let end = body.len() - 4;
        for piece in 1..=body.len() {
            assert_eq!(run(chunked(), body, piece), Ok(Some(end)), "piece {piece}");
        }
    }

    #[test]
    fn chunked_with_bare_lf_line_endings() {
        // http-evader-026: the last chunk ends with a bare LF.
        let body = b"3\r\n+H*\r\n0\n\nNEXT";
        assert_eq!(run(chunked(), body, 1), Ok(Some(body.len() - 4)));
        let body = b"3\n+H*\n0\n\n";
        assert_eq!(run(chunked(), body, 100), Ok(Some(body.len())));
    }

    #[test]
    fn bad_chunks_are_errors() {
        assert_eq!(run(chunked(), b"x\r\n", 1), Err(FrameError::Chunked));
        assert_eq!(run(chunked(), b"5 junk\r\n", 1), Err(FrameError::Chunked));
        assert_eq!(run(chunked(), b"2\r\nabX", 1), Err(FrameError::Chunked));
        assert_eq!(
            run(chunked(), b"11111111111111111\r\n", 1),
            Err(FrameError::Chunked)
        );
        let long_ext = [b"1;".as_slice(), &[b'a'; 2000]].concat();
        assert_eq!(run(chunked(), &long_ext, 7), Err(FrameError::Chunked));
    }

    #[test]
    fn regression_fuzz_cr_in_chunk_size_line_judged_the_same_for_any_split() {
        // Found by cargo fuzz: `A\r\r\n` was an error whole and accepted one byte at a time.
        for piece in [1, 2, 100] {
            assert_eq!(run(chunked(), b"A\r\r\n", piece), Err(FrameError::Chunked));
        }
        assert_eq!(run(chunked(), b"1 \r\nx\r\n0\r\n\r\n", 1), Ok(Some(12)));
    }

    #[test]
    fn length_body_stops_at_its_end() {
        let mut b = Body::Length { remaining: 3 };
        assert_eq!(
            b.decode(b"abcdef", 10),
            Ok(Step {
                consumed: 3,
                done: true
            })
        );
    }
}
