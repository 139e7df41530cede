//! The HTML report: one self-contained file (inline CSS and SVG, no scripts, nothing fetched).
//!
//! Read top to bottom: the command that made it (`title`), a verdict banner (passed or failed,
//! which gates, the key figures), the gates, the endpoints worst first, latency and throughput
//! over time (staging and its reference, per second), latency CDFs reference vs staging on a
//! percentile axis that shows the tail (overall and the worst endpoints), the per-request ratio
//! distribution, status-mix bars, the status confusion matrix with example requests, notes, and
//! the run's parameters. Plots are drawn by plotters' SVG backend, at sizes the layout shows
//! unscaled on a desktop screen, with text of at least 11 px. Every section has an `id`
//! (`verdict`, `gates`, `endpoints`, `timeline`, `latency`, `ratio`, `status`, `confusion`,
//! `notes`, `parameters`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use hdrhistogram::Histogram;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::accumulate::{CLASSES, Example};
use super::gate::{GateResult, GateVerdict};
use super::hist::ms;
use super::report::{Agreement, Comparison, EndpointFigures, Reference, SideFigures};
use super::stats::Verdict;
use super::text::{count, duration_ms, percent, ratio};
use super::timeline::{BucketFigures, SideSecond, TimelineFigures};

/// Endpoints that get their own plots and examples (after the overall ones).
const WORST: usize = super::report::PLOTTED;

