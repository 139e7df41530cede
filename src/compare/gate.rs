//! Gates: `--fail-if 'EXPR'`, parsed once, evaluated on the finished figures.
//!
//! Grammar (also in [`GATES_HELP`] and `docs/GATES.md`): `[SCOPE '::'] METRIC OP VALUE`. The
//! scope is an endpoint template and may itself contain `:` or `::`; the expression is split at
//! the last `::` that is followed by a metric name. Thresholds are kept as the decimals the user
//! typed and compared with exact integer arithmetic, so `p99 >= 1.1x` at equality is true.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use thiserror::Error;

use super::hist::Percentile;
use super::report::{EndpointFigures, Reference};
use crate::exit::{Classify, Status};

/// The gate grammar, for `reel replay --help` and `reel compare --help`.
pub const GATES_HELP: &str = "\
Gates: --fail-if 'EXPR' (repeatable). The run fails (exit 1) when an expression is TRUE.
  EXPR    [SCOPE '::'] METRIC OP VALUE
  SCOPE   an endpoint as the table prints it, e.g. 'GET /api/users/{id}' (may contain ':');
          without a scope the gate reads the overall figures
  METRIC  p50 p90 p99 p999 max      staging latency (intended send -> first response byte)
          service-p50 ... service-max  staging service time (first byte written -> first read)
          error-rate                transport errors + timeouts / requests sent
          5xx-rate  4xx-rate        share of requests answered with that status class
          status-mismatch           share whose status class differs from the reference's
          effect-size               P(a staging request is slower than a reference one), 0..1
  OP      >  >=  <  <=
  VALUE   1.25x                     ratio to the reference (latencies)
          250ms  1.5s  900us        absolute time (latencies)
          +20ms  -5ms               difference to the reference (latencies)
          0.5%   +0.5%              rate, or rate difference to the reference (rates)
          0.6                       plain number (effect-size)
  The reference is the baseline when there is one (--baseline-target, --baseline), else
  production. With fewer than --min-samples (default 50) values a gate reads
  'not enough data' and fails only with --strict.
Examples:
  --fail-if 'p99 > 1.25x' --fail-if 'error-rate > 0.5%' --fail-if '5xx-rate > +1%'
  --fail-if 'GET /api/users/{id}::p50 > +20ms' --fail-if 'effect-size > 0.6'";

/// What a gate measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Staging's corrected latency at a percentile.
    Latency(Percentile),
    /// Staging's service time at a percentile.
    Service(Percentile),
    /// Transport errors and timeouts over requests sent.
    ErrorRate,
    /// Share of requests answered 5xx.
    Rate5xx,
    /// Share of requests answered 4xx.
    Rate4xx,
    /// Share of requests whose status class differs from the reference's.
    StatusMismatch,
    /// Common-language effect size of the latency shift.
    EffectSize,
}

impl Metric {
    fn parse(word: &str) -> Option<Metric> {
        let pct = |w: &str| Percentile::ALL.into_iter().find(|p| p.as_str() == w);
        Some(match word {
            "error-rate" => Metric::ErrorRate,
            "5xx-rate" => Metric::Rate5xx,
            "4xx-rate" => Metric::Rate4xx,
            "status-mismatch" => Metric::StatusMismatch,
            "effect-size" => Metric::EffectSize,
            w => match w.strip_prefix("service-") {
                Some(p) => Metric::Service(pct(p)?),
                None => Metric::Latency(pct(w)?),
            },
        })
    }

    /// The metric's name as written in expressions.
    pub fn name(self) -> String {
        match self {
            Metric::Latency(p) => p.as_str().to_string(),
            Metric::Service(p) => format!("service-{}", p.as_str()),
            Metric::ErrorRate => "error-rate".into(),
            Metric::Rate5xx => "5xx-rate".into(),
            Metric::Rate4xx => "4xx-rate".into(),
            Metric::StatusMismatch => "status-mismatch".into(),
            Metric::EffectSize => "effect-size".into(),
        }
    }

    fn is_latency(self) -> bool {
        matches!(self, Metric::Latency(_) | Metric::Service(_))
    }

    /// The unit values of this metric are reported in.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::Latency(_) | Metric::Service(_) => "ms",
            Metric::EffectSize => "probability",
            _ => "fraction",
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `<`
    Lt,
    /// `<=`
    Le,
}

impl Op {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Op::Gt => ord == Ordering::Greater,
            Op::Ge => ord != Ordering::Less,
            Op::Lt => ord == Ordering::Less,
            Op::Le => ord != Ordering::Greater,
        }
    }

    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

/// An exact rational number `n / d` (d > 0), for comparisons without rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Q {
    n: i128,
    d: i128,
}

impl Q {
    fn new(n: i128, d: i128) -> Option<Q> {
        (d > 0).then_some(Q { n, d })
    }

    fn int(n: u64) -> Q {
        Q {
            n: i128::from(n),
            d: 1,
        }
    }

