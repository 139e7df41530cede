//! Request filters shared by `record` and `replay`: which requests to keep, by method, path and
//! header. The clap arguments ([`FilterArgs`]) are validated once into a [`Filter`], which then
//! judges stored requests by their head bytes.
//!
//! Rules: a request is kept when its method is one of `--method` (any method when none is given;
//! `--read-only` adds GET, HEAD and OPTIONS and makes the list apply), its request-target matches
//! every `--path` regex and no `--exclude-path` regex, and every `--header 'Name: REGEX'` finds a
//! field of that name (case-insensitive) whose value matches. Regexes match anywhere in the text
//! (anchor them with `^…$`) and are tried on the bytes as recorded.

use regex::bytes::Regex;

use crate::exit::UsageError;
use crate::http::framing::RequestHead;

/// The filter flags as the user typed them (flattened into `record` and `replay`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct FilterArgs {
    /// Keep only requests with this method (repeatable; case-sensitive, as on the wire).
    ///
    /// Example: --method GET --method HEAD
    #[arg(long = "method", value_name = "METHOD")]
    pub methods: Vec<String>,

    /// Keep only read-only requests: GET, HEAD and OPTIONS (with --method, their union).
    ///
    /// Example: --read-only
    #[arg(long)]
    pub read_only: bool,

    /// Keep only requests whose request-target matches this regex (repeatable: all must match).
    ///
    /// Example: --path '^/api/'
    #[arg(long = "path", value_name = "REGEX")]
    pub paths: Vec<String>,

    /// Leave out requests whose request-target matches this regex (repeatable).
    ///
    /// Example: --exclude-path '^/(health|metrics)'
    #[arg(long = "exclude-path", value_name = "REGEX")]
    pub exclude_paths: Vec<String>,

    /// Keep only requests with a header field NAME whose value matches REGEX (repeatable: all must
    /// match).
    ///
    /// Example: --header 'Content-Type: ^application/json'
    #[arg(long = "header", value_name = "NAME: REGEX")]
    pub headers: Vec<String>,
}

/// A validated request filter.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    methods: Vec<String>,
    paths: Vec<Regex>,
    exclude_paths: Vec<Regex>,
    headers: Vec<(String, Regex)>,
}

fn usage(flag: &str, problem: impl Into<String>) -> UsageError {
    UsageError::new(flag, problem)
}

fn compile(flag: &str, text: &str) -> Result<Regex, UsageError> {
    Regex::new(text).map_err(|e| usage(flag, format!("bad regex {text:?}: {e}")))
}

impl FilterArgs {
    /// Validates the flags into a filter; errors name the flag (exit status 2).
    pub fn build(&self) -> Result<Filter, UsageError> {
        let mut methods = self.methods.clone();
        if self.read_only {
            for m in ["GET", "HEAD", "OPTIONS"] {
                if !methods.iter().any(|x| x == m) {
                    methods.push(m.to_owned());
                }
            }
        }
        if let Some(bad) = methods
            .iter()
            .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(usage("--method", format!("not a method token: {bad:?}")));
        }
        let paths = self
            .paths
            .iter()
            .map(|p| compile("--path", p))
            .collect::<Result<_, _>>()?;
        let exclude_paths = self
            .exclude_paths
            .iter()
            .map(|p| compile("--exclude-path", p))
            .collect::<Result<_, _>>()?;
        let mut headers = Vec::new();
        for h in &self.headers {
            let Some((name, re)) = h.split_once(':') else {
                return Err(usage(
                    "--header",
                    format!("expected 'Name: REGEX', got {h:?}"),
                ));
            };
            let name = name.trim();
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(usage("--header", format!("bad field name in {h:?}")));
            }
            headers.push((name.to_owned(), compile("--header", re.trim())?));
        }
        Ok(Filter {
            methods,
            paths,
            exclude_paths,
            headers,
        })
    }
}

