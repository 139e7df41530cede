//! The arguments of `reel record` — capture files or devices, selection, redaction, output — and
//! the groups `shadow` shares with it: the live capture flags (`LiveFlags`), extraction's buffers
//! (`BufferFlags`), the selection group (`SelectionFlags`), and `CaptureFlags`, the view of all
//! of them that validates into a `record::CaptureConfig`.

use std::path::PathBuf;
use std::time::Duration;

use super::{JsonArg, OutputFlags, RotationFlags, parse_duration, parse_size};
use crate::capture::live::LiveConfig;
use crate::ends::log_output::LogOutput;
use crate::exit::usage;
use crate::filter::FilterArgs;
use crate::http::ExtractConfig;
use crate::record::live::LiveOptions;
use crate::record::{
    CaptureConfig, ExtractionConfig, LIVE_MAX_FLOW_MEMORY, LIVE_MAX_MEMORY, READ_MAX_FLOW_MEMORY,
    READ_MAX_MEMORY, SelectionConfig,
};
use crate::redact::RedactArgs;
use crate::tcp::TcpConfig;

/// Arguments of `reel record`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reel record --read prod.pcap --output prod.reel
  reel record --read a.pcapng --read b.pcap --port 8080 --max-body 64k -o prod.reel --json
  sudo reel record --interface eth0 --port 80 --output '/var/lib/reel/prod-%Y%m%d-%H.reel' \\
      --rotate-interval 1h --retain-size 20G --metrics-addr 127.0.0.1:9187 --user reel \\
      --redact-default --redact-param token --redact-key-file /etc/reel/redaction.key")]
#[command(mut_arg("output", |a| a.help(
    "The .reel log to write, or - for stdout (written as NAME.part, renamed when complete; mode \
     0600). The file name may hold strftime fields, e.g. prod-%Y%m%d-%H.reel (local time)"
)))]
pub struct Args {
    /// Read packets from a pcap or pcapng file (repeatable: files are merged by time).
    #[arg(long, short = 'r', value_name = "FILE", conflicts_with = "interfaces")]
    pub read: Vec<PathBuf>,

    /// Capture live on this network device (repeatable; `any` for all devices). Needs root, or
    /// cap_net_raw,cap_net_admin on the binary.
    ///
    /// Example: --interface eth0
    #[arg(long = "interface", short = 'i', value_name = "NAME")]
    pub interfaces: Vec<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub log: OutputFlags,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub rotation: RotationFlags,

    /// Server port (repeatable). Without it, whichever side sends requests is the client. Live,
    /// the capture filter keeps only these ports.
    #[arg(long = "port", value_name = "N")]
    pub ports: Vec<u16>,

    /// BPF filter, e.g. 'host 10.0.0.5'. Live, it is combined with `tcp` and the --port list.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub live: LiveFlags,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub buffers: BufferFlags,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub selection: SelectionFlags,

    /// Stop after N requests (their responses are still awaited).
    #[arg(long, value_name = "N", value_parser = crate::cli::parse_count, allow_hyphen_values = true)]
    pub limit: Option<u64>,

    /// Stop after this long: capture time reading files, wall time live, e.g. 10m.
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse_positive_duration)]
    pub duration: Option<Duration>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub redact: RedactArgs,

    /// Print a line of figures on stderr this often (live; 0 for none).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub stats_interval: Duration,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArg,
}

/// The flags of a live capture, shared by `record --interface` and `shadow`: the capture devices'
/// settings, the metrics endpoint and the privilege drop.
#[derive(Debug, Clone, clap::Args)]
pub struct LiveFlags {
    /// Bytes kept of each captured frame (live).
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 262_144,
        requires = "interfaces"
    )]
    pub snaplen: u32,

    /// Size of the kernel's capture ring per interface (live), e.g. 64MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "32MiB", requires = "interfaces")]
    pub buffer_size: u64,

    /// Put the interfaces in promiscuous mode (live; not possible on `any`).
    #[arg(long, requires = "interfaces")]
    pub promisc: bool,

    /// libpcap immediate mode: frames reach reel as they arrive instead of in blocks at most
    /// 10 ms late (live). Each frame then wakes reel up, which costs the host CPU under load.
    #[arg(long, requires = "interfaces")]
    pub immediate: bool,

    /// Most memory for frames waiting between the capture threads and extraction (live); frames
    /// beyond it are dropped and counted as queue drops.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16MiB", requires = "interfaces")]
    pub queue_memory: u64,

    /// Serve Prometheus metrics on ADDR at /metrics, and /ready once capturing (live).
    ///
    /// Example: --metrics-addr 127.0.0.1:9187
    #[arg(long, value_name = "ADDR", requires = "interfaces")]
    pub metrics_addr: Option<String>,

    /// Switch to this user (and its group) once the capture devices are open, so packets are
    /// never parsed as root (live; needs root).
    ///
    /// Example: --user reel
    #[arg(long, value_name = "NAME", requires = "interfaces")]
    pub user: Option<String>,
}

