//! Where requests go: target URLs (`--target`, `--target-map HOST=URL`), their addresses, and the
//! TLS client configuration (`--insecure`, `--ca-file`).

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use super::ReplayError;

/// One upstream: `http://host:port` or `https://host:port`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `scheme://authority` as shown in results and reports (no path).
    pub url: String,
    /// True for https.
    pub tls: bool,
    /// Host name or address literal (IPv6 without brackets).
    pub host: String,
    /// Port (80/443 when the URL has none).
    pub port: u16,
    /// The Host header value `--rewrite-host` writes: the URL's authority as given.
    pub authority: String,
    /// Addresses the host resolved to (filled by [`Target::resolve`]).
    pub addrs: Vec<SocketAddr>,
}

impl Target {
    /// Parses `http[s]://host[:port][/]`. A path is refused (use `--rewrite-url` to add a prefix).
    pub fn parse(text: &str) -> Result<Target, String> {
        let (tls, rest) = if let Some(r) = text.strip_prefix("http://") {
            (false, r)
        } else if let Some(r) = text.strip_prefix("https://") {
            (true, r)
        } else {
            return Err(format!(
                "expected http://HOST[:PORT] or https://HOST[:PORT], got {text:?}"
            ));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        if !(path.is_empty() || path == "/") {
            return Err(format!(
                "{text:?} has a path; targets are scheme://host:port (use --rewrite-url to change paths)"
            ));
        }
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("{text:?}: expected a host (no user info)"));
        }
        let default_port = if tls { 443 } else { 80 };
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let Some((h, after)) = v6.split_once(']') else {
                return Err(format!("{text:?}: unclosed '[' in the host"));
            };
            let port = match after.strip_prefix(':') {
                Some(p) => parse_port(p, text)?,
                None if after.is_empty() => default_port,
                None => return Err(format!("{text:?}: junk after ']'")),
            };
            (h.to_owned(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_owned(), parse_port(p, text)?),
                None => (authority.to_owned(), default_port),
            }
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._:".contains(&b))
        {
            return Err(format!("{text:?}: bad host {host:?}"));
        }
        let scheme = if tls { "https" } else { "http" };
        Ok(Target {
            url: format!("{scheme}://{authority}"),
            tls,
            host,
            port,
            authority: authority.to_owned(),
            addrs: Vec::new(),
        })
    }

    /// Resolves the host once, at start (a replay keeps its addresses for the whole run).
    pub fn resolve(&mut self) -> Result<(), ReplayError> {
        let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| ReplayError::Resolve {
                target: self.url.clone(),
                source: e,
            })?
            .collect();
        if addrs.is_empty() {
            return Err(ReplayError::Resolve {
                target: self.url.clone(),
                source: std::io::Error::other("no addresses"),
            });
        }
        self.addrs = addrs;
        Ok(())
    }

    /// The name TLS checks the certificate against.
    pub fn server_name(&self) -> Result<ServerName<'static>, ReplayError> {
        ServerName::try_from(self.host.clone()).map_err(|_| ReplayError::Tls {
            what: self.url.clone(),
            problem: "the host is not a valid TLS server name".into(),
        })
    }
}

fn parse_port(p: &str, text: &str) -> Result<u16, String> {
    match p.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{text:?}: bad port {p:?}")),
    }
}

/// The targets of a run: a default (`--target`) and per-Host entries (`--target-map`).
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// Every distinct target; requests refer to them by index.
    pub list: Vec<Target>,
    /// Index of the `--target` default, if given.
    pub default: Option<usize>,
    /// `(recorded Host, lower case; index)` from `--target-map`.
    pub map: Vec<(String, usize)>,
    /// Index of the `--baseline-target`: every request is also sent there, as role 1.
    pub baseline: Option<usize>,
}

impl Targets {
    /// Builds the set; errors are messages for the flag named in them.
    pub fn new(default: Option<&str>, map: &[String]) -> Result<Targets, (String, String)> {
        let mut t = Targets::default();
        if let Some(d) = default {
            let target = Target::parse(d).map_err(|e| ("--target".to_owned(), e))?;
            t.default = Some(t.add(target));
        }
        for entry in map {
            let Some((host, url)) = entry.split_once('=') else {
                return Err((
                    "--target-map".into(),
                    format!("expected HOST=URL, got {entry:?}"),
                ));
            };
            let host = host.trim().to_ascii_lowercase();
            if host.is_empty() {
                return Err(("--target-map".into(), format!("empty HOST in {entry:?}")));
            }
            let target = Target::parse(url.trim()).map_err(|e| ("--target-map".to_owned(), e))?;
            let i = t.add(target);
            t.map.push((host, i));
        }
        if t.list.is_empty() {
            return Err((
                "--target".into(),
                "a target is required: --target URL or --target-map HOST=URL".into(),
            ));
        }
        Ok(t)
    }

    /// Adds the `--baseline-target` (its own entry, never shared with a candidate target: the two
    /// sides must not share connections). Refused when it is one of the candidate targets.
    pub fn set_baseline(&mut self, url: &str) -> Result<(), (String, String)> {
        let flag = || "--baseline-target".to_owned();
        let target = Target::parse(url).map_err(|e| (flag(), e))?;
        if self.list.iter().any(|t| t.url == target.url) {
            return Err((
                flag(),
                format!(
                    "{} is also a --target: the baseline must be another deployment",
                    target.url
                ),
            ));
        }
        self.list.push(target);
        self.baseline = Some(self.list.len() - 1);
        Ok(())
    }

