//! Property tests of the extractor against a model: random sequences of valid exchanges
//! (Content-Length, chunked with extensions and trailers, HEAD/204/304 carrying Content-Length,
//! 1xx interim responses, a close-delimited last response), encoded to wire bytes, fed whole and
//! split at random points (and one byte at a time): the records must be exactly the model's
//! messages, byte for byte, and the same for every split.

mod http_support;

use proptest::prelude::*;
use reel::exchange::Record;
use reel::http::drive::{self, Event};
use reel::http::{ExtractConfig, Extractor};
use reel::tcp::{CloseReason, Dir};

#[derive(Debug, Clone)]
enum ReqBody {
    None,
    Length(Vec<u8>),
    Chunked(Vec<Vec<u8>>, bool),
}

#[derive(Debug, Clone)]
enum RespBody {
    Length(Vec<u8>),
    Chunked(Vec<Vec<u8>>, bool),
    /// HEAD, 204 or 304: a Content-Length field and no body.
    Bodiless(u32),
    /// No length: the body runs until the server closes (only the last exchange).
    UntilClose(Vec<u8>),
}

#[derive(Debug, Clone)]
struct Exchange {
    method: &'static str,
    target: String,
    req_body: ReqBody,
    interims: Vec<(u16, &'static str)>,
    status: u16,
    resp_body: RespBody,
}

fn chunked(chunks: &[Vec<u8>], fancy: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, c) in chunks.iter().filter(|c| !c.is_empty()).enumerate() {
        if fancy && i % 2 == 0 {
            out.extend_from_slice(format!("{:X};name=v{i}\r\n", c.len()).as_bytes());
        } else {
            out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        }
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    if fancy {
        out.extend_from_slice(b"0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n");
    } else {
        out.extend_from_slice(b"0\r\n\r\n");
    }
    out
}

impl Exchange {
    /// (head, body) of the request on the wire.
    fn request(&self) -> (Vec<u8>, Vec<u8>) {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: shop.test\r\nUser-Agent: prop/1\r\n",
            self.method, self.target
        );
        let body = match &self.req_body {
            ReqBody::None => Vec::new(),
            ReqBody::Length(b) => {
                head.push_str(&format!("Content-Length: {}\r\n", b.len()));
                b.clone()
            }
            ReqBody::Chunked(chunks, fancy) => {
                head.push_str("Transfer-Encoding: chunked\r\n");
                chunked(chunks, *fancy)
            }
        };
        head.push_str("\r\n");
        (head.into_bytes(), body)
    }

    /// Interim heads, then the final response's (head, body).
    fn responses(&self) -> (Vec<Vec<u8>>, Vec<u8>, Vec<u8>) {
        let interims = self
            .interims
            .iter()
            .map(|(code, reason)| {
                let extra = if *code == 103 {
                    "Link: </app.css>; rel=preload\r\n"
                } else {
                    ""
                };
                format!("HTTP/1.1 {code} {reason}\r\n{extra}\r\n").into_bytes()
            })
            .collect();
        let version = if matches!(self.resp_body, RespBody::UntilClose(_)) {
            "HTTP/1.0"
        } else {
            "HTTP/1.1"
        };
        let mut head = format!("{version} {} Whatever\r\nServer: model\r\n", self.status);
        let body = match &self.resp_body {
            RespBody::Length(b) => {
                head.push_str(&format!("Content-Length: {}\r\n", b.len()));
                b.clone()
            }
            RespBody::Chunked(chunks, fancy) => {
                head.push_str("Transfer-Encoding: gzip, chunked\r\n");
                chunked(chunks, *fancy)
            }
            RespBody::Bodiless(n) => {
                head.push_str(&format!("Content-Length: {n}\r\n"));
                Vec::new()
            }
            RespBody::UntilClose(b) => b.clone(),
        };
        head.push_str("\r\n");
        (interims, head.into_bytes(), body)
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..max)
}

fn chunks() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 1..40), 0..4)
}

