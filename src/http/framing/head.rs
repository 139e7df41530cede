//! Message heads: finding where a head ends, checking start lines, parsing header fields.
//!
//! httparse does the parsing, with its lenient options for odd but real traffic. Where httparse
//! still refuses a head that real servers accept (spaces inside a request-target, obsolete line
//! folding in a request, a version other than 1.0/1.1), a small tolerant parser of our own takes
//! over; it still insists on a well-formed start line, so garbage is never taken for a message.
//!
//! Never panics: every index is checked, and input of any length or content gives a value or an
//! error.

use std::ops::Range;

use memchr::{memchr, memchr_iter};

use super::{FrameError, Method, Side, Version};

/// Longest method token accepted in a request line.
pub(crate) const MAX_METHOD: usize = 32;
/// Header slots parsed on the stack; heads with more lines use a heap slice sized to them.
const STACK_HEADERS: usize = 64;

/// `tchar` of RFC 9110 §5.6.2: the characters of a method or a field name.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

/// Bytes allowed in a request-target or reason phrase: anything printable, obs-text, space, tab.
fn is_line_text(b: u8) -> bool {
    b == b'\t' || (b >= 0x20 && b != 0x7f)
}

/// Where a head ends, or where to resume looking once more bytes have arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeadEnd {
    /// The head is `buf[..end]`, through its empty line.
    Found(usize),
    /// No end yet; no end starts before this offset.
    NotYet(usize),
}

/// Finds the empty line that ends a head (`\n\r\n` or `\n\n`), scanning from `from`.
pub(crate) fn find_head_end(buf: &[u8], from: usize) -> HeadEnd {
    let from = from.min(buf.len());
    for i in memchr_iter(b'\n', &buf[from..]).map(|i| i + from) {
        match buf.get(i + 1) {
            None => return HeadEnd::NotYet(i),
            Some(b'\n') => return HeadEnd::Found(i + 2),
            Some(b'\r') => match buf.get(i + 2) {
                None => return HeadEnd::NotYet(i),
                Some(b'\n') => return HeadEnd::Found(i + 3),
                Some(_) => {}
            },
            Some(_) => {}
        }
    }
    HeadEnd::NotYet(buf.len())
}

/// `line` without a trailing CR.
pub(crate) fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ws(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Parses `HTTP/1.d` (1.0 is 1.0, any other minor 1.1). Request lines also accept a mangled
/// minor (`HTTP/1.`, `HTTP/1`), as servers do when they answer them (zeek's methods.pcap).
fn parse_version(v: &[u8], side: Side) -> Option<Version> {
    match v {
        b"HTTP/1.0" => Some(Version::Http10),
        [b'H', b'T', b'T', b'P', b'/', b'1', b'.', d] if d.is_ascii_digit() => {
            Some(Version::Http11)
        }
        b"HTTP/1." | b"HTTP/1" if side == Side::Request => Some(Version::Http11),
        _ => None,
    }
}

/// The start line of a head, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start<'a> {
    /// `METHOD target HTTP/1.x`, or an HTTP/0.9 `METHOD target`.
    Request {
        method: &'a str,
        target: &'a [u8],
        version: Version,
    },
    /// `HTTP/1.x DDD reason`.
    Response {
        version: Version,
        status: u16,
        reason: &'a [u8],
    },
}

