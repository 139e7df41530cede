//! `reel inspect`: what a log holds — time span, traffic, connections, endpoints, status mix, how
//! well it compressed, and what was skipped.

use std::collections::HashMap;
use std::io::Write;

use crate::cli::inspect::Args;
use crate::exit::Context;
use serde_json::json;

use crate::compare::endpoint::Templater;
use crate::ends::{Input, reel_file, stdin};
use crate::exchange::{Counters, Meta, Record};
use crate::exit::Status;
use crate::http::framing::RequestHead;
use crate::metrics::human_bytes;

/// Most distinct endpoint templates counted; the rest fold into one line.
const MAX_ENDPOINTS: usize = 10_000;
/// The name of the folded remainder.
const OTHER: &str = "(other endpoints)";

/// Distinct connection ids: a bitmap for the dense ids reel assigns, a set for the rest.
#[derive(Default)]
struct ConnSet {
    dense: Vec<u64>,
    sparse: std::collections::HashSet<u64>,
    count: u64,
}

impl ConnSet {
    const DENSE_LIMIT: u64 = 1 << 32;

    fn insert(&mut self, id: u64) {
        if id < Self::DENSE_LIMIT {
            let (word, bit) = ((id / 64) as usize, id % 64);
            if word >= self.dense.len() {
                self.dense.resize(word + 1, 0);
            }
            if self.dense[word] & (1 << bit) == 0 {
                self.dense[word] |= 1 << bit;
                self.count += 1;
            }
        } else if self.sparse.insert(id) {
            self.count += 1;
        }
    }
}

#[derive(Default)]
struct Totals {
    requests: u64,
    responses: u64,
    interim: u64,
    orphans: u64,
    gaps: u64,
    gap_bytes: u64,
    results: u64,
    truncated: u64,
    conns: ConnSet,
    first_ts: Option<u64>,
    last_ts: Option<u64>,
    endpoints: HashMap<String, u64>,
    statuses: HashMap<u16, u64>,
    unparsable_requests: u64,
}

impl Totals {
    fn span(&mut self, first: u64, last: u64) {
        self.first_ts = Some(self.first_ts.map_or(first, |t| t.min(first)));
        self.last_ts = Some(self.last_ts.map_or(last, |t| t.max(last)));
    }

    fn endpoint(&mut self, name: String) {
        if let Some(n) = self.endpoints.get_mut(&name) {
            *n += 1;
        } else if self.endpoints.len() < MAX_ENDPOINTS {
            self.endpoints.insert(name, 1);
        } else {
            *self.endpoints.entry(OTHER.to_string()).or_default() += 1;
        }
    }
}

/// One file's own figures.
struct FileFacts {
    path: String,
    meta: Option<Meta>,
    closing: Option<Counters>,
    stats: crate::log::ReadStats,
}

