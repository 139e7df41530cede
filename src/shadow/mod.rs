//! Live shadowing (`reel shadow`): production traffic captured and sent to staging as it happens,
//! as a library object — [`Shadow::prepare`] a [`ShadowConfig`], [`Shadow::run`] it, read the
//! [`ShadowOutcome`]; `reel shadow` maps its flags to the config and prints the outcome.
//!
//! The capture side is `record --interface`'s own pipeline (`record::live`: capture threads,
//! frame queue, extraction, selection, redaction); the sending side is replay's client. In
//! between:
//!
//! - [`filter`] keeps reel's own connections to staging out of the capture;
//! - [`dispatch`] turns each captured request into shadow requests the moment it is framed and
//!   hands them to staging connections (one per production connection, kept alive, in order) —
//!   without ever waiting: what does not fit is dropped and counted by reason;
//! - [`sink`] joins staging's answers with production's responses from the capture, and keeps the
//!   run's statistics, the rolling window of the stats lines and `/metrics`, the comparison the
//!   gates read at exit, and the `--results` log;
//! - [`run`] wires them (the threads, the runtime, the watch loop) and [`report`] says what a
//!   finished run did.
//!
//! `docs/ARCHITECTURE.md` ("Shadow") shows the threads, queues and bounds.

pub mod dispatch;
pub mod filter;
pub mod report;
pub mod run;
pub mod sink;

pub use run::{Shadow, ShadowConfig, ShadowOutcome};

use std::net::SocketAddr;

use crate::capture::live::LiveError;
use crate::exit::{Classify, Status};
use crate::log::LogError;
use crate::record::RecordError;
use crate::replay::ReplayError;

/// What can stop a shadow run from starting. Everything that goes wrong with staging once it runs
/// is counted, never this.
#[derive(Debug, thiserror::Error)]
pub enum ShadowError {
    /// A target is this host on a captured port.
    #[error(
        "{target}: is {addr}, an address of this host on a captured port: shadowing production to \
         itself would double its load. Use --allow-production-target if you mean it"
    )]
    ProductionTarget {
        /// The target URL.
        target: String,
        /// The address it resolved to.
        addr: SocketAddr,
    },
    /// The connections' runtime or a thread could not start.
    #[error("starting the shadow: {0}")]
    Start(std::io::Error),
    /// A shadow thread panicked (a bug).
    #[error("the {0} thread panicked (a bug in reel)")]
    Panicked(&'static str),
    /// A target could not be resolved, or its TLS set up.
    #[error(transparent)]
    Target(#[from] ReplayError),
    /// The capture could not start (devices, `--metrics-addr`, `--user`, signals).
    #[error(transparent)]
    Capture(#[from] RecordError),
    /// A capture device failed.
    #[error(transparent)]
    Live(#[from] LiveError),
    /// `--results` could not be written.
    #[error(transparent)]
    Results(#[from] LogError),
}

impl Classify for ShadowError {
    fn status(&self) -> Status {
        match self {
            ShadowError::ProductionTarget { .. } => Status::BadInput,
            ShadowError::Start(_) | ShadowError::Panicked(_) => Status::Runtime,
            ShadowError::Target(e) => e.status(),
            ShadowError::Capture(e) => e.status(),
            ShadowError::Live(e) => e.status(),
            ShadowError::Results(e) => e.status(),
        }
    }
}