/// Parses a start line (without its line ending) tolerantly: several spaces between the parts,
/// spaces inside a request-target, any `HTTP/1.d`. HTTP/0.9 request lines (`GET /path`, no
/// version) are accepted for known methods only when `allow_http09` is set.
pub(crate) fn parse_start_line(
    line: &[u8],
    side: Side,
    allow_http09: bool,
) -> Result<Start<'_>, FrameError> {
    let line = trim_cr(line);
    if memchr(0, line).is_some() {
        return Err(FrameError::NotHttp);
    }
    match side {
        Side::Response => {
            let version = line
                .get(..8)
                .and_then(|v| parse_version(v, Side::Response))
                .ok_or(FrameError::NotHttp)?;
            let rest = line.get(8..).unwrap_or_default();
            let digits_at = rest.iter().position(|&b| b != b' ').unwrap_or(0);
            if digits_at == 0 {
                return Err(FrameError::NotHttp);
            }
            let rest = &rest[digits_at..];
            let status = match rest {
                [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
                    u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
                }
                _ => return Err(FrameError::NotHttp),
            };
            let reason = match rest.get(3..) {
                None | Some([]) => &[][..],
                Some([b' ' | b'\t', reason @ ..]) => trim_ws(reason),
                Some(_) => return Err(FrameError::NotHttp),
            };
            if !reason.iter().all(|&b| is_line_text(b)) {
                return Err(FrameError::NotHttp);
            }
            Ok(Start::Response {
                version,
                status,
                reason,
            })
        }
        Side::Request => {
            let method_len = line
                .iter()
                .position(|&b| !is_tchar(b))
                .unwrap_or(line.len());
            if method_len == 0 || method_len > MAX_METHOD || line.get(method_len) != Some(&b' ') {
                return Err(FrameError::NotHttp);
            }
            let method =
                std::str::from_utf8(&line[..method_len]).map_err(|_| FrameError::NotHttp)?;
            let rest = trim_ws(&line[method_len..]);
            if rest.is_empty() || !rest.iter().all(|&b| is_line_text(b)) {
                return Err(FrameError::NotHttp);
            }
            // The version is the last word; whatever lies between is the target, spaces and all.
            let last_word = rest.iter().rposition(|&b| b == b' ' || b == b'\t');
            if let Some((sp, version)) =
                last_word.and_then(|sp| Some((sp, parse_version(&rest[sp + 1..], Side::Request)?)))
            {
                let target = trim_ws(&rest[..sp]);
                if target.is_empty() {
                    return Err(FrameError::NotHttp);
                }
                return Ok(Start::Request {
                    method,
                    target,
                    version,
                });
            }
            let known = Method::from_token(method.as_bytes()) != Method::Other
                || KNOWN_METHODS.contains(&method.as_bytes());
            if allow_http09 && known && !rest.contains(&b' ') && !rest.contains(&b'\t') {
                return Ok(Start::Request {
                    method,
                    target: rest,
                    version: Version::Http09,
                });
            }
            Err(FrameError::NotHttp)
        }
    }
}

/// Methods in use beyond RFC 9110's (WebDAV, CalDAV, and a few common ones), for deciding that a
/// line without a version is an HTTP/0.9 request and for resynchronising on a request line.
pub(crate) const KNOWN_METHODS: &[&[u8]] = &[
    b"GET",
    b"HEAD",
    b"POST",
    b"PUT",
    b"DELETE",
    b"CONNECT",
    b"OPTIONS",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"REPORT",
    b"SEARCH",
    b"MKCALENDAR",
    b"PURGE",
    b"LINK",
    b"UNLINK",
];

/// Whether `prefix` (bytes of a first line, its end not yet seen) can still become a start line.
/// Rejects binary junk and other protocols early instead of waiting for `max_head` bytes.
pub(crate) fn plausible_prefix(prefix: &[u8], side: Side) -> bool {
    let prefix = trim_cr(prefix);
    match side {
        Side::Response => {
            const V: &[u8] = b"HTTP/1.";
            let n = prefix.len().min(V.len());
            if prefix[..n] != V[..n] {
                return false;
            }
            match prefix.get(7) {
                None => true,
                Some(d) if d.is_ascii_digit() => prefix[8..].iter().all(|&b| is_line_text(b)),
                Some(_) => false,
            }
        }
        Side::Request => {
            let method_len = prefix
                .iter()
                .position(|&b| !is_tchar(b))
                .unwrap_or(prefix.len());
            if method_len > MAX_METHOD {
                return false;
            }
            match prefix.get(method_len) {
                None => true,
                Some(b' ') => {
                    method_len > 0 && prefix[method_len..].iter().all(|&b| is_line_text(b))
                }
                Some(_) => false,
            }
        }
    }
}

/// What the framing needs to know from a head's header fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// `Some(Ok(n))` for one or several equal Content-Length values, `Some(Err(()))` when they
    /// differ or one is not a number.
    pub content_length: Option<Result<u64, ()>>,
    /// A non-empty Transfer-Encoding was present.
    pub te_present: bool,
    /// Its last coding is `chunked`.
    pub te_chunked_last: bool,
    /// `Expect: 100-continue`.
    pub expect_continue: bool,
    /// An `Upgrade` field with a value.
    pub upgrade: bool,
    /// `Connection: close`.
    pub close: bool,
}

