//! Stage 6 — compare: production against staging, per endpoint.
//!
//! Replayed results ([`crate::exchange::ReplayResult`]) go one at a time into an
//! [`Accumulator`] (bounded memory, exact merges across shards and files); [`Accumulator::finish`]
//! turns it into a [`Comparison`]: per-endpoint and overall figures, the latency-shift test
//! ([`stats`]), and the verdicts of the `--fail-if` gates ([`gate`]). The comparison is written as
//! a terminal table ([`text`]), JSON (`Serialize`, keys in `docs/JSON.md`) or a self-contained HTML
//! report ([`html`]).
//!
//! Endpoint templates ([`endpoint`]) group requests; `inspect` uses them on captures already.

pub mod accumulate;
pub mod confidence;
pub mod endpoint;
pub mod gate;
pub mod hist;
pub mod html;
pub mod report;
pub mod stats;
pub mod text;
pub mod timeline;

pub use accumulate::{Accumulator, Config, Role};
pub use gate::{GATES_HELP, Gate, GateError, GateResult, GateVerdict, Judging};
pub use report::{Comparison, Reference, UnknownScope};
pub use stats::{Thresholds, Verdict};
pub use text::TextOptions;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::exit::{Classify, Status};

/// What can go wrong in the compare stage.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A `--fail-if` expression that does not parse.
    #[error(transparent)]
    Gate(#[from] GateError),
    /// A gate scope that names no endpoint.
    #[error(transparent)]
    UnknownScope(#[from] UnknownScope),
    /// The results hold requests and not one got a response: they tested nothing.
    #[error("no response from {targets}: {causes}")]
    NoResponse {
        /// The targets the results went to.
        targets: String,
        /// The most frequent causes, counted.
        causes: String,
    },
    /// The HTML report could not be written.
    #[error("--report {}: cannot write the report: {source}", path.display())]
    WriteReport {
        /// Where it was to go.
        path: PathBuf,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
}

impl Classify for CompareError {
    fn status(&self) -> Status {
        match self {
            CompareError::Gate(e) => e.status(),
            CompareError::UnknownScope(e) => e.status(),
            CompareError::WriteReport { .. } | CompareError::NoResponse { .. } => Status::Runtime,
        }
    }
}

/// Parses every `--fail-if` expression; the first that does not parse is the error.
pub fn parse_gates<S: AsRef<str>>(exprs: &[S]) -> Result<Vec<Gate>, GateError> {
    exprs.iter().map(|e| e.as_ref().parse()).collect()
}

/// Writes the HTML report of `comparison` to `path`, headed by `title` (see [`html::render`]).
pub fn write_report(
    path: &Path,
    comparison: &Comparison,
    title: &str,
    params: &BTreeMap<String, String>,
) -> Result<(), CompareError> {
    std::fs::write(path, html::render(comparison, title, params)).map_err(|source| {
        CompareError::WriteReport {
            path: path.to_path_buf(),
            source,
        }
    })
}