/// Endpoints listed in the table.
const TABLE_ROWS: usize = 40;

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
:root { --pass:#1a7f37; --fail:#cf222e; --warn:#9a6700; --muted:#57606a; --line:#d0d7de; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
  margin: 0; padding: 0 24px 40px; color: #1f2328; background: #f6f8fa; font-size: 14px; }
h1 { font-size: 20px; margin: 18px 0 0; font-weight: 600; font-family: ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
h2 { font-size: 18px; margin: 28px 0 10px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
section, header { max-width: 1240px; margin: 0 auto; }
.banner { margin-top: 20px; border-radius: 10px; padding: 18px 24px; color: #fff; }
.banner.pass { background: var(--pass); }
.banner.fail { background: var(--fail); }
.banner.none { background: #424a53; }
.banner .big { font-size: 40px; font-weight: 800; letter-spacing: 1px; }
.banner .why { font-size: 18px; margin-top: 4px; }
.banner ul { margin: 8px 0 0; padding-left: 20px; font-size: 15px; }
.banner code { background: rgba(255,255,255,.18); padding: 1px 6px; border-radius: 4px; }
.tiles { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 10px; margin-top: 14px; }
.tile { background: rgba(255,255,255,.14); border-radius: 8px; padding: 8px 14px; }
.tile .k { font-size: 12px; opacity: .85; text-transform: uppercase; letter-spacing: .5px; }
.tile .v { font-size: 20px; font-weight: 700; }
.tile .s { font-size: 12px; opacity: .9; }
table { border-collapse: collapse; background: #fff; width: 100%; border: 1px solid var(--line); }
th, td { padding: 4px 7px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: #eaeef2; font-weight: 600; }
th.grp { text-align: center; border-bottom: 2px solid #afb8c1; }
details { margin: 6px 0; }
summary { cursor: pointer; padding: 4px 0; }
td.l, th.l { text-align: left; }
td.wrap { white-space: normal; word-break: break-all; text-align: left; font-family: ui-monospace, monospace; font-size: 12px; }
.chip { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; }
.chip.slower, .chip.fail { background: #ffebe9; color: var(--fail); }
.chip.faster { background: #ddf4ff; color: #0969da; }
.chip.same, .chip.pass { background: #dafbe1; color: var(--pass); }
.chip.few { background: #fff8c5; color: var(--warn); }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(600px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
.card h3 { margin: 2px 4px 6px; font-size: 13px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
svg { max-width: 100%; height: auto; display: block; }
.muted { color: var(--muted); }
.legend { margin: 4px 0 6px; }
.legend span { display: inline-block; margin-right: 14px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.matrix td.hot { background: #ffebe9; color: var(--fail); font-weight: 700; }
.matrix td.diag { background: #dafbe1; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
footer { max-width: 1240px; margin: 30px auto 0; color: var(--muted); font-size: 12px; }
"#;

/// Colors of the status classes, in [`CLASSES`] order.
const CLASS_COLORS: [RGBColor; 6] = [
    RGBColor(140, 149, 159),
    RGBColor(45, 164, 78),
    RGBColor(84, 174, 255),
    RGBColor(212, 167, 44),
    RGBColor(207, 34, 46),
    RGBColor(36, 41, 47),
];

const PRODUCTION_COLOR: RGBColor = RGBColor(110, 119, 129);
const BASELINE_COLOR: RGBColor = RGBColor(9, 105, 218);
const STAGING_COLOR: RGBColor = RGBColor(225, 100, 20);
const TIMELINE_REQUESTS_COLOR: RGBColor = RGBColor(164, 196, 230);
const TIMELINE_5XX_COLOR: RGBColor = RGBColor(207, 34, 46);
const TIMELINE_ERROR_COLOR: RGBColor = RGBColor(36, 41, 47);

fn hex(c: RGBColor) -> String {
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// Font size of axis labels and chart text, in plotters' units: its SVG backend writes
/// `font-size` as this / 1.24, so 15 gives 12.1 px — readable, and at least 11 px as long as a chart
/// is shown at 91% of its size or more (the layout never shrinks one below its natural width on a
/// screen 1240 px wide or wider).
const LABEL: u32 = 15;

/// Font size of the endpoint names in the status chart (14.5 px).
const HEADING: u32 = 18;

fn font(size: u32) -> FontDesc<'static> {
    ("sans-serif", size).into_font()
}

/// Draws into an SVG string of `size` pixels; a failure becomes a short note instead.
fn svg(
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> PlotResult,
) -> String {
    let mut out = String::new();
    let outcome = {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        draw(root)
    };
    match outcome {
        Ok(()) => out,
        Err(e) => format!(
            "<p class=\"muted\">plot unavailable: {}</p>",
            escape(&e.to_string())
        ),
    }
}

/// Axis ticks at 1, 2, 5 × powers of ten between `lo` and `hi`, thinned to at most 9.
fn one_two_five(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.max(1e-6).log10().floor());
    while decade <= hi {
        for m in [1.0, 2.0, 5.0] {
            let t = decade * m;
            if t >= lo && t <= hi {
                ticks.push(t);
            }
        }
        decade *= 10.0;
    }
    if ticks.len() > 8 {
        ticks.retain(|t| {
            let m = t / 10f64.powf(t.log10().floor());
            (m - 1.0).abs() < 1e-6
        });
    }
    ticks
}

/// A tick label: `duration_ms` without trailing zeros (`5ms`, `2.5ms`, `500µs`, `1s`).
fn tick_ms(v: f64) -> String {
    let text = duration_ms(v);
    let split = text
        .find(|c: char| c.is_alphabetic() || c == 'µ')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number = if number.contains('.') {
        number.trim_end_matches('0').trim_end_matches('.')
    } else {
        number
    };
    format!("{number}{unit}")
}

/// The top of the percentile axis: 99.99% (four nines).
const NINES_TOP: f64 = 4.0;

/// Where quantile `q` sits on the percentile axis: its number of nines, −log₁₀(1 − q) (50% at
/// 0.3, 90% at 1, 99% at 2, 99.9% at 3), so that the tail gets as much room as the body.
fn nines(q: f64) -> f64 {
    -(1.0 - q).max(1e-12).log10()
}

/// The label of a point on the percentile axis (the inverse of [`nines`]).
fn nines_label(y: f64) -> String {
    let q = (1.0 - 10f64.powf(-y)) * 100.0;
    let text = format!("{q:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

/// Points of a CDF on the percentile axis: (latency ms, nines), from the minimum up to the
/// highest quantile the sample can tell apart from the maximum (1 − 1/n, at most 99.99%), where
/// the line ends at the maximum.
fn cdf_points(hist: &Histogram<u64>, floor_ms: f64) -> Vec<(f64, f64)> {
    let n = hist.len().max(1) as f64;
    let top = n.log10().min(NINES_TOP);
    let at = |q: f64| ms(hist.value_at_quantile(q)).max(floor_ms);
    let mut points: Vec<(f64, f64)> = (0..)
        .map(|i| f64::from(i) * 0.02)
        .take_while(|&y| y < top)
        .map(|y| (at(1.0 - 10f64.powf(-y)), y))
        .collect();
    points.push((ms(hist.highest_equivalent(hist.max())).max(floor_ms), top));
    points
}

fn cdf_svg(lines: &[(&str, RGBColor, &Histogram<u64>)]) -> String {
    let present: Vec<_> = lines.iter().filter(|(_, _, h)| !h.is_empty()).collect();
    if present.is_empty() {
        return "<p class=\"muted\">no latencies</p>".into();
    }
    let lo = present
        .iter()
        .map(|(_, _, h)| ms(h.value_at_quantile(0.0)))
        .fold(f64::INFINITY, f64::min)
        .max(0.001);
    let hi = present
        .iter()
        .map(|(_, _, h)| ms(h.highest_equivalent(h.max())))
        .fold(0.0, f64::max);
    let (lo, hi) = (lo / 1.15, (hi * 1.15).max(lo * 2.0));
    svg((580, 330), |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .margin_right(18)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(
                (lo..hi).log_scale().with_key_points(one_two_five(lo, hi)),
                0.0..NINES_TOP + 0.08,
            )?;
        chart
            .configure_mesh()
            .y_labels(0)
            .disable_y_mesh()
            .x_label_formatter(&|v| tick_ms(*v))
            .x_desc("latency (log scale)")
            .y_desc("percentile")
            .label_style(font(LABEL))
            .axis_desc_style(font(LABEL))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(225, 228, 232))
            .draw()?;
        // The percentile axis by hand: plotters' key points do not combine with a linear axis.
        for y in [0.0, nines(0.5), 1.0, 2.0, 3.0, NINES_TOP] {
            chart.draw_series(LineSeries::new(
                vec![(lo, y), (hi, y)],
                RGBColor(225, 228, 232).stroke_width(1),
            ))?;
            let (px, py) = chart.backend_coord(&(lo, y));
            root.draw(&Text::new(
                nines_label(y),
                (px - 6, py),
                font(LABEL)
                    .color(&RGBColor(87, 96, 106))
                    .pos(Pos::new(HPos::Right, VPos::Center)),
            ))?;
        }
        for &&(name, color, hist) in &present {
            let points = cdf_points(hist, lo);
            let end = points.last().copied();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))?
                .label(name.to_string())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3))
                });
            // The maximum: where the line ends (below 99.99% when the sample is too small to
            // tell the tail apart).
            if let Some(end) = end {
                chart.draw_series(std::iter::once(Circle::new(end, 3, color.filled())))?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(208, 215, 222))
            .label_font(font(LABEL))
            .draw()?;
        root.present()?;
        Ok(())
    })
}

/// Bins of the ratio distribution: 41 log-spaced bins centred on 10^(k/20) from 1/10 to 10, so
/// that one bin is centred on 1 (as fast as the reference); values beyond go to the end bins.
/// Returns (low, high, share %).
fn ratio_bins(hist: &Histogram<u64>) -> Vec<(f64, f64, f64)> {
    const BINS: i32 = 41;
    let half = 10f64.powf(1.0 / 40.0);
    let centre = |i: i32| 10f64.powf(-1.0 + f64::from(i) / 20.0);
    let mut counts = vec![0u64; BINS as usize];
    for v in hist.iter_recorded() {
        let r = (hist.median_equivalent(v.value_iterated_to()) as f64 / 1000.0).max(1e-9);
        let i = ((r.log10() + 1.0) * 20.0).round();
        let i = i.clamp(0.0, f64::from(BINS - 1)) as usize;
        if let Some(c) = counts.get_mut(i) {
            *c += v.count_at_value();
        }
    }
    let total = hist.len().max(1) as f64;
    (0..BINS)
        .zip(counts)
        .map(|(i, c)| (centre(i) / half, centre(i) * half, c as f64 * 100.0 / total))
        .collect()
}

fn ratio_svg(hist: &Histogram<u64>, reference: &str) -> String {
    if hist.is_empty() {
        return "<p class=\"muted\">no request had both latencies</p>".into();
    }
    let bins = ratio_bins(hist);
    let top = bins.iter().map(|b| b.2).fold(0.0, f64::max).max(1.0) * 1.1;
    let reference = reference.to_string();
    svg((1100, 260), |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .margin_right(20)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(
                (0.085f64..11.8)
                    .log_scale()
                    .with_key_points(vec![0.1, 0.2, 0.5, 0.8, 1.0, 1.25, 2.0, 5.0, 10.0]),
                0.0..top,
            )?;
        chart
            .configure_mesh()
            .x_label_formatter(&|v| ratio(*v))
            .y_label_formatter(&|v| format!("{v:.0}%"))
            .x_desc(format!(
                "staging latency / {reference} latency, per request (log scale; ends include beyond)"
            ))
            .y_desc("requests")
            .label_style(font(LABEL))
            .axis_desc_style(font(LABEL))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()?;
        chart.draw_series(bins.iter().map(|&(lo, hi, share)| {
            // Green: faster on staging; orange: slower; grey: the bin around 1 (as fast).
            let color = if hi < 1.0 {
                RGBColor(45, 164, 78)
            } else if lo > 1.0 {
                STAGING_COLOR
            } else {
                PRODUCTION_COLOR
            };
            Rectangle::new([(lo * 1.01, 0.0), (hi / 1.01, share)], color.filled())
        }))?;
        chart.draw_series(LineSeries::new(
            vec![(1.0, 0.0), (1.0, top)],
            BLACK.stroke_width(1),
        ))?;
        root.present()?;
        Ok(())
    })
}

/// Seconds as an axis label: `45s`, `2m`, `1m30s`, `1h5m`.
fn tick_s(v: f64) -> String {
    let t = v.round().max(0.0) as u64;
    match (t / 3600, t % 3600 / 60, t % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s}s"),
        (h, 0, _) => format!("{h}h"),
        (h, m, _) => format!("{h}h{m}m"),
    }
}

/// The side the timeline compares staging with: the baseline when there is one, else production.
fn reference_second(b: &BucketFigures, reference: Reference) -> &SideSecond {
    match (&b.baseline, reference) {
        (Some(base), Reference::Baseline) => base,
        _ => &b.production,
    }
}

/// Runs of consecutive buckets that have a value: one line segment each, so that a bucket with
/// no latency shows as a gap, not as a line drawn across it.
fn segments(points: impl Iterator<Item = (f64, Option<f64>)>) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for (x, y) in points {
        match y {
            Some(y) => {
                if let Some(run) = out.last_mut() {
                    run.push((x, y));
                }
            }
            None => {
                if out.last().is_some_and(|r| !r.is_empty()) {
                    out.push(Vec::new());
                }
            }
        }
    }
    out.retain(|r| !r.is_empty());
    out
}

/// Latency over time: p99 (solid) and p50 (thin) of staging and its reference, one point per
/// bucket at its middle, on a log scale.
fn timeline_latency_svg(t: &TimelineFigures, reference: Reference, ref_color: RGBColor) -> String {
    let w = t.bucket_s as f64;
    let end = t.buckets.len() as f64 * w;
    let values = || {
        t.buckets.iter().flat_map(|b| {
            let r = reference_second(b, reference);
            [b.staging.p50, b.staging.p99, r.p50, r.p99]
        })
    };
    let lo = values().flatten().fold(f64::INFINITY, f64::min);
    let hi = values().flatten().fold(0.0, f64::max);
    if !lo.is_finite() {
        return "<p class=\"muted\">no latencies</p>".into();
    }
    let (lo, hi) = ((lo / 1.3).max(0.001), (hi * 1.3).max(lo * 4.0));
    svg((1180, 300), |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .margin_right(20)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(
                0.0..end.max(w),
                (lo..hi).log_scale().with_key_points(one_two_five(lo, hi)),
            )?;
        chart
            .configure_mesh()
            .x_labels(12)
            .x_label_formatter(&|v| tick_s(*v))
            .y_label_formatter(&|v| tick_ms(*v))
            .x_desc(format!(
                "time since the run's start (intended send time, {} buckets)",
                tick_s(w)
            ))
            .y_desc("latency (log)")
            .label_style(font(LABEL))
            .axis_desc_style(font(LABEL))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(225, 228, 232))
            .draw()?;
        type Pick = fn(&SideSecond) -> Option<f64>;
        let lines: [(RGBColor, u32, Pick, bool); 4] = [
            (ref_color, 2, |s| s.p99, true),
            (ref_color, 1, |s| s.p50, true),
            (STAGING_COLOR, 2, |s| s.p99, false),
            (STAGING_COLOR, 1, |s| s.p50, false),
        ];
        for (color, width, pick, is_reference) in lines {
            let points = t.buckets.iter().map(|b| {
                let side = if is_reference {
                    reference_second(b, reference)
                } else {
                    &b.staging
                };
                (b.t_s as f64 + w / 2.0, pick(side))
            });
            for run in segments(points) {
                if run.len() == 1 {
                    chart.draw_series(run.iter().map(|&p| Circle::new(p, 2, color.filled())))?;
                } else {
                    chart.draw_series(LineSeries::new(run, color.stroke_width(width)))?;
                }
            }
        }
        root.present()?;
        Ok(())
    })
}

/// Throughput over time: requests per second in each bucket; partial buckets are drawn lighter.
fn timeline_requests_svg(t: &TimelineFigures) -> String {
    let w = t.bucket_s as f64;
    let per_s = |n: u64| n as f64 / w;
    let top = t
        .buckets
        .iter()
        .map(|b| per_s(b.staging.requests))
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.12;
    timeline_bars_svg(
        t,
        230,
        top,
        "requests / s",
        |b| vec![(0.0, per_s(b.staging.requests), TIMELINE_REQUESTS_COLOR)],
        None,
    )
}

/// Errors over time: staging's transport errors and 5xx per second, stacked, and the
/// reference's errors + 5xx as a line, on a scale of their own (a 1% error rate would be
/// invisible beside the requests).
fn timeline_errors_svg(t: &TimelineFigures, reference: Reference, ref_color: RGBColor) -> String {
    let w = t.bucket_s as f64;
    let per_s = |n: u64| n as f64 / w;
    let top = t
        .buckets
        .iter()
        .map(|b| {
            let r = reference_second(b, reference);
            per_s(b.staging.errors + b.staging.status_5xx).max(per_s(r.errors + r.status_5xx))
        })
        .fold(0.0, f64::max)
        .max(1.0)
        * 1.15;
    let line: Vec<(f64, f64)> = t
        .buckets
        .iter()
        .map(|b| {
            let r = reference_second(b, reference);
            (b.t_s as f64 + w / 2.0, per_s(r.errors + r.status_5xx))
        })
        .collect();
    timeline_bars_svg(
        t,
        230,
        top,
        "per s",
        |b| {
            let s = &b.staging;
            let e = per_s(s.errors);
            vec![
                (0.0, e, TIMELINE_ERROR_COLOR),
                (e, e + per_s(s.status_5xx), TIMELINE_5XX_COLOR),
            ]
        },
        Some((line, ref_color)),
    )
}

/// One bar chart over the run's buckets: `layers` gives each bucket's stacked (from, to, colour)
/// bars, `line` an optional line drawn over them.
fn timeline_bars_svg(
    t: &TimelineFigures,
    height: u32,
    top: f64,
    y_desc: &str,
    layers: impl Fn(&BucketFigures) -> Vec<(f64, f64, RGBColor)>,
    line: Option<(Vec<(f64, f64)>, RGBColor)>,
) -> String {
    let w = t.bucket_s as f64;
    let end = t.buckets.len() as f64 * w;
    let y_desc = y_desc.to_string();
    svg((1180, height), |root| {
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(8)
            .margin_right(20)
            .x_label_area_size(44)
            .y_label_area_size(70)
            .build_cartesian_2d(0.0..end.max(w), 0.0..top)?;
        chart
            .configure_mesh()
            .x_labels(12)
            .y_labels(5)
            .x_label_formatter(&|v| tick_s(*v))
            .y_label_formatter(&|v| {
                if top < 10.0 {
                    format!("{v:.1}")
                } else {
                    count(v.round() as u64)
                }
            })
            .x_desc("time since the run's start")
            .y_desc(y_desc)
            .label_style(font(LABEL))
            .axis_desc_style(font(LABEL))
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(225, 228, 232))
            .draw()?;
        let gap = (w * 0.08).min(0.2 * w);
        for b in &t.buckets {
            let x0 = b.t_s as f64 + gap / 2.0;
            let x1 = b.t_s as f64 + w - gap / 2.0;
            for (from, to, color) in layers(b) {
                if to <= from {
                    continue;
                }
                let style = if b.partial {
                    color.mix(0.45).filled()
                } else {
                    color.filled()
                };
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, from), (x1, to)],
                    style,
                )))?;
            }
        }
        if let Some((points, color)) = line {
            chart.draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?;
            chart.draw_series(
                points
                    .into_iter()
                    .map(|p| Circle::new(p, 2, color.filled())),
            )?;
        }
        root.present()?;
        Ok(())
    })
}

