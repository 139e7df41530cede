//! Path patterns: `--diff-ignore '[SCOPE::]PATH'` (known differences, neither hashed nor reported)
//! and `--diff-unordered PATH` (arrays whose order is not compared) share this grammar.
//!
//! PATH is a path as the report prints it, matching that path and everything under it:
//! `$.a.b`, `$.items[].price`, `$["odd key"]`, `$.*.id` (`*` = any one key), `$..request_id`
//! (`..` = at any depth), `header.x-served-by` (names case-insensitive), `header.set-cookie.SID`,
//! `status`, `body`. SCOPE is an endpoint as gates name it (`GET /api/orders/{id}`).

use regex::Regex;
use thiserror::Error;

use crate::exit::{Classify, Status};

/// A path pattern that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{pattern:?}: {problem}")]
pub struct IgnoreError {
    /// The pattern as typed.
    pub pattern: String,
    /// What is wrong with it.
    pub problem: String,
}

impl Classify for IgnoreError {
    fn status(&self) -> Status {
        Status::BadInput
    }
}

#[derive(Debug, Clone)]
struct Rule {
    text: String,
    scope: Option<String>,
    regex: Regex,
}

/// A parsed set of path patterns, each optionally scoped to one endpoint.
#[derive(Debug, Clone, Default)]
pub struct IgnoreSet {
    rules: Vec<Rule>,
}

const ANY_SEGMENT: &str = r#"(?:\.[^.\[]+|\[\]|\["(?:[^"\\]|\\.)*"\])"#;
const SUBTREE_END: &str = r"(?:$|[.\[])";

impl IgnoreSet {
    /// The empty set: nothing ignored.
    pub fn new() -> IgnoreSet {
        IgnoreSet::default()
    }

    /// Parses every pattern; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<IgnoreSet, IgnoreError> {
        let mut set = IgnoreSet::new();
        for p in patterns {
            set.add(p.as_ref())?;
        }
        Ok(set)
    }

    /// Adds one `[SCOPE::]PATH` pattern.
    pub fn add(&mut self, pattern: &str) -> Result<(), IgnoreError> {
        let fail = |problem: &str| IgnoreError {
            pattern: pattern.to_owned(),
            problem: problem.to_owned(),
        };
        let trimmed = pattern.trim();
        let (scope, path) = split_scope(trimmed);
        if scope.is_some_and(str::is_empty) {
            return Err(fail("empty scope before '::'"));
        }
        if path.is_empty() {
            return Err(fail(
                "empty path: expected $.json.path, header.NAME, status or body",
            ));
        }
        let source = compile(path).map_err(|p| fail(&p))?;
        let regex = Regex::new(&source).map_err(|e| fail(&e.to_string()))?;
        self.rules.push(Rule {
            text: trimmed.to_owned(),
            scope: scope.map(str::to_owned),
            regex,
        });
        Ok(())
    }

    /// True when a pattern for every endpoint or for `endpoint` covers `path`.
    pub fn matches(&self, endpoint: Option<&str>, path: &str) -> bool {
        self.rules.iter().any(|r| {
            r.scope.as_deref().is_none_or(|s| Some(s) == endpoint) && r.regex.is_match(path)
        })
    }

    /// The patterns as typed, for the report.
    pub fn patterns(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.text.as_str())
    }

    /// True when there is no pattern.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

/// Splits at the last `::` after which a path begins.
fn split_scope(pattern: &str) -> (Option<&str>, &str) {
    let starts_path = |rest: &str| {
        rest.starts_with('$') || rest.starts_with("header.") || rest == "status" || rest == "body"
    };
    let mut at = None;
    let mut from = 0;
    while let Some(p) = pattern[from..].find("::") {
        let i = from + p;
        if starts_path(pattern[i + 2..].trim_start()) {
            at = Some(i);
        }
        from = i + 2;
    }
    match at {
        Some(i) => (Some(pattern[..i].trim()), pattern[i + 2..].trim()),
        None => (None, pattern),
    }
}

