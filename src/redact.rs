//! Capture-time redaction: secrets in messages are replaced by a keyed hash before a record
//! reaches the log writer, so they are never compressed, written or replayed.
//!
//! What is replaced (names compared case-insensitively; parameter names after percent-decoding):
//! - `--redact-header NAME`: the whole value of every field NAME, in requests and responses.
//! - `--redact-cookie NAME`: the value of cookie NAME in `Cookie` and `Set-Cookie` fields.
//! - `--redact-param NAME`: the value of query parameter NAME in the request-target and in
//!   URL-valued fields (`Referer`, `Location`, `Content-Location`), and of form field NAME in
//!   `application/x-www-form-urlencoded` request bodies.
//! - `--redact-default`: `Authorization` and `Proxy-Authorization` (the scheme word such as
//!   `Bearer` is kept, the credentials replaced), every cookie value of `Cookie`, and the cookie
//!   value of `Set-Cookie` (its name and attributes kept).
//!
//! A replaced value in the head becomes `reel-redacted-` and 24 hex digits: the first 96 bits of
//! HMAC-SHA256(key, value) — values are percent-decoded first for parameters, taken as on the wire
//! otherwise — so equal secrets stay equal (within a run, and across runs with the same
//! `--redact-key-file`) and nothing of the secret can be read back without the key. The head's
//! length changes (`head_len` follows); the body's does not. In a form body a value is replaced
//! by hex digits of the same keyed hash, repeated to the value's exact length, so Content-Length
//! and chunk sizes stay valid (the length of the secret is the one thing kept). Bodies of other
//! types are not searched (JSON bodies carrying secrets need a filter or `--max-body 0`).
//!
//! The key's id, in the log's metadata, is 16 hex digits of SHA-256 of a fixed label and the key:
//! it tells whether two logs were redacted with the same key and reveals nothing of the key.
//!
//! Messages are read as they were framed: head lines with [`framing::head_lines`] (the tolerant
//! head parser's reading), the request-target with [`framing::request_target`], chunked bodies
//! with [`framing::chunked_data`] (the framer's own decoder).
//!
//! Never panics on message bytes: every index is bounded by the slice it indexes, and lines,
//! fields and parameters that do not parse are left as they are unless they belong to a named
//! field (then the whole rest of that line is replaced).

use std::path::{Path, PathBuf};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::exchange::{Message, Record};
use crate::exit::{Classify, Status};
use crate::http::framing::{self, ChunkedEnd, HeadLine, LineKind};

/// The prefix of every value replaced in a head.
pub const PREFIX: &str = "reel-redacted-";

/// Redaction flags as typed (flattened into `record`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RedactArgs {
    /// Replace the value of header field NAME with a keyed hash (repeatable).
    ///
    /// Example: --redact-header X-Api-Key
    #[arg(id = "redact_headers", long = "redact-header", value_name = "NAME")]
    pub headers: Vec<String>,

    /// Replace the value of cookie NAME in Cookie and Set-Cookie with a keyed hash (repeatable).
    ///
    /// Example: --redact-cookie session
    #[arg(id = "redact_cookies", long = "redact-cookie", value_name = "NAME")]
    pub cookies: Vec<String>,

    /// Replace the value of query or form parameter NAME with a keyed hash (repeatable).
    ///
    /// Example: --redact-param token
    #[arg(id = "redact_params", long = "redact-param", value_name = "NAME")]
    pub params: Vec<String>,

    /// Redact Authorization, Proxy-Authorization, and every Cookie and Set-Cookie value.
    #[arg(id = "redact_default", long = "redact-default")]
    pub default: bool,

    /// Key for the keyed hash (at least 16 bytes; trailing whitespace ignored), so that equal
    /// secrets hash equal across restarts. Without it, a random key is made for the run.
    ///
    /// Example: --redact-key-file /etc/reel/redaction.key
    #[arg(id = "redact_key_file", long = "redact-key-file", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
}

impl RedactArgs {
    /// True when some redaction was asked for.
    pub fn any(&self) -> bool {
        self.default
            || !self.headers.is_empty()
            || !self.cookies.is_empty()
            || !self.params.is_empty()
    }

