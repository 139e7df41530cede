//! The command line as the user typed it (clap derive): the subcommands, each one's arguments in
//! `cli/<name>.rs`, and the flag groups several commands share. Validation into the stages'
//! configs names the flag. `cli` imports the stages' config types and never `cmd`, which runs
//! what it defines.

use std::io::Write;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::compare::endpoint::EndpointRule;
use crate::ends::Output;
use crate::ends::log_output::LogOutput;
use crate::exit::{Context, usage};
use crate::log::rotate::{OutputPlan, OutputSpec};

pub mod cat;
pub mod compare;
pub mod completions;
pub mod demo;
pub mod import;
pub mod inspect;
pub mod man;
pub mod merge;
pub mod record;
pub mod replay;
pub mod shadow;

/// Record real HTTP traffic in production, replay it against staging, compare.
#[derive(Debug, Parser)]
#[command(name = "reel", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Print the chain of causes with errors, and debug logs.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// How log and event lines on stderr are written: text (plain lines; colour only on a
    /// terminal without NO_COLOR) or json (one JSON object per line, for log shippers).
    ///
    /// Example: --log-format json
    #[arg(
        long,
        global = true,
        value_enum,
        value_name = "FORMAT",
        default_value_t = crate::logline::LogFormat::Text
    )]
    pub log_format: crate::logline::LogFormat,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Record HTTP exchanges from pcap/pcapng files or live network devices into .reel logs.
    Record(Box<record::Args>),
    /// Summarise .reel logs: time span, requests, responses, connections, endpoints, status mix.
    Inspect(inspect::Args),
    /// Print the records of .reel logs as JSON lines, raw HTTP, or GoReplay's format.
    Cat(cat::Args),
    /// Convert a GoReplay .gor file (plain or gzip) into a .reel log.
    Import(import::Args),
    /// Merge several .reel logs into one, ordered by time, connection ids kept unique.
    Merge(merge::Args),
    /// Compare replay results with production (or a baseline run): per endpoint, with gates.
    Compare(compare::Args),
    /// Print a shell completion script.
    Completions(completions::Args),
    /// Print the man page (roff) to stdout.
    Man(man::Args),
    /// Replay a log against staging: faithful bytes, recorded or fixed pace, honest latency.
    Replay(Box<replay::Args>),
    /// Mirror live production traffic to staging as it happens: capture and replay in one
    /// process, never waiting on staging (what it cannot take is dropped and counted).
    Shadow(Box<shadow::Args>),
    /// Run the whole loop on this machine: a sample capture replayed against two releases of a
    /// built-in staging shop on loopback, compared with gates, an HTML report written.
    Demo(demo::Args),
}

/// `--json[=PATH]`: the summary as JSON, to stdout (human text then goes to stderr) or to PATH.
#[derive(Debug, Clone, Default, Args)]
pub struct JsonArg {
    /// Print the summary as JSON: to stdout with no value (human output moves to stderr), or to PATH.
    #[arg(
        long = "json",
        value_name = "PATH",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "-"
    )]
    pub json: Option<PathBuf>,
}

impl JsonArg {
    /// True when JSON goes to stdout, so human output must go to stderr.
    pub fn on_stdout(&self) -> bool {
        self.json.as_deref().is_some_and(|p| p.as_os_str() == "-")
    }

    /// Writes `value` where `--json` asked for it; does nothing without `--json`.
    pub fn emit(&self, value: &serde_json::Value) -> crate::exit::Result<()> {
        let Some(path) = &self.json else {
            return Ok(());
        };
        let mut text = serde_json::to_string_pretty(value).context("--json: encoding")?;
        text.push('\n');
        if path.as_os_str() == "-" {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).context("stdout")?;
            out.flush().context("stdout")?;
        } else {
            std::fs::write(path, text).with_context(|| format!("--json: {}", path.display()))?;
        }
        Ok(())
    }

    /// Checks a `--json=PATH` can be written (see [`check_writable`]), before the run.
    pub fn check(&self) -> crate::exit::Result<()> {
        match &self.json {
            Some(path) => check_writable("--json", path),
            None => Ok(()),
        }
    }

    /// Where human-readable summary lines go: stderr when JSON takes stdout, else stdout.
    pub fn human(&self) -> Box<dyn Write> {
        if self.on_stdout() {
            Box::new(crate::logline::Lines::new(std::io::stderr()))
        } else {
            Box::new(std::io::stdout())
        }
    }
}