    fn ratio(n: u64, d: u64) -> Option<Q> {
        Q::new(i128::from(n), i128::from(d))
    }

    fn f64(self) -> f64 {
        self.n as f64 / self.d as f64
    }

    fn mul(self, o: Q) -> Option<Q> {
        Some(Q {
            n: self.n.checked_mul(o.n)?,
            d: self.d.checked_mul(o.d)?,
        })
    }

    fn add(self, o: Q) -> Option<Q> {
        Some(Q {
            n: self
                .n
                .checked_mul(o.d)?
                .checked_add(o.n.checked_mul(self.d)?)?,
            d: self.d.checked_mul(o.d)?,
        })
    }

    /// Exact comparison; falls back to floating point if the products overflow.
    fn cmp(self, o: Q) -> Ordering {
        match (self.n.checked_mul(o.d), o.n.checked_mul(self.d)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => self.f64().total_cmp(&o.f64()),
        }
    }
}

/// A threshold as typed: kind and exact decimal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threshold {
    /// `1.25x`: a multiple of the reference.
    Ratio(Q),
    /// `250ms`: a time, in µs.
    Time(Q),
    /// `+20ms`: staging minus the reference, in µs.
    Delta(Q),
    /// `0.5%`: a rate, as a fraction.
    Rate(Q),
    /// `+0.5%`: staging's rate minus the reference's, as a fraction.
    RateDelta(Q),
    /// `0.6`: a plain number.
    Number(Q),
}

impl Threshold {
    fn needs_reference(self) -> bool {
        matches!(
            self,
            Threshold::Ratio(_) | Threshold::Delta(_) | Threshold::RateDelta(_)
        )
    }
}

/// One `--fail-if` expression, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gate {
    /// The expression as typed.
    pub expr: String,
    /// The endpoint template it reads, `None` for the overall figures.
    pub scope: Option<String>,
    /// What it measures.
    pub metric: Metric,
    /// How it compares.
    pub op: Op,
    /// What it compares with.
    pub threshold: Threshold,
}

/// What is wrong with a gate expression.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum GateProblem {
    /// Nothing but spaces.
    #[error("empty expression: expected [SCOPE '::'] METRIC OP VALUE, e.g. 'p99 > 1.25x'")]
    Empty,
    /// `::` with nothing before it.
    #[error("empty scope before '::' (leave out the scope for the overall figures)")]
    EmptyScope,
    /// No metric where one was expected.
    #[error(
        "expected a metric: p50 p90 p99 p999 max, service-p50 … service-max, error-rate, 5xx-rate, 4xx-rate, status-mismatch, effect-size"
    )]
    MissingMetric,
    /// A word that is not a metric.
    #[error(
        "unknown metric {found:?}: expected p50 p90 p99 p999 max, service-p50 … service-max, error-rate, 5xx-rate, 4xx-rate, status-mismatch or effect-size"
    )]
    UnknownMetric {
        /// The word found.
        found: String,
    },
    /// No operator after the metric.
    #[error("expected an operator (> >= < <=) after {metric}")]
    MissingOperator {
        /// The metric before it.
        metric: String,
    },
    /// An operator gates do not have.
    #[error("unsupported operator {found:?}: use > >= < or <=")]
    BadOperator {
        /// The operator found.
        found: String,
    },
    /// Nothing after the operator.
    #[error("expected a value after the operator, e.g. 1.25x, 250ms, +20ms, 0.5% or 0.6")]
    MissingValue,
    /// Not a decimal number.
    #[error("expected a number, found {found:?}")]
    BadNumber {
        /// The text found.
        found: String,
    },
    /// A unit gates do not know.
    #[error("unknown unit {unit:?}: use x (ratio), us, ms or s (time), % (rate)")]
    UnknownUnit {
        /// The unit found.
        unit: String,
    },
    /// A number too large or too precise.
    #[error("{0}")]
    OutOfRange(String),
    /// A value whose kind does not fit the metric.
    #[error("{0}")]
    WrongKind(String),
    /// Something after the value.
    #[error("unexpected {found:?} after the value")]
    Trailing {
        /// The text found.
        found: String,
    },
}

/// A `--fail-if` expression that does not parse: where (1-based column) and why. Its message
/// shows the expression with a caret under the column.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("--fail-if '{expr}': column {column}: {problem}\n    {expr}\n    {pad}^", pad = " ".repeat(.column.saturating_sub(1)))]
pub struct GateError {
    /// The expression as typed.
    pub expr: String,
    /// 1-based column (in characters) of the problem.
    pub column: usize,
    /// What is wrong.
    pub problem: GateProblem,
}

impl Classify for GateError {
    fn status(&self) -> Status {
        Status::BadInput
    }
}

