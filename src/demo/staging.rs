//! The demo's staging: a hyper HTTP/1.1 server on loopback that answers the sample's routes the
//! way the shop behind it would — the status production answered for the route, bodies of
//! realistic size, and a latency per route drawn from a seeded log-normal (heavier tails on
//! search) — in two releases:
//!
//! - **v1**, the current release (the demo's baseline);
//! - **v2**, the candidate, with two deliberate regressions: `GET /api/users/{id}/orders` 40%
//!   slower, and `POST /api/orders` answering `503` to 6% of orders.
//!
//! Latencies are drawn per route from one seeded sequence per route, the same in both releases:
//! the n-th request of a route waits the same in v1 and v2 (times the regression), so the
//! routes v2 did not change differ only by the machine's own jitter, as on identical hardware.
//! Waits are `std::thread::sleep`s on tokio's blocking pool: tokio's timer would round every wait
//! up to its millisecond tick.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};

use super::DemoError;

/// Which release a server plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// The current release: the baseline.
    V1,
    /// The candidate, with [`REGRESSIONS`].
    V2,
}

impl Release {
    /// `v1` or `v2`.
    pub fn name(self) -> &'static str {
        match self {
            Release::V1 => "v1",
            Release::V2 => "v2",
        }
    }
}

/// v2's deliberate regressions, as the demo tells them.
pub const REGRESSIONS: [&str; 2] = [
    "GET /api/users/{id}/orders is 40% slower (a lost index)",
    "POST /api/orders answers 503 to 6% of orders (a flaky payment client)",
];

/// How much slower v2 serves `GET /api/users/{id}/orders`.
const ORDERS_SLOWDOWN: f64 = 1.4;
/// Share of `POST /api/orders` that v2 answers 503.
const ORDER_FAILURES: f64 = 0.06;
/// Seed of the latency draws (both releases).
const SEED: u64 = 0x5eed_0fde_b0b0;

/// The routes of the shop, as the sample's nginx served them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Health,
    User,
    UserDelete,
    UserOrders,
    Orders,
    OrderCreate,
    Search,
    Asset(usize),
    Admin,
    Legacy,
    NotFound,
    NotAllowed,
}

/// Number of routes, for the per-route draw counters ([`Route::index`]).
const ROUTES: usize = 11 + ASSETS.len();

impl Route {
    fn of(method: &Method, path: &str) -> Route {
        let get = *method == Method::GET || *method == Method::HEAD;
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let id = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        match segments.as_slice() {
            ["health"] if get => Route::Health,
            ["api", "users", n] if id(n) && *method == Method::DELETE => Route::UserDelete,
            ["api", "users", n] if id(n) && get => Route::User,
            ["api", "users", n, "orders"] if id(n) && get => Route::UserOrders,
            ["api", "orders"] if *method == Method::POST => Route::OrderCreate,
            ["api", "orders"] if get => Route::Orders,
            ["api", "search"] if get => Route::Search,
            ["api", "admin"] if get => Route::Admin,
            ["api", "legacy"] if get => Route::Legacy,
            ["static", name] if get => ASSETS
                .iter()
                .position(|a| a.name == *name)
                .map_or(Route::NotFound, Route::Asset),
            ["api", "users", n] if id(n) => Route::NotAllowed,
            ["health"] | ["api", "orders"] | ["api", "search"] => Route::NotAllowed,
            _ => Route::NotFound,
        }
    }

    fn index(self) -> usize {
        match self {
            Route::Health => 0,
            Route::User => 1,
            Route::UserDelete => 2,
            Route::UserOrders => 3,
            Route::Orders => 4,
            Route::OrderCreate => 5,
            Route::Search => 6,
            Route::Admin => 7,
            Route::Legacy => 8,
            Route::NotFound => 9,
            Route::NotAllowed => 10,
            Route::Asset(i) => 11 + i,
        }
    }

    /// v1's latency: median µs, log-normal spread, and a share of slow requests with their factor.
    fn latency(self) -> (f64, f64, f64, f64) {
        match self {
            Route::Health => (350.0, 0.25, 0.0, 1.0),
            Route::User => (1_800.0, 0.30, 0.01, 3.0),
            Route::UserDelete => (3_200.0, 0.30, 0.0, 1.0),
            Route::UserOrders => (3_500.0, 0.30, 0.01, 3.0),
            Route::Orders => (2_400.0, 0.30, 0.01, 3.0),
            Route::OrderCreate => (5_500.0, 0.35, 0.02, 3.0),
            Route::Search => (6_000.0, 0.50, 0.04, 5.0),
            Route::Asset(_) => (450.0, 0.30, 0.0, 1.0),
            Route::Admin => (900.0, 0.25, 0.0, 1.0),
            Route::Legacy | Route::NotFound | Route::NotAllowed => (300.0, 0.25, 0.0, 1.0),
        }
    }
}

