//! HTTP/1.x message framing, one implementation for both directions and both stages: the capture
//! side frames reassembled streams with it, the replay client frames staging's responses with it.
//!
//! [`MessageFramer`] finds where one message ends in a byte stream fed in pieces of any size
//! (one byte at a time works), without buffering the body: heads are parsed with httparse
//! (lenient where real traffic is odd), bodies are delimited per RFC 9112 §6.3 — no body for
//! responses to HEAD, 1xx, 204 and 304 (whatever Content-Length says); a tunnel after 101 and after
//! a 2xx answer to CONNECT; chunked (extensions, trailers, bare-LF line ends) when Transfer-Encoding
//! ends in chunked; Content-Length; until the close for responses with neither; nothing for
//! requests with neither.
//!
//! Content-Length choices: several fields or list members with equal values are one length;
//! differing or non-numeric values make the message invalid ([`FrameError::ContentLength`]), as
//! RFC 9112 §6.3 item 5 asks: nothing after such a head can be framed, so callers resynchronise.
//! Transfer-Encoding wins over Content-Length; a request whose Transfer-Encoding does not end in
//! chunked is invalid (§6.3 item 4), a response's is read until the close.
//!
//! [`RequestHead::parse`] and [`ResponseHead::parse`] read stored messages back (for cat,
//! inspect, replay and compare); [`find_message_start`] resynchronises after a gap.
//!
//! Never panics: any bytes, split anywhere, give a result or a [`FrameError`].

mod body;
mod dechunk;
mod head;
mod scan;

use std::borrow::Cow;
use std::ops::Range;

use memchr::memchr;

use crate::exit::{Classify, Status};

use body::{Body, Chunk, decode_chunked_with};
pub use dechunk::{Dechunked, dechunk};
use head::{Facts, HeadEnd, Start, find_head_end, parse_head, parse_start_line, plausible_prefix};
pub use head::{HeadLine, LineKind, head_lines};
pub use scan::{Scan, find_message_start};

/// Default bound on a message head; beyond it the bytes are "not HTTP / too large".
pub const DEFAULT_MAX_HEAD: usize = 64 * 1024;

/// Which way a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Client to server.
    Request,
    /// Server to client.
    Response,
}

/// HTTP version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// A request line without a version (`GET /path`), answered with a bare body until the close.
    Http09,
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1 (any `HTTP/1.x` with x ≠ 0).
    Http11,
}

impl Version {
    /// As written on the wire (`HTTP/0.9` for a version-less request line).
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http09 => "HTTP/0.9",
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A request method, as far as framing cares: HEAD and CONNECT change how responses are framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD: the response has no body whatever its fields say.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// DELETE.
    Delete,
    /// CONNECT: a 2xx response turns the connection into a tunnel.
    Connect,
    /// OPTIONS.
    Options,
    /// TRACE.
    Trace,
    /// PATCH.
    Patch,
    /// Any other token.
    Other,
}

impl Method {
    /// The method for a token (methods are case-sensitive).
    pub fn from_token(token: &[u8]) -> Method {
        match token {
            b"GET" => Method::Get,
            b"HEAD" => Method::Head,
            b"POST" => Method::Post,
            b"PUT" => Method::Put,
            b"DELETE" => Method::Delete,
            b"CONNECT" => Method::Connect,
            b"OPTIONS" => Method::Options,
            b"TRACE" => Method::Trace,
            b"PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }
}

/// What a response's framing depends on from its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestContext {
    /// The request's method (HEAD: no body; CONNECT: 2xx opens a tunnel).
    pub method: Method,
    /// The request's version (an HTTP/0.9 request gets a head-less response).
    pub version: Version,
}

impl Default for RequestContext {
    /// A GET over HTTP/1.1: what a response with no known request is framed as.
    fn default() -> Self {
        RequestContext {
            method: Method::Get,
            version: Version::Http11,
        }
    }
}

/// Which message a framer expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request.
    Request,
    /// A response to a request described by the context.
    Response(RequestContext),
}

impl Kind {
    /// The direction of the message.
    pub fn side(self) -> Side {
        match self {
            Kind::Request => Side::Request,
            Kind::Response(_) => Side::Response,
        }
    }
}