/// The log a command writes — `-o` (`-` for stdout), `--append`, `--force` — the output group
/// `record`, `import` and `merge` share. [`OutputFlags::into_config`] validates it once.
#[derive(Debug, Clone, Args)]
pub struct OutputFlags {
    /// The .reel log to write, or - for stdout (a file is written as NAME.part, renamed when
    /// complete; mode 0600).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,

    /// Add to an existing log instead of refusing to overwrite it (not for a rotated output).
    #[arg(long, conflicts_with = "force")]
    pub append: bool,

    /// Replace an existing log (not for a rotated output).
    #[arg(long)]
    pub force: bool,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub flush: FlushArg,
}

/// Rotation and retention of a long-running output (`record`): the flags that make `-o` a
/// set of files.
#[derive(Debug, Clone, Args)]
pub struct RotationFlags {
    /// Finish the file and start the next once it holds SIZE bytes, e.g. 1G.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub rotate_size: Option<u64>,

    /// Finish files at multiples of this interval in local time, e.g. 1h (at the top of each hour).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub rotate_interval: Option<std::time::Duration>,

    /// Keep at most N finished files of the output pattern; the oldest are deleted.
    #[arg(long, value_name = "N")]
    pub retain_files: Option<usize>,

    /// Keep at most SIZE bytes of finished files of the output pattern, e.g. 50G.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub retain_size: Option<u64>,
}

impl OutputFlags {
    /// The output, validated (errors name the flag): stdout for `-o -` (the file flags, and
    /// `--json` without a path, refused with it), else the file rules — with `rotation`, a
    /// pattern and a set of files; without, one file of that name.
    pub fn into_config(
        &self,
        rotation: Option<&RotationFlags>,
        json: &JsonArg,
    ) -> crate::exit::Result<LogOutput> {
        json.check()?;
        let target = Output::new(&self.output);
        let plan = if target.is_stdout() {
            let r = rotation;
            let file_flags = [
                ("--rotate-size", r.is_some_and(|r| r.rotate_size.is_some())),
                (
                    "--rotate-interval",
                    r.is_some_and(|r| r.rotate_interval.is_some()),
                ),
                (
                    "--retain-files",
                    r.is_some_and(|r| r.retain_files.is_some()),
                ),
                ("--retain-size", r.is_some_and(|r| r.retain_size.is_some())),
                ("--append", self.append),
                ("--force", self.force),
            ];
            if let Some((flag, _)) = file_flags.iter().find(|(_, set)| *set) {
                return Err(usage(*flag, "has no use with -o - (stdout)"));
            }
            if json.on_stdout() {
                return Err(usage(
                    "--json",
                    "stdout carries the log (-o -): give --json a PATH",
                ));
            }
            None
        } else if let Some(r) = rotation {
            Some(OutputPlan::new(&OutputSpec {
                output: self.output.clone(),
                rotate_size: r.rotate_size,
                rotate_interval: r.rotate_interval,
                retain_files: r.retain_files,
                retain_size: r.retain_size,
                force: self.force,
                append: self.append,
            })?)
        } else {
            None
        };
        Ok(LogOutput {
            target,
            plan,
            writer: self.flush.writer_config(),
            force: self.force,
            append: self.append,
        })
    }
}

/// `--allow-damaged`: what a command does with a log that has corrupt or truncated blocks. Every
/// command that reads logs flattens this one flag and hands it to `log::Damage::judge`.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct DamageArg {
    /// Go on with what is intact in a damaged log (corrupt or truncated blocks skipped): a
    /// warning, not a failure (exit 3 without it).
    #[arg(long)]
    pub allow_damaged: bool,
}

/// `--flush-interval`: how much traffic the open block of a written log may hold, in time.
#[derive(Debug, Clone, Copy, Args)]
pub struct FlushArg {
    /// Close the log's open block once it spans this much capture time (wall time too, live),
    /// so that a crash or a cut file loses at most that much; blocks also close at 1 MiB.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_positive_duration)]
    pub flush_interval: std::time::Duration,
}

impl FlushArg {
    /// The writer's block settings with this interval.
    pub fn writer_config(self) -> crate::log::WriterConfig {
        crate::log::WriterConfig {
            block_age: self.flush_interval,
            ..crate::log::WriterConfig::default()
        }
    }
}

/// Parses a duration that must be more than 0 (`--duration 0` would stop before starting).
pub fn parse_positive_duration(text: &str) -> Result<std::time::Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() {
        return Err(format!("must be more than 0, got {text:?}"));
    }
    Ok(d)
}

