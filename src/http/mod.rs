//! Stage 3 — HTTP/1.x framing and pairing.
//!
//! One framing implementation for both directions and both sides of the product: the capture side
//! frames reassembled streams into messages and pairs requests with responses ([`Extractor`]); the
//! replay client frames staging's responses with the same code ([`framing::MessageFramer`]).

#[cfg(feature = "testing")]
pub mod drive;
mod extract;
pub mod framing;
#[cfg(feature = "testing")]
mod fuzz;

pub use extract::{ExtractConfig, ExtractStats, Extractor, HttpConn};

#[cfg(feature = "testing")]
pub use fuzz::fuzz_framing;