/// A static file of the shop, the size and ETag nginx served it with in the sample.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    size: usize,
    etag: &'static str,
}

const ASSETS: [Asset; 3] = [
    Asset {
        name: "app.js",
        content_type: "application/javascript",
        size: 32_180,
        etag: "\"6b0c7e3a-7db4\"",
    },
    Asset {
        name: "style.css",
        content_type: "text/css",
        size: 9_980,
        etag: "\"6b0c7e3a-26fc\"",
    },
    Asset {
        name: "logo.png",
        content_type: "image/png",
        size: 6_000,
        etag: "\"6b0c7e3a-1770\"",
    },
];

/// splitmix64: one well-mixed 64-bit value per input.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A uniform value in (0, 1).
fn uniform(x: u64) -> f64 {
    ((x >> 11) as f64 + 0.5) / (1u64 << 53) as f64
}

/// The draws of the n-th request of a route: a standard normal, and two uniforms (tail, failure).
fn draws(route: usize, n: u64) -> (f64, f64, f64) {
    let base = mix(SEED ^ ((route as u64) << 40) ^ n);
    let (u1, u2) = (uniform(mix(base)), uniform(mix(base ^ 1)));
    let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
    (normal, uniform(mix(base ^ 2)), uniform(mix(base ^ 3)))
}

/// One release's application state.
struct App {
    release: Release,
    counters: [AtomicU64; ROUTES],
    assets: Vec<Bytes>,
}

/// What the handler decided for a request: the wait, then the answer.
struct Plan {
    wait: Duration,
    fail: bool,
}

impl App {
    fn new(release: Release) -> App {
        App {
            release,
            counters: std::array::from_fn(|_| AtomicU64::new(0)),
            assets: ASSETS.iter().map(asset_body).collect(),
        }
    }

    fn plan(&self, route: Route) -> Plan {
        let i = route.index();
        let n = self
            .counters
            .get(i)
            .map_or(0, |c| c.fetch_add(1, Ordering::Relaxed));
        let (normal, tail, failure) = draws(i, n);
        let (median, spread, tail_share, tail_factor) = route.latency();
        let mut us = median * (spread * normal).exp();
        if tail < tail_share {
            us *= tail_factor;
        }
        let v2 = self.release == Release::V2;
        if v2 && route == Route::UserOrders {
            us *= ORDERS_SLOWDOWN;
        }
        Plan {
            wait: Duration::from_micros(us as u64),
            fail: v2 && route == Route::OrderCreate && failure < ORDER_FAILURES,
        }
    }

    async fn handle(
        self: Arc<Self>,
        req: Request<hyper::body::Incoming>,
    ) -> Result<Response<Full<Bytes>>, Infallible> {
        let method = req.method().clone();
        let path = req.uri().path().to_owned();
        let query = req.uri().query().unwrap_or_default().to_owned();
        let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
        // The app reads the whole request, as a real one does before answering.
        let _ = req.into_body().collect().await;
        let route = Route::of(&method, &path);
        let plan = self.plan(route);
        let _ = tokio::task::spawn_blocking(move || std::thread::sleep(plan.wait)).await;
        Ok(self.answer(route, &path, &query, if_none_match.as_ref(), plan.fail))
    }

