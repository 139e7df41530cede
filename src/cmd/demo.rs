//! `reel demo`: the whole loop on this machine, in seconds, with nothing else installed. The sample
//! capture embedded in the binary becomes a log in a temporary directory; two releases of the
//! built-in staging shop start on loopback; `reel replay --baseline-target` sends every request to
//! both at the same moment with a handful of gates; the comparison is printed and the HTML report
//! written. v2's regressions fail gates — that is the demo working, so it exits 0.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::cli::demo::Args;
use crate::exit::Context;
use clap::Parser;
use serde_json::json;

use crate::cli::{Cli, Command};
use crate::compare::TextOptions;
use crate::demo::DemoError;
use crate::demo::sample::{self, SampleFacts};
use crate::demo::staging::{REGRESSIONS, Release, Staging};
use crate::exit::{Status, usage};

/// The gates the demo replays with: two hold, two catch v2's regressions.
pub const GATES: [&str; 4] = [
    "p99 > 1.25x",
    "error-rate > 0.5%",
    "POST /api/orders::5xx-rate > 1%",
    "GET /api/users/{id}/orders::p50 > 1.2x",
];

/// A private temporary directory, removed with what it holds when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Result<TempDir, DemoError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("reel-demo-{}-{nanos:09}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&path)
            .map_err(|source| DemoError::TempDir {
                path: path.display().to_string(),
                source,
            })?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `arg` as a shell would need it typed.
fn quoted(arg: &str) -> String {
    if !arg.is_empty()
        && arg
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=,@%+".contains(&b))
    {
        arg.to_owned()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}

/// Terminal width the demo's own lines are wrapped to.
const WIDTH: usize = 100;

/// Each line of `text` wrapped at spaces to [`WIDTH`] columns, continuation lines indented by
/// `indent` spaces (a word longer than the room stays whole).
fn wrap(text: &str, indent: usize) -> String {
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut width = 0;
        for (j, word) in line.split(' ').enumerate() {
            let n = word.chars().count();
            if j > 0 && width + 1 + n > WIDTH && width > indent {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                width = indent;
            } else if j > 0 {
                out.push(' ');
                width += 1;
            }
            out.push_str(word);
            width += n;
        }
    }
    out
}

/// A command line laid out for a terminal and for copying: each flag kept with its value, lines
/// continued with ` \`, continuation lines indented by `indent` spaces.
fn command_lines(start: &str, args: &[String], indent: usize) -> String {
    let mut units: Vec<String> = Vec::new();
    for a in args {
        match units.last_mut() {
            Some(last) if last.starts_with("--") && !last.contains(' ') && !a.starts_with("--") => {
                last.push(' ');
                last.push_str(a);
            }
            _ => units.push(a.clone()),
        }
    }
    let mut out = start.to_owned();
    let mut width = start.chars().count();
    for unit in units {
        let n = unit.chars().count();
        if width + 1 + n + 2 > WIDTH && width > indent {
            out.push_str(" \\\n");
            out.push_str(&" ".repeat(indent));
            width = indent;
        } else {
            out.push(' ');
            width += 1;
        }
        out.push_str(&unit);
        width += n;
    }
    out
}

