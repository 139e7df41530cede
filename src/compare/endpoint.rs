//! Endpoint templates: `METHOD /path/{id}`, the unit every per-endpoint figure is grouped by.
//!
//! Path segments that are identifiers — all digits, UUIDs, long hex strings, long base64-like
//! tokens — fold to `{id}`; the query and fragment are left out. User rules (`--endpoint-rule
//! 'REGEX=>NAME'`) are tried first, in order: the first whose regex matches the path names it.

use regex::Regex;

/// A user rule: paths matching `pattern` are named `name` (`$1`, `${name}` expand from the match).
#[derive(Debug, Clone)]
pub struct EndpointRule {
    pattern: Regex,
    name: String,
}

impl std::str::FromStr for EndpointRule {
    type Err = String;

    /// Parses `REGEX=>NAME`, e.g. `^/static/=>/static/*`.
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (pattern, name) = spec
            .split_once("=>")
            .ok_or_else(|| format!("expected 'REGEX=>NAME', got {spec:?}"))?;
        if name.is_empty() {
            return Err(format!("empty NAME in {spec:?}"));
        }
        let pattern = Regex::new(pattern).map_err(|e| format!("bad regex {pattern:?}: {e}"))?;
        Ok(EndpointRule {
            pattern,
            name: name.to_string(),
        })
    }
}

/// Turns requests into endpoint templates.
#[derive(Debug, Clone, Default)]
pub struct Templater {
    rules: Vec<EndpointRule>,
}

impl Templater {
    /// A templater that tries `rules` in order before the built-in folding.
    pub fn new(rules: Vec<EndpointRule>) -> Self {
        Templater { rules }
    }

    /// The endpoint template of a request: `METHOD /path/{id}`.
    pub fn template(&self, method: &str, target: &str) -> String {
        let path = path_of(target);
        for rule in &self.rules {
            if let Some(caps) = rule.pattern.captures(path) {
                let mut named = String::new();
                caps.expand(&rule.name, &mut named);
                return format!("{method} {named}");
            }
        }
        let mut out = String::with_capacity(method.len() + 1 + path.len());
        out.push_str(method);
        out.push(' ');
        if !path.starts_with('/') {
            // `*` (OPTIONS *) or an authority (CONNECT host:port): keep as is.
            out.push_str(path);
            return out;
        }
        for segment in path[1..].split('/') {
            out.push('/');
            if is_identifier(segment) {
                out.push_str("{id}");
            } else {
                out.push_str(segment);
            }
        }
        out
    }
}

/// The path of a request-target: no query or fragment, no scheme and authority (absolute form).
fn path_of(target: &str) -> &str {
    let mut path = target;
    if let Some(rest) = path
        .strip_prefix("http://")
        .or_else(|| path.strip_prefix("https://"))
    {
        path = rest.find('/').map_or("/", |i| &rest[i..]);
    }
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let path = &path[..end];
    if path.is_empty() { "/" } else { path }
}

/// True for segments that name one instance rather than a kind of resource.
fn is_identifier(segment: &str) -> bool {
    if segment.is_empty() {
        return false;
    }
    let bytes = segment.as_bytes();
    if bytes.iter().all(u8::is_ascii_digit) {
        return true;
    }
    if is_uuid(bytes) {
        return true;
    }
    let hex = bytes.iter().all(u8::is_ascii_hexdigit);
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    if hex && bytes.len() >= 12 && digits > 0 {
        return true;
    }
    // base64 and base64url tokens (session ids, signed tokens): long, mixed letters and digits.
    let base64 = bytes
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'+' | b'=' | b'.'));
    let letters = bytes.iter().filter(|b| b.is_ascii_alphabetic()).count();
    base64 && bytes.len() >= 16 && digits > 0 && letters > 0
}

fn is_uuid(b: &[u8]) -> bool {
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(method: &str, target: &str) -> String {
        Templater::default().template(method, target)
    }

    #[test]
    fn identifiers_fold_to_id() {
        assert_eq!(t("GET", "/api/users/123"), "GET /api/users/{id}");
        assert_eq!(
            t("GET", "/o/550e8400-e29b-41d4-a716-446655440000/items"),
            "GET /o/{id}/items"
        );
        assert_eq!(t("GET", "/blob/5f2b9c1e8d7a6b4c"), "GET /blob/{id}");
        assert_eq!(t("GET", "/s/dGVzdDEyMzQ1Njc4OTBhYmNk"), "GET /s/{id}");
    }

    #[test]
    fn words_versions_and_short_tokens_stay() {
        assert_eq!(t("GET", "/api/v1/health"), "GET /api/v1/health");
        assert_eq!(
            t("GET", "/getUserProfileSettings"),
            "GET /getUserProfileSettings"
        );
        assert_eq!(t("GET", "/cafe/deadbeef"), "GET /cafe/deadbeef");
        assert_eq!(t("GET", "/a1b2"), "GET /a1b2");
    }

    #[test]
    fn query_fragment_and_authority_are_left_out() {
        assert_eq!(t("GET", "/search?q=1&page=2"), "GET /search");
        assert_eq!(t("GET", "http://example.com/x/42?y"), "GET /x/{id}");
        assert_eq!(t("GET", "http://example.com"), "GET /");
        assert_eq!(t("GET", ""), "GET /");
        assert_eq!(t("OPTIONS", "*"), "OPTIONS *");
        assert_eq!(t("CONNECT", "example.com:443"), "CONNECT example.com:443");
        assert_eq!(t("GET", "/a//b/"), "GET /a//b/");
    }

    #[test]
    fn rules_come_first_and_expand_groups() {
        let rules = vec![
            "^/static/=>/static/*".parse().unwrap(),
            r"^/u/(?P<who>[a-z]+)/\d+$=>/u/$who/{n}".parse().unwrap(),
        ];
        let t = Templater::new(rules);
        assert_eq!(t.template("GET", "/static/app.js?v=3"), "GET /static/*");
        assert_eq!(t.template("GET", "/u/bob/12"), "GET /u/bob/{n}");
        assert_eq!(t.template("GET", "/u/12"), "GET /u/{id}");
    }

    #[test]
    fn bad_rules_say_why() {
        assert!(
            "no-arrow"
                .parse::<EndpointRule>()
                .unwrap_err()
                .contains("REGEX=>NAME")
        );
        assert!(
            "(=>x"
                .parse::<EndpointRule>()
                .unwrap_err()
                .contains("bad regex")
        );
    }
}
