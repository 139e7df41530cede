//! The reassembler: segments in, each connection's two byte streams out through a
//! [`StreamHandler`], with the flow table, the connection life cycle and the memory budget.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;

use super::seq::SeqNumber;
use super::stats::TcpStats;
use super::stream::{Emit, HalfStream, Incoming, Piece};
use super::table::{FlowKey, Table};
use super::{CloseReason, ConnInfo, Dir, Interest, StreamHandler, TcpConfig};
use crate::capture::{Segment, TcpFlags};

/// How often (capture time) idle flows are looked for while segments flow in.
const SWEEP_INTERVAL_NS: u64 = 1_000_000_000;

const DIRS: [Dir; 2] = [Dir::FromInitiator, Dir::FromResponder];

/// One connection: both directions' reassembly state and the next stage's state, so one lookup
/// serves both stages.
struct Flow<C> {
    info: ConnInfo,
    /// The next stage's state; `None` once the connection was given up (a tombstone that absorbs
    /// the rest of the connection's segments until FIN, RST, SYN or idle, without calls).
    conn: Option<C>,
    /// Indexed by `Dir as usize`: 0 = from initiator, 1 = from responder.
    dirs: [HalfStream; 2],
    /// Latest capture time seen on the connection.
    last_ts: u64,
    /// Bytes charged to this connection in the memory budget (buffers of both stages).
    charged: usize,
    /// True when the initiator is the low end of the [`FlowKey`].
    initiator_is_lo: bool,
    /// True when the next stage asked to skip the connection (or it was given up).
    skip: bool,
}

impl<C> Flow<C> {
    fn dir_of(&self, src_is_lo: bool) -> usize {
        usize::from(src_is_lo != self.initiator_is_lo)
    }

    fn key(&self) -> FlowKey {
        FlowKey::new(self.info.initiator, self.info.responder).0
    }

    fn any_fin(&self) -> bool {
        self.dirs.iter().any(HalfStream::fin_seen)
    }
}

/// Runs `body` on direction `d` of a live flow with an emitter that calls the handler; `None`
/// when the flow has no handler state any more.
fn with_dir<H: StreamHandler, R>(
    flow: &mut Flow<H::Conn>,
    d: usize,
    handler: &mut H,
    body: impl FnOnce(&mut HalfStream, &mut Emit<'_>) -> R,
) -> Option<R> {
    let Flow {
        info, conn, dirs, ..
    } = flow;
    let conn = conn.as_mut()?;
    let stream = dirs.get_mut(d)?;
    let dir = *DIRS.get(d)?;
    let mut emit = |piece: Piece<'_>| match piece {
        Piece::Data { ts_ns, bytes } => handler.data(conn, info, dir, ts_ns, bytes),
        Piece::Gap { ts_ns, len, cause } => handler.gap(conn, info, dir, ts_ns, len, cause),
    };
    Some(body(stream, &mut emit))
}

/// TCP reassembly for any number of connections (see the module docs).
///
/// Never panics, whatever the segments: every arithmetic on sequence numbers is wrap-aware and
/// bounded, buffers are capped by [`TcpConfig`], and nothing from the wire is used as an index.
pub struct Reassembler<H: StreamHandler> {
    cfg: TcpConfig,
    table: Table<Flow<H::Conn>>,
    stats: TcpStats,
    next_id: u64,
    /// Latest capture time seen.
    now_ns: u64,
    next_sweep_ns: u64,
    /// Bytes buffered by both stages, over all connections.
    buffered: usize,
    /// Given-up connections still in the table.
    tombstones: usize,
    /// Candidates for giving up: `(charge, Reverse(id), slot)`, the heaviest (then oldest) on
    /// top. Every live connection with a charge has an entry with its current charge; entries
    /// whose charge or connection changed since are stale and skipped when popped, so a flood
    /// that keeps the table at the budget costs one pop per connection given up, not a scan of
    /// the table. Rebuilt from the table when stale entries outnumber it.
    heavy: BinaryHeap<(usize, Reverse<u64>, u32)>,
}