    fn answer(
        &self,
        route: Route,
        path: &str,
        query: &str,
        if_none_match: Option<&HeaderValue>,
        fail: bool,
    ) -> Response<Full<Bytes>> {
        let id = path
            .split('/')
            .find(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
        let mut response = match route {
            Route::Health => reply(StatusCode::OK, "text/plain", "ok\n".into()),
            Route::User => json(StatusCode::OK, user(id)),
            Route::UserDelete => reply(StatusCode::NO_CONTENT, "", Bytes::new()),
            Route::UserOrders => json(StatusCode::OK, user_orders(id)),
            Route::Orders => json(StatusCode::OK, orders()),
            Route::OrderCreate if fail => {
                let mut r = json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "{\"error\":\"payment service unavailable, retry later\"}\n".into(),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
                r
            }
            Route::OrderCreate => {
                let order = 70_000 + id;
                let mut r = json(
                    StatusCode::CREATED,
                    format!("{{\"order\":\"ord_{order}\",\"status\":\"created\"}}\n"),
                );
                if let Ok(v) = HeaderValue::from_str(&format!("/api/orders/{order}")) {
                    r.headers_mut().insert(header::LOCATION, v);
                }
                r
            }
            Route::Search => json(StatusCode::OK, search(query)),
            Route::Asset(i) => self.asset(i, if_none_match),
            Route::Admin => json(StatusCode::FORBIDDEN, "{\"error\":\"forbidden\"}\n".into()),
            Route::Legacy => {
                let mut r = reply(
                    StatusCode::MOVED_PERMANENTLY,
                    "text/html",
                    "<html><body>Moved to <a href=\"/api/orders\">/api/orders</a></body></html>\n"
                        .into(),
                );
                r.headers_mut()
                    .insert(header::LOCATION, HeaderValue::from_static("/api/orders"));
                r
            }
            Route::NotFound => json(StatusCode::NOT_FOUND, "{\"error\":\"not found\"}\n".into()),
            Route::NotAllowed => json(
                StatusCode::METHOD_NOT_ALLOWED,
                "{\"error\":\"method not allowed\"}\n".into(),
            ),
        };
        let server = match self.release {
            Release::V1 => "reel-demo-shop/v1",
            Release::V2 => "reel-demo-shop/v2",
        };
        response
            .headers_mut()
            .insert(header::SERVER, HeaderValue::from_static(server));
        response
    }

    /// A static file: 304 when the client holds the current ETag, else the file.
    fn asset(&self, i: usize, if_none_match: Option<&HeaderValue>) -> Response<Full<Bytes>> {
        let (Some(asset), Some(body)) = (ASSETS.get(i), self.assets.get(i)) else {
            return json(StatusCode::NOT_FOUND, "{\"error\":\"not found\"}\n".into());
        };
        let fresh = if_none_match
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim() == asset.etag || t.trim() == "*")
            });
        let mut r = if fresh {
            reply(StatusCode::NOT_MODIFIED, "", Bytes::new())
        } else {
            reply(StatusCode::OK, asset.content_type, body.clone())
        };
        let h = r.headers_mut();
        h.insert(header::ETAG, HeaderValue::from_static(asset.etag));
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("max-age=3600"),
        );
        r
    }
}

fn reply(status: StatusCode, content_type: &'static str, body: Bytes) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    *r.status_mut() = status;
    if !content_type.is_empty() {
        r.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    }
    r
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    reply(status, "application/json", body.into())
}

fn user(id: u64) -> String {
    format!(
        "{{\"id\":{id},\"name\":\"user-{id}\",\"email\":\"user-{id}@example.com\",\"plan\":\"{}\",\
         \"teams\":[{},{},{}],\"created\":\"2024-0{}-1{}T09:12:44Z\"}}\n",
        ["free", "pro", "team"][(id % 3) as usize],
        id % 7,
        id % 11 + 7,
        id % 13 + 18,
        id % 9 + 1,
        id % 10,
    )
}

fn order(id: u64, user: u64) -> String {
    format!(
        "{{\"id\":{id},\"user\":{user},\"items\":{},\"total\":{}.{:02},\"status\":\"{}\"}}",
        id % 5 + 1,
        id % 200 + 5,
        id % 100,
        ["paid", "shipped", "delivered"][(id % 3) as usize],
    )
}

fn user_orders(user: u64) -> String {
    let orders: Vec<String> = (0..user % 4 + 2)
        .map(|k| order(user * 10 + k, user))
        .collect();
    format!("{{\"user\":{user},\"orders\":[{}]}}\n", orders.join(","))
}

fn orders() -> String {
    let orders: Vec<String> = (0..12).map(|k| order(90_000 + k, k * 37 + 1)).collect();
    format!("{{\"orders\":[{}],\"next\":null}}\n", orders.join(","))
}

fn search(query: &str) -> String {
    // The query is echoed back: only the characters a form encoding uses.
    let q: String = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("q="))
        .unwrap_or_default()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "%+-_.".contains(*c))
        .take(64)
        .collect();
    let results: Vec<String> = (0..10u64)
        .map(|k| {
            format!(
                "{{\"sku\":\"SKU-{:05}\",\"title\":\"{q} result {k}\",\"price\":{}.99,\"stock\":{}}}",
                k * 7919 % 100_000,
                k * 3 + 9,
                k % 4
            )
        })
        .collect();
    format!(
        "{{\"q\":\"{q}\",\"total\":{},\"results\":[{}]}}\n",
        q.len() * 17 + 3,
        results.join(",")
    )
}

/// A static file's bytes: text that looks like its kind, or for the image a PNG signature and
/// pseudo-random bytes, of the size production served.
fn asset_body(asset: &Asset) -> Bytes {
    let mut out = Vec::with_capacity(asset.size);
    let mut k = 0u64;
    match asset.content_type {
        "image/png" => {
            out.extend_from_slice(b"\x89PNG\r\n\x1a\n");
            while out.len() < asset.size {
                out.extend_from_slice(&mix(k).to_le_bytes());
                k += 1;
            }
        }
        "text/css" => {
            while out.len() < asset.size {
                out.extend_from_slice(
                    format!(
                        ".c{k} {{ margin: {}px; color: #{:06x}; }}\n",
                        k % 17,
                        mix(k) >> 40
                    )
                    .as_bytes(),
                );
                k += 1;
            }
        }
        _ => {
            while out.len() < asset.size {
                out.extend_from_slice(
                    format!("function f{k}(a) {{ return a * {} + {}; }}\n", k % 97, k).as_bytes(),
                );
                k += 1;
            }
        }
    }
    out.truncate(asset.size);
    Bytes::from(out)
}

