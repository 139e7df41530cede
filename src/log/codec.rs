//! Record bodies on disk: private serde structs encoded with postcard 1, and their conversion to
//! and from the shared exchange types (which carry no serde derives on purpose).
//!
//! Each kind's body is a flat sequence of postcard fields (`docs/FORMAT.md` lists them). Decoding
//! reads the fields it knows and ignores any bytes after them, so later versions can append fields.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use bytes::Bytes;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::exchange::{
    Counters, ErrorKind, Gap, Message, Meta, Record, ReplayResult, Response, Truncation,
};

/// Record kind numbers (the byte in front of every frame).
pub mod kind {
    /// Who wrote the log.
    pub const META: u8 = 1;
    /// A captured request.
    pub const REQUEST: u8 = 2;
    /// A captured final response.
    pub const RESPONSE: u8 = 3;
    /// A captured 1xx interim response.
    pub const INTERIM: u8 = 4;
    /// A response whose request was not captured.
    pub const ORPHAN: u8 = 5;
    /// Bytes lost to the capture.
    pub const GAP: u8 = 6;
    /// A replayed request's result.
    pub const RESULT: u8 = 7;
    /// Counters written when the log is closed.
    pub const CLOSING: u8 = 8;
    /// A deduplicated body, referenced by later messages.
    pub const BODY_DEF: u8 = 9;
}

/// Bytes encoded with postcard's `bytes` form (varint length, raw bytes) and borrowed on decode.
#[derive(Debug, Clone, Copy)]
pub struct Blob<'a>(pub &'a [u8]);

impl Serialize for Blob<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Blob<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'a [u8]>::deserialize(d).map(Blob)
    }
}

/// A socket address: enum tag 0 = IPv4 (4 address bytes, port), 1 = IPv6 (16 bytes, port,
/// flow info, scope id).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum AddrV1 {
    V4([u8; 4], u16),
    V6([u8; 16], u16, u32, u32),
}

impl From<SocketAddr> for AddrV1 {
    fn from(a: SocketAddr) -> Self {
        match a {
            SocketAddr::V4(v4) => AddrV1::V4(v4.ip().octets(), v4.port()),
            SocketAddr::V6(v6) => {
                AddrV1::V6(v6.ip().octets(), v6.port(), v6.flowinfo(), v6.scope_id())
            }
        }
    }
}

impl From<AddrV1> for SocketAddr {
    fn from(a: AddrV1) -> Self {
        match a {
            AddrV1::V4(ip, port) => SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::from(ip), port)),
            AddrV1::V6(ip, port, flow, scope) => {
                SocketAddr::V6(SocketAddrV6::new(Ipv6Addr::from(ip), port, flow, scope))
            }
        }
    }
}

/// A message (kinds 2–5 start with it). `bytes` holds the stored bytes, except that when
/// `body_ref` is set the body (everything after `head_len`) is the referenced body definition.
#[derive(Debug, Serialize, Deserialize)]
struct MessageV1<'a> {
    conn: u64,
    index: u32,
    client: AddrV1,
    server: AddrV1,
    first_ts_ns: u64,
    /// `last_ts_ns - first_ts_ns`, wrapping, as a zigzag varint.
    last_ts_delta: i64,
    head_len: u32,
    body_len: u64,
    truncation: u8,
    #[serde(borrow)]
    external_id: Option<&'a str>,
    #[serde(borrow)]
    bytes: Blob<'a>,
    body_ref: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ResponseV1<'a> {
    #[serde(borrow)]
    message: MessageV1<'a>,
    status: u16,
    latency_ns: Option<u64>,
    latency_last_ns: Option<u64>,
}

