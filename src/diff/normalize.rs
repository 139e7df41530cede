//! A recorded response → its [`Summary`]: status, compared headers, and the body de-chunked,
//! decoded (gzip, x-gzip, deflate as zlib or raw, zstd; capped) and read by its media type —
//! JSON as path templates, text as one `body` path (CRLF → LF, masks), anything else as bytes.
//!
//! Nothing here fails: what cannot be read is said in [`Flags`] and in a `body` entry of kind
//! [`ValueKind::Undecodable`], so a candidate that starts sending broken gzip is a difference.

use std::borrow::Cow;
use std::io::Read;

use flate2::read::{DeflateDecoder, GzDecoder, ZlibDecoder};
use regex::bytes::Regex;
use xxhash_rust::xxh3::xxh3_64;

use super::headers;
use super::ignore::IgnoreSet;
use super::intern::{Interner, NONE, PathId};
use super::json::{self, Walker};
use super::{Entry, Flags, Summary, ValueKind, tagged};
use crate::http::framing::{ResponseHead, dechunk};

/// Default cap on a decoded body (`--diff-max-body`).
pub const DEFAULT_MAX_BODY: usize = 8 << 20;

/// The path of the status code.
pub const STATUS: &str = "status";
/// The path of a non-JSON body.
pub const BODY: &str = "body";

/// How responses are normalized (from `--diff-*` flags).
#[derive(Debug, Clone)]
pub struct Options {
    /// Decoded bodies are compared on this many bytes at most.
    pub max_body: usize,
    /// Paths neither hashed nor reported.
    pub ignore: IgnoreSet,
    /// Arrays whose order is not compared.
    pub unordered: IgnoreSet,
    /// Text bodies: matches replaced before hashing.
    pub masks: Vec<Regex>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            max_body: DEFAULT_MAX_BODY,
            ignore: IgnoreSet::new(),
            unordered: IgnoreSet::new(),
            masks: Vec::new(),
        }
    }
}

/// One response as recorded or received.
#[derive(Debug, Clone, Copy)]
pub struct Response<'a> {
    /// The head, status line to the empty line (more bytes after it are ignored).
    pub head: &'a [u8],
    /// The body as on the wire (chunked, content-encoded).
    pub body: &'a [u8],
    /// False when the body is not all there (capture cap, gap): not comparable.
    pub complete: bool,
    /// The Host the request went to (a Location on it is compared as a path).
    pub request_host: Option<&'a [u8]>,
    /// The endpoint template, for scoped patterns.
    pub endpoint: Option<&'a str>,
}

/// Normalizes responses, keeping its buffers from one to the next.
#[derive(Debug, Default)]
pub struct Normalizer {
    options: Options,
    walker: Walker,
    entries: Vec<(PathId, Entry, usize)>,
}

/// What the body turned out to be, after framing and content coding.
enum Decoded<'a> {
    Bytes(Cow<'a, [u8]>),
    Undecodable,
}

