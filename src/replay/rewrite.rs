//! The declared rewrites (`--rewrite-host`, `--set-header`, `--remove-header`, `--rewrite-url`),
//! applied surgically to a request's head bytes: every other byte — header order, name case,
//! repeated fields, line endings, odd request-targets, the body — stays as recorded.
//!
//! The head is walked as lines (it was already framed when recorded); a field is a line that
//! does not start with a space or tab plus its obsolete-fold continuation lines. Order of
//! application: removals, then `--set-header` in the order given, then the Host, then the URL.

use bytes::{Bytes, BytesMut};
use regex::bytes::Regex;

use crate::exit::UsageError;

fn usage(flag: &str, problem: impl Into<String>) -> UsageError {
    UsageError::new(flag, problem)
}

/// The rewrites of a run, validated.
#[derive(Debug, Clone, Default)]
pub struct Rewrites {
    /// `--rewrite-host`: Host set to the target's authority.
    pub host: bool,
    /// `--set-header 'Name: value'`, in order.
    pub set: Vec<(String, Vec<u8>)>,
    /// `--remove-header Name`.
    pub remove: Vec<String>,
    /// `--rewrite-url 'REGEX=>REPLACEMENT'`, applied in order to the request-target.
    pub url: Vec<(Regex, Vec<u8>)>,
}

fn token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

impl Rewrites {
    /// Validates the flags; errors name the flag (exit status 2).
    pub fn new(
        host: bool,
        set: &[String],
        remove: &[String],
        url: &[String],
    ) -> Result<Rewrites, UsageError> {
        let mut r = Rewrites {
            host,
            ..Rewrites::default()
        };
        for s in set {
            let Some((name, value)) = s.split_once(':') else {
                return Err(usage(
                    "--set-header",
                    format!("expected 'Name: value', got {s:?}"),
                ));
            };
            let name = name.trim();
            if !token(name) {
                return Err(usage("--set-header", format!("bad field name {name:?}")));
            }
            let value = value.trim();
            // RFC 9110 §5.5: no control characters in a field value but the tab.
            if value.bytes().any(|b| b == 0x7f || (b < 0x20 && b != b'\t')) {
                return Err(usage(
                    "--set-header",
                    "the value may not hold line breaks or control characters",
                ));
            }
            r.set.push((name.to_owned(), value.as_bytes().to_vec()));
        }
        for name in remove {
            if !token(name.trim()) {
                return Err(usage("--remove-header", format!("bad field name {name:?}")));
            }
            r.remove.push(name.trim().to_owned());
        }
        for u in url {
            let Some((re, rep)) = u.split_once("=>") else {
                return Err(usage(
                    "--rewrite-url",
                    format!("expected 'REGEX=>REPLACEMENT', got {u:?}"),
                ));
            };
            let re = Regex::new(re)
                .map_err(|e| usage("--rewrite-url", format!("bad regex {re:?}: {e}")))?;
            if rep.bytes().any(|b| b <= b' ' || b == 0x7f) {
                return Err(usage(
                    "--rewrite-url",
                    "the replacement may not hold spaces, line breaks or control characters",
                ));
            }
            r.url.push((re, rep.as_bytes().to_vec()));
        }
        Ok(r)
    }

    /// True when no rewrite was declared: requests go out as recorded, without a copy.
    pub fn is_empty(&self) -> bool {
        !self.host && self.set.is_empty() && self.remove.is_empty() && self.url.is_empty()
    }

