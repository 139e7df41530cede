//! SIGINT and SIGTERM for a live run: the first asks for a clean stop; a second exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::RuntimeError;

/// Set by the first SIGINT or SIGTERM; a run loop looks at it and stops cleanly.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>, Arc<AtomicI32>);

impl Stop {
    /// A flag no signal sets (for runs stopped by other means, and tests).
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Installs the handlers: the first signal sets the flag; a second prints `second` on
    /// stderr and exits at once with status 3 (what is open stays as after a crash: a `.part`
    /// file is readable). The signals are counted on one thread of their own, in the order they
    /// came, so two that arrive together still count as two.
    pub fn on_signals(second: &'static str) -> Result<Stop, RuntimeError> {
        Stop::install(None, second, |_| 3)
    }

    /// Installs the handlers of a run that a signal interrupts (a replay): the first signal
    /// prints `first` (`{signal}` replaced by its name) and sets the flag; a second prints
    /// `second` and exits at once with 128 + the signal's number (130 for SIGINT, 143 for SIGTERM).
    pub fn on_interrupt(first: &'static str, second: &'static str) -> Result<Stop, RuntimeError> {
        Stop::install(Some(first), second, |signal| 128 + signal)
    }

    fn install(
        first: Option<&'static str>,
        second: &'static str,
        exit_code: fn(i32) -> i32,
    ) -> Result<Stop, RuntimeError> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let stop = Stop::new();
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(RuntimeError::Signals)?;
        let flag = stop.0.clone();
        let which = stop.1.clone();
        std::thread::Builder::new()
            .name("reel-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    // The first signal's number is kept before the flag is seen by anyone.
                    let _ = which.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst);
                    if flag.swap(true, Ordering::SeqCst) {
                        crate::logline::error(second);
                        std::process::exit(exit_code(signal));
                    }
                    if let Some(first) = first {
                        crate::logline::info(&first.replace("{signal}", signal_name(signal)));
                    }
                }
            })
            .map_err(RuntimeError::Signals)?;
        Ok(stop)
    }

    /// The first signal received, if one was.
    pub fn signal(&self) -> Option<i32> {
        match self.1.load(Ordering::SeqCst) {
            0 => None,
            n => Some(n),
        }
    }

    /// The flag as an `Arc`, for threads that outlive the borrow.
    pub fn shared(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }

    /// True once a stop was asked for.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    /// Asks for a stop (what a signal does).
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// The flag itself, for loops that take an `AtomicBool`.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}

/// `SIGINT`, `SIGTERM`, or `a signal` for others.
pub fn signal_name(signal: i32) -> &'static str {
    match signal {
        signal_hook::consts::SIGINT => "SIGINT",
        signal_hook::consts::SIGTERM => "SIGTERM",
        _ => "a signal",
    }
}
