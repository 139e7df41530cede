//! `reel compare`: the comparison recomputed from results logs alone — several shards of one run
//! merged exactly, or two staging runs against each other (`--baseline`).
//!
//! Results files are read as streams merged by intended send time (k-way, one pending record per
//! file, connection ids kept as recorded so the two target sets' results of one request pair up).
//! With `--baseline`, the candidate's and the baseline's streams are read in turn, one result
//! each, so that the two results of a request arrive close together whatever each run's pace.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::io::Write;
use std::path::PathBuf;

use crate::cli::compare::Args;
use crate::exit::Context;

use crate::compare::endpoint::Templater;
use crate::compare::{
    Accumulator, CompareError, Config, Role, TextOptions, Thresholds, parse_gates, write_report,
};
use crate::exchange::{Meta, Record, ReplayResult};
use crate::exit::{Status, bad_input};
use crate::log::LogError;

/// Results of several files, merged by intended send time; other records are set aside.
struct ResultStream {
    readers: Vec<crate::ends::reel_file::LogReader>,
    heads: Vec<Option<ReplayResult>>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    metas: Vec<Meta>,
    results: u64,
}

impl ResultStream {
    fn open(paths: &[PathBuf]) -> Result<Self, LogError> {
        let readers = paths
            .iter()
            .map(|p| crate::ends::reel_file::open(p))
            .collect::<Result<Vec<_>, _>>()?;
        let n = readers.len();
        let mut stream = ResultStream {
            readers,
            heads: vec![None; n],
            heap: BinaryHeap::with_capacity(n),
            metas: Vec::new(),
            results: 0,
        };
        for i in 0..n {
            stream.refill(i)?;
        }
        Ok(stream)
    }

    /// Reads input `i` up to its next result.
    fn refill(&mut self, i: usize) -> Result<(), LogError> {
        let Some(reader) = self.readers.get_mut(i) else {
            return Ok(());
        };
        while let Some(record) = reader.next_record()? {
            match record {
                Record::Result(r) => {
                    self.heap.push(Reverse((r.intended_ns, i)));
                    if let Some(slot) = self.heads.get_mut(i) {
                        *slot = Some(r);
                    }
                    return Ok(());
                }
                Record::Meta(m) if self.metas.len() < 16 => self.metas.push(m),
                _ => {}
            }
        }
        Ok(())
    }

    fn next_result(&mut self) -> Result<Option<ReplayResult>, LogError> {
        let Some(Reverse((_, i))) = self.heap.pop() else {
            return Ok(None);
        };
        let result = self.heads.get_mut(i).and_then(Option::take);
        self.refill(i)?;
        self.results += u64::from(result.is_some());
        Ok(result)
    }

    /// What the files' readers skipped as damaged, together.
    fn damage(&self) -> crate::log::Damage {
        let mut damage = crate::log::Damage::default();
        for r in &self.readers {
            damage += crate::log::Damage::of(r.name(), &r.stats());
        }
        damage
    }

    /// Corrupt blocks skipped, per file, as notes.
    fn skipped_notes(&self) -> Vec<String> {
        self.readers
            .iter()
            .filter(|r| r.stats().skipped_blocks > 0)
            .map(|r| {
                let s = r.stats();
                format!(
                    "{}: {} corrupt blocks ({} bytes) skipped; their results are missing",
                    r.name(),
                    s.skipped_blocks,
                    s.skipped_bytes
                )
            })
            .collect()
    }
}

/// How many results to look at for baseline results before reading for real.
const ROLE_PEEK: usize = 4096;

/// True when the first results of `paths` include baseline results (`--baseline-target` runs
/// write both roles into one file), so that pairing starts with the first result.
fn has_baseline_results(paths: &[PathBuf]) -> Result<bool, LogError> {
    let mut stream = ResultStream::open(paths)?;
    for _ in 0..ROLE_PEEK {
        match stream.next_result()? {
            Some(r) if r.role == 1 => return Ok(true),
            Some(_) => {}
            None => break,
        }
    }
    Ok(false)
}