/// Runs `reel inspect`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    args.json.check()?;
    let templater = Templater::new(args.endpoint_rules.clone());
    let mut totals = Totals::default();
    let mut files = Vec::new();
    // Each log is read to its end before the next is opened (`-` is stdin; a directory stands
    // for its rotated files).
    let mut logs = Vec::new();
    for input in Input::list(&args.files)? {
        match input {
            Input::Stdin => logs.push(None),
            Input::Path(p) => logs.extend(reel_file::files_of(&p)?.into_iter().map(Some)),
        }
    }
    for log in logs {
        let (path, mut reader) = match log {
            None => (stdin::NAME.to_string(), stdin::open_log()?),
            Some(file) => (file.display().to_string(), reel_file::open(&file)?),
        };
        let mut meta = None;
        let mut closing = None;
        while let Some(record) = reader.next_record()? {
            match record {
                Record::Meta(m) => match &mut meta {
                    // A later meta record (a live run saying something once) adds its notes.
                    Some(first) => {
                        let first: &mut Meta = first;
                        for note in m.notes {
                            if !first.notes.contains(&note) {
                                first.notes.push(note);
                            }
                        }
                    }
                    None => meta = Some(m),
                },
                Record::Closing(c) => closing = Some(c),
                Record::Request(m) => {
                    totals.requests += 1;
                    totals.conns.insert(m.conn);
                    totals.span(m.first_ts_ns, m.last_ts_ns);
                    totals.truncated += u64::from(m.truncation.is_some());
                    match RequestHead::parse(m.head()) {
                        Ok(head) => {
                            totals.endpoint(templater.template(head.method, &head.target_str()))
                        }
                        Err(_) => totals.unparsable_requests += 1,
                    }
                }
                Record::Response(r) => {
                    totals.responses += 1;
                    totals.conns.insert(r.message.conn);
                    totals.span(r.message.first_ts_ns, r.message.last_ts_ns);
                    totals.truncated += u64::from(r.message.truncation.is_some());
                    *totals.statuses.entry(r.status).or_default() += 1;
                }
                Record::Interim(r) => {
                    totals.interim += 1;
                    totals.span(r.message.first_ts_ns, r.message.last_ts_ns);
                }
                Record::Orphan(r) => {
                    totals.orphans += 1;
                    totals.conns.insert(r.message.conn);
                    totals.span(r.message.first_ts_ns, r.message.last_ts_ns);
                }
                Record::Gap(g) => {
                    totals.gaps += 1;
                    totals.gap_bytes += g.len;
                }
                Record::Result(r) => {
                    totals.results += 1;
                    totals.span(r.intended_ns, r.last_byte_ns.max(r.intended_ns));
                    if let Some(s) = r.status {
                        *totals.statuses.entry(s).or_default() += 1;
                    }
                }
            }
        }
        files.push(FileFacts {
            path,
            meta,
            closing,
            stats: reader.stats(),
        });
    }
    let report = Report::new(&args, &totals, &files);
    let mut out = args.json.human();
    report.print(&mut *out, &totals, &files).context("stdout")?;
    args.json.emit(&report.json)?;
    crate::cmd::judge_damage(&damage_of(&files), args.damage)?;
    Ok(Status::Success)
}

/// What every file read skipped, together.
fn damage_of(files: &[FileFacts]) -> crate::log::Damage {
    let mut damage = crate::log::Damage::default();
    for f in files {
        damage += crate::log::Damage::of(&f.path, &f.stats);
    }
    damage
}

struct Report {
    top: Vec<(String, u64)>,
    classes: [u64; 6],
    json: serde_json::Value,
}