fn list_items(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ws)
        .filter(|s| !s.is_empty())
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    s.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

impl Facts {
    /// Takes one header field into account.
    pub(crate) fn add(&mut self, name: &str, value: &[u8]) {
        let name = name.as_bytes();
        match name.len() {
            14 if name.eq_ignore_ascii_case(b"content-length") => {
                let mut any = false;
                for item in list_items(value) {
                    any = true;
                    let n = parse_decimal(item).ok_or(());
                    self.content_length = match (self.content_length, n) {
                        (None, n) => Some(n),
                        (Some(Ok(a)), Ok(b)) if a == b => Some(Ok(a)),
                        _ => Some(Err(())),
                    };
                }
                if !any {
                    self.content_length = Some(Err(()));
                }
            }
            17 if name.eq_ignore_ascii_case(b"transfer-encoding") => {
                for coding in list_items(value) {
                    self.te_present = true;
                    let token = trim_ws(coding.split(|&b| b == b';').next().unwrap_or_default());
                    self.te_chunked_last = token.eq_ignore_ascii_case(b"chunked");
                }
            }
            6 if name.eq_ignore_ascii_case(b"expect") => {
                self.expect_continue |=
                    list_items(value).any(|v| v.eq_ignore_ascii_case(b"100-continue"));
            }
            7 if name.eq_ignore_ascii_case(b"upgrade") => {
                self.upgrade |= !trim_ws(value).is_empty();
            }
            10 if name.eq_ignore_ascii_case(b"connection") => {
                self.close |= list_items(value).any(|v| v.eq_ignore_ascii_case(b"close"));
            }
            _ => {}
        }
    }
}

fn lenient_config(side: Side) -> httparse::ParserConfig {
    let mut config = httparse::ParserConfig::default();
    match side {
        Side::Request => {
            // Invalid lines (and folded ones, which httparse would drop) go to the tolerant parser.
            config.allow_multiple_spaces_in_request_line_delimiters(true);
        }
        Side::Response => {
            config
                .allow_multiple_spaces_in_response_status_delimiters(true)
                .allow_spaces_after_header_name_in_responses(true)
                .allow_obsolete_multiline_headers_in_responses(true)
                .allow_space_before_first_header_name(true)
                .ignore_invalid_headers_in_responses(true);
        }
    }
    config
}

/// Parses a complete head (`head` ends with its empty line) into its start line, calling `field`
/// for each header field in wire order. httparse first; the tolerant parser when httparse refuses.
pub(crate) fn parse_head<'a>(
    head: &'a [u8],
    side: Side,
    field: &mut dyn FnMut(&'a str, &'a [u8]),
) -> Result<Start<'a>, FrameError> {
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    match parse_with_httparse(head, side, &mut stack, field) {
        Ok(start) => Ok(start),
        Err(httparse::Error::TooManyHeaders) => {
            let lines = memchr_iter(b'\n', head).count();
            let mut heap = vec![httparse::EMPTY_HEADER; lines + 1];
            parse_with_httparse(head, side, &mut heap, field)
                .or_else(|_| parse_tolerant(head, side, field))
        }
        Err(_) => parse_tolerant(head, side, field),
    }
}

fn parse_with_httparse<'a>(
    head: &'a [u8],
    side: Side,
    slots: &mut [httparse::Header<'a>],
    field: &mut dyn FnMut(&'a str, &'a [u8]),
) -> Result<Start<'a>, httparse::Error> {
    let config = lenient_config(side);
    let first_line = trim_cr(&head[..memchr(b'\n', head).unwrap_or(head.len())]);
    let start = match side {
        Side::Request => {
            let mut req = httparse::Request::new(slots);
            match config.parse_request(&mut req, head)? {
                httparse::Status::Complete(n) if n == head.len() => {}
                // A different idea of where the head ends: let the tolerant parser decide.
                _ => return Err(httparse::Error::Token),
            }
            let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version)
            else {
                return Err(httparse::Error::Token);
            };
            for h in req.headers.iter() {
                field(h.name, h.value);
            }
            Start::Request {
                method,
                target: path.as_bytes(),
                version: if minor == 0 {
                    Version::Http10
                } else {
                    Version::Http11
                },
            }
        }
        Side::Response => {
            let mut resp = httparse::Response::new(slots);
            match config.parse_response(&mut resp, head)? {
                httparse::Status::Complete(n) if n == head.len() => {}
                _ => return Err(httparse::Error::Status),
            }
            let (Some(minor), Some(status)) = (resp.version, resp.code) else {
                return Err(httparse::Error::Status);
            };
            for h in resp.headers.iter() {
                field(h.name, h.value);
            }
            // httparse gives "" for a reason with obs-text; take the bytes from the line itself.
            let reason = match parse_start_line(first_line, Side::Response, false) {
                Ok(Start::Response { reason, .. }) => reason,
                _ => &[][..],
            };
            Start::Response {
                version: if minor == 0 {
                    Version::Http10
                } else {
                    Version::Http11
                },
                status,
                reason,
            }
        }
    };
    Ok(start)
}

