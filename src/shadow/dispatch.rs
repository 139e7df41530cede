//! From captured requests to staging connections, on the extraction thread, never waiting.
//!
//! Each request the capture keeps is prepared as replay prepares a logged one (target, rewrites,
//! skips; [`crate::replay::plan::prepare`]) and becomes `--multiply` shadow requests (and as many
//! for a `--baseline-target`), intended now — the moment it was framed. Each goes to the staging
//! connection that mirrors its production connection (one per production connection, copy and
//! target set; keep-alive, in recorded order, pipelined where production was), a task of replay's
//! client ([`run_connection`]) with its own queue.
//!
//! Nothing here waits. A shadow request is dropped, and counted by [`DropReason`], when
//! - the requests queued or awaiting staging's answer, all connections together, reach
//!   `--max-pending` or `--pending-memory` bytes (`queue_full`);
//! - its connection already holds `--max-inflight` (`connection_busy`);
//! - it needs a new connection, `--max-connections` are open and none of them is idle
//!   (`max_connections`).
//!
//! A request that reached its connection and could not be sent because the connection could not
//! be opened is counted `connect` by the sink (it is a result with the connect error too, so that
//! gates see an unreachable staging); one still queued when the run's grace ends, `stopped`.
//!
//! Every shadow request handed to a connection carries a [`Hold`] that is released when the
//! request is done with (answered, failed, or dropped with its connection's queue): that is how
//! what is queued and in flight is counted, per connection and in total, without a lock.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio::time::Instant;

use crate::ends::{EndError, Sink, Written};
use crate::exchange::{Counters, Message, Record, Response};
use crate::metrics::{Kind, Metric, Registry};
use crate::replay::client::{ConnCtx, JobSource, run_connection};
use crate::replay::plan::{PlanConfig, Planned, Skipped, prepare};
use crate::replay::schedule::Job;

use super::sink::ProdAnswer;

/// A staging connection with nothing queued or in flight for this long is closed.
pub const IDLE_CLOSE: Duration = Duration::from_secs(30);
/// Requests remembered while their production response is awaited (for pipelining and for how
/// many shadow requests answer to it); beyond it the memory is cleared (the sink then joins by
/// its window alone).
const MAX_AWAITING: usize = 1 << 16;

/// How many shadow requests, and how much of staging, a run may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `--multiply`: each captured request is sent this many times (each copy on its own
    /// connection).
    pub multiply: u32,
    /// `--max-pending`: shadow requests queued or awaiting an answer, all connections together.
    pub max_pending: usize,
    /// `--pending-memory`: bytes of those requests.
    pub pending_memory: usize,
    /// `--max-inflight`: shadow requests queued or awaiting an answer on one connection.
    pub max_inflight: usize,
    /// `--max-connections`: staging connections open at once.
    pub max_connections: usize,
}

/// Why a shadow request was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// `--max-pending` or `--pending-memory` reached.
    QueueFull,
    /// Its connection held `--max-inflight` already.
    ConnectionBusy,
    /// It needed a new connection and `--max-connections` busy ones were open.
    MaxConnections,
    /// Its connection could not be opened (refused, timed out, TLS failed).
    Connect,
    /// Still queued when the run ended and its grace (`--timeout`) ran out.
    Stopped,
}

impl DropReason {
    /// Every reason, in the order figures list them.
    pub const ALL: [DropReason; 5] = [
        DropReason::QueueFull,
        DropReason::ConnectionBusy,
        DropReason::MaxConnections,
        DropReason::Connect,
        DropReason::Stopped,
    ];

    /// Stable lower-case name (JSON keys, metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::QueueFull => "queue_full",
            DropReason::ConnectionBusy => "connection_busy",
            DropReason::MaxConnections => "max_connections",
            DropReason::Connect => "connect",
            DropReason::Stopped => "stopped",
        }
    }
}

