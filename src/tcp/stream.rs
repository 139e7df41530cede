//! One direction of a connection: where the stream stands and what is buffered beyond a hole.
//!
//! Bookkeeping is kept apart from bytes. [`HalfStream`] knows the next sequence number to deliver
//! (`next`); everything before it was handed on (as data or as a gap), everything from it on is
//! either in the out-of-order buffer or not seen yet. In-order bytes never enter the buffer: they
//! go to the next stage straight from the segment. Only bytes that arrive beyond a hole are copied.
//!
//! Invariants of the out-of-order buffer ([`Ooo`]), kept by every method here:
//! - chunks are sorted by start, never overlap, and every chunk starts strictly after `next`
//!   (a chunk that becomes contiguous with `next` is delivered at once);
//! - every chunk lies less than 2^31 bytes after `next`, so the wrap-aware order is total on them;
//! - `runs` is the number of maximal runs of contiguous chunks, which equals the number of holes
//!   (each run is preceded by exactly one hole);
//! - `cost` is the sum over chunks of their bytes plus [`CHUNK_COST`];
//! - a FIN position, once known, is never passed: no chunk extends beyond it.

use std::collections::VecDeque;

use super::seq::SeqNumber;
use super::stats::TcpStats;
use super::{GapCause, Interest};

/// Most bytes one segment may cover (payload plus snaplen-cut bytes); beyond it the rest is
/// ignored. Real segments are at most 64 KiB (a few hundred KiB with BIG TCP offload captures).
pub(crate) const MAX_SEGMENT_LEN: u64 = 1 << 24;
/// Data further than this ahead of `next` is dropped as nonsense (larger than any TCP window).
pub(crate) const MAX_AHEAD: i64 = 1 << 30;
/// Most buffered chunks per direction, so inserting into the buffer stays cheap; beyond it the
/// oldest hole is given up as if `max_holes` were exceeded.
pub(crate) const MAX_CHUNKS: usize = 4096;
/// Bytes charged for each buffered chunk on top of its payload (its bookkeeping).
pub(crate) const CHUNK_COST: usize = std::mem::size_of::<Chunk>();

const ANCHORED: u8 = 1;
const HAS_ISN: u8 = 2;
const FIN_SEEN: u8 = 4;
const FIN_DONE: u8 = 8;
const HAS_ACK: u8 = 16;

/// What a direction hands on, in order.
#[derive(Debug)]
pub(crate) enum Piece<'a> {
    /// Contiguous bytes, captured at `ts_ns`.
    Data { ts_ns: u64, bytes: &'a [u8] },
    /// `len` bytes that will never be delivered.
    Gap {
        ts_ns: u64,
        len: u64,
        cause: GapCause,
    },
}

/// Where a direction's pieces go; returns what the next stage wants from now on.
pub(crate) type Emit<'e> = dyn FnMut(Piece<'_>) -> Interest + 'e;

/// A segment's data as one direction sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Incoming<'a> {
    /// Sequence number of the first data byte (one after the SYN's, when SYN is set).
    pub seq: SeqNumber,
    /// Captured payload.
    pub payload: &'a [u8],
    /// Bytes after the payload that the snaplen cut off.
    pub missing: u32,
    /// Capture time.
    pub ts_ns: u64,
}

impl Incoming<'_> {
    /// Sequence space the data covers (captured and cut), capped at [`MAX_SEGMENT_LEN`].
    pub(crate) fn len(&self) -> u64 {
        (self.payload.len() as u64 + u64::from(self.missing)).min(MAX_SEGMENT_LEN)
    }
}

/// Bytes received beyond a hole, copied out of their segment.
#[derive(Debug)]
pub(crate) struct Chunk {
    start: SeqNumber,
    /// Bytes after `data` that the snaplen cut off (they occupy sequence space).
    missing: u32,
    ts_ns: u64,
    data: Box<[u8]>,
}

impl Chunk {
    fn len(&self) -> u64 {
        self.data.len() as u64 + u64::from(self.missing)
    }

