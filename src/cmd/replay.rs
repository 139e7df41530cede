//! `reel replay`: the flags as typed, validated into a [`ReplayConfig`], then the run and its summary.
// The flags' doc comments are clap's help text, shown verbatim: `[:PORT]` and URLs are not links.
#![allow(rustdoc::broken_intra_doc_links, rustdoc::bare_urls)]

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, SystemTime};

use crate::cli::replay::Args;
use crate::exit::Context;

use crate::cli::parse_duration;
use crate::compare::endpoint::Templater;
use crate::compare::{Comparison, GateResult, TextOptions, Thresholds, UnknownScope, parse_gates};
use crate::exit::{Status, usage};
use crate::replay::plan::plan;
use crate::replay::schedule::{Pacer, Step};
use crate::replay::{
    ConnMode, PaceRules, Pacing, PlanConfig, Progress, ReplayConfig, ReplayError, ReplaySummary,
    Rewrites, Shard, Targets, safety, target,
};

/// How late a `--start-at` may be when the replay starts (shards started by one job a moment
/// apart); later is refused.
const START_AT_SLACK: Duration = Duration::from_secs(1);

/// Bytes of each response body kept in `--results` (after the whole head).
const KEEP_BODY: usize = 1024;

fn duration_flag(flag: &str, text: &str) -> crate::exit::Result<Duration> {
    parse_duration(text).map_err(|e| usage(flag, e))
}

/// Parses `--start-at`: RFC 3339 (`2025-06-01T12:00:00Z`) or Unix seconds (`1748779200.5`).
pub fn parse_start_at(text: &str) -> Result<SystemTime, String> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(SystemTime::UNIX_EPOCH + Duration::from_secs_f64(secs));
        }
    }
    humantime::parse_rfc3339_weak(t).map_err(|_| {
        format!("expected RFC 3339 (2025-06-01T12:00:00Z) or Unix seconds, got {text:?}")
    })
}