impl Normalizer {
    /// A normalizer with these options.
    pub fn new(options: Options) -> Normalizer {
        Normalizer {
            options,
            ..Normalizer::default()
        }
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// The summary of `response`, its paths interned in `interner`.
    pub fn summarize(&mut self, response: &Response<'_>, interner: &mut Interner) -> Summary {
        self.entries.clear();
        let mut flags = Flags::default();
        let ignore = &self.options.ignore;
        let scope = response.endpoint;
        let keep = |path: &str| !ignore.matches(scope, path);
        let simple = |kind, hash| Entry {
            kind,
            hash,
            order: 0,
            len: 0,
            under: NONE,
        };

        let head = ResponseHead::parse(response.head).ok();
        let status = head.as_ref().map_or(0, |h| h.status);
        if keep(STATUS) {
            self.entries.push((
                interner.intern(STATUS),
                simple(ValueKind::Status, u64::from(status)),
                usize::MAX,
            ));
        }
        let fields = head.as_ref().map(|h| h.headers.as_slice()).unwrap_or(&[]);
        for (path, hash) in headers::normalize(fields, response.request_host) {
            if keep(&path) {
                self.entries.push((
                    interner.intern(&path),
                    simple(ValueKind::Header, hash),
                    usize::MAX,
                ));
            }
        }

        let mut body_hash = 0;
        if !response.complete {
            flags.insert(Flags::INCOMPLETE);
        } else if !response.body.is_empty() {
            let field = |name: &str| head.as_ref().and_then(|h| joined(&h.headers, name));
            let decoded = decode(
                response.body,
                field("transfer-encoding").as_deref(),
                field("content-encoding").as_deref(),
                self.options.max_body,
                &mut flags,
            );
            match decoded {
                Decoded::Undecodable => {
                    flags.insert(Flags::UNDECODABLE);
                    body_hash = tagged(9, xxh3_64(response.body));
                    if keep(BODY) {
                        self.entries.push((
                            interner.intern(BODY),
                            simple(ValueKind::Undecodable, body_hash),
                            usize::MAX,
                        ));
                    }
                }
                Decoded::Bytes(bytes) if !bytes.is_empty() => {
                    let media = field("content-type")
                        .map(|v| String::from_utf8_lossy(&headers::content_type(&v)).into_owned());
                    body_hash = self.body(&bytes, media.as_deref(), scope, &mut flags, interner);
                }
                Decoded::Bytes(_) => {}
            }
        }

        let ids: Vec<PathId> = self.entries.iter().map(|(id, _, _)| *id).collect();
        let mut entries: Vec<(PathId, Entry)> = self
            .entries
            .iter()
            .map(|(id, entry, under)| {
                let under = ids.get(*under).copied().unwrap_or(NONE);
                (*id, Entry { under, ..*entry })
            })
            .collect();
        entries.sort_unstable_by_key(|(id, _)| *id);
        entries.dedup_by_key(|(id, _)| *id);
        Summary {
            flags,
            body_hash,
            entries,
        }
    }

    /// Reads a decoded, non-empty body by its media type; returns its hash.
    fn body(
        &mut self,
        bytes: &[u8],
        media: Option<&str>,
        scope: Option<&str>,
        flags: &mut Flags,
        interner: &mut Interner,
    ) -> u64 {
        let media_type = media.map(|m| m.split(';').next().unwrap_or_default());
        let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
        let is_json = match media_type {
            Some(m) if !m.is_empty() => m.ends_with("/json") || m.ends_with("+json"),
            _ => matches!(first, Some(b'{' | b'[')),
        };
        let is_text = media_type.is_some_and(|m| {
            m.starts_with("text/")
                || m.ends_with("/xml")
                || m.ends_with("+xml")
                || m.ends_with("/javascript")
                || m.ends_with("/x-www-form-urlencoded")
        });
        if is_json {
            let rules = PathRules {
                options: &self.options,
                scope,
            };
            match self.walker.walk(bytes, &rules) {
                Ok(root) => {
                    flags.insert(Flags::JSON);
                    flags.insert(self.walker.flags);
                    let mut position = Vec::new();
                    let mut next = self.entries.len();
                    for (_, t) in self.walker.templates() {
                        if t.kind.is_some() && !t.ignored {
                            position.push(next);
                            next += 1;
                        } else {
                            position.push(usize::MAX);
                        }
                    }
                    for (i, (path, t)) in self.walker.templates().enumerate() {
                        let Some(kind) = t.kind.filter(|_| position[i] != usize::MAX) else {
                            continue;
                        };
                        let hash = if kind == ValueKind::Array {
                            t.hash
                        } else {
                            super::fmix(t.hash ^ t.count)
                        };
                        let under = position
                            .get(t.under as usize)
                            .copied()
                            .unwrap_or(usize::MAX);
                        self.entries.push((
                            interner.intern(path),
                            Entry {
                                kind,
                                hash,
                                order: t.order,
                                len: t.len.min(u64::from(u32::MAX)) as u32,
                                under: NONE,
                            },
                            under,
                        ));
                    }
                    return root;
                }
                Err(json::Invalid) => flags.insert(Flags::INVALID_JSON),
            }
        }
        if is_json || is_text {
            flags.insert(Flags::TEXT);
            let mut text: Vec<u8> = Vec::with_capacity(bytes.len());
            let mut rest = bytes;
            while let Some(p) = memchr::memmem::find(rest, b"\r\n") {
                text.extend_from_slice(&rest[..p]);
                text.push(b'\n');
                rest = &rest[p + 2..];
            }
            text.extend_from_slice(rest);
            for mask in &self.options.masks {
                if let Cow::Owned(replaced) = mask.replace_all(&text, &b"\x00"[..]) {
                    text = replaced;
                }
            }
            let h = tagged(7, xxh3_64(&text));
            if !self.options.ignore.matches(scope, BODY) {
                self.push_simple(interner.intern(BODY), ValueKind::Text, h);
            }
            return h;
        }
        flags.insert(Flags::BINARY);
        let h = tagged(8, xxh3_64(bytes));
        if !self.options.ignore.matches(scope, BODY) {
            self.push_simple(interner.intern(BODY), ValueKind::Bytes, h);
        }
        h
    }

    fn push_simple(&mut self, path: PathId, kind: ValueKind, hash: u64) {
        self.entries.push((
            path,
            Entry {
                kind,
                hash,
                order: 0,
                len: 0,
                under: NONE,
            },
            usize::MAX,
        ));
    }
}

/// The walk's view of the options: ignore and unordered patterns for this endpoint.
struct PathRules<'a> {
    options: &'a Options,
    scope: Option<&'a str>,
}

