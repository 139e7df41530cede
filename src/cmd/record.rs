//! `reel record`: extract HTTP exchanges from pcap/pcapng files into a `.reel` log.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::capture::{OfflineSource, linktype};
use crate::cli::{JsonArg, parse_duration, parse_size};
use crate::exchange::{Counters, Meta, Record};
use crate::exit::{Status, usage};
use crate::extract::{Extraction, ExtractionConfig};
use crate::http::ExtractConfig;
use crate::log::WriterConfig;
use crate::tcp::TcpConfig;

/// Arguments of `reel record`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  reel record --read prod.pcap --output prod.reel
  reel record --read a.pcapng --read b.pcap --port 8080 --max-body 64k -o prod.reel --json")]
pub struct Args {
    /// Read packets from a pcap or pcapng file (repeatable: files are merged by time).
    #[arg(long, short = 'r', value_name = "FILE", required = true)]
    pub read: Vec<PathBuf>,

    /// The .reel log to write (written as NAME.part, renamed when complete; mode 0600).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,

    /// Add to an existing log instead of refusing to overwrite it.
    #[arg(long, conflicts_with = "force")]
    pub append: bool,

    /// Replace an existing log.
    #[arg(long)]
    pub force: bool,

    /// Server port (repeatable). Without it, whichever side sends requests is the client.
    #[arg(long = "port", value_name = "N")]
    pub ports: Vec<u16>,

    /// BPF filter applied to the packets read, e.g. 'host 10.0.0.5 and tcp port 80'.
    #[arg(long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Keep at most SIZE bytes of each body (the rest is framed, counted, not stored), e.g. 64k.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body: Option<u64>,

    /// Memory budget for reassembly and framing buffers, all connections together.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "48MiB")]
    pub max_memory: u64,

    /// Memory budget for one connection's buffers.
    #[arg(long, value_name = "SIZE", value_parser = parse_size, default_value = "16MiB")]
    pub max_flow_memory: u64,

    /// Close connections with no packet for this long (capture time), e.g. 2m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "5m")]
    pub idle_timeout: Duration,

    /// Stop after N requests (their responses are still awaited).
    #[arg(long, value_name = "N")]
    pub limit: Option<u64>,

    /// Stop after this much capture time, e.g. 10m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,

    #[command(flatten)]
    #[allow(missing_docs)]
    pub json: JsonArg,
}

/// How long (capture time) to wait for responses to the last requests kept by `--limit`.
const LIMIT_GRACE_NS: u64 = 30_000_000_000;

/// Records per batch sent to the writer thread.
const BATCH: usize = 512;

/// Keeps the first `--limit` requests and the responses to them, drops the rest.
struct Limiter {
    limit: u64,
    kept: HashSet<(u64, u32)>,
    unanswered: u64,
    reached_at_ns: Option<u64>,
}

impl Limiter {
    fn new(limit: u64) -> Limiter {
        Limiter {
            limit,
            kept: HashSet::new(),
            unanswered: 0,
            reached_at_ns: None,
        }
    }

    /// Whether to keep a record.
    fn keep(&mut self, record: &Record) -> bool {
        match record {
            Record::Request(m) => {
                if self.reached_at_ns.is_some() {
                    return false;
                }
                self.kept.insert((m.conn, m.index));
                self.unanswered += 1;
                if self.kept.len() as u64 >= self.limit {
                    self.reached_at_ns = Some(m.first_ts_ns);
                }
                true
            }
            Record::Response(r) => {
                let kept = self.kept.contains(&(r.message.conn, r.message.index));
                if kept {
                    self.unanswered = self.unanswered.saturating_sub(1);
                }
                kept
            }
            Record::Interim(r) => self.kept.contains(&(r.message.conn, r.message.index)),
            Record::Orphan(_) => self.reached_at_ns.is_none(),
            _ => true,
        }
    }

    /// True once the limit is reached and its requests are answered (or waited for long enough).
    fn done(&self, now_ns: u64) -> bool {
        self.reached_at_ns
            .is_some_and(|at| self.unanswered == 0 || now_ns.saturating_sub(at) > LIMIT_GRACE_NS)
    }
}