    fn cost(&self) -> usize {
        CHUNK_COST + self.data.len()
    }
}

/// The out-of-order buffer of one direction (see the module invariants).
#[derive(Debug, Default)]
struct Ooo {
    chunks: VecDeque<Chunk>,
    runs: usize,
    cost: usize,
}

/// Reassembly state of one direction of a connection.
#[derive(Debug, Default)]
pub(crate) struct HalfStream {
    /// Next byte to deliver (valid once anchored).
    next: SeqNumber,
    /// The SYN's sequence number (valid with `HAS_ISN`).
    isn: SeqNumber,
    /// Sequence number of the FIN (valid with `FIN_SEEN`).
    fin_at: SeqNumber,
    /// Highest acknowledgement the peer sent for this direction (valid with `HAS_ACK`).
    acked: SeqNumber,
    flags: u8,
    ooo: Option<Box<Ooo>>,
}

impl HalfStream {
    /// True once the direction knows where its stream starts (SYN, or first data seen).
    pub(crate) fn anchored(&self) -> bool {
        self.flags & ANCHORED != 0
    }

    /// True when nothing was seen on this direction yet (no SYN, no data, no FIN).
    pub(crate) fn untouched(&self) -> bool {
        self.flags & (ANCHORED | HAS_ISN) == 0
    }

    /// True when this direction's SYN had sequence number `isn`.
    pub(crate) fn has_isn(&self, isn: SeqNumber) -> bool {
        self.flags & HAS_ISN != 0 && self.isn == isn
    }

    /// True when `ack` acknowledges this direction's SYN (and maybe Fast Open data after it).
    pub(crate) fn acks_syn(&self, ack: SeqNumber) -> bool {
        let past = i64::from(ack.diff(self.isn));
        self.flags & HAS_ISN != 0 && past >= 1 && past <= 1 + MAX_SEGMENT_LEN as i64
    }

    /// Starts the stream after a SYN with sequence number `isn`.
    pub(crate) fn set_isn(&mut self, isn: SeqNumber) {
        self.isn = isn;
        self.next = isn.plus(1);
        self.flags |= HAS_ISN | ANCHORED;
    }

    /// True once a FIN was seen on this direction.
    pub(crate) fn fin_seen(&self) -> bool {
        self.flags & FIN_SEEN != 0
    }

    /// True once the FIN was handed on (all data before it delivered or reported as gaps).
    pub(crate) fn fin_done(&self) -> bool {
        self.flags & FIN_DONE != 0
    }

    /// True when the FIN is due: seen, not handed on yet, and everything before it handed on.
    /// Marks it handed on, so it returns true once.
    pub(crate) fn take_fin(&mut self) -> bool {
        let due = self.flags & (FIN_SEEN | FIN_DONE) == FIN_SEEN && self.next == self.fin_at;
        if due {
            self.flags |= FIN_DONE;
        }
        due
    }

    /// Marks a FIN seen on a direction whose bytes are no longer followed (skipped connections).
    pub(crate) fn mark_fin_seen(&mut self) {
        self.flags |= FIN_SEEN;
    }

    /// Bytes charged for the out-of-order buffer.
    pub(crate) fn cost(&self) -> usize {
        self.ooo.as_ref().map_or(0, |o| o.cost)
    }

    /// Capture time of the oldest buffered data, if any.
    pub(crate) fn oldest_ts(&self) -> Option<u64> {
        let ooo = self.ooo.as_ref()?;
        ooo.chunks.iter().map(|c| c.ts_ns).min()
    }

    /// Drops everything buffered (the connection is skipped or given up); returns the bytes freed.
    pub(crate) fn clear(&mut self) -> usize {
        self.ooo.take().map_or(0, |o| o.cost)
    }

