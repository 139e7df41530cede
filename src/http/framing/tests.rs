use super::*;

/// Frames one message from `input` the way a socket reader does: bytes arrive `piece` at a time
/// into a buffer, the framer consumes from its front. Returns the head and the message's length
/// (skipped blank lines not counted) once done, or the error.
fn frame_one(kind: Kind, input: &[u8], piece: usize) -> Result<(Head, usize), FrameError> {
    let mut framer = MessageFramer::new(kind);
    let mut buf: Vec<u8> = Vec::new();
    let mut head = None;
    let mut len = 0;
    for part in input.chunks(piece.max(1)) {
        buf.extend_from_slice(part);
        let f = framer.push(&buf)?;
        buf.drain(..f.skipped + f.consumed);
        len += f.consumed;
        if let Some(h) = f.head {
            head = Some(h);
        }
        if f.done {
            return Ok((head.ok_or(FrameError::Incomplete)?, len));
        }
    }
    framer.finish()?;
    Ok((head.ok_or(FrameError::Incomplete)?, len))
}

fn get() -> Kind {
    Kind::Response(RequestContext::default())
}

fn to(method: Method) -> Kind {
    Kind::Response(RequestContext {
        method,
        version: Version::Http11,
    })
}

fn every_split(kind: Kind, input: &[u8]) -> (Head, usize) {
    let whole = frame_one(kind, input, input.len()).expect("frames whole");
    for piece in 1..input.len() {
        assert_eq!(
            frame_one(kind, input, piece),
            Ok(whole),
            "piece size {piece}"
        );
    }
    whole
}

#[test]
fn request_with_content_length() {
    let msg = b"POST /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /next";
    let (head, len) = every_split(Kind::Request, msg);
    assert_eq!(len, msg.len() - 9);
    assert_eq!(head.len, 53);
    assert_eq!(head.body, BodyKind::Length(5));
    assert_eq!(head.method(), Some(Method::Post));
}

#[test]
fn request_without_length_has_no_body() {
    let msg = b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n";
    let (head, len) = every_split(Kind::Request, msg);
    assert_eq!((head.body, len), (BodyKind::None, 27));
}

#[test]
fn head_response_with_content_length_has_no_body() {
    let msg = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\nHTTP/1.1 200 OK\r\n";
    let (head, len) = every_split(to(Method::Head), msg);
    assert_eq!((head.body, len), (BodyKind::None, 41));
    // The same bytes answering a GET: the body is the next 1234 bytes (not there: incomplete).
    assert_eq!(
        frame_one(get(), msg, msg.len()),
        Err(FrameError::Incomplete)
    );
}

#[test]
fn no_content_and_not_modified_ignore_content_length() {
    for status in ["204 No Content", "304 Not Modified"] {
        let msg = format!("HTTP/1.1 {status}\r\nContent-Length: 5\r\n\r\n");
        let (head, len) = every_split(get(), msg.as_bytes());
        assert_eq!((head.body, len), (BodyKind::None, msg.len()), "{status}");
    }
}

#[test]
fn interim_responses_have_no_body() {
    let msg = b"HTTP/1.1 100 Keep Going, Friend\r\n\r\nHTTP/1.1 200 OK\r\n";
    let (head, len) = every_split(get(), msg);
    assert_eq!(head.status(), Some(100));
    assert_eq!((head.body, len), (BodyKind::None, 35));
}

#[test]
fn switching_protocols_and_connect_open_a_tunnel() {
    let msg = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello";
    let (head, len) = every_split(get(), msg);
    assert_eq!((head.body, head.upgrade, len), (BodyKind::Tunnel, true, 56));
    let msg = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x01";
    let (head, len) = every_split(to(Method::Connect), msg);
    assert_eq!((head.body, len), (BodyKind::Tunnel, 39));
    // A refused CONNECT is an ordinary response.
    let msg = b"HTTP/1.1 407 Proxy Auth\r\nContent-Length: 2\r\n\r\nno";
    let (head, _) = every_split(to(Method::Connect), msg);
    assert_eq!(head.body, BodyKind::Length(2));
}

