//! Where a command's `.reel` output goes, validated from the output flags (`cli::OutputFlags`):
//! stdout, one file, or a set rotated by size and time — and the sink that writes it.

use super::reel_out::{FileOptions, LogSink};
use super::rotating::{self, RotatingSink};
use super::{EndError, Output, Sink};
use crate::exchange::Meta;
use crate::log::WriterConfig;
use crate::log::rotate::OutputPlan;
use crate::metrics::Metric;

/// The figures a recording's output keeps up to date (`/metrics`, the stats lines).
#[derive(Debug, Clone, Default)]
pub struct WriteFigures {
    /// Files finished and renamed.
    pub files_finished: Metric,
    /// Bytes written.
    pub bytes_written: Metric,
}

/// A validated log output.
#[derive(Debug, Clone)]
pub struct LogOutput {
    /// `-` or the path (pattern) given.
    pub target: Output,
    /// The file rules and rotation of a path (`None` for stdout).
    pub plan: Option<OutputPlan>,
    /// How blocks are built (`--zstd-level`).
    pub writer: WriterConfig,
    /// `--force`.
    pub force: bool,
    /// `--append`.
    pub append: bool,
}

impl LogOutput {
    /// True when the log goes to stdout (human output then goes to stderr).
    pub fn is_stdout(&self) -> bool {
        self.target.is_stdout()
    }

    /// True when the output may become several files.
    pub fn rotates(&self) -> bool {
        self.plan.as_ref().is_some_and(|p| !p.is_single())
    }

    /// Opens the output of a recording run, `meta` first in each file: the files of the plan
    /// (one fixed name included: each file's closing record then carries its `file.*` counts),
    /// one file without a plan, or stdout. `figures` are kept up to date with what is written;
    /// a live run applies retention once at its start (`retention`).
    pub fn open_run(
        &self,
        meta: Meta,
        figures: &WriteFigures,
        retention: bool,
    ) -> Result<Box<dyn Sink + Send>, EndError> {
        match (&self.target, &self.plan) {
            (Output::Path(_), Some(plan)) => {
                let mut sink = self.rotating(plan, meta)?.with_figures(
                    figures.files_finished.clone(),
                    figures.bytes_written.clone(),
                );
                if retention {
                    sink.apply_retention();
                }
                Ok(Box::new(sink))
            }
            _ => Ok(Box::new(
                self.log_sink()?
                    .with_bytes_written(figures.bytes_written.clone())
                    .begin(meta)?,
            )),
        }
    }

    /// Opens the output of a conversion (`import`, `merge`): one file as it is (its closing
    /// record is the counters given, unless the stream carried its own), a rotated set when
    /// the plan rotates, or stdout. `meta` is written first when given (a merge's stream
    /// carries its inputs' own).
    pub fn open_copy(&self, meta: Option<Meta>) -> Result<Box<dyn Sink + Send>, EndError> {
        match (&self.plan, meta) {
            (Some(plan), Some(meta)) if !plan.is_single() => {
                Ok(Box::new(self.rotating(plan, meta)?))
            }
            (_, Some(meta)) => Ok(Box::new(self.log_sink()?.begin(meta)?)),
            (_, None) => Ok(Box::new(self.log_sink()?)),
        }
    }

    /// One log: the file under the file rules (`--force`, `--append`), or stdout.
    fn log_sink(&self) -> Result<LogSink, EndError> {
        match &self.target {
            Output::Stdout => LogSink::stdout(self.writer.clone()),
            Output::Path(path) => LogSink::create(
                path,
                FileOptions {
                    force: self.force,
                    append: self.append,
                    config: self.writer.clone(),
                },
            ),
        }
    }

    /// The rotating sink of the plan, its first file open.
    pub fn rotating(&self, plan: &OutputPlan, meta: Meta) -> Result<RotatingSink, EndError> {
        RotatingSink::open(
            plan.clone(),
            rotating::writer_config(plan, self.writer.clone()),
            meta,
        )
    }
}