/// Parses `--shard I/N`.
pub fn parse_shard(text: &str) -> Result<(u32, u32), String> {
    let bad = || format!("expected I/N with 0 <= I < N, got {text:?}");
    let (i, n) = text.trim().split_once('/').ok_or_else(bad)?;
    let i: u32 = i.trim().parse().map_err(|_| bad())?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// Validates the flags into a configuration (errors name the flag, exit 2).
pub fn config(args: &Args) -> crate::exit::Result<ReplayConfig> {
    let inputs = crate::ends::Input::list(&args.inputs)?;
    if args.looping && inputs.iter().any(crate::ends::Input::is_stdin) {
        return Err(usage("--loop", "stdin (-) can be read only once"));
    }
    let mut targets = Targets::new(args.targets.target.as_deref(), &args.targets.target_map)
        .map_err(|(flag, problem)| usage(flag, problem))?;
    if let Some(url) = &args.targets.baseline_target {
        targets
            .set_baseline(url)
            .map_err(|(flag, problem)| usage(flag, problem))?;
    }
    if let Some(report) = &args.judge.report {
        check_report_path(report)?;
    }
    if let Some(results) = &args.results {
        crate::cli::check_writable("--results", results)?;
    }
    args.json.check()?;
    let rewrites = Rewrites::new(
        args.targets.rewrite_host,
        &args.targets.set_header,
        &args.targets.remove_header,
        &args.targets.rewrite_url,
    )?;
    let filter = args.filter.build()?;
    let pacing = match (&args.speed, &args.rate) {
        (Some(s), _) => Pacing::parse_speed(s).map_err(|e| usage("--speed", e))?,
        (None, Some(r)) => Pacing::parse_rate(r).map_err(|e| usage("--rate", e))?,
        (None, None) => Pacing::Speed(1.0),
    };
    let mode = match (args.connections.as_deref(), pacing) {
        (Some("mirror"), Pacing::Max) => {
            return Err(usage(
                "--connections",
                "mirror does not go with --rate max (use pool, the default there)",
            ));
        }
        (Some("pool"), _) | (None, Pacing::Max) => ConnMode::Pool,
        _ => ConnMode::Mirror,
    };
    if args.concurrency == 0 || args.concurrency > 100_000 {
        return Err(usage("--concurrency", "expected 1 to 100000"));
    }
    if args.max_connections == 0 {
        return Err(usage("--max-connections", "expected at least 1"));
    }
    let (index, count) = match &args.shard {
        Some(s) => parse_shard(s).map_err(|e| usage("--shard", e))?,
        None => (0, 1),
    };
    let start_at = args
        .start_at
        .as_deref()
        .map(|s| parse_start_at(s).map_err(|e| usage("--start-at", e)))
        .transpose()?;
    if let Some(at) = start_at {
        // A moment already gone would count the time since as every request's latency.
        if let Ok(ago) = SystemTime::now().duration_since(at) {
            if ago > START_AT_SLACK {
                return Err(usage(
                    "--start-at",
                    format!(
                        "{} is {:.1} s in the past (the schedule would start late and count the \
                         delay as latency)",
                        args.start_at.as_deref().unwrap_or_default(),
                        ago.as_secs_f64()
                    ),
                ));
            }
        }
    }
    let timeout = duration_flag("--timeout", &args.timeout)?;
    let connect_timeout = duration_flag("--connect-timeout", &args.connect_timeout)?;
    if timeout.is_zero() {
        return Err(usage("--timeout", "must be more than 0"));
    }
    if connect_timeout.is_zero() {
        return Err(usage("--connect-timeout", "must be more than 0"));
    }
    let rules = PaceRules {
        limit: args.limit,
        duration: args
            .duration
            .as_deref()
            .map(|d| {
                duration_flag("--duration", d).and_then(|d| {
                    if d.is_zero() {
                        Err(usage("--duration", "must be more than 0"))
                    } else {
                        Ok(d)
                    }
                })
            })
            .transpose()?,
        warmup: args
            .warmup
            .as_deref()
            .map(|d| duration_flag("--warmup", d))
            .transpose()?
            .unwrap_or_default(),
    };
    if args.targets.ca_file.is_some() && args.targets.insecure {
        return Err(usage("--ca-file", "has no use with --insecure"));
    }
    let io_threads = args
        .io_threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get));
    Ok(ReplayConfig {
        plan: PlanConfig {
            inputs: args.inputs.clone(),
            filter,
            rewrites,
            targets,
            shard: Shard {
                index,
                count,
                by_request: args.shard_by == "request",
            },
            looping: args.looping,
            max_planned: match (pacing, rules.duration) {
                (Pacing::Rate(r), Some(d)) => {
                    let n = (r * d.as_secs_f64()).ceil() as u64;
                    Some(rules.limit.map_or(n, |l| l.min(n)))
                }
                _ => rules.limit,
            },
            max_log_offset_ns: match (pacing, rules.duration) {
                (Pacing::Speed(f), Some(d)) => Some((d.as_nanos() as f64 * f) as u64),
                _ => None,
            },
        },
        pacing,
        mode,
        concurrency: args.concurrency,
        max_connections: args.max_connections,
        rules,
        connect_timeout,
        timeout,
        tls: None,
        results: args.results.clone(),
        keep_body: KEEP_BODY,
        compare: args.compares().then(|| crate::compare::Config {
            templater: Templater::new(args.judge.endpoint_rules.clone()),
            thresholds: Thresholds {
                min_samples: args.judge.min_samples,
                ..Thresholds::default()
            },
            timeout_ns: Some(u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX)),
            expect_baseline: args.targets.baseline_target.is_some(),
            ..crate::compare::Config::default()
        }),
        start_at,
        progress: Progress::auto(),
        io_threads,
        live: None,
    })
}

/// `--report` must be writable: found out before the run, not after it (exit 2).
pub fn check_report_path(path: &Path) -> crate::exit::Result<()> {
    crate::cli::check_writable("--report", path)
}

/// What a replay gave: its own figures, the comparison (when one was kept) and the JSON of both.
#[derive(Debug)]
pub struct ReplayOutcome {
    /// The run's figures.
    pub summary: ReplaySummary,
    /// The per-endpoint comparison with the gates' verdicts.
    pub comparison: Option<Comparison>,
    /// The implicit `--max-error-rate` gate, judged on the run's counts when no comparison was
    /// kept (with one, it is among the comparison's gates).
    pub implicit: Option<GateResult>,
    /// A target set that answered nothing: the run tested nothing (exit 3).
    pub no_response: Option<ReplayError>,
    /// A gate scope that named no endpoint (exit 2).
    pub unknown_scope: Option<UnknownScope>,
    /// The `--json` object: the replay's keys, plus the comparison's (`passed`, `gates`,
    /// `reference`, `overall`, `endpoints`, …) and `report` when it was kept.
    pub json: serde_json::Value,
}

impl ReplayOutcome {
    /// The exit status: an interrupted run is 128 + the signal whatever its gates say; a failed
    /// gate is 1.
    pub fn status(&self) -> Status {
        if let Some(signal) = self.summary.interrupted {
            return Status::Interrupted(signal);
        }
        let implicit_failed = self.implicit.as_ref().is_some_and(|g| g.failed);
        match &self.comparison {
            Some(c) if !c.passed => Status::GateFailed,
            _ if implicit_failed => Status::GateFailed,
            _ => Status::Success,
        }
    }