#[test]
fn connect_and_upgrade_requests_are_flagged() {
    let msg = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
    let (head, _) = every_split(Kind::Request, msg);
    assert!(head.upgrade);
    let msg = b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n";
    let (head, _) = every_split(Kind::Request, msg);
    assert!(head.upgrade);
}

#[test]
fn chunked_response_with_extensions_and_trailers() {
    let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n4;a=b\r\nabcd\r\n0\r\nX-Trailer: 1\r\n\r\nHTTP";
    let (head, len) = every_split(get(), msg);
    assert_eq!((head.body, len), (BodyKind::Chunked, msg.len() - 4));
}

#[test]
fn transfer_encoding_wins_over_content_length() {
    let msg =
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    let (head, len) = every_split(get(), msg);
    assert_eq!((head.body, len), (BodyKind::Chunked, msg.len()));
}

#[test]
fn response_without_length_runs_until_close() {
    let msg = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\n<html>until the end</html>";
    let (head, len) = every_split(get(), msg);
    assert_eq!((head.body, len), (BodyKind::UntilClose, msg.len()));
    // A response whose Transfer-Encoding does not end in chunked also runs until the close.
    let msg = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzz";
    let (head, _) = every_split(get(), msg);
    assert_eq!(head.body, BodyKind::UntilClose);
}

#[test]
fn conflicting_content_lengths_are_invalid_equal_ones_are_not() {
    let bad = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    assert_eq!(
        frame_one(get(), bad, 100),
        Err(FrameError::ContentLength { head_len: 57 })
    );
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello";
    let (head, len) = every_split(get(), ok);
    assert_eq!((head.body, len), (BodyKind::Length(5), ok.len()));
    let req = b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
    assert_eq!(
        frame_one(Kind::Request, req, 100),
        Err(FrameError::TransferEncoding { head_len: 44 })
    );
}

#[test]
fn binary_junk_is_refused_at_once() {
    assert_eq!(
        frame_one(Kind::Request, b"\x16\x03\x01\x02\x00", 1),
        Err(FrameError::NotHttp)
    );
    assert_eq!(
        frame_one(get(), b"SSH-2.0-OpenSSH_9.2\r\n", 1),
        Err(FrameError::NotHttp)
    );
    assert_eq!(
        frame_one(Kind::Request, b"220 mail ESMTP\r\n", 1),
        Err(FrameError::NotHttp)
    );
}