impl Filter {
    /// True when the filter keeps every request (no flag given).
    pub fn is_empty(&self) -> bool {
        self.methods.is_empty()
            && self.paths.is_empty()
            && self.exclude_paths.is_empty()
            && self.headers.is_empty()
    }

    /// Whether a request with this parsed head is kept.
    pub fn keeps(&self, head: &RequestHead<'_>) -> bool {
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == head.method) {
            return false;
        }
        if !self.paths.iter().all(|re| re.is_match(head.target)) {
            return false;
        }
        if self.exclude_paths.iter().any(|re| re.is_match(head.target)) {
            return false;
        }
        self.headers.iter().all(|(name, re)| {
            head.headers
                .iter()
                .any(|h| h.name.eq_ignore_ascii_case(name) && re.is_match(h.value))
        })
    }

    /// Whether a stored request (head, then body) is kept; a request whose head does not parse
    /// is kept only by an empty filter.
    pub fn keeps_bytes(&self, request: &[u8]) -> bool {
        if self.is_empty() {
            return true;
        }
        RequestHead::parse(request).is_ok_and(|head| self.keeps(&head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> FilterArgs {
        FilterArgs::default()
    }

    const GET: &[u8] =
        b"GET /api/users/7?x=1 HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n";
    const POST: &[u8] =
        b"POST /api/orders HTTP/1.1\r\nHost: a\r\ncontent-type: text/plain\r\nContent-Length: 2\r\n\r\nhi";
    const HEALTH: &[u8] = b"HEAD /health HTTP/1.1\r\nHost: a\r\n\r\n";

    #[test]
    fn empty_filter_keeps_everything_even_garbage() {
        let f = args().build().unwrap();
        assert!(f.is_empty());
        for r in [GET, POST, HEALTH, b"garbage".as_slice()] {
            assert!(f.keeps_bytes(r));
        }
    }

    #[test]
    fn methods_and_read_only() {
        let mut a = args();
        a.methods = vec!["POST".into()];
        let f = a.build().unwrap();
        assert_eq!(
            [GET, POST, HEALTH].map(|r| f.keeps_bytes(r)),
            [false, true, false]
        );
        let mut a = args();
        a.read_only = true;
        let f = a.build().unwrap();
        assert_eq!(
            [GET, POST, HEALTH].map(|r| f.keeps_bytes(r)),
            [true, false, true]
        );
        a.methods = vec!["POST".into()];
        let f = a.build().unwrap();
        assert_eq!(
            [GET, POST, HEALTH].map(|r| f.keeps_bytes(r)),
            [true, true, true]
        );
        assert!(!f.keeps_bytes(b"garbage"));
    }

    #[test]
    fn paths_and_exclusions() {
        let mut a = args();
        a.paths = vec!["^/api/".into()];
        a.exclude_paths = vec!["orders".into()];
        let f = a.build().unwrap();
        assert_eq!(
            [GET, POST, HEALTH].map(|r| f.keeps_bytes(r)),
            [true, false, false]
        );
    }

    #[test]
    fn headers_match_any_field_of_the_name_case_insensitively() {
        let mut a = args();
        a.headers = vec!["Content-Type: ^text/".into()];
        let f = a.build().unwrap();
        assert_eq!(
            [GET, POST, HEALTH].map(|r| f.keeps_bytes(r)),
            [false, true, false]
        );
    }

    #[test]
    fn bad_flags_name_the_flag() {
        let mut a = args();
        a.paths = vec!["(".into()];
        let e = a.build().unwrap_err();
        assert!(
            format!("{e:#}").starts_with("--path: bad regex \"(\""),
            "{e:#}"
        );
        let mut a = args();
        a.headers = vec!["no colon".into()];
        assert!(format!("{:#}", a.build().unwrap_err()).starts_with("--header: expected"));
        let mut a = args();
        a.methods = vec!["GE T".into()];
        assert!(format!("{:#}", a.build().unwrap_err()).starts_with("--method: not a method"));
        assert_eq!(
            crate::exit::classify(&a.build().unwrap_err().into()),
            crate::exit::Status::BadInput
        );
    }
}