    /// What ends the run after its output: nothing reached (3), then a scope typo (2), then the
    /// gates' status.
    pub fn finish(self) -> crate::exit::Result<Status> {
        if let Some(e) = self.no_response {
            return Err(e.into());
        }
        if let Some(e) = self.unknown_scope {
            return Err(e.into());
        }
        Ok(self.status())
    }
}

/// Targets that answered nothing: the candidate set, then the baseline.
pub fn no_response(summary: &ReplaySummary, with_baseline: bool) -> Option<ReplayError> {
    let (candidates, baseline) = match summary.targets.split_last() {
        Some((last, rest)) if with_baseline => (rest, Some(last)),
        _ => (summary.targets.as_slice(), None),
    };
    if let Some(causes) = summary.stats.no_response() {
        return Some(ReplayError::NoResponse {
            targets: candidates.join(", "),
            causes,
        });
    }
    let causes = summary.baseline.as_ref()?.no_response()?;
    Some(ReplayError::NoResponse {
        targets: baseline.cloned().unwrap_or_default(),
        causes,
    })
}

/// Replays as `args` say (not `--dry-run`), then finishes the comparison with the gates (the
/// report is written by [`write_report`], after the output). Gate expressions are parsed first:
/// a bad one stops it before anything is sent (exit 2, pointing at the character).
pub fn execute(args: &Args) -> crate::exit::Result<ReplayOutcome> {
    let mut gates = parse_gates(&args.judge.fail_if)?;
    let (judging, implicit) = crate::cmd::judging(&args.judge.verdicts, args.judge.min_samples)?;
    let mut config = config(args)?;
    for t in &mut config.plan.targets.list {
        t.resolve()?;
    }
    if !args.allow_production_target {
        let prod = safety::scan(&config.plan.inputs)?;
        safety::check(&config.plan.targets.list, &prod)?;
    }
    if config.plan.targets.list.iter().any(|t| t.tls) {
        config.tls = Some(Arc::new(target::tls_config(
            args.targets.insecure,
            args.targets.ca_file.as_deref(),
        )?));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let exporter = match &args.metrics_addr {
        Some(addr) => {
            let live = Arc::new(crate::replay::client::Live::default());
            config.live = Some(live.clone());
            Some(crate::replay::metrics::MetricsExport::start(addr, live)?)
        }
        None => None,
    };
    let summary = crate::replay::run(config, stop);
    drop(exporter);
    let mut summary = summary?;
    let mut unknown_scope = None;
    let mut implicit_result = None;
    let mut comparison = match summary.comparison.take() {
        Some(acc) => {
            unknown_scope = acc.check_scopes(&gates).err();
            gates.extend(implicit);
            Some(acc.finish(&gates, &judging))
        }
        None => {
            implicit_result = implicit.map(|g| {
                g.evaluate_counts(
                    summary.stats.error_total(),
                    summary.stats.attempted(),
                    &judging,
                )
            });
            None
        }
    };
    let no_response = no_response(&summary, args.targets.baseline_target.is_some());
    // Gates judged on part of a run are shown, never a pass.
    if let (Some(c), Some(line)) = (comparison.as_mut(), summary.interruption()) {
        c.cut_short(line);
    }
    let mut json = summary.to_json();
    if let Some(out) = json.as_object_mut() {
        out.insert(
            "no_response".into(),
            no_response.as_ref().map(ToString::to_string).into(),
        );
        if let Some(g) = &implicit_result {
            out.insert("passed".into(), (!g.failed).into());
            out.insert(
                "gates".into(),
                serde_json::to_value([g]).context("--json: encoding")?,
            );
        }
    }
    if let Some(c) = &comparison {
        if let (Some(out), serde_json::Value::Object(keys)) = (
            json.as_object_mut(),
            c.to_json().context("--json: encoding")?,
        ) {
            out.extend(keys);
            out.insert(
                "report".into(),
                args.judge
                    .report
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .into(),
            );
        }
    }
    Ok(ReplayOutcome {
        summary,
        comparison,
        implicit: implicit_result,
        no_response,
        unknown_scope,
        json,
    })
}

/// Writes `--report`, when asked for and there is a comparison, headed by `title` (default: the
/// command, see [`title`]).
pub fn write_report(
    args: &Args,
    outcome: &ReplayOutcome,
    title: Option<&str>,
) -> crate::exit::Result<()> {
    if let (Some(path), Some(c)) = (&args.judge.report, &outcome.comparison) {
        let title = title.map_or_else(|| self::title(args, &outcome.summary), str::to_string);
        crate::compare::write_report(path, c, &title, &parameters(args, &outcome.summary))?;
    }
    Ok(())
}

/// Runs `reel replay`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    if args.dry_run {
        parse_gates(&args.judge.fail_if)?;
        crate::cmd::judging(&args.judge.verdicts, args.judge.min_samples)?;
        let config = config(&args)?;
        return dry_run(&config, &args);
    }
    let outcome = execute(&args)?;
    let mut human = args.json.human();
    human
        .write_all(outcome.summary.human().as_bytes())
        .context("stdout")?;
    if let Some(c) = &outcome.comparison {
        writeln!(human).context("stdout")?;
        c.write_text(
            &mut human,
            &TextOptions {
                max_endpoints: args.judge.top,
            },
        )
        .context("stdout")?;
        crate::compare::text::warn_insufficient(&c.gates);
    }
    if let Some(g) = &outcome.implicit {
        writeln!(human, "gates:\n  {g}").context("stdout")?;
        crate::compare::text::warn_insufficient(std::slice::from_ref(g));
    }
    human.flush().context("stdout")?;
    args.json.emit(&outcome.json)?;
    write_report(&args, &outcome, None)?;
    if let Some(path) = args
        .judge
        .report
        .as_ref()
        .filter(|_| outcome.comparison.is_some())
    {
        writeln!(human, "report: {}", path.display()).context("stdout")?;
        human.flush().context("stdout")?;
    }
    // An interrupted run says so above and exits 128 + the signal, whatever else it found.
    if let Some(signal) = outcome.summary.interrupted {
        return Ok(Status::Interrupted(signal));
    }
    crate::cmd::judge_damage(&outcome.summary.plan.damage, args.damage)?;
    outcome.finish()
}