/// The figures of shadowing, shared with the sink, the stats lines and `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Figures {
    /// Requests the capture kept (after `--sample` and the filters) and handed to shadowing.
    pub requests: Metric,
    /// Of those, requests not shadowed: body truncated, head unparsable, no target for the Host.
    pub skipped: Metric,
    /// Shadow requests wanted: each request shadowed × `--multiply` × target sets.
    pub wanted: Metric,
    /// Shadow requests handed to a staging connection.
    pub dispatched: Metric,
    /// Shadow requests dropped, by [`DropReason`] (in the order of [`DropReason::ALL`]).
    pub dropped: [Metric; 5],
    /// Shadow requests queued or awaiting staging's answer now.
    pub pending: Metric,
    /// Bytes of those requests.
    pub pending_bytes: Metric,
    /// Staging connections open now (each a task; it connects when its first request comes).
    pub connections_open: Metric,
    /// Production responses the sink could not take (its queue was full).
    pub production_lost: Metric,
}

impl Figures {
    /// The figures, registered as `reel_shadow_*`.
    pub fn registered(r: &Registry) -> Figures {
        let dropped = DropReason::ALL.map(|reason| {
            r.series(
                "reel_shadow_dropped_total",
                "Shadow requests not sent, by reason.",
                Kind::Counter,
                &[("reason", reason.as_str())],
            )
        });
        Figures {
            requests: r.counter(
                "reel_shadow_requests_total",
                "Requests captured and selected for shadowing.",
            ),
            skipped: r.counter(
                "reel_shadow_skipped_total",
                "Selected requests not shadowed: truncated body, unparsable head, no target.",
            ),
            wanted: r.counter(
                "reel_shadow_wanted_total",
                "Shadow requests wanted: requests shadowed x --multiply x target sets.",
            ),
            dispatched: r.counter(
                "reel_shadow_dispatched_total",
                "Shadow requests handed to a staging connection.",
            ),
            dropped,
            pending: r.gauge(
                "reel_shadow_pending",
                "Shadow requests queued or awaiting staging's answer.",
            ),
            pending_bytes: r.gauge(
                "reel_shadow_pending_bytes",
                "Bytes of the shadow requests queued or awaiting an answer.",
            ),
            connections_open: r.gauge(
                "reel_shadow_connections_open",
                "Staging connections open (or about to open).",
            ),
            production_lost: r.counter(
                "reel_shadow_production_lost_total",
                "Production responses the sink could not take (compared without production).",
            ),
        }
    }

    /// The counter of one drop reason.
    pub fn dropped(&self, reason: DropReason) -> &Metric {
        let i = DropReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        &self.dropped[i]
    }

    /// Shadow requests dropped, all reasons.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().map(Metric::get).sum()
    }
}

/// Shadow requests queued or in flight, all connections together.
#[derive(Debug, Default)]
pub struct Pending {
    count: AtomicUsize,
    bytes: AtomicUsize,
}

impl Pending {
    /// Shadow requests held now.
    pub fn count(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Their bytes.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }
}

/// Counts one shadow request as held by its connection and in total until dropped.
#[derive(Debug)]
pub struct Hold {
    conn: Arc<AtomicUsize>,
    pending: Arc<Pending>,
    bytes: usize,
}