/// How a message's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// No body: the message ends with its head.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding, through the last chunk and the trailer section.
    Chunked,
    /// Until the connection closes.
    UntilClose,
    /// HTTP ends after this head (101, or 2xx to CONNECT): the rest of the connection is another
    /// protocol.
    Tunnel,
}

/// The start line as framing sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine {
    /// A request, with its method.
    Request {
        /// The method.
        method: Method,
    },
    /// A response, with its status code (200 for a head-less HTTP/0.9 response, the status web
    /// servers log for one).
    Response {
        /// The status code.
        status: u16,
    },
}

/// A parsed head: what the framer found and how the body will be delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Length of the head on the wire, through its empty line (0 for an HTTP/0.9 response).
    pub len: usize,
    /// Version of the message.
    pub version: Version,
    /// Method or status.
    pub start: StartLine,
    /// How the body is delimited.
    pub body: BodyKind,
    /// A request with `Expect: 100-continue`.
    pub expect_continue: bool,
    /// A request that may switch protocols (CONNECT, or an `Upgrade` field): bytes after it are
    /// not HTTP if the server agrees.
    pub upgrade: bool,
    /// `Connection: close`.
    pub close: bool,
}

impl Head {
    /// The status code of a response head.
    pub fn status(&self) -> Option<u16> {
        match self.start {
            StartLine::Response { status } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The method of a request head.
    pub fn method(&self) -> Option<Method> {
        match self.start {
            StartLine::Request { method } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The context a response to this request needs.
    pub fn request_context(&self) -> RequestContext {
        RequestContext {
            method: self.method().unwrap_or(Method::Get),
            version: self.version,
        }
    }
}

/// What one [`MessageFramer::push`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Framed {
    /// Empty lines before the message (RFC 9112 §2.2), consumed but not part of it.
    pub skipped: usize,
    /// Bytes after the skipped ones that belong to the message and were consumed. While the head
    /// is incomplete this is 0: the caller keeps those bytes and passes them again with more.
    pub consumed: usize,
    /// Set on the call where the head completed; `consumed` then starts with its `len` bytes.
    pub head: Option<Head>,
    /// The message ended with the consumed bytes.
    pub done: bool,
}

/// How a capture gap of some length falls relative to the message being framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GapSkip {
    /// The lost bytes were all body bytes of a known length; framing continues after them.
    Inside,
    /// The body ended inside the gap; `after` lost bytes followed it (0: the next byte starts a
    /// new message).
    Ended {
        /// Lost bytes after the end of the message.
        after: u64,
    },
    /// The gap fell where framing needs the bytes (head, chunk-size line): framing is lost.
    Lost,
}

/// Why bytes could not be framed as HTTP/1.x.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The bytes do not start an HTTP/1.x message.
    #[error("not an HTTP/1.x message: the start line is malformed")]
    NotHttp,
    /// No end of head within the limit.
    #[error("HTTP head larger than {max} bytes (not HTTP, or raise the head limit)")]
    HeadTooLarge {
        /// The limit in force.
        max: usize,
    },
    /// Content-Length values differ or are not numbers (RFC 9112 §6.3 item 5). The head itself
    /// is complete: `head_len` bytes.
    #[error("invalid or conflicting Content-Length values")]
    ContentLength {
        /// Length of the (complete) head whose body cannot be delimited.
        head_len: usize,
    },
    /// A request's Transfer-Encoding does not end in chunked (RFC 9112 §6.3 item 4).
    #[error("request Transfer-Encoding does not end in chunked")]
    TransferEncoding {
        /// Length of the (complete) head whose body cannot be delimited.
        head_len: usize,
    },
    /// The chunked transfer coding is malformed.
    #[error("malformed chunked body")]
    Chunked,
    /// The stream ended before the message did.
    #[error("the stream ended inside an HTTP message")]
    Incomplete,
    /// A stored message has no complete head.
    #[error("the HTTP head is incomplete")]
    HeadIncomplete,
}

impl FrameError {
    /// For a complete head whose body cannot be delimited, the head's length.
    pub fn head_len(&self) -> Option<usize> {
        match *self {
            FrameError::ContentLength { head_len } | FrameError::TransferEncoding { head_len } => {
                Some(head_len)
            }
            _ => None,
        }
    }
}

impl Classify for FrameError {
    /// Bytes that do not frame are bad input (a log or capture whose content is wrong).
    fn status(&self) -> Status {
        Status::BadInput
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a head: `started` once a non-blank byte was seen, `scanned` bytes of it hold no
    /// head end, `checked` once the start line was validated.
    Head {
        started: bool,
        scanned: usize,
        checked: bool,
    },
    Body(Body),
    Done,
}

const HEAD_START: State = State::Head {
    started: false,
    scanned: 0,
    checked: false,
};

/// Frames one message at a time from a byte stream.
///
/// Contract: while the head is incomplete, [`push`](Self::push) consumes nothing (beyond blank
/// lines before it) and the caller presents the same unconsumed bytes again followed by more, as
/// a socket buffer naturally does; the framer remembers how far it looked, so a head arriving one
/// byte at a time costs linear work. Body bytes are consumed as they come and never buffered.
#[derive(Debug, Clone)]
pub struct MessageFramer {
    kind: Kind,
    max_head: usize,
    state: State,
}

impl MessageFramer {
    /// A framer for one message of `kind`, with the default head limit.
    pub fn new(kind: Kind) -> Self {
        Self::with_max_head(kind, DEFAULT_MAX_HEAD)
    }