impl json::Rules for PathRules<'_> {
    fn rule(&self, path: &str) -> (bool, bool) {
        (
            self.options.ignore.matches(self.scope, path),
            !self.options.unordered.is_empty() && self.options.unordered.matches(self.scope, path),
        )
    }
}

/// Repeated fields joined with `,` (codings are lists).
fn joined(headers: &[crate::http::framing::Header<'_>], name: &str) -> Option<Vec<u8>> {
    let mut out: Option<Vec<u8>> = None;
    for h in headers.iter().filter(|h| h.name.eq_ignore_ascii_case(name)) {
        let v = out.get_or_insert_with(Vec::new);
        if !v.is_empty() {
            v.push(b',');
        }
        v.extend_from_slice(h.value);
    }
    out
}

/// De-chunks (when Transfer-Encoding ends in chunked) and undoes the content codings, last first.
fn decode<'a>(
    body: &'a [u8],
    transfer_encoding: Option<&[u8]>,
    content_encoding: Option<&[u8]>,
    max: usize,
    flags: &mut Flags,
) -> Decoded<'a> {
    let codings = |v: Option<&[u8]>| -> Vec<String> {
        v.map(|v| {
            String::from_utf8_lossy(v)
                .split(',')
                .map(|c| c.trim().to_ascii_lowercase())
                .filter(|c| !c.is_empty() && c != "identity")
                .collect()
        })
        .unwrap_or_default()
    };
    let transfer = codings(transfer_encoding);
    let mut data = if transfer.last().is_some_and(|c| c == "chunked") {
        // A chunked body is decoded in full before the content coding is undone: the cap applies
        // to the decoded result, so keep enough compressed bytes (here: all of them, bounded by
        // what was recorded).
        match dechunk(body, usize::MAX) {
            Ok(d) => Cow::Owned(d.data),
            Err(_) => return Decoded::Undecodable,
        }
    } else {
        Cow::Borrowed(body)
    };
    for coding in codings(content_encoding).iter().rev() {
        let read = |reader: &mut dyn Read| -> std::io::Result<(Vec<u8>, bool)> {
            let mut out = Vec::new();
            let cap = max as u64;
            reader.take(cap.saturating_add(1)).read_to_end(&mut out)?;
            let over = out.len() as u64 > cap;
            out.truncate(max);
            Ok((out, over))
        };
        let result = match coding.as_str() {
            "gzip" | "x-gzip" => read(&mut GzDecoder::new(&data[..])),
            "deflate" => read(&mut ZlibDecoder::new(&data[..]))
                .or_else(|_| read(&mut DeflateDecoder::new(&data[..]))),
            "zstd" => zstd::stream::read::Decoder::new(&data[..]).and_then(|mut d| read(&mut d)),
            _ => return Decoded::Undecodable,
        };
        match result {
            Ok((out, over)) => {
                if over {
                    flags.insert(Flags::TRUNCATED);
                }
                data = Cow::Owned(out);
            }
            Err(_) => return Decoded::Undecodable,
        }
    }
    if data.len() > max {
        data.to_mut().truncate(max);
        flags.insert(Flags::TRUNCATED);
    }
    Decoded::Bytes(data)
}

#[cfg(feature = "testing")]
/// Fuzz entry point (`fuzz/fuzz_targets/diff_normalize.rs`): `data` is a stored response, head
/// then body. No panic; the summary is sorted with each path once, the same on a second run, and
/// without a difference from itself; an ignore-everything set leaves no JSON path.
pub fn fuzz_normalize(data: &[u8]) {
    let head_len = ResponseHead::parse(data).map_or(data.len(), |h| h.len);
    let (head, body) = data.split_at(head_len);
    let response = Response {
        head,
        body,
        complete: true,
        request_host: Some(b"example.com"),
        endpoint: Some("GET /x"),
    };
    let mut interner = Interner::new();
    let mut normalizer = Normalizer::new(Options {
        max_body: 1 << 20,
        ..Options::default()
    });
    let first = normalizer.summarize(&response, &mut interner);
    assert!(first.entries.windows(2).all(|w| w[0].0 < w[1].0));
    assert!(
        first
            .entries
            .iter()
            .all(|(_, e)| e.under == NONE || first.get(e.under).is_some())
    );
    let again = normalizer.summarize(&response, &mut interner);
    assert_eq!(first, again);
    let d = super::compare::difference(&first, &again);
    assert!(d.is_some_and(|d| d.is_empty()));
    let mut all = Normalizer::new(Options {
        ignore: IgnoreSet::parse(&["$"]).unwrap_or_default(),
        ..Options::default()
    });
    let none = all.summarize(&response, &mut interner);
    assert!(
        none.entries
            .iter()
            .all(|(id, _)| !interner.path(*id).starts_with('$'))
    );
}