impl<H: StreamHandler> Reassembler<H> {
    /// An empty flow table with these limits.
    pub fn new(cfg: TcpConfig) -> Self {
        Reassembler {
            next_id: cfg.first_conn_id,
            cfg,
            table: Table::default(),
            stats: TcpStats::default(),
            now_ns: 0,
            next_sweep_ns: 0,
            buffered: 0,
            tombstones: 0,
            heavy: BinaryHeap::new(),
        }
    }

    /// What was counted so far.
    pub fn stats(&self) -> &TcpStats {
        &self.stats
    }

    /// Bytes buffered now by reassembly and the next stage together, over all connections.
    pub fn buffered_bytes(&self) -> usize {
        self.buffered
    }

    /// Connections being followed now (given-up ones not counted).
    pub fn open_flows(&self) -> usize {
        self.table.len() - self.tombstones
    }

    /// Takes in one segment: finds or opens its connection, delivers what became contiguous,
    /// and closes the connection on RST or after both FINs. Idle connections are expired here too
    /// (capture time drives the clock, so offline and live runs behave alike).
    pub fn segment(&mut self, seg: &Segment<'_>, handler: &mut H) {
        self.stats.segments += 1;
        self.stats.payload_bytes += seg.payload.len() as u64;
        if seg.ts_ns > self.now_ns {
            self.now_ns = seg.ts_ns;
        }
        if self.now_ns >= self.next_sweep_ns {
            self.expire(self.now_ns, handler);
            self.next_sweep_ns = self.now_ns.saturating_add(SWEEP_INTERVAL_NS);
        }
        let (key, src_is_lo) = FlowKey::new(seg.src, seg.dst);
        let flags = seg.flags;
        let rst = flags.has(TcpFlags::RST);
        let mut slot = self.table.find(&key);
        if flags.has(TcpFlags::SYN) && !rst {
            slot = Some(self.on_syn(slot, key, src_is_lo, seg, handler));
        }
        let slot = match slot {
            Some(slot) => slot,
            None if rst || (seg.payload.is_empty() && seg.missing == 0) => {
                self.stats.ignored_segments += 1;
                return;
            }
            None => self.open(key, seg.src, seg.dst, src_is_lo, false, seg.ts_ns, handler),
        };
        self.table.touch(slot);
        if self.process(slot, src_is_lo, seg, handler) {
            self.settle(slot, seg.ts_ns, handler);
        }
        self.stats.peak_buffered_bytes = self.stats.peak_buffered_bytes.max(self.buffered as u64);
    }

    /// Closes every connection idle for longer than the idle timeout at capture time `now_ns`,
    /// after delivering what it buffered (holes become gaps). For the live path, where time
    /// passes without segments.
    pub fn expire(&mut self, now_ns: u64, handler: &mut H) {
        self.now_ns = self.now_ns.max(now_ns);
        while let Some(slot) = self.table.oldest() {
            let Some(flow) = self.table.get(slot) else {
                break;
            };
            if now_ns.saturating_sub(flow.last_ts) <= self.cfg.idle_timeout_ns {
                break;
            }
            let ts = flow.last_ts;
            let before = self.table.len();
            self.flush(slot, ts, handler);
            self.close(slot, CloseReason::Idle, ts, handler);
            if self.table.len() >= before {
                break; // cannot happen (the oldest slot always holds a flow); never loop on it
            }
        }
    }

    /// End of input: delivers what can be delivered, reports the rest as gaps, and closes every
    /// connection with [`CloseReason::EndOfInput`], in order of connection id.
    pub fn finish(&mut self, handler: &mut H) {
        let mut order: Vec<(u64, u32)> = self
            .table
            .slots()
            .map(|(slot, flow)| (flow.info.id, slot))
            .collect();
        order.sort_unstable();
        let ts = self.now_ns;
        for (_, slot) in order {
            self.flush(slot, ts, handler);
            self.close(slot, CloseReason::EndOfInput, ts, handler);
        }
    }