fn timeline_section(c: &Comparison, out: &mut String) {
    out.push_str("<section id=\"timeline\"><h2>Over time</h2>");
    let Some(t) = &c.timeline else {
        out.push_str(
            "<p class=\"muted\">No result had a send time: nothing to draw over time.</p>\
             </section>",
        );
        return;
    };
    let r = c.reference.as_str();
    let ref_color = match c.reference {
        Reference::Baseline => BASELINE_COLOR,
        Reference::Production => PRODUCTION_COLOR,
    };
    let legend = |out: &mut String, items: &[(&str, String)]| {
        out.push_str("<div class=\"legend muted\">");
        for (name, color) in items {
            let _ = write!(
                out,
                "<span><i style=\"background:{color}\"></i>{name}</span>"
            );
        }
        out.push_str("</div>");
    };
    let _ = write!(
        out,
        "<p class=\"muted\">Each request counted in the {} bucket of its intended send time \
         (the run's start is 0). {r} is {}.</p><h3>Latency, p99 (thick) and p50 (thin)</h3>",
        tick_s(t.bucket_s as f64),
        match c.reference {
            Reference::Baseline => "the baseline target, replayed at the same moments",
            Reference::Production => "the latency and status recorded in production",
        }
    );
    legend(out, &[("staging", hex(STAGING_COLOR)), (r, hex(ref_color))]);
    let _ = write!(
        out,
        "<div class=\"card wide\">{}</div><h3>Requests per second</h3>",
        timeline_latency_svg(t, c.reference, ref_color)
    );
    let _ = write!(
        out,
        "<div class=\"card wide\" id=\"timeline-requests\" data-buckets=\"{}\">{}</div>\
         <h3>Transport errors and 5xx per second</h3>",
        t.buckets.len(),
        timeline_requests_svg(t)
    );
    legend(
        out,
        &[
            ("staging 5xx", hex(TIMELINE_5XX_COLOR)),
            ("staging transport errors", hex(TIMELINE_ERROR_COLOR)),
            (&format!("{r} errors + 5xx"), hex(ref_color)),
        ],
    );
    let _ = write!(
        out,
        "<div class=\"card wide\">{}</div>",
        timeline_errors_svg(t, c.reference, ref_color)
    );
    let partial: Vec<String> = t
        .buckets
        .iter()
        .filter(|b| b.partial)
        .map(|b| {
            format!(
                "{} ({:.3} s of {})",
                tick_s(b.t_s as f64),
                b.covered_s,
                tick_s(t.bucket_s as f64)
            )
        })
        .collect();
    let mut note = format!(
        "{} bucket{} of {}",
        t.buckets.len(),
        if t.buckets.len() == 1 { "" } else { "s" },
        tick_s(t.bucket_s as f64)
    );
    if t.bucket_s > 1 {
        note.push_str(" (a long run: seconds merged so that at most 512 buckets remain)");
    }
    if !partial.is_empty() {
        let _ = write!(
            note,
            "; partial, drawn lighter: {} — the run covers only part of them, so fewer requests \
             there is not a drop",
            partial.join(", ")
        );
    }
    if t.untimed > 0 {
        let _ = write!(note, "; {} results with no send time left out", t.untimed);
    }
    let _ = write!(out, "<p class=\"muted\">{}.</p>", escape(&note));
    timeline_table(t, c.reference, r, out);
    out.push_str("</section>");
}