impl Hold {
    fn new(conn: Arc<AtomicUsize>, pending: Arc<Pending>, bytes: usize) -> Hold {
        conn.fetch_add(1, Ordering::Relaxed);
        pending.count.fetch_add(1, Ordering::Relaxed);
        pending.bytes.fetch_add(bytes, Ordering::Relaxed);
        Hold {
            conn,
            pending,
            bytes,
        }
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.conn.fetch_sub(1, Ordering::Relaxed);
        self.pending.count.fetch_sub(1, Ordering::Relaxed);
        self.pending.bytes.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// A staging connection: its task's queue, what it holds, when it was last given a request.
struct Conn {
    tx: mpsc::Sender<Job>,
    held: Arc<AtomicUsize>,
    used: Instant,
}

impl Conn {
    fn idle(&self) -> bool {
        self.held.load(Ordering::Relaxed) == 0
    }
}

/// Production connection id, copy (`--multiply`), target set (0 candidate, 1 baseline).
type ConnKey = (u64, u32, u8);

/// The dispatcher is the sink of shadow's capture: requests and production's responses go to
/// staging and the joiner; it never waits (what it cannot take is dropped and counted), as a
/// sink fed by a live capture must. Its clock ([`Sink::tick`]) sweeps idle connections.
impl Sink for Dispatcher {
    fn name(&self) -> &str {
        "shadow"
    }

    fn write(&mut self, record: Record) -> Result<(), EndError> {
        match record {
            Record::Request(m) => self.request(m),
            Record::Response(r) => self.response(&r),
            _ => {}
        }
        Ok(())
    }

    fn tick(&mut self, _now: std::time::SystemTime) -> Result<(), EndError> {
        self.sweep();
        Ok(())
    }

    /// Closes the dispatcher (see [`Dispatcher::close`]); nothing is written.
    fn finish(&mut self, _counters: Counters) -> Result<Written, EndError> {
        self.close();
        Ok(Written::default())
    }
}

/// Hands captured requests to staging connections; lives on the extraction thread.
pub struct Dispatcher {
    plan: PlanConfig,
    limits: Limits,
    handle: Handle,
    /// `None` once closed.
    ctx: Option<Arc<ConnCtx>>,
    conns: HashMap<ConnKey, Conn>,
    pending: Arc<Pending>,
    /// `(conn, index)` of requests whose production response has not come yet → how many
    /// shadow requests were handed to connections for it.
    awaiting: HashMap<(u64, u32), u32>,
    /// Production responses to the sink; `None` once closed.
    events: Option<SyncSender<ProdAnswer>>,
    figures: Figures,
    skipped: Skipped,
    since_sweep: u32,
    swept_at: std::time::Instant,
}

impl Dispatcher {
    /// A dispatcher spawning connection tasks on `handle` with `ctx` (targets, timeouts, where
    /// results go); production responses go to `events`. `plan` gives targets and rewrites (its
    /// filter should be empty: the capture selected already).
    pub fn new(
        plan: PlanConfig,
        limits: Limits,
        handle: Handle,
        ctx: Arc<ConnCtx>,
        events: SyncSender<ProdAnswer>,
        figures: Figures,
    ) -> Dispatcher {
        Dispatcher {
            plan,
            limits,
            handle,
            ctx: Some(ctx),
            conns: HashMap::new(),
            pending: Arc::new(Pending::default()),
            awaiting: HashMap::new(),
            events: Some(events),
            figures,
            skipped: Skipped::default(),
            since_sweep: 0,
            swept_at: std::time::Instant::now(),
        }
    }

    /// What is queued and in flight, all connections together.
    pub fn pending(&self) -> Arc<Pending> {
        self.pending.clone()
    }

    /// Requests not shadowed, by reason.
    pub fn skipped(&self) -> &Skipped {
        &self.skipped
    }

    /// A request as captured (selected, redacted): its shadow requests are handed over now.
    pub fn request(&mut self, m: Message) {
        let Some(ctx) = self.ctx.clone() else {
            return;
        };
        self.figures.requests.inc();
        let intended = Instant::now();
        let key = (m.conn, m.index);
        // Sent before the response to the previous one was complete: production pipelined it.
        let pipelined = m
            .index
            .checked_sub(1)
            .is_some_and(|i| self.awaiting.contains_key(&(m.conn, i)));
        let Some(mut planned) = prepare(&self.plan, m, &mut self.skipped) else {
            self.figures.skipped.inc();
            self.remember(key, 0);
            return;
        };
        planned.pipelined = pipelined;
        let baseline = self.plan.targets.baseline;
        let mut dispatched = 0u32;
        let mut planned = Some(planned);
        for copy in 0..self.limits.multiply {
            // The last copy takes the request itself.
            let next = if copy + 1 == self.limits.multiply {
                planned.take()
            } else {
                planned.clone()
            };
            let Some(mut p) = next else {
                break;
            };
            p.iteration = copy;
            let twin = baseline.map(|b| p.baseline_twin(b));
            p.baseline_bytes = None;
            dispatched += u32::from(self.dispatch(&ctx, p, intended));
            if let Some(t) = twin {
                dispatched += u32::from(self.dispatch(&ctx, t, intended));
            }
        }
        self.remember(key, dispatched);
        self.since_sweep += 1;
        if self.since_sweep >= 1024 {
            self.sweep();
        }
    }

    /// A production response: passed on to the sink with how many shadow requests answer to it.
    pub fn response(&mut self, r: &Response) {
        let key = (r.message.conn, r.message.index);
        let expected = self.awaiting.remove(&key);
        let Some(events) = &self.events else {
            return;
        };
        let answer = ProdAnswer {
            conn: key.0,
            index: key.1,
            status: r.status,
            latency_ns: r.latency_ns,
            expected,
        };
        if events.try_send(answer).is_err() {
            self.figures.production_lost.inc();
        }
    }

    /// Closes staging connections idle for [`IDLE_CLOSE`] and publishes the gauges (at most once
    /// a second; called when extraction is idle and every 1024 requests).
    pub fn sweep(&mut self) {
        self.since_sweep = 0;
        if self.swept_at.elapsed() < Duration::from_secs(1) {
            return;
        }
        self.swept_at = std::time::Instant::now();
        let now = Instant::now();
        self.conns
            .retain(|_, c| !(c.idle() && now.saturating_duration_since(c.used) >= IDLE_CLOSE));
        self.publish();
    }

    /// Sets the gauges.
    pub fn publish(&self) {
        self.figures.connections_open.set(self.conns.len() as u64);
        self.figures.pending.set(self.pending.count() as u64);
        self.figures.pending_bytes.set(self.pending.bytes() as u64);
    }

    /// No more requests: every connection finishes what it holds, then closes; the sink is told
    /// nothing more comes from the capture.
    pub fn close(&mut self) {
        self.conns.clear();
        self.ctx = None;
        self.events = None;
        self.publish();
    }

    fn remember(&mut self, key: (u64, u32), dispatched: u32) {
        if self.awaiting.len() >= MAX_AWAITING {
            self.awaiting.clear();
        }
        self.awaiting.insert(key, dispatched);
    }

    fn drop_one(&self, reason: DropReason) -> bool {
        self.figures.dropped(reason).inc();
        false
    }

    /// Hands one shadow request to its connection; false when it was dropped (counted).
    fn dispatch(&mut self, ctx: &Arc<ConnCtx>, p: Planned, intended: Instant) -> bool {
        self.figures.wanted.inc();
        let size = p.bytes.len();
        let l = self.limits;
        if self.pending.count() >= l.max_pending
            || self.pending.bytes().saturating_add(size) > l.pending_memory
        {
            return self.drop_one(DropReason::QueueFull);
        }
        let key = (p.conn, p.iteration, p.role);
        if !self.conns.contains_key(&key) {
            if self.conns.len() >= l.max_connections && !self.close_idle_lru() {
                return self.drop_one(DropReason::MaxConnections);
            }
            let (tx, rx) = mpsc::channel(l.max_inflight.max(1));
            self.handle
                .spawn(run_connection(ctx.clone(), JobSource::Own(rx), None));
            let held = Arc::new(AtomicUsize::new(0));
            self.conns.insert(
                key,
                Conn {
                    tx,
                    held,
                    used: intended,
                },
            );
        }
        let Some(conn) = self.conns.get_mut(&key) else {
            return false;
        };
        if conn.held.load(Ordering::Relaxed) >= l.max_inflight {
            return self.drop_one(DropReason::ConnectionBusy);
        }
        conn.used = intended;
        let hold = Hold::new(conn.held.clone(), self.pending.clone(), size);
        let job = Job {
            planned: p,
            intended: Some(intended),
            warmup: false,
            hold: Some(Box::new(hold)),
        };
        match conn.tx.try_send(job) {
            Ok(()) => {
                self.figures.dispatched.inc();
                true
            }
            Err(TrySendError::Full(_)) => self.drop_one(DropReason::ConnectionBusy),
            // The task is gone (the runtime is shutting down): only at the very end.
            Err(TrySendError::Closed(_)) => {
                self.conns.remove(&key);
                self.drop_one(DropReason::Stopped)
            }
        }
    }

    /// Closes the idle connection used least recently; false when none is idle.
    fn close_idle_lru(&mut self) -> bool {
        let oldest = self
            .conns
            .iter()
            .filter(|(_, c)| c.idle())
            .min_by_key(|(_, c)| c.used)
            .map(|(k, _)| *k);
        match oldest {
            Some(k) => {
                self.conns.remove(&k);
                true
            }
            None => false,
        }
    }
}