    /// A SYN (or SYN-ACK): returns the slot of the connection it belongs to, opening a new one
    /// when it does not continue the connection on these addresses (closing that one first).
    fn on_syn(
        &mut self,
        slot: Option<u32>,
        key: FlowKey,
        src_is_lo: bool,
        seg: &Segment<'_>,
        handler: &mut H,
    ) -> u32 {
        let seq = SeqNumber(seg.seq);
        let is_synack = seg.flags.has(TcpFlags::ACK);
        let peer_isn = SeqNumber(seg.ack).minus(1);
        if let Some((slot, flow)) = slot.and_then(|s| Some((s, self.table.get_mut(s)?))) {
            let d = flow.dir_of(src_is_lo);
            let [init, resp] = &flow.dirs;
            let (own, other) = if d == 0 { (init, resp) } else { (resp, init) };
            if own.has_isn(seq) {
                return slot; // a retransmitted SYN
            }
            let answers_syn = is_synack
                && d == 1
                && own.untouched()
                && other.acks_syn(SeqNumber(seg.ack))
                && !flow.any_fin();
            if answers_syn {
                if let Some(own) = flow.dirs.get_mut(d) {
                    own.set_isn(seq);
                }
                flow.info.handshake_seen = true;
                return slot;
            }
            // The connection on these addresses is over: a new one starts.
            let reason = if flow.any_fin() {
                CloseReason::Fin
            } else {
                CloseReason::Rst
            };
            let ts = flow.last_ts;
            self.flush(slot, ts, handler);
            self.close(slot, reason, ts, handler);
        }
        let (initiator, responder, init_is_src) = if is_synack {
            (seg.dst, seg.src, false)
        } else {
            (seg.src, seg.dst, true)
        };
        let init_is_lo = src_is_lo == init_is_src;
        let slot = self.open(
            key, initiator, responder, init_is_lo, true, seg.ts_ns, handler,
        );
        if let Some(flow) = self.table.get_mut(slot) {
            let [init, resp] = &mut flow.dirs;
            if is_synack {
                resp.set_isn(seq);
                init.set_isn(peer_isn);
            } else {
                init.set_isn(seq);
            }
        }
        slot
    }

    /// Opens a connection (evicting the idlest one when the table is full); returns its slot.
    #[allow(clippy::too_many_arguments)]
    fn open(
        &mut self,
        key: FlowKey,
        initiator: SocketAddr,
        responder: SocketAddr,
        initiator_is_lo: bool,
        handshake_seen: bool,
        ts_ns: u64,
        handler: &mut H,
    ) -> u32 {
        while self.table.len() >= self.cfg.max_flows.max(1) {
            let Some(oldest) = self.table.oldest() else {
                break;
            };
            let live = self.table.get(oldest).is_some_and(|f| f.conn.is_some());
            if live {
                self.stats.evicted_flows += 1;
            }
            let before = self.table.len();
            self.flush(oldest, ts_ns, handler);
            self.close(oldest, CloseReason::Memory, ts_ns, handler);
            if self.table.len() >= before {
                break; // cannot happen (the oldest slot always holds a flow); never loop on it
            }
        }
        let info = ConnInfo {
            id: self.next_id,
            initiator,
            responder,
            handshake_seen,
        };
        self.next_id = self.next_id.wrapping_add(1);
        let conn = handler.open(&info);
        self.stats.flows_opened += 1;
        self.table.insert(
            key,
            Flow {
                info,
                conn: Some(conn),
                dirs: Default::default(),
                last_ts: ts_ns,
                charged: 0,
                initiator_is_lo,
                skip: false,
            },
        )
    }

    /// Applies a segment to its connection. Returns false when the connection was closed.
    fn process(&mut self, slot: u32, src_is_lo: bool, seg: &Segment<'_>, handler: &mut H) -> bool {
        let Some(flow) = self.table.get_mut(slot) else {
            return false;
        };
        flow.last_ts = flow.last_ts.max(seg.ts_ns);
        let d = flow.dir_of(src_is_lo);
        let flags = seg.flags;
        if flags.has(TcpFlags::RST) {
            self.flush(slot, seg.ts_ns, handler);
            self.close(slot, CloseReason::Rst, seg.ts_ns, handler);
            return false;
        }
        if flow.skip {
            if flags.has(TcpFlags::FIN) {
                if let Some(stream) = flow.dirs.get_mut(d) {
                    stream.mark_fin_seen();
                }
            }
            if flow.dirs.iter().all(HalfStream::fin_seen) {
                self.close(slot, CloseReason::Fin, seg.ts_ns, handler);
                return false;
            }
            return true;
        }
        let stats = &mut self.stats;
        let mut interest = Interest::Continue;
        if flags.has(TcpFlags::ACK) {
            let ack = SeqNumber(seg.ack);
            interest = with_dir(flow, 1 - d, handler, |s, emit| {
                s.peer_ack(ack, seg.ts_ns, stats, emit)
            })
            .unwrap_or(Interest::Continue);
            deliver_fins(flow, seg.ts_ns, handler);
        }
        let syn = flags.has(TcpFlags::SYN);
        let inc = Incoming {
            seq: SeqNumber(seg.seq).plus(u32::from(syn)),
            payload: seg.payload,
            missing: seg.missing,
            ts_ns: seg.ts_ns,
        };
        let max_holes = self.cfg.max_holes;
        if interest == Interest::Continue {
            interest = with_dir(flow, d, handler, |s, emit| {
                let interest = s.accept(&inc, max_holes, stats, emit);
                if flags.has(TcpFlags::FIN) {
                    s.set_fin(inc.seq.plus(inc.len() as u32));
                }
                interest
            })
            .unwrap_or(Interest::Continue);
        }
        if interest == Interest::Skip {
            self.skip(slot);
        }
        true
    }