/// Every bucket's figures as a table, folded away under the charts.
fn timeline_table(t: &TimelineFigures, reference: Reference, r: &str, out: &mut String) {
    let _ = write!(
        out,
        "<details><summary>The figures, bucket by bucket</summary><table class=\"timeline\">\
         <tr><th></th><th></th><th colspan=\"5\" class=\"grp\">staging</th>\
         <th colspan=\"5\" class=\"grp\">{r}</th></tr><tr><th class=\"l\">from</th>\
         <th>covered</th><th>requests</th><th>errors</th><th>5xx</th><th>p50</th><th>p99</th>\
         <th>requests</th><th>errors</th><th>5xx</th><th>p50</th><th>p99</th></tr>"
    );
    let lat = |v: Option<f64>| v.map_or("–".into(), duration_ms);
    for b in &t.buckets {
        let rs = reference_second(b, reference);
        let _ = write!(
            out,
            "<tr class=\"bucket\"><td class=\"l\">{}</td><td>{:.3} s{}</td>",
            tick_s(b.t_s as f64),
            b.covered_s,
            if b.partial { " (partial)" } else { "" }
        );
        for side in [&b.staging, rs] {
            let _ = write!(
                out,
                "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                count(side.requests),
                count(side.errors),
                count(side.status_5xx),
                lat(side.p50),
                lat(side.p99)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table></details>");
}

/// One bar of the status chart: endpoint (on its first side only), side, class counts.
struct StatusRow<'a> {
    endpoint: Option<&'a str>,
    side: &'static str,
    classes: [u64; 6],
}

/// Shares of the classes other than 2xx, e.g. `5xx 4.0% · none 0.5%`.
fn off_2xx(classes: &[u64; 6]) -> String {
    let total: u64 = classes.iter().sum();
    if total == 0 {
        return "no requests".into();
    }
    let parts: Vec<String> = CLASSES
        .iter()
        .zip(classes)
        .filter(|(name, n)| **name != "2xx" && **n > 0)
        .map(|(name, &n)| format!("{name} {}", percent(n as f64 / total as f64)))
        .collect();
    if parts.is_empty() {
        "all 2xx".into()
    } else {
        parts.join(" · ")
    }
}

fn status_svg(rows: &[StatusRow]) -> String {
    const ROW: u32 = 22;
    let groups = rows.iter().filter(|r| r.endpoint.is_some()).count() as u32;
    let height = 34 + ROW * rows.len() as u32 + 8 * groups;
    svg((1100, height), |root| {
        root.fill(&WHITE)?;
        // x: −62..0 labels, 0..100 the bars (%), 100..145 the shares beside them.
        let units = f64::from(height - 34) / f64::from(ROW);
        let mut chart = ChartBuilder::on(&root)
            .margin(6)
            .margin_bottom(22)
            .build_cartesian_2d(-62.0..145.0, 0.0..units)?;
        for tick in [0.0, 25.0, 50.0, 75.0, 100.0] {
            chart.draw_series(LineSeries::new(
                vec![(tick, 0.0), (tick, units)],
                RGBColor(225, 228, 232).stroke_width(1),
            ))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("{tick:.0}%"),
                (tick - 1.5, -0.05),
                font(LABEL).color(&RGBColor(87, 96, 106)),
            )))?;
        }
        let mut y = units;
        for row in rows {
            if row.endpoint.is_some() {
                y -= 8.0 / f64::from(ROW);
            }
            let top = y - 0.12;
            let bottom = y - 0.88;
            if let Some(name) = row.endpoint {
                chart.draw_series(std::iter::once(Text::new(
                    fit_label(name, 34),
                    (-61.0, top),
                    font(HEADING).style(FontStyle::Bold),
                )))?;
            }
            chart.draw_series(std::iter::once(Text::new(
                row.side,
                (-13.0, top),
                font(LABEL).color(&RGBColor(87, 96, 106)),
            )))?;
            let total: u64 = row.classes.iter().sum();
            let mut x = 0.0;
            for (class, &n) in row.classes.iter().enumerate() {
                if total == 0 || n == 0 {
                    continue;
                }
                let w = n as f64 * 100.0 / total as f64;
                let color = CLASS_COLORS.get(class).copied().unwrap_or(BLACK);
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x, bottom), (x + w, top)],
                    color.filled(),
                )))?;
                x += w;
            }
            chart.draw_series(std::iter::once(Text::new(
                off_2xx(&row.classes),
                (101.5, top),
                font(LABEL),
            )))?;
            y -= 1.0;
        }
        root.present()?;
        Ok(())
    })
}

