//! Stage 4 — the `.reel` log: a compact, crash-safe, streamable file of exchange records.
//!
//! The layout is specified in `docs/FORMAT.md`.
