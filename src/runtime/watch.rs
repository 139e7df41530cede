//! The main thread of a live run: it waits, and prints the stats lines.

use std::time::{Duration, Instant};

use super::local_time;
use super::signals::Stop;

/// Why a live run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// SIGINT or SIGTERM.
    Signal,
    /// `--duration` passed.
    Duration,
    /// The work ended by itself, for the reason given (`--limit`, the capture ended, …).
    Ended(&'static str),
}

impl StopReason {
    /// How logs say it.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::Signal => "a signal",
            StopReason::Duration => "--duration",
            StopReason::Ended(why) => why,
        }
    }
}

/// Waits for a signal, `--duration` (wall time since `started`), or `ended()` to name why the
/// work ended by itself, printing `local time stats: stats()` on stderr every `interval` (never
/// when 0). Looks every 50 ms.
pub fn watch(
    stop: &Stop,
    started: Instant,
    duration: Option<Duration>,
    interval: Duration,
    mut ended: impl FnMut() -> Option<&'static str>,
    mut stats: impl FnMut() -> String,
) -> StopReason {
    let mut next_stats = Instant::now() + interval;
    loop {
        std::thread::sleep(Duration::from_millis(50));
        if stop.is_set() {
            return StopReason::Signal;
        }
        if duration.is_some_and(|d| started.elapsed() >= d) {
            return StopReason::Duration;
        }
        if let Some(why) = ended() {
            return StopReason::Ended(why);
        }
        if !interval.is_zero() && Instant::now() >= next_stats {
            next_stats += interval;
            crate::logline::info(&format!("{} stats: {}", local_time(), stats()));
        }
    }
}