/// `text` cut to `width` characters with `…`.
fn fit_label(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut s: String = text.chars().take(width - 1).collect();
    s.push('…');
    s
}

fn verdict_chip(v: Verdict) -> String {
    let class = match v {
        Verdict::Slower => "slower",
        Verdict::Faster => "faster",
        Verdict::Same => "same",
        Verdict::NotEnoughData => "few",
    };
    format!("<span class=\"chip {class}\">{}</span>", v.as_str())
}

fn gate_chip(g: &GateResult) -> String {
    match (g.verdict, g.failed) {
        (GateVerdict::Pass, _) => "<span class=\"chip pass\">pass</span>".into(),
        (GateVerdict::Fail, _) => "<span class=\"chip fail\">FAIL</span>".into(),
        (GateVerdict::NotEnoughData, true) => {
            "<span class=\"chip fail\">FAIL: not enough data</span>".into()
        }
        (GateVerdict::NotEnoughData, false) => {
            "<span class=\"chip few\">not enough data</span>".into()
        }
    }
}

fn gate_value(g: &GateResult, v: Option<f64>) -> String {
    match v {
        None => "–".into(),
        Some(v) => match g.unit {
            "ms" => duration_ms(v),
            "fraction" => percent(v),
            _ => format!("{v:.3}"),
        },
    }
}

fn latency_cell(side: &SideFigures, p99: bool) -> String {
    side.latency.map_or("–".into(), |l| {
        duration_ms(ms(if p99 { l.p99 } else { l.p50 }))
    })
}

fn banner(c: &Comparison, out: &mut String) {
    let failed: Vec<&GateResult> = c.failed_gates().collect();
    let (class, big, why) = if c.gates.is_empty() {
        (
            "none",
            "NO GATES",
            "no --fail-if gate was given: figures only".to_string(),
        )
    } else if failed.is_empty() {
        let few = c
            .gates
            .iter()
            .filter(|g| g.verdict == GateVerdict::NotEnoughData)
            .count();
        let extra = if few > 0 {
            format!(" ({few} with not enough data)")
        } else {
            String::new()
        };
        (
            "pass",
            "PASSED",
            format!("all {} gates hold{extra}", c.gates.len()),
        )
    } else {
        (
            "fail",
            "FAILED",
            format!("{} of {} gates failed", failed.len(), c.gates.len()),
        )
    };
    let _ = write!(
        out,
        "<header id=\"verdict\" class=\"banner {class}\"><div class=\"big\">{big}</div>\
         <div class=\"why\">{}</div>",
        escape(&why)
    );
    if !failed.is_empty() {
        out.push_str("<ul>");
        for g in &failed {
            let detail = match (g.value, g.threshold) {
                (Some(v), Some(t)) => format!(
                    "{} vs limit {}",
                    gate_value(g, Some(v)),
                    gate_value(g, Some(t))
                ),
                _ => "not enough data (strict)".into(),
            };
            let _ = write!(
                out,
                "<li><code>{}</code> — {}</li>",
                escape(&g.expr),
                escape(&detail)
            );
        }
        out.push_str("</ul>");
    }
    let o = &c.overall;
    let reference = o.reference_side();
    let rname = c.reference.as_str();
    let tile = |out: &mut String, k: &str, v: &str, s: &str| {
        let _ = write!(
            out,
            "<div class=\"tile\"><div class=\"k\">{}</div><div class=\"v\">{}</div>\
             <div class=\"s\">{}</div></div>",
            escape(k),
            escape(v),
            escape(s)
        );
    };
    out.push_str("<div class=\"tiles\">");
    tile(
        out,
        "requests",
        &count(o.staging.requests),
        &format!("{} endpoints · against {rname}", c.endpoints.len()),
    );
    tile(
        out,
        "p50",
        &latency_cell(&o.staging, false),
        &format!("{rname} {}", latency_cell(reference, false)),
    );
    tile(
        out,
        "p99",
        &latency_cell(&o.staging, true),
        &format!("{rname} {}", latency_cell(reference, true)),
    );
    let slower = c
        .endpoints
        .iter()
        .filter(|e| e.shift.verdict == Verdict::Slower)
        .count();
    tile(
        out,
        "latency overall",
        o.shift.verdict.as_str(),
        &match (o.shift.effect_size, o.shift.hl_shift_ms) {
            (Some(e), Some(hl)) => format!(
                "effect {e:.2} · {} · {slower} endpoint{} slower",
                signed_ms(hl),
                if slower == 1 { "" } else { "s" }
            ),
            _ => format!("{slower} endpoints slower"),
        },
    );
    tile(
        out,
        "status mismatch",
        &o.status_mismatch.map_or("–".into(), percent),
        &format!("share differing from {rname}"),
    );
    tile(
        out,
        "errors",
        &o.staging.error_rate.map_or("–".into(), percent),
        &format!("{} transport errors", o.staging.error_total),
    );
    out.push_str("</div></header>");
}