/// The tolerant parser: a strict start line, then header lines where obsolete folding continues
/// the previous field and lines that are not `name: value` are skipped (as browsers do).
fn parse_tolerant<'a>(
    head: &'a [u8],
    side: Side,
    field: &mut dyn FnMut(&'a str, &'a [u8]),
) -> Result<Start<'a>, FrameError> {
    if memchr(0, head).is_some() {
        return Err(FrameError::NotHttp);
    }
    let first_end = memchr(b'\n', head).ok_or(FrameError::NotHttp)?;
    let start = parse_start_line(&head[..first_end], side, true)?;
    if let Start::Request {
        version: Version::Http09,
        ..
    } = start
    {
        return Ok(start);
    }
    // The field being built: name, and value as a range of `head` (folding extends it).
    let mut open: Option<(&'a str, usize, usize)> = None;
    for line in head_lines(head) {
        if !line.terminated {
            break;
        }
        match line.kind {
            LineKind::Empty => break,
            // A folded line continues the open field; after a skipped line, or before any field,
            // it is skipped too (RFC 9112 §2.2): never a field of its own.
            LineKind::Continuation { text } => {
                if let Some((_, _, end)) = open.as_mut() {
                    if !text.is_empty() {
                        *end = text.end;
                    }
                }
                continue;
            }
            LineKind::Field { .. } | LineKind::Other => {}
        }
        if let Some((name, from, to)) = open.take() {
            field(name, &head[from..to.max(from)]);
        }
        if let LineKind::Field { name, value } = line.kind {
            let from = if value.is_empty() {
                line.line.start
            } else {
                value.start
            };
            open = Some((name, from, from + value.len()));
        }
    }
    if let Some((name, from, to)) = open.take() {
        field(name, &head[from..to.max(from)]);
    }
    Ok(start)
}

/// One line of a head after its start line, as the tolerant parser reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadLine<'a> {
    /// The line in the head, through its line ending (`\n` or `\r\n`; the last may have none).
    pub line: Range<usize>,
    /// The same without its line ending.
    pub content: Range<usize>,
    /// True when the line ends with `\n` (a head cut short may end inside its last line).
    pub terminated: bool,
    /// What the line is.
    pub kind: LineKind<'a>,
}

/// What a head line is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind<'a> {
    /// `name: value`: the name trimmed, all `tchar`s; the value's range in the head, spaces and
    /// tabs around it left out (empty, just after the colon, when there is no value).
    Field {
        /// Field name as on the wire.
        name: &'a str,
        /// Where the value lies in the head.
        value: Range<usize>,
    },
    /// Begins with a space or tab: obsolete folding, continuing the field before it (when that
    /// line was a field). `text` is the line's range with spaces and tabs around it left out.
    Continuation {
        /// The folded text's range in the head.
        text: Range<usize>,
    },
    /// The empty line that ends a head.
    Empty,
    /// Not a field line (no colon, or a name that is not a token): skipped by the parser.
    Other,
}

