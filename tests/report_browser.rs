//! The HTML report as a reader sees it: `reel demo` (a real replay of the shipped sample against
//! two real staging servers on loopback) writes its report, headless Chromium lays it out, and a
//! small script measures the page after layout: the title, the over-time chart and its bars, and
//! the font size every piece of text is drawn at on screen (SVG text scaled by its chart's
//! display size, not only its `font-size` attribute). A screenshot of the whole page goes to the
//! test's output directory for a person to look at.
//!
//! Chromium missing: skipped with a message, except under `CI=true`, where it is required
//! (`scripts/setup` installs it).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The smallest text a reader should have to read, px.
const MIN_TEXT_PX: f64 = 11.0;

/// Width of the browser window: a laptop screen.
const WINDOW_WIDTH: u32 = 1400;

/// Colour of the request bars in the over-time chart (`TIMELINE_REQUESTS_COLOR` in html.rs).
const REQUEST_BAR_FILL: &str = "#A4C4E6";

/// Measures the laid-out page and appends the figures to it as JSON in `<pre id="measure">`.
/// Injected into a copy of the report for the test only: the report itself has no scripts.
const MEASURE: &str = r#"<script>
window.addEventListener('load', () => {
  const out = { title: document.title, small: [] };
  const h1 = document.querySelector('h1');
  out.h1 = h1 ? h1.textContent : null;
  let svgMin = 1e9, htmlMin = 1e9, svgTexts = 0;
  for (const el of document.querySelectorAll('svg text')) {
    const text = el.textContent.trim();
    if (!text) continue;
    const m = el.getScreenCTM();
    const px = parseFloat(getComputedStyle(el).fontSize) * (m ? Math.hypot(m.a, m.b) : 1);
    svgTexts++;
    svgMin = Math.min(svgMin, px);
    if (px < 11) out.small.push([text, px]);
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!node.textContent.trim() || !el || el.closest('svg') || el.closest('#measure')) continue;
    if (!el.getClientRects().length) continue; // not shown (a closed <details>)
    const px = parseFloat(getComputedStyle(el).fontSize);
    htmlMin = Math.min(htmlMin, px);
    if (px < 11) out.small.push([node.textContent.trim().slice(0, 40), px]);
  }
  out.svg_texts = svgTexts;
  out.svg_min_px = svgMin;
  out.html_min_px = htmlMin;
  const chart = document.querySelector('#timeline-requests');
  if (chart) {
    const svg = chart.querySelector('svg');
    out.data_buckets = Number(chart.dataset.buckets);
    const bars = [...chart.querySelectorAll('rect')].filter(r => r.getAttribute('fill') === '__FILL__');
    out.bars = bars.length;
    out.partial_bars = bars.filter(r => Number(r.getAttribute('opacity')) < 1).length;
    out.chart_scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  }
  out.height = document.documentElement.scrollHeight;
  const pre = document.createElement('pre');
  pre.id = 'measure';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"#;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| common::which(name))
}

/// Runs headless Chromium on `page` with `args`, killed after 90 s; returns its stdout.
fn run_chromium(browser: &Path, profile: &Path, args: &[String], page: &Path) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium {args:?} exited {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium {args:?} did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

/// The measurements the script left in the dumped DOM.
fn measurements(dom: &str) -> Value {
    let start = dom
        .find("<pre id=\"measure\">")
        .unwrap_or_else(|| panic!("no measurements in the DOM: the script did not run"))
        + "<pre id=\"measure\">".len();
    let end = start + dom[start..].find("</pre>").unwrap();
    let text = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_report_reads_well_in_a_browser() {
    let Some(browser) = chromium() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is required under CI=true (scripts/setup installs it)"
        );
        eprintln!("skipped: chromium not found (scripts/setup installs it)");
        return;
    };
    let out =
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(common::unique("report-browser-", 40));
    std::fs::create_dir_all(&out).unwrap();
    let report = out.join("report.html");
    let json_path = out.join("demo.json");

    // A real run: the demo replays the sample against v2 and v1 of its shop and writes the report.
    let run = Command::new(env!("CARGO_BIN_EXE_reel"))
        .args(["demo", "--report"])
        .arg(&report)
        .arg(format!("--json={}", json_path.display()))
        .current_dir(&out)
        .env("TMPDIR", &out)
        .stdout(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    let buckets = json["timeline"]["buckets"].as_array().unwrap();
    let with_requests = buckets
        .iter()
        .filter(|b| b["staging"]["requests"].as_u64().unwrap() > 0)
        .count();
    let partial_with_requests = buckets
        .iter()
        .filter(|b| b["partial"] == true && b["staging"]["requests"].as_u64().unwrap() > 0)
        .count();
    assert!(buckets.len() >= 2, "a demo run spans seconds: {buckets:?}");

    // The page laid out, measured.
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(
        !html.contains("<script"),
        "the report itself has no scripts"
    );
    let measured = out.join("measured.html");
    std::fs::write(
        &measured,
        html.replace(
            "</body>",
            &format!("{}</body>", MEASURE.replace("__FILL__", REQUEST_BAR_FILL)),
        ),
    )
    .unwrap();
    let profile = out.join("chromium-profile");
    let dom = run_chromium(
        &browser,
        &profile,
        &[
            format!("--window-size={WINDOW_WIDTH},1000"),
            "--dump-dom".into(),
        ],
        &measured,
    );
    let m = measurements(&dom);
    eprintln!("measured: {m}");

    // Titled by the command that made it.
    let h1 = m["h1"].as_str().unwrap();
    assert!(
        h1.starts_with("reel demo: reel replay shop.reel → http://127.0.0.1:"),
        "{h1}"
    );
    assert!(h1.contains(" vs baseline http://127.0.0.1:"), "{h1}");
    assert_eq!(
        m["title"],
        format!("{h1}: FAILED"),
        "the demo's v2 fails two gates"
    );

    // The over-time chart: one bar per bucket that had requests, the partial ones drawn lighter.
    assert_eq!(m["data_buckets"].as_u64(), Some(buckets.len() as u64));
    assert_eq!(m["bars"].as_u64(), Some(with_requests as u64));
    assert_eq!(
        m["partial_bars"].as_u64(),
        Some(partial_with_requests as u64)
    );
    assert!(
        m["chart_scale"].as_f64().unwrap() > 0.99,
        "the over-time chart is shown at its natural size: {}",
        m["chart_scale"]
    );

    // Every text on the page, SVG axis labels included, at 11 px or more as drawn.
    assert!(m["svg_texts"].as_u64().unwrap() > 100, "charts have text");
    assert!(
        m["small"].as_array().unwrap().is_empty(),
        "text below {MIN_TEXT_PX} px: {}",
        m["small"]
    );
    assert!(m["svg_min_px"].as_f64().unwrap() >= MIN_TEXT_PX);
    assert!(m["html_min_px"].as_f64().unwrap() >= MIN_TEXT_PX);

    // A screenshot of the whole page, for a person.
    let height = m["height"].as_u64().unwrap().clamp(800, 16_000);
    let png = out.join("report.png");
    run_chromium(
        &browser,
        &profile,
        &[
            format!("--window-size={WINDOW_WIDTH},{height}"),
            format!("--screenshot={}", png.display()),
        ],
        &report,
    );
    let bytes = std::fs::read(&png).unwrap();
    assert!(
        bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 50_000,
        "a real screenshot"
    );
    eprintln!("screenshot: {}", png.display());
    std::fs::remove_dir_all(&profile).ok();
}
