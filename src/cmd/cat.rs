//! `reel cat`: wiring only — the logs named (`-` is stdin) merged by time as a source, a text sink
//! on stdout (JSON lines, raw HTTP or GoReplay's format), pumped from one to the other.

use crate::cli::cat::{Args, Format};
use crate::ends::gor::GorText;
use crate::ends::http_text::HttpText;
use crate::ends::jsonl::JsonlText;
use crate::ends::text::TextSink;
use crate::ends::{Input, Sink, Source, merged, pump, stdout};
use crate::exchange::Counters;
use crate::exit::Status;

/// Runs `reel cat`.
pub fn run(args: Args) -> crate::exit::Result<Status> {
    let mut source = merged::open(&Input::list(&args.files)?)?;
    let out = stdout::stream();
    let mut sink: Box<dyn Sink> = match args.format {
        Format::Jsonl => Box::new(TextSink::new(JsonlText::default(), out, stdout::NAME)),
        Format::Http => Box::new(TextSink::new(HttpText, out, stdout::NAME)),
        Format::Gor => Box::new(TextSink::new(GorText, out, stdout::NAME)),
    };
    pump(&mut source, &mut sink, |_| {})?;
    sink.finish(Counters::default())?;
    crate::cmd::judge_damage(&source.damage(), args.damage)?;
    Ok(Status::Success)
}