    /// The request's bytes after the rewrites. `head_len` is the recorded head's length;
    /// `authority` the target's (for `--rewrite-host`). Returns the input itself (no copy) when
    /// nothing changes. Never panics: a `head_len` past the end is clamped.
    pub fn apply(&self, bytes: &Bytes, head_len: usize, authority: &str) -> Bytes {
        if self.is_empty() {
            return bytes.clone();
        }
        let head_len = head_len.min(bytes.len());
        let (head, body) = bytes.split_at(head_len);
        let lines = split_lines(head);
        let Some((request_line, rest)) = lines.split_first() else {
            return bytes.clone();
        };
        let eol: &[u8] = if request_line.ends_with(b"\r\n") {
            b"\r\n"
        } else {
            b"\n"
        };
        // Fields: (lines, name). The final empty line is kept apart. Without one (an HTTP/0.9
        // request line, which has no fields) only the request-target may be rewritten: a field
        // added after it would be sent as bytes after the request.
        let (fields_lines, end) = match rest.split_last() {
            Some((last, fl)) if is_blank(last) => (fl, *last),
            _ => {
                let mut out = BytesMut::with_capacity(bytes.len() + 64);
                out.extend_from_slice(&self.rewrite_request_line(request_line));
                out.extend_from_slice(bytes.get(request_line.len()..).unwrap_or_default());
                return out.freeze();
            }
        };
        let mut fields: Vec<Field> = Vec::new();
        for line in fields_lines {
            match (line.first(), fields.last_mut()) {
                (Some(b' ' | b'\t'), Some(f)) => f.lines.push(Piece::Old(line)),
                _ => fields.push(Field::old(line)),
            }
        }
        fields.retain(|f| !self.remove.iter().any(|n| f.named(n)));
        for (name, value) in &self.set {
            set_field(&mut fields, name, value, eol, false);
        }
        if self.host {
            set_field(&mut fields, "Host", authority.as_bytes(), eol, true);
        }
        let mut out = BytesMut::with_capacity(bytes.len() + 64);
        out.extend_from_slice(&self.rewrite_request_line(request_line));
        for f in &fields {
            for piece in &f.lines {
                match piece {
                    Piece::Old(l) => out.extend_from_slice(l),
                    Piece::New(l) => out.extend_from_slice(l),
                }
            }
        }
        out.extend_from_slice(end);
        out.extend_from_slice(body);
        out.freeze()
    }

    fn rewrite_request_line(&self, line: &[u8]) -> Vec<u8> {
        if self.url.is_empty() {
            return line.to_vec();
        }
        let content_end = line.len() - line_ending_len(line);
        let content = &line[..content_end];
        let Some(first) = content.iter().position(|&b| b == b' ') else {
            return line.to_vec();
        };
        let after = &content[first + 1..];
        // The target starts after the spaces that follow the method (more than one is tolerated).
        let is_space = |b: &u8| *b == b' ' || *b == b'\t';
        let Some(start) = after.iter().position(|b| !is_space(b)) else {
            return line.to_vec();
        };
        // The version follows the last space when it looks like one; else the target runs to the end.
        let target_end = match after.iter().rposition(|&b| b == b' ') {
            Some(i) if after[i + 1..].starts_with(b"HTTP/") => i,
            _ => after.len(),
        };
        // Spaces after the target (before the version, or ending an HTTP/0.9 line) are not part
        // of it: a rule matching there would add a word to the line.
        let Some(target_end) = after
            .get(start..target_end)
            .and_then(|t| t.iter().rposition(|b| !is_space(b)))
            .map(|i| start + i + 1)
        else {
            // No target (`GET  HTTP/1.1`, which reads as HTTP/0.9): nothing to rewrite.
            return line.to_vec();
        };
        let mut target = after[start..target_end].to_vec();
        for (re, rep) in &self.url {
            target = re.replace_all(&target, rep.as_slice()).into_owned();
        }
        // A rule that empties the target would make the line another request (`GET  HTTP/1.1`
        // reads as HTTP/0.9): an empty path is sent as `/` (RFC 9112 §3.2.1).
        if target.iter().all(|&b| b == b' ' || b == b'\t') {
            target = b"/".to_vec();
        }
        let mut out = Vec::with_capacity(line.len() + target.len());
        out.extend_from_slice(&content[..=first]);
        out.extend_from_slice(&after[..start]);
        out.extend_from_slice(&target);
        out.extend_from_slice(&after[target_end..]);
        out.extend_from_slice(&line[content_end..]);
        out
    }
}

enum Piece<'a> {
    Old(&'a [u8]),
    New(Vec<u8>),
}

struct Field<'a> {
    lines: Vec<Piece<'a>>,
}

