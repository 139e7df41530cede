//! Header rules: which fields are compared and how each is normalized before it is hashed.
//!
//! Names are lower-cased and repeated fields joined in order (`header.NAME`). Never compared:
//! framing and hop-by-hop fields, fields that mean "now", and values redacted at capture.
//! Normalized: Content-Type (lower-case, no spaces, parameters sorted), Cache-Control and Vary
//! (tokens lower-cased and sorted), Location (scheme and host dropped when they are the request's
//! own host), Set-Cookie (one path per cookie name, the value and the attributes but `Expires`).

use std::collections::BTreeMap;

use xxhash_rust::xxh3::xxh3_64;

use crate::http::framing::Header;
use crate::redact;

/// Fields never compared: framing, hop-by-hop, "now".
const SKIPPED: [&str; 11] = [
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "te",
    "trailer",
    "upgrade",
    "date",
    "age",
    "expires",
    "proxy-connection",
];

/// True for a field that is never compared.
pub(crate) fn skipped(lower_name: &str) -> bool {
    SKIPPED.contains(&lower_name) || lower_name.starts_with("proxy-")
}

/// The compared header paths of a head with the hashes of their normalized values, sorted by path.
pub(crate) fn normalize(headers: &[Header<'_>], request_host: Option<&[u8]>) -> Vec<(String, u64)> {
    let mut fields: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    for h in headers {
        let name = h.name.to_ascii_lowercase();
        if skipped(&name) || h.value.starts_with(redact::PREFIX.as_bytes()) {
            continue;
        }
        if name == "set-cookie" {
            let (cookie, normalized) = set_cookie(h.value);
            join(
                fields
                    .entry(format!("header.set-cookie.{cookie}"))
                    .or_default(),
                &normalized,
            );
            continue;
        }
        let value = match name.as_str() {
            "content-type" => content_type(h.value),
            "cache-control" | "vary" => tokens(h.value),
            "location" => location(h.value, request_host),
            _ => h.value.to_vec(),
        };
        join(fields.entry(format!("header.{name}")).or_default(), &value);
    }
    fields
        .into_iter()
        .map(|(path, value)| (path, xxh3_64(&value)))
        .collect()
}

fn join(into: &mut Vec<u8>, value: &[u8]) {
    if !into.is_empty() {
        into.extend_from_slice(b", ");
    }
    into.extend_from_slice(value);
}

/// `Text/HTML; Charset=UTF-8; a=b` → `text/html;a=b;charset=utf-8`.
pub(crate) fn content_type(value: &[u8]) -> Vec<u8> {
    let lower = String::from_utf8_lossy(value).to_ascii_lowercase();
    let mut parts = lower.split(';').map(|p| p.replace([' ', '\t'], ""));
    let media = parts.next().unwrap_or_default();
    let mut params: Vec<String> = parts.filter(|p| !p.is_empty()).collect();
    params.sort();
    let mut out = media;
    for p in params {
        out.push(';');
        out.push_str(&p);
    }
    out.into_bytes()
}

/// A comma-separated token list, lower-cased, trimmed and sorted.
fn tokens(value: &[u8]) -> Vec<u8> {
    let lower = String::from_utf8_lossy(value).to_ascii_lowercase();
    let mut list: Vec<&str> = lower
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    list.sort_unstable();
    list.join(",").into_bytes()
}

/// An absolute Location on the request's own host loses its scheme and host.
fn location(value: &[u8], request_host: Option<&[u8]>) -> Vec<u8> {
    let text = String::from_utf8_lossy(value);
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    if let (Some(rest), Some(host)) = (rest, request_host) {
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        if rest.as_bytes()[..end].eq_ignore_ascii_case(host) {
            let path = &rest[end..];
            return if path.is_empty() {
                b"/".to_vec()
            } else {
                path.as_bytes().to_vec()
            };
        }
    }
    value.to_vec()
}

/// The cookie's name, and its value with its attributes (lower-cased names, sorted, `Expires`
/// left out: it is a time).
fn set_cookie(value: &[u8]) -> (String, Vec<u8>) {
    let text = String::from_utf8_lossy(value);
    let mut parts = text.split(';');
    let first = parts.next().unwrap_or_default();
    let (name, cookie_value) = first.split_once('=').unwrap_or((first, ""));
    let mut attrs: Vec<String> = parts
        .map(|a| {
            let a = a.trim();
            match a.split_once('=') {
                Some((k, v)) => format!("{}={}", k.trim().to_ascii_lowercase(), v.trim()),
                None => a.to_ascii_lowercase(),
            }
        })
        .filter(|a| !a.is_empty() && !a.starts_with("expires="))
        .collect();
    attrs.sort();
    let mut out = cookie_value.trim().as_bytes().to_vec();
    for a in attrs {
        out.push(b';');
        out.extend_from_slice(a.as_bytes());
    }
    (name.trim().to_owned(), out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h<'a>(name: &'a str, value: &'a str) -> Header<'a> {
        Header {
            name,
            value: value.as_bytes(),
        }
    }

    fn paths(hs: &[Header<'_>], host: Option<&str>) -> Vec<(String, u64)> {
        normalize(hs, host.map(str::as_bytes))
    }

    #[test]
    fn framing_hop_by_hop_now_and_redacted_fields_are_not_compared() {
        let got = paths(
            &[
                h("Date", "Tue, 08 Dec 2026 00:00:00 GMT"),
                h("Content-Length", "12"),
                h("Transfer-Encoding", "chunked"),
                h("Connection", "keep-alive"),
                h("Keep-Alive", "timeout=5"),
                h("Age", "3"),
                h("Expires", "0"),
                h("Proxy-Authenticate", "x"),
                h("X-Api-Key", "reel-redacted-abc"),
                h("Server", "nginx"),
            ],
            None,
        );
        let names: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["header.server"]);
    }

    #[test]
    fn names_lower_cased_and_repeats_joined_in_order() {
        let a = paths(&[h("X-A", "1"), h("x-a", "2")], None);
        let b = paths(&[h("x-a", "1, 2")], None);
        let c = paths(&[h("x-a", "2"), h("X-A", "1")], None);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn content_type_cache_control_and_vary_are_normalized() {
        assert_eq!(
            paths(
                &[h("Content-Type", "Application/JSON; Charset=UTF-8; v=2")],
                None
            ),
            paths(
                &[h("content-type", "application/json;v=2;charset=utf-8")],
                None
            )
        );
        assert_ne!(
            paths(&[h("Content-Type", "application/json")], None),
            paths(&[h("Content-Type", "text/plain")], None)
        );
        assert_eq!(
            paths(&[h("Cache-Control", "no-cache, Max-Age=0")], None),
            paths(&[h("Cache-Control", "max-age=0,no-cache")], None)
        );
        assert_eq!(
            paths(&[h("Vary", "Accept-Encoding, Origin")], None),
            paths(&[h("Vary", "origin,accept-encoding")], None)
        );
    }

    #[test]
    fn location_on_the_request_host_is_compared_as_a_path() {
        let prod = paths(
            &[h("Location", "https://shop.example.com/cart?x=1")],
            Some("shop.example.com"),
        );
        let staging = paths(
            &[h("Location", "http://staging:8080/cart?x=1")],
            Some("staging:8080"),
        );
        let relative = paths(&[h("Location", "/cart?x=1")], None);
        assert_eq!(prod, staging);
        assert_eq!(prod, relative);
        let elsewhere = paths(
            &[h("Location", "https://login.example.com/cart?x=1")],
            Some("shop.example.com"),
        );
        assert_ne!(prod, elsewhere);
    }

    #[test]
    fn set_cookie_is_one_path_per_cookie_without_expires() {
        let a = paths(
            &[
                h(
                    "Set-Cookie",
                    "SID=abc; Path=/; Expires=Wed, 09 Dec 2026 10:00:00 GMT; HttpOnly",
                ),
                h("Set-Cookie", "lang=en; Path=/"),
            ],
            None,
        );
        let b = paths(
            &[
                h("Set-Cookie", "lang=en; path=/"),
                h(
                    "Set-Cookie",
                    "SID=abc; httponly; Expires=Thu, 10 Dec 2026 10:00:00 GMT; Path=/",
                ),
            ],
            None,
        );
        assert_eq!(a, b);
        let names: Vec<&str> = a.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(names, ["header.set-cookie.SID", "header.set-cookie.lang"]);
        let c = paths(
            &[h("Set-Cookie", "SID=abc; Path=/; Secure; HttpOnly")],
            None,
        );
        assert_ne!(a[0], c[0], "an attribute more is a difference");
    }
}
