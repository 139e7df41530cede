//! Stage 3 — HTTP/1.x framing and pairing.
//!
//! One framing implementation for both directions and both sides of the product: the capture side
//! frames reassembled streams into messages and pairs requests with responses; the replay client
//! frames staging's responses with the same code.

pub mod framing;