#[test]
fn head_larger_than_the_limit() {
    let mut msg = b"GET / HTTP/1.1\r\n".to_vec();
    while msg.len() < 2000 {
        msg.extend_from_slice(b"X-Filler: 0123456789abcdef\r\n");
    }
    msg.extend_from_slice(b"\r\n");
    let mut framer = MessageFramer::with_max_head(Kind::Request, 1024);
    assert_eq!(
        framer.push(&msg),
        Err(FrameError::HeadTooLarge { max: 1024 })
    );
    // Byte by byte, the error comes as soon as the limit is passed, not at the end.
    let mut framer = MessageFramer::with_max_head(Kind::Request, 1024);
    let mut result = Ok(Framed::default());
    let mut fed = 0;
    for i in 1..=msg.len() {
        fed = i;
        result = framer.push(&msg[..i]);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(result, Err(FrameError::HeadTooLarge { max: 1024 }));
    assert_eq!(fed, 1025);
}

#[test]
fn blank_lines_before_a_message_are_skipped() {
    let mut framer = MessageFramer::new(Kind::Request);
    let f = framer
        .push(b"\r\n\r\nGET / HTTP/1.1\r\n\r\n")
        .expect("frames");
    assert_eq!((f.skipped, f.consumed, f.done), (4, 18, true));
}

#[test]
fn http09_request_and_headless_response() {
    let (head, len) = every_split(Kind::Request, b"GET /zeek.html\r\n");
    assert_eq!(head.version, Version::Http09);
    assert_eq!((head.body, len), (BodyKind::None, 16));
    let ctx = head.request_context();
    let body = b"<html>\n  The Zeek Network Security Monitor\n</html>\n";
    let (resp, len) = every_split(Kind::Response(ctx), body);
    assert_eq!(
        (resp.len, resp.status(), resp.body, len),
        (0, Some(200), BodyKind::UntilClose, body.len())
    );
    // A server answering HTTP/0.9 with a status line is framed as usual.
    let msg = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n";
    let (resp, _) = every_split(Kind::Response(ctx), msg);
    assert_eq!((resp.len, resp.status()), (msg.len(), Some(400)));
}

#[test]
fn finish_completes_only_close_delimited_bodies() {
    let mut framer = MessageFramer::new(get());
    framer.push(b"HTTP/1.1 200 OK\r\n\r\nabc").expect("frames");
    assert!(framer.until_close());
    assert_eq!(framer.finish(), Ok(()));
    assert!(framer.is_done());
    let mut framer = MessageFramer::new(get());
    framer
        .push(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
        .expect("frames");
    assert_eq!(framer.finish(), Err(FrameError::Incomplete));
    let mut idle = MessageFramer::new(get());
    assert_eq!(idle.finish(), Ok(()));
}

#[test]
fn gaps_inside_bodies_of_known_length_are_skipped() {
    let mut framer = MessageFramer::new(get());
    framer
        .push(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
        .expect("frames");
    assert_eq!(framer.skip_gap(5), GapSkip::Inside);
    let f = framer.push(b"fghijGET").expect("frames");
    assert_eq!((f.consumed, f.done), (3, true));

    let mut framer = MessageFramer::new(get());
    framer
        .push(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
        .expect("frames");
    assert_eq!(framer.skip_gap(20), GapSkip::Ended { after: 12 });

    let mut framer = MessageFramer::new(get());
    framer
        .push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nab")
        .expect("frames");
    assert_eq!(framer.skip_gap(8), GapSkip::Inside);
    let f = framer.push(b"\r\n0\r\n\r\n").expect("frames");
    assert!(f.done);

    let mut framer = MessageFramer::new(get());
    framer
        .push(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nab")
        .expect("frames");
    assert_eq!(framer.skip_gap(9), GapSkip::Lost);
    let mut framer = MessageFramer::new(get());
    framer.push(b"HTTP/1.1 200 OK\r\n").expect("frames");
    assert_eq!(framer.skip_gap(1), GapSkip::Lost);
}

#[test]
fn stored_request_head_parses_with_wire_order() {
    let bytes = b"POST /a%20b?x=1 HTTP/1.1\r\nHost: shop\r\nX-Dup: 1\r\nx-dup: 2\r\nContent-Length: 2\r\n\r\nhi";
    let head = RequestHead::parse(bytes).expect("parses");
    assert_eq!(head.method, "POST");
    assert_eq!(head.target, b"/a%20b?x=1");
    assert_eq!(head.version, Version::Http11);
    assert_eq!(head.len, bytes.len() - 2);
    let names: Vec<_> = head.headers.iter().map(|h| h.name).collect();
    assert_eq!(names, ["Host", "X-Dup", "x-dup", "Content-Length"]);
    assert_eq!(head.header("X-DUP"), Some(&b"1"[..]));
    let with_space = RequestHead::parse(b"GET /uri afterspace HTTP/1.1\r\n\r\n").expect("parses");
    assert_eq!(with_space.target_str(), "/uri afterspace");
    let old = RequestHead::parse(b"GET /zeek.html\r\n").expect("parses");
    assert_eq!((old.version, old.len), (Version::Http09, 16));
}

#[test]
fn stored_response_head_parses() {
    let bytes = b"HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope";
    let head = ResponseHead::parse(bytes).expect("parses");
    assert_eq!(
        (head.version, head.status, head.reason),
        (Version::Http10, 404, &b"Not Found"[..])
    );
    assert_eq!(head.header("content-type"), Some(&b"text/plain"[..]));
    assert_eq!(head.len, bytes.len() - 4);
}

#[test]
fn stored_heads_that_are_not_heads_are_errors() {
    assert_eq!(
        RequestHead::parse(b"GET / HTTP/1.1\r\nHost: a\r\n"),
        Err(FrameError::HeadIncomplete)
    );
    assert_eq!(RequestHead::parse(b""), Err(FrameError::HeadIncomplete));
    assert_eq!(
        ResponseHead::parse(b"GET / HTTP/1.1\r\n\r\n"),
        Err(FrameError::NotHttp)
    );
    assert_eq!(
        RequestHead::parse(b"HTTP/1.1 200 OK\r\n\r\n"),
        Err(FrameError::NotHttp)
    );
    assert_eq!(
        ResponseHead::parse(b"\x00\x01\n\n"),
        Err(FrameError::NotHttp)
    );
}

#[test]
fn head_lines_read_every_line_as_the_tolerant_parser_does() {
    let head = b"GET / HTTP/1.1\r\nA:  b c \r\n\tfold \r\nno colon\r\nBad Name: x\nE:\r\n\r\nAfter: y\r\nCut: z";
    let lines: Vec<HeadLine<'_>> = head_lines(head).collect();
    let text = |r: &Range<usize>| String::from_utf8_lossy(&head[r.clone()]).into_owned();
    let kinds: Vec<String> = lines
        .iter()
        .map(|l| match &l.kind {
            LineKind::Field { name, value } => format!("{name}={}", text(value)),
            LineKind::Continuation { text: t } => format!("+{}", text(t)),
            LineKind::Empty => "empty".into(),
            LineKind::Other => format!("other:{}", text(&l.content)),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "A=b c",
            "+fold",
            "other:no colon",
            "other:Bad Name: x",
            "E=",
            "empty",
            "After=y",
            "Cut=z"
        ]
    );
    // Lines tile the head after the start line; only the last, cut one is unterminated.
    assert_eq!(lines[0].line.start, 16);
    assert!(lines.windows(2).all(|w| w[0].line.end == w[1].line.start));
    assert_eq!(lines.last().map(|l| l.line.end), Some(head.len()));
    assert_eq!(
        lines.iter().map(|l| l.terminated).collect::<Vec<_>>(),
        [true, true, true, true, true, true, true, false]
    );
    // An empty value sits at the end of its line's content (after the colon's spaces).
    assert!(
        matches!(&lines[4].kind, LineKind::Field { value, .. } if value.start == lines[4].content.end)
    );
    assert_eq!(text(&lines[3].line), "Bad Name: x\n");
    assert_eq!(head_lines(b"GET / HTTP/1.1").count(), 0);
    assert_eq!(head_lines(b"").count(), 0);
}

#[test]
fn request_target_as_the_framer_reads_it() {
    let t = |line: &[u8]| request_target(line).map(|r| line[r].to_vec());
    assert_eq!(t(b"GET /a?b=1 HTTP/1.1"), Some(b"/a?b=1".to_vec()));
    assert_eq!(t(b"GET  /a b  HTTP/1.0\r"), Some(b"/a b".to_vec()));
    assert_eq!(t(b"GET /x?token=abc"), Some(b"/x?token=abc".to_vec()));
    assert_eq!(t(b"HTTP/1.1 200 OK"), None);
    assert_eq!(t(b"\x00GET / HTTP/1.1"), None);
}

#[test]
fn chunked_data_gives_the_decoders_data_ranges() {
    let body = b"5;ext=1\r\nhello\r\n3\nabc\n0\r\nTrailer: t\r\n\r\nNEXT";
    let got = chunked_data(body);
    assert_eq!(got.data, [9..14, 18..21]);
    assert_eq!(got.end, ChunkedEnd::Complete(body.len() - 4));
    // Stored in part: the last chunk's data as far as it was kept.
    let got = chunked_data(b"5\r\nhel");
    assert_eq!(got.data, std::iter::once(3..6).collect::<Vec<_>>());
    assert_eq!(got.end, ChunkedEnd::Cut);
    // Broken after good data: it says from where (a size line must be hex digits).
    let got = chunked_data(b"2\r\nab\r\nzz\r\nsecret");
    assert_eq!(got.data, std::iter::once(3..5).collect::<Vec<_>>());
    assert_eq!(got.end, ChunkedEnd::Malformed(5));
    assert_eq!(chunked_data(b"x").end, ChunkedEnd::Malformed(0));
    // The framer agrees on where the complete body ends.
    let msg = [
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".as_slice(),
        body,
    ]
    .concat();
    let (_, len) = frame_one(Kind::Request, &msg, 1).unwrap();
    assert_eq!(len, msg.len() - 4);
}