/// The `reel replay` command line the demo runs.
fn replay_argv(
    log: &Path,
    v2: &Staging,
    v1: &Staging,
    args: &Args,
    facts: &SampleFacts,
) -> Vec<String> {
    let mut argv: Vec<String> = [
        "reel",
        "replay",
        &log.display().to_string(),
        "--target",
        &v2.url(),
        "--baseline-target",
        &v1.url(),
        "--speed",
        &args.speed,
        "--loop",
        "--limit",
        &(facts.requests * u64::from(args.repeat)).to_string(),
        "--connections",
        "pool",
        "--concurrency",
        "32",
        "--timeout",
        "5s",
        "--report",
        &args.report.display().to_string(),
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for g in GATES {
        argv.push("--fail-if".into());
        argv.push(g.into());
    }
    argv
}

/// Runs `reel demo`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let started = Instant::now();
    if args.repeat == 0 || args.repeat > 100 {
        return Err(usage("--repeat", "expected 1 to 100"));
    }
    super::replay::check_report_path(&args.report)?;
    crate::replay::Pacing::parse_speed(&args.speed).map_err(|e| usage("--speed", e))?;
    let dir = TempDir::new()?;
    let log = dir.0.join("shop.reel");
    let facts = sample::write_log(&log)?;
    let v1 = Staging::start(Release::V1)?;
    let v2 = Staging::start(Release::V2)?;

    let argv = replay_argv(&log, &v2, &v1, &args, &facts);
    let replay_args = match Cli::try_parse_from(&argv)
        .context("the demo's replay command line (a bug in reel)")?
        .command
    {
        Command::Replay(a) => a,
        _ => {
            return Err(crate::exit::runtime(
                "the demo's replay command line is not a replay (a bug in reel)",
            ));
        }
    };

    let mut out = args.json.human();
    let shown: Vec<String> = argv
        .iter()
        .skip(2)
        .map(|a| {
            if Path::new(a) == log {
                "shop.reel".to_owned()
            } else {
                quoted(a)
            }
        })
        .collect();
    let mut intro = format!(
        "reel demo: real production traffic replayed against two releases of a shop, on loopback\n\
         \x20 production  {} requests over {} connections in {:.1} s, recorded from nginx \
         (captures-sample/shop.pcap, embedded in reel)\n\
         \x20 v1          {}  the current release: the baseline\n\
         \x20 v2          {}  the candidate, with deliberate regressions:\n",
        facts.requests,
        facts.connections,
        facts.span_ns as f64 / 1e9,
        v1.url(),
        v2.url(),
    );
    for r in REGRESSIONS {
        intro.push_str(&format!("                - {r}\n"));
    }
    write!(out, "{}", wrap(&intro, 14)).context("stdout")?;
    writeln!(
        out,
        "{}\n",
        command_lines("  running     reel replay", &shown, 16)
    )
    .context("stdout")?;
    out.flush().context("stdout")?;

    let outcome = super::replay::execute(&replay_args)?;
    drop((v1, v2));
    drop(dir);
    // The report is titled by the command as the user saw it (the log by its name, not its
    // temporary path).
    let mut title = format!(
        "reel demo: {}",
        super::replay::title(&replay_args, &outcome.summary)
    );
    for input in &replay_args.inputs {
        if let Some(name) = input.file_name() {
            title = title.replacen(&input.display().to_string(), &name.to_string_lossy(), 1);
        }
    }
    super::replay::write_report(&replay_args, &outcome, Some(&title))?;

    out.write_all(outcome.summary.human().as_bytes())
        .context("stdout")?;
    let Some(comparison) = &outcome.comparison else {
        return Err(crate::exit::runtime(
            "the demo's replay kept no comparison (a bug in reel)",
        ));
    };
    writeln!(out).context("stdout")?;
    comparison
        .write_text(&mut out, &TextOptions { max_endpoints: 20 })
        .context("stdout")?;
    let report = std::path::absolute(&args.report).unwrap_or_else(|_| args.report.clone());
    let failed = comparison.failed_gates().count();
    let verdict = if failed > 0 {
        format!(
            "v2 FAILED {failed} of {} gates: the regressions built into it. In CI, `reel replay` \
             would exit 1 here and stop the release; the demo exits 0.",
            comparison.gates.len()
        )
    } else {
        format!(
            "v2 passed all {} gates: its regressions did not show this time (a very busy \
             machine blurs latency; try again).",
            comparison.gates.len()
        )
    };
    let saw = format!(
        "\nWhat you saw: each recorded request went to v2 and to v1 at the same moment; reel \
         compared v2 with v1, endpoint by endpoint.\n{verdict}\n\
         The \"baseline against production\" line is the environment's own noise (this staging \
         is not production's nginx): that is why gates compare with a baseline replayed \
         alongside.\n\
         Open {} in a browser. Then try your own traffic: reel record --read your.pcap \
         --output prod.reel; reel replay --help.",
        report.display()
    );
    writeln!(out, "{}", wrap(&saw, 2)).context("stdout")?;
    out.flush().context("stdout")?;

    let mut json = outcome.json;
    if let Some(keys) = json.as_object_mut() {
        keys.insert(
            "demo".into(),
            json!({
                "sample": {
                    "requests": facts.requests,
                    "connections": facts.connections,
                    "span_s": facts.span_ns as f64 / 1e9,
                },
                "v1": replay_args.targets.baseline_target,
                "v2": replay_args.targets.target,
                "regressions": REGRESSIONS,
                "wall_s": started.elapsed().as_secs_f64(),
            }),
        );
    }
    args.json.emit(&json)?;
    Ok(Status::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_for_a_shell() {
        assert_eq!(quoted("--speed"), "--speed");
        assert_eq!(quoted("http://127.0.0.1:80"), "http://127.0.0.1:80");
        assert_eq!(quoted("p99 > 1.25x"), "'p99 > 1.25x'");
        assert_eq!(quoted("it's"), "'it'\\''s'");
        assert_eq!(quoted(""), "''");
    }

    #[test]
    fn lines_wrap_at_spaces_with_an_indent() {
        let long = format!("{} {}", "a".repeat(60), "b".repeat(60));
        assert_eq!(
            wrap(&format!("x\n{long} c"), 4),
            format!("x\n{}\n    {} c", "a".repeat(60), "b".repeat(60))
        );
        // Runs of spaces used for alignment stay.
        assert_eq!(wrap("  a    b", 2), "  a    b");
    }

    #[test]
    fn a_command_keeps_flags_with_their_values() {
        let args: Vec<String> = ["log.reel", "--loop", "--fail-if", "'p99 > 1.25x'"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            command_lines("reel replay", &args, 4),
            "reel replay log.reel --loop --fail-if 'p99 > 1.25x'"
        );
        let many: Vec<String> = (0..20).map(|i| format!("--flag{i}")).collect();
        let text = command_lines("reel replay", &many, 4);
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
        assert!(text.contains(" \\\n    --flag"), "{text}");
    }

    #[test]
    fn the_gates_parse() {
        assert_eq!(crate::compare::parse_gates(&GATES).unwrap().len(), 4);
    }
}