    /// After a segment: hands on due FINs, keeps the connection within its byte share, closes it
    /// when both FINs were handed on, and keeps the total within budget.
    fn settle(&mut self, slot: u32, ts_ns: u64, handler: &mut H) {
        loop {
            let Some(flow) = self.table.get_mut(slot) else {
                return;
            };
            if flow.skip {
                break;
            }
            deliver_fins(flow, ts_ns, handler);
            if charge_of::<H>(flow) <= self.cfg.max_flow_bytes {
                break;
            }
            // Over its share: the oldest out-of-order data becomes a gap.
            let oldest = (0..2)
                .filter_map(|d| Some((flow.dirs.get(d)?.oldest_ts()?, d)))
                .min();
            let Some((_, d)) = oldest else {
                // Nothing out of order left: the next stage holds the excess (a body kept whole,
                // a head that never ends). The connection is given up to keep its share.
                let charge = charge_of::<H>(flow);
                self.give_up(slot, charge, handler);
                return;
            };
            let stats = &mut self.stats;
            let interest =
                with_dir(flow, d, handler, |s, emit| s.overflow_oldest(stats, emit)).flatten();
            if interest == Some(Interest::Skip) {
                self.skip(slot);
                break;
            }
        }
        let Some(flow) = self.table.get_mut(slot) else {
            return;
        };
        if flow.dirs.iter().all(HalfStream::fin_done) {
            self.close(slot, CloseReason::Fin, ts_ns, handler);
            return;
        }
        self.recharge(slot);
        if self.buffered > self.cfg.max_total_bytes {
            self.give_up_largest(handler);
        }
    }

    /// Updates a connection's charge in the memory budget.
    fn recharge(&mut self, slot: u32) {
        let Some(flow) = self.table.get_mut(slot) else {
            return;
        };
        let charge = charge_of::<H>(flow);
        self.buffered = self.buffered - flow.charged + charge;
        let changed = charge != flow.charged;
        flow.charged = charge;
        if changed && charge > 0 && flow.conn.is_some() {
            self.heavy.push((charge, Reverse(flow.info.id), slot));
            if self.heavy.len() > 2 * self.table.len() + 1024 {
                self.rebuild_heavy();
            }
        }
    }

    /// Rebuilds the give-up candidates from the table (drops the stale entries).
    fn rebuild_heavy(&mut self) {
        let live: Vec<_> = self
            .table
            .slots()
            .filter(|(_, f)| f.conn.is_some() && f.charged > 0)
            .map(|(slot, f)| (f.charged, Reverse(f.info.id), slot))
            .collect();
        self.heavy = BinaryHeap::from(live);
    }

    /// Over the total budget: gives up the connections holding the most bytes, largest first
    /// (the oldest first among equals), until the total is within budget again.
    fn give_up_largest(&mut self, handler: &mut H) {
        while self.buffered > self.cfg.max_total_bytes {
            let Some((charge, Reverse(id), slot)) = self.heavy.pop() else {
                break;
            };
            let current = self
                .table
                .get(slot)
                .is_some_and(|f| f.conn.is_some() && f.info.id == id && f.charged == charge);
            if current {
                self.give_up(slot, charge, handler);
            }
        }
    }