    /// Validates the flags and reads the key; `None` when no redaction was asked for. Errors name
    /// the flag or the key file.
    pub fn build(&self) -> Result<Option<Redactor>, RedactError> {
        if !self.any() {
            if self.key_file.is_some() {
                return Err(RedactError::KeyWithoutRules);
            }
            return Ok(None);
        }
        for (flag, names) in [
            ("--redact-header", &self.headers),
            ("--redact-cookie", &self.cookies),
            ("--redact-param", &self.params),
        ] {
            if let Some(bad) = names
                .iter()
                .find(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_graphic()))
            {
                return Err(RedactError::BadName {
                    flag,
                    name: bad.clone(),
                });
            }
        }
        let key = match &self.key_file {
            Some(path) => Key::from_file(path)?,
            None => Key::random()?,
        };
        Ok(Some(Redactor::new(self.rules(), &key)?))
    }

    /// The names to redact, lower-cased.
    fn rules(&self) -> Rules {
        let lower = |names: &[String]| names.iter().map(|n| n.to_ascii_lowercase()).collect();
        Rules {
            headers: lower(&self.headers),
            cookies: lower(&self.cookies),
            params: lower(&self.params),
            credentials: if self.default {
                vec!["authorization".into(), "proxy-authorization".into()]
            } else {
                Vec::new()
            },
            all_cookies: self.default,
        }
    }
}

/// Why redaction could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum RedactError {
    /// A name that cannot be a field, cookie or parameter name.
    #[error("{flag}: not a name: {name:?}")]
    BadName {
        /// The flag.
        flag: &'static str,
        /// The name given.
        name: String,
    },
    /// A key file with nothing to redact.
    #[error(
        "--redact-key-file: no redaction asked for (add --redact-header, --redact-cookie, --redact-param or --redact-default)"
    )]
    KeyWithoutRules,
    /// The key file could not be read.
    #[error("--redact-key-file {}: cannot read: {source}", path.display())]
    KeyRead {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The key file holds too few bytes to be a key.
    #[error("--redact-key-file {}: {len} bytes; a key needs at least 16 (e.g. head -c 32 /dev/urandom | base64 > FILE)", path.display())]
    KeyTooShort {
        /// The file.
        path: PathBuf,
        /// Bytes found (trailing whitespace not counted).
        len: usize,
    },
    /// No randomness for a key.
    #[error("--redact-*: cannot make a random key from /dev/urandom: {0}")]
    Random(std::io::Error),
}

impl Classify for RedactError {
    fn status(&self) -> Status {
        match self {
            RedactError::Random(_) => Status::Runtime,
            RedactError::KeyRead { source, .. }
                if !matches!(
                    source.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                Status::Runtime
            }
            _ => Status::BadInput,
        }
    }
}

/// A redaction key.
pub struct Key {
    bytes: Vec<u8>,
    /// True when made at random for this run.
    pub random: bool,
}

impl Key {
    /// A key from the bytes given, for library callers that hold a key already.
    pub fn from_bytes(bytes: &[u8]) -> Key {
        Key {
            bytes: bytes.to_vec(),
            random: false,
        }
    }

    /// Reads a key file: its bytes without trailing whitespace, at least 16 of them. Warns when
    /// the file is readable by others than its owner.
    pub fn from_file(path: &Path) -> Result<Key, RedactError> {
        let read_error = |source| RedactError::KeyRead {
            path: path.to_owned(),
            source,
        };
        let mut bytes = std::fs::read(path).map_err(read_error)?;
        while bytes.last().is_some_and(u8::is_ascii_whitespace) {
            bytes.pop();
        }
        if bytes.len() < 16 {
            return Err(RedactError::KeyTooShort {
                path: path.to_owned(),
                len: bytes.len(),
            });
        }
        if let Ok(meta) = std::fs::metadata(path) {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o077 != 0 {
                tracing::warn!(
                    "--redact-key-file {}: readable by others than its owner (chmod 600 it)",
                    path.display()
                );
            }
        }
        Ok(Key {
            bytes,
            random: false,
        })
    }