#[derive(Debug, Serialize, Deserialize)]
struct MetaV1 {
    host: String,
    sources: Vec<String>,
    filter: String,
    tool_version: String,
    start_ns: u64,
    redaction_key_id: String,
    command: String,
    notes: Vec<String>,
    run_id: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct GapV1 {
    conn: u64,
    client: AddrV1,
    server: AddrV1,
    from_client: bool,
    ts_ns: u64,
    len: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct ResultV1<'a> {
    conn: u64,
    index: u32,
    target: &'a str,
    method: &'a str,
    path: &'a str,
    prod_status: Option<u16>,
    prod_latency_ns: Option<u64>,
    recorded_ts_ns: u64,
    intended_ns: u64,
    sent_ns: u64,
    first_byte_ns: u64,
    last_byte_ns: u64,
    status: Option<u16>,
    request_bytes: u64,
    response_bytes: u64,
    #[serde(borrow)]
    response: Blob<'a>,
    #[serde(borrow)]
    external_id: Option<&'a str>,
    error: u8,
    shard: u32,
    shards: u32,
    iteration: u32,
    warmup: bool,
    role: u8,
}

#[derive(Debug, Serialize, Deserialize)]
struct ClosingV1 {
    end_ns: u64,
    values: Vec<(String, u64)>,
}

#[derive(Debug, Serialize, Deserialize)]
struct BodyDefV1<'a> {
    id: u64,
    #[serde(borrow)]
    body: Blob<'a>,
}

/// Truncation code on disk: 0 none, then 1–5; unknown codes read as `Incomplete`.
fn truncation_code(t: Option<Truncation>) -> u8 {
    match t {
        None => 0,
        Some(Truncation::MaxBody) => 1,
        Some(Truncation::Gap) => 2,
        Some(Truncation::Memory) => 3,
        Some(Truncation::Snaplen) => 4,
        Some(Truncation::Incomplete) => 5,
    }
}

fn truncation_from(code: u8) -> Option<Truncation> {
    match code {
        0 => None,
        1 => Some(Truncation::MaxBody),
        2 => Some(Truncation::Gap),
        3 => Some(Truncation::Memory),
        4 => Some(Truncation::Snaplen),
        _ => Some(Truncation::Incomplete),
    }
}

/// Error code on disk: 0 none, then 1–7 in `ErrorKind::ALL` order; unknown codes read as `Io`.
fn error_code(e: Option<ErrorKind>) -> u8 {
    match e {
        None => 0,
        Some(k) => ErrorKind::ALL
            .iter()
            .position(|x| *x == k)
            .map_or(7, |p| p as u8 + 1),
    }
}

fn error_from(code: u8) -> Option<ErrorKind> {
    match code {
        0 => None,
        c => Some(
            ErrorKind::ALL
                .get(usize::from(c) - 1)
                .copied()
                .unwrap_or(ErrorKind::Io),
        ),
    }
}

/// A message body that the writer stores once and references afterwards.
pub struct DedupBody {
    /// Id of the body definition the message refers to.
    pub id: u64,
    /// Bytes of `message.bytes` kept inline (the head).
    pub inline_len: usize,
}

fn message_v1<'a>(m: &'a Message, dedup: Option<&DedupBody>) -> MessageV1<'a> {
    let (bytes, body_ref) = match dedup {
        Some(d) => (m.bytes.get(..d.inline_len).unwrap_or(&m.bytes), Some(d.id)),
        None => (&m.bytes[..], None),
    };
    MessageV1 {
        conn: m.conn,
        index: m.index,
        client: m.client.into(),
        server: m.server.into(),
        first_ts_ns: m.first_ts_ns,
        last_ts_delta: m.last_ts_ns.wrapping_sub(m.first_ts_ns) as i64,
        head_len: m.head_len,
        body_len: m.body_len,
        truncation: truncation_code(m.truncation),
        external_id: m.external_id.as_deref(),
        bytes: Blob(bytes),
        body_ref,
    }
}

fn response_v1<'a>(r: &'a Response, dedup: Option<&DedupBody>) -> ResponseV1<'a> {
    ResponseV1 {
        message: message_v1(&r.message, dedup),
        status: r.status,
        latency_ns: r.latency_ns,
        latency_last_ns: r.latency_last_ns,
    }
}