    /// A framer whose heads (and chunk-size lines, and trailer sections) may be at most
    /// `max_head` bytes.
    pub fn with_max_head(kind: Kind, max_head: usize) -> Self {
        MessageFramer {
            kind,
            max_head: max_head.max(16),
            state: HEAD_START,
        }
    }

    /// Starts over for the next message, of `kind`.
    pub fn reset(&mut self, kind: Kind) {
        self.kind = kind;
        self.state = HEAD_START;
    }

    /// The kind of message being framed.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// True until the head is complete.
    pub fn in_head(&self) -> bool {
        matches!(self.state, State::Head { .. })
    }

    /// True once a non-blank byte of the head was seen (a message has begun).
    pub fn started(&self) -> bool {
        !matches!(self.state, State::Head { started: false, .. })
    }

    /// True when the message is complete.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// True while reading a body delimited by the close.
    pub fn until_close(&self) -> bool {
        self.state == State::Body(Body::UntilClose)
    }

    /// Frames the bytes at the start of `buf` (see the type's contract for incomplete heads).
    pub fn push(&mut self, buf: &[u8]) -> Result<Framed, FrameError> {
        let mut out = Framed::default();
        let mut pos = 0;
        if let State::Head { .. } = self.state {
            match self.push_head(buf, &mut out)? {
                Some(end) => pos = end,
                None => return Ok(out),
            }
        }
        if let State::Body(body) = &mut self.state {
            let step = body.decode(&buf[pos..], self.max_head)?;
            pos += step.consumed;
            if step.done {
                self.state = State::Done;
            }
        }
        out.consumed = pos - out.skipped;
        out.done = self.state == State::Done;
        Ok(out)
    }

    /// The head part of `push`: `Some(offset after the head)` once it is complete.
    fn push_head(&mut self, buf: &[u8], out: &mut Framed) -> Result<Option<usize>, FrameError> {
        let State::Head {
            mut started,
            mut scanned,
            mut checked,
        } = self.state
        else {
            return Ok(None);
        };
        let mut pos = 0;
        if !started {
            if let Kind::Response(RequestContext {
                version: Version::Http09,
                ..
            }) = self.kind
            {
                // An HTTP/0.9 request gets the document alone, unless the server speaks 1.x.
                const V: &[u8] = b"HTTP/";
                let n = buf.len().min(V.len());
                if buf.is_empty() || (n < V.len() && buf[..n] == V[..n]) {
                    return Ok(None);
                }
                if buf[..n] != V[..n] {
                    let head = Head {
                        len: 0,
                        version: Version::Http09,
                        start: StartLine::Response { status: 200 },
                        body: BodyKind::UntilClose,
                        expect_continue: false,
                        upgrade: false,
                        close: true,
                    };
                    out.head = Some(head);
                    self.state = State::Body(Body::UntilClose);
                    return Ok(Some(0));
                }
            }
            pos = buf
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(buf.len());
            out.skipped = pos;
            if pos == buf.len() {
                return Ok(None);
            }
            started = true;
        }
        let side = self.kind.side();
        let head = &buf[pos..];
        let window = &head[..head.len().min(self.max_head + 1)];
        if !checked {
            match memchr(b'\n', window) {
                Some(eol) => {
                    let start = parse_start_line(&head[..eol], side, side == Side::Request)?;
                    checked = true;
                    if let Start::Request {
                        method,
                        version: Version::Http09,
                        ..
                    } = start
                    {
                        let parsed = Head {
                            len: eol + 1,
                            version: Version::Http09,
                            start: StartLine::Request {
                                method: Method::from_token(method.as_bytes()),
                            },
                            body: BodyKind::None,
                            expect_continue: false,
                            upgrade: false,
                            close: true,
                        };
                        return Ok(Some(self.head_complete(parsed, pos, out)));
                    }
                }
                None => {
                    if !plausible_prefix(window, side) {
                        return Err(FrameError::NotHttp);
                    }
                    if head.len() > self.max_head {
                        return Err(FrameError::HeadTooLarge { max: self.max_head });
                    }
                    self.state = State::Head {
                        started,
                        scanned: head.len(),
                        checked,
                    };
                    return Ok(None);
                }
            }
        }
        match find_head_end(window, scanned) {
            HeadEnd::NotYet(resume) => {
                if head.len() > self.max_head {
                    return Err(FrameError::HeadTooLarge { max: self.max_head });
                }
                scanned = resume;
                self.state = State::Head {
                    started,
                    scanned,
                    checked,
                };
                Ok(None)
            }
            HeadEnd::Found(end) => {
                if end > self.max_head {
                    return Err(FrameError::HeadTooLarge { max: self.max_head });
                }
                let parsed = self.parse(&head[..end])?;
                Ok(Some(self.head_complete(parsed, pos, out)))
            }
        }
    }

