//! `reel shadow`: wiring only — the flags mapped to a `shadow::ShadowConfig` (`cli::shadow`),
//! the shadow pipeline prepared and run (`shadow::Shadow`), and what it returns printed: the
//! figures, the per-endpoint comparison, `--json`, the HTML report; the exit status says whether
//! the gates held.

use std::io::Write;

use crate::cli::shadow::Args;
use crate::compare::{TextOptions, parse_gates};
use crate::exit::{Context, Status};
use crate::shadow::{Shadow, ShadowOutcome};

/// Validates the flags and prepares the run (targets resolved, the capture filter built).
fn prepare(args: &Args) -> crate::exit::Result<Shadow> {
    let mut gates = parse_gates(&args.judge.fail_if)?;
    let (judging, implicit) = crate::cmd::judging(&args.judge.verdicts, args.judge.min_samples)?;
    gates.extend(implicit);
    if let Some(report) = &args.judge.report {
        crate::cmd::replay::check_report_path(report)?;
    }
    Ok(Shadow::prepare(args.into_config(gates, judging)?)?)
}

/// Runs `reel shadow`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let ShadowOutcome {
        report,
        comparison,
        implicit,
        no_response,
        unknown_scope,
        cut_short,
    } = prepare(&args)?.run()?;
    let mut human = args.json.human();
    human
        .write_all(report.human().as_bytes())
        .context("stdout")?;
    if let Some(c) = &comparison {
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
    if let Some(g) = &implicit {
        writeln!(human, "gates:\n  {g}").context("stdout")?;
        crate::compare::text::warn_insufficient(std::slice::from_ref(g));
    }
    human.flush().context("stdout")?;
    let mut json = report.json();
    if let Some(out) = json.as_object_mut() {
        out.insert(
            "no_response".into(),
            no_response.as_ref().map(ToString::to_string).into(),
        );
        if let Some(g) = &implicit {
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
    args.json.emit(&json)?;
    if let (Some(path), Some(c)) = (&args.judge.report, &comparison) {
        crate::compare::write_report(
            path,
            c,
            &report.title(),
            &report.parameters(&args.judge.fail_if),
        )?;
        writeln!(human, "report: {}", path.display()).context("stdout")?;
        human.flush().context("stdout")?;
    }
    // A signal before the --duration asked for: what ran is shown, but it is not the run asked for.
    if let Some(signal) = cut_short {
        crate::logline::warn(&format!(
            "INTERRUPTED by {} before --duration was reached: the figures and gates cover the part that ran",
            crate::runtime::signals::signal_name(signal)
        ));
        return Ok(Status::Interrupted(signal));
    }
    if let Some(e) = no_response {
        return Err(e.into());
    }
    if let Some(e) = unknown_scope {
        return Err(e.into());
    }
    Ok(match &comparison {
        Some(c) if !c.passed => Status::GateFailed,
        _ if implicit.is_some_and(|g| g.failed) => Status::GateFailed,
        _ => Status::Success,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exit::flag_of;
    use clap::Parser;

    /// What `setup` returned before the pipeline moved to `shadow`: the prepared run.
    fn parse(extra: &[&str]) -> crate::exit::Result<Shadow> {
        let mut argv = vec!["reel", "shadow", "-i", "lo", "--port", "8080"];
        argv.extend_from_slice(extra);
        let cli = crate::cli::Cli::try_parse_from(argv).map_err(crate::exit::Error::from)?;
        match cli.command {
            crate::cli::Command::Shadow(a) => prepare(&a),
            _ => unreachable!(),
        }
    }

    #[test]
    fn the_capture_filter_leaves_out_every_target() {
        let s = parse(&[
            "--target",
            "http://192.0.2.7:8080",
            "--target-map",
            "api.example=http://192.0.2.8:9000",
            "--baseline-target",
            "http://192.0.2.9:8080",
            "--filter",
            "not host 10.1.1.1",
        ])
        .unwrap();
        assert_eq!(
            s.bpf(),
            "((tcp and (port 8080)) and (not host 10.1.1.1)) and not (\
             (src host 192.0.2.7 and src port 8080) or (dst host 192.0.2.7 and dst port 8080) or \
             (src host 192.0.2.8 and src port 9000) or (dst host 192.0.2.8 and dst port 9000) or \
             (src host 192.0.2.9 and src port 8080) or (dst host 192.0.2.9 and dst port 8080))"
        );
        assert_eq!(s.config().limits.multiply, 1);
        assert!(s.config().plan.filter.is_empty());
    }

    #[test]
    fn bad_values_name_their_flag() {
        for (args, flag) in [
            (vec!["--multiply", "0"], "--multiply"),
            (vec!["--max-inflight", "0"], "--max-inflight"),
            (vec!["--timeout", "0s"], "--timeout"),
            (vec!["--rewrite-url", "nope"], "--rewrite-url"),
            (vec!["--path", "("], "--path"),
        ] {
            let mut a = vec!["--target", "http://192.0.2.7:8080"];
            a.extend(args);
            let e = parse(&a).err().unwrap();
            assert_eq!(flag_of(&e), flag, "{e:#}");
            assert_eq!(crate::exit::classify(&e), Status::BadInput);
        }
        let e = parse(&[]).err().unwrap();
        assert_eq!(flag_of(&e), "--target");
    }

    #[test]
    fn this_host_on_a_captured_port_is_refused() {
        let e = parse(&["--target", "http://127.0.0.1:8080"]).err().unwrap();
        assert_eq!(crate::exit::classify(&e), Status::BadInput);
        assert!(
            format!("{e:#}").contains("--allow-production-target"),
            "{e:#}"
        );
        assert!(
            parse(&[
                "--target",
                "http://127.0.0.1:8080",
                "--allow-production-target"
            ])
            .is_ok()
        );
        assert!(parse(&["--target", "http://127.0.0.1:9090"]).is_ok());
    }

    #[test]
    fn flags_of_flattened_groups_stay_apart() {
        use clap::CommandFactory;
        crate::cli::Cli::command().debug_assert();
    }
}