impl<'a> Field<'a> {
    fn old(line: &'a [u8]) -> Field<'a> {
        Field {
            lines: vec![Piece::Old(line)],
        }
    }

    fn name(&self) -> &[u8] {
        let first: &[u8] = match self.lines.first() {
            Some(Piece::Old(l)) => l,
            Some(Piece::New(l)) => l,
            None => b"",
        };
        let end = first.iter().position(|&b| b == b':').unwrap_or(first.len());
        first[..end].trim_ascii()
    }

    fn named(&self, name: &str) -> bool {
        self.name().eq_ignore_ascii_case(name.as_bytes())
    }
}

/// Sets `name` to `value`: the first field of that name keeps its place and its name's case and
/// line ending, later ones are removed; with none, a new field is added (first when `front`, else
/// last).
fn set_field(fields: &mut Vec<Field<'_>>, name: &str, value: &[u8], eol: &[u8], front: bool) {
    match fields.iter().position(|f| f.named(name)) {
        Some(i) => {
            let old_name = fields[i].name().to_vec();
            let ending: Vec<u8> = match fields[i].lines.first() {
                Some(Piece::Old(l)) => l[l.len() - line_ending_len(l)..].to_vec(),
                _ => eol.to_vec(),
            };
            let mut line = old_name;
            line.extend_from_slice(b": ");
            line.extend_from_slice(value);
            line.extend_from_slice(&ending);
            fields[i].lines = vec![Piece::New(line)];
            let mut n = 0;
            fields.retain(|f| {
                n += 1;
                n - 1 <= i || !f.named(name)
            });
        }
        None => {
            let mut line = name.as_bytes().to_vec();
            line.extend_from_slice(b": ");
            line.extend_from_slice(value);
            line.extend_from_slice(eol);
            let field = Field {
                lines: vec![Piece::New(line)],
            };
            if front {
                // After the indented lines a head may start with (RFC 9112 §2.2: no field, skipped
                // by parsers), which would otherwise read as this field's continuation.
                let orphan = fields.first().is_some_and(|f| {
                    matches!(f.lines.first(), Some(Piece::Old([b' ' | b'\t', ..])))
                });
                fields.insert(usize::from(orphan), field);
            } else {
                fields.push(field);
            }
        }
    }
}

fn line_ending_len(line: &[u8]) -> usize {
    if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") {
        1
    } else {
        0
    }
}

fn is_blank(line: &[u8]) -> bool {
    line == b"\r\n" || line == b"\n"
}

/// Lines with their endings (the last one may lack one).
fn split_lines(head: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &b) in head.iter().enumerate() {
        if b == b'\n' {
            lines.push(&head[start..=i]);
            start = i + 1;
        }
    }
    if start < head.len() {
        lines.push(&head[start..]);
    }
    lines
}

/// The authority `--rewrite-host` writes in [`fuzz_rewrite`].
#[cfg(feature = "testing")]
const FUZZ_AUTHORITY: &str = "staging.example:8080";