    /// 32 random bytes from `/dev/urandom`.
    pub fn random() -> Result<Key, RedactError> {
        use std::io::Read;
        let mut bytes = vec![0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .map_err(RedactError::Random)?;
        Ok(Key {
            bytes,
            random: true,
        })
    }

    /// The key's id: 16 hex digits of SHA-256("reel redaction key id v1\0" ‖ key).
    pub fn id(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"reel redaction key id v1\0");
        h.update(&self.bytes);
        hex(&h.finalize()[..8])
    }
}

/// What to redact, names lower-cased.
#[derive(Debug, Clone, Default)]
struct Rules {
    headers: Vec<String>,
    cookies: Vec<String>,
    params: Vec<String>,
    /// Fields whose credentials are replaced, keeping the scheme word.
    credentials: Vec<String>,
    /// Every cookie value of Cookie and Set-Cookie.
    all_cookies: bool,
}

/// What a redactor replaced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedactStats {
    /// Values replaced (fields, cookies, parameters).
    pub values: u64,
    /// Messages with at least one value replaced.
    pub messages: u64,
}

/// Replaces secrets in messages with keyed hashes.
pub struct Redactor {
    mac: Hmac<Sha256>,
    key_id: String,
    random_key: bool,
    rules: Rules,
    stats: RedactStats,
}

type HmacSha256 = Hmac<Sha256>;

impl Redactor {
    fn new(rules: Rules, key: &Key) -> Result<Redactor, RedactError> {
        // HMAC takes keys of any length; the error is for fixed-length MACs only.
        let mac = <HmacSha256 as Mac>::new_from_slice(&key.bytes).map_err(|_| {
            RedactError::KeyTooShort {
                path: PathBuf::new(),
                len: key.bytes.len(),
            }
        })?;
        Ok(Redactor {
            mac,
            key_id: key.id(),
            random_key: key.random,
            rules,
            stats: RedactStats::default(),
        })
    }

    /// A redactor for `--redact-header`, `--redact-cookie`, `--redact-param` names and the
    /// default set, with this key (a library caller's own, instead of `--redact-key-file`).
    pub fn with_key(args: &RedactArgs, key: &Key) -> Result<Redactor, RedactError> {
        Redactor::new(args.rules(), key)
    }

    /// The key's id, for the log's metadata.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// True when the key was made at random for this run.
    pub fn random_key(&self) -> bool {
        self.random_key
    }

    /// What was replaced so far.
    pub fn stats(&self) -> RedactStats {
        self.stats
    }

    /// Redacts the message a record carries, if any.
    pub fn record(&mut self, record: &mut Record) {
        match record {
            Record::Request(m) => self.message(m, true),
            Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => {
                self.message(&mut r.message, false)
            }
            _ => {}
        }
    }

    /// Redacts one message in place: its head, and for a request its form body.
    pub fn message(&mut self, m: &mut Message, request: bool) {
        let head_len = (m.head_len as usize).min(m.bytes.len());
        let (head, body) = m.bytes.split_at(head_len);
        let before = self.stats.values;
        let mut form = FormBody::No;
        let new_head = self.head(head, request, &mut form);
        let new_body = if request && form != FormBody::No && !self.rules.params.is_empty() {
            self.form_body(body, form == FormBody::Chunked)
        } else {
            None
        };
        if self.stats.values == before {
            return;
        }
        self.stats.messages += 1;
        let new_head = new_head.unwrap_or_else(|| head.to_vec());
        let mut bytes = new_head;
        let head_len = bytes.len();
        match new_body {
            Some(b) => bytes.extend_from_slice(&b),
            None => bytes.extend_from_slice(body),
        }
        m.head_len = head_len as u32;
        m.bytes = Bytes::from(bytes);
    }

    /// The keyed hash of a value as it replaces it in a head.
    fn token(&mut self, value: &[u8]) -> Vec<u8> {
        self.stats.values += 1;
        let mut mac = self.mac.clone();
        mac.update(value);
        let digest = mac.finalize().into_bytes();
        let mut out = PREFIX.as_bytes().to_vec();
        out.extend_from_slice(hex(&digest[..12]).as_bytes());
        out
    }

    /// Hex digits of the keyed hash of `value`, repeated to exactly `len` bytes.
    fn same_length_token(&mut self, value: &[u8], len: usize) -> Vec<u8> {
        self.stats.values += 1;
        let mut mac = self.mac.clone();
        mac.update(value);
        let digits = hex(&mac.finalize().into_bytes());
        digits.bytes().cycle().take(len).collect()
    }