/// Runs `reel record --read`.
pub fn run(args: Args) -> anyhow::Result<Status> {
    if args.limit == Some(0) {
        return Err(usage("--limit", "must be at least 1"));
    }
    let started = Instant::now();
    let mut source = OfflineSource::open(&args.read, args.filter.as_deref())?;

    let mut writer = crate::cmd::create_output(
        &args.output,
        args.force,
        args.append,
        WriterConfig::default(),
    )?;
    let meta = Meta {
        host: nix::unistd::gethostname()
            .map(|h| h.to_string_lossy().into_owned())
            .unwrap_or_default(),
        sources: args.read.iter().map(|p| p.display().to_string()).collect(),
        filter: args.filter.clone().unwrap_or_default(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        start_ns: now_ns(),
        redaction_key_id: String::new(),
        command: "record".to_string(),
        notes: Vec::new(),
    };
    writer.write(&Record::Meta(meta))?;

    // The writer thread encodes, compresses and writes; a bounded channel keeps memory bounded.
    let (tx, rx) = mpsc::sync_channel::<Vec<Record>>(16);
    let writer_thread = std::thread::Builder::new()
        .name("reel-writer".into())
        .spawn(move || -> Result<_, crate::log::LogError> {
            for batch in rx {
                for record in &batch {
                    writer.write(record)?;
                }
            }
            Ok(writer)
        })
        .context("cannot start the writer thread")?;

    let mut extraction = Extraction::new(ExtractionConfig {
        tcp: TcpConfig {
            idle_timeout_ns: args.idle_timeout.as_nanos() as u64,
            max_flow_bytes: args.max_flow_memory as usize,
            max_total_bytes: args.max_memory as usize,
            ..TcpConfig::default()
        },
        http: ExtractConfig {
            server_ports: args.ports.clone(),
            max_body: args.max_body,
            ..ExtractConfig::default()
        },
        ..ExtractionConfig::default()
    });
    let mut limiter = args.limit.map(Limiter::new);
    let duration_ns = args.duration.map(|d| d.as_nanos() as u64);
    let mut first_ts: Option<u64> = None;
    let mut frames = 0u64;
    let mut bytes = 0u64;
    let mut produced = Vec::with_capacity(BATCH);
    let mut batch = Vec::with_capacity(BATCH);
    let mut writer_gone = false;

    let read = loop {
        let frame = match source.next_frame() {
            Ok(Some(frame)) => frame,
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        };
        let start = *first_ts.get_or_insert(frame.ts_ns);
        if duration_ns.is_some_and(|d| frame.ts_ns.saturating_sub(start) > d) {
            break Ok(());
        }
        frames += 1;
        bytes += frame.data.len() as u64;
        extraction.push(&frame, &mut produced);
        let ts = frame.ts_ns;
        batch.extend(
            produced
                .drain(..)
                .filter(|r| limiter.as_mut().is_none_or(|l| l.keep(r))),
        );
        if batch.len() >= BATCH && tx.send(std::mem::take(&mut batch)).is_err() {
            writer_gone = true;
            break Ok(());
        }
        if limiter.as_ref().is_some_and(|l| l.done(ts)) {
            break Ok(());
        }
    };
    if let Err(e) = read {
        // No partial output is left behind claiming anything: the .part file is removed.
        drop(tx);
        if let Ok(Ok(writer)) = writer_thread.join() {
            let _ = writer.abort();
        }
        return Err(e.into());
    }
    if !writer_gone {
        extraction.finish(&mut produced);
        batch.extend(
            produced
                .drain(..)
                .filter(|r| limiter.as_mut().is_none_or(|l| l.keep(r))),
        );
        let _ = tx.send(batch);
    }
    drop(tx);
    let writer = writer_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the writer thread panicked"))??;

    let mut values = vec![
        ("packets".to_string(), frames),
        ("bytes".to_string(), bytes),
        ("truncated_files".to_string(), source.truncated_files()),
    ];
    values.extend(extraction.counters());
    let summary = Summary::new(&args, &source, &extraction, frames, bytes);
    let stats = writer.finish(Counters {
        end_ns: now_ns(),
        values,
    })?;
    summary.print(&args, &stats, started.elapsed())?;
    Ok(Status::Success)
}

/// The figures of a finished run, for the human summary and `--json`.
struct Summary {
    packets: u64,
    bytes: u64,
    counts: Vec<(&'static str, u64)>,
    linktypes: Vec<String>,
}

impl Summary {
    fn new(
        _args: &Args,
        source: &OfflineSource,
        extraction: &Extraction,
        packets: u64,
        bytes: u64,
    ) -> Summary {
        let http = extraction.http_stats();
        let tcp = extraction.tcp_stats();
        let decode = extraction.decode_stats();
        let counts = vec![
            ("requests", http.requests),
            ("responses", http.responses),
            ("interim", http.interim),
            ("orphans", http.orphans),
            ("unanswered", http.unanswered),
            ("flows", tcp.flows_opened),
            ("gaps", tcp.gaps),
            ("gap_bytes", tcp.gap_bytes()),
            ("non_http_flows", http.non_http_conns),
            ("tls_connections", http.tls_conns),
            ("upgraded_connections", http.upgraded_conns),
            (
                "unsupported_encapsulation",
                decode.unsupported_encapsulation,
            ),
            ("unknown_linktype", decode.unknown_linktype),
            ("not_tcp", decode.not_ip + decode.not_tcp),
            ("malformed", decode.malformed),
            ("memory_give_ups", tcp.given_up_flows),
            (
                "truncated_messages",
                http.truncated_max_body
                    + http.truncated_gap
                    + http.truncated_snaplen
                    + http.truncated_memory
                    + http.truncated_incomplete,
            ),
            ("truncated_files", source.truncated_files()),
        ];
        let mut linktypes: Vec<String> = source
            .file_stats()
            .iter()
            .flat_map(|f| f.linktypes.iter().map(|l| linktype::name(*l)))
            .collect();
        linktypes.sort();
        linktypes.dedup();
        Summary {
            packets,
            bytes,
            counts,
            linktypes,
        }
    }

    fn get(&self, key: &str) -> u64 {
        self.counts
            .iter()
            .find(|(k, _)| *k == key)
            .map_or(0, |(_, v)| *v)
    }

    fn print(
        &self,
        args: &Args,
        stats: &crate::log::WriterStats,
        took: Duration,
    ) -> anyhow::Result<()> {
        let secs = took.as_secs_f64();
        let mut lines = vec![format!(
            "read {} packets ({}) from {} file{} in {:.2} s ({:.0} MB/s)",
            self.packets,
            human_bytes(self.bytes),
            args.read.len(),
            if args.read.len() == 1 { "" } else { "s" },
            secs,
            self.bytes as f64 / 1e6 / secs.max(1e-9),
        )];
        lines.push(format!(
            "{} requests, {} responses, {} interim (1xx), {} orphan responses, {} unanswered",
            self.get("requests"),
            self.get("responses"),
            self.get("interim"),
            self.get("orphans"),
            self.get("unanswered"),
        ));
        lines.push(format!(
            "{} connections, {} gaps ({}), {} truncated messages, {} non-HTTP, {} TLS, {} upgraded",
            self.get("flows"),
            self.get("gaps"),
            human_bytes(self.get("gap_bytes")),
            self.get("truncated_messages"),
            self.get("non_http_flows"),
            self.get("tls_connections"),
            self.get("upgraded_connections"),
        ));
        lines.push(format!(
            "skipped: {} not TCP, {} unsupported encapsulation, {} unknown link type, {} malformed, {} memory give-ups, {} truncated files",
            self.get("not_tcp"),
            self.get("unsupported_encapsulation"),
            self.get("unknown_linktype"),
            self.get("malformed"),
            self.get("memory_give_ups"),
            self.get("truncated_files"),
        ));
        lines.push(format!(
            "wrote {}: {} for {} of messages (ratio {:.3} of messages, {:.3} of the capture)",
            args.output.display(),
            human_bytes(stats.file_bytes),
            human_bytes(stats.message_bytes),
            ratio(stats.file_bytes, stats.message_bytes),
            ratio(stats.file_bytes, self.bytes),
        ));
        for line in &lines {
            eprintln!("{line}");
        }
        let mut json = serde_json::Map::new();
        json.insert("output".into(), args.output.display().to_string().into());
        json.insert("packets".into(), self.packets.into());
        json.insert("bytes".into(), self.bytes.into());
        for (k, v) in &self.counts {
            json.insert((*k).into(), (*v).into());
        }
        json.insert("linktypes".into(), self.linktypes.clone().into());
        json.insert("message_bytes".into(), stats.message_bytes.into());
        json.insert("file_bytes".into(), stats.file_bytes.into());
        json.insert("records".into(), stats.records.into());
        json.insert("duration_s".into(), secs.into());
        args.json.emit(&serde_json::Value::Object(json))
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// Bytes in B, kB, MB, GB (powers of 1000, as `ls -lh --si` and network tools print them).
pub fn human_bytes(n: u64) -> String {
    let n = n as f64;
    if n < 1e3 {
        format!("{n} B")
    } else if n < 1e6 {
        format!("{:.1} kB", n / 1e3)
    } else if n < 1e9 {
        format!("{:.1} MB", n / 1e6)
    } else {
        format!("{:.2} GB", n / 1e9)
    }
}

/// Wall-clock time, ns since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