    /// Records the FIN at sequence number `fin_at`. A FIN before data already delivered, or a
    /// second FIN at another place, is ignored (returns false). Buffered data beyond the FIN is
    /// dropped.
    pub(crate) fn set_fin(&mut self, fin_at: SeqNumber) -> bool {
        if self.fin_seen() {
            return self.fin_at == fin_at;
        }
        if !self.anchored() {
            self.next = fin_at;
            self.flags |= ANCHORED;
        }
        if fin_at.diff(self.next) < 0 {
            return false;
        }
        self.fin_at = fin_at;
        self.flags |= FIN_SEEN;
        let fin_rel = u64::from(fin_at.diff(self.next).unsigned_abs());
        let next = self.next;
        if let Some(ooo) = self.ooo.as_mut() {
            let rel = |c: &Chunk| u64::from(c.start.diff(next).unsigned_abs());
            while ooo.chunks.back().is_some_and(|c| rel(c) >= fin_rel) {
                ooo.chunks.pop_back();
            }
            if let Some(last) = ooo.chunks.back_mut() {
                let keep = fin_rel - u64::from(last.start.diff(next).unsigned_abs());
                if keep < last.len() {
                    if keep < last.data.len() as u64 {
                        last.data = last.data.get(..keep as usize).unwrap_or_default().into();
                        last.missing = 0;
                    } else {
                        last.missing = (keep - last.data.len() as u64) as u32;
                    }
                }
            }
            ooo.recount(next);
        }
        self.release_if_empty();
        true
    }

    /// Takes in a segment's data: delivers what is in order (straight from the payload), buffers
    /// what lies beyond a hole, drops what was already received. Never panics, whatever `inc`.
    pub(crate) fn accept(
        &mut self,
        inc: &Incoming<'_>,
        max_holes: usize,
        stats: &mut TcpStats,
        emit: &mut Emit<'_>,
    ) -> Interest {
        let len = inc.len();
        if len == 0 {
            if self.anchored() && inc.seq.diff(self.next) == -1 {
                stats.keepalive_probes += 1;
            }
            return Interest::Continue;
        }
        if !self.anchored() {
            self.next = inc.seq;
            self.flags |= ANCHORED;
        }
        let start_rel = i64::from(inc.seq.diff(self.next));
        if start_rel > MAX_AHEAD {
            stats.out_of_window_segments += 1;
            return Interest::Continue;
        }
        // Offset in the segment where its usable data ends (a FIN ends the stream).
        let mut seg_end = len;
        if self.fin_seen() {
            let fin_off = i64::from(self.fin_at.diff(self.next)) - start_rel;
            if fin_off < seg_end as i64 {
                seg_end = fin_off.max(0) as u64;
            }
        }
        if start_rel + seg_end as i64 <= 0 {
            if start_rel == -1 && len <= 1 {
                stats.keepalive_probes += 1;
            } else {
                stats.retransmitted_bytes += seg_end;
            }
            return Interest::Continue;
        }
        let mut off = 0u64;
        let interest = loop {
            if off >= seg_end {
                break Interest::Continue;
            }
            let rel = i64::from(inc.seq.plus(off as u32).diff(self.next));
            if rel < 0 {
                let dup = rel.unsigned_abs().min(seg_end - off);
                stats.retransmitted_bytes += dup;
                off += dup;
                continue;
            }
            if rel > 0 {
                self.insert(inc, off, seg_end, rel as u64, stats);
                break self.enforce_holes(max_holes, stats, emit);
            }
            let limit = self.first_rel().unwrap_or(u64::MAX);
            let upto = (seg_end - off).min(limit);
            let interest = emit_segment(inc, off, off + upto, stats, emit);
            self.next = self.next.plus(upto as u32);
            off += upto;
            if interest == Interest::Skip {
                break Interest::Skip;
            }
            if upto == limit && self.drain_run(stats, emit) == Interest::Skip {
                break Interest::Skip;
            }
        };
        self.release_if_empty();
        interest
    }