/// What is wrong in a gate expression: the user's to fix.
impl Classify for GateProblem {
    fn status(&self) -> Status {
        Status::BadInput
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

fn is_op_char(c: char) -> bool {
    matches!(c, '<' | '>' | '=' | '!')
}

/// The word (run of word characters) starting at `at` after spaces: (start, end).
fn word_at(chars: &[char], at: usize) -> (usize, usize) {
    let start = skip_spaces(chars, at);
    let mut end = start;
    while chars.get(end).is_some_and(|&c| is_word_char(c)) {
        end += 1;
    }
    (start, end)
}

fn skip_spaces(chars: &[char], mut at: usize) -> usize {
    while chars.get(at).is_some_and(|c| c.is_whitespace()) {
        at += 1;
    }
    at
}

fn text(chars: &[char], from: usize, to: usize) -> String {
    chars.get(from..to).unwrap_or_default().iter().collect()
}

/// True when a metric name starts at `at` (after spaces) and ends the word.
fn metric_at(chars: &[char], at: usize) -> bool {
    let (start, end) = word_at(chars, at);
    let next_ok = chars
        .get(end)
        .is_none_or(|&c| c.is_whitespace() || is_op_char(c));
    next_ok && Metric::parse(&text(chars, start, end)).is_some()
}

impl FromStr for Gate {
    type Err = GateError;

    fn from_str(expr: &str) -> Result<Gate, GateError> {
        let chars: Vec<char> = expr.chars().collect();
        let fail = |at: usize, problem: GateProblem| GateError {
            expr: expr.to_string(),
            column: at + 1,
            problem,
        };
        if expr.trim().is_empty() {
            return Err(fail(0, GateProblem::Empty));
        }

        // The scope ends at the last `::` followed by a metric name.
        let colons: Vec<usize> = (0..chars.len().saturating_sub(1))
            .filter(|&i| chars.get(i..i + 2) == Some(&[':', ':'][..]))
            .collect();
        let split = colons.iter().rev().find(|&&i| metric_at(&chars, i + 2));
        let (scope, rest) = match (split, colons.last()) {
            (Some(&i), _) => {
                let scope = text(&chars, 0, i).trim().to_string();
                if scope.is_empty() {
                    return Err(fail(i, GateProblem::EmptyScope));
                }
                (Some(scope), i + 2)
            }
            (None, Some(&i)) => {
                let (start, end) = word_at(&chars, i + 2);
                let problem = if start == end {
                    GateProblem::MissingMetric
                } else {
                    GateProblem::UnknownMetric {
                        found: text(&chars, start, end),
                    }
                };
                return Err(fail(start, problem));
            }
            (None, None) => (None, 0),
        };

        let (start, end) = word_at(&chars, rest);
        if start == end {
            return Err(fail(start, GateProblem::MissingMetric));
        }
        let word = text(&chars, start, end);
        let metric = Metric::parse(&word)
            .ok_or_else(|| fail(start, GateProblem::UnknownMetric { found: word }))?;

        let op_start = skip_spaces(&chars, end);
        let mut op_end = op_start;
        while chars.get(op_end).is_some_and(|&c| is_op_char(c)) {
            op_end += 1;
        }
        let op = match text(&chars, op_start, op_end).as_str() {
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            "<=" => Op::Le,
            "" => {
                return Err(fail(
                    op_start,
                    GateProblem::MissingOperator {
                        metric: metric.name(),
                    },
                ));
            }
            found => {
                return Err(fail(
                    op_start,
                    GateProblem::BadOperator {
                        found: found.to_string(),
                    },
                ));
            }
        };

        let value_start = skip_spaces(&chars, op_end);
        if value_start >= chars.len() {
            return Err(fail(value_start, GateProblem::MissingValue));
        }
        let threshold = parse_value(&chars, value_start, metric).map_err(|(at, p)| fail(at, p))?;
        Ok(Gate {
            expr: expr.to_string(),
            scope,
            metric,
            op,
            threshold,
        })
    }
}

/// Parses VALUE at `at` and checks that its kind fits `metric`; errors carry their column.
fn parse_value(
    chars: &[char],
    at: usize,
    metric: Metric,
) -> Result<Threshold, (usize, GateProblem)> {
    let mut i = at;
    let sign = match chars.get(i) {
        Some('+') => Some(1),
        Some('-') => Some(-1),
        _ => None,
    };
    if sign.is_some() {
        i += 1;
    }
    let number_start = i;
    let (mut int_digits, mut frac_digits, mut seen_dot) = (0u32, 0u32, false);
    let mut mantissa: i128 = 0;
    while let Some(&c) = chars.get(i) {
        if let Some(d) = c.to_digit(10) {
            if seen_dot {
                frac_digits += 1;
            } else {
                int_digits += 1;
            }
            if int_digits > 15 || frac_digits > 9 {
                return Err((
                    at,
                    GateProblem::OutOfRange(
                        "value out of range: at most 15 digits before the point and 9 after".into(),
                    ),
                ));
            }
            mantissa = mantissa * 10 + i128::from(d);
        } else if c == '.' && !seen_dot {
            seen_dot = true;
        } else {
            break;
        }
        i += 1;
    }
    if int_digits + frac_digits == 0 {
        let (s, e) = (number_start, chars.len());
        return Err((
            number_start,
            GateProblem::BadNumber {
                found: text(chars, s, e).trim().to_string(),
            },
        ));
    }
    let unit_start = skip_spaces(chars, i);
    let mut unit_end = unit_start;
    while chars
        .get(unit_end)
        .is_some_and(|&c| c.is_alphabetic() || c == '%')
    {
        unit_end += 1;
    }
    let unit = text(chars, unit_start, unit_end);
    let trailing = skip_spaces(chars, unit_end);
    if trailing < chars.len() {
        return Err((
            trailing,
            GateProblem::Trailing {
                found: text(chars, trailing, chars.len()),
            },
        ));
    }
    let scale = 10_i128.pow(frac_digits);
    let signed = mantissa * i128::from(sign.unwrap_or(1));
    let q = |mult: i128, extra: i128| Q {
        n: signed * mult,
        d: scale * extra,
    };
    let name = metric.name();
    let wrong = |why: String| Err((at, GateProblem::WrongKind(why)));
    let latency_kinds = "write a ratio to the reference (1.25x), a time (250ms, 1.5s, 900us) or a \
                         difference to the reference (+20ms)";
    let rate_kinds = "write a rate with % (0.5%) or a difference to the reference's rate (+0.5%)";
    let threshold = match unit.as_str() {
        "x" | "X" => {
            if sign.is_some() {
                return wrong(format!(
                    "a ratio has no sign: write {}x",
                    text(chars, number_start, i)
                ));
            }
            Threshold::Ratio(q(1, 1))
        }
        "us" | "µs" | "μs" | "ms" | "s" => {
            let mult = match unit.as_str() {
                "ms" => 1_000,
                "s" => 1_000_000,
                _ => 1,
            };
            if sign.is_some() {
                Threshold::Delta(q(mult, 1))
            } else {
                Threshold::Time(q(mult, 1))
            }
        }
        "%" => {
            if mantissa > 100 * scale {
                return Err((at, GateProblem::OutOfRange("a rate is at most 100%".into())));
            }
            if sign.is_some() {
                Threshold::RateDelta(q(1, 100))
            } else {
                Threshold::Rate(q(1, 100))
            }
        }
        "" => {
            if sign.is_some() {
                return wrong(format!(
                    "a signed value is a difference and needs a unit: +{}ms or +{}%",
                    text(chars, number_start, i),
                    text(chars, number_start, i)
                ));
            }
            Threshold::Number(q(1, 1))
        }
        other => {
            return Err((
                unit_start,
                GateProblem::UnknownUnit {
                    unit: other.to_string(),
                },
            ));
        }
    };
    match (metric, threshold) {
        (m, Threshold::Ratio(_) | Threshold::Time(_) | Threshold::Delta(_)) if m.is_latency() => {
            Ok(threshold)
        }
        (m, Threshold::Number(_)) if m.is_latency() => {
            wrong(format!("{name} is a latency and needs a unit: {latency_kinds}"))
        }
        (m, _) if m.is_latency() => wrong(format!("{name} is a latency, not a rate: {latency_kinds}")),
        (Metric::EffectSize, Threshold::Number(v)) => {
            if v.n > v.d {
                return wrong(
                    "effect-size is a probability between 0 and 1 (0.5 = no shift), e.g. 0.6"
                        .into(),
                );
            }
            Ok(threshold)
        }
        (Metric::EffectSize, _) => wrong(
            "effect-size is a probability between 0 and 1 (0.5 = no shift) with no unit, e.g. \
             'effect-size > 0.6'"
                .into(),
        ),
        (Metric::StatusMismatch, Threshold::Rate(_)) => Ok(threshold),
        (Metric::StatusMismatch, Threshold::RateDelta(_)) => wrong(
            "status-mismatch is already measured against the reference: write a plain rate, e.g. 1%"
                .into(),
        ),
        (Metric::StatusMismatch, _) => {
            wrong("status-mismatch is a rate: write it with %, e.g. 1%".into())
        }
        (_, Threshold::Rate(_) | Threshold::RateDelta(_)) => Ok(threshold),
        (_, Threshold::Number(_)) => wrong(format!("{name} is a rate: {rate_kinds}")),
        (_, Threshold::Ratio(_)) => wrong(format!(
            "{name} is a rate and a ratio of rates misleads near zero: {rate_kinds}"
        )),
        (_, _) => wrong(format!("{name} is a rate, not a time: {rate_kinds}")),
    }
}

/// `q` divided by `per` as a decimal (its denominator times `per` a power of ten), when it has
/// at most 15 digits before the point and 9 after: what a user could have typed.
#[cfg(feature = "testing")]
fn typed_decimal(q: Q, per: i128) -> Option<String> {
    let mut den = q.d.checked_mul(per)?;
    let mut places = 0;
    while den > 1 {
        if den % 10 != 0 {
            return None;
        }
        den /= 10;
        places += 1;
    }
    let digits = format!("{:0>width$}", q.n.unsigned_abs(), width = places + 1);
    let (int, frac) = digits.split_at(digits.len() - places);
    let frac = frac.trim_end_matches('0');
    let int = match int.trim_start_matches('0') {
        "" => "0",
        int => int,
    };
    if int.len() > 15 || frac.len() > 9 {
        return None;
    }
    Some(if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    })
}

/// The gate written back as an expression in a canonical form (scope, single spaces, the
/// largest time unit that keeps the value exact), for [`fuzz_gate`].
#[cfg(feature = "testing")]
fn canonical(gate: &Gate) -> String {
    let sign = |q: Q| if q.n < 0 { "-" } else { "+" };
    let time = |q: Q| {
        [("s", 1_000_000), ("ms", 1_000), ("us", 1)]
            .into_iter()
            .find_map(|(unit, per)| typed_decimal(q, per).map(|v| format!("{v}{unit}")))
            .unwrap_or_default()
    };
    let plain = |q: Q, per: i128| typed_decimal(q, per).unwrap_or_default();
    let value = match gate.threshold {
        Threshold::Ratio(q) => format!("{}x", plain(q, 1)),
        Threshold::Time(q) => time(q),
        Threshold::Delta(q) => format!("{}{}", sign(q), time(q)),
        Threshold::Rate(q) => format!(
            "{}%",
            plain(
                Q {
                    n: q.n * 100,
                    d: q.d
                },
                1
            )
        ),
        Threshold::RateDelta(q) => format!(
            "{}{}%",
            sign(q),
            plain(
                Q {
                    n: q.n * 100,
                    d: q.d
                },
                1
            )
        ),
        Threshold::Number(q) => plain(q, 1),
    };
    let scope = gate
        .scope
        .as_ref()
        .map(|s| format!("{s}::"))
        .unwrap_or_default();
    format!("{scope}{} {} {value}", gate.metric.name(), gate.op.as_str())
}

/// True when two thresholds are of the same kind and equal as numbers.
#[cfg(feature = "testing")]
fn same_threshold(a: Threshold, b: Threshold) -> bool {
    use Threshold::{Delta, Number, Rate, RateDelta, Ratio, Time};
    match (a, b) {
        (Ratio(x), Ratio(y))
        | (Time(x), Time(y))
        | (Delta(x), Delta(y))
        | (Rate(x), Rate(y))
        | (RateDelta(x), RateDelta(y))
        | (Number(x), Number(y)) => x.cmp(y) == Ordering::Equal,
        _ => false,
    }
}

/// Fuzz entry point (`fuzz/fuzz_targets/fail_if.rs`; `tests/fuzz_corpus_gate.rs` runs its seeds
/// in CI): parses the bytes (as UTF-8, invalid sequences replaced) as a `--fail-if` expression.
/// An error must point at a column inside the expression (or just past it) and render; a gate
/// written back in canonical form must parse to the same gate. Panics only when one of those
/// fails (a bug), never on the input itself. Fuzz-only.
#[cfg(feature = "testing")]
pub fn fuzz_gate(data: &[u8]) {
    let expr = String::from_utf8_lossy(data);
    match expr.parse::<Gate>() {
        Err(e) => {
            let chars = expr.chars().count();
            assert!(
                (1..=chars + 1).contains(&e.column),
                "column {} of {chars}",
                e.column
            );
            let _ = e.to_string();
        }
        Ok(gate) => {
            let text = canonical(&gate);
            let again = match text.parse::<Gate>() {
                Ok(g) => g,
                Err(e) => panic!("{expr:?} parsed, its canonical form {text:?} does not: {e}"),
            };
            assert_eq!(
                (&gate.scope, gate.metric, gate.op),
                (&again.scope, again.metric, again.op),
                "{expr:?} and {text:?}"
            );
            assert!(
                same_threshold(gate.threshold, again.threshold),
                "{expr:?}: {:?}, {text:?}: {:?}",
                gate.threshold,
                again.threshold
            );
        }
    }
}

/// A gate's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum GateVerdict {
    /// The expression is false: the gate holds.
    #[serde(rename = "pass")]
    Pass,
    /// The expression is true: the gate fails.
    #[serde(rename = "fail")]
    Fail,
    /// Too few values to judge; fails only in strict mode.
    #[serde(rename = "not enough data")]
    NotEnoughData,
}

