//! The response-diff stage: what a response says, as field paths with value hashes, and whether a
//! candidate release says something else than production (and a baseline) beyond noise.
//!
//! Data flows one way through it:
//! - [`normalize`]: a recorded response (status, head, body as on the wire) → a [`Summary`]
//!   (`path id → (kind, value hash)`): de-chunked, decoded, JSON walked by a streaming tokenizer
//!   into path templates (`$.items[].price`), numbers and strings canonical, headers by rule;
//! - [`compare`]: two summaries → a [`Difference`] (the paths that differ, with their kinds);
//! - [`accumulate`]: per request the candidate's and the baseline's differences from production →
//!   per (endpoint, path) counters, difference signatures and examples, in bounded memory,
//!   merged exactly across shards;
//! - [`stats`]: the counters → a verdict per path (regression, noise, environment, masked,
//!   unexplained, stable) and the diff-rate per endpoint.
//!
//! Path strings are interned once ([`intern`]); everything else holds `u32` ids. Nothing here
//! reads flags or prints: `cmd` maps flags to [`normalize::Options`] and [`stats::Thresholds`].
//! `docs/DIFF.md` gives the rules and the statistics with a worked example.

pub mod accumulate;
pub mod compare;
mod headers;
pub mod ignore;
pub mod intern;
mod json;
pub mod normalize;
mod number;
#[cfg(test)]
mod simulate;
pub mod stats;
#[cfg(test)]
mod tests;

pub use accumulate::{Accumulator, Example, NoiseProfile, Repeats, Report};
pub use compare::{DiffKind, Difference, PathDiff, difference};
pub use ignore::{IgnoreError, IgnoreSet};
pub use intern::{Interner, PathId, Remap};
pub use normalize::{Normalizer, Options, Response};
pub use stats::{Thresholds, Verdict};

use serde::{Deserialize, Serialize};

/// What kind of value a path holds (JSON types are told apart: `"1"` ≠ `1`, `null` ≠ missing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ValueKind {
    /// JSON `null`.
    Null,
    /// JSON `true`/`false`.
    Bool,
    /// A JSON number (canonical decimal).
    Number,
    /// A JSON string (unescaped).
    String,
    /// A JSON object (its own entry says how many there were; keys have their own paths).
    Object,
    /// A JSON array: length, order-free multiset hash and sequence hash.
    Array,
    /// A template whose occurrences have more than one JSON type.
    Mixed,
    /// A text body (CRLF → LF, masks applied).
    Text,
    /// A body of another media type, hashed as bytes.
    Bytes,
    /// A body that could not be decoded (bad chunking, bad gzip, unknown coding).
    Undecodable,
    /// The status code.
    Status,
    /// A header field (normalized by its rule).
    Header,
}

/// One path of a summary: its kind and the hashes of its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// What the path holds.
    pub kind: ValueKind,
    /// Hash of the value (for a template: of its leaf values in document order; for an array:
    /// of each occurrence's length and order-free multiset hash).
    pub hash: u64,
    /// For arrays, the hash of the element sequences (order); 0 otherwise or when unordered.
    pub order: u64,
    /// For arrays, the total element count over the template's occurrences; 0 otherwise.
    pub len: u32,
    /// The template of the innermost object or array this path sits in ([`intern::NONE`] for
    /// the document, headers and status): a path inside a container that is missing, changed type,
    /// changed length or only order is not reported on its own.
    pub under: PathId,
}

/// Facts about a summary as a whole, as bits (see the associated constants).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags(pub u16);

impl Flags {
    /// The body was JSON and parsed.
    pub const JSON: Flags = Flags(1);
    /// The body was compared as text.
    pub const TEXT: Flags = Flags(1 << 1);
    /// The body was compared as bytes.
    pub const BINARY: Flags = Flags(1 << 2);
    /// The body could not be de-chunked or decoded.
    pub const UNDECODABLE: Flags = Flags(1 << 3);
    /// The decoded body passed the size cap: compared on its first bytes only.
    pub const TRUNCATED: Flags = Flags(1 << 4);
    /// More templates than the cap: the rest folded into `$(more)`.
    pub const MORE_PATHS: Flags = Flags(1 << 5);
    /// The recorded body is incomplete (capture cap or gap): not comparable.
    pub const INCOMPLETE: Flags = Flags(1 << 6);
    /// A JSON object repeated a key.
    pub const DUPLICATE_KEYS: Flags = Flags(1 << 7);
    /// Declared JSON but not valid JSON: compared as text.
    pub const INVALID_JSON: Flags = Flags(1 << 8);
    /// Nesting deeper than the cap, or an array longer than the cap: some paths not tracked.
    pub const CAPPED: Flags = Flags(1 << 9);

    /// True when every bit of `other` is set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Sets the bits of `other`.
    pub fn insert(&mut self, other: Flags) {
        self.0 |= other.0;
    }

    /// The names of the bits set, for reports.
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [&str; 10] = [
            "json",
            "text",
            "binary",
            "undecodable",
            "truncated",
            "more-paths",
            "incomplete",
            "duplicate-keys",
            "invalid-json",
            "capped",
        ];
        NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect()
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
}

/// A normalized response: what it says, path by path, in a few bytes per path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    /// Facts about the response as a whole.
    pub flags: Flags,
    /// Hash of the normalized body (canonical JSON, masked text or bytes; ignored paths left out).
    pub body_hash: u64,
    /// The paths, sorted by id, each once.
    pub entries: Vec<(PathId, Entry)>,
}

impl Summary {
    /// The entry of `path`, if the response has it.
    pub fn get(&self, path: PathId) -> Option<&Entry> {
        self.entries
            .binary_search_by_key(&path, |(p, _)| *p)
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// False when the response cannot be compared (production's body incomplete).
    pub fn comparable(&self) -> bool {
        !self.flags.contains(Flags::INCOMPLETE)
    }
}

/// The 64-bit finalizer of splitmix64: every input bit reaches every output bit.
pub(crate) fn fmix(mut x: u64) -> u64 {
    x ^= x >> 30;
    x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// An order-dependent step: `seq(seq(s, a), b) ≠ seq(seq(s, b), a)`.
pub(crate) fn seq(state: u64, item: u64) -> u64 {
    fmix(state.rotate_left(23) ^ item ^ 0x9e37_79b9_7f4a_7c15)
}

/// A tagged hash: the same bytes under another tag (type) hash differently.
pub(crate) fn tagged(tag: u8, hash: u64) -> u64 {
    fmix(hash ^ (u64::from(tag) << 56) ^ 0x2545_f491_4f6c_dd1d)
}