fn names(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn first_name(paths: &[PathBuf]) -> String {
    paths
        .first()
        .map_or_else(String::new, |p| p.display().to_string())
}

fn single_target(r: &ReplayResult, paths: &[PathBuf]) -> crate::exit::Result<()> {
    if r.role != 0 {
        return Err(bad_input(
            names(paths),
            "holds results of two target sets (a --baseline-target run); with --baseline, give \
             results of single-target runs, or compare that file alone",
        ));
    }
    Ok(())
}

/// Runs `reel compare`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let mut gates = parse_gates(&args.fail_if)?;
    let (judging, implicit) = crate::cmd::judging(&args.verdicts, args.min_samples)?;
    if let Some(report) = &args.report {
        crate::cli::check_writable("--report", report)?;
    }
    args.json.check()?;
    let with_baseline = !args.baseline.is_empty();
    let expect_baseline = with_baseline || has_baseline_results(&args.files)?;
    let config = Config {
        templater: Templater::new(args.endpoint_rules.clone()),
        max_endpoints: args.max_endpoints,
        thresholds: Thresholds {
            min_samples: args.min_samples,
            ..Thresholds::default()
        },
        timeout_ns: args
            .timeout
            .map(|t| u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)),
        expect_baseline,
        ..Config::default()
    };
    let mut acc = Accumulator::new(config);
    let mut candidates = ResultStream::open(&args.files)?;
    let mut baselines = if with_baseline {
        Some(ResultStream::open(&args.baseline)?)
    } else {
        None
    };
    // The targets each side's results went to, for "no response from …" (a few kept).
    let mut targets: [std::collections::BTreeSet<String>; 2] = Default::default();
    let mut note_target = |side: usize, r: &ReplayResult| {
        if targets[side].len() < 8 && !targets[side].contains(&r.target) {
            targets[side].insert(r.target.clone());
        }
    };
    loop {
        let candidate = candidates.next_result()?;
        let baseline = match &mut baselines {
            Some(stream) => stream.next_result()?,
            None => None,
        };
        if candidate.is_none() && baseline.is_none() {
            break;
        }
        if let Some(r) = candidate {
            note_target(usize::from(!with_baseline && r.role == 1), &r);
            if with_baseline {
                single_target(&r, &args.files)?;
                acc.add_as(&r, Role::Candidate);
            } else {
                acc.add(&r);
            }
        }
        if let Some(r) = baseline {
            note_target(1, &r);
            single_target(&r, &args.baseline)?;
            acc.add_as(&r, Role::Baseline);
        }
    }
    if candidates.results == 0 {
        return Err(bad_input(
            names(&args.files),
            "no replay results in it (results logs come from `reel replay --results`; a capture \
             has none)",
        ));
    }
    if let Some(stream) = &baselines {
        if stream.results == 0 {
            return Err(bad_input(
                names(&args.baseline),
                "--baseline: no replay results in it",
            ));
        }
    }

    // A damaged results log gives no verdict on part of the run (unless --allow-damaged).
    let mut damage = candidates.damage();
    if let Some(stream) = &baselines {
        damage += stream.damage();
    }
    crate::cmd::judge_damage(&damage, args.damage)?;

    // A scope typo is the user's to fix: exit 2 before anything is computed or printed.
    acc.check_scopes(&gates)?;
    gates.extend(implicit);
    let mut comparison = acc.finish(&gates, &judging);
    let join = |set: &std::collections::BTreeSet<String>| {
        set.iter().cloned().collect::<Vec<_>>().join(", ")
    };
    let no_response = comparison
        .no_response()
        .map(|(baseline, causes)| CompareError::NoResponse {
            targets: join(&targets[usize::from(baseline)]),
            causes,
        });
    comparison.notes.extend(candidates.skipped_notes());
    if let Some(stream) = &baselines {
        comparison.notes.extend(stream.skipped_notes());
    }

    let mut json = comparison.to_json().context("--json: encoding")?;
    if let Some(out) = json.as_object_mut() {
        out.insert(
            "no_response".into(),
            no_response.as_ref().map(ToString::to_string).into(),
        );
        out.insert("damaged".into(), damage.to_json());
    }
    let mut out = args.json.human();
    comparison
        .write_text(
            &mut out,
            &TextOptions {
                max_endpoints: args.top,
            },
        )
        .context("writing the comparison")?;
    out.flush().context("writing the comparison")?;
    crate::compare::text::warn_insufficient(&comparison.gates);
    args.json.emit(&json)?;
    if let Some(path) = &args.report {
        let params = parameters(&args, &candidates.metas, baselines.as_ref());
        write_report(path, &comparison, &title(&args), &params)?;
        let _ = writeln!(out, "report: {}", path.display());
    }
    if let Some(e) = no_response {
        return Err(e.into());
    }
    Ok(if comparison.passed {
        Status::Success
    } else {
        Status::GateFailed
    })
}

/// The report's title: the command that made it, `reel compare a.reel b.reel --baseline c.reel`.
fn title(args: &Args) -> String {
    let files = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let mut title = format!("reel compare {}", files(&args.files));
    if !args.baseline.is_empty() {
        title.push_str(&format!(" --baseline {}", files(&args.baseline)));
    }
    title
}

/// The run's parameters as the report shows them.
fn parameters(
    args: &Args,
    metas: &[Meta],
    baselines: Option<&ResultStream>,
) -> BTreeMap<String, String> {
    let mut params = BTreeMap::new();
    params.insert("results".into(), names(&args.files));
    if !args.baseline.is_empty() {
        params.insert("baseline results".into(), names(&args.baseline));
    }
    if !args.fail_if.is_empty() {
        params.insert("gates".into(), args.fail_if.join("   "));
    }
    if !args.endpoint_rules.is_empty() {
        params.insert(
            "endpoint rules".into(),
            format!("{:?}", args.endpoint_rules),
        );
    }
    if let Some(t) = args.timeout {
        params.insert("timeout".into(), humantime::format_duration(t).to_string());
    }
    let describe = |m: &Meta| {
        let mut text = format!("reel {} {}", m.tool_version, m.command);
        if !m.host.is_empty() {
            text.push_str(&format!(" on {}", m.host));
        }
        if !m.sources.is_empty() {
            text.push_str(&format!(" from {}", m.sources.join(", ")));
        }
        text
    };
    if let Some(m) = metas.first() {
        params.insert(
            format!("{} written by", first_name(&args.files)),
            describe(m),
        );
    }
    if let Some(m) = baselines.and_then(|b| b.metas.first()) {
        params.insert(
            format!("{} written by", first_name(&args.baseline)),
            describe(m),
        );
    }
    params
}