impl GateVerdict {
    /// The verdict as written in JSON and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            GateVerdict::Pass => "pass",
            GateVerdict::Fail => "fail",
            GateVerdict::NotEnoughData => "not enough data",
        }
    }
}

/// One gate, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GateResult {
    /// The expression as typed.
    pub expr: String,
    /// The endpoint it read, `null` for overall.
    pub scope: Option<String>,
    /// The metric's name.
    pub metric: String,
    /// The operator.
    pub op: &'static str,
    /// Staging's value (`unit`), `null` when there is none.
    pub value: Option<f64>,
    /// The reference's value (`unit`), when the metric has one.
    pub reference: Option<f64>,
    /// What the value was compared with (`unit`): e.g. 1.25 × the reference.
    pub threshold: Option<f64>,
    /// `ms`, `fraction` or `probability`.
    pub unit: &'static str,
    /// pass, fail, or not enough data.
    pub verdict: GateVerdict,
    /// True when this gate makes the run fail (a fail, or not enough data in strict mode).
    pub failed: bool,
    /// Values the verdict rests on (the smaller side when it reads both).
    pub samples: u64,
    /// Why there was not enough data, or that the scope matched no endpoint.
    pub note: Option<String>,
}

/// The value of a metric on staging and on the reference, exact, with the sample sizes.
struct Measure {
    value: Option<Q>,
    reference: Option<Q>,
    n: u64,
    n_reference: u64,
}

