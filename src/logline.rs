//! Log and event lines on stderr, one line per event, in the format `--log-format` chose.
//!
//! - `text` (the default): plain lines. ANSI colour only when the stream is a terminal and
//!   `NO_COLOR` is unset or empty (<https://no-color.org>), so a pipe, a file or a CI log gets no
//!   escape bytes.
//! - `json`: one JSON object per line for log shippers, `{"ts", "level", "message", …}` with `ts`
//!   in RFC 3339 UTC; tracing events add their fields. Every line reel writes to stderr takes
//!   this form then: errors, warnings, stats and progress lines, and the human summary when
//!   `--json` moved it to stderr ([`Lines`]). stdout is never changed.
//!
//! The format is process-wide (set once by the command line, like tracing's subscriber); this
//! module depends on nothing else in the crate, so every stage may use it.

use std::fmt;
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// How log and event lines are written (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Plain lines (colour only on a terminal without `NO_COLOR`).
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

static FORMAT: AtomicU8 = AtomicU8::new(0);

/// Sets the process's log format (the command line does, before anything is logged).
pub fn set_format(format: LogFormat) {
    FORMAT.store(u8::from(format == LogFormat::Json), Ordering::Relaxed);
}

/// The process's log format.
pub fn format() -> LogFormat {
    if FORMAT.load(Ordering::Relaxed) == 1 {
        LogFormat::Json
    } else {
        LogFormat::Text
    }
}

/// True when lines are JSON objects.
pub fn is_json() -> bool {
    format() == LogFormat::Json
}

/// Whether a stream that `is_terminal` gets colour, given `no_color` (the value of `NO_COLOR`,
/// if set): only text lines, only on a terminal, only without a non-empty `NO_COLOR`.
pub fn colour_for(is_terminal: bool, no_color: Option<&str>) -> bool {
    is_terminal && no_color.is_none_or(str::is_empty) && !is_json()
}

/// Whether stderr gets ANSI colour (see [`colour_for`]).
pub fn stderr_colour() -> bool {
    let no_color = std::env::var("NO_COLOR").ok();
    colour_for(std::io::stderr().is_terminal(), no_color.as_deref())
}

/// A line's severity, as tracing's levels name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something failed.
    Error,
    /// Something the user should look at.
    Warn,
    /// What happened (stats, progress, summaries).
    Info,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
        }
    }
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// One JSON log line (without its newline): `ts`, `level`, `message`, then `fields`.
pub fn json_line(level: &str, message: &str, fields: Map<String, Value>) -> String {
    let mut object = Map::new();
    object.insert("ts".into(), now().into());
    object.insert("level".into(), level.into());
    object.insert("message".into(), message.into());
    for (k, v) in fields {
        object.entry(k).or_insert(v);
    }
    Value::Object(object).to_string()
}

/// The line as the format writes it (without its newline).
pub fn render(level: Level, text: &str) -> String {
    if is_json() {
        json_line(level.as_str(), text, Map::new())
    } else {
        text.to_string()
    }
}

/// Writes one event line to stderr (errors writing stderr are ignored: there is nowhere left to
/// say them).
pub fn line(level: Level, text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{}", render(level, text));
}

/// An info line on stderr: stats, progress, summaries.
pub fn info(text: &str) {
    line(Level::Info, text);
}

/// A warning line on stderr (the text says `warning: …` itself).
pub fn warn(text: &str) {
    line(Level::Warn, text);
}

/// An error line on stderr.
pub fn error(text: &str) {
    line(Level::Error, text);
}

/// A writer for human text bound for stderr: as is with text lines; with JSON lines, each
/// complete line becomes one info object (a last line without a newline on flush or drop).
pub struct Lines<W: Write> {
    inner: W,
    pending: Vec<u8>,
}

impl<W: Write> Lines<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Lines<W> {
        Lines {
            inner,
            pending: Vec::new(),
        }
    }

    fn emit(&mut self, line: &[u8]) -> std::io::Result<()> {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        writeln!(self.inner, "{}", json_line("info", text, Map::new()))
    }
}

impl<W: Write> Write for Lines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !is_json() {
            self.inner.write_all(buf)?;
            return Ok(buf.len());
        }
        self.pending.extend_from_slice(buf);
        while let Some(at) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=at).collect();
            self.emit(&line[..line.len() - 1])?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line)?;
        }
        self.inner.flush()
    }
}

impl<W: Write> Drop for Lines<W> {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

/// tracing's events as JSON lines: `{"ts", "level", "message", <fields>}`.
pub struct JsonEvents;

/// Collects an event's fields.
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}").into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
}

impl<S, N> FormatEvent<S, N> for JsonEvents
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields(Map::new());
        event.record(&mut fields);
        let message = match fields.0.remove("message") {
            Some(Value::String(s)) => s,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let level = event.metadata().level().as_str().to_ascii_lowercase();
        writeln!(writer, "{}", json_line(&level, &message, fields.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_for(true, None));
        assert!(colour_for(true, Some("")));
        assert!(!colour_for(true, Some("1")));
        assert!(!colour_for(false, None));
    }

    #[test]
    fn json_lines_carry_time_level_message_and_fields() {
        let mut fields = Map::new();
        fields.insert("blocks".into(), 3.into());
        fields.insert("level".into(), "not this".into());
        let line: Value = serde_json::from_str(&json_line("warn", "a \"quoted\"\nline", fields))
            .unwrap_or_default();
        assert_eq!(line["level"], "warn");
        assert_eq!(line["message"], "a \"quoted\"\nline");
        assert_eq!(line["blocks"], 3);
        assert!(line["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}