    /// Records a complete head and moves to its body; returns the offset after the head.
    fn head_complete(&mut self, head: Head, pos: usize, out: &mut Framed) -> usize {
        self.state = match head.body {
            BodyKind::None | BodyKind::Tunnel | BodyKind::Length(0) => State::Done,
            BodyKind::Length(n) => State::Body(Body::Length { remaining: n }),
            BodyKind::Chunked => State::Body(Body::Chunked(Chunk::Size {
                value: 0,
                digits: 0,
            })),
            BodyKind::UntilClose => State::Body(Body::UntilClose),
        };
        out.head = Some(head);
        pos + head.len
    }

    /// Parses a complete head and decides the body's framing.
    fn parse(&self, head: &[u8]) -> Result<Head, FrameError> {
        let mut facts = Facts::default();
        let start = parse_head(head, self.kind.side(), &mut |name, value| {
            facts.add(name, value);
        })?;
        let (version, start_line, body) = match (start, self.kind) {
            (
                Start::Request {
                    method, version, ..
                },
                Kind::Request,
            ) => {
                let method = Method::from_token(method.as_bytes());
                let body = if facts.te_present {
                    if !facts.te_chunked_last {
                        return Err(FrameError::TransferEncoding {
                            head_len: head.len(),
                        });
                    }
                    BodyKind::Chunked
                } else {
                    match facts.content_length {
                        None | Some(Ok(0)) => BodyKind::None,
                        Some(Ok(n)) => BodyKind::Length(n),
                        Some(Err(())) => {
                            return Err(FrameError::ContentLength {
                                head_len: head.len(),
                            });
                        }
                    }
                };
                (version, StartLine::Request { method }, body)
            }
            (
                Start::Response {
                    version, status, ..
                },
                Kind::Response(ctx),
            ) => {
                let body = if status == 101 || (ctx.method == Method::Connect && status / 100 == 2)
                {
                    BodyKind::Tunnel
                } else if ctx.method == Method::Head
                    || status / 100 == 1
                    || status == 204
                    || status == 304
                {
                    BodyKind::None
                } else if facts.te_present {
                    if facts.te_chunked_last {
                        BodyKind::Chunked
                    } else {
                        BodyKind::UntilClose
                    }
                } else {
                    match facts.content_length {
                        None => BodyKind::UntilClose,
                        Some(Ok(0)) => BodyKind::None,
                        Some(Ok(n)) => BodyKind::Length(n),
                        Some(Err(())) => {
                            return Err(FrameError::ContentLength {
                                head_len: head.len(),
                            });
                        }
                    }
                };
                (version, StartLine::Response { status }, body)
            }
            _ => return Err(FrameError::NotHttp),
        };
        let upgrade = match start_line {
            StartLine::Request { method } => method == Method::Connect || facts.upgrade,
            StartLine::Response { .. } => body == BodyKind::Tunnel,
        };
        Ok(Head {
            len: head.len(),
            version,
            start: start_line,
            body,
            expect_continue: facts.expect_continue,
            upgrade,
            close: facts.close,
        })
    }