/// The regex of one PATH, anchored, matching the path and its subtree.
fn compile(path: &str) -> Result<String, String> {
    if path == "status" || path == "body" {
        return Ok(format!("^{path}$"));
    }
    if let Some(name) = path.strip_prefix("header.") {
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err("expected a header name after 'header.'".into());
        }
        let (field, cookie) = match name.split_once('.') {
            Some((f, c)) => (f.to_ascii_lowercase(), Some(c)),
            None => (name.to_ascii_lowercase(), None),
        };
        let mut re = format!("^header\\.{}", regex::escape(&field));
        if let Some(c) = cookie {
            re.push_str(&format!("\\.{}", regex::escape(c)));
        }
        re.push_str("(?:$|\\.)");
        return Ok(re);
    }
    let Some(rest) = path.strip_prefix('$') else {
        return Err("a path starts with '$' (JSON), 'header.', or is 'status' or 'body'".into());
    };
    let chars: Vec<char> = rest.chars().collect();
    let mut re = String::from("^\\$");
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '.' => {
                let deep = chars.get(i + 1) == Some(&'.');
                if deep {
                    re.push_str(ANY_SEGMENT);
                    re.push('*');
                    i += 1;
                }
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && chars[end] != '.' && chars[end] != '[' {
                    end += 1;
                }
                let name: String = chars[start..end].iter().collect();
                if name.is_empty() {
                    if deep && chars.get(end) == Some(&'[') {
                        i = end;
                        continue;
                    }
                    return Err(format!("empty key at column {}", start + 2));
                }
                if name == "*" {
                    re.push_str(r#"(?:\.[^.\[]+|\["(?:[^"\\]|\\.)*"\])"#);
                } else {
                    re.push_str("\\.");
                    re.push_str(&regex::escape(&name));
                }
                i = end;
            }
            '[' => {
                if chars.get(i + 1) == Some(&']') {
                    re.push_str("\\[\\]");
                    i += 2;
                } else if chars.get(i + 1) == Some(&'"') {
                    let close = (i + 2..chars.len())
                        .find(|&j| chars[j] == '"' && chars[j - 1] != '\\')
                        .filter(|&j| chars.get(j + 1) == Some(&']'))
                        .ok_or_else(|| format!("unclosed [\"key\"] at column {}", i + 2))?;
                    let quoted: String = chars[i + 1..=close].iter().collect();
                    let key: String = serde_json::from_str(&quoted)
                        .map_err(|_| format!("bad quoted key at column {}", i + 2))?;
                    let canonical = serde_json::Value::String(key).to_string();
                    re.push_str(&regex::escape(&format!("[{canonical}]")));
                    i = close + 2;
                } else {
                    return Err(format!(
                        "expected [] (any element) or [\"key\"] at column {}",
                        i + 2
                    ));
                }
            }
            c => {
                return Err(format!(
                    "unexpected {c:?} at column {}: segments are .key, [] or [\"key\"]",
                    i + 2
                ));
            }
        }
    }
    re.push_str(SUBTREE_END);
    Ok(re)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(p: &[&str]) -> IgnoreSet {
        IgnoreSet::parse(p).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_path_covers_itself_and_its_subtree_only() {
        let s = set(&["$.meta"]);
        assert!(s.matches(None, "$.meta"));
        assert!(s.matches(None, "$.meta.generated_at"));
        assert!(s.matches(None, "$.meta[]"));
        assert!(!s.matches(None, "$.metadata"));
        assert!(!s.matches(None, "$.x.meta"));
    }

    #[test]
    fn any_depth_and_any_key() {
        let s = set(&["$..request_id"]);
        assert!(s.matches(None, "$.request_id"));
        assert!(s.matches(None, "$.a[].b.request_id"));
        assert!(s.matches(None, "$[\"x y\"].request_id"));
        assert!(!s.matches(None, "$.a.request_ids"));
        assert!(!s.matches(None, "$.a.my_request_id"));
        let s = set(&["$.*.id"]);
        assert!(s.matches(None, "$.a.id"));
        assert!(!s.matches(None, "$.a.b.id"));
        let s = set(&["$.items[].price"]);
        assert!(s.matches(None, "$.items[].price"));
        assert!(!s.matches(None, "$.items.price"));
    }

    #[test]
    fn quoted_keys_match_as_printed() {
        let s = set(&[r#"$["odd key"].x"#]);
        assert!(s.matches(None, r#"$["odd key"].x"#));
        assert!(!s.matches(None, "$.odd.x"));
    }

    #[test]
    fn headers_case_insensitive_and_cookies() {
        let s = set(&["header.X-Served-By", "header.set-cookie.SID"]);
        assert!(s.matches(None, "header.x-served-by"));
        assert!(s.matches(None, "header.set-cookie.SID"));
        assert!(!s.matches(None, "header.set-cookie.other"));
        assert!(!s.matches(None, "header.x-served-by-2"));
    }

    #[test]
    fn scopes_limit_a_pattern_to_one_endpoint() {
        let s = set(&["GET /api/orders/{id}::$.eta", "status"]);
        assert!(s.matches(Some("GET /api/orders/{id}"), "$.eta"));
        assert!(!s.matches(Some("GET /api/users/{id}"), "$.eta"));
        assert!(!s.matches(None, "$.eta"));
        assert!(s.matches(Some("GET /x"), "status"));
        assert_eq!(s.patterns().count(), 2);
    }

    #[test]
    fn bad_patterns_say_what_is_wrong() {
        for (p, needle) in [
            ("", "empty path"),
            ("::$.a", "empty scope"),
            ("a.b", "starts with '$'"),
            ("$.a..", "empty key"),
            ("$.a[0]", "expected []"),
            ("$.a[\"x]", "unclosed"),
            ("$a", "unexpected 'a'"),
            ("header.", "header name"),
        ] {
            let e = IgnoreSet::parse(&[p]).err().map(|e| e.to_string());
            assert!(
                e.as_deref().is_some_and(|e| e.contains(needle)),
                "{p:?}: {e:?}"
            );
        }
    }
}
