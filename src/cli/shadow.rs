//! The arguments of `reel shadow`: capture, targets, selection, the bounds of what is held for staging, gates.
// The flags' doc comments are clap's help text, shown verbatim: `[:PORT]` and URLs are not links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

use std::path::PathBuf;
use std::time::Duration;

use super::record::{BufferFlags, CaptureFlags, LiveFlags, SelectionFlags};
use super::{JsonArg, JudgeFlags, TargetFlags, parse_duration, parse_size};
use crate::compare::endpoint::Templater;
use crate::compare::{GATES_HELP, Gate, Thresholds};
use crate::exit::usage;
use crate::filter::Filter;
use crate::redact::RedactArgs;
use crate::replay::{PlanConfig, Rewrites, Shard, Targets};
use crate::shadow::ShadowConfig;
use crate::shadow::dispatch::Limits;

const AFTER_HELP: &str = "\
Examples:
  sudo reel shadow --interface eth0 --port 80 --target http://staging.internal:8080
  sudo reel shadow -i any --port 8080 --target http://10.0.3.7:8080 --sample 10 --user reel \\
      --metrics-addr 127.0.0.1:9188 --stats-interval 30s
  sudo reel shadow -i eth0 --port 80 --target http://staging:8080 --multiply 3 --duration 10m
  sudo reel shadow -i eth0 --port 80 --target http://candidate:8080 --duration 30m \\
      --fail-if 'p99 > 1.25x' --fail-if 'error-rate > 0.5%' --results shadow.reel --report shadow.html
  sudo reel shadow -i eth0 --port 80 --target-map api.example.com=http://api-staging:8080 \\
      --target-map img.example.com=http://img-staging:8080 --read-only --redact-default

Each request is sent to staging the moment it is framed from the capture, over a staging
connection that mirrors its production connection (keep-alive, in order). Nothing waits for
staging: when it falls behind, shadow requests are dropped and counted by reason (queue_full,
connection_busy, max_connections, connect, stopped) and the capture goes on. reel's own
connections to the targets are kept out of the capture by its BPF filter.

Staging latency is measured from the moment the request was framed; production's (first request
byte to first response byte) comes from the capture. SIGINT/SIGTERM (or --duration, --limit) stop
the capture; shadow requests still queued or in flight get --timeout to finish; the final figures
are printed and the gates judged. Exit status: 0 done (every gate holds), 1 a --fail-if gate
failed, 2 bad flag or gate expression, 3 runtime failure (capture device, results log).";

/// The help text after the flags: examples, then the gate grammar.
fn after_help() -> String {
    format!("{AFTER_HELP}\n\n{GATES_HELP}")
}

/// Arguments of `reel shadow`.
#[derive(Debug, clap::Args)]
#[command(after_help = after_help())]
pub struct Args {
    /// Capture on this network device (repeatable; `any` for all devices). Needs root, or
    /// cap_net_raw,cap_net_admin on the binary.
    ///
    /// Example: --interface eth0
    #[arg(long = "interface", short = 'i', value_name = "NAME", required = true)]
    pub interfaces: Vec<String>,

    /// Production's server port (repeatable): the requests sent to it are shadowed.
    ///
    /// Example: --port 80
    #[arg(long = "port", value_name = "N", required = true)]
    pub ports: Vec<u16>,

    /// More BPF for the capture, combined with `tcp`, the ports and the exclusion of the targets.
    ///
    /// Example: --filter 'not net 10.9.0.0/16'
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub targets: TargetFlags,

    /// Shadow even to a target that is this host on a captured port.
    #[arg(long)]
    pub allow_production_target: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub selection: SelectionFlags,

    /// Send each request N times, each copy over its own staging connection (load tests).
    ///
    /// Example: --multiply 3
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub multiply: u32,

    /// Staging connections open at once; at the cap the least recently used idle one is closed,
    /// and a request that needs a new one while all are busy is dropped (max_connections).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_connections: usize,

    /// Shadow requests queued or awaiting an answer on one staging connection; beyond it they are
    /// dropped (connection_busy).
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub max_inflight: usize,

    /// Shadow requests queued or awaiting an answer, all connections together; beyond it they
    /// are dropped (queue_full).
    #[arg(long, value_name = "N", default_value_t = 8192)]
    pub max_pending: usize,