fn measure(metric: Metric, ep: &EndpointFigures, reference: Reference) -> Measure {
    let base = ep
        .baseline
        .as_ref()
        .filter(|_| reference == Reference::Baseline);
    let latency = |side: Option<&super::report::SideFigures>, pct| {
        side.and_then(|s| s.latency).map(|l| Q::int(l.get(pct)))
    };
    match metric {
        Metric::Latency(p) => {
            let reference_side = base.unwrap_or(&ep.production);
            Measure {
                value: latency(Some(&ep.staging), p),
                reference: latency(Some(reference_side), p),
                n: ep.staging.latency_samples,
                n_reference: reference_side.latency_samples,
            }
        }
        Metric::Service(p) => {
            // Without a baseline, production's latency (capture point, no scheduler) is the
            // closest thing to a service time.
            let (reference, n_reference) = match base {
                Some(b) => (b.service.map(|l| Q::int(l.get(p))), b.service_samples),
                None => (
                    latency(Some(&ep.production), p),
                    ep.production.latency_samples,
                ),
            };
            Measure {
                value: ep.staging.service.map(|l| Q::int(l.get(p))),
                reference,
                n: ep.staging.service_samples,
                n_reference,
            }
        }
        Metric::ErrorRate | Metric::Rate5xx | Metric::Rate4xx => {
            let count = |s: &super::report::SideFigures, production: bool| match metric {
                Metric::Rate5xx => s.status.0[4],
                Metric::Rate4xx => s.status.0[3],
                // Production has no transport errors: its requests without a response stand in.
                _ if production => s.status.0[super::accumulate::NONE],
                _ => s.error_total,
            };
            let (r, nr) = match base {
                Some(b) => (Q::ratio(count(b, false), b.requests), b.requests),
                None => (
                    Q::ratio(count(&ep.production, true), ep.production.requests),
                    ep.production.requests,
                ),
            };
            Measure {
                value: Q::ratio(count(&ep.staging, false), ep.staging.requests),
                reference: r,
                n: ep.staging.requests,
                n_reference: nr,
            }
        }
        Metric::StatusMismatch => {
            let agreement = match (reference, &ep.vs_baseline) {
                (Reference::Baseline, Some(a)) => a,
                _ => &ep.vs_production,
            };
            // Shown beside it: how far the baseline itself is from production (the noise).
            let noise = ep
                .baseline_vs_production
                .as_ref()
                .filter(|_| reference == Reference::Baseline);
            Measure {
                value: Q::ratio(agreement.mismatched, agreement.pairs),
                reference: noise.and_then(|a| Q::ratio(a.mismatched, a.pairs)),
                n: agreement.pairs,
                n_reference: agreement.pairs,
            }
        }
        Metric::EffectSize => {
            let s = &ep.shift;
            let pairs = u128::from(s.n_staging) * u128::from(s.n_reference) * 2;
            let value = s
                .u_twice
                .and_then(|u| Q::new(i128::try_from(u).ok()?, i128::try_from(pairs).ok()?));
            Measure {
                value,
                reference: None,
                n: s.n_staging,
                n_reference: s.n_reference,
            }
        }
    }
}