/// Parses a count that must be at least 1 (`--limit`, `--concurrency`): a negative number or 0
/// is refused with its own message (clap's would suggest `-- -5`).
pub fn parse_count(text: &str) -> Result<u64, String> {
    let n: i128 = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number of at least 1, got {text:?}"))?;
    if n < 1 {
        return Err(format!("must be at least 1, got {text}"));
    }
    u64::try_from(n).map_err(|_| format!("too large: {text}"))
}

/// [`parse_count`] as a `usize`.
pub fn parse_count_usize(text: &str) -> Result<usize, String> {
    let n = parse_count(text)?;
    usize::try_from(n).map_err(|_| format!("too large: {text}"))
}

/// Checks before anything is sent or written that `path` can be created or replaced: its
/// directory exists and is writable, and it is not a directory. The same check for every output
/// flag of every command (`--results`, `--report`, `--json=PATH`, …); the error names the flag
/// (exit 2).
pub fn check_writable(flag: &str, path: &std::path::Path) -> crate::exit::Result<()> {
    use nix::unistd::{AccessFlags, access};
    if path.as_os_str() == "-" || crate::log::is_stream(path) {
        return Ok(());
    }
    if path.is_dir() {
        return Err(crate::exit::usage(
            flag,
            format!("{}: is a directory", path.display()),
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => std::path::Path::new("."),
    };
    if !dir.is_dir() {
        return Err(crate::exit::usage(
            flag,
            format!("{}: no such directory", dir.display()),
        ));
    }
    // A read-only file system is the environment's failure, not the flag's: the output's own
    // creation reports it (exit 3), still before the first request.
    if let Err(e) = access(dir, AccessFlags::W_OK | AccessFlags::X_OK) {
        if e == nix::errno::Errno::EROFS {
            return Ok(());
        }
        return Err(crate::exit::usage(
            flag,
            format!("{}: the directory is not writable", dir.display()),
        ));
    }
    if path.exists() && access(path, AccessFlags::W_OK).is_err() {
        return Err(crate::exit::usage(
            flag,
            format!("{}: not writable", path.display()),
        ));
    }
    Ok(())
}

/// Parses a byte size: `1048576`, `64k`, `64KiB`, `1.5MB`, `2G` (k, M, G are powers of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("expected a size like 64k, 16MiB or 1048576, got {text:?}"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => return Err(format!("unknown size unit {other:?} in {text:?}")),
    };
    let bytes = number * scale as f64;
    if !bytes.is_finite() || bytes < 0.0 || bytes > u64::MAX as f64 {
        return Err(format!("size out of range: {text:?}"));
    }
    Ok(bytes as u64)
}

/// Parses a duration the way humantime writes them: `30s`, `5m`, `1h 30m`, `250ms`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(text.trim())
        .map_err(|e| format!("expected a duration like 30s, 5m or 250ms, got {text:?} ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_units() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1.5M"), Ok(3 << 19));
        assert_eq!(parse_size(" 2 GB "), Ok(2 << 30));
        assert!(parse_size("lots").unwrap_err().contains("64k"));
        assert!(parse_size("5 parsecs").unwrap_err().contains("unit"));
    }

    #[test]
    fn durations_parse_like_humantime() {
        assert_eq!(
            parse_duration("250ms"),
            Ok(std::time::Duration::from_millis(250))
        );
        assert_eq!(
            parse_duration("1h 30m"),
            Ok(std::time::Duration::from_secs(5400))
        );
        assert!(parse_duration("soon").is_err());
    }
}

/// How gates are judged, for every command that judges them (`docs/GATES.md`).
#[derive(Debug, Clone, Args)]
pub struct VerdictFlags {
    /// Let a gate that cannot be judged (not enough data, an interval that overlaps its limit)
    /// pass, with a warning. Without it such a gate fails the run.
    ///
    /// Example: --allow-insufficient
    #[arg(long, conflicts_with = "strict")]
    pub allow_insufficient: bool,

    /// Fail gates that cannot be judged: the default; kept so that scripts that pass it work.
    ///
    /// Example: --strict
    #[arg(long)]
    pub strict: bool,

    /// Confidence of the intervals gates are judged by (two-sided, 50% to 99.999%).
    ///
    /// Example: --confidence 99%
    #[arg(long, value_name = "PCT", default_value = "95%")]
    pub confidence: String,

    /// The implicit gate: fail (exit 1) when more than RATE of the requests end in a transport
    /// error or timeout; `off` disables it.
    ///
    /// Example: --max-error-rate 1%
    #[arg(long, value_name = "RATE|off", default_value = "5%")]
    pub max_error_rate: String,
}

