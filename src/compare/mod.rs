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
pub mod endpoint;
pub mod gate;
pub mod hist;
pub mod report;
pub mod stats;
pub mod text;

pub use accumulate::{Accumulator, Config, Role};
pub use gate::{GATES_HELP, Gate, GateError, GateResult, GateVerdict};
pub use report::{Comparison, Reference};
pub use stats::{Thresholds, Verdict};
pub use text::TextOptions;
