//! The arguments of `reel replay`: logs, targets, filters, pacing, connections, shards, results, gates.
// The flags' doc comments are clap's help text, shown verbatim: `[:PORT]` and URLs are not links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

use std::path::PathBuf;

use super::{JsonArg, JudgeFlags, TargetFlags};
use crate::compare::GATES_HELP;
use crate::filter::FilterArgs;

const AFTER_HELP: &str = "\
Examples:
  reel replay prod.reel --target http://staging.internal:8080
  reel replay prod.reel --target http://staging:8080 --speed 2x --results run1.reel --json=run1.json
  reel replay prod.reel --target http://staging:8080 --speed 2x --report report.html \\
      --fail-if 'p99 > 1.25x' --fail-if 'error-rate > 0.5%'
  reel replay prod.reel --target http://candidate:8080 --baseline-target http://release:8080 \\
      --fail-if 'GET /api/users/{id}::p50 > 1.2x' --fail-if '5xx-rate > +1%' --results ab.reel
  reel replay prod.reel --target https://staging:8443 --ca-file staging-ca.pem --rewrite-host
  reel replay a.reel b.reel --target-map api.example.com=http://api-staging:8080 \\
      --target-map img.example.com=http://img-staging:8080 --read-only
  reel replay prod.reel --target http://staging:8080 --rate 500/s --duration 5m --loop --warmup 30s
  reel replay prod.reel --target http://staging:8080 --rate max --concurrency 64 --limit 1000000
  reel replay prod.reel --target http://staging:8080 --shard 2/8 --start-at 2025-06-01T12:00:00Z
  reel replay prod.reel --target http://staging:8080 --dry-run --limit 20
  reel replay prod.reel --target http://staging:8080 --json | jq .staging.latency_ms

Latency is measured from each request's intended send time (coordinated omission corrected);
service time from its first byte written; lag is first byte written minus intended time.
--rate and --limit apply to each replayer (each shard). Exit status: 0 done (every gate holds),
1 a --fail-if gate failed, 2 bad flag, gate expression or input file, 3 runtime failure. Failed
requests (refused, timeout, reset, TLS, malformed) are counted and never stop the run.

With --fail-if, --report, --baseline-target or --compare, every result also goes into a
per-endpoint comparison (the one `reel compare` computes from a results log), printed at the end.
With --baseline-target, every request is sent to both deployments at the same intended moment,
each over its own connections; the comparison is then candidate (--target) against baseline, and
the baseline against production shows the environment's own noise.";

/// The help text after the flags: examples, then the gate grammar.
fn after_help() -> String {
    format!("{AFTER_HELP}\n\n{GATES_HELP}")
}

/// Arguments of `reel replay`.
#[derive(Debug, clap::Args)]
#[command(after_help = after_help())]
pub struct Args {
    /// Logs to replay (several are merged by time, connection ids kept unique; `-` reads one from stdin).
    #[arg(required = true, value_name = "LOG.reel")]
    pub inputs: Vec<PathBuf>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub targets: TargetFlags,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub filter: FilterArgs,

    /// Keep recorded timing, scaled: 2x sends twice as fast, 0.5x half as fast.
    ///
    /// Example: --speed 2x
    #[arg(long, value_name = "FACTOR", conflicts_with = "rate")]
    pub speed: Option<String>,

    /// Send at a constant rate (N/s, N/m, N/h), or `max`: as fast as --concurrency allows.
    ///
    /// Example: --rate 500/s
    #[arg(long, value_name = "N/s|max")]
    pub rate: Option<String>,

    /// Pool size for --connections pool (and --rate max).
    ///
    /// Example: --concurrency 64
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = super::parse_count_usize, allow_hyphen_values = true)]
    pub concurrency: usize,

    /// `mirror`: each recorded connection over one keep-alive connection, in recorded order,
    /// pipelined where it was (default; not with --rate max). `pool`: a shared pool of
    /// --concurrency connections (default with --rate max).
    ///
    /// Example: --connections pool
    #[arg(long, value_name = "MODE", value_parser = ["mirror", "pool"])]
    pub connections: Option<String>,

    /// Mirror mode: most connections open at once; beyond it the least recently used is closed.
    ///
    /// Example: --max-connections 2000
    #[arg(long, value_name = "N", default_value_t = 4096, value_parser = super::parse_count_usize, allow_hyphen_values = true)]
    pub max_connections: usize,

    /// Time allowed to open a connection (TCP and TLS).
    ///
    /// Example: --connect-timeout 2s
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub connect_timeout: String,

    /// Time allowed from a request's first byte written to the end of its response; a timeout
    /// counts as a latency equal to it, and as an error.
    ///
    /// Example: --timeout 10s
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    pub timeout: String,

    /// Stop after N requests (this replayer's).
    ///
    /// Example: --limit 10000
    #[arg(long, value_name = "N", value_parser = super::parse_count, allow_hyphen_values = true)]
    pub limit: Option<u64>,

    /// Stop scheduling requests this long after the start.
    ///
    /// Example: --duration 10m
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,

    /// Start over at the end of the log (until --duration, --limit or Ctrl-C).
    ///
    /// Example: --loop --duration 1h
    #[arg(long = "loop")]
    pub looping: bool,

    /// Requests intended within this long of the start are sent but left out of statistics.
    ///
    /// Example: --warmup 30s
    #[arg(long, value_name = "DURATION")]
    pub warmup: Option<String>,

    /// Send only shard I of N (I from 0, e.g. Kubernetes' JOB_COMPLETION_INDEX): connections (or
    /// requests, with --shard-by request) whose xxh3-64 hash mod N is I.
    ///
    /// Example: --shard 0/4
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,

    /// What --shard splits: `connection` (default: keeps connections whole) or `request`.
    ///
    /// Example: --shard-by request
    #[arg(long, value_name = "WHAT", value_parser = ["connection", "request"], default_value = "connection")]
    pub shard_by: String,

    /// The schedule's zero, shared by all shards: RFC 3339 or Unix seconds. Waits until then.
    ///
    /// Example: --start-at 2025-06-01T12:00:00Z
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,

    /// Replay even though a target is a production server or Host found in the log (the first
    /// 100 000 records are scanned).
    ///
    /// Example: --allow-production-target
    #[arg(long)]
    pub allow_production_target: bool,

    /// Print one line per request that would be sent (offset, method, URL, connection), send nothing.
    ///
    /// Example: --dry-run --limit 50
    #[arg(long)]
    pub dry_run: bool,

    /// Write one result record per request (staging status, times, bytes, error, with the
    /// production fields) to this log.
    ///
    /// Example: --results staging-run.reel
    #[arg(long, value_name = "FILE.reel")]
    pub results: Option<PathBuf>,

    /// Threads running connections (default: the number of CPUs).
    ///
    /// Example: --io-threads 4
    #[arg(long, value_name = "N")]
    pub io_threads: Option<usize>,

    /// Serve Prometheus metrics on ADDR while replaying: /metrics (requests sent, finished, ok,
    /// errors, connections opened, schedule lag), /ready once sending has started, /health.
    ///
    /// Example: --metrics-addr 127.0.0.1:9464
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub judge: JudgeFlags,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArg,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub damage: super::DamageArg,
}

impl Args {
    /// True when the run keeps a per-endpoint comparison.
    pub fn compares(&self) -> bool {
        self.judge.wanted() || self.targets.baseline_target.is_some()
    }
}
