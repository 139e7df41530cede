//! Canonical JSON numbers: `1`, `1.0`, `10e-1` and `100E-2` are one value, `-0` is `0`, big integers
//! and long decimals are exact (no f64 on the way), so `12345678901234567891` ≠ `12345678901234567890`.

use super::{fmix, seq};

/// The hash of the decimal value of a JSON number token (already checked by the tokenizer:
/// `-? digits (. digits)? ([eE] [+-]? digits)?`). Never panics on any bytes.
pub(crate) fn number_hash(token: &[u8]) -> u64 {
    let (negative, rest) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    let mantissa_end = rest
        .iter()
        .position(|&b| b == b'e' || b == b'E')
        .unwrap_or(rest.len());
    let (mantissa, exponent) = rest.split_at(mantissa_end);
    let mut exp = parse_exponent(exponent.get(1..).unwrap_or_default());

    // Significant digits, streamed: leading zeros skipped, zeros held back until a non-zero digit
    // shows they are not trailing.
    let mut digits = 0u64;
    let mut count = 0i64;
    let mut pending_zeros = 0i64;
    let mut after_point = false;
    for &b in mantissa {
        match b {
            b'.' => after_point = true,
            b'0'..=b'9' => {
                if after_point {
                    exp = exp.saturating_sub(1);
                }
                if b == b'0' {
                    if count > 0 {
                        pending_zeros += 1;
                    }
                    continue;
                }
                for _ in 0..pending_zeros {
                    digits = seq(digits, 0);
                    count += 1;
                }
                pending_zeros = 0;
                digits = seq(digits, u64::from(b - b'0'));
                count += 1;
            }
            _ => {}
        }
    }
    if count == 0 {
        return fmix(0x6e75_6d62_6572_5f30);
    }
    // The exponent of the last significant digit.
    exp = exp.saturating_add(pending_zeros);
    fmix(seq(seq(digits, count as u64), exp as u64) ^ u64::from(negative))
}

/// A decimal exponent, saturated far beyond any real value (the value stays distinct enough).
fn parse_exponent(text: &[u8]) -> i64 {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, text),
    };
    let mut value: i64 = 0;
    for &b in digits {
        if b.is_ascii_digit() {
            value = value
                .saturating_mul(10)
                .saturating_add(i64::from(b - b'0'))
                .min(1 << 60);
        }
    }
    if negative { -value } else { value }
}

#[cfg(test)]
mod tests {
    use super::number_hash as h;

    #[test]
    fn equal_decimals_hash_equal() {
        for (a, b) in [
            ("1", "1.0"),
            ("1", "10e-1"),
            ("1", "100E-2"),
            ("1", "0.1e1"),
            ("1", "1e0"),
            ("1", "1E+0"),
            ("-0", "0"),
            ("0.000", "0"),
            ("0e10", "-0.0e-3"),
            ("120", "1.2e2"),
            ("120", "1200e-1"),
            ("0.05", "5e-2"),
            ("-3.50", "-3.5"),
            ("100", "1e2"),
        ] {
            assert_eq!(h(a.as_bytes()), h(b.as_bytes()), "{a} = {b}");
        }
    }

    #[test]
    fn different_decimals_hash_differently() {
        for (a, b) in [
            ("1", "-1"),
            ("1", "10"),
            ("1", "0.1"),
            ("1.5", "15"),
            ("12", "21"),
            ("101", "11"),
            ("1001", "1e3"),
            ("12345678901234567891", "12345678901234567890"),
            ("9007199254740993", "9007199254740992"),
            ("0.30000000000000004", "0.3"),
            ("1e400", "1e401"),
            ("0", "1e-400"),
        ] {
            assert_ne!(h(a.as_bytes()), h(b.as_bytes()), "{a} ≠ {b}");
        }
    }

    #[test]
    fn huge_exponents_saturate_without_panicking() {
        let big = format!("1e{}", "9".repeat(400));
        let small = format!("1e-{}", "9".repeat(400));
        assert_ne!(h(big.as_bytes()), h(small.as_bytes()));
        h(b"");
        h(b"-");
        h(b"e");
    }
}
