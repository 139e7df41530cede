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

use super::accumulate::EndpointAcc;
use super::hist::Percentile;
use super::report::{EndpointFigures, Reference};
use crate::exit::{Classify, Status};

/// The gate grammar, for `reel replay --help` and `reel compare --help`.
pub const GATES_HELP: &str = "\
Gates: --fail-if 'EXPR' (repeatable). The run fails (exit 1) when an expression is TRUE.
  EXPR    [SCOPE '::'] METRIC OP VALUE ['and' VALUE]...   (fails only when every VALUE holds)
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
  production. Gates are judged by exact confidence intervals (--confidence, default 95%):
  Clopper-Pearson for rates, order statistics for percentiles; an interval that overlaps the
  limit defers to the point estimate from 1000 values, else reads 'not enough data', which
  FAILS the run unless --allow-insufficient. A scope that names no endpoint is exit 2.
  Implicit gate: error-rate > 5% (--max-error-rate RATE|off). No response at all: exit 3.
Examples:
  --fail-if 'p99 > 1.25x' --fail-if 'error-rate > 0.5%' --fail-if '5xx-rate > +1%'
  --fail-if 'GET /api/users/{id}::p50 > +20ms' --fail-if 'effect-size > 0.6'
  --fail-if 'p99 > 1.25x and +5ms'                     (tiny latencies: ratio AND difference)";

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
    /// Further values after `and` (`p99 > 1.25x and +5ms`): the gate fails only when the
    /// comparison holds for every one of them.
    pub and: Vec<Threshold>,
    /// The values as typed, the first and then each after `and`.
    pub typed: Vec<String>,
    /// True for the gate `--max-error-rate` adds (judged on the run's own counts).
    pub implicit: bool,
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

        // VALUE ('and' VALUE)*: `and` as a word of its own.
        let mut starts = vec![op_end];
        let mut ends = Vec::new();
        let mut i = op_end;
        while i + 3 <= chars.len() {
            let word: String = text(&chars, i, i + 3).to_ascii_lowercase();
            let before = i > op_end && chars.get(i - 1).is_some_and(|c| c.is_whitespace());
            let after = chars.get(i + 3).is_none_or(|c| c.is_whitespace());
            if word == "and" && before && after {
                ends.push(i);
                starts.push(i + 3);
                i += 3;
            } else {
                i += 1;
            }
        }
        ends.push(chars.len());
        let mut values = Vec::new();
        let mut typed = Vec::new();
        for (&start, &end) in starts.iter().zip(&ends) {
            let value_start = skip_spaces(&chars, start);
            if value_start >= end {
                return Err(fail(value_start, GateProblem::MissingValue));
            }
            values.push(
                parse_value(&chars, value_start, end, metric).map_err(|(at, p)| fail(at, p))?,
            );
            typed.push(text(&chars, value_start, end).trim().to_string());
        }
        let mut values = values.into_iter();
        let Some(threshold) = values.next() else {
            return Err(fail(op_end, GateProblem::MissingValue));
        };
        Ok(Gate {
            expr: expr.to_string(),
            scope,
            metric,
            op,
            threshold,
            and: values.collect(),
            typed,
            implicit: false,
        })
    }
}