/// The report's title: the command that made it, `reel replay shop.reel → http://staging:8080`
/// (and `vs http://…` for a baseline target).
pub fn title(args: &Args, summary: &ReplaySummary) -> String {
    let inputs: Vec<String> = args
        .inputs
        .iter()
        .map(|i| i.display().to_string())
        .collect();
    let (candidates, baseline) = match summary.targets.split_last() {
        Some((last, rest)) if args.targets.baseline_target.is_some() => (rest, Some(last)),
        _ => (summary.targets.as_slice(), None),
    };
    let mut title = format!(
        "reel replay {} → {}",
        inputs.join(" "),
        candidates.join(", ")
    );
    if let Some(b) = baseline {
        title.push_str(&format!(" vs baseline {b}"));
    }
    title
}

/// The run's parameters as the report shows them.
pub fn parameters(args: &Args, summary: &ReplaySummary) -> BTreeMap<String, String> {
    let mut p = BTreeMap::new();
    let inputs: Vec<String> = args
        .inputs
        .iter()
        .map(|i| i.display().to_string())
        .collect();
    p.insert("logs".into(), inputs.join(", "));
    // The baseline is the last target (`Targets::set_baseline`).
    let (candidates, baseline) = match summary.targets.split_last() {
        Some((last, rest)) if args.targets.baseline_target.is_some() => (rest, Some(last)),
        _ => (summary.targets.as_slice(), None),
    };
    p.insert("target".into(), candidates.join(", "));
    if let Some(b) = baseline {
        p.insert("baseline target".into(), b.clone());
    }
    let pace = match (&args.speed, &args.rate) {
        (Some(s), _) => format!("--speed {s}"),
        (None, Some(r)) => format!("--rate {r}"),
        (None, None) => "--speed 1x (recorded timing)".into(),
    };
    p.insert("pace".into(), pace);
    p.insert(
        "connections".into(),
        args.connections.clone().unwrap_or_else(|| "mirror".into()),
    );
    p.insert("timeout".into(), args.timeout.clone());
    if !args.judge.fail_if.is_empty() {
        p.insert("gates".into(), args.judge.fail_if.join("   "));
    }
    if !args.judge.endpoint_rules.is_empty() {
        p.insert(
            "endpoint rules".into(),
            format!("{:?}", args.judge.endpoint_rules),
        );
    }
    if let Some(r) = &args.results {
        p.insert("results".into(), r.display().to_string());
    }
    let s = &summary.stats;
    p.insert(
        "run".into(),
        format!(
            "sent {} in {:.1} s ({:.1} req/s over the run, {:.1} req/s in the send window), {} errors, {} skipped; reel {}",
            s.sent,
            summary.duration.as_secs_f64(),
            summary.run_rate(),
            s.achieved_rate(),
            s.error_total(),
            summary.plan.skipped.total(),
            env!("CARGO_PKG_VERSION")
        ),
    );
    p
}

