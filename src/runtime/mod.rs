//! The process's environment, for the stages that run for a while: the wall clock exchange
//! timestamps are read from, this host's name and a run's id, SIGINT/SIGTERM, the switch to an
//! unprivileged user, and the main thread's wait of a live run.
//!
//! Nothing here knows a stage: it imports only `exit` (for its error's class) and `metrics`'s
//! formatting is not needed. Each live command (`record --interface`, `shadow`) uses the same
//! pieces in the same order: open what needs root, [`privileges::drop_to`], [`signals::Stop`],
//! then [`watch::watch`] until a stop.

pub mod privileges;
pub mod signals;
pub mod watch;

use std::time::SystemTime;

use crate::exit::{Classify, Status};

/// Wall-clock time, ns since the Unix epoch (0 before 1970): the clock of every timestamp in a log.
pub fn now_ns() -> u64 {
    unix_ns(SystemTime::now())
}

/// `t` in ns since the Unix epoch (0 before 1970).
pub fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// This host's name (empty when it cannot be read), for a log's metadata.
pub fn host_name() -> String {
    nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// An id for one run, shared by every file it rotates through: a hash of the host, the process
/// and the clock, never 0.
pub fn new_run_id() -> u64 {
    let seed = format!("{}/{}/{}", host_name(), std::process::id(), now_ns());
    xxhash_rust::xxh3::xxh3_64(seed.as_bytes()).max(1)
}

/// Local time to the second, for stats lines.
pub fn local_time() -> String {
    chrono::Local::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// What can go wrong setting up a live run's environment.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// `--user` names nobody.
    #[error("--user: no such user: {0}")]
    NoSuchUser(String),
    /// The user database could not be read.
    #[error("--user {user}: cannot look the user up: {source}")]
    Lookup {
        /// The user named.
        user: String,
        /// What the system said.
        source: nix::Error,
    },
    /// A step of the switch failed (not root, no capability).
    #[error(
        "--user {user}: cannot {step}: {source} (switching users needs root; with setcap, run as the user itself)"
    )]
    Switch {
        /// The user named.
        user: String,
        /// What was being done: set groups, set the group, set the user.
        step: &'static str,
        /// What the system said.
        source: nix::Error,
    },
    /// Root could be regained after the switch.
    #[error("--user {0}: root could be regained after switching; refusing to go on")]
    RootRegained(String),
    /// The signal handlers or their thread could not be set up.
    #[error("cannot install signal handlers: {0}")]
    Signals(std::io::Error),
}

impl Classify for RuntimeError {
    fn status(&self) -> Status {
        match self {
            RuntimeError::NoSuchUser(_) => Status::BadInput,
            _ => Status::Runtime,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_agree() {
        let before = now_ns();
        let t = unix_ns(SystemTime::now());
        assert!(t >= before && t - before < 1_000_000_000);
        assert_eq!(unix_ns(SystemTime::UNIX_EPOCH), 0);
        assert_ne!(new_run_id(), 0);
    }
}