/// Memory limits and timeouts of extraction, shared by `record` and `shadow`.
#[derive(Debug, Clone, clap::Args)]
pub struct BufferFlags {
    /// Keep at most SIZE bytes of each body (the rest is framed, counted, not stored), e.g. 64k.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body: Option<u64>,

    /// Memory budget for reassembly and framing buffers, all connections together; at the cap
    /// the connection holding the most is given up (counted). Default: 48MiB reading files,
    /// 24MiB live (with the queue and the writer, a capture stays within 64 MiB resident, plus
    /// the connection table: see --max-flows).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_memory: Option<u64>,

    /// Connections tracked at once; when the table is full the idlest is closed (counted as
    /// evicted). Each costs about 850 bytes besides its buffers, so the default caps the table
    /// near 85 MiB under a SYN flood.
    #[arg(long, value_name = "N", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_flows: u64,

    /// Memory budget for one connection's buffers. Default: 16MiB reading files, 8MiB live.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_flow_memory: Option<u64>,

    /// Close connections with no packet for this long (capture time), e.g. 2m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    pub idle_timeout: Duration,
}

impl Args {
    /// The output flags, validated (see [`OutputFlags::into_config`]).
    pub fn output_config(&self) -> crate::exit::Result<LogOutput> {
        self.log.into_config(Some(&self.rotation), &self.json)
    }

    /// What extraction keeps and how (`live` picks the live memory defaults); errors name the
    /// flag.
    pub fn capture_config(&self, live: bool) -> crate::exit::Result<CaptureConfig> {
        CaptureFlags {
            ports: &self.ports,
            buffers: &self.buffers,
            selection: &self.selection,
            redact: &self.redact,
            limit: self.limit,
        }
        .into_config(live)
    }
}

impl LiveFlags {
    /// The live capture of `interfaces` with the BPF filter `bpf`, validated (errors name the
    /// flag); a second signal prints `second_signal` and exits at once.
    pub fn into_options(
        &self,
        interfaces: &[String],
        bpf: Option<String>,
        second_signal: &'static str,
    ) -> crate::exit::Result<LiveOptions> {
        if self.snaplen < 96 {
            return Err(usage(
                "--snaplen",
                "must be at least 96 bytes (the headers)",
            ));
        }
        Ok(LiveOptions {
            capture: LiveConfig {
                interfaces: interfaces.to_vec(),
                snaplen: self.snaplen,
                buffer_bytes: u32::try_from(self.buffer_size).unwrap_or(u32::MAX),
                promisc: self.promisc,
                immediate: self.immediate,
                filter: bpf,
                queue_bytes: usize::try_from(self.queue_memory).unwrap_or(usize::MAX),
            },
            metrics_addr: self.metrics_addr.clone(),
            user: self.user.clone(),
            second_signal,
        })
    }
}

/// The selection group `record` and `shadow` share: `--sample` and the request filters.
#[derive(Debug, Clone, clap::Args)]
pub struct SelectionFlags {
    /// Keep this percentage of connections, whole (chosen by a fixed hash of their endpoints, the
    /// same on every node and in record and shadow, so several nodes sampling at once keep the
    /// same ones), e.g. 10 or 2.5%.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub sample: Option<f64>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub filters: FilterArgs,
}

