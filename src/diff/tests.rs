//! Normalization and comparison, rule by rule, and the properties that must hold for any JSON:
//! shuffling object keys or re-chunking a body never changes a summary.

use std::collections::BTreeMap;
use std::io::Write;

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::compare::{DiffKind, difference};
use super::intern::{Interner, NONE};
use super::normalize::{Normalizer, Options, Response};
use super::{Flags, IgnoreSet, Summary, ValueKind};

const JSON_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n";

fn head(status: u16, fields: &[(&str, &str)]) -> String {
    let mut h = format!("HTTP/1.1 {status} X\r\n");
    for (n, v) in fields {
        h.push_str(&format!("{n}: {v}\r\n"));
    }
    h.push_str("\r\n");
    h
}

struct Fixture {
    normalizer: Normalizer,
    interner: Interner,
}

impl Fixture {
    fn new() -> Fixture {
        Fixture::with(Options::default())
    }

    fn with(options: Options) -> Fixture {
        Fixture {
            normalizer: Normalizer::new(options),
            interner: Interner::new(),
        }
    }

    fn summary(&mut self, head: &str, body: &[u8]) -> Summary {
        self.normalizer.summarize(
            &Response {
                head: head.as_bytes(),
                body,
                complete: true,
                request_host: None,
                endpoint: None,
            },
            &mut self.interner,
        )
    }

    fn json(&mut self, body: &str) -> Summary {
        self.summary(JSON_HEAD, body.as_bytes())
    }

    /// The differing paths of two JSON bodies, as strings.
    fn diff(&mut self, a: &str, b: &str) -> Vec<(String, DiffKind)> {
        let (a, b) = (self.json(a), self.json(b));
        self.paths(&a, &b)
    }

    fn paths(&self, a: &Summary, b: &Summary) -> Vec<(String, DiffKind)> {
        let d = difference(a, b).unwrap_or_default();
        let mut out: Vec<_> = d
            .paths
            .iter()
            .map(|p| (self.interner.path(p.path).to_owned(), p.kind))
            .collect();
        out.sort();
        out
    }

    /// A summary with its ids replaced by path strings (comparable across interning orders).
    fn named(&self, s: &Summary) -> (Flags, u64, BTreeMap<String, String>) {
        let entries = s
            .entries
            .iter()
            .map(|(id, e)| {
                let under = if e.under == NONE {
                    "-".to_owned()
                } else {
                    self.interner.path(e.under).to_owned()
                };
                (
                    self.interner.path(*id).to_owned(),
                    format!("{:?} {} {} {} {}", e.kind, e.hash, e.order, e.len, under),
                )
            })
            .collect();
        (s.flags, s.body_hash, entries)
    }
}

fn diff(a: &str, b: &str) -> Vec<(String, DiffKind)> {
    Fixture::new().diff(a, b)
}

fn p(path: &str, kind: DiffKind) -> (String, DiffKind) {
    (path.to_owned(), kind)
}

#[test]
fn object_key_order_never_matters() {
    assert_eq!(
        diff(
            r#"{"a":1,"b":{"c":"x","d":[1,{"e":null,"f":true}]}}"#,
            r#"{"b":{"d":[1,{"f":true,"e":null}],"c":"x"},"a":1}"#
        ),
        []
    );
}