impl Gate {
    /// Evaluates the gate on `ep` (the figures of its scope; `None` when the scope matched no
    /// endpoint). `min_samples` decides "not enough data", which fails only when `strict`.
    pub fn evaluate(
        &self,
        ep: Option<&EndpointFigures>,
        reference: Reference,
        min_samples: u64,
        strict: bool,
    ) -> GateResult {
        let unit = self.metric.unit();
        let mut result = GateResult {
            expr: self.expr.clone(),
            scope: self.scope.clone(),
            metric: self.metric.name(),
            op: self.op.as_str(),
            value: None,
            reference: None,
            threshold: None,
            unit,
            verdict: GateVerdict::NotEnoughData,
            failed: strict,
            samples: 0,
            note: None,
        };
        let Some(ep) = ep else {
            result.note = Some("no request matched this endpoint".into());
            return result;
        };
        let m = measure(self.metric, ep, reference);
        let needs_reference = self.threshold.needs_reference() || self.metric == Metric::EffectSize;
        let show = |q: Q| {
            if unit == "ms" {
                q.f64() / 1000.0
            } else {
                q.f64()
            }
        };
        result.value = m.value.map(show);
        result.reference = m.reference.map(show);
        result.samples = if needs_reference {
            m.n.min(m.n_reference)
        } else {
            m.n
        };
        let min = min_samples.max(1);
        let (Some(value), true) = (m.value, result.samples >= min) else {
            result.note = Some(format!(
                "{} values, fewer than the minimum of {min}",
                result.samples
            ));
            return result;
        };
        let limit = match self.threshold {
            Threshold::Time(t) | Threshold::Rate(t) | Threshold::Number(t) => Some(t),
            Threshold::Ratio(k) => m.reference.and_then(|r| r.mul(k)),
            Threshold::Delta(d) | Threshold::RateDelta(d) => m.reference.and_then(|r| r.add(d)),
        };
        let Some(limit) = limit else {
            result.note = Some("the reference has no value".into());
            return result;
        };
        result.threshold = Some(show(limit));
        let fails = self.op.holds(value.cmp(limit));
        result.verdict = if fails {
            GateVerdict::Fail
        } else {
            GateVerdict::Pass
        };
        result.failed = fails;
        result
    }
}