    /// The stream ended (FIN, or the caller gives up): completes a body delimited by the close.
    /// `Ok` when no message was in progress or it is now complete; [`FrameError::Incomplete`]
    /// when the stream ended inside a message.
    pub fn finish(&mut self) -> Result<(), FrameError> {
        match self.state {
            State::Head { started: false, .. } | State::Done => Ok(()),
            State::Body(Body::UntilClose) => {
                self.state = State::Done;
                Ok(())
            }
            State::Head { .. } | State::Body(_) => Err(FrameError::Incomplete),
        }
    }

    /// `len` bytes of the stream were lost (a capture gap): says whether framing survives it.
    /// Body bytes of a known length are skipped; until-close bodies absorb any gap.
    pub fn skip_gap(&mut self, len: u64) -> GapSkip {
        match &mut self.state {
            State::Body(Body::UntilClose) => GapSkip::Inside,
            State::Body(Body::Length { remaining }) => {
                if len < *remaining {
                    *remaining -= len;
                    GapSkip::Inside
                } else {
                    let after = len - *remaining;
                    self.state = State::Done;
                    GapSkip::Ended { after }
                }
            }
            State::Body(Body::Chunked(Chunk::Data { remaining })) if len <= *remaining => {
                *remaining -= len;
                if *remaining == 0 {
                    self.state = State::Body(Body::Chunked(Chunk::DataEnd { cr: false }));
                }
                GapSkip::Inside
            }
            _ => GapSkip::Lost,
        }
    }
}

/// The start line of an incomplete head (a message cut by a gap or the close), as a [`Head`]
/// with no body and `len` 0; `None` when the first line is not complete or not a start line.
pub fn partial_head(bytes: &[u8], side: Side) -> Option<Head> {
    let eol = memchr(b'\n', bytes)?;
    let (version, start) =
        match parse_start_line(&bytes[..eol], side, side == Side::Request).ok()? {
            Start::Request {
                method, version, ..
            } => (
                version,
                StartLine::Request {
                    method: Method::from_token(method.as_bytes()),
                },
            ),
            Start::Response {
                version, status, ..
            } => (version, StartLine::Response { status }),
        };
    Some(Head {
        len: 0,
        version,
        start,
        body: BodyKind::None,
        expect_continue: false,
        upgrade: false,
        close: false,
    })
}

/// True when `buf` begins with a complete HTTP/0.9 request line (`GET /path`, no version).
/// Only trusted at the very start of a connection: elsewhere such a line is likely text.
pub fn http09_request_line(buf: &[u8]) -> bool {
    memchr(b'\n', buf).is_some_and(|eol| {
        matches!(
            parse_start_line(&buf[..eol], Side::Request, true),
            Ok(Start::Request {
                version: Version::Http09,
                ..
            })
        )
    })
}

/// True for a method token in common use (RFC 9110's, WebDAV's and a few more).
pub fn is_known_method(token: &[u8]) -> bool {
    head::KNOWN_METHODS.contains(&token)
}

/// Where the request-target lies in a request line (its line ending optional), read as the
/// framer reads request lines (HTTP/0.9 ones included); `None` when the line is not one.
pub fn request_target(line: &[u8]) -> Option<Range<usize>> {
    match parse_start_line(line, Side::Request, true) {
        Ok(Start::Request { target, .. }) => {
            let at = target.as_ptr() as usize - line.as_ptr() as usize;
            Some(at..at + target.len())
        }
        _ => None,
    }
}

/// A stored chunked body read with the framer's own decoder: where its chunk data lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkedData {
    /// The chunk data, as ranges of the body in order (size lines, extensions, line endings and
    /// trailers left out). A body cut short ends with what was stored of its last chunk.
    pub data: Vec<Range<usize>>,
    /// How the body ended.
    pub end: ChunkedEnd,
}

/// How a stored chunked body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkedEnd {
    /// Its last chunk and trailers end after this many bytes.
    Complete(usize),
    /// The bytes ran out first (a body stored in part).
    Cut,
    /// Not chunked coding from this offset (the end of the last data read well) on.
    Malformed(usize),
}

