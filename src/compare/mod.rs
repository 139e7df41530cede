//! Stage 6 — compare: production against staging, per endpoint.
//!
//! Endpoint templates ([`endpoint`]) group requests; `inspect` uses them on captures already.

pub mod endpoint;