/// The comparison flags `replay` and `shadow` share: gates, the report, the printed table.
#[derive(Debug, Clone, Args)]
pub struct JudgeFlags {
    /// Fail (exit 1) when EXPR is true at the end of the run (repeatable; grammar below). Checked
    /// before anything is sent.
    ///
    /// Example: --fail-if 'p99 > 1.25x' --fail-if 'GET /api/users/{id}::error-rate > 0.5%'
    #[arg(long = "fail-if", value_name = "EXPR")]
    pub fail_if: Vec<String>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub verdicts: VerdictFlags,

    /// Fewest values per side for the latency verdict and effect-size gates; below it they read
    /// "not enough data".
    ///
    /// Example: --min-samples 200
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub min_samples: u64,

    /// Name endpoints matching REGEX as NAME in the comparison (repeatable; tried before the
    /// built-in folding of ids).
    ///
    /// Example: --endpoint-rule '^GET /api/v\d+/items/[^/]+$=>GET /api/items/{sku}'
    #[arg(long = "endpoint-rule", value_name = "REGEX=>NAME")]
    pub endpoint_rules: Vec<EndpointRule>,

    /// Write a self-contained HTML report (verdict, gates, endpoints, latency plots, status
    /// mix, examples) to FILE at the end of the run.
    ///
    /// Example: --report replay-report.html
    #[arg(long, value_name = "FILE.html")]
    pub report: Option<PathBuf>,

    /// Print the per-endpoint comparison at the end even without gates, report or baseline.
    ///
    /// Example: --compare
    #[arg(long)]
    pub compare: bool,

    /// Endpoints listed in the printed comparison (all of them are in --json and --report).
    ///
    /// Example: --top 50
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,
}

impl JudgeFlags {
    /// True when any of these flags asks for a per-endpoint comparison.
    pub fn wanted(&self) -> bool {
        self.compare
            || !self.fail_if.is_empty()
            || self.report.is_some()
            || !self.endpoint_rules.is_empty()
    }
}

/// Where requests go and how they are rewritten on the way: the flags `replay` and `shadow` share.
#[derive(Debug, Clone, Args)]
// The flags' doc comments are clap's help text, shown verbatim: `[:PORT]` and URLs are not links.
#[allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]
pub struct TargetFlags {
    /// Staging: http://HOST[:PORT] or https://HOST[:PORT].
    ///
    /// Example: --target http://staging.internal:8080
    #[arg(long, value_name = "URL")]
    pub target: Option<String>,

    /// Send requests whose Host is HOST to URL (repeatable; others go to --target, or are not
    /// sent without one).
    ///
    /// Example: --target-map api.example.com=http://api-staging:8080
    #[arg(long = "target-map", value_name = "HOST=URL")]
    pub target_map: Vec<String>,

    /// Also send every request to this deployment (e.g. the current release on identical staging
    /// hardware) at the same intended moment, over its own connections; gates and verdicts then
    /// compare --target with it instead of with production. Same TLS options as --target.
    ///
    /// Example: --target http://candidate:8080 --baseline-target http://release:8080
    #[arg(long = "baseline-target", value_name = "URL")]
    pub baseline_target: Option<String>,

    /// Accept any TLS certificate from https targets (self-signed staging).
    ///
    /// Example: --target https://staging:8443 --insecure
    #[arg(long)]
    pub insecure: bool,

    /// Also trust the CA certificates in this PEM file for https targets.
    ///
    /// Example: --ca-file /etc/ssl/staging-ca.pem
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,

    /// Set the Host header to the target's host[:port] (recorded Host otherwise kept).
    ///
    /// Example: --rewrite-host
    #[arg(long)]
    pub rewrite_host: bool,

    /// Set a header field: replaces the first field of that name in place (later ones removed),
    /// or adds it last (repeatable).
    ///
    /// Example: --set-header 'X-Replay: reel'
    #[arg(long = "set-header", value_name = "NAME: VALUE")]
    pub set_header: Vec<String>,

    /// Remove every field of this name (repeatable).
    ///
    /// Example: --remove-header Cookie
    #[arg(long = "remove-header", value_name = "NAME")]
    pub remove_header: Vec<String>,

    /// Rewrite the request-target: every match of REGEX is replaced ($1 for groups; repeatable,
    /// applied in order).
    ///
    /// Example: --rewrite-url '^/api/v1/=>/api/v2/'
    #[arg(long = "rewrite-url", value_name = "REGEX=>REPLACEMENT")]
    pub rewrite_url: Vec<String>,
}