/// `--dry-run`: what would be sent, one line per request, nothing sent.
fn dry_run(config: &ReplayConfig, args: &Args) -> crate::exit::Result<Status> {
    let mut out = std::io::BufWriter::new(args.json.human());
    let mut pacer = Pacer::new(config.pacing, config.rules);
    let mut n = 0u64;
    let mut failure: Option<std::io::Error> = None;
    let stats = plan(&config.plan, |p| {
        // Nothing is sent, so no time passes: with `--rate max` every request is due at once.
        let Step::Send { offset, .. } = pacer.step(&p, || Duration::ZERO) else {
            return false;
        };
        n += 1;
        let target = crate::http::framing::RequestHead::parse(&p.bytes)
            .map(|h| h.target_str().into_owned())
            .unwrap_or_else(|_| p.path.clone());
        let url = config
            .plan
            .targets
            .list
            .get(p.target)
            .map_or("", |t| t.url.as_str());
        let when = offset.map_or_else(|| "-".to_owned(), |o| format!("+{:.6}s", o.as_secs_f64()));
        let mut flags = String::new();
        if p.pipelined {
            flags.push_str(" pipelined");
        }
        if p.expect_unsent {
            flags.push_str(" expect-unsent");
        }
        if let Err(e) = writeln!(
            out,
            "{when} {} {url}{target} conn {} #{} ({} bytes){flags}",
            p.method,
            p.conn,
            p.index,
            p.bytes.len()
        ) {
            failure = Some(e);
            return false;
        }
        true
    })?;
    if let Some(e) = failure {
        return Err(crate::exit::Error::from(e).context("stdout"));
    }
    let twice = config
        .plan
        .targets
        .baseline
        .and_then(|b| config.plan.targets.list.get(b))
        .map(|b| format!(" (each also to the baseline {})", b.url))
        .unwrap_or_default();
    writeln!(
        out,
        "dry run: {n} requests would be sent{twice}, {} skipped",
        stats.skipped.total()
    )
    .context("stdout")?;
    out.flush().context("stdout")?;
    crate::cmd::judge_damage(&stats.damage, args.damage)?;
    Ok(Status::Success)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::flag_of;
    use clap::Parser;

    fn parse(args: &[&str]) -> crate::exit::Result<ReplayConfig> {
        let mut argv = vec!["reel", "replay", "x.reel"];
        argv.extend_from_slice(args);
        let cli = crate::cli::Cli::try_parse_from(argv).map_err(crate::exit::Error::from)?;
        match cli.command {
            crate::cli::Command::Replay(a) => config(&a),
            _ => unreachable!(),
        }
    }

    #[test]
    fn defaults_are_mirror_at_recorded_speed() {
        let c = parse(&["--target", "http://s:8080"]).unwrap();
        assert_eq!(c.pacing, Pacing::Speed(1.0));
        assert_eq!(c.mode, ConnMode::Mirror);
        assert_eq!(c.timeout, Duration::from_secs(30));
        assert_eq!(c.plan.shard, Shard::default());
        let c = parse(&["--target", "http://s", "--rate", "max"]).unwrap();
        assert_eq!((c.pacing, c.mode), (Pacing::Max, ConnMode::Pool));
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (vec!["--rate", "fast"], "--rate"),
            (vec!["--speed", "0"], "--speed"),
            (vec!["--shard", "4/4"], "--shard"),
            (vec!["--start-at", "tomorrow"], "--start-at"),
            (vec!["--timeout", "soon"], "--timeout"),
            (
                vec!["--rate", "max", "--connections", "mirror"],
                "--connections",
            ),
            (vec!["--rewrite-url", "nope"], "--rewrite-url"),
            (vec!["--path", "("], "--path"),
        ] {
            let mut a = vec!["--target", "http://s"];
            a.extend(args);
            let e = parse(&a).unwrap_err();
            assert_eq!(flag_of(&e), flag, "{e:#}");
            assert_eq!(crate::exit::classify(&e), Status::BadInput);
        }
        let e = parse(&[]).unwrap_err();
        assert_eq!(flag_of(&e), "--target");
    }

    #[test]
    fn shard_and_start_at_parse() {
        assert_eq!(parse_shard("2/8"), Ok((2, 8)));
        assert!(parse_shard("8/8").is_err());
        assert!(parse_shard("1/0").is_err());
        assert_eq!(
            parse_start_at("1700000000.5"),
            Ok(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_500))
        );
        assert_eq!(
            parse_start_at("2023-11-14T22:13:20Z"),
            Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
        );
    }
}