    fn add(&mut self, target: Target) -> usize {
        if let Some(i) = self.list.iter().position(|t| t.url == target.url) {
            return i;
        }
        self.list.push(target);
        self.list.len() - 1
    }

    /// The target for a request with this Host value (`None`: no Host). A map entry matches the
    /// Host exactly (case-insensitive) or its name without the port; else the default.
    pub fn choose(&self, host: Option<&[u8]>) -> Option<usize> {
        if let Some(host) = host.and_then(|h| std::str::from_utf8(h).ok()) {
            let host = host.trim().to_ascii_lowercase();
            let bare = host_name(&host);
            if let Some((_, i)) = self
                .map
                .iter()
                .find(|(h, _)| *h == host || host_name(h) == bare)
            {
                return Some(*i);
            }
        }
        self.default
    }
}

/// The name part of a Host value (`a.example:8080` → `a.example`, `[::1]:80` → `::1`).
pub fn host_name(host: &str) -> &str {
    if let Some(v6) = host.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) && !h.contains(':') => h,
        _ => host,
    }
}

/// Builds the TLS client configuration: webpki roots plus `--ca-file`, or no verification at all
/// with `--insecure`. ALPN offers only `http/1.1`.
pub fn tls_config(
    insecure: bool,
    ca_file: Option<&Path>,
) -> Result<rustls::ClientConfig, ReplayError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ReplayError::Tls {
            what: "TLS setup".into(),
            problem: e.to_string(),
        })?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = ca_file {
            let bad = |problem: String| ReplayError::CaFile {
                path: path.display().to_string(),
                problem,
            };
            let mut n = 0;
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| bad(e.to_string()))? {
                let cert = cert.map_err(|e| bad(e.to_string()))?;
                roots.add(cert).map_err(|e| bad(e.to_string()))?;
                n += 1;
            }
            if n == 0 {
                return Err(bad("no PEM certificate in the file".into()));
            }
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `--insecure`: accepts any certificate, still checks handshake signatures.
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_with_default_ports_and_v6() {
        let t = Target::parse("http://staging.internal:8080").unwrap();
        assert_eq!(
            (
                t.url.as_str(),
                t.tls,
                t.host.as_str(),
                t.port,
                t.authority.as_str()
            ),
            (
                "http://staging.internal:8080",
                false,
                "staging.internal",
                8080,
                "staging.internal:8080"
            )
        );
        let t = Target::parse("https://s.example/").unwrap();
        assert_eq!(
            (t.port, t.tls, t.url.as_str()),
            (443, true, "https://s.example")
        );
        let t = Target::parse("http://[::1]:9000").unwrap();
        assert_eq!((t.host.as_str(), t.port), ("::1", 9000));
        for bad in [
            "staging:80",
            "ftp://x",
            "http://",
            "http://x:0",
            "http://x:99999",
            "http://x/api",
            "http://u@x",
            "http://[::1",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn map_matches_host_with_or_without_port_then_default() {
        let t = Targets::new(
            Some("http://default:80"),
            &[
                "api.example.com=http://a:1".into(),
                "Img.Example.com:8080=http://b:2".into(),
            ],
        )
        .unwrap();
        let url = |h: Option<&[u8]>| t.choose(h).map(|i| t.list[i].url.clone());
        assert_eq!(url(Some(b"API.example.com")).as_deref(), Some("http://a:1"));
        assert_eq!(
            url(Some(b"api.example.com:443")).as_deref(),
            Some("http://a:1")
        );
        assert_eq!(url(Some(b"img.example.com")).as_deref(), Some("http://b:2"));
        assert_eq!(url(Some(b"other")).as_deref(), Some("http://default:80"));
        assert_eq!(url(None).as_deref(), Some("http://default:80"));
        let only_map = Targets::new(None, &["a=http://a:1".into()]).unwrap();
        assert_eq!(only_map.choose(Some(b"b")), None);
        assert!(Targets::new(None, &[]).is_err());
        assert_eq!(
            Targets::new(None, &["nohost".into()]).unwrap_err().0,
            "--target-map"
        );
    }

    #[test]
    fn baseline_is_its_own_entry_and_never_a_candidate() {
        let mut t = Targets::new(Some("http://v2:8080"), &[]).unwrap();
        t.set_baseline("http://v1:8080").unwrap();
        assert_eq!(t.baseline, Some(1));
        assert_eq!(t.list[1].url, "http://v1:8080");
        // Requests still choose among the candidate targets only.
        assert_eq!(t.choose(Some(b"x")), Some(0));
        let mut same = Targets::new(Some("http://v2:8080"), &[]).unwrap();
        let (flag, problem) = same.set_baseline("http://v2:8080/").unwrap_err();
        assert_eq!(flag, "--baseline-target");
        assert!(problem.contains("also a --target"), "{problem}");
        assert_eq!(
            same.set_baseline("v1:80").unwrap_err().0,
            "--baseline-target"
        );
    }

    #[test]
    fn host_names_drop_ports() {
        assert_eq!(host_name("a.example:8080"), "a.example");
        assert_eq!(host_name("a.example"), "a.example");
        assert_eq!(host_name("[::1]:80"), "::1");
        assert_eq!(host_name("::1"), "::1");
    }

    #[test]
    fn ca_file_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.pem");
        std::fs::write(&p, "not pem").unwrap();
        let e = tls_config(false, Some(&p)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with(&format!("--ca-file {}", p.display())),
            "{e}"
        );
        assert!(tls_config(true, None).is_ok());
    }
}
