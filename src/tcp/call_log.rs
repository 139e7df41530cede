//! A [`StreamHandler`] that logs every call it gets, to test reassembly (and the stages that
//! drive it) against exact expectations.

use super::{CloseReason, ConnInfo, Dir, GapCause, Interest, StreamHandler};

/// One call the reassembler made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `open`.
    Open(ConnInfo),
    /// `data`, with a copy of the bytes.
    Data {
        /// Connection id.
        conn: u64,
        /// Direction.
        dir: Dir,
        /// Capture time given.
        ts_ns: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// `gap`.
    Gap {
        /// Connection id.
        conn: u64,
        /// Direction.
        dir: Dir,
        /// Capture time given.
        ts_ns: u64,
        /// Bytes missing.
        len: u64,
        /// Why.
        cause: GapCause,
    },
    /// `fin`.
    Fin {
        /// Connection id.
        conn: u64,
        /// Direction.
        dir: Dir,
    },
    /// `close`.
    Close {
        /// Connection id.
        conn: u64,
        /// Capture time given.
        ts_ns: u64,
        /// Why.
        reason: CloseReason,
    },
}

/// What the call log keeps per connection.
#[derive(Debug, Clone, Default)]
pub struct CallLogConn {
    /// Connection id.
    pub id: u64,
    /// Bytes delivered so far (both directions).
    pub delivered: u64,
    /// Bytes the call log claims to buffer (see [`CallLog::hold_bytes`]).
    pub held: usize,
}

/// Records every call; can pretend to buffer what it receives, and can ask to skip connections.
#[derive(Debug, Clone, Default)]
pub struct CallLog {
    /// Every call, in order.
    pub events: Vec<Event>,
    /// When true, every delivered byte counts as buffered by this stage (to test the budget).
    pub hold_bytes: bool,
    /// Answer [`Interest::Skip`] once a connection has been given this many bytes.
    pub skip_after: Option<u64>,
}

impl CallLog {
    /// A call log that only logs.
    pub fn new() -> Self {
        CallLog::default()
    }

    /// The bytes delivered on one direction of a connection, concatenated.
    pub fn stream(&self, conn: u64, dir: Dir) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.events {
            if let Event::Data {
                conn: c,
                dir: d,
                bytes,
                ..
            } = e
            {
                if *c == conn && *d == dir {
                    out.extend_from_slice(bytes);
                }
            }
        }
        out
    }

    /// The gaps reported on one direction of a connection, as `(len, cause)`.
    pub fn gaps(&self, conn: u64, dir: Dir) -> Vec<(u64, GapCause)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Gap {
                    conn: c,
                    dir: d,
                    len,
                    cause,
                    ..
                } if *c == conn && *d == dir => Some((*len, *cause)),
                _ => None,
            })
            .collect()
    }

    /// The connections opened, in order.
    pub fn opened(&self) -> Vec<ConnInfo> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Open(info) => Some(info.clone()),
                _ => None,
            })
            .collect()
    }

    /// The connections closed, as `(id, reason)`, in order.
    pub fn closed(&self) -> Vec<(u64, CloseReason)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Close { conn, reason, .. } => Some((*conn, *reason)),
                _ => None,
            })
            .collect()
    }

    /// The FINs handed on, as `(id, dir)`, in order.
    pub fn fins(&self) -> Vec<(u64, Dir)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::Fin { conn, dir } => Some((*conn, *dir)),
                _ => None,
            })
            .collect()
    }

    fn after_bytes(&self, conn: &mut CallLogConn, n: usize) -> Interest {
        conn.delivered += n as u64;
        if self.hold_bytes {
            conn.held += n;
        }
        match self.skip_after {
            Some(limit) if conn.delivered >= limit => Interest::Skip,
            _ => Interest::Continue,
        }
    }
}

impl StreamHandler for CallLog {
    type Conn = CallLogConn;

    fn open(&mut self, info: &ConnInfo) -> CallLogConn {
        self.events.push(Event::Open(info.clone()));
        CallLogConn {
            id: info.id,
            ..CallLogConn::default()
        }
    }

    fn data(
        &mut self,
        conn: &mut CallLogConn,
        info: &ConnInfo,
        dir: Dir,
        ts_ns: u64,
        bytes: &[u8],
    ) -> Interest {
        self.events.push(Event::Data {
            conn: info.id,
            dir,
            ts_ns,
            bytes: bytes.to_vec(),
        });
        self.after_bytes(conn, bytes.len())
    }

    fn gap(
        &mut self,
        _conn: &mut CallLogConn,
        info: &ConnInfo,
        dir: Dir,
        ts_ns: u64,
        len: u64,
        cause: GapCause,
    ) -> Interest {
        self.events.push(Event::Gap {
            conn: info.id,
            dir,
            ts_ns,
            len,
            cause,
        });
        Interest::Continue
    }

    fn fin(&mut self, _conn: &mut CallLogConn, info: &ConnInfo, dir: Dir, _ts_ns: u64) {
        self.events.push(Event::Fin { conn: info.id, dir });
    }

    fn close(&mut self, _conn: CallLogConn, info: &ConnInfo, ts_ns: u64, reason: CloseReason) {
        self.events.push(Event::Close {
            conn: info.id,
            ts_ns,
            reason,
        });
    }

    fn buffered(conn: &CallLogConn) -> usize {
        conn.held
    }
}