/// Parses VALUE at `at` and checks that its kind fits `metric`; errors carry their column.
fn parse_value(
    chars: &[char],
    at: usize,
    end: usize,
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
    while let Some(&c) = chars.get(i).filter(|_| i < end) {
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
        let (s, e) = (number_start, end);
        return Err((
            number_start,
            GateProblem::BadNumber {
                found: text(chars, s, e).trim().to_string(),
            },
        ));
    }
    let unit_start = skip_spaces(chars, i);
    let mut unit_end = unit_start;
    while unit_end < end
        && chars
            .get(unit_end)
            .is_some_and(|&c| c.is_alphabetic() || c == '%')
    {
        unit_end += 1;
    }
    let unit = text(chars, unit_start, unit_end);
    let trailing = skip_spaces(chars, unit_end).min(end);
    if trailing < end {
        return Err((
            trailing,
            GateProblem::Trailing {
                found: text(chars, trailing, end).trim_end().to_string(),
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
    let value = |threshold: Threshold| match threshold {
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
    let values: Vec<String> = std::iter::once(gate.threshold)
        .chain(gate.and.iter().copied())
        .map(value)
        .collect();
    let value = values.join(" and ");
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
                same_threshold(gate.threshold, again.threshold)
                    && gate.and.len() == again.and.len()
                    && gate
                        .and
                        .iter()
                        .zip(&again.and)
                        .all(|(a, b)| same_threshold(*a, *b)),
                "{expr:?}: {:?} {:?}, {text:?}: {:?} {:?}",
                gate.threshold,
                gate.and,
                again.threshold,
                again.and
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
    /// The data cannot tell; fails the run unless `--allow-insufficient`.
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

/// From this many values (on each side the gate reads), a gate whose interval overlaps its limit
/// is judged by its point estimate, so that large runs do not flap near a threshold.
pub const POINT_ESTIMATE_FROM: u64 = 1000;

/// How gates are judged: the confidence of their intervals and what an unjudgeable gate does.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Judging {
    /// Two-sided confidence of every interval, e.g. 0.95 (`--confidence`).
    pub confidence: f64,
    /// "Not enough data" passes with a warning instead of failing (`--allow-insufficient`).
    pub allow_insufficient: bool,
    /// Fewest values per side for an `effect-size` gate (`--min-samples`).
    pub min_samples: u64,
    /// From this many values a gate whose interval overlaps its limit reads its point estimate
    /// ([`POINT_ESTIMATE_FROM`]).
    pub point_estimate_from: u64,
}

impl Default for Judging {
    fn default() -> Self {
        Judging {
            confidence: 0.95,
            allow_insufficient: false,
            min_samples: 50,
            point_estimate_from: POINT_ESTIMATE_FROM,
        }
    }
}

/// How a verdict was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Basis {
    /// The whole confidence interval lies on one side of the limit.
    #[serde(rename = "interval")]
    Interval,
    /// The interval overlaps the limit, but the sample is large: the point estimate decides.
    #[serde(rename = "point estimate")]
    Point,
    /// A statement about this run's own counts (a 0% or 100% limit, the implicit gate).
    #[serde(rename = "counts")]
    Counts,
}

/// One value of a gate (the one before each `and`), judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// The value as typed, e.g. `1.25x`.
    pub value: String,
    /// What staging's value was compared with (`unit`).
    pub threshold: Option<f64>,
    /// The interval of that limit (`unit`) when it rests on the reference's.
    pub threshold_interval: Option<[Option<f64>; 2]>,
    /// pass, fail, or not enough data, for this value alone.
    pub verdict: GateVerdict,
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
    /// Staging's value's confidence interval `[low, high]` (`unit`; `null` on a side the sample
    /// cannot bound).
    pub interval: Option<[Option<f64>; 2]>,
    /// The reference's value (`unit`), when the metric has one.
    pub reference: Option<f64>,
    /// The reference's value's interval, when the gate reads the reference.
    pub reference_interval: Option<[Option<f64>; 2]>,
    /// What the value was compared with (`unit`): e.g. 1.25 × the reference (the first value).
    pub threshold: Option<f64>,
    /// Each value of the gate (one, or more joined by `and`), judged.
    pub conditions: Vec<Condition>,
    /// `ms`, `fraction` or `probability`.
    pub unit: &'static str,
    /// pass, fail, or not enough data.
    pub verdict: GateVerdict,
    /// How the verdict was reached; `null` with not enough data.
    pub basis: Option<Basis>,
    /// The intervals' confidence.
    pub confidence: f64,
    /// True when this gate makes the run fail (a fail, or not enough data without
    /// `--allow-insufficient`).
    pub failed: bool,
    /// True for the gate `--max-error-rate` adds.
    pub implicit: bool,
    /// Values the verdict rests on (the smaller side when it reads both).
    pub samples: u64,
    /// Why there was not enough data.
    pub note: Option<String>,
}

/// A confidence interval in a metric's internal unit (µs or fraction); `None` on a side the
/// sample cannot bound.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Bounds {
    lo: Option<f64>,
    hi: Option<f64>,
}

impl Bounds {
    fn point(v: f64) -> Bounds {
        Bounds {
            lo: Some(v),
            hi: Some(v),
        }
    }

    fn rate(k: u64, n: u64, confidence: f64) -> Bounds {
        if n == 0 {
            return Bounds::default();
        }
        let (lo, hi) = super::confidence::clopper_pearson(k, n, confidence);
        Bounds {
            lo: Some(lo),
            hi: Some(hi),
        }
    }

    fn quantile(samples: &super::hist::Samples, pct: Percentile, confidence: f64) -> Bounds {
        let hist = samples.histogram();
        let (lo, hi) = super::confidence::quantile_ranks(hist.len(), pct.quantile(), confidence);
        let at = |rank: Option<u64>| {
            rank.and_then(|r| super::hist::value_at_rank(&hist, r))
                .map(|v| v as f64)
        };
        Bounds {
            lo: at(lo),
            hi: at(hi),
        }
    }

    fn shown(self, show: impl Fn(f64) -> f64) -> [Option<f64>; 2] {
        [self.lo.map(&show), self.hi.map(&show)]
    }
}

/// The value of a metric on staging and on the reference, exact, with the sample sizes and the
/// intervals.
struct Measure {
    value: Option<Q>,
    reference: Option<Q>,
    n: u64,
    n_reference: u64,
    bounds: Bounds,
    reference_bounds: Bounds,
}

fn measure(
    metric: Metric,
    ep: &EndpointFigures,
    acc: Option<&EndpointAcc>,
    reference: Reference,
    confidence: f64,
) -> Measure {
    let with_baseline = reference == Reference::Baseline;
    let base = ep.baseline.as_ref().filter(|_| with_baseline);
    let latency = |side: Option<&super::report::SideFigures>, pct| {
        side.and_then(|s| s.latency).map(|l| Q::int(l.get(pct)))
    };
    let quantile = |samples: Option<&super::hist::Samples>, pct| {
        samples.map_or_else(Bounds::default, |s| Bounds::quantile(s, pct, confidence))
    };
    match metric {
        Metric::Latency(p) => {
            let reference_side = base.unwrap_or(&ep.production);
            let reference_samples = acc.map(|a| {
                if with_baseline {
                    &a.baseline.latency
                } else {
                    &a.production.latency
                }
            });
            Measure {
                value: latency(Some(&ep.staging), p),
                reference: latency(Some(reference_side), p),
                n: ep.staging.latency_samples,
                n_reference: reference_side.latency_samples,
                bounds: quantile(acc.map(|a| &a.candidate.latency), p),
                reference_bounds: quantile(reference_samples, p),
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
            let reference_samples = acc.map(|a| {
                if with_baseline {
                    &a.baseline.service
                } else {
                    &a.production.latency
                }
            });
            Measure {
                value: ep.staging.service.map(|l| Q::int(l.get(p))),
                reference,
                n: ep.staging.service_samples,
                n_reference,
                bounds: quantile(acc.map(|a| &a.candidate.service), p),
                reference_bounds: quantile(reference_samples, p),
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
            let (side, production) = match base {
                Some(b) => (b, false),
                None => (&ep.production, true),
            };
            let (k, kr) = (count(&ep.staging, false), count(side, production));
            Measure {
                value: Q::ratio(k, ep.staging.requests),
                reference: Q::ratio(kr, side.requests),
                n: ep.staging.requests,
                n_reference: side.requests,
                bounds: Bounds::rate(k, ep.staging.requests, confidence),
                reference_bounds: Bounds::rate(kr, side.requests, confidence),
            }
        }
        Metric::StatusMismatch => {
            let agreement = match (reference, &ep.vs_baseline) {
                (Reference::Baseline, Some(a)) => a,
                _ => &ep.vs_production,
            };
            // Shown beside it: how far the baseline itself is from production (the noise).
            let noise = ep.baseline_vs_production.as_ref().filter(|_| with_baseline);
            Measure {
                value: Q::ratio(agreement.mismatched, agreement.pairs),
                reference: noise.and_then(|a| Q::ratio(a.mismatched, a.pairs)),
                n: agreement.pairs,
                n_reference: agreement.pairs,
                bounds: Bounds::rate(agreement.mismatched, agreement.pairs, confidence),
                reference_bounds: noise
                    .map(|a| Bounds::rate(a.mismatched, a.pairs, confidence))
                    .unwrap_or_default(),
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
                bounds: Bounds::default(),
                reference_bounds: Bounds::default(),
            }
        }
    }
}

/// One value of a gate, judged: its limit (exact and as an interval) and the outcome.
struct Judged {
    limit: Option<Q>,
    limit_bounds: Bounds,
    outcome: Result<(bool, Basis), String>,
}

impl Gate {
    /// The implicit gate of `--max-error-rate`: `error-rate > MAX`, judged on the run's own
    /// counts. `max` is a rate as typed (`5%`).
    pub fn implicit_error_rate(max: &str) -> Result<Gate, GateError> {
        let mut gate: Gate = format!("error-rate > {max}").parse()?;
        gate.implicit = true;
        Ok(gate)
    }

    fn needs_reference(&self) -> bool {
        self.metric == Metric::EffectSize
            || std::iter::once(self.threshold)
                .chain(self.and.iter().copied())
                .any(Threshold::needs_reference)
    }

    fn judge(&self, threshold: Threshold, m: &Measure, judging: &Judging) -> Judged {
        let mut judged = Judged {
            limit: None,
            limit_bounds: Bounds::default(),
            outcome: Err("no values".into()),
        };
        let Some(value) = m.value else {
            return judged;
        };
        let scaled = |b: Option<f64>, k: f64| b.map(|v| v * k);
        let shifted = |b: Option<f64>, d: f64| b.map(|v| v + d);
        let (limit, bounds) = match threshold {
            Threshold::Time(t) | Threshold::Rate(t) | Threshold::Number(t) => {
                (Some(t), Bounds::point(t.f64()))
            }
            Threshold::Ratio(k) => (
                m.reference.and_then(|r| r.mul(k)),
                Bounds {
                    lo: scaled(m.reference_bounds.lo.or(Some(0.0)), k.f64()),
                    hi: scaled(m.reference_bounds.hi, k.f64()),
                },
            ),
            Threshold::Delta(d) | Threshold::RateDelta(d) => (
                m.reference.and_then(|r| r.add(d)),
                Bounds {
                    lo: shifted(m.reference_bounds.lo.or(Some(0.0)), d.f64()),
                    hi: shifted(m.reference_bounds.hi, d.f64()),
                },
            ),
        };
        let Some(limit) = limit else {
            judged.outcome = Err("the reference has no value".into());
            return judged;
        };
        judged.limit = Some(limit);
        judged.limit_bounds = bounds;
        let point = |basis| Ok((self.op.holds(value.cmp(limit)), basis));
        let needs_reference = threshold.needs_reference() || self.metric == Metric::EffectSize;
        let n = if needs_reference {
            m.n.min(m.n_reference)
        } else {
            m.n
        };
        if self.implicit {
            judged.outcome = point(Basis::Counts);
            return judged;
        }
        if self.metric == Metric::EffectSize {
            let min = judging.min_samples.max(1);
            judged.outcome = if n >= min {
                point(Basis::Point)
            } else {
                Err(format!("{n} values, fewer than --min-samples {min}"))
            };
            return judged;
        }
        if let Threshold::Rate(t) = threshold {
            if t.n == 0 || t.n == t.d {
                judged.outcome = point(Basis::Counts);
                return judged;
            }
        }
        let s_lo = m.bounds.lo.unwrap_or(0.0);
        let s_hi = m.bounds.hi.unwrap_or(f64::INFINITY);
        let l_lo = bounds.lo.unwrap_or(0.0);
        let l_hi = bounds.hi.unwrap_or(f64::INFINITY);
        let holds = |x: f64, l: f64| self.op.holds(x.total_cmp(&l));
        let (surely_fails, surely_holds) = match self.op {
            Op::Gt | Op::Ge => (holds(s_lo, l_hi), !holds(s_hi, l_lo)),
            Op::Lt | Op::Le => (holds(s_hi, l_lo), !holds(s_lo, l_hi)),
        };
        judged.outcome = if surely_fails {
            Ok((true, Basis::Interval))
        } else if surely_holds {
            Ok((false, Basis::Interval))
        } else if n >= judging.point_estimate_from {
            point(Basis::Point)
        } else {
            Err(format!(
                "the {}% interval overlaps the limit with {n} values (the point estimate decides \
                 from {})",
                confidence_text(judging.confidence),
                judging.point_estimate_from
            ))
        };
        judged
    }

    /// Evaluates the gate on `ep` (the figures of its scope, with the values behind them for
    /// the percentiles' intervals): see `docs/GATES.md` for the rules.
    pub(crate) fn evaluate(
        &self,
        ep: &EndpointFigures,
        acc: Option<&EndpointAcc>,
        reference: Reference,
        judging: &Judging,
    ) -> GateResult {
        let m = measure(self.metric, ep, acc, reference, judging.confidence);
        self.result(&m, judging)
    }

    /// The result of a gate whose scope matched no endpoint: not enough data, with the note.
    pub(crate) fn unmatched(&self, judging: &Judging) -> GateResult {
        let m = Measure {
            value: None,
            reference: None,
            n: 0,
            n_reference: 0,
            bounds: Bounds::default(),
            reference_bounds: Bounds::default(),
        };
        let mut result = self.result(&m, judging);
        result.note = Some("no request matched this endpoint".into());
        result
    }

    /// Evaluates a rate gate with no reference (`error-rate > 5%`) on `k` of `n` requests: what
    /// a replay without a comparison judges its implicit gate with.
    pub fn evaluate_counts(&self, k: u64, n: u64, judging: &Judging) -> GateResult {
        let m = Measure {
            value: Q::ratio(k, n),
            reference: None,
            n,
            n_reference: 0,
            bounds: Bounds::rate(k, n, judging.confidence),
            reference_bounds: Bounds::default(),
        };
        self.result(&m, judging)
    }

    fn result(&self, m: &Measure, judging: &Judging) -> GateResult {
        let unit = self.metric.unit();
        let show = |v: f64| if unit == "ms" { v / 1000.0 } else { v };
        let needs_reference = self.needs_reference();
        let thresholds: Vec<Threshold> = std::iter::once(self.threshold)
            .chain(self.and.iter().copied())
            .collect();
        let judged: Vec<Judged> = thresholds
            .iter()
            .map(|&t| self.judge(t, m, judging))
            .collect();
        let conditions: Vec<Condition> = judged
            .iter()
            .zip(thresholds.iter())
            .enumerate()
            .map(|(i, (j, t))| Condition {
                value: self.typed.get(i).cloned().unwrap_or_default(),
                threshold: j.limit.map(|q| show(q.f64())),
                threshold_interval: (t.needs_reference() && j.limit.is_some())
                    .then(|| j.limit_bounds.shown(show)),
                verdict: match j.outcome {
                    Ok((true, _)) => GateVerdict::Fail,
                    Ok((false, _)) => GateVerdict::Pass,
                    Err(_) => GateVerdict::NotEnoughData,
                },
            })
            .collect();
        // A gate fails when every value's comparison holds; one that surely does not is a pass.
        let pass = judged.iter().find(|j| matches!(j.outcome, Ok((false, _))));
        let unsure = judged.iter().find_map(|j| j.outcome.as_ref().err());
        let (verdict, basis, note) = match (pass, unsure) {
            (Some(j), _) => (
                GateVerdict::Pass,
                j.outcome.as_ref().ok().map(|o| o.1),
                None,
            ),
            (None, Some(why)) => (GateVerdict::NotEnoughData, None, Some(why.clone())),
            (None, None) => {
                // Every value fails: the weakest basis of them says how it was reached.
                let basis = judged
                    .iter()
                    .filter_map(|j| j.outcome.as_ref().ok().map(|o| o.1))
                    .max_by_key(|b| match b {
                        Basis::Interval => 0,
                        Basis::Counts => 1,
                        Basis::Point => 2,
                    });
                (GateVerdict::Fail, basis, None)
            }
        };
        let has_bounds = m.bounds != Bounds::default();
        GateResult {
            expr: self.expr.clone(),
            scope: self.scope.clone(),
            metric: self.metric.name(),
            op: self.op.as_str(),
            value: m.value.map(|q| show(q.f64())),
            interval: (m.value.is_some() && has_bounds).then(|| m.bounds.shown(show)),
            reference: m.reference.map(|q| show(q.f64())),
            reference_interval: (needs_reference && m.reference.is_some())
                .then(|| m.reference_bounds.shown(show)),
            threshold: conditions.first().and_then(|c| c.threshold),
            conditions,
            unit,
            verdict,
            basis,
            confidence: judging.confidence,
            failed: match verdict {
                GateVerdict::Fail => true,
                GateVerdict::Pass => false,
                GateVerdict::NotEnoughData => !judging.allow_insufficient,
            },
            implicit: self.implicit,
            samples: if needs_reference {
                m.n.min(m.n_reference)
            } else {
                m.n
            },
            note,
        }
    }
}

/// Parses `--confidence`: `95%`, `99.9%` or `0.95`; from 50% up to 99.999%.
pub fn parse_confidence(text: &str) -> Result<f64, String> {
    let t = text.trim();
    let (number, percent) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    let bad = || format!("expected a confidence such as 95% or 0.99, got {text:?}");
    let v: f64 = number.parse().map_err(|_| bad())?;
    let c = if percent { v / 100.0 } else { v };
    if !c.is_finite() || !(0.5..=0.99999).contains(&c) {
        return Err(format!("{text}: a confidence from 50% to 99.999%"));
    }
    Ok(c)
}

/// Parses `--max-error-rate`: a rate such as `5%` (the implicit gate `error-rate > 5%`), or
/// `off` (no implicit gate).
pub fn parse_max_error_rate(text: &str) -> Result<Option<Gate>, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    if !t.ends_with('%') || t.starts_with(['+', '-']) {
        return Err(format!("expected a rate such as 5% or off, got {text:?}"));
    }
    Gate::implicit_error_rate(t)
        .map(Some)
        .map_err(|e| format!("{t}: {}", e.problem))
}

/// `95` for 0.95, `99.9` for 0.999.
pub fn confidence_text(c: f64) -> String {
    let pct = format!("{:.3}", c * 100.0);
    pct.trim_end_matches('0').trim_end_matches('.').to_string()
}

impl GateResult {
    fn shown(&self, v: f64) -> String {
        match self.unit {
            "ms" => super::text::duration_ms(v),
            "fraction" => super::text::percent(v),
            _ => format!("{v:.3}"),
        }
    }

    fn bounds_text(&self, b: [Option<f64>; 2]) -> String {
        let lo = b[0].map_or_else(|| "0".to_string(), |v| self.shown(v));
        let hi = b[1].map_or_else(|| "∞".to_string(), |v| self.shown(v));
        format!("[{lo}, {hi}]")
    }

    /// The verdict as the gate list prints it.
    pub fn verdict_text(&self) -> &'static str {
        match (self.verdict, self.failed) {
            (GateVerdict::Fail, _) => "FAIL",
            (GateVerdict::Pass, _) => "pass",
            (GateVerdict::NotEnoughData, true) => "FAIL (not enough data)",
            (GateVerdict::NotEnoughData, false) => "not enough data, allowed",
        }
    }
}

impl fmt::Display for GateResult {
    /// `5xx-rate 100% [92.6%, 100%] > 1%: FAIL`; a ratio names its limit and the reference:
    /// `p99 131ms [120ms, 150ms] > 125ms (1.25x of 100ms): FAIL`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scope) = &self.scope {
            write!(f, "{scope}::")?;
        }
        write!(f, "{}", self.metric)?;
        if let Some(v) = self.value {
            write!(f, " {}", self.shown(v))?;
            if let Some(b) = self.interval {
                write!(f, " {}", self.bounds_text(b))?;
            }
        }
        for (i, c) in self.conditions.iter().enumerate() {
            if i > 0 {
                write!(f, " and")?;
            }
            match (c.threshold, c.threshold_interval.is_some()) {
                (Some(t), true) => {
                    let of = self
                        .reference
                        .map(|r| format!(" of {}", self.shown(r)))
                        .unwrap_or_default();
                    write!(f, " {} {} ({}{of})", self.op, self.shown(t), c.value)?;
                }
                _ => write!(f, " {} {}", self.op, c.value)?,
            }
        }
        match (self.verdict, self.failed, &self.note) {
            (GateVerdict::NotEnoughData, true, Some(note)) => {
                write!(f, ": FAIL (not enough data: {note})")?;
            }
            (GateVerdict::NotEnoughData, false, Some(note)) => {
                write!(f, ": not enough data, allowed ({note})")?;
            }
            _ => write!(f, ": {}", self.verdict_text())?,
        }
        if self.implicit {
            write!(f, " [implicit: --max-error-rate]")?;
        }
        Ok(())
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
    fn compound_values_parse_and_keep_their_columns() {
        let g = gate("p99 > 1.25x and +5ms");
        assert_eq!(g.threshold, Threshold::Ratio(q(125, 100)));
        assert_eq!(g.and, [Threshold::Delta(q(5_000, 1))]);
        assert_eq!(g.typed, ["1.25x", "+5ms"]);
        let g = gate("GET /a::p50 >= 2x AND 10ms and +1ms");
        assert_eq!(g.and.len(), 2);
        assert_eq!(g.scope.as_deref(), Some("GET /a"));
        // Each value is checked for its metric; errors point into the second value.
        assert!(
            matches!(error("p99 > 1.25x and 1%"), (17, GateProblem::WrongKind(w)) if w.contains("not a rate"))
        );
        assert_eq!(error("p99 > 1.25x and "), (17, GateProblem::MissingValue));
        assert_eq!(
            error("p99 > 1.25x and 5ms extra"),
            (
                21,
                GateProblem::Trailing {
                    found: "extra".into()
                }
            )
        );
        // `and` glued to a value is not the keyword.
        assert_eq!(
            error("p99 > 1.25xand 5ms"),
            (
                16,
                GateProblem::Trailing {
                    found: "5ms".into()
                }
            )
        );
        fuzz_gate(b"p99 > 1.25x and +5ms");
        fuzz_gate(b"5xx-rate > 1% and +0.5%");
    }

    fn rate_measure(k: u64, n: u64, reference: Option<(u64, u64)>) -> Measure {
        let c = 0.95;
        Measure {
            value: Q::ratio(k, n),
            reference: reference.and_then(|(k, n)| Q::ratio(k, n)),
            n,
            n_reference: reference.map_or(0, |r| r.1),
            bounds: Bounds::rate(k, n, c),
            reference_bounds: reference
                .map_or_else(Bounds::default, |(k, n)| Bounds::rate(k, n, c)),
        }
    }

    fn judged(expr: &str, m: &Measure) -> (GateVerdict, Option<Basis>, bool) {
        let r = gate(expr).result(m, &Judging::default());
        (r.verdict, r.basis, r.failed)
    }

    #[test]
    fn rate_gates_read_their_interval_then_the_point_estimate() {
        use GateVerdict::{Fail, NotEnoughData, Pass};
        // 48 of 48: [92.6%, 100%] lies above 1%.
        assert_eq!(
            judged("5xx-rate > 1%", &rate_measure(48, 48, None)),
            (Fail, Some(Basis::Interval), true)
        );
        // 0 of 48: [0%, 7.40%] straddles 1%; it proves < 10%.
        assert_eq!(
            judged("5xx-rate > 1%", &rate_measure(0, 48, None)),
            (NotEnoughData, None, true)
        );
        assert_eq!(
            judged("5xx-rate > 10%", &rate_measure(0, 48, None)),
            (Pass, Some(Basis::Interval), false)
        );
        // Overlap from 1000 values: the point estimate, exact at the boundary.
        assert_eq!(
            judged("5xx-rate > 1%", &rate_measure(11, 1000, None)),
            (Fail, Some(Basis::Point), true)
        );
        assert_eq!(
            judged("5xx-rate > 1.1%", &rate_measure(11, 1000, None)),
            (Pass, Some(Basis::Point), false)
        );
        assert_eq!(
            judged("5xx-rate >= 1.1%", &rate_measure(11, 1000, None)),
            (Fail, Some(Basis::Point), true)
        );
        // `<` mirrors `>`: 48 of 48 surely is not below 50%.
        assert_eq!(
            judged("5xx-rate < 50%", &rate_measure(48, 48, None)),
            (Pass, Some(Basis::Interval), false)
        );
        assert_eq!(
            judged("5xx-rate < 99%", &rate_measure(48, 48, None)),
            (NotEnoughData, None, true)
        );
        // 0% reads the counts: no interval can prove a rate is 0.
        assert_eq!(
            judged("status-mismatch > 0%", &rate_measure(0, 10, None)),
            (Pass, Some(Basis::Counts), false)
        );
        assert_eq!(
            judged("status-mismatch > 0%", &rate_measure(1, 10, None)),
            (Fail, Some(Basis::Counts), true)
        );
        // A difference to the reference widens by the reference's interval too: 20 of 200
        // against 0 of 200 surely exceeds +1%; against 10 of 200 it cannot tell.
        assert_eq!(
            judged("5xx-rate > +1%", &rate_measure(20, 200, Some((0, 200)))),
            (Fail, Some(Basis::Interval), true)
        );
        assert_eq!(
            judged("5xx-rate > +1%", &rate_measure(20, 200, Some((10, 200)))),
            (NotEnoughData, None, true)
        );
        // No values at all is not a pass.
        assert_eq!(
            judged("5xx-rate > 1%", &rate_measure(0, 0, None)),
            (NotEnoughData, None, true)
        );
        // --allow-insufficient lets it pass, still saying it could not judge.
        let lenient = Judging {
            allow_insufficient: true,
            ..Judging::default()
        };
        let r = gate("5xx-rate > 1%").result(&rate_measure(0, 48, None), &lenient);
        assert_eq!((r.verdict, r.failed), (GateVerdict::NotEnoughData, false));
        assert!(
            r.note
                .unwrap()
                .contains("overlaps the limit with 48 values")
        );
    }

    #[test]
    fn the_implicit_gate_reads_the_counts() {
        let g = Gate::implicit_error_rate("5%").unwrap();
        assert!(g.implicit);
        // 3 of 48 (6.25%) cannot be told from 5% by an interval, but this run had 6.25%.
        let r = g.evaluate_counts(3, 48, &Judging::default());
        assert_eq!(
            (r.verdict, r.basis, r.failed),
            (GateVerdict::Fail, Some(Basis::Counts), true)
        );
        let r = g.evaluate_counts(2, 48, &Judging::default());
        assert_eq!((r.verdict, r.failed), (GateVerdict::Pass, false));
        assert!(
            r.to_string()
                .ends_with(": pass [implicit: --max-error-rate]"),
            "{r}"
        );
        assert_eq!(parse_max_error_rate("off"), Ok(None));
        assert!(parse_max_error_rate("5").is_err());
        assert!(parse_max_error_rate("-5%").is_err());
        assert!(parse_max_error_rate("500%").is_err());
        assert_eq!(parse_confidence("95%"), Ok(0.95));
        assert_eq!(parse_confidence("0.99"), Ok(0.99));
        assert!(parse_confidence("100%").is_err());
        assert!(parse_confidence("40%").is_err());
        assert!(parse_confidence("often").is_err());
    }

    #[test]
    fn compound_gates_fail_only_when_every_value_holds() {
        let latency = |value: u64, lo: u64, hi: u64, reference: u64| Measure {
            value: Some(Q::int(value)),
            reference: Some(Q::int(reference)),
            n: 200,
            n_reference: 200,
            bounds: Bounds {
                lo: Some(lo as f64),
                hi: Some(hi as f64),
            },
            reference_bounds: Bounds::point(reference as f64),
        };
        let verdicts = |m: &Measure| {
            let r = gate("p99 > 1.25x and +5ms").result(m, &Judging::default());
            let parts: Vec<GateVerdict> = r.conditions.iter().map(|c| c.verdict).collect();
            (r.verdict, parts)
        };
        use GateVerdict::{Fail, NotEnoughData, Pass};
        // 2 ms against 1 ms: twice as slow, but by 1 ms.
        assert_eq!(
            verdicts(&latency(2_000, 1_900, 2_100, 1_000)),
            (Pass, vec![Fail, Pass])
        );
        // 12 ms against 1 ms: both hold.
        assert_eq!(
            verdicts(&latency(12_000, 11_500, 12_500, 1_000)),
            (Fail, vec![Fail, Fail])
        );
        // The difference cannot be told: not enough data, not a pass.
        assert_eq!(
            verdicts(&latency(6_000, 5_000, 7_000, 1_000)),
            (NotEnoughData, vec![Fail, NotEnoughData])
        );
        let r = gate("p99 > 1.25x and +5ms")
            .result(&latency(12_000, 11_500, 12_500, 1_000), &Judging::default());
        assert_eq!(
            r.to_string(),
            "p99 12.0ms [11.5ms, 12.5ms] > 1.25ms (1.25x of 1.00ms) and > 6.00ms (+5ms of 1.00ms): FAIL"
        );
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
