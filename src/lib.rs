//! `reel` records real HTTP traffic on production hosts and replays it against staging, comparing
//! latency and status distributions.
//!
//! The library holds one module per pipeline stage, data flowing one way
//! (`capture → tcp → http → log → replay → compare`); `cli` and `cmd` are the command-line edge.
//! `docs/ARCHITECTURE.md` describes the stages, the types passed between them and their invariants.
// Nothing that came from outside the process may panic: no unwrap/expect outside tests.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod capture;
pub mod cli;
pub mod cmd;
pub mod compare;
pub mod demo;
pub mod diff;
pub mod ends;
pub mod exchange;
pub mod exit;
pub mod filter;
pub mod http;
pub mod log;
pub mod logline;
pub mod metrics;
pub mod record;
pub mod redact;
pub mod replay;
pub mod runtime;
pub mod shadow;
pub mod tcp;