/// Reads `body` (the bytes after a head whose Transfer-Encoding ends in chunked) as
/// [`MessageFramer`] does, without bounds on size lines or trailers; never panics.
pub fn chunked_data(body: &[u8]) -> ChunkedData {
    let mut data: Vec<Range<usize>> = Vec::new();
    let mut chunk = Chunk::Size {
        value: 0,
        digits: 0,
    };
    let end = match decode_chunked_with(&mut chunk, body, usize::MAX, |r| data.push(r)) {
        Ok(step) if step.done => ChunkedEnd::Complete(step.consumed),
        Ok(_) => ChunkedEnd::Cut,
        Err(_) => ChunkedEnd::Malformed(data.last().map_or(0, |r| r.end)),
    };
    ChunkedData { data, end }
}

/// One header field of a stored head, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// Field name as on the wire (case kept).
    pub name: &'a str,
    /// Field value, surrounding whitespace trimmed (an obsolete fold keeps its CRLF and spaces).
    pub value: &'a [u8],
}

fn find_header<'a>(headers: &[Header<'a>], name: &str) -> Option<&'a [u8]> {
    headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case(name))
        .map(|h| h.value)
}

/// A stored request's head, for the tools that read logs (cat, inspect, replay, compare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// Method token as on the wire.
    pub method: &'a str,
    /// Request-target as on the wire (may hold spaces or non-UTF-8 bytes in odd traffic).
    pub target: &'a [u8],
    /// Version.
    pub version: Version,
    /// Header fields in wire order.
    pub headers: Vec<Header<'a>>,
    /// Length of the head in the parsed bytes.
    pub len: usize,
}

impl<'a> RequestHead<'a> {
    /// Parses the head at the start of `bytes` (a stored request: head, then body). Errors when the
    /// head is incomplete or not a request; never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FrameError> {
        let eol = memchr(b'\n', bytes).ok_or(FrameError::HeadIncomplete)?;
        if let Start::Request {
            method,
            target,
            version: Version::Http09,
        } = parse_start_line(&bytes[..eol], Side::Request, true)?
        {
            return Ok(RequestHead {
                method,
                target,
                version: Version::Http09,
                headers: Vec::new(),
                len: eol + 1,
            });
        }
        let HeadEnd::Found(end) = find_head_end(bytes, 0) else {
            return Err(FrameError::HeadIncomplete);
        };
        let mut headers = Vec::new();
        let start = parse_head(&bytes[..end], Side::Request, &mut |name, value| {
            headers.push(Header { name, value });
        })?;
        match start {
            Start::Request {
                method,
                target,
                version,
            } => Ok(RequestHead {
                method,
                target,
                version,
                headers,
                len: end,
            }),
            Start::Response { .. } => Err(FrameError::NotHttp),
        }
    }

    /// The first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        find_header(&self.headers, name)
    }

    /// The request-target as text (invalid UTF-8 replaced).
    pub fn target_str(&self) -> Cow<'a, str> {
        String::from_utf8_lossy(self.target)
    }
}

/// A stored response's head, for the tools that read logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead<'a> {
    /// Version.
    pub version: Version,
    /// Status code.
    pub status: u16,
    /// Reason phrase as on the wire (may be empty or non-UTF-8).
    pub reason: &'a [u8],
    /// Header fields in wire order.
    pub headers: Vec<Header<'a>>,
    /// Length of the head in the parsed bytes.
    pub len: usize,
}

impl<'a> ResponseHead<'a> {
    /// Parses the head at the start of `bytes` (a stored response: head, then body). Errors when the
    /// head is incomplete or not a response (an HTTP/0.9 response has no head); never panics.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, FrameError> {
        let HeadEnd::Found(end) = find_head_end(bytes, 0) else {
            return Err(FrameError::HeadIncomplete);
        };
        let mut headers = Vec::new();
        let start = parse_head(&bytes[..end], Side::Response, &mut |name, value| {
            headers.push(Header { name, value });
        })?;
        match start {
            Start::Response {
                version,
                status,
                reason,
            } => Ok(ResponseHead {
                version,
                status,
                reason,
                headers,
                len: end,
            }),
            Start::Request { .. } => Err(FrameError::NotHttp),
        }
    }

    /// The first field called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a [u8]> {
        find_header(&self.headers, name)
    }
}

#[cfg(test)]
mod tests;