fn exchange(last: bool) -> impl Strategy<Value = Exchange> {
    let method = prop::sample::select(vec!["GET", "HEAD", "POST", "PUT", "DELETE"]);
    let target = "/[a-z0-9]{0,8}(\\?[a-z]=[0-9]{1,3})?";
    let interims = prop::collection::vec(
        prop::sample::select(vec![
            (100, "Continue"),
            (100, "Weiter, bitte"),
            (102, "Processing"),
            (103, "Early Hints"),
        ]),
        0..3,
    );
    let status = prop::sample::select(vec![200u16, 201, 204, 304, 404, 500]);
    let req_body = prop_oneof![
        Just(ReqBody::None),
        bytes(60).prop_map(ReqBody::Length),
        (chunks(), any::<bool>()).prop_map(|(c, f)| ReqBody::Chunked(c, f)),
    ];
    let resp_body = prop_oneof![
        bytes(200).prop_map(RespBody::Length),
        (chunks(), any::<bool>()).prop_map(|(c, f)| RespBody::Chunked(c, f)),
        bytes(80).prop_map(RespBody::UntilClose),
    ];
    (
        method,
        target,
        req_body,
        interims,
        status,
        resp_body,
        0u32..5000,
    )
        .prop_map(
            move |(method, target, req_body, interims, status, resp_body, cl)| {
                let req_body = if matches!(method, "GET" | "HEAD" | "DELETE") {
                    ReqBody::None
                } else {
                    req_body
                };
                let resp_body = if method == "HEAD" || status == 204 || status == 304 {
                    RespBody::Bodiless(cl)
                } else {
                    match resp_body {
                        RespBody::UntilClose(b) if !last => RespBody::Length(b),
                        other => other,
                    }
                };
                Exchange {
                    method,
                    target,
                    req_body,
                    interims,
                    status,
                    resp_body,
                }
            },
        )
}

fn exchanges() -> impl Strategy<Value = Vec<Exchange>> {
    (prop::collection::vec(exchange(false), 0..5), exchange(true)).prop_map(|(mut v, last)| {
        v.push(last);
        v
    })
}

/// What the model says the records are: (kind, index, status or 0, wire bytes, head length).
fn expected(
    exchanges: &[Exchange],
    pipelined: bool,
) -> Vec<(&'static str, u32, u16, Vec<u8>, usize)> {
    let requests: Vec<_> = exchanges
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (head, body) = x.request();
            (
                "req",
                i as u32,
                0,
                [head.clone(), body].concat(),
                head.len(),
            )
        })
        .collect();
    let mut responses = Vec::new();
    for (i, x) in exchanges.iter().enumerate() {
        let (interims, head, body) = x.responses();
        let mut out = Vec::new();
        for (n, h) in interims.into_iter().enumerate() {
            out.push(("1xx", i as u32, x.interims[n].0, h.clone(), h.len()));
        }
        out.push((
            "resp",
            i as u32,
            x.status,
            [head.clone(), body].concat(),
            head.len(),
        ));
        responses.push(out);
    }
    if pipelined {
        requests
            .into_iter()
            .chain(responses.into_iter().flatten())
            .collect()
    } else {
        requests
            .into_iter()
            .zip(responses)
            .flat_map(|(r, rs)| std::iter::once(r).chain(rs))
            .collect()
    }
}

fn observed(records: &[Record]) -> Vec<(&'static str, u32, u16, Vec<u8>, usize)> {
    records
        .iter()
        .map(|r| match r {
            Record::Request(m) => ("req", m.index, 0, m.bytes.to_vec(), m.head_len as usize),
            Record::Interim(r) => (
                "1xx",
                r.message.index,
                r.status,
                r.message.bytes.to_vec(),
                r.message.head_len as usize,
            ),
            Record::Response(r) => (
                "resp",
                r.message.index,
                r.status,
                r.message.bytes.to_vec(),
                r.message.head_len as usize,
            ),
            other => ("other", 0, 0, format!("{other:?}").into_bytes(), 0),
        })
        .collect()
}