/// Fuzz entry point (`fuzz/fuzz_targets/rewrite.rs`; `tests/fuzz_corpus_replay.rs` runs its seeds
/// in CI). The bytes up to the first NUL are rules, one a line: `h` (`--rewrite-host`), `s` then
/// a `--set-header` value, `r` then a `--remove-header` name, `u` then a `--rewrite-url` rule;
/// the bytes after it are a recorded request (head and body). Rules that do not validate end the
/// case, as the CLI would. Checks, for a request whose head parses: the result's head parses
/// too, with the same method and version and the recorded body after it unchanged; each set
/// field has its value, each removed one is gone, the Host is the target's. Panics only when one
/// of those fails (a bug), never on the input itself. Fuzz-only.
#[cfg(feature = "testing")]
pub fn fuzz_rewrite(data: &[u8]) {
    use crate::http::framing::RequestHead;
    let (rules, request) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    // Large repetition counts make a regex slow to build, not wrong: keep the rules short.
    if rules.len() > 512 {
        return;
    }
    let rules = String::from_utf8_lossy(rules);
    let (mut host, mut set, mut remove, mut url) = (false, Vec::new(), Vec::new(), Vec::new());
    for line in rules.lines() {
        let mut chars = line.chars();
        match chars.next() {
            Some('h') => host = true,
            Some('s') => set.push(chars.as_str().to_owned()),
            Some('r') => remove.push(chars.as_str().to_owned()),
            Some('u') => url.push(chars.as_str().to_owned()),
            _ => {}
        }
    }
    let Ok(rewrites) = Rewrites::new(host, &set, &remove, &url) else {
        return;
    };
    let bytes = Bytes::copy_from_slice(request);
    let Ok(head) = RequestHead::parse(request) else {
        // The planner skips requests whose head does not parse; apply must still not panic.
        let _ = rewrites.apply(&bytes, request.len(), FUZZ_AUTHORITY);
        return;
    };
    let out = rewrites.apply(&bytes, head.len, FUZZ_AUTHORITY);
    if rewrites.is_empty() {
        assert_eq!(out, bytes);
        return;
    }
    let rewritten = match RequestHead::parse(&out) {
        Ok(h) => h,
        Err(e) => panic!("the rewritten head does not parse ({e}): {:?}", out),
    };
    assert_eq!(
        (rewritten.method, rewritten.version),
        (head.method, head.version),
        "{:?}",
        out
    );
    let body = request.get(head.len..).unwrap_or_default();
    assert_eq!(
        out.get(rewritten.len..).unwrap_or_default(),
        body,
        "the body changed: {:?}",
        out
    );
    if rewrites.url.is_empty() {
        assert_eq!(rewritten.target, head.target);
    }
    if head.version == crate::http::framing::Version::Http09 {
        return;
    }
    let mut expected: Vec<(&str, &[u8])> = Vec::new();
    for (name, value) in &rewrites.set {
        expected.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        expected.push((name, value));
    }
    if rewrites.host {
        expected.retain(|(n, _)| !n.eq_ignore_ascii_case("host"));
        expected.push(("host", FUZZ_AUTHORITY.as_bytes()));
    }
    for (name, value) in &expected {
        let found: Vec<&[u8]> = rewritten
            .headers
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
            .collect();
        assert_eq!(found, [*value], "{name} in {:?}", out);
    }
    for name in &rewrites.remove {
        if !expected.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
            assert!(rewritten.header(name).is_none(), "{name} in {:?}", out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQ: &[u8] = b"GET /api/v1/users/7?x=1 HTTP/1.1\r\nhost: prod.example\r\nX-Dup: 1\r\nAccept: */*\r\nX-Dup: 2\r\nCookie: a=1\r\n\r\nBODY";

    fn apply(r: &Rewrites, bytes: &[u8]) -> Vec<u8> {
        let b = Bytes::copy_from_slice(bytes);
        let head_len = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(bytes.len(), |p| p + 4);
        r.apply(&b, head_len, "staging:8080").to_vec()
    }

    #[test]
    fn no_rewrite_is_the_same_buffer() {
        let r = Rewrites::default();
        let b = Bytes::from_static(REQ);
        let out = r.apply(&b, 10, "x");
        assert_eq!(out.as_ptr(), b.as_ptr());
    }

    #[test]
    fn host_keeps_name_case_and_place() {
        let r = Rewrites::new(true, &[], &[], &[]).unwrap();
        assert_eq!(
            apply(&r, REQ),
            b"GET /api/v1/users/7?x=1 HTTP/1.1\r\nhost: staging:8080\r\nX-Dup: 1\r\nAccept: */*\r\nX-Dup: 2\r\nCookie: a=1\r\n\r\nBODY"
        );
        // HTTP/1.0 without a Host gets one, first.
        assert_eq!(
            apply(&r, b"GET / HTTP/1.0\nAccept: */*\n\n"),
            b"GET / HTTP/1.0\nHost: staging:8080\nAccept: */*\n\n"
        );
    }

    #[test]
    fn set_replaces_first_removes_later_or_appends() {
        let r = Rewrites::new(
            false,
            &["x-dup: 9".into(), "X-New: yes".into()],
            &["cookie".into()],
            &[],
        )
        .unwrap();
        assert_eq!(
            apply(&r, REQ),
            b"GET /api/v1/users/7?x=1 HTTP/1.1\r\nhost: prod.example\r\nX-Dup: 9\r\nAccept: */*\r\nX-New: yes\r\n\r\nBODY"
        );
    }

    #[test]
    fn remove_takes_folded_lines_with_it() {
        let r = Rewrites::new(false, &[], &["X-Fold".into()], &[]).unwrap();
        assert_eq!(
            apply(&r, b"GET / HTTP/1.1\r\nX-Fold: a\r\n  b\r\nHost: h\r\n\r\n"),
            b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
        );
    }

    #[test]
    fn url_rewrites_only_the_target() {
        let r = Rewrites::new(
            false,
            &[],
            &[],
            &["^/api/v1/=>/api/v2/".into(), r"users/(\d+)=>u/$1".into()],
        )
        .unwrap();
        assert_eq!(
            apply(&r, REQ)[..30].to_vec(),
            b"GET /api/v2/u/7?x=1 HTTP/1.1\r\n".to_vec()[..30].to_vec()
        );
        assert!(apply(&r, REQ).ends_with(b"Cookie: a=1\r\n\r\nBODY"));
        // HTTP/0.9 line: the target runs to the end of the line.
        assert_eq!(apply(&r, b"GET /api/v1/x\r\n"), b"GET /api/v2/x\r\n");
    }

    /// Found by fuzzing (`fuzz/corpus/rewrite/regression-http09-request-gets-fields`): an
    /// HTTP/0.9 request line has no fields, and a Host or header added after it was sent as bytes
    /// after the request. Only its target is rewritten now.
    #[test]
    fn regression_http09_request_gets_fields() {
        let r = Rewrites::new(true, &["X-New: 1".into()], &[], &["^/v1=>/v2".into()]).unwrap();
        let b = Bytes::from_static(b"GET /v1/x\r\nrest");
        assert_eq!(r.apply(&b, 11, "staging:8080"), &b"GET /v2/x\r\nrest"[..]);
        let r = Rewrites::new(true, &[], &[], &[]).unwrap();
        assert_eq!(r.apply(&b, 11, "staging:8080"), b);
    }

    /// Found by the rewrite fuzz target's invariant (`regression-empty-target`): a URL rule that
    /// removed the whole target left `GET  HTTP/1.1`, an HTTP/0.9 request for `HTTP/1.1`.
    #[test]
    fn regression_empty_target() {
        let r = Rewrites::new(false, &[], &[], &["/old=>".into()]).unwrap();
        assert_eq!(
            apply(&r, b"GET /old HTTP/1.1\r\nHost: a\r\n\r\n"),
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        );
    }

    /// Found by fuzzing (`regression-target-trailing-space`): the space ending an HTTP/0.9
    /// line `GET / ` was taken as part of the target, and an empty regex put a word after it
    /// (`GET h/h h`), which no server parses.
    #[test]
    fn regression_target_trailing_space() {
        let r = Rewrites::new(false, &[], &[], &["=>h".into()]).unwrap();
        assert_eq!(apply(&r, b"GET / \r\n"), b"GET h/h \r\n");
        assert_eq!(
            apply(&r, b"GET /  HTTP/1.1\r\n\r\n"),
            b"GET h/h  HTTP/1.1\r\n\r\n"
        );
        // Found next (`regression-line-without-target`): with no target before the version
        // the line is left alone (an empty target used to become `/`, another request).
        assert_eq!(
            apply(&r, b"GET  HTTP/1.1\r\nHost: a\r\n\r\n"),
            b"GET  HTTP/1.1\r\nHost: a\r\n\r\n"
        );
    }

    #[test]
    fn bad_flags_name_the_flag() {
        for (set, remove, url, flag) in [
            (vec!["nocolon".to_owned()], vec![], vec![], "--set-header"),
            (vec!["A B: c".to_owned()], vec![], vec![], "--set-header"),
            (vec![], vec!["a:b".to_owned()], vec![], "--remove-header"),
            (vec![], vec![], vec!["(=>x".to_owned()], "--rewrite-url"),
            (vec![], vec![], vec!["abc".to_owned()], "--rewrite-url"),
            // Found by fuzzing (regression-url-replacement-control-char): a control character
            // in the replacement made a request line no server parses.
            (
                vec![],
                vec![],
                vec!["^/=>/v9/\x08".to_owned()],
                "--rewrite-url",
            ),
            (
                vec!["X-A: a\x01b".to_owned()],
                vec![],
                vec![],
                "--set-header",
            ),
        ] {
            let e = Rewrites::new(false, &set, &remove, &url).unwrap_err();
            assert!(format!("{e:#}").starts_with(flag), "{e:#}");
        }
    }
}