impl fmt::Display for GateResult {
    /// `FAIL  p99 > 1.25x: 131 ms vs limit 125 ms (production 100 ms)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |v: f64| match self.unit {
            "ms" => super::text::duration_ms(v),
            "fraction" => super::text::percent(v),
            _ => format!("{v:.3}"),
        };
        let verdict = match (self.verdict, self.failed) {
            (GateVerdict::Fail, _) => "FAIL",
            (GateVerdict::Pass, _) => "pass",
            (GateVerdict::NotEnoughData, true) => "FAIL",
            (GateVerdict::NotEnoughData, false) => "n/a",
        };
        write!(f, "{verdict:<4}  {}", self.expr)?;
        match (self.value, self.threshold) {
            (Some(v), Some(t)) => {
                write!(f, ": {} vs limit {}", shown(v), shown(t))?;
                if let Some(r) = self.reference {
                    write!(f, " (reference {})", shown(r))?;
                }
                Ok(())
            }
            _ => write!(
                f,
                ": not enough data{}",
                self.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(expr: &str) -> Gate {
        expr.parse().unwrap_or_else(|e| panic!("{e}"))
    }

    fn error(expr: &str) -> (usize, GateProblem) {
        let e = expr.parse::<Gate>().unwrap_err();
        (e.column, e.problem)
    }

    fn q(n: i128, d: i128) -> Q {
        Q { n, d }
    }

    #[test]
    fn every_metric_and_unit_parses() {
        let g = gate("p99 > 1.25x");
        assert_eq!(
            (g.scope, g.metric, g.op, g.threshold),
            (
                None,
                Metric::Latency(Percentile::P99),
                Op::Gt,
                Threshold::Ratio(q(125, 100))
            )
        );
        assert_eq!(gate("p50>=250ms").threshold, Threshold::Time(q(250_000, 1)));
        assert_eq!(
            gate("p90 < 1.5s").threshold,
            Threshold::Time(q(15_000_000, 10))
        );
        assert_eq!(gate("p999 <= 900us").threshold, Threshold::Time(q(900, 1)));
        assert_eq!(gate("max > 900µs").threshold, Threshold::Time(q(900, 1)));
        assert_eq!(
            gate("max > +20ms").threshold,
            Threshold::Delta(q(20_000, 1))
        );
        assert_eq!(gate("p50 < -5ms").threshold, Threshold::Delta(q(-5_000, 1)));
        assert_eq!(
            gate("service-p99 > 2x").metric,
            Metric::Service(Percentile::P99)
        );
        assert_eq!(
            gate("error-rate > 0.5%").threshold,
            Threshold::Rate(q(5, 1000))
        );
        assert_eq!(
            gate("5xx-rate > +1%").threshold,
            Threshold::RateDelta(q(1, 100))
        );
        assert_eq!(gate("4xx-rate >= 10%").metric, Metric::Rate4xx);
        assert_eq!(gate("status-mismatch > 1%").metric, Metric::StatusMismatch);
        assert_eq!(
            gate("effect-size > 0.6").threshold,
            Threshold::Number(q(6, 10))
        );
        assert_eq!(
            gate("  p99   >   250 ms  ").threshold,
            Threshold::Time(q(250_000, 1))
        );
    }

    #[test]
    fn scopes_may_contain_colons() {
        let g = gate("GET /api/users/{id}::p99 > 1.25x");
        assert_eq!(g.scope.as_deref(), Some("GET /api/users/{id}"));
        assert_eq!(
            gate("GET /a:b::p50 > 1x").scope.as_deref(),
            Some("GET /a:b")
        );
        // The last `::` followed by a metric ends the scope; earlier ones belong to it.
        assert_eq!(
            gate("GET /x::y::error-rate > 1%").scope.as_deref(),
            Some("GET /x::y")
        );
        assert_eq!(gate("GET /a:::p50 > 1x").scope.as_deref(), Some("GET /a:"));
        // `::p99` inside the scope, but not followed by a metric where it ends.
        assert_eq!(
            gate("GET /p99::max > 2x").scope.as_deref(),
            Some("GET /p99")
        );
        assert_eq!(
            gate("CONNECT h:443 :: p99 > 1x").scope.as_deref(),
            Some("CONNECT h:443")
        );
    }

    #[test]
    fn each_parse_error_points_at_its_column() {
        assert_eq!(error("   "), (1, GateProblem::Empty));
        assert_eq!(error("::p99 > 1x"), (1, GateProblem::EmptyScope));
        assert_eq!(
            error("p98 > 1x"),
            (
                1,
                GateProblem::UnknownMetric {
                    found: "p98".into()
                }
            )
        );
        assert_eq!(
            error("GET /a::p98 > 1x"),
            (
                9,
                GateProblem::UnknownMetric {
                    found: "p98".into()
                }
            )
        );
        assert_eq!(error("> 1x"), (1, GateProblem::MissingMetric));
        assert_eq!(
            error("p99 1x"),
            (
                5,
                GateProblem::MissingOperator {
                    metric: "p99".into()
                }
            )
        );
        assert_eq!(
            error("p99 == 1x"),
            (5, GateProblem::BadOperator { found: "==".into() })
        );
        assert_eq!(
            error("p99 => 1x"),
            (5, GateProblem::BadOperator { found: "=>".into() })
        );
        assert_eq!(error("p99 >"), (6, GateProblem::MissingValue));
        assert_eq!(
            error("p99 > fast"),
            (
                7,
                GateProblem::BadNumber {
                    found: "fast".into()
                }
            )
        );
        assert_eq!(
            error("p99 > 12parsecs"),
            (
                9,
                GateProblem::UnknownUnit {
                    unit: "parsecs".into()
                }
            )
        );
        assert_eq!(
            error("p99 > 1.2x please"),
            (
                12,
                GateProblem::Trailing {
                    found: "please".into()
                }
            )
        );
        assert!(
            matches!(error("p99 > 1.2"), (7, GateProblem::WrongKind(w)) if w.contains("needs a unit"))
        );
        assert!(
            matches!(error("p99 > 1%"), (7, GateProblem::WrongKind(w)) if w.contains("not a rate"))
        );
        assert!(
            matches!(error("p99 > +1.5x"), (7, GateProblem::WrongKind(w)) if w.contains("no sign"))
        );
        assert!(
            matches!(error("error-rate > 1ms"), (14, GateProblem::WrongKind(w)) if w.contains("not a time"))
        );
        assert!(
            matches!(error("error-rate > 2x"), (14, GateProblem::WrongKind(w)) if w.contains("ratio"))
        );
        assert!(
            matches!(error("5xx-rate > 0.01"), (12, GateProblem::WrongKind(w)) if w.contains("with %"))
        );
        assert!(
            matches!(error("status-mismatch > +1%"), (19, GateProblem::WrongKind(w)) if w.contains("plain rate"))
        );
        assert!(
            matches!(error("effect-size > 60%"), (15, GateProblem::WrongKind(w)) if w.contains("between 0 and 1"))
        );
        assert!(matches!(
            error("effect-size > 1.5"),
            (15, GateProblem::WrongKind(_))
        ));
        assert!(
            matches!(error("effect-size > +0.1"), (15, GateProblem::WrongKind(w)) if w.contains("signed"))
        );
        assert!(matches!(
            error("error-rate > 101%"),
            (14, GateProblem::OutOfRange(_))
        ));
        assert!(matches!(
            error("p99 > 1.0000000001x"),
            (7, GateProblem::OutOfRange(_))
        ));
    }

    #[test]
    fn the_message_shows_a_caret_under_the_column() {
        let e = "GET /a::p99 > 1.2".parse::<Gate>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "--fail-if 'GET /a::p99 > 1.2': column 15: p99 is a latency and needs a unit: write a \
             ratio to the reference (1.25x), a time (250ms, 1.5s, 900us) or a difference to the \
             reference (+20ms)\n    GET /a::p99 > 1.2\n                  ^"
        );
        assert_eq!(e.status(), Status::BadInput);
    }

    #[test]
    fn exact_comparisons_hold_at_the_boundary() {
        // 1.1 × 100 is 110.00000000000001 in floating point; exactly 110 here.
        let (v, r) = (Q::int(110), Q::int(100));
        let limit = r.mul(q(11, 10)).unwrap();
        assert_eq!(v.cmp(limit), Ordering::Equal);
        assert!(Op::Ge.holds(v.cmp(limit)) && !Op::Gt.holds(v.cmp(limit)));
        assert!(Op::Le.holds(v.cmp(limit)) && !Op::Lt.holds(v.cmp(limit)));
        assert_eq!(
            Q::int(120).add(q(-20_000, 1000)).unwrap().cmp(Q::int(100)),
            Ordering::Equal
        );
    }
}
