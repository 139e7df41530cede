//! The message-start scanner, for resynchronising after a capture gap, after bytes that do not
//! frame, and on connections picked up mid-stream.
//!
//! A message start is a line beginning with a request line (`TOKEN SP target SP HTTP/1.x`) or a
//! status line (`HTTP/1.x DDD`). Only line beginnings are looked at (found with memchr), so the
//! cost on a binary body is one test per newline. Never panics on any input.

use memchr::memchr;

use super::Side;
use super::head::{is_tchar, parse_start_line, plausible_prefix};

/// What the scanner found in a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scan {
    /// A message of `side` starts at `offset`: its whole start line is in the buffer.
    Found {
        /// Offset of the first byte of the start line.
        offset: usize,
        /// Whether it is a request or a response.
        side: Side,
    },
    /// The last line, from `offset`, may be a start line whose end has not arrived yet: keep the
    /// bytes from `offset` and scan again with more.
    Partial {
        /// Offset of the line's first byte.
        offset: usize,
    },
    /// No message starts in the buffer.
    Nothing,
}

/// What a candidate line is.
enum Candidate {
    Yes(Side),
    No,
    Maybe,
}

fn allows(want: Option<Side>, side: Side) -> bool {
    want.is_none_or(|w| w == side)
}

fn check(line_and_more: &[u8], want: Option<Side>, max_line: usize) -> Candidate {
    let Some(&first) = line_and_more.first() else {
        return Candidate::Maybe;
    };
    if first != b'H' && !is_tchar(first) {
        return Candidate::No;
    }
    match memchr(b'\n', line_and_more) {
        Some(end) => {
            let line = &line_and_more[..end];
            if line.len() > max_line {
                return Candidate::No;
            }
            for side in [Side::Response, Side::Request] {
                if allows(want, side) && parse_start_line(line, side, false).is_ok() {
                    return Candidate::Yes(side);
                }
            }
            Candidate::No
        }
        None => {
            if line_and_more.len() > max_line {
                return Candidate::No;
            }
            let plausible = [Side::Response, Side::Request]
                .into_iter()
                .any(|side| allows(want, side) && plausible_prefix(line_and_more, side));
            if plausible {
                Candidate::Maybe
            } else {
                Candidate::No
            }
        }
    }
}

/// Finds the first message start in `buf` at a line beginning. `want` restricts the kind (`None`
/// accepts either, for connections whose client is not known yet); `at_line_start` says whether
/// `buf[0]` begins a line (true after a gap: the bytes after it may begin anywhere); `max_line`
/// bounds how long a start line may be.
pub fn find_message_start(
    buf: &[u8],
    want: Option<Side>,
    at_line_start: bool,
    max_line: usize,
) -> Scan {
    let mut pos = if at_line_start {
        0
    } else {
        match memchr(b'\n', buf) {
            Some(i) => i + 1,
            None => return Scan::Nothing,
        }
    };
    while pos < buf.len() {
        match check(&buf[pos..], want, max_line) {
            Candidate::Yes(side) => return Scan::Found { offset: pos, side },
            Candidate::Maybe => return Scan::Partial { offset: pos },
            Candidate::No => match memchr(b'\n', &buf[pos..]) {
                Some(i) => pos += i + 1,
                None => return Scan::Nothing,
            },
        }
    }
    Scan::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_request_after_body_bytes() {
        let buf = b"\x00\xffjunk\nmore junk\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        assert_eq!(
            find_message_start(buf, Some(Side::Request), false, 1024),
            Scan::Found {
                offset: 18,
                side: Side::Request
            }
        );
    }

    #[test]
    fn finds_a_status_line_and_respects_want() {
        let buf = b"tail of body\nHTTP/1.1 200 OK\r\n";
        assert_eq!(
            find_message_start(buf, Some(Side::Response), false, 1024),
            Scan::Found {
                offset: 13,
                side: Side::Response
            }
        );
        assert_eq!(
            find_message_start(buf, Some(Side::Request), false, 1024),
            Scan::Nothing
        );
        assert_eq!(
            find_message_start(buf, None, true, 1024),
            Scan::Found {
                offset: 13,
                side: Side::Response
            }
        );
    }

    #[test]
    fn text_lines_are_not_requests() {
        let buf = b"Lorem ipsum dolor sit amet\nGET the milk\nPOST /x HTTP/1.0\n";
        assert_eq!(
            find_message_start(buf, None, true, 1024),
            Scan::Found {
                offset: 40,
                side: Side::Request
            }
        );
    }

    #[test]
    fn an_unfinished_last_line_is_partial() {
        let buf = b"xx\nGET /a HT";
        assert_eq!(
            find_message_start(buf, Some(Side::Request), false, 1024),
            Scan::Partial { offset: 3 }
        );
        assert_eq!(
            find_message_start(b"xx\n\x16\x03", None, false, 1024),
            Scan::Nothing
        );
        assert_eq!(
            find_message_start(b"GET /aaaaaaaa", None, true, 8),
            Scan::Nothing
        );
    }

    #[test]
    fn offset_zero_counts_only_at_a_line_start() {
        let buf = b"HTTP/1.1 200 OK\r\n";
        assert_eq!(find_message_start(buf, None, false, 1024), Scan::Nothing);
        assert_eq!(
            find_message_start(buf, None, true, 1024),
            Scan::Found {
                offset: 0,
                side: Side::Response
            }
        );
    }
}
