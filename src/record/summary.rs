//! What a finished recording says about itself: the lines of its human summary and the keys of
//! its `--json` document, made from the figures the run returned. The command prints them.

use std::time::Duration;

use super::RecordOutcome;
use super::live::LiveOutcome;
use super::offline::OfflineOutcome;
use crate::metrics::human_bytes;

/// The summary of a finished recording: its lines (for stderr) and its JSON document.
#[derive(Debug, Clone)]
pub struct Summary {
    /// The human summary, one line each.
    pub lines: Vec<String>,
    /// The `--json` document.
    pub json: serde_json::Map<String, serde_json::Value>,
}

impl Summary {
    /// The summary of `record --read`: `files` capture files read into `output` (as `-o`
    /// named it) in `took`.
    pub fn of_files(
        outcome: &OfflineOutcome,
        files: usize,
        output: &str,
        took: Duration,
    ) -> Summary {
        let r = &outcome.record;
        let secs = took.as_secs_f64();
        let mut lines = vec![format!(
            "read {} packets ({}) from {} file{} in {:.2} s ({:.0} MB/s)",
            r.packets,
            human_bytes(r.bytes),
            files,
            if files == 1 { "" } else { "s" },
            secs,
            r.bytes as f64 / 1e6 / secs.max(1e-9),
        )];
        let mut rest = common_lines(r, output);
        rest.insert(
            2,
            format!(
                "skipped: {} not TCP, {} unsupported encapsulation, {} unknown link type, {} malformed, {} memory give-ups, {} evicted (--max-flows), {} truncated files",
                r.get("not_tcp"),
                r.get("unsupported_encapsulation"),
                r.get("unknown_linktype"),
                r.get("malformed"),
                r.get("memory_give_ups"),
                r.get("evicted_flows"),
                outcome.truncated_files,
            ),
        );
        lines.extend(rest);
        let mut json = common_json(r, output, secs);
        json.insert("truncated_files".into(), outcome.truncated_files.into());
        json.insert("linktypes".into(), outcome.linktypes.clone().into());
        Summary { lines, json }
    }

    /// The summary of `record --interface` into `output` (as `-o` named it), run for `took`.
    pub fn of_live(outcome: &LiveOutcome, output: &str, took: Duration) -> Summary {
        let r = &outcome.record;
        let secs = took.as_secs_f64();
        let mut lines = vec![format!(
            "captured {} packets ({}) on {} in {:.1} s; drops: {} kernel, {} interface, {} queue",
            r.packets,
            human_bytes(r.bytes),
            outcome.interfaces.join(", "),
            secs,
            outcome.kernel_drops,
            outcome.interface_drops,
            outcome.queue_drops,
        )];
        lines.extend(common_lines(r, output));
        lines.insert(
            3,
            format!(
                "memory: peak {} of --max-memory buffered, {} connections given up, {} evicted (--max-flows)",
                human_bytes(r.get("peak_memory_bytes")),
                r.get("memory_give_ups"),
                r.get("evicted_flows"),
            ),
        );
        let mut json = common_json(r, output, secs);
        json.insert("interfaces".into(), outcome.interfaces.clone().into());
        json.insert("extracted_packets".into(), r.extracted_packets.into());
        json.insert("kernel_drops".into(), outcome.kernel_drops.into());
        json.insert("interface_drops".into(), outcome.interface_drops.into());
        json.insert("queue_drops".into(), outcome.queue_drops.into());
        Summary { lines, json }
    }
}

/// The file written when there is one, else the output as named.
fn output_name(r: &RecordOutcome, output: &str) -> String {
    match r.written.files.as_slice() {
        [one] => one.name.clone(),
        _ => output.to_string(),
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Lines both modes print, after the first.
fn common_lines(r: &RecordOutcome, output: &str) -> Vec<String> {
    let mut lines = vec![format!(
        "{} requests, {} responses, {} interim (1xx), {} orphan responses, {} unanswered",
        r.get("requests"),
        r.get("responses"),
        r.get("interim"),
        r.get("orphans"),
        r.get("unanswered"),
    )];
    lines.push(format!(
        "{} connection{}, {} gaps ({}), {} truncated messages, {} non-HTTP, {} TLS, {} upgraded",
        r.get("flows"),
        if r.get("flows") == 1 { "" } else { "s" },
        r.get("gaps"),
        human_bytes(r.get("gap_bytes")),
        r.get("truncated_messages"),
        r.get("non_http_flows"),
        r.get("tls_connections"),
        r.get("upgraded_connections"),
    ));
    if r.selection_active {
        lines.push(format!(
            "selection: {} requests left out by --sample, {} by the filters (and {} responses), {} requests written",
            r.get("sampled_out_requests"),
            r.get("filtered_requests"),
            r.get("filtered_responses"),
            r.get("requests_written"),
        ));
    }
    if r.get("redacted_values") > 0 || r.redacting {
        lines.push(format!(
            "redaction: {} values replaced",
            r.get("redacted_values")
        ));
    }
    let w = &r.written;
    let wrote = match w.files.len() {
        1 => output_name(r, output),
        n => format!("{n} files ({output})"),
    };
    lines.push(format!(
        "wrote {wrote}: {} for {} of messages (ratio {:.3} of messages, {:.3} of the capture)",
        human_bytes(w.file_bytes()),
        human_bytes(w.message_bytes()),
        ratio(w.file_bytes(), w.message_bytes()),
        ratio(w.file_bytes(), r.bytes),
    ));
    if !w.deleted.is_empty() {
        lines.push(format!("retention deleted {} older files", w.deleted.len()));
    }
    for (name, records) in &w.lost {
        lines.push(format!(
            "lost {name}: deleted while being written, with its {records} records"
        ));
    }
    lines
}

/// Keys both modes write.
fn common_json(
    r: &RecordOutcome,
    output: &str,
    secs: f64,
) -> serde_json::Map<String, serde_json::Value> {
    let w = &r.written;
    let mut json = serde_json::Map::new();
    json.insert("output".into(), output_name(r, output).into());
    json.insert(
        "files".into(),
        w.files
            .iter()
            .map(|f| f.name.clone())
            .collect::<Vec<_>>()
            .into(),
    );
    json.insert("packets".into(), r.packets.into());
    json.insert("bytes".into(), r.bytes.into());
    for (k, v) in &r.counts {
        json.insert((*k).into(), (*v).into());
    }
    json.insert("message_bytes".into(), w.message_bytes().into());
    json.insert("file_bytes".into(), w.file_bytes().into());
    json.insert("bytes_written".into(), w.file_bytes().into());
    json.insert("records".into(), w.records().into());
    json.insert(
        "deleted_files".into(),
        w.deleted
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .into(),
    );
    json.insert(
        "lost_files".into(),
        w.lost
            .iter()
            .map(|(name, records)| serde_json::json!({ "file": name, "records": records }))
            .collect::<Vec<_>>()
            .into(),
    );
    json.insert("duration_s".into(), secs.into());
    json
}