/// The lines of `head` after its start line, every one of them (past an empty line too, and a
/// last line without its line ending), as the framer's tolerant head parser reads them. Never
/// panics; the ranges lie within `head`.
pub fn head_lines(head: &[u8]) -> impl Iterator<Item = HeadLine<'_>> {
    let mut pos = memchr(b'\n', head).map_or(head.len(), |i| i + 1);
    std::iter::from_fn(move || {
        if pos >= head.len() {
            return None;
        }
        let start = pos;
        let (end, terminated) = match memchr(b'\n', &head[pos..]) {
            Some(i) => (pos + i + 1, true),
            None => (head.len(), false),
        };
        pos = end;
        let without_lf = if terminated { end - 1 } else { end };
        let content_end = if head[start..without_lf].ends_with(b"\r") {
            without_lf - 1
        } else {
            without_lf
        };
        let content = &head[start..content_end];
        let range_of = |part: &[u8]| {
            let at = part.as_ptr() as usize - head.as_ptr() as usize;
            at..at + part.len()
        };
        let kind = match content.first() {
            None => LineKind::Empty,
            Some(b' ' | b'\t') => LineKind::Continuation {
                text: range_of(trim_ws(content)),
            },
            Some(_) => field_line(content).map_or(LineKind::Other, |(name, value)| {
                let value = if value.is_empty() {
                    // Only spaces and tabs follow the colon: the value is empty at the line's end.
                    content_end..content_end
                } else {
                    range_of(value)
                };
                LineKind::Field { name, value }
            }),
        };
        Some(HeadLine {
            line: start..end,
            content: start..content_end,
            terminated,
            kind,
        })
    })
}

