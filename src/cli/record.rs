//! The arguments of `reel record`: capture files or devices, selection, redaction, output; and the live capture
//! and extraction-buffer flags `shadow` shares.

use std::path::PathBuf;
use std::time::Duration;

use super::{JsonArg, parse_duration, parse_size};
use crate::filter::FilterArgs;
use crate::redact::RedactArgs;

/// Arguments of `reel record`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reel record --read prod.pcap --output prod.reel
  reel record --read a.pcapng --read b.pcap --port 8080 --max-body 64k -o prod.reel --json
  sudo reel record --interface eth0 --port 80 --output '/var/lib/reel/prod-%Y%m%d-%H.reel' \\
      --rotate-interval 1h --retain-size 20G --metrics-addr 127.0.0.1:9187 --user reel \\
      --redact-default --redact-param token --redact-key-file /etc/reel/redaction.key")]
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

    /// The .reel log to write (written as NAME.part, renamed when complete; mode 0600). The file
    /// name may hold strftime fields, e.g. prod-%Y%m%d-%H.reel (local time).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,

    /// Add to an existing log instead of refusing to overwrite it (one fixed output name only).
    #[arg(long, conflicts_with = "force")]
    pub append: bool,

    /// Replace an existing log (one fixed output name only).
    #[arg(long)]
    pub force: bool,

    /// Finish the file and start the next once it holds SIZE bytes, e.g. 1G.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub rotate_size: Option<u64>,

    /// Finish files at multiples of this interval in local time, e.g. 1h (at the top of each hour).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub rotate_interval: Option<Duration>,

    /// Keep at most N finished files of the output pattern; the oldest are deleted.
    #[arg(long, value_name = "N")]
    pub retain_files: Option<usize>,

    /// Keep at most SIZE bytes of finished files of the output pattern, e.g. 50G.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub retain_size: Option<u64>,

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

    /// Keep this percentage of connections, whole (chosen by a fixed hash of their endpoints,
    /// so several nodes sampling at once keep the same ones), e.g. 10 or 2.5%.
    #[arg(long, value_name = "PCT", value_parser = parse_percent)]
    pub sample: Option<f64>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub select: FilterArgs,

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

    #[command(flatten)]
    #[allow(missing_docs)]
    pub flush: crate::cli::FlushArg,
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