    /// The peer acknowledged up to `ack`. When that acknowledgement is new and lies beyond a hole
    /// (before buffered data or a FIN), the receiver got bytes the capture missed: the hole is a
    /// gap ([`GapCause::Loss`]). A repeated acknowledgement proves nothing new and is ignored,
    /// which keeps captures whose segments were merely reordered intact.
    pub(crate) fn peer_ack(
        &mut self,
        ack: SeqNumber,
        ts_ns: u64,
        stats: &mut TcpStats,
        emit: &mut Emit<'_>,
    ) -> Interest {
        if !self.anchored() {
            return Interest::Continue;
        }
        if self.flags & HAS_ACK != 0 && ack.diff(self.acked) <= 0 {
            return Interest::Continue;
        }
        self.acked = ack;
        self.flags |= HAS_ACK;
        let ahead = i64::from(ack.diff(self.next));
        if ahead <= 0 || ahead > MAX_AHEAD || (self.ooo.is_none() && !self.fin_seen()) {
            return Interest::Continue;
        }
        let interest = self.skip_to(ack, ts_ns, stats, emit);
        self.release_if_empty();
        interest
    }

    /// Gives up every hole (as [`GapCause::Loss`]), delivering all buffered data, and, when the
    /// FIN is known, the bytes missing before it: the direction will receive nothing more.
    pub(crate) fn flush(
        &mut self,
        ts_ns: u64,
        stats: &mut TcpStats,
        emit: &mut Emit<'_>,
    ) -> Interest {
        while self.ooo.is_some() {
            if self.skip_front_hole(GapCause::Loss, stats, emit) == Interest::Skip {
                return Interest::Skip;
            }
            self.release_if_empty();
        }
        if self.fin_seen() {
            let missing = self.fin_at.diff(self.next);
            if missing > 0 {
                self.next = self.fin_at;
                return gap(
                    u64::from(missing.unsigned_abs()),
                    GapCause::Loss,
                    ts_ns,
                    stats,
                    emit,
                );
            }
        }
        Interest::Continue
    }

    /// Gives up the oldest hole as [`GapCause::Overflow`] (the buffer is over its share); false
    /// when nothing is buffered.
    pub(crate) fn overflow_oldest(
        &mut self,
        stats: &mut TcpStats,
        emit: &mut Emit<'_>,
    ) -> Option<Interest> {
        self.ooo.as_ref()?;
        let interest = self.skip_front_hole(GapCause::Overflow, stats, emit);
        self.release_if_empty();
        Some(interest)
    }

    /// Position of the first buffered chunk, relative to `next` (always > 0).
    fn first_rel(&self) -> Option<u64> {
        let first = self.ooo.as_ref()?.chunks.front()?;
        Some(u64::from(first.start.diff(self.next).unsigned_abs()))
    }

    fn release_if_empty(&mut self) {
        if self.ooo.as_ref().is_some_and(|o| o.chunks.is_empty()) {
            self.ooo = None;
        }
    }

    /// Copies the parts of `inc[off..seg_end]` (starting `start_rel` bytes after `next`) that fall
    /// in holes into the buffer; the parts already buffered are retransmissions (first copy wins).
    fn insert(
        &mut self,
        inc: &Incoming<'_>,
        off: u64,
        seg_end: u64,
        start_rel: u64,
        stats: &mut TcpStats,
    ) {
        stats.out_of_order_segments += 1;
        let next = self.next;
        let rel = |c: &Chunk| u64::from(c.start.diff(next).unsigned_abs());
        let ooo = self.ooo.get_or_insert_with(Box::default);
        let end = start_rel + (seg_end - off);
        let mut i = ooo
            .chunks
            .partition_point(|c| rel(c) + c.len() <= start_rel);
        let mut cursor = start_rel;
        while cursor < end {
            let prev_end = i
                .checked_sub(1)
                .and_then(|p| ooo.chunks.get(p))
                .map(|prev| rel(prev) + prev.len());
            let next_start = ooo.chunks.get(i).map(|c| (rel(c), rel(c) + c.len()));
            let piece_end = match next_start {
                Some((cs, ce)) if cs <= cursor => {
                    let dup_end = end.min(ce);
                    stats.retransmitted_bytes += dup_end - cursor;
                    cursor = dup_end;
                    i += 1;
                    continue;
                }
                Some((cs, _)) => end.min(cs),
                None => end,
            };
            let touches_prev = prev_end == Some(cursor);
            let touches_next = next_start.is_some_and(|(cs, _)| cs == piece_end);
            match (touches_prev, touches_next) {
                (true, true) => ooo.runs = ooo.runs.saturating_sub(1),
                (false, false) => ooo.runs += 1,
                _ => {}
            }
            let chunk = make_chunk(
                inc,
                off + (cursor - start_rel),
                piece_end - cursor,
                next,
                cursor,
            );
            ooo.cost += chunk.cost();
            ooo.chunks.insert(i, chunk);
            i += 1;
            cursor = piece_end;
        }
    }