    /// Gives a connection up to stay within budget: the next stage closes it (`Memory`), its
    /// buffers are freed, and it stays in the table as a tombstone until its end.
    fn give_up(&mut self, slot: u32, charged: usize, handler: &mut H) {
        let Some(flow) = self.table.get_mut(slot) else {
            return;
        };
        let Some(conn) = flow.conn.take() else {
            return;
        };
        let ts = flow.last_ts;
        self.stats.given_up_flows += 1;
        self.stats.given_up_bytes += charged as u64;
        self.stats.count_close(CloseReason::Memory);
        self.tombstones += 1;
        handler.close(conn, &flow.info, ts, CloseReason::Memory);
        self.skip(slot);
    }

    /// Stops following a connection's bytes and frees its buffers.
    fn skip(&mut self, slot: u32) {
        let Some(flow) = self.table.get_mut(slot) else {
            return;
        };
        flow.skip = true;
        for stream in &mut flow.dirs {
            stream.clear();
        }
        self.recharge(slot);
    }

    /// Delivers everything a connection buffered, holes becoming gaps, and its due FINs.
    fn flush(&mut self, slot: u32, ts_ns: u64, handler: &mut H) {
        let Some(flow) = self.table.get_mut(slot) else {
            return;
        };
        if flow.skip {
            return;
        }
        let stats = &mut self.stats;
        for d in 0..2 {
            let interest = with_dir(flow, d, handler, |s, emit| s.flush(ts_ns, stats, emit));
            if interest == Some(Interest::Skip) {
                self.skip(slot);
                return;
            }
        }
        deliver_fins(flow, ts_ns, handler);
    }

    /// Removes a connection from the table, telling the next stage unless it was given up.
    fn close(&mut self, slot: u32, reason: CloseReason, ts_ns: u64, handler: &mut H) {
        let Some(key) = self.table.get(slot).map(Flow::key) else {
            return;
        };
        let Some(flow) = self.table.remove(&key, slot) else {
            return;
        };
        self.buffered -= flow.charged;
        match flow.conn {
            Some(conn) => {
                self.stats.count_close(reason);
                handler.close(conn, &flow.info, ts_ns, reason);
            }
            None => self.tombstones -= 1,
        }
    }
}

/// Bytes a connection holds in both stages.
fn charge_of<H: StreamHandler>(flow: &Flow<H::Conn>) -> usize {
    let own: usize = flow.dirs.iter().map(HalfStream::cost).sum();
    own + flow.conn.as_ref().map_or(0, H::buffered)
}

/// Hands on each direction's FIN once everything before it was handed on.
fn deliver_fins<H: StreamHandler>(flow: &mut Flow<H::Conn>, ts_ns: u64, handler: &mut H) {
    for (d, dir) in DIRS.iter().enumerate() {
        let due = flow.dirs.get_mut(d).is_some_and(HalfStream::take_fin);
        match flow.conn.as_mut() {
            Some(conn) if due => handler.fin(conn, &flow.info, *dir, ts_ns),
            _ => {}
        }
    }
}

#[cfg(test)]
impl<H: StreamHandler> Reassembler<H> {
    /// Checks every invariant of the table and its buffers (tests only).
    pub(crate) fn check_invariants(&self) {
        let mut total = 0;
        let mut tombstones = 0;
        for (slot, flow) in self.table.slots() {
            for stream in &flow.dirs {
                stream.check();
            }
            assert_eq!(
                flow.charged,
                charge_of::<H>(flow),
                "charge of {}",
                flow.info.id
            );
            total += flow.charged;
            if flow.conn.is_some() && flow.charged > 0 {
                let entry = (flow.charged, Reverse(flow.info.id), slot);
                assert!(
                    self.heavy.iter().any(|e| *e == entry),
                    "give-up candidate for {}",
                    flow.info.id
                );
            }
            if flow.conn.is_none() {
                tombstones += 1;
                assert!(flow.skip);
            }
        }
        assert_eq!(self.buffered, total, "total charge");
        assert_eq!(self.tombstones, tombstones, "tombstones");
    }

    /// Bytes of flow-table state for one connection with no buffered data (tests only).
    pub(crate) fn idle_flow_size() -> usize {
        std::mem::size_of::<Flow<H::Conn>>()
    }
}
