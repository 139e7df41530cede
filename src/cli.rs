//! The command line as the user typed it (clap derive). Each subcommand's arguments live next to
//! the code that runs it, in `cmd/<name>.rs`; validation into a config happens there, naming the flag.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

use crate::cmd;

/// Record real HTTP traffic in production, replay it against staging, compare.
#[derive(Debug, Parser)]
#[command(name = "reel", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Print the chain of causes with errors, and debug logs.
    #[arg(long, short, global = true)]
    pub verbose: bool,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a shell completion script.
    Completions(cmd::completions::Args),
    /// Print the man page (roff) to stdout.
    Man(cmd::man::Args),
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
    pub fn emit(&self, value: &serde_json::Value) -> anyhow::Result<()> {
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

    /// Where human-readable summary lines go: stderr when JSON takes stdout, else stdout.
    pub fn human(&self) -> Box<dyn Write> {
        if self.on_stdout() {
            Box::new(std::io::stderr())
        } else {
            Box::new(std::io::stdout())
        }
    }
}