    /// The head with values replaced, or `None` when nothing in it was. Lines are read with
    /// [`framing::head_lines`], the tolerant head parser's own reading.
    fn head(&mut self, head: &[u8], request: bool, form: &mut FormBody) -> Option<Vec<u8>> {
        let before = self.stats.values;
        let mut out = Vec::with_capacity(head.len() + 64);
        let first_end = memchr::memchr(b'\n', head).map_or(head.len(), |i| i + 1);
        let first = head.get(..first_end).unwrap_or_default();
        // The start line: only a request's target can hold parameters.
        if request && !self.rules.params.is_empty() {
            self.start_line(first, &mut out);
        } else {
            out.extend_from_slice(first);
        }
        let lines: Vec<HeadLine<'_>> = framing::head_lines(head).collect();
        let bytes = |r: &std::ops::Range<usize>| head.get(r.clone()).unwrap_or_default();
        let mut content_type_form = false;
        let mut chunked = false;
        // A field being replaced whole swallows its obsolete continuation lines.
        let mut swallowing = false;
        for (n, line) in lines.iter().enumerate() {
            let (name, value_range) = match &line.kind {
                LineKind::Continuation { .. } => {
                    if !swallowing {
                        out.extend_from_slice(bytes(&line.line));
                    }
                    continue;
                }
                LineKind::Empty | LineKind::Other => {
                    swallowing = false;
                    out.extend_from_slice(bytes(&line.line));
                    continue;
                }
                LineKind::Field { name, value } => (name.to_ascii_lowercase(), value.clone()),
            };
            swallowing = false;
            let value = bytes(&value_range);
            let replaced: Option<Vec<u8>> = if self.rules.headers.contains(&name) {
                let mut whole = value.to_vec();
                for next in lines.get(n + 1..).unwrap_or_default() {
                    if !matches!(next.kind, LineKind::Continuation { .. }) {
                        break;
                    }
                    whole.extend_from_slice(bytes(&next.content));
                }
                swallowing = true;
                Some(self.token(&whole))
            } else if self.rules.credentials.contains(&name) {
                Some(self.credentials(value))
            } else if name == "cookie" {
                self.cookie_pairs(value)
            } else if name == "set-cookie" {
                self.set_cookie(value)
            } else if matches!(name.as_str(), "referer" | "location" | "content-location")
                && !self.rules.params.is_empty()
            {
                self.url(value)
            } else {
                if name == "content-type" {
                    content_type_form = value
                        .to_ascii_lowercase()
                        .starts_with(b"application/x-www-form-urlencoded");
                }
                if name == "transfer-encoding" {
                    chunked = value.to_ascii_lowercase().ends_with(b"chunked");
                }
                None
            };
            match replaced {
                Some(v) => {
                    out.extend_from_slice(bytes(&(line.line.start..value_range.start)));
                    out.extend_from_slice(&v);
                    out.extend_from_slice(bytes(&(value_range.end..line.line.end)));
                }
                None => out.extend_from_slice(bytes(&line.line)),
            }
        }
        if content_type_form {
            *form = if chunked {
                FormBody::Chunked
            } else {
                FormBody::Plain
            };
        }
        (self.stats.values != before).then_some(out)
    }