#[test]
fn array_order_is_one_order_difference_at_the_array() {
    assert_eq!(
        diff(r#"{"x":[1,2,3]}"#, r#"{"x":[3,1,2]}"#),
        [p("$.x", DiffKind::Order)]
    );
    assert_eq!(
        diff(
            r#"{"items":[{"id":1,"p":5},{"id":2,"p":7}]}"#,
            r#"{"items":[{"p":7,"id":2},{"id":1,"p":5}]}"#
        ),
        [p("$.items", DiffKind::Order)]
    );
}

#[test]
fn unordered_arrays_compare_as_multisets() {
    let options = Options {
        unordered: IgnoreSet::parse(&["$.tags", "$.items"]).unwrap_or_default(),
        ..Options::default()
    };
    let mut f = Fixture::with(options);
    assert_eq!(f.diff(r#"{"tags":["a","b"]}"#, r#"{"tags":["b","a"]}"#), []);
    assert_eq!(
        f.diff(
            r#"{"items":[{"id":1,"p":5},{"id":2,"p":7}]}"#,
            r#"{"items":[{"id":2,"p":7},{"id":1,"p":5}]}"#
        ),
        []
    );
    assert_eq!(
        f.diff(r#"{"tags":["a","b"]}"#, r#"{"tags":["b","c"]}"#),
        [p("$.tags[]", DiffKind::Value)]
    );
    // Other arrays keep their order.
    assert_eq!(
        f.diff(r#"{"x":[1,2]}"#, r#"{"x":[2,1]}"#),
        [p("$.x", DiffKind::Order)]
    );
}

#[test]
fn a_changed_element_field_is_reported_at_its_template_not_at_the_array() {
    assert_eq!(
        diff(
            r#"{"items":[{"id":1,"p":5},{"id":2,"p":7}]}"#,
            r#"{"items":[{"id":1,"p":5},{"id":2,"p":8}]}"#
        ),
        [p("$.items[].p", DiffKind::Value)]
    );
    assert_eq!(
        diff(r#"{"x":[1,2]}"#, r#"{"x":[1,2,3]}"#),
        [p("$.x", DiffKind::Length)]
    );
}

#[test]
fn types_are_told_apart_and_null_is_not_missing() {
    assert_eq!(
        diff(r#"{"a":1}"#, r#"{"a":"1"}"#),
        [p("$.a", DiffKind::Type)]
    );
    assert_eq!(
        diff(r#"{"a":null}"#, r#"{}"#),
        [p("$.a", DiffKind::Missing)]
    );
    assert_eq!(diff(r#"{}"#, r#"{"a":null}"#), [p("$.a", DiffKind::Added)]);
    assert_eq!(
        diff(r#"{"a":true}"#, r#"{"a":false}"#),
        [p("$.a", DiffKind::Value)]
    );
    assert_eq!(
        diff(r#"{"a":0}"#, r#"{"a":false}"#),
        [p("$.a", DiffKind::Type)]
    );
    // A missing object is one difference, not one per field inside it.
    assert_eq!(
        diff(r#"{"m":{"a":1,"b":[1]},"k":1}"#, r#"{"k":1}"#),
        [p("$.m", DiffKind::Missing)]
    );
    assert_eq!(
        diff(r#"{"m":{"a":1}}"#, r#"{"m":"none"}"#),
        [p("$.m", DiffKind::Type)]
    );
}

#[test]
fn numbers_compare_as_exact_decimals() {
    assert_eq!(
        diff(r#"{"a":1,"b":-0,"c":2.50}"#, r#"{"a":1.0,"b":0,"c":25e-1}"#),
        []
    );
    assert_eq!(
        diff(
            r#"{"a":12345678901234567891}"#,
            r#"{"a":12345678901234567890}"#
        ),
        [p("$.a", DiffKind::Value)]
    );
    assert_eq!(diff(r#"{"a":0.1}"#, r#"{"a":0.10000001}"#).len(), 1);
}

#[test]
fn strings_compare_unescaped() {
    assert_eq!(
        diff(
            r#"{"a":"\u00e9","b":"\ud83d\ude00","c":"a\/b\n","\u0064":1}"#,
            "{\"a\":\"é\",\"b\":\"😀\",\"c\":\"a/b\\n\",\"d\":1}"
        ),
        []
    );
    assert_eq!(
        diff(r#"{"a":"x"}"#, r#"{"a":"X"}"#),
        [p("$.a", DiffKind::Value)]
    );
}

#[test]
fn odd_keys_get_quoted_paths() {
    let mut f = Fixture::new();
    let s = f.json(r#"{"a b":{"c.d":1},"ok_key-1":2}"#);
    let names: Vec<String> = f.named(&s).2.into_keys().collect();
    assert!(
        names.contains(&r#"$["a b"]["c.d"]"#.to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"$.ok_key-1".to_owned()), "{names:?}");
}

#[test]
fn duplicate_keys_are_flagged() {
    let mut f = Fixture::new();
    let s = f.json(r#"{"a":1,"a":2}"#);
    assert!(s.flags.contains(Flags::DUPLICATE_KEYS | Flags::JSON));
    // The element hash keeps the last value.
    assert_eq!(
        f.diff(r#"{"x":[{"a":1,"a":2}]}"#, r#"{"x":[{"a":2}]}"#),
        [p("$.x[].a", DiffKind::Value)]
    );
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

fn chunked(data: &[u8], sizes: &[usize]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut k = 0;
    while !rest.is_empty() {
        let n = sizes
            .get(k % sizes.len().max(1))
            .copied()
            .unwrap_or(7)
            .clamp(1, rest.len());
        k += 1;
        out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
        out.extend_from_slice(&rest[..n]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[n..];
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

const BODY: &str =
    r#"{"order":{"id":42,"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}]},"total":"9.50"}"#;

#[test]
fn gzip_deflate_zstd_and_chunked_bodies_summarize_as_the_plain_body() {
    let mut f = Fixture::new();
    let plain = f.summary(
        &head(200, &[("Content-Type", "application/json")]),
        BODY.as_bytes(),
    );
    assert!(plain.flags.contains(Flags::JSON));
    let zstd_body = zstd::encode_all(BODY.as_bytes(), 3).unwrap_or_default();
    let cases: Vec<(&str, Vec<u8>, bool)> = vec![
        ("gzip", gzip(BODY.as_bytes()), false),
        ("x-gzip", gzip(BODY.as_bytes()), false),
        ("deflate", zlib(BODY.as_bytes()), false),
        ("deflate", raw_deflate(BODY.as_bytes()), false),
        ("zstd", zstd_body, false),
        ("gzip", chunked(&gzip(BODY.as_bytes()), &[3, 10]), true),
        ("identity", chunked(BODY.as_bytes(), &[1, 5]), true),
    ];
    for (coding, body, is_chunked) in cases {
        let mut fields = vec![
            ("Content-Type", "application/json"),
            ("Content-Encoding", coding),
        ];
        if is_chunked {
            fields.push(("Transfer-Encoding", "chunked"));
        }
        let s = f.summary(&head(200, &fields), &body);
        let d = difference(&plain, &s).unwrap_or_default();
        let names: Vec<&str> = d.paths.iter().map(|p| f.interner.path(p.path)).collect();
        // Content-Encoding is a header like any other: the only difference allowed.
        assert!(
            names.iter().all(|n| *n == "header.content-encoding"),
            "{coding} chunked={is_chunked}: {names:?}"
        );
        assert_eq!(s.body_hash, plain.body_hash, "{coding}");
    }
}

#[test]
fn bodies_that_cannot_be_decoded_are_one_undecodable_path() {
    let mut f = Fixture::new();
    for (fields, body) in [
        (vec![("Content-Encoding", "gzip")], b"not gzip".to_vec()),
        (vec![("Content-Encoding", "br")], b"\x0b\x02\x80".to_vec()),
        (
            vec![("Transfer-Encoding", "chunked")],
            b"zz\r\nabc".to_vec(),
        ),
        (vec![("Transfer-Encoding", "chunked")], b"5\r\nab".to_vec()),
        (
            vec![("Content-Encoding", "gzip")],
            gzip(BODY.as_bytes())[..20].to_vec(),
        ),
    ] {
        let s = f.summary(&head(200, &fields), &body);
        assert!(s.flags.contains(Flags::UNDECODABLE), "{fields:?}");
        let id = f.interner.lookup("body").unwrap_or(NONE);
        assert_eq!(s.get(id).map(|e| e.kind), Some(ValueKind::Undecodable));
    }
}

#[test]
fn decoded_bodies_are_capped() {
    let big = format!("[{}1]", "1,".repeat(50_000));
    let mut f = Fixture::with(Options {
        max_body: 1000,
        ..Options::default()
    });
    for (coding, body) in [
        ("gzip", gzip(big.as_bytes())),
        ("identity", big.clone().into_bytes()),
    ] {
        let s = f.summary(
            &head(
                200,
                &[
                    ("Content-Type", "application/json"),
                    ("Content-Encoding", coding),
                ],
            ),
            &body,
        );
        assert!(s.flags.contains(Flags::TRUNCATED), "{coding}");
        // Cut JSON is not JSON: compared as text of its first bytes.
        assert!(
            s.flags.contains(Flags::INVALID_JSON | Flags::TEXT),
            "{coding}"
        );
    }
}

#[test]
fn an_incomplete_body_is_not_comparable() {
    let mut f = Fixture::new();
    let full = f.json(BODY);
    let cut = f.normalizer.summarize(
        &Response {
            head: JSON_HEAD.as_bytes(),
            body: &BODY.as_bytes()[..10],
            complete: false,
            request_host: None,
            endpoint: None,
        },
        &mut f.interner,
    );
    assert!(cut.flags.contains(Flags::INCOMPLETE));
    assert_eq!(difference(&cut, &full), None);
    assert_eq!(difference(&full, &cut), None);
}

#[test]
fn text_bodies_ignore_line_endings_and_masked_parts() {
    let options = Options {
        masks: vec![
            regex::bytes::Regex::new(r"\d{4}-\d\d-\d\dT[0-9:.]+Z")
                .unwrap_or_else(|e| panic!("{e}")),
        ],
        ..Options::default()
    };
    let mut f = Fixture::with(options);
    let h = head(200, &[("Content-Type", "text/plain; charset=utf-8")]);
    let a = f.summary(&h, b"hello\r\nat 2026-12-08T00:00:01.5Z\r\n");
    let b = f.summary(&h, b"hello\nat 2026-12-08T09:10:11Z\n");
    assert!(a.flags.contains(Flags::TEXT));
    assert_eq!(f.paths(&a, &b), []);
    let c = f.summary(&h, b"bye\nat 2026-12-08T09:10:11Z\n");
    assert_eq!(f.paths(&a, &c), [p("body", DiffKind::Value)]);
}

#[test]
fn media_types_choose_how_a_body_is_read() {
    let mut f = Fixture::new();
    let s = f.summary(&head(200, &[]), b" {\"a\":1}");
    assert!(s.flags.contains(Flags::JSON), "no type, starts with {{");
    let s = f.summary(
        &head(200, &[("Content-Type", "application/problem+json")]),
        b"[1]",
    );
    assert!(s.flags.contains(Flags::JSON));
    let s = f.summary(
        &head(200, &[("Content-Type", "application/json")]),
        b"{oops",
    );
    assert!(s.flags.contains(Flags::INVALID_JSON | Flags::TEXT));
    let s = f.summary(&head(200, &[("Content-Type", "image/png")]), b"\x89PNG{");
    assert!(s.flags.contains(Flags::BINARY));
    let t = f.summary(&head(200, &[("Content-Type", "image/png")]), b"\x89PNG}");
    assert_eq!(f.paths(&s, &t), [p("body", DiffKind::Value)]);
    let s = f.summary(&head(204, &[]), b"");
    assert_eq!(s.flags, Flags::default());
    assert_eq!(s.body_hash, 0);
}

#[test]
fn another_status_class_compares_status_and_headers_only() {
    let mut f = Fixture::new();
    let ok = f.summary(
        &head(200, &[("Content-Type", "application/json")]),
        br#"{"a":1}"#,
    );
    let err = f.summary(
        &head(503, &[("Content-Type", "application/json")]),
        br#"{"error":"x"}"#,
    );
    assert_eq!(f.paths(&ok, &err), [p("status", DiffKind::Value)]);
    let created = f.summary(
        &head(201, &[("Content-Type", "application/json")]),
        br#"{"a":2}"#,
    );
    assert_eq!(
        f.paths(&ok, &created),
        [p("$.a", DiffKind::Value), p("status", DiffKind::Value)]
    );
}

#[test]
fn headers_are_compared_by_their_rules() {
    let mut f = Fixture::new();
    let a = f.summary(
        &head(
            200,
            &[
                ("Server", "node-1"),
                ("Date", "x"),
                ("Content-Type", "Text/Plain"),
            ],
        ),
        b"x",
    );
    let b = f.summary(
        &head(
            200,
            &[
                ("server", "node-2"),
                ("Date", "y"),
                ("content-type", "text/plain"),
            ],
        ),
        b"x",
    );
    assert_eq!(f.paths(&a, &b), [p("header.server", DiffKind::Value)]);
    let mut f = Fixture::with(Options {
        ignore: IgnoreSet::parse(&["header.server"]).unwrap_or_default(),
        ..Options::default()
    });
    let a = f.summary(&head(200, &[("Server", "node-1")]), b"x");
    let b = f.summary(&head(200, &[("Server", "node-2")]), b"x");
    assert_eq!(f.paths(&a, &b), []);
}

#[test]
fn location_on_the_requests_own_host_compares_as_a_path() {
    let mut f = Fixture::new();
    let mut at = |loc: &str, host: &str| {
        let h = head(302, &[("Location", loc)]);
        f.normalizer.summarize(
            &Response {
                head: h.as_bytes(),
                body: b"",
                complete: true,
                request_host: Some(host.as_bytes()),
                endpoint: None,
            },
            &mut f.interner,
        )
    };
    let prod = at("https://shop.example.com/cart", "shop.example.com");
    let staging = at("http://10.0.0.5:8080/cart", "10.0.0.5:8080");
    assert_eq!(difference(&prod, &staging).map(|d| d.paths.len()), Some(0));
}

#[test]
fn ignored_paths_are_neither_hashed_nor_reported() {
    let mut f = Fixture::with(Options {
        ignore: IgnoreSet::parse(&["$..ts", "GET /x::$.only_here"]).unwrap_or_default(),
        ..Options::default()
    });
    assert_eq!(
        f.diff(r#"{"a":{"ts":1},"b":2}"#, r#"{"a":{"ts":2},"b":2}"#),
        []
    );
    // Not in the element hashes either: the array is unchanged.
    assert_eq!(
        f.diff(
            r#"{"x":[{"ts":1,"v":1}],"ts":"a"}"#,
            r#"{"x":[{"ts":2,"v":1}],"ts":"b"}"#
        ),
        []
    );
    let s = f.json(r#"{"ts":{"deep":[1,2]}}"#);
    let names: Vec<String> = f.named(&s).2.into_keys().collect();
    assert!(names.iter().all(|n| !n.contains("ts")), "{names:?}");
    // Scoped: only for that endpoint.
    assert_eq!(
        f.diff(r#"{"only_here":1}"#, r#"{"only_here":2}"#),
        [p("$.only_here", DiffKind::Value)]
    );
    let mut scoped = |body: &str| {
        f.normalizer.summarize(
            &Response {
                head: JSON_HEAD.as_bytes(),
                body: body.as_bytes(),
                complete: true,
                request_host: None,
                endpoint: Some("GET /x"),
            },
            &mut f.interner,
        )
    };
    let (a, b) = (scoped(r#"{"only_here":1}"#), scoped(r#"{"only_here":2}"#));
    assert_eq!(difference(&a, &b).map(|d| d.paths.len()), Some(0));
}

#[test]
fn caps_bound_depth_templates_and_elements_without_losing_differences() {
    let mut f = Fixture::new();
    let deep = |leaf: u32| format!("{}{leaf}{}", "[".repeat(100), "]".repeat(100));
    let a = f.json(&deep(1));
    assert!(a.flags.contains(Flags::CAPPED | Flags::JSON));
    assert!(a.entries.len() <= 70, "{}", a.entries.len());
    // The change below the depth cap still shows in the hashes of the arrays above it.
    let b = f.json(&deep(2));
    assert!(!f.paths(&a, &b).is_empty());

    let wide: String = (0..300)
        .map(|i| format!("\"k{i}\":{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let s = f.json(&format!("{{{wide}}}"));
    assert!(s.flags.contains(Flags::MORE_PATHS));
    // 256 templates, `$(more)`, status and one header.
    assert_eq!(s.entries.len(), 259);
    assert!(f.interner.lookup("$(more)").is_some());

    let long = format!("[{}0]", "0,".repeat(10_001));
    let s = f.json(&long);
    assert!(s.flags.contains(Flags::CAPPED));

    let too_deep = "[".repeat(2000);
    let s = f.json(&too_deep);
    assert!(s.flags.contains(Flags::INVALID_JSON));
}

#[test]
fn invalid_json_never_panics_and_is_text() {
    let mut f = Fixture::new();
    for body in [
        "{",
        "[1,]",
        "{\"a\"}",
        "{\"a\":}",
        "[01]",
        "[1.]",
        "[1e]",
        "[-]",
        "\"\\x\"",
        "\"\\u12\"",
        "[1] x",
        "{\"a\":1,}",
        "nul",
        "[\"abc",
        "{1:2}",
        "[1 2]",
    ] {
        let s = f.json(body);
        assert!(s.flags.contains(Flags::INVALID_JSON), "{body}");
    }
}

/// A JSON value of a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1000.0f64..1000.0).prop_map(Value::from),
        "[a-zé\"\\\\ ]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-d]{1,2}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// The same value with every object's keys in another order (`seed` picks the rotation).
fn shuffled(v: &Value, seed: usize) -> Value {
    match v {
        Value::Object(m) => {
            let mut pairs: Vec<(&String, &Value)> = m.iter().collect();
            if !pairs.is_empty() {
                let k = seed % pairs.len();
                pairs.rotate_left(k);
                if seed % 2 == 1 {
                    pairs.reverse();
                }
            }
            let out: Map<String, Value> = pairs
                .into_iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        shuffled(v, seed.wrapping_mul(31).wrapping_add(7)),
                    )
                })
                .collect();
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| shuffled(x, seed + 1)).collect()),
        x => x.clone(),
    }
}

proptest! {
    #[test]
    fn shuffled_keys_never_change_a_summary(v in json_value(), seed in 0usize..1000) {
        let text = serde_json::to_string(&v).unwrap_or_default();
        let other = serde_json::to_string_pretty(&shuffled(&v, seed)).unwrap_or_default();
        let mut f = Fixture::new();
        let a = f.json(&text);
        let b = f.json(&other);
        prop_assert_eq!(f.named(&a), f.named(&b));
        prop_assert_eq!(difference(&a, &b).map(|d| d.paths.len()), Some(0));
    }

    #[test]
    fn rechunking_never_changes_a_summary(
        v in json_value(),
        sizes in prop::collection::vec(1usize..40, 1..6),
        gzipped in any::<bool>(),
    ) {
        let text = serde_json::to_string(&v).unwrap_or_default();
        let mut f = Fixture::new();
        let coding = if gzipped { "gzip" } else { "identity" };
        let encoded = if gzipped { gzip(text.as_bytes()) } else { text.clone().into_bytes() };
        let plain = f.summary(
            &head(200, &[("Content-Type", "application/json"), ("Content-Encoding", coding)]),
            &encoded,
        );
        let rechunked = f.summary(
            &head(200, &[
                ("Content-Type", "application/json"),
                ("Content-Encoding", coding),
                ("Transfer-Encoding", "chunked"),
            ]),
            &chunked(&encoded, &sizes),
        );
        prop_assert_eq!(f.named(&plain), f.named(&rechunked));
    }

    #[test]
    fn normalizing_any_bytes_never_panics(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let mut f = Fixture::new();
        let _ = f.summary(JSON_HEAD, &body);
        let _ = f.summary(
            &head(200, &[("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")]),
            &body,
        );
    }
}