/// Encodes a record's body (without kind and length) into `out`, which is cleared first, and
/// returns the record's kind number. `dedup` applies to message records only.
pub fn encode_record(
    record: &Record,
    dedup: Option<&DedupBody>,
    out: &mut Vec<u8>,
) -> postcard::Result<u8> {
    out.clear();
    let kind = match record {
        Record::Meta(m) => {
            let v = MetaV1 {
                host: m.host.clone(),
                sources: m.sources.clone(),
                filter: m.filter.clone(),
                tool_version: m.tool_version.clone(),
                start_ns: m.start_ns,
                redaction_key_id: m.redaction_key_id.clone(),
                command: m.command.clone(),
                notes: m.notes.clone(),
                run_id: m.run_id,
            };
            postcard::to_io(&v, &mut *out)?;
            kind::META
        }
        Record::Request(m) => {
            postcard::to_io(&message_v1(m, dedup), &mut *out)?;
            kind::REQUEST
        }
        Record::Response(r) => {
            postcard::to_io(&response_v1(r, dedup), &mut *out)?;
            kind::RESPONSE
        }
        Record::Interim(r) => {
            postcard::to_io(&response_v1(r, dedup), &mut *out)?;
            kind::INTERIM
        }
        Record::Orphan(r) => {
            postcard::to_io(&response_v1(r, dedup), &mut *out)?;
            kind::ORPHAN
        }
        Record::Gap(g) => {
            let v = GapV1 {
                conn: g.conn,
                client: g.client.into(),
                server: g.server.into(),
                from_client: g.from_client,
                ts_ns: g.ts_ns,
                len: g.len,
            };
            postcard::to_io(&v, &mut *out)?;
            kind::GAP
        }
        Record::Result(r) => {
            let v = ResultV1 {
                conn: r.conn,
                index: r.index,
                target: &r.target,
                method: &r.method,
                path: &r.path,
                prod_status: r.prod_status,
                prod_latency_ns: r.prod_latency_ns,
                recorded_ts_ns: r.recorded_ts_ns,
                intended_ns: r.intended_ns,
                sent_ns: r.sent_ns,
                first_byte_ns: r.first_byte_ns,
                last_byte_ns: r.last_byte_ns,
                status: r.status,
                request_bytes: r.request_bytes,
                response_bytes: r.response_bytes,
                response: Blob(&r.response),
                external_id: r.external_id.as_deref(),
                error: error_code(r.error),
                shard: r.shard,
                shards: r.shards,
                iteration: r.iteration,
                warmup: r.warmup,
                role: r.role,
            };
            postcard::to_io(&v, &mut *out)?;
            kind::RESULT
        }
        Record::Closing(c) => {
            let v = ClosingV1 {
                end_ns: c.end_ns,
                values: c.values.clone(),
            };
            postcard::to_io(&v, &mut *out)?;
            kind::CLOSING
        }
    };
    Ok(kind)
}

/// Encodes a body definition's body into `out` (cleared first).
pub fn encode_body_def(id: u64, body: &[u8], out: &mut Vec<u8>) -> postcard::Result<()> {
    out.clear();
    postcard::to_io(
        &BodyDefV1 {
            id,
            body: Blob(body),
        },
        &mut *out,
    )?;
    Ok(())
}

/// A decoded frame. Short-lived (one per frame), so its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Decoded<'a> {
    /// A record, complete unless it refers to a body.
    Record(Record, Option<u64>),
    /// A body definition.
    BodyDef(u64, &'a [u8]),
    /// A kind this version does not know: skipped.
    Unknown,
}

/// Looks up deduplicated bodies while decoding.
pub trait BodySource {
    /// The body defined under `id`, if it is in the window.
    fn body(&self, id: u64) -> Option<&Bytes>;
}