/// The two streams as deliveries: (direction, ts, bytes) with one delivery per direction per
/// exchange (non-pipelined) or one per direction (pipelined).
fn deliveries(exchanges: &[Exchange], pipelined: bool) -> Vec<(Dir, u64, Vec<u8>)> {
    let mut out = Vec::new();
    let req = |x: &Exchange| {
        let (h, b) = x.request();
        [h, b].concat()
    };
    let resp = |x: &Exchange| {
        let (interims, h, b) = x.responses();
        [interims.concat(), h, b].concat()
    };
    if pipelined {
        out.push((
            Dir::FromInitiator,
            1_000,
            exchanges.iter().flat_map(req).collect(),
        ));
        out.push((
            Dir::FromResponder,
            2_000,
            exchanges.iter().flat_map(resp).collect(),
        ));
    } else {
        for (i, x) in exchanges.iter().enumerate() {
            let t = 1_000 * (2 * i as u64 + 1);
            out.push((Dir::FromInitiator, t, req(x)));
            out.push((Dir::FromResponder, t + 1_000, resp(x)));
        }
    }
    out
}

/// Splits each delivery at the given cut points (fractions), keeping its timestamp.
fn split(deliveries: &[(Dir, u64, Vec<u8>)], cuts: &[u16]) -> Vec<(Dir, u64, Vec<u8>)> {
    let mut out = Vec::new();
    let mut k = 0;
    for (dir, ts, bytes) in deliveries {
        let mut points: Vec<usize> = (0..3)
            .map(|_| {
                k += 1;
                usize::from(cuts[k % cuts.len()]) * bytes.len() / 1000
            })
            .collect();
        points.push(0);
        points.push(bytes.len());
        points.sort_unstable();
        points.dedup();
        for w in points.windows(2) {
            out.push((*dir, *ts, bytes[w[0]..w[1]].to_vec()));
        }
    }
    out
}

fn one_byte_at_a_time(deliveries: &[(Dir, u64, Vec<u8>)]) -> Vec<(Dir, u64, Vec<u8>)> {
    deliveries
        .iter()
        .flat_map(|(dir, ts, bytes)| bytes.iter().map(move |b| (*dir, *ts, vec![*b])))
        .collect()
}

fn run(deliveries: &[(Dir, u64, Vec<u8>)], close_delimited: bool) -> Vec<Record> {
    let mut events: Vec<Event<'_>> = deliveries
        .iter()
        .map(|(dir, ts, bytes)| Event::Data {
            dir: *dir,
            ts: *ts,
            bytes,
        })
        .collect();
    let end = deliveries.last().map_or(0, |d| d.1) + 1_000;
    if close_delimited {
        events.push(Event::Fin {
            dir: Dir::FromResponder,
            ts: end,
        });
    }
    events.push(Event::Close {
        ts: end,
        reason: CloseReason::Fin,
    });
    let info = drive::conn_info(9, "192.0.2.1:50000", "192.0.2.2:8080", true);
    let mut ex = Extractor::new(ExtractConfig::default());
    let outcome = drive::run(&mut ex, &info, events);
    if let Err(problem) = drive::check_records(&outcome.records) {
        panic!("invariant broken: {problem}");
    }
    assert_eq!(ex.stats().unanswered, 0);
    assert_eq!(ex.stats().resync_skipped_bytes, 0);
    outcome.records
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn records_match_the_model_for_any_split(
        xs in exchanges(),
        pipelined in any::<bool>(),
        cuts in prop::collection::vec(0u16..1000, 1..16),
    ) {
        let close_delimited = matches!(xs.last().map(|x| &x.resp_body), Some(RespBody::UntilClose(_)));
        let whole = deliveries(&xs, pipelined);
        let records = run(&whole, close_delimited);
        prop_assert_eq!(observed(&records), expected(&xs, pipelined));
        if !pipelined {
            // Latency: request first byte to response first byte, 1 µs apart in this script.
            for r in &records {
                if let Record::Response(r) | Record::Interim(r) = r {
                    prop_assert_eq!(r.latency_ns, Some(1_000));
                    prop_assert_eq!(r.latency_last_ns, Some(1_000));
                }
            }
        }
        let pieces = split(&whole, &cuts);
        prop_assert_eq!(&run(&pieces, close_delimited), &records);
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_records(xs in exchanges(), pipelined in any::<bool>()) {
        let close_delimited = matches!(xs.last().map(|x| &x.resp_body), Some(RespBody::UntilClose(_)));
        let whole = deliveries(&xs, pipelined);
        let records = run(&whole, close_delimited);
        prop_assert_eq!(&run(&one_byte_at_a_time(&whole), close_delimited), &records);
    }
}