    /// The start line with the target's parameters replaced. The target is where
    /// [`framing::request_target`] finds it; in a line that is not a request line, all of it.
    fn start_line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        let target = framing::request_target(content).unwrap_or(0..content.len());
        let (Some(before), Some(text), Some(after)) = (
            line.get(..target.start),
            line.get(target.clone()),
            line.get(target.end..),
        ) else {
            out.extend_from_slice(line);
            return;
        };
        out.extend_from_slice(before);
        match self.url(text) {
            Some(t) => out.extend_from_slice(&t),
            None => out.extend_from_slice(text),
        }
        out.extend_from_slice(after);
    }

    /// A URL or request-target with the values of named query parameters replaced.
    fn url(&mut self, url: &[u8]) -> Option<Vec<u8>> {
        let q = url.iter().position(|&b| b == b'?')?;
        let end = url.iter().position(|&b| b == b'#').filter(|&h| h > q);
        let query = url.get(q + 1..end.unwrap_or(url.len()))?;
        let new_query = self.params(query, b'&', false)?;
        let mut out = url.get(..=q)?.to_vec();
        out.extend_from_slice(&new_query);
        if let Some(h) = end {
            out.extend_from_slice(url.get(h..)?);
        }
        Some(out)
    }

    /// `name=value` pairs separated by `sep` with named values replaced (same length when
    /// `same_length`); `None` when none was.
    fn params(&mut self, text: &[u8], sep: u8, same_length: bool) -> Option<Vec<u8>> {
        let before = self.stats.values;
        let mut out = Vec::with_capacity(text.len() + 32);
        for (i, pair) in text.split(|&b| b == sep).enumerate() {
            if i > 0 {
                out.push(sep);
            }
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                out.extend_from_slice(pair);
                continue;
            };
            let (name, value) = (pair.get(..eq)?, pair.get(eq + 1..)?);
            let decoded = percent_decode(name);
            let wanted = self
                .rules
                .params
                .iter()
                .any(|p| p.as_bytes().eq_ignore_ascii_case(&decoded));
            out.extend_from_slice(name);
            out.push(b'=');
            if wanted && !value.is_empty() {
                let plain = percent_decode(value);
                let token = if same_length {
                    self.same_length_token(&plain, value.len())
                } else {
                    self.token(&plain)
                };
                out.extend_from_slice(&token);
            } else {
                out.extend_from_slice(value);
            }
        }
        (self.stats.values != before).then_some(out)
    }

    /// `Scheme credentials` with the credentials replaced (a value without a scheme is replaced whole).
    fn credentials(&mut self, value: &[u8]) -> Vec<u8> {
        match value.iter().position(|&b| b == b' ') {
            Some(sp) if sp > 0 => {
                let (scheme, creds) = value.split_at(sp + 1);
                let mut out = scheme.to_vec();
                out.extend_from_slice(&self.token(creds));
                out
            }
            _ => self.token(value),
        }
    }

    fn cookie_wanted(&self, name: &[u8]) -> bool {
        self.rules.all_cookies
            || self
                .rules
                .cookies
                .iter()
                .any(|c| c.as_bytes().eq_ignore_ascii_case(name.trim_ascii()))
    }

    /// A `Cookie` value (`a=1; b=2`) with the wanted cookies' values replaced.
    fn cookie_pairs(&mut self, value: &[u8]) -> Option<Vec<u8>> {
        let before = self.stats.values;
        let mut out = Vec::with_capacity(value.len() + 32);
        for (i, pair) in value.split(|&b| b == b';').enumerate() {
            if i > 0 {
                out.push(b';');
            }
            out.extend_from_slice(&self.cookie_pair(pair));
        }
        (self.stats.values != before).then_some(out)
    }

    fn cookie_pair(&mut self, pair: &[u8]) -> Vec<u8> {
        let Some(eq) = pair.iter().position(|&b| b == b'=') else {
            return pair.to_vec();
        };
        let (name, value) = pair.split_at(eq);
        let value = value.get(1..).unwrap_or_default();
        if !self.cookie_wanted(name) || value.trim_ascii().is_empty() {
            return pair.to_vec();
        }
        let (value, trailing) = split_trailing_ws(value);
        let mut out = name.to_vec();
        out.push(b'=');
        out.extend_from_slice(&self.token(value));
        out.extend_from_slice(trailing);
        out
    }

    /// A `Set-Cookie` value (`name=value; Path=/; …`) with the value replaced when wanted.
    fn set_cookie(&mut self, value: &[u8]) -> Option<Vec<u8>> {
        let end = value.iter().position(|&b| b == b';').unwrap_or(value.len());
        let (pair, attributes) = value.split_at(end);
        let before = self.stats.values;
        let mut out = self.cookie_pair(pair);
        if self.stats.values == before {
            return None;
        }
        out.extend_from_slice(attributes);
        Some(out)
    }

    /// A form body with named values replaced by same-length tokens; `None` when none was.
    fn form_body(&mut self, body: &[u8], chunked: bool) -> Option<Vec<u8>> {
        if !chunked {
            return self.params(body, b'&', true);
        }
        // Join the chunks' data, redact it, and put it back where each piece came from. Past
        // where the chunked coding breaks, the rest counts as data: searched, not let through.
        let decoded = framing::chunked_data(body);
        let mut pieces = decoded.data;
        if let ChunkedEnd::Malformed(at) = decoded.end {
            pieces.push(at..body.len());
        }
        let mut joined = Vec::with_capacity(body.len());
        for r in &pieces {
            joined.extend_from_slice(body.get(r.clone())?);
        }
        let redacted = self.params(&joined, b'&', true)?;
        let mut out = body.to_vec();
        let mut at = 0;
        for r in pieces {
            let len = r.len();
            out.get_mut(r)?.copy_from_slice(redacted.get(at..at + len)?);
            at += len;
        }
        Some(out)
    }
}