    /// Gives up oldest holes while there are more than `max_holes` (or too many chunks).
    fn enforce_holes(
        &mut self,
        max_holes: usize,
        stats: &mut TcpStats,
        emit: &mut Emit<'_>,
    ) -> Interest {
        while let Some(ooo) = self.ooo.as_ref() {
            if ooo.runs <= max_holes && ooo.chunks.len() <= MAX_CHUNKS {
                break;
            }
            if self.skip_front_hole(GapCause::Overflow, stats, emit) == Interest::Skip {
                return Interest::Skip;
            }
            self.release_if_empty();
        }
        Interest::Continue
    }

    /// Reports the hole before the first buffered chunk as a gap and delivers the run after it.
    fn skip_front_hole(
        &mut self,
        cause: GapCause,
        stats: &mut TcpStats,
        emit: &mut Emit<'_>,
    ) -> Interest {
        let Some(first) = self.ooo.as_ref().and_then(|o| o.chunks.front()) else {
            return Interest::Continue;
        };
        let ts_ns = first.ts_ns;
        let hole = first.start.diff(self.next);
        self.next = first.start;
        if gap(u64::from(hole.unsigned_abs()), cause, ts_ns, stats, emit) == Interest::Skip {
            return Interest::Skip;
        }
        self.drain_run(stats, emit)
    }

    /// Reports everything before `target` as lost: whole holes (delivering the runs after them),
    /// then the start of the next hole; never passes the FIN, and without buffered data or FIN
    /// beyond it, waits (the bytes may still come).
    fn skip_to(
        &mut self,
        target: SeqNumber,
        ts_ns: u64,
        stats: &mut TcpStats,
        emit: &mut Emit<'_>,
    ) -> Interest {
        loop {
            let mut ahead = i64::from(target.diff(self.next));
            if self.fin_seen() {
                ahead = ahead.min(i64::from(self.fin_at.diff(self.next)));
            }
            if ahead <= 0 {
                return Interest::Continue;
            }
            let ahead = ahead.unsigned_abs();
            match self.first_rel() {
                Some(first) if ahead >= first => {
                    if self.skip_front_hole(GapCause::Loss, stats, emit) == Interest::Skip {
                        return Interest::Skip;
                    }
                    self.release_if_empty();
                }
                Some(_) => {
                    self.next = self.next.plus(ahead as u32);
                    return gap(ahead, GapCause::Loss, ts_ns, stats, emit);
                }
                None if self.fin_seen() => {
                    self.next = self.next.plus(ahead as u32);
                    return gap(ahead, GapCause::Loss, ts_ns, stats, emit);
                }
                None => return Interest::Continue,
            }
        }
    }

    /// Called when `next` reached the first buffered chunk: delivers the run of contiguous chunks.
    fn drain_run(&mut self, stats: &mut TcpStats, emit: &mut Emit<'_>) -> Interest {
        let Some(ooo) = self.ooo.as_mut() else {
            return Interest::Continue;
        };
        if ooo.chunks.front().is_none_or(|c| c.start != self.next) {
            return Interest::Continue;
        }
        ooo.runs = ooo.runs.saturating_sub(1);
        while ooo.chunks.front().is_some_and(|c| c.start == self.next) {
            let Some(chunk) = ooo.chunks.pop_front() else {
                break;
            };
            ooo.cost = ooo.cost.saturating_sub(chunk.cost());
            self.next = self.next.plus(chunk.len() as u32);
            if !chunk.data.is_empty()
                && emit(Piece::Data {
                    ts_ns: chunk.ts_ns,
                    bytes: &chunk.data,
                }) == Interest::Skip
            {
                return Interest::Skip;
            }
            if chunk.missing > 0
                && gap(
                    u64::from(chunk.missing),
                    GapCause::Snaplen,
                    chunk.ts_ns,
                    stats,
                    emit,
                ) == Interest::Skip
            {
                return Interest::Skip;
            }
        }
        Interest::Continue
    }