    /// Bytes of those requests at most; beyond it they are dropped (queue_full).
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "32MiB")]
    pub pending_memory: u64,

    /// Time allowed to open a staging connection (TCP and TLS); a failure drops the requests that
    /// needed it (connect) and counts as their error.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "2s")]
    pub connect_timeout: Duration,

    /// Time allowed from a shadow request's first byte written to the end of its answer (a
    /// timeout counts as this latency, and as an error); also the grace given at exit to what is
    /// still queued or in flight.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub timeout: Duration,

    /// Threads running staging connections.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub io_threads: usize,

    /// Stop after N requests captured (their shadow requests still finish).
    #[arg(long, value_name = "N", value_parser = crate::cli::parse_count, allow_hyphen_values = true)]
    pub limit: Option<u64>,

    /// Stop after this long (wall time), e.g. 10m.
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse_positive_duration)]
    pub duration: Option<Duration>,

    /// Print a line of figures on stderr this often (0 for none): capture, shadowing and drops,
    /// and production against staging over the interval (status mix, latency).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub stats_interval: Duration,

    /// Write one result record per shadow request answered or failed (staging's status, times,
    /// bytes, error, with production's status and latency) to this log.
    ///
    /// Example: --results shadow.reel
    #[arg(long, value_name = "FILE.reel")]
    pub results: Option<PathBuf>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub judge: JudgeFlags,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub live: LiveFlags,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub buffers: BufferFlags,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub redact: RedactArgs,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArg,
}

impl Args {
    /// True when the run keeps a per-endpoint comparison.
    pub fn compares(&self) -> bool {
        self.judge.wanted() || self.targets.baseline_target.is_some()
    }

    /// The flags, validated (errors name the flag, exit 2), with the gates already parsed;
    /// targets are resolved later, by `Shadow::prepare`.
    pub fn into_config(
        &self,
        gates: Vec<Gate>,
        judging: crate::compare::Judging,
    ) -> crate::exit::Result<ShadowConfig> {
        let mut targets = Targets::new(self.targets.target.as_deref(), &self.targets.target_map)
            .map_err(|(flag, problem)| usage(flag, problem))?;
        if let Some(url) = &self.targets.baseline_target {
            targets
                .set_baseline(url)
                .map_err(|(flag, problem)| usage(flag, problem))?;
        }
        for (flag, n) in [
            ("--multiply", self.multiply as usize),
            ("--max-connections", self.max_connections),
            ("--max-inflight", self.max_inflight),
            ("--max-pending", self.max_pending),
            ("--io-threads", self.io_threads),
        ] {
            if n == 0 {
                return Err(usage(flag, "must be at least 1"));
            }
        }
        if self.multiply > 1000 {
            return Err(usage("--multiply", "at most 1000"));
        }
        if self.limit == Some(0) {
            return Err(usage("--limit", "must be at least 1"));
        }
        for (flag, d) in [
            ("--timeout", self.timeout),
            ("--connect-timeout", self.connect_timeout),
        ] {
            if d.is_zero() {
                return Err(usage(flag, "must be more than 0"));
            }
        }
        if self.targets.ca_file.is_some() && self.targets.insecure {
            return Err(usage("--ca-file", "has no use with --insecure"));
        }
        let rewrites = Rewrites::new(
            self.targets.rewrite_host,
            &self.targets.set_header,
            &self.targets.remove_header,
            &self.targets.rewrite_url,
        )?;
        let capture = CaptureFlags {
            ports: &self.ports,
            buffers: &self.buffers,
            selection: &self.selection,
            redact: &self.redact,
            limit: self.limit,
        }
        .into_config(true)?;
        // The capture filter leaves the targets out: `Shadow::prepare` builds it.
        let live = self.live.into_options(
            &self.interfaces,
            None,
            "reel shadow: second signal, exiting now (shadow requests in flight are abandoned)",
        )?;
        let compare = self.compares().then(|| crate::compare::Config {
            templater: Templater::new(self.judge.endpoint_rules.clone()),
            thresholds: Thresholds {
                min_samples: self.judge.min_samples,
                ..Thresholds::default()
            },
            timeout_ns: Some(u64::try_from(self.timeout.as_nanos()).unwrap_or(u64::MAX)),
            expect_baseline: self.targets.baseline_target.is_some(),
            ..crate::compare::Config::default()
        });
        Ok(ShadowConfig {
            plan: PlanConfig {
                inputs: Vec::new(),
                // The capture selected already (its filter counts what it left out).
                filter: Filter::default(),
                rewrites,
                targets,
                shard: Shard::default(),
                looping: false,
                max_planned: None,
                max_log_offset_ns: None,
            },
            limits: Limits {
                multiply: self.multiply,
                max_pending: self.max_pending,
                pending_memory: usize::try_from(self.pending_memory).unwrap_or(usize::MAX),
                max_inflight: self.max_inflight,
                max_connections: self.max_connections,
            },
            capture,
            live,
            ports: self.ports.clone(),
            filter: self.filter.clone(),
            allow_production_target: self.allow_production_target,
            insecure: self.targets.insecure,
            ca_file: self.targets.ca_file.clone(),
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            io_threads: self.io_threads,
            duration: self.duration,
            stats_interval: self.stats_interval,
            results: self.results.clone(),
            compare,
            gates,
            judging,
        })
    }
}