/// Whether a request body is a form, and how it is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FormBody {
    No,
    Plain,
    Chunked,
}

/// `(value, trailing whitespace)`.
fn split_trailing_ws(value: &[u8]) -> (&[u8], &[u8]) {
    let keep = value.len()
        - value
            .iter()
            .rev()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
    value.split_at(keep)
}

/// Percent-decoding as forms and queries use it (`+` is a space); bad escapes stay as they are.
fn percent_decode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        match text[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let byte = text
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(b) = byte {
                    out.push(b);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn redactor(args: RedactArgs) -> Redactor {
        Redactor::with_key(&args, &Key::from_bytes(b"0123456789abcdef0123")).unwrap()
    }

    fn msg(bytes: &[u8]) -> Message {
        let head_len = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(bytes.len(), |p| p + 4);
        let addr: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        Message {
            conn: 1,
            index: 0,
            client: addr,
            server: addr,
            first_ts_ns: 0,
            last_ts_ns: 0,
            bytes: Bytes::copy_from_slice(bytes),
            head_len: head_len as u32,
            body_len: (bytes.len() - head_len) as u64,
            truncation: None,
            external_id: None,
        }
    }

    fn redact(r: &mut Redactor, bytes: &[u8], request: bool) -> Message {
        let mut m = msg(bytes);
        r.message(&mut m, request);
        assert_eq!(
            &m.bytes[m.head_len as usize - 4..m.head_len as usize],
            b"\r\n\r\n",
            "head_len follows the head"
        );
        m
    }

    fn text(m: &Message) -> String {
        String::from_utf8_lossy(&m.bytes).into_owned()
    }

    /// The token the redactor makes for a value, to check exact output.
    fn token_of(value: &[u8]) -> String {
        let mut r = redactor(RedactArgs::default());
        String::from_utf8(r.token(value)).unwrap()
    }

    #[test]
    fn headers_are_replaced_whole_and_equal_values_hash_equal() {
        let mut r = redactor(RedactArgs {
            headers: vec!["X-Api-Key".into()],
            ..Default::default()
        });
        let a = redact(
            &mut r,
            b"GET / HTTP/1.1\r\nHost: a\r\nx-api-key:  s3cr3t-value \r\n\r\n",
            true,
        );
        let t = token_of(b"s3cr3t-value");
        assert_eq!(
            text(&a),
            format!("GET / HTTP/1.1\r\nHost: a\r\nx-api-key:  {t} \r\n\r\n")
        );
        let b = redact(
            &mut r,
            b"HTTP/1.1 200 OK\r\nX-API-KEY: s3cr3t-value\r\nContent-Length: 2\r\n\r\nok",
            false,
        );
        assert_eq!(
            text(&b),
            format!("HTTP/1.1 200 OK\r\nX-API-KEY: {t}\r\nContent-Length: 2\r\n\r\nok")
        );
        assert_eq!(
            r.stats(),
            RedactStats {
                values: 2,
                messages: 2
            }
        );
        assert_eq!(t.len(), PREFIX.len() + 24);
    }

    #[test]
    fn default_set_keeps_schemes_cookie_names_and_attributes() {
        let mut r = redactor(RedactArgs {
            default: true,
            ..Default::default()
        });
        let m = redact(
            &mut r,
            b"GET /a HTTP/1.1\r\nAuthorization: Bearer tok.en\r\nCookie: sid=abc; theme=dark\r\n\r\n",
            true,
        );
        assert_eq!(
            text(&m),
            format!(
                "GET /a HTTP/1.1\r\nAuthorization: Bearer {}\r\nCookie: sid={}; theme={}\r\n\r\n",
                token_of(b"tok.en"),
                token_of(b"abc"),
                token_of(b"dark")
            )
        );
        let m = redact(
            &mut r,
            b"HTTP/1.1 200 OK\r\nSet-Cookie: sid=abc; Path=/; HttpOnly\r\n\r\n",
            false,
        );
        assert_eq!(
            text(&m),
            format!(
                "HTTP/1.1 200 OK\r\nSet-Cookie: sid={}; Path=/; HttpOnly\r\n\r\n",
                token_of(b"abc")
            )
        );
    }

    #[test]
    fn named_cookies_only() {
        let mut r = redactor(RedactArgs {
            cookies: vec!["SID".into()],
            ..Default::default()
        });
        let m = redact(
            &mut r,
            b"GET / HTTP/1.1\r\nCookie: theme=dark; sid=abc\r\n\r\n",
            true,
        );
        assert_eq!(
            text(&m),
            format!(
                "GET / HTTP/1.1\r\nCookie: theme=dark; sid={}\r\n\r\n",
                token_of(b"abc")
            )
        );
    }

    #[test]
    fn query_parameters_in_targets_and_url_fields() {
        let mut r = redactor(RedactArgs {
            params: vec!["token".into(), "api_key".into()],
            ..Default::default()
        });
        let m = redact(
            &mut r,
            b"GET /x?a=1&token=se%20cret&api%5Fkey=k#frag HTTP/1.1\r\nReferer: http://h/p?token=se+cret\r\n\r\n",
            true,
        );
        // Percent-decoded before hashing: "se%20cret" and "se+cret" are one secret.
        let t = token_of(b"se cret");
        assert_eq!(
            text(&m),
            format!(
                "GET /x?a=1&token={t}&api%5Fkey={}#frag HTTP/1.1\r\nReferer: http://h/p?token={t}\r\n\r\n",
                token_of(b"k")
            )
        );
        // HTTP/0.9: the target runs to the end of the line.
        let mut m = msg(b"GET /x?token=abc\r\n");
        r.message(&mut m, true);
        assert_eq!(text(&m), format!("GET /x?token={}\r\n", token_of(b"abc")));
    }

    #[test]
    fn form_bodies_keep_their_length() {
        let mut r = redactor(RedactArgs {
            params: vec!["password".into()],
            ..Default::default()
        });
        let body = b"user=ann&password=hunter2&x=1";
        let mut req = b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 29\r\n\r\n".to_vec();
        req.extend_from_slice(body);
        let m = redact(&mut r, &req, true);
        let got = m.body();
        assert_eq!(got.len(), body.len());
        assert!(got.starts_with(b"user=ann&password="));
        assert!(got.ends_with(b"&x=1"));
        assert!(!text(&m).contains("hunter2"));
        // Chunked, with the secret split across chunks.
        let mut req = b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        req.extend_from_slice(b"e\r\nuser=ann&passw\r\n9\r\nord=hunte\r\n6\r\nr2&x=1\r\n0\r\n\r\n");
        let before = req.len();
        let m = redact(&mut r, &req, true);
        assert_eq!(m.bytes.len(), before);
        let t = text(&m);
        assert!(!t.contains("hunte") && !t.contains("r2&"), "{t}");
        assert!(
            t.contains("\r\n0\r\n\r\n") && t.contains("\r\n9\r\nord="),
            "{t}"
        );
        // Not a form: untouched.
        let plain = b"POST /p?q=1 HTTP/1.1\r\nContent-Type: text/plain\r\n\r\npassword=x";
        let m = redact(&mut r, plain, true);
        assert_eq!(&m.bytes[..], &plain[..]);
    }

    #[test]
    fn chunked_forms_are_read_as_the_framer_reads_them() {
        let mut r = redactor(RedactArgs {
            params: vec!["password".into()],
            ..Default::default()
        });
        let head = b"POST /login HTTP/1.1\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n";
        // Extensions, a bare LF and a trailer: only chunk data is searched and changed.
        let body = b"b;x=\"a=b\"\r\npassword=hu\r\n5\nnter2\n0\r\nX-T: password=no\r\n\r\n";
        let m = redact(&mut r, &[head.as_slice(), body].concat(), true);
        let got = String::from_utf8_lossy(m.body()).into_owned();
        assert_eq!(got.len(), body.len());
        assert!(!got.contains("hu\r\n") && !got.contains("nter2"), "{got}");
        assert!(
            got.starts_with("b;x=\"a=b\"\r\npassword=")
                && got.ends_with("\n0\r\nX-T: password=no\r\n\r\n"),
            "{got}"
        );
        // Broken coding after the first chunk: the rest is searched, not let through.
        let body = b"2\r\na=\r\nzz&password=hunter2";
        let m = redact(&mut r, &[head.as_slice(), body].concat(), true);
        let got = String::from_utf8_lossy(m.body()).into_owned();
        assert_eq!(got.len(), body.len());
        assert!(!got.contains("hunter2"), "{got}");
    }

    #[test]
    fn folded_values_are_swallowed_and_broken_lines_survive() {
        let mut r = redactor(RedactArgs {
            headers: vec!["secret".into()],
            ..Default::default()
        });
        let m = redact(
            &mut r,
            b"GET / HTTP/1.1\r\nSecret: part1\r\n  part2\r\nno colon here\r\nA: b\r\n\r\n",
            true,
        );
        assert_eq!(
            text(&m),
            format!(
                "GET / HTTP/1.1\r\nSecret: {}\r\nno colon here\r\nA: b\r\n\r\n",
                token_of(b"part1  part2")
            )
        );
    }

    #[test]
    fn head_cut_short_still_loses_the_secret() {
        let mut r = redactor(RedactArgs {
            headers: vec!["authorization".into()],
            ..Default::default()
        });
        let mut m = msg(b"GET / HTTP/1.1\r\nAuthorization: abcdef");
        r.message(&mut m, true);
        assert!(!text(&m).contains("abcdef"));
    }

    #[test]
    fn key_ids_differ_by_key_and_never_show_it() {
        let a = Key::from_bytes(b"0123456789abcdef");
        let b = Key::from_bytes(b"0123456789abcdeg");
        assert_eq!(a.id().len(), 16);
        assert_ne!(a.id(), b.id());
        assert_eq!(a.id(), Key::from_bytes(b"0123456789abcdef").id());
    }

    #[test]
    fn key_files_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "tooshort\n").unwrap();
        let e = Key::from_file(&short).err().unwrap();
        assert!(
            e.to_string().contains("8 bytes; a key needs at least 16"),
            "{e}"
        );
        let good = dir.path().join("good");
        std::fs::write(&good, "0123456789abcdef\n").unwrap();
        assert_eq!(
            Key::from_file(&good).unwrap().id(),
            Key::from_bytes(b"0123456789abcdef").id()
        );
        let args = RedactArgs {
            key_file: Some(good),
            ..Default::default()
        };
        assert!(matches!(args.build(), Err(RedactError::KeyWithoutRules)));
    }

    proptest::proptest! {
        /// Whatever the bytes, redaction never panics, keeps the body's length, and the secret
        /// value of a named field is gone.
        #[test]
        fn never_panics_and_secret_is_gone(
            prefix in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
            secret in "[a-z]{12,20}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..64),
        ) {
            let mut r = redactor(RedactArgs {
                headers: vec!["x-secret".into()],
                params: vec!["p".into()],
                default: true,
                ..Default::default()
            });
            let mut bytes = prefix.clone();
            bytes.extend_from_slice(b"\r\nX-Secret: ");
            bytes.extend_from_slice(secret.as_bytes());
            bytes.extend_from_slice(b"\r\n\r\n");
            let head_len = bytes.len();
            bytes.extend_from_slice(&body);
            let mut m = msg(&bytes);
            m.head_len = head_len as u32;
            r.message(&mut m, true);
            proptest::prop_assert_eq!(m.body(), &body[..]);
            let head = String::from_utf8_lossy(m.head()).into_owned();
            let secret_line = format!("X-Secret: {}", secret);
            proptest::prop_assert!(!head.contains(&secret_line));
            let mut any = msg(&prefix);
            r.message(&mut any, true);
            r.message(&mut any, false);
        }
    }
}