/// `name: value` of a field line (not folded, line ending removed): the name a token, both
/// trimmed of spaces and tabs; `None` when the line is not one.
fn field_line(line: &[u8]) -> Option<(&str, &[u8])> {
    let line = trim_ws(line);
    let colon = memchr(b':', line)?;
    let name = trim_ws(&line[..colon]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let name = std::str::from_utf8(name).ok()?;
    Some((name, trim_ws(&line[colon + 1..])))
}

#[cfg(test)]
mod tests {
    use super::*;

    type Fields = Vec<(String, Vec<u8>)>;

    fn fields(head: &[u8], side: Side) -> (Result<Start<'_>, FrameError>, Fields) {
        let mut out = Vec::new();
        let start = parse_head(head, side, &mut |n, v| {
            out.push((n.to_string(), v.to_vec()))
        });
        (start, out)
    }

    #[test]
    fn head_end_with_crlf_and_bare_lf() {
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody", 0),
            HeadEnd::Found(24)
        );
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\nA: b\n\nbody", 0),
            HeadEnd::Found(21)
        );
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0),
            HeadEnd::NotYet(21)
        );
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r", 0),
            HeadEnd::NotYet(21)
        );
        assert_eq!(
            find_head_end(b"GET / HTTP/1.1\r\nA: b", 0),
            HeadEnd::NotYet(20)
        );
    }

    #[test]
    fn request_target_with_spaces_falls_back_to_tolerant_parser() {
        let head = b"GET /uri afterspace HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n";
        let (start, f) = fields(head, Side::Request);
        assert_eq!(
            start,
            Ok(Start::Request {
                method: "GET",
                target: b"/uri afterspace",
                version: Version::Http11
            })
        );
        assert_eq!(f, vec![("Host".to_string(), b"127.0.0.1:8000".to_vec())]);
    }

    #[test]
    fn obsolete_folding_in_a_request_continues_the_field() {
        let head = b"POST /x HTTP/1.1\r\nX-Long: one\r\n two\r\nContent-Length: 3\r\n\r\n";
        let (start, f) = fields(head, Side::Request);
        assert!(start.is_ok());
        assert_eq!(
            f,
            vec![
                ("X-Long".to_string(), b"one\r\n two".to_vec()),
                ("Content-Length".to_string(), b"3".to_vec())
            ]
        );
    }

    #[test]
    fn a_folded_line_after_a_skipped_line_is_skipped_too() {
        // Found by fuzzing the rewrites: `  t: x` continues the invalid line before it, so it is
        // no field `t` (the rewriter, which keeps it with that line, must agree).
        let head = b"GET / HTTP/1.1\r\nX-Bad^\xdb: a\r\n  t: x\r\nHost: h\r\n\r\n";
        let (start, f) = fields(head, Side::Request);
        assert!(start.is_ok());
        assert_eq!(f, vec![("Host".to_string(), b"h".to_vec())]);
        let head = b"GET / HTTP/1.1\r\n  t: x\r\nHost: h\r\n\r\n";
        let (_, f) = fields(head, Side::Request);
        assert_eq!(f, vec![("Host".to_string(), b"h".to_vec())]);
    }

    #[test]
    fn obsolete_folding_in_a_response_uses_httparse() {
        let head = b"HTTP/1.1 200 OK\r\nFolded: a\r\n b\r\nContent-Length: 0\r\n\r\n";
        let (start, f) = fields(head, Side::Response);
        assert_eq!(
            start,
            Ok(Start::Response {
                version: Version::Http11,
                status: 200,
                reason: b"OK"
            })
        );
        assert_eq!(f[0], ("Folded".to_string(), b"a\r\n b".to_vec()));
    }

    #[test]
    fn reason_with_obs_text_is_kept() {
        let head = b"HTTP/1.1 100 Weiter \xe2\x9c\x93\r\n\r\n";
        let (start, _) = fields(head, Side::Response);
        assert_eq!(
            start,
            Ok(Start::Response {
                version: Version::Http11,
                status: 100,
                reason: "Weiter \u{2713}".as_bytes()
            })
        );
    }

    #[test]
    fn many_headers_use_the_heap() {
        let mut head = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..200 {
            head.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        head.extend_from_slice(b"\r\n");
        let (start, f) = fields(&head, Side::Request);
        assert!(start.is_ok());
        assert_eq!(f.len(), 200);
        assert_eq!(f[199], ("X-199".to_string(), b"199".to_vec()));
    }

    #[test]
    fn start_lines() {
        assert!(parse_start_line(b"GET / HTTP/1.1", Side::Request, false).is_ok());
        assert_eq!(
            parse_start_line(b"GET /zeek.html", Side::Request, true),
            Ok(Start::Request {
                method: "GET",
                target: b"/zeek.html",
                version: Version::Http09
            })
        );
        assert!(parse_start_line(b"GET /zeek.html", Side::Request, false).is_err());
        assert!(parse_start_line(b"GET / HTTP/1.", Side::Request, false).is_ok());
        assert!(parse_start_line(b"PRI * HTTP/2.0", Side::Request, false).is_err());
        assert!(parse_start_line(b"GET ", Side::Request, true).is_err());
        assert!(parse_start_line(b"USER abab1212", Side::Request, true).is_err());
        assert!(parse_start_line(b"220 smtp.example.com ESMTP", Side::Request, true).is_err());
        assert!(parse_start_line(b"HTTP/1.1 200", Side::Response, false).is_ok());
        assert!(parse_start_line(b"HTTP/1.1 20", Side::Response, false).is_err());
        assert!(parse_start_line(b"HTTP/2.0 200 OK", Side::Response, false).is_err());
        assert!(parse_start_line(b"HTTP/1.1 2000 OK", Side::Response, false).is_err());
    }

    #[test]
    fn prefixes() {
        assert!(plausible_prefix(b"HTT", Side::Response));
        assert!(plausible_prefix(b"HTTP/1.1 2", Side::Response));
        assert!(!plausible_prefix(b"HTTX", Side::Response));
        assert!(plausible_prefix(b"GE", Side::Request));
        assert!(plausible_prefix(b"GET /a b", Side::Request));
        assert!(!plausible_prefix(b"\x16\x03\x01", Side::Request));
        assert!(!plausible_prefix(b"GET /\x00", Side::Request));
    }

    #[test]
    fn content_length_values() {
        let mut f = Facts::default();
        f.add("Content-Length", b"5");
        f.add("content-length", b"5, 5");
        assert_eq!(f.content_length, Some(Ok(5)));
        f.add("Content-Length", b"6");
        assert_eq!(f.content_length, Some(Err(())));
        let mut g = Facts::default();
        g.add("Content-Length", b"99999999999999999999999");
        assert_eq!(g.content_length, Some(Err(())));
        let mut h = Facts::default();
        h.add("Content-Length", b"");
        assert_eq!(h.content_length, Some(Err(())));
    }

    #[test]
    fn transfer_encoding_last_coding_decides() {
        let mut f = Facts::default();
        f.add("Transfer-Encoding", b"gzip, chunked");
        assert!(f.te_present && f.te_chunked_last);
        f.add("Transfer-Encoding", b"gzip");
        assert!(f.te_present && !f.te_chunked_last);
        let mut g = Facts::default();
        g.add("Transfer-Encoding", b"");
        assert!(!g.te_present);
    }
}
