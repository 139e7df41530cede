//! SIGINT and SIGTERM for a live run: the first asks for a clean stop; a second exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::RuntimeError;

/// Set by the first SIGINT or SIGTERM; a run loop looks at it and stops cleanly.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

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
        use signal_hook::consts::{SIGINT, SIGTERM};
        let stop = Stop::new();
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
            .map_err(RuntimeError::Signals)?;
        let flag = stop.0.clone();
        std::thread::Builder::new()
            .name("reel-signals".into())
            .spawn(move || {
                for _ in signals.forever() {
                    if flag.swap(true, Ordering::SeqCst) {
                        crate::logline::error(second);
                        std::process::exit(3);
                    }
                }
            })
            .map_err(RuntimeError::Signals)?;
        Ok(stop)
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