impl Report {
    fn new(args: &Args, t: &Totals, files: &[FileFacts]) -> Report {
        let mut top: Vec<(String, u64)> =
            t.endpoints.iter().map(|(k, v)| (k.clone(), *v)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        top.truncate(args.top);
        let mut classes = [0u64; 6];
        for (status, n) in &t.statuses {
            let class = usize::from(*status / 100).min(5);
            classes[class] += n;
        }
        let message_bytes: u64 = files.iter().map(|f| f.stats.message_bytes).sum();
        let file_bytes: u64 = files.iter().map(|f| f.stats.file_bytes).sum();
        let skipped_blocks: u64 = files.iter().map(|f| f.stats.skipped_blocks).sum();
        let skipped_bytes: u64 = files.iter().map(|f| f.stats.skipped_bytes).sum();
        let mut statuses: Vec<(&u16, &u64)> = t.statuses.iter().collect();
        statuses.sort();
        let json = json!({
            "files": files.iter().map(|f| json!({
                "path": f.path,
                "file_bytes": f.stats.file_bytes,
                "message_bytes": f.stats.message_bytes,
                "records": f.stats.records,
                "blocks": f.stats.blocks,
                "skipped_blocks": f.stats.skipped_blocks,
                "skipped_bytes": f.stats.skipped_bytes,
                "complete": f.closing.is_some(),
                "command": f.meta.as_ref().map(|m| m.command.clone()),
                "host": f.meta.as_ref().map(|m| m.host.clone()),
                "tool_version": f.meta.as_ref().map(|m| m.tool_version.clone()),
                "sources": f.meta.as_ref().map(|m| m.sources.clone()),
                "notes": f.meta.as_ref().map(|m| m.notes.clone()),
                "counters": f.closing.as_ref().map(|c| c.values.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<serde_json::Map<String, serde_json::Value>>()),
            })).collect::<Vec<_>>(),
            "requests": t.requests,
            "responses": t.responses,
            "interim": t.interim,
            "orphans": t.orphans,
            "results": t.results,
            "connections": t.conns.count,
            "gaps": t.gaps,
            "gap_bytes": t.gap_bytes,
            "truncated_messages": t.truncated,
            "first_ts_ns": t.first_ts,
            "last_ts_ns": t.last_ts,
            "duration_s": t.first_ts.zip(t.last_ts).map(|(a, b)| (b.saturating_sub(a)) as f64 / 1e9),
            "message_bytes": message_bytes,
            "file_bytes": file_bytes,
            "compression_ratio": if message_bytes == 0 { 0.0 } else { file_bytes as f64 / message_bytes as f64 },
            "skipped_blocks": skipped_blocks,
            "skipped_bytes": skipped_bytes,
            "damaged": damage_of(files).to_json(),
            "status": statuses.iter().map(|(s, n)| (s.to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "status_class": {
                "1xx": classes[1], "2xx": classes[2], "3xx": classes[3], "4xx": classes[4], "5xx": classes[5],
            },
            "top_endpoints": top.iter().map(|(e, n)| json!({"endpoint": e, "requests": n})).collect::<Vec<_>>(),
        });
        Report { top, classes, json }
    }

    fn print(&self, out: &mut dyn Write, t: &Totals, files: &[FileFacts]) -> std::io::Result<()> {
        let j = &self.json;
        for f in files {
            let what = f.meta.as_ref().map_or_else(String::new, |m| {
                format!(
                    " — {} by reel {} on {}",
                    m.command,
                    m.tool_version,
                    if m.host.is_empty() { "?" } else { &m.host }
                )
            });
            let state = if f.closing.is_some() {
                ""
            } else {
                " (no closing record: still being written, or cut short)"
            };
            writeln!(out, "{}{what}{state}", f.path)?;
            if let Some(notes) = f.meta.as_ref().map(|m| &m.notes) {
                for note in notes {
                    writeln!(out, "  note: {note}")?;
                }
            }
        }
        let span = match (t.first_ts, t.last_ts) {
            (Some(a), Some(b)) => format!(
                "{} → {} ({:.1} s)",
                format_ts(a),
                format_ts(b),
                b.saturating_sub(a) as f64 / 1e9
            ),
            _ => "empty".to_string(),
        };
        writeln!(out, "time span    {span}")?;
        writeln!(
            out,
            "exchanges    {} requests, {} responses, {} interim (1xx), {} orphan responses",
            t.requests, t.responses, t.interim, t.orphans
        )?;
        if t.results > 0 {
            writeln!(out, "results      {} replayed requests", t.results)?;
        }
        writeln!(
            out,
            "connections  {}, {} gaps ({}), {} truncated messages",
            t.conns.count,
            t.gaps,
            human_bytes(t.gap_bytes),
            t.truncated
        )?;
        let message_bytes = j["message_bytes"].as_u64().unwrap_or(0);
        let file_bytes = j["file_bytes"].as_u64().unwrap_or(0);
        writeln!(
            out,
            "size         {} on disk for {} of messages (ratio {:.3})",
            human_bytes(file_bytes),
            human_bytes(message_bytes),
            j["compression_ratio"].as_f64().unwrap_or(0.0)
        )?;
        let skipped = j["skipped_blocks"].as_u64().unwrap_or(0);
        if skipped > 0 {
            writeln!(
                out,
                "CORRUPT      {skipped} block{} skipped ({} lost)",
                if skipped == 1 { "" } else { "s" },
                human_bytes(j["skipped_bytes"].as_u64().unwrap_or(0))
            )?;
        }
        let total: u64 = self.classes.iter().sum();
        if total > 0 {
            let mix: Vec<String> = (1..=5)
                .filter(|c| self.classes[*c] > 0)
                .map(|c| {
                    format!(
                        "{c}xx {:.1}%",
                        100.0 * self.classes[c] as f64 / total as f64
                    )
                })
                .collect();
            writeln!(out, "status mix   {}", mix.join("  "))?;
        }
        if !self.top.is_empty() {
            writeln!(out, "top endpoints")?;
            let width = self
                .top
                .iter()
                .map(|(e, _)| e.len())
                .max()
                .unwrap_or(0)
                .min(70);
            for (endpoint, n) in &self.top {
                writeln!(
                    out,
                    "  {endpoint:<width$}  {n:>8}  {:5.1}%",
                    100.0 * *n as f64 / t.requests.max(1) as f64
                )?;
            }
        }
        if t.unparsable_requests > 0 {
            writeln!(
                out,
                "  ({} requests with a head that does not parse)",
                t.unparsable_requests
            )?;
        }
        out.flush()
    }
}

/// A capture timestamp as RFC 3339 UTC with milliseconds.
pub fn format_ts(ns: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(ns);
    humantime::format_rfc3339_millis(t).to_string()
}