    /// Checks the module invariants (tests only).
    #[cfg(test)]
    pub(crate) fn check(&self) {
        let Some(ooo) = self.ooo.as_ref() else {
            return;
        };
        assert!(!ooo.chunks.is_empty(), "empty buffer kept");
        let mut prev_end = 0u64;
        let mut runs = 0;
        let mut cost = 0;
        for c in &ooo.chunks {
            let rel = c.start.diff(self.next);
            assert!(rel > 0, "chunk at or before next");
            let rel = u64::from(rel.unsigned_abs());
            assert!(rel >= prev_end, "chunks overlap or unsorted");
            if rel != prev_end {
                runs += 1;
            }
            prev_end = rel + c.len();
            cost += c.cost();
        }
        assert_eq!(ooo.runs, runs, "runs");
        assert_eq!(ooo.cost, cost, "cost");
        if self.fin_seen() {
            assert!(prev_end <= u64::from(self.fin_at.diff(self.next).unsigned_abs()));
        }
    }
}

impl Ooo {
    /// Recomputes `runs` and `cost` from the chunks (after trimming at a FIN).
    fn recount(&mut self, next: SeqNumber) {
        let mut prev_end = 0u64;
        self.runs = 0;
        self.cost = 0;
        for c in &self.chunks {
            let rel = u64::from(c.start.diff(next).unsigned_abs());
            if rel != prev_end {
                self.runs += 1;
            }
            prev_end = rel + c.len();
            self.cost += c.cost();
        }
    }
}

/// Copies `len` bytes of sequence space from segment offset `off` into a chunk starting `rel`
/// bytes after `next`; the captured part comes first, the snaplen-cut part after it.
fn make_chunk(inc: &Incoming<'_>, off: u64, len: u64, next: SeqNumber, rel: u64) -> Chunk {
    let captured = inc.payload.len() as u64;
    let data_end = (off + len).min(captured);
    let data: Box<[u8]> = if off < data_end {
        inc.payload
            .get(off as usize..data_end as usize)
            .unwrap_or_default()
            .into()
    } else {
        Box::default()
    };
    Chunk {
        start: next.plus(rel as u32),
        missing: (len - data.len() as u64) as u32,
        ts_ns: inc.ts_ns,
        data,
    }
}

/// Hands on segment bytes `off..end`: the captured part as data, the cut part as a snaplen gap.
fn emit_segment(
    inc: &Incoming<'_>,
    off: u64,
    end: u64,
    stats: &mut TcpStats,
    emit: &mut Emit<'_>,
) -> Interest {
    let captured = inc.payload.len() as u64;
    if off < captured.min(end) {
        let bytes = inc
            .payload
            .get(off as usize..captured.min(end) as usize)
            .unwrap_or_default();
        let interest = emit(Piece::Data {
            ts_ns: inc.ts_ns,
            bytes,
        });
        if interest == Interest::Skip {
            return Interest::Skip;
        }
    }
    if end > captured {
        return gap(
            end - off.max(captured),
            GapCause::Snaplen,
            inc.ts_ns,
            stats,
            emit,
        );
    }
    Interest::Continue
}

fn gap(
    len: u64,
    cause: GapCause,
    ts_ns: u64,
    stats: &mut TcpStats,
    emit: &mut Emit<'_>,
) -> Interest {
    stats.count_gap(len, cause);
    emit(Piece::Gap { ts_ns, len, cause })
}