/// A staging server on 127.0.0.1 (a port of the system's choice), on a runtime of its own;
/// stopped when dropped.
pub struct Staging {
    addr: SocketAddr,
    release: Release,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Staging {
    /// Starts `release` on loopback.
    pub fn start(release: Release) -> Result<Staging, DemoError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(256)
            .thread_name(format!("reel-demo-{}", release.name()))
            .enable_all()
            .build()
            .map_err(DemoError::Staging)?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(DemoError::Staging)?;
        let addr = listener.local_addr().map_err(DemoError::Staging)?;
        let app = Arc::new(App::new(release));
        runtime.spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    // Out of descriptors, most likely: wait instead of spinning.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = tcp.set_nodelay(true);
                let app = app.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| app.clone().handle(req));
                    let io = hyper_util::rt::TokioIo::new(tcp);
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(io, service)
                        .await;
                });
            }
        });
        Ok(Staging {
            addr,
            release,
            runtime: Some(runtime),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The release it serves.
    pub fn release(&self) -> Release {
        self.release
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_of_the_sample() {
        let r = |m: Method, p: &str| Route::of(&m, p);
        assert_eq!(r(Method::GET, "/api/users/370"), Route::User);
        assert_eq!(r(Method::DELETE, "/api/users/370"), Route::UserDelete);
        assert_eq!(r(Method::GET, "/api/users/4/orders"), Route::UserOrders);
        assert_eq!(r(Method::POST, "/api/orders"), Route::OrderCreate);
        assert_eq!(r(Method::GET, "/api/orders"), Route::Orders);
        assert_eq!(r(Method::HEAD, "/static/app.js"), Route::Asset(0));
        assert_eq!(r(Method::GET, "/static/nope.js"), Route::NotFound);
        assert_eq!(r(Method::GET, "/api/missing/3"), Route::NotFound);
        assert_eq!(r(Method::GET, "/api/users/abc"), Route::NotFound);
        assert_eq!(r(Method::POST, "/health"), Route::NotAllowed);
        let all = [
            Route::Health,
            Route::User,
            Route::UserDelete,
            Route::UserOrders,
            Route::Orders,
            Route::OrderCreate,
            Route::Search,
            Route::Admin,
            Route::Legacy,
            Route::NotFound,
            Route::NotAllowed,
            Route::Asset(0),
            Route::Asset(1),
            Route::Asset(2),
        ];
        let mut seen: Vec<usize> = all.iter().map(|r| r.index()).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..ROUTES).collect::<Vec<_>>());
    }

    #[test]
    fn releases_draw_the_same_waits_but_v2_regresses() {
        let (v1, v2) = (App::new(Release::V1), App::new(Release::V2));
        let mut slower = 0.0;
        for _ in 0..1000 {
            let (a, b) = (v1.plan(Route::User), v2.plan(Route::User));
            assert_eq!(a.wait, b.wait);
            assert!(!a.fail && !b.fail);
            let (a, b) = (v1.plan(Route::UserOrders), v2.plan(Route::UserOrders));
            slower += b.wait.as_secs_f64() / a.wait.as_secs_f64() / 1000.0;
        }
        assert!((slower - ORDERS_SLOWDOWN).abs() < 1e-3, "{slower}");
        let failed = (0..1000)
            .filter(|_| v2.plan(Route::OrderCreate).fail)
            .count();
        assert!((40..=80).contains(&failed), "{failed}");
        assert_eq!(
            (0..1000)
                .filter(|_| v1.plan(Route::OrderCreate).fail)
                .count(),
            0
        );
    }

    #[test]
    fn assets_have_the_sizes_production_served() {
        for a in &ASSETS {
            assert_eq!(asset_body(a).len(), a.size);
            assert!(a.etag.ends_with(&format!("-{:x}\"", a.size)));
        }
        assert!(asset_body(&ASSETS[2]).starts_with(b"\x89PNG"));
    }

    #[test]
    fn search_echoes_only_form_characters() {
        let body = search("q=caf%C3%A9\"<x>&page=2");
        assert!(body.starts_with("{\"q\":\"caf%C3%A9x\""), "{body}");
        assert!(serde_json::from_str::<serde_json::Value>(&body).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&user(42)).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&user_orders(42)).is_ok());
        assert!(serde_json::from_str::<serde_json::Value>(&orders()).is_ok());
    }
}