fn message_from(v: MessageV1<'_>, bodies: &dyn BodySource) -> (Message, Option<u64>) {
    let mut truncation = truncation_from(v.truncation);
    let mut missing = None;
    let bytes = match v.body_ref {
        None => Bytes::copy_from_slice(v.bytes.0),
        Some(id) => match bodies.body(id) {
            Some(body) => {
                let mut all = Vec::with_capacity(v.bytes.0.len() + body.len());
                all.extend_from_slice(v.bytes.0);
                all.extend_from_slice(body);
                Bytes::from(all)
            }
            None => {
                // The definition was in a skipped block: the body is missing, like after a gap.
                truncation = Some(Truncation::Gap);
                missing = Some(id);
                Bytes::copy_from_slice(v.bytes.0)
            }
        },
    };
    let message = Message {
        conn: v.conn,
        index: v.index,
        client: v.client.into(),
        server: v.server.into(),
        first_ts_ns: v.first_ts_ns,
        last_ts_ns: v.first_ts_ns.wrapping_add(v.last_ts_delta as u64),
        bytes,
        head_len: v.head_len,
        body_len: v.body_len,
        truncation,
        external_id: v.external_id.map(str::to_owned),
    };
    (message, missing)
}

fn response_from(v: ResponseV1<'_>, bodies: &dyn BodySource) -> (Response, Option<u64>) {
    let (message, missing) = message_from(v.message, bodies);
    (
        Response {
            message,
            status: v.status,
            latency_ns: v.latency_ns,
            latency_last_ns: v.latency_last_ns,
        },
        missing,
    )
}

