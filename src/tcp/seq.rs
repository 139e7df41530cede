//! TCP sequence numbers: 32-bit counters compared modulo 2^32 (RFC 793 §3.3, RFC 1982).

use std::cmp::Ordering;
use std::fmt;

/// A TCP sequence number. Ordering is wrap-aware: `a < b` when `b` is less than 2^31 ahead of `a`,
/// so a stream that wraps past 2^32 keeps counting up. This order is only meaningful between
/// numbers less than 2^31 apart (always true inside one window of a connection); it is not
/// transitive over the whole space, which is why this type has `PartialOrd` and no `Ord`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNumber(pub u32);

impl SeqNumber {
    /// The number `n` bytes further on, wrapping past 2^32.
    #[must_use]
    pub fn plus(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_add(n))
    }

    /// The number `n` bytes before, wrapping below 0.
    #[must_use]
    pub fn minus(self, n: u32) -> SeqNumber {
        SeqNumber(self.0.wrapping_sub(n))
    }

    /// Signed distance from `earlier` to `self`: positive when `self` is ahead (by less than 2^31).
    pub fn diff(self, earlier: SeqNumber) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }
}

impl PartialOrd for SeqNumber {
    fn partial_cmp(&self, other: &SeqNumber) -> Option<Ordering> {
        Some(self.diff(*other).cmp(&0))
    }
}

impl fmt::Display for SeqNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_wrap_aware() {
        let before_wrap = SeqNumber(u32::MAX - 10);
        let after_wrap = before_wrap.plus(20);
        assert_eq!(after_wrap, SeqNumber(9));
        assert!(before_wrap < after_wrap);
        assert!(after_wrap > before_wrap);
        assert_eq!(after_wrap.diff(before_wrap), 20);
        assert_eq!(before_wrap.diff(after_wrap), -20);
        assert_eq!(after_wrap.minus(20), before_wrap);
    }

    #[test]
    fn half_the_space_away_is_behind() {
        let a = SeqNumber(0);
        assert!(a < SeqNumber((1 << 31) - 1));
        assert!(a > SeqNumber(1 << 31).plus(1));
        assert_eq!(a.partial_cmp(&a), Some(Ordering::Equal));
    }
}
