//! Stage 5 — replay: stream a `.reel` log, rewrite it for staging, send it at the chosen pace and
//! record what staging answered.
//!
//! - [`plan`] reads the logs (merged by time), joins each request with its production response,
//!   applies filters, shards, truncation skips, target choice and [`rewrite`]s;
//! - [`schedule`] gives each request its intended send time (one loop over [`schedule::Pacing`]);
//! - [`client`] is our own HTTP/1.1 client: writes recorded bytes, frames responses with
//!   [`crate::http::framing`];
//! - [`stats`] counts and keeps HDR histograms; [`engine`] wires threads and channels;
//! - [`safety`] refuses production targets.
//!
//! `docs/ARCHITECTURE.md` ("Replay") explains the threads, queues and measures.

pub mod client;
pub mod engine;
pub mod metrics;
pub mod plan;
pub mod rewrite;
pub mod safety;
pub mod schedule;
pub mod stats;
pub mod target;

pub use engine::{ConnMode, Progress, ReplayConfig, run};
pub use plan::{PlanConfig, PlanStats, Planned, Shard};
pub use rewrite::Rewrites;
pub use schedule::{PaceRules, Pacing};
pub use stats::ReplaySummary;
pub use target::{Target, Targets};

use crate::exit::{Classify, Status};
use crate::log::LogError;

/// What can stop a replay before it starts (or its results log). Errors *during* a replay —
/// refused connections, timeouts, resets, garbage — are results, never this.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// An input log or the results log.
    #[error(transparent)]
    Log(#[from] LogError),
    /// A target's host did not resolve: nothing can reach it.
    #[error("no response from {target}: cannot resolve its host: {source}")]
    Resolve {
        /// The target URL.
        target: String,
        /// Why.
        source: std::io::Error,
    },
    /// TLS could not be set up for a target.
    #[error("{what}: TLS: {problem}")]
    Tls {
        /// The target or setting.
        what: String,
        /// What is wrong.
        problem: String,
    },
    /// `--ca-file` is not usable.
    #[error("--ca-file {path}: {problem}")]
    CaFile {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// The target is one of the production servers recorded in the log.
    #[error(
        "{target}: is a production server found in the log ({found}); replaying there would send \
         production traffic to production again. Use --allow-production-target if you mean it"
    )]
    ProductionTarget {
        /// The target URL.
        target: String,
        /// What matched: an address or a Host value.
        found: String,
    },
    /// Requests were sent and not one got a response: the run tested nothing.
    #[error("no response from {targets}: {causes}")]
    NoResponse {
        /// The target URLs, comma-separated.
        targets: String,
        /// The most frequent causes, counted (`connection refused × 640`).
        causes: String,
    },
    /// Threads or the runtime could not be started.
    #[error("starting the replay: {0}")]
    Runtime(std::io::Error),
    /// A replay thread panicked (a bug).
    #[error("the {0} thread panicked (a bug in reel)")]
    Panicked(&'static str),
}

impl Classify for ReplayError {
    fn status(&self) -> Status {
        match self {
            ReplayError::Log(e) => e.status(),
            ReplayError::Tls { .. }
            | ReplayError::CaFile { .. }
            | ReplayError::ProductionTarget { .. } => Status::BadInput,
            ReplayError::Resolve { .. }
            | ReplayError::NoResponse { .. }
            | ReplayError::Runtime(_)
            | ReplayError::Panicked(_) => Status::Runtime,
        }
    }
}