fn signed_ms(v: f64) -> String {
    if v >= 0.0 {
        format!("+{}", duration_ms(v))
    } else {
        duration_ms(v)
    }
}

fn gates_section(c: &Comparison, out: &mut String) {
    out.push_str("<section id=\"gates\"><h2>Gates</h2>");
    if c.gates.is_empty() {
        out.push_str(
            "<p class=\"muted\">No gates were given (<code>--fail-if</code>).</p></section>",
        );
        return;
    }
    out.push_str(
        "<table><tr><th class=\"l\">verdict</th><th class=\"l\">expression</th><th>staging</th>\
         <th>limit</th><th>reference</th><th>values</th><th class=\"l\">note</th></tr>",
    );
    for g in &c.gates {
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\"><code>{}</code></td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td class=\"l\">{}</td></tr>",
            gate_chip(g),
            escape(&g.expr),
            gate_value(g, g.value),
            gate_value(g, g.threshold),
            gate_value(g, g.reference),
            g.samples,
            escape(g.note.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table></section>");
}

fn endpoint_row(ep: &EndpointFigures, out: &mut String) {
    let reference = ep.reference_side();
    let s = &ep.shift;
    let name = if ep.gate_failures > 0 {
        format!(
            "<span class=\"chip fail\">{} gate{}</span> {}",
            ep.gate_failures,
            if ep.gate_failures == 1 { "" } else { "s" },
            escape(&ep.endpoint)
        )
    } else {
        escape(&ep.endpoint)
    };
    let _ = write!(
        out,
        "<tr><td class=\"l\">{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        count(ep.staging.requests),
        latency_cell(reference, false),
        latency_cell(reference, true),
        latency_cell(&ep.staging, false),
        latency_cell(&ep.staging, true),
        ep.reference_agreement()
            .ratio
            .map_or("–".into(), |r| ratio(r.p50)),
        verdict_chip(s.verdict),
        s.effect_size.map_or("–".into(), |e| format!("{e:.2}")),
        s.hl_shift_ms.map_or("–".into(), signed_ms),
        ep.status_mismatch.map_or("–".into(), percent),
        ep.staging.error_rate.map_or("–".into(), percent),
    );
}

fn endpoints_section(c: &Comparison, out: &mut String) {
    let r = c.reference.as_str();
    let _ = write!(
        out,
        "<section id=\"endpoints\"><h2>Endpoints, worst first</h2>\
         <table><tr><th></th><th></th><th colspan=\"2\" class=\"grp\">{r}</th>\
         <th colspan=\"2\" class=\"grp\">staging</th><th></th><th colspan=\"3\" class=\"grp\">\
         latency shift</th><th></th><th></th></tr>\
         <tr><th class=\"l\">endpoint</th><th>requests</th><th>p50</th><th>p99</th>\
         <th>p50</th><th>p99</th><th>ratio</th><th class=\"l\">verdict</th>\
         <th>effect</th><th>HL shift</th><th>status diff</th><th>errors</th></tr>"
    );
    endpoint_row(&c.overall, out);
    for ep in c.endpoints.iter().take(TABLE_ROWS) {
        endpoint_row(ep, out);
    }
    out.push_str("</table>");
    if c.endpoints.len() > TABLE_ROWS {
        let _ = write!(
            out,
            "<p class=\"muted\">… and {} more endpoints (all of them in the JSON output).</p>",
            c.endpoints.len() - TABLE_ROWS
        );
    }
    let _ = write!(
        out,
        "<p class=\"muted\">ratio: median of staging/{r} latency per request. verdict: from \
         the effect size (Mann–Whitney: probability that a staging request is slower than a {r} \
         one, 0.5 = no shift) and the Hodges–Lehmann shift (median of staging − {r} \
         differences); at least {} values per side. status diff: share of requests whose status \
         class differs from {r}'s.</p></section>",
        c.settings.min_samples
    );
}

fn worst(c: &Comparison) -> impl Iterator<Item = &EndpointFigures> {
    c.endpoints.iter().take(WORST)
}

fn latency_section(c: &Comparison, out: &mut String) {
    out.push_str(
        "<section id=\"latency\"><h2>Latency distributions (CDF)</h2><div class=\"legend muted\">",
    );
    let mut legend = vec![("production", PRODUCTION_COLOR)];
    if c.reference == Reference::Baseline {
        legend.push(("baseline", BASELINE_COLOR));
    }
    legend.push(("staging", STAGING_COLOR));
    for (name, color) in &legend {
        let _ = write!(
            out,
            "<span><i style=\"background:{}\"></i>{name}</span>",
            hex(*color)
        );
    }
    out.push_str(
        "<span>read: a staging line to the right of its reference is slower at that share of \
         requests</span></div><div class=\"grid\">",
    );
    for ep in std::iter::once(&c.overall).chain(worst(c)) {
        let Some(hists) = &ep.hists else {
            continue;
        };
        let mut lines = vec![("production", PRODUCTION_COLOR, &hists.production)];
        if let Some(b) = &hists.baseline {
            lines.push(("baseline", BASELINE_COLOR, b));
        }
        lines.push(("staging", STAGING_COLOR, &hists.staging));
        let _ = write!(
            out,
            "<div class=\"card\"><h3 title=\"{t}\">{t} · {}</h3>{}</div>",
            verdict_chip(ep.shift.verdict),
            cdf_svg(&lines),
            t = escape(&ep.endpoint),
        );
    }
    out.push_str("</div></section>");
}

fn ratio_section(c: &Comparison, out: &mut String) {
    let r = c.reference.as_str();
    let summary = c
        .overall
        .reference_agreement()
        .ratio
        .map_or(String::new(), |x| {
            format!(
                "median {}, p90 {}, p99 {}; {} of requests slower on staging",
                ratio(x.p50),
                ratio(x.p90),
                ratio(x.p99),
                percent(x.slower_share)
            )
        });
    let _ = write!(
        out,
        "<section id=\"ratio\"><h2>Per-request latency ratio, staging / {r}</h2>\
         <p class=\"muted\">{}</p><div class=\"card\">{}</div></section>",
        escape(&summary),
        c.overall
            .hists
            .as_ref()
            .map_or_else(String::new, |h| ratio_svg(&h.ratio, r))
    );
}

fn status_section(c: &Comparison, out: &mut String) {
    out.push_str("<section id=\"status\"><h2>Status mix</h2><div class=\"legend muted\">");
    for (name, color) in CLASSES.iter().zip(CLASS_COLORS) {
        let label = if *name == "none" { "no response" } else { name };
        let _ = write!(
            out,
            "<span><i style=\"background:{}\"></i>{label}</span>",
            hex(color)
        );
    }
    out.push_str("</div>");
    let mut rows = Vec::new();
    for ep in std::iter::once(&c.overall).chain(worst(c)) {
        rows.push(StatusRow {
            endpoint: Some(&ep.endpoint),
            side: "production",
            classes: ep.production.status.0,
        });
        if let Some(b) = &ep.baseline {
            rows.push(StatusRow {
                endpoint: None,
                side: "baseline",
                classes: b.status.0,
            });
        }
        rows.push(StatusRow {
            endpoint: None,
            side: "staging",
            classes: ep.staging.status.0,
        });
    }
    let _ = write!(
        out,
        "<div class=\"card\">{}</div></section>",
        status_svg(&rows)
    );
}

fn matrix_table(a: &Agreement, reference: &str, out: &mut String) {
    let _ = write!(
        out,
        "<table class=\"matrix\"><tr><th class=\"l\">{reference} ↓ / staging →</th>"
    );
    for name in CLASSES {
        let _ = write!(out, "<th>{name}</th>");
    }
    out.push_str("</tr>");
    for (i, row) in a.matrix.0.iter().enumerate() {
        if row.iter().all(|&n| n == 0) {
            continue;
        }
        let _ = write!(
            out,
            "<tr><th class=\"l\">{}</th>",
            CLASSES.get(i).unwrap_or(&"")
        );
        for (j, &n) in row.iter().enumerate() {
            let class = match (i == j, n > 0) {
                (true, _) => " class=\"diag\"",
                (false, true) => " class=\"hot\"",
                (false, false) => "",
            };
            let _ = write!(
                out,
                "<td{class}>{}</td>",
                if n > 0 { n.to_string() } else { "·".into() }
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
}

fn codes_table(a: &Agreement, reference: &str, out: &mut String) {
    let _ = write!(
        out,
        "<table><tr><th class=\"l\">{reference} code</th><th class=\"l\">staging code</th>\
         <th>requests</th></tr>"
    );
    let code = |c: Option<u16>| c.map_or("none".into(), |c| c.to_string());
    for c in a.codes.iter().take(12) {
        let style = if c.reference == c.staging {
            ""
        } else {
            " style=\"color:#cf222e;font-weight:600\""
        };
        let _ = write!(
            out,
            "<tr{style}><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
            code(c.reference),
            code(c.staging),
            c.count
        );
    }
    out.push_str("</table>");
}

fn examples_table(examples: &[Example], reference: &str, out: &mut String) {
    let _ = write!(
        out,
        "<table><tr><th class=\"l\">request</th><th>{reference}</th><th>staging</th>\
         <th class=\"l\">staging body (first bytes)</th></tr>"
    );
    for e in examples {
        let status = |s: Option<u16>| s.map_or("none".into(), |s| s.to_string());
        let staging = match e.error {
            Some(err) => format!("{} ({err})", status(e.status)),
            None => status(e.status),
        };
        let body = if e.body.is_empty() {
            "<span class=\"muted\">(empty)</span>".to_string()
        } else {
            escape(&e.body)
        };
        let _ = write!(
            out,
            "<tr><td class=\"wrap\">{} {}</td><td>{}</td><td>{}</td><td class=\"wrap\">{}</td></tr>",
            escape(&e.method),
            escape(&e.target),
            status(e.reference_status),
            escape(&staging),
            body
        );
    }
    out.push_str("</table>");
}

fn confusion_section(c: &Comparison, out: &mut String) {
    let r = c.reference.as_str();
    let o = c.overall.reference_agreement();
    let _ = write!(
        out,
        "<section id=\"confusion\"><h2>Status agreement, request by request</h2>\
         <p class=\"muted\">{} of {} requests got a different status class on staging than on \
         {r} ({}).</p><div class=\"two\"><div><h3>Classes</h3>",
        o.mismatched,
        o.pairs,
        o.mismatch_rate.map_or("–".into(), percent)
    );
    matrix_table(o, r, out);
    out.push_str("</div><div><h3>Exact codes</h3>");
    codes_table(o, r, out);
    out.push_str("</div></div>");
    if !o.examples.is_empty() {
        out.push_str("<h3>Example requests (all endpoints; per endpoint below)</h3>");
        examples_table(&o.examples, r, out);
    }
    let mismatching: Vec<&EndpointFigures> = c
        .endpoints
        .iter()
        .filter(|e| e.reference_agreement().mismatched > 0)
        .take(WORST)
        .collect();
    for ep in mismatching {
        let a = ep.reference_agreement();
        let _ = write!(
            out,
            "<details><summary><b>{}</b> — {} of {} requests mismatched ({})</summary>",
            escape(&ep.endpoint),
            a.mismatched,
            a.pairs,
            a.mismatch_rate.map_or("–".into(), percent)
        );
        examples_table(&a.examples, r, out);
        out.push_str("</details>");
    }
    out.push_str("</section>");
}

fn notes_section(c: &Comparison, out: &mut String) {
    out.push_str("<section id=\"notes\"><h2>Notes</h2>");
    if c.notes.is_empty() {
        out.push_str("<p class=\"muted\">None.</p>");
    } else {
        out.push_str("<ul>");
        for n in &c.notes {
            let _ = write!(out, "<li>{}</li>", escape(n));
        }
        out.push_str("</ul>");
    }
    if let (Some(shift), Some(a)) = (&c.overall.baseline_shift, &c.overall.baseline_vs_production) {
        let _ = write!(
            out,
            "<p>Baseline against production (the environment's own noise): latency {}, effect \
             size {}, status mismatch {}.</p>",
            verdict_chip(shift.verdict),
            shift.effect_size.map_or("–".into(), |e| format!("{e:.2}")),
            a.mismatch_rate.map_or("–".into(), percent)
        );
    }
    out.push_str("</section>");
}

fn parameters_section(c: &Comparison, params: &BTreeMap<String, String>, out: &mut String) {
    out.push_str("<section id=\"parameters\"><h2>Run parameters</h2><table>");
    let s = &c.settings;
    let mut rows: Vec<(String, String)> =
        params.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    rows.push(("reference".into(), c.reference.as_str().into()));
    rows.push(("min samples".into(), s.min_samples.to_string()));
    rows.push((
        "verdict thresholds".into(),
        format!(
            "effect size beyond 0.5 ± {}, shift at least {} and {}% of the reference median",
            s.effect_size_margin,
            duration_ms(s.min_shift_ms),
            s.min_shift_relative * 100.0
        ),
    ));
    rows.push(("strict".into(), s.strict.to_string()));
    for (k, v) in rows {
        let _ = write!(
            out,
            "<tr><th class=\"l\">{}</th><td class=\"wrap\">{}</td></tr>",
            escape(&k),
            escape(&v)
        );
    }
    out.push_str("</table></section>");
}

/// The report as one self-contained HTML document, headed by `title` (the command that made it,
/// e.g. `reel replay shop.reel → http://staging:8080`). `params` are the run's parameters as the
/// caller wants them shown (files, targets, pace, …).
pub fn render(c: &Comparison, title: &str, params: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(256 * 1024);
    let verdict = if c.gates.is_empty() {
        ""
    } else if c.passed {
        ": PASSED"
    } else {
        ": FAILED"
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{t}{verdict}</title><style>{CSS}</style></head><body>\n\
         <header class=\"top\"><h1 id=\"title\">{t}</h1></header>\n",
        t = escape(title),
    );
    banner(c, &mut out);
    gates_section(c, &mut out);
    endpoints_section(c, &mut out);
    timeline_section(c, &mut out);
    latency_section(c, &mut out);
    ratio_section(c, &mut out);
    status_section(c, &mut out);
    confusion_section(c, &mut out);
    notes_section(c, &mut out);
    parameters_section(c, params, &mut out);
    let _ = writeln!(
        out,
        "<footer>reel {} · latencies from HDR histograms (3 significant figures); staging \
         latency from the intended send time</footer></body></html>",
        env!("CARGO_PKG_VERSION")
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::hist::new_histogram;

    #[test]
    fn ratios_of_one_fall_in_the_centre_bin() {
        let mut h = new_histogram::<u64>();
        // Ratios in thousandths: 1.0 three times, 0.5 once, 50 (beyond the axis) once.
        for v in [1000, 1000, 1000, 500, 50_000] {
            h.record(v).unwrap();
        }
        let bins = ratio_bins(&h);
        assert_eq!(bins.len(), 41);
        let shares: Vec<(usize, f64)> = bins
            .iter()
            .enumerate()
            .filter(|(_, b)| b.2 > 0.0)
            .map(|(i, b)| (i, b.2))
            .collect();
        assert_eq!(shares, [(14, 20.0), (20, 60.0), (40, 20.0)]);
        let (lo, hi, _) = bins[20];
        assert!(lo < 1.0 && hi > 1.0);
    }

    #[test]
    fn the_percentile_axis_gives_each_nine_the_same_room() {
        let labels: Vec<String> = [0.0, nines(0.5), 1.0, 2.0, 3.0, 4.0]
            .into_iter()
            .map(nines_label)
            .collect();
        assert_eq!(labels, ["0%", "50%", "90%", "99%", "99.9%", "99.99%"]);
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
        // 100 000 values 1..=100 000 µs: the line reaches 99.99% (the sample tells it apart)
        // and passes p99 at 99 ms; 50 values end at their maximum, at log10(50) nines.
        let mut h = new_histogram::<u64>();
        for v in 1..=100_000 {
            h.record(v).unwrap();
        }
        let points = cdf_points(&h, 0.0);
        assert_eq!(points.last().unwrap().1, 4.0);
        let p99 = points.iter().find(|p| (p.1 - 2.0).abs() < 1e-9).unwrap();
        assert!((p99.0 - 99.0).abs() < 0.1, "{p99:?}");
        assert!(
            points
                .windows(2)
                .all(|w| w[0].0 <= w[1].0 && w[0].1 < w[1].1)
        );
        let mut few = new_histogram::<u64>();
        for v in 1..=50 {
            few.record(v * 1000).unwrap();
        }
        let points = cdf_points(&few, 0.0);
        let (x, y) = *points.last().unwrap();
        assert!((y - 50f64.log10()).abs() < 1e-9 && (x - 50.0).abs() < 0.1);
    }

    #[test]
    fn timeline_helpers() {
        assert_eq!(tick_s(0.0), "0s");
        assert_eq!(tick_s(45.0), "45s");
        assert_eq!(tick_s(120.0), "2m");
        assert_eq!(tick_s(90.0), "1m30s");
        assert_eq!(tick_s(3900.0), "1h5m");
        let runs = segments(
            [
                (0.0, Some(1.0)),
                (1.0, None),
                (2.0, Some(2.0)),
                (3.0, Some(3.0)),
                (4.0, None),
            ]
            .into_iter(),
        );
        assert_eq!(runs, [vec![(0.0, 1.0)], vec![(2.0, 2.0), (3.0, 3.0)]]);
    }

    #[test]
    fn ticks_and_escapes() {
        assert_eq!(one_two_five(0.3, 30.0), [0.5, 1.0, 2.0, 5.0, 10.0, 20.0]);
        assert_eq!(one_two_five(0.05, 5000.0), [0.1, 1.0, 10.0, 100.0, 1000.0]);
        assert_eq!(tick_ms(5.0), "5ms");
        assert_eq!(tick_ms(2.5), "2.5ms");
        assert_eq!(tick_ms(0.5), "500µs");
        assert_eq!(tick_ms(1000.0), "1s");
        assert_eq!(tick_ms(10.0), "10ms");
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