/// Decodes one frame body of kind `kind`, ignoring bytes after the known fields. The `Option<u64>`
/// of a record is the id of a referenced body that was not in the window (the message then lacks
/// its body and is marked `Truncation::Gap`). Never panics.
pub fn decode_frame<'a>(
    kind: u8,
    body: &'a [u8],
    bodies: &dyn BodySource,
) -> postcard::Result<Decoded<'a>> {
    let record = match kind {
        kind::META => {
            let (v, _): (MetaV1, _) = postcard::take_from_bytes(body)?;
            Record::Meta(Meta {
                host: v.host,
                sources: v.sources,
                filter: v.filter,
                tool_version: v.tool_version,
                start_ns: v.start_ns,
                redaction_key_id: v.redaction_key_id,
                command: v.command,
                notes: v.notes,
                run_id: v.run_id,
            })
        }
        kind::REQUEST => {
            let (v, _): (MessageV1, _) = postcard::take_from_bytes(body)?;
            let (m, missing) = message_from(v, bodies);
            return Ok(Decoded::Record(Record::Request(m), missing));
        }
        kind::RESPONSE | kind::INTERIM | kind::ORPHAN => {
            let (v, _): (ResponseV1, _) = postcard::take_from_bytes(body)?;
            let (r, missing) = response_from(v, bodies);
            let record = match kind {
                kind::RESPONSE => Record::Response(r),
                kind::INTERIM => Record::Interim(r),
                _ => Record::Orphan(r),
            };
            return Ok(Decoded::Record(record, missing));
        }
        kind::GAP => {
            let (v, _): (GapV1, _) = postcard::take_from_bytes(body)?;
            Record::Gap(Gap {
                conn: v.conn,
                client: v.client.into(),
                server: v.server.into(),
                from_client: v.from_client,
                ts_ns: v.ts_ns,
                len: v.len,
            })
        }
        kind::RESULT => {
            let (v, _): (ResultV1, _) = postcard::take_from_bytes(body)?;
            Record::Result(ReplayResult {
                conn: v.conn,
                index: v.index,
                target: v.target.to_owned(),
                method: v.method.to_owned(),
                path: v.path.to_owned(),
                prod_status: v.prod_status,
                prod_latency_ns: v.prod_latency_ns,
                recorded_ts_ns: v.recorded_ts_ns,
                intended_ns: v.intended_ns,
                sent_ns: v.sent_ns,
                first_byte_ns: v.first_byte_ns,
                last_byte_ns: v.last_byte_ns,
                status: v.status,
                request_bytes: v.request_bytes,
                response_bytes: v.response_bytes,
                response: Bytes::copy_from_slice(v.response.0),
                external_id: v.external_id.map(str::to_owned),
                error: error_from(v.error),
                shard: v.shard,
                shards: v.shards,
                iteration: v.iteration,
                warmup: v.warmup,
                role: v.role,
            })
        }
        kind::CLOSING => {
            let (v, _): (ClosingV1, _) = postcard::take_from_bytes(body)?;
            Record::Closing(Counters {
                end_ns: v.end_ns,
                values: v.values,
            })
        }
        kind::BODY_DEF => {
            let (v, _): (BodyDefV1, _) = postcard::take_from_bytes(body)?;
            return Ok(Decoded::BodyDef(v.id, v.body.0));
        }
        _ => return Ok(Decoded::Unknown),
    };
    Ok(Decoded::Record(record, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    struct NoBodies;
    impl BodySource for NoBodies {
        fn body(&self, _: u64) -> Option<&Bytes> {
            None
        }
    }

    fn request() -> Message {
        Message {
            conn: 3,
            index: 1,
            client: "10.0.0.1:40000".parse().unwrap(),
            server: "10.0.0.2:80".parse().unwrap(),
            first_ts_ns: 1000,
            last_ts_ns: 1500,
            bytes: Bytes::from_static(b"GET / HTTP/1.1\r\n\r\n"),
            head_len: 18,
            body_len: 0,
            truncation: None,
            external_id: None,
        }
    }

    #[test]
    fn request_body_bytes_are_pinned() {
        let mut out = Vec::new();
        let kind = encode_record(&Record::Request(request()), None, &mut out).unwrap();
        assert_eq!(kind, kind::REQUEST);
        let mut expected = vec![
            3, // conn
            1, // index
            0, 10, 0, 0, 1, 0xC0, 0xB8, 0x02, // client: V4, 10.0.0.1, port 40000 varint
            0, 10, 0, 0, 2, 80, // server
            0xE8, 0x07, // first_ts 1000
            0xE8, 0x07, // last delta 500 zigzag = 1000
            18,   // head_len
            0,    // body_len
            0,    // truncation
            0,    // external_id None
            18,   // bytes length
        ];
        expected.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        expected.push(0); // body_ref None
        assert_eq!(out, expected);
    }

    #[test]
    fn trailing_bytes_are_ignored_and_unknown_codes_degrade() {
        let mut out = Vec::new();
        let mut m = request();
        m.truncation = Some(Truncation::Snaplen);
        encode_record(&Record::Request(m.clone()), None, &mut out).unwrap();
        out.extend_from_slice(&[1, 2, 3, 4]);
        match decode_frame(kind::REQUEST, &out, &NoBodies).unwrap() {
            Decoded::Record(Record::Request(got), None) => assert_eq!(got, m),
            _ => panic!("not a request"),
        }
        assert_eq!(truncation_from(200), Some(Truncation::Incomplete));
        assert_eq!(error_from(200), Some(ErrorKind::Io));
        for k in ErrorKind::ALL {
            assert_eq!(error_from(error_code(Some(k))), Some(k));
        }
        assert!(matches!(
            decode_frame(77, &out, &NoBodies),
            Ok(Decoded::Unknown)
        ));
        assert!(decode_frame(kind::REQUEST, &out[..10], &NoBodies).is_err());
    }

    #[test]
    fn missing_body_definition_marks_a_gap() {
        let mut m = request();
        m.bytes = Bytes::from(vec![b'x'; 600]);
        m.head_len = 10;
        m.body_len = 590;
        let mut out = Vec::new();
        let dedup = DedupBody {
            id: 42,
            inline_len: 10,
        };
        encode_record(&Record::Request(m.clone()), Some(&dedup), &mut out).unwrap();
        match decode_frame(kind::REQUEST, &out, &NoBodies).unwrap() {
            Decoded::Record(Record::Request(got), Some(42)) => {
                assert_eq!(got.bytes.len(), 10);
                assert_eq!(got.body_len, 590);
                assert_eq!(got.truncation, Some(Truncation::Gap));
            }
            _ => panic!("expected a request with a missing body"),
        }
    }
}