impl SelectionFlags {
    /// The selection, validated (errors name the flag), and the notes that say in a log's
    /// metadata what it leaves out.
    pub fn into_config(&self) -> crate::exit::Result<(SelectionConfig, Vec<String>)> {
        let mut notes = Vec::new();
        let mut selection = SelectionConfig::default();
        if let Some(pct) = self.sample {
            selection.sample_per_million = Some((pct * 10_000.0).round() as u64);
            notes.push(format!(
                "--sample {pct}: about {pct}% of connections are kept, whole (by a fixed hash of their endpoints)"
            ));
        }
        let s = &self.filters;
        let filter = s.build()?;
        if !filter.is_empty() {
            let mut names = Vec::new();
            names.extend(s.methods.iter().map(|m| format!("--method {m}")));
            if s.read_only {
                names.push("--read-only".to_string());
            }
            names.extend(s.paths.iter().map(|p| format!("--path {p:?}")));
            names.extend(
                s.exclude_paths
                    .iter()
                    .map(|p| format!("--exclude-path {p:?}")),
            );
            names.extend(s.headers.iter().map(|h| format!("--header {h:?}")));
            notes.push(format!(
                "requests selected by {}; the others and their responses are left out (counted in select.*)",
                names.join(" ")
            ));
            selection.filter = Some(filter);
        }
        Ok((selection, notes))
    }
}

/// The flags that say what extraction keeps and how (of `record` or `shadow`).
pub struct CaptureFlags<'a> {
    /// `--port`.
    pub ports: &'a [u16],
    /// `--max-body`, `--max-memory`, `--max-flow-memory`, `--idle-timeout`.
    pub buffers: &'a BufferFlags,
    /// `--sample` and the request filters.
    pub selection: &'a SelectionFlags,
    /// The redaction flags.
    pub redact: &'a RedactArgs,
    /// `--limit`.
    pub limit: Option<u64>,
}

impl CaptureFlags<'_> {
    /// Validates the flags (errors name the flag); `live` picks the live memory defaults. The
    /// notes say in a log's metadata what selection and redaction do.
    pub fn into_config(self, live: bool) -> crate::exit::Result<CaptureConfig> {
        if self.limit == Some(0) {
            return Err(usage("--limit", "must be at least 1"));
        }
        let (max_memory, max_flow) = if live {
            (LIVE_MAX_MEMORY, LIVE_MAX_FLOW_MEMORY)
        } else {
            (READ_MAX_MEMORY, READ_MAX_FLOW_MEMORY)
        };
        let b = self.buffers;
        let extraction = ExtractionConfig {
            tcp: TcpConfig {
                idle_timeout_ns: b.idle_timeout.as_nanos() as u64,
                max_flow_bytes: b.max_flow_memory.unwrap_or(max_flow) as usize,
                max_total_bytes: b.max_memory.unwrap_or(max_memory) as usize,
                max_flows: usize::try_from(b.max_flows).unwrap_or(usize::MAX),
                ..TcpConfig::default()
            },
            http: ExtractConfig {
                server_ports: self.ports.to_vec(),
                max_body: b.max_body,
                ..ExtractConfig::default()
            },
            ..ExtractionConfig::default()
        };
        let (selection, mut notes) = self.selection.into_config()?;
        let r = self.redact;
        let redactor = r.build()?;
        if let Some(redactor) = &redactor {
            if redactor.random_key() {
                tracing::warn!(
                    "no --redact-key-file: a random key is used for this run, so equal secrets hash equal only within it"
                );
            }
            let mut what = Vec::new();
            if r.default {
                what.push("Authorization, Proxy-Authorization, cookies".to_string());
            }
            for (kind, names) in [
                ("header", &r.headers),
                ("cookie", &r.cookies),
                ("param", &r.params),
            ] {
                what.extend(names.iter().map(|n| format!("{kind} {n}")));
            }
            notes.push(format!(
                "values redacted with a keyed hash (key id {}): {}",
                redactor.key_id(),
                what.join(", ")
            ));
        }
        Ok(CaptureConfig {
            extraction,
            selection,
            limit: self.limit,
            redactor,
            notes,
        })
    }
}

/// Parses `--sample`: a percentage above 0 and at most 100, with or without `%`.
pub(crate) fn parse_percent(text: &str) -> Result<f64, String> {
    let t = text.trim().trim_end_matches('%');
    let v: f64 = t
        .parse()
        .map_err(|_| format!("expected a percentage like 10 or 2.5%, got {text:?}"))?;
    if !(v > 0.0 && v <= 100.0) {
        return Err(format!("must be above 0 and at most 100, got {text:?}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_parse() {
        assert_eq!(parse_percent("10"), Ok(10.0));
        assert_eq!(parse_percent("2.5%"), Ok(2.5));
        assert!(parse_percent("0").is_err());
        assert!(parse_percent("101").is_err());
        assert!(parse_percent("lots").is_err());
    }
}
