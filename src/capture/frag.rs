//! IP fragment reassembly, bounded in datagrams, bytes and time.
//!
//! Bookkeeping is apart from bytes: each datagram in progress keeps the byte ranges it holds
//! (sorted, merged, at most [`MAX_RANGES`]) next to its buffer. Invariants:
//! - `held_bytes` is the sum of the capacities of the buffers of datagrams in progress and never
//!   exceeds `max_bytes` after [`Defrag::add`] returns;
//! - at most `max_datagrams` datagrams are in progress;
//! - a datagram is in progress at most `timeout_ns` of capture time after its first fragment.
//!
//! Overlapping fragments whose bytes differ drop the whole datagram (as RFC 5722 asks for IPv6
//! and Linux does for both): what the receiver saw is then unknown. Exact duplicates are ignored.
//! Every fragment frame that is given up is counted in `fragments_dropped`.

use std::net::IpAddr;

use super::decode::DecodeStats;

/// Largest reassembled payload: offsets are 13 bits of 8-byte units plus one fragment.
const MAX_DATAGRAM: usize = 65_535;
/// Most separate byte ranges (holes + 1) one datagram may hold before it is given up.
const MAX_RANGES: usize = 64;

/// Limits of reassembly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DefragLimits {
    pub max_datagrams: usize,
    pub max_bytes: usize,
    pub timeout_ns: u64,
}

/// Identifies one datagram: addresses, IP identification and (IPv4) protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DatagramKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub id: u32,
    /// IPv4: the protocol field (part of the RFC 791 key). IPv6: 0.
    pub protocol: u8,
}

/// One fragment as found in a frame.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fragment<'a> {
    pub key: DatagramKey,
    /// Byte offset of the first byte in the datagram's fragmentable part.
    pub offset: usize,
    /// More fragments follow.
    pub more: bool,
    /// Protocol of the fragmentable part (IPv6: the fragment header's next header).
    pub next_header: u8,
    /// The fragment's bytes, possibly in two consecutive pieces.
    pub parts: [&'a [u8]; 2],
}

/// A datagram whose fragments all arrived; its bytes are `Defrag::done[..len]`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reassembled {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub next_header: u8,
    pub len: usize,
}

#[derive(Debug)]
struct Pending {
    key: DatagramKey,
    started_ns: u64,
    data: Vec<u8>,
    /// Held byte ranges, sorted, non-adjacent, non-overlapping.
    ranges: Vec<(usize, usize)>,
    /// Length of the datagram, known once the last fragment arrived.
    total: Option<usize>,
    /// Protocol of the fragmentable part, from the fragment at offset 0 when it came.
    next_header: u8,
    /// Fragment frames held for this datagram.
    frames: u64,
}

/// Datagrams in progress and the buffer of the last completed one.
#[derive(Debug)]
pub(crate) struct Defrag {
    limits: DefragLimits,
    /// In order of arrival of their first fragment: the front is the oldest.
    pending: Vec<Pending>,
    held_bytes: usize,
    /// Capture time at which the oldest datagram in progress expires (`u64::MAX`: none).
    next_deadline_ns: u64,
    /// Bytes of the last reassembled datagram.
    pub(crate) done: Vec<u8>,
}

impl Defrag {
    pub(crate) fn new(limits: DefragLimits) -> Self {
        Defrag {
            limits,
            pending: Vec::new(),
            held_bytes: 0,
            next_deadline_ns: u64::MAX,
            done: Vec::new(),
        }
    }

    /// Bytes held by datagrams in progress.
    pub(crate) fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// Datagrams in progress.
    #[cfg(test)]
    pub(crate) fn in_progress(&self) -> usize {
        self.pending.len()
    }

    /// Gives up datagrams older than the timeout at capture time `now_ns`. Cheap when none is due.
    #[inline]
    pub(crate) fn expire(&mut self, now_ns: u64, stats: &mut DecodeStats) {
        if now_ns < self.next_deadline_ns {
            return;
        }
        let timeout = self.limits.timeout_ns;
        let mut index = 0;
        while index < self.pending.len() {
            let due = self
                .pending
                .get(index)
                .is_some_and(|p| p.started_ns.saturating_add(timeout) <= now_ns);
            if due {
                self.drop_at(index, stats);
            } else {
                index += 1;
            }
        }
        self.update_deadline();
    }

    /// Gives up every datagram in progress (end of input).
    pub(crate) fn finish(&mut self, stats: &mut DecodeStats) {
        while !self.pending.is_empty() {
            self.drop_at(0, stats);
        }
        self.update_deadline();
    }

    /// Takes one fragment frame; returns the datagram when this fragment completes it (its bytes
    /// are then in `self.done`).
    pub(crate) fn add(
        &mut self,
        fragment: &Fragment<'_>,
        now_ns: u64,
        stats: &mut DecodeStats,
    ) -> Option<Reassembled> {
        stats.fragments += 1;
        let [first, second] = fragment.parts;
        let len = first.len() + second.len();
        let start = fragment.offset;
        let end = start.saturating_add(len);
        if end > MAX_DATAGRAM || (fragment.more && len == 0) {
            stats.fragments_dropped += 1;
            return None;
        }

        let index = match self.pending.iter().position(|p| p.key == fragment.key) {
            Some(index) => index,
            None => {
                while self.pending.len() >= self.limits.max_datagrams.max(1) {
                    self.drop_at(0, stats);
                }
                self.pending.push(Pending {
                    key: fragment.key,
                    started_ns: now_ns,
                    data: Vec::new(),
                    ranges: Vec::new(),
                    total: None,
                    next_header: fragment.next_header,
                    frames: 0,
                });
                self.update_deadline();
                self.pending.len() - 1
            }
        };

        let index = match self.place(index, fragment, start, end, stats) {
            Placed::Stored(index) => index,
            Placed::Duplicate(index) => {
                if let Some(pending) = self.pending.get_mut(index) {
                    pending.frames += 1;
                }
                return None;
            }
            Placed::GiveUp(index) => {
                stats.fragments_dropped += 1;
                self.drop_at(index, stats);
                self.update_deadline();
                return None;
            }
        };

        let pending = self.pending.get(index)?;
        let complete = pending
            .total
            .is_some_and(|total| pending.ranges.as_slice() == [(0, total)]);
        if !complete {
            return None;
        }
        let pending = self.pending.remove(index);
        self.held_bytes -= pending.data.capacity();
        self.update_deadline();
        let total = pending.total.unwrap_or(0);
        self.done = pending.data;
        self.done.truncate(total);
        stats.datagrams_reassembled += 1;
        Some(Reassembled {
            src: pending.key.src,
            dst: pending.key.dst,
            next_header: pending.next_header,
            len: total,
        })
    }

    /// Stores the fragment's bytes in datagram `index`, within the byte budget (older datagrams
    /// are given up to make room). Returns where the datagram now is.
    fn place(
        &mut self,
        mut index: usize,
        fragment: &Fragment<'_>,
        start: usize,
        end: usize,
        stats: &mut DecodeStats,
    ) -> Placed {
        let Some(pending) = self.pending.get(index) else {
            return Placed::GiveUp(index);
        };
        // The last fragment fixes the length; nothing may lie past it.
        if let Some(total) = pending.total {
            if end > total || (!fragment.more && end != total) {
                return Placed::GiveUp(index);
            }
        }
        if !fragment.more && pending.ranges.last().is_some_and(|&(_, e)| e > end) {
            return Placed::GiveUp(index);
        }
        // Overlap with held bytes: an exact duplicate is ignored, anything else gives up.
        for &(held_start, held_end) in &pending.ranges {
            if start < held_end && held_start < end {
                let contained = held_start <= start && end <= held_end;
                return if contained && same_bytes(&pending.data, start, fragment.parts) {
                    Placed::Duplicate(index)
                } else {
                    Placed::GiveUp(index)
                };
            }
        }

        // Room for the bytes: the buffer grows by doubling (up to the largest datagram) while
        // more fragments are due, to the exact end once the last one is here.
        let old_capacity = pending.data.capacity();
        let wanted = if end <= old_capacity {
            old_capacity
        } else if fragment.more {
            end.max(old_capacity.saturating_mul(2)).min(MAX_DATAGRAM)
        } else {
            end
        };
        let extra = wanted - old_capacity;
        while self.held_bytes + extra > self.limits.max_bytes && index > 0 {
            self.drop_at(0, stats);
            index -= 1;
        }
        if self.held_bytes + extra > self.limits.max_bytes {
            return Placed::GiveUp(index);
        }
        let Some(pending) = self.pending.get_mut(index) else {
            return Placed::GiveUp(index);
        };
        if wanted > old_capacity {
            pending
                .data
                .reserve_exact(wanted.saturating_sub(pending.data.len()));
            // The allocator may round up: account what it gave.
            self.held_bytes = self.held_bytes - old_capacity + pending.data.capacity();
            if self.held_bytes > self.limits.max_bytes {
                return Placed::GiveUp(index);
            }
        }
        if end > pending.data.len() {
            pending.data.resize(end, 0);
        }
        let [first, second] = fragment.parts;
        let mid = start + first.len();
        if let Some(target) = pending.data.get_mut(start..mid) {
            target.copy_from_slice(first);
        }
        if let Some(target) = pending.data.get_mut(mid..end) {
            target.copy_from_slice(second);
        }
        if start < end && !insert_range(&mut pending.ranges, start, end) {
            return Placed::GiveUp(index);
        }
        if !fragment.more {
            pending.total = Some(end);
        }
        if start == 0 {
            pending.next_header = fragment.next_header;
        }
        pending.frames += 1;
        Placed::Stored(index)
    }

    /// Drops datagram `index`, counting its fragment frames as dropped.
    fn drop_at(&mut self, index: usize, stats: &mut DecodeStats) {
        if index < self.pending.len() {
            let pending = self.pending.remove(index);
            self.held_bytes -= pending.data.capacity();
            stats.fragments_dropped += pending.frames;
        }
    }

    fn update_deadline(&mut self) {
        self.next_deadline_ns = self
            .pending
            .iter()
            .map(|p| p.started_ns.saturating_add(self.limits.timeout_ns))
            .min()
            .unwrap_or(u64::MAX);
    }
}

/// What became of a fragment, and where its datagram is in `pending`.
enum Placed {
    Stored(usize),
    Duplicate(usize),
    GiveUp(usize),
}

fn same_bytes(data: &[u8], start: usize, parts: [&[u8]; 2]) -> bool {
    let [first, second] = parts;
    let mid = start + first.len();
    data.get(start..mid) == Some(first) && data.get(mid..mid + second.len()) == Some(second)
}

/// Adds `[start, end)` (not overlapping any held range) to the sorted ranges, merging neighbours.
/// False when that would make more than [`MAX_RANGES`] ranges.
fn insert_range(ranges: &mut Vec<(usize, usize)>, start: usize, end: usize) -> bool {
    let at = ranges.partition_point(|&(s, _)| s < start);
    let joins_before = at > 0 && ranges.get(at - 1).is_some_and(|&(_, e)| e == start);
    let joins_after = ranges.get(at).is_some_and(|&(s, _)| s == end);
    match (joins_before, joins_after) {
        (true, true) => {
            let after_end = ranges.get(at).map_or(end, |&(_, e)| e);
            if let Some(before) = ranges.get_mut(at - 1) {
                before.1 = after_end;
            }
            ranges.remove(at);
        }
        (true, false) => {
            if let Some(before) = ranges.get_mut(at - 1) {
                before.1 = end;
            }
        }
        (false, true) => {
            if let Some(after) = ranges.get_mut(at) {
                after.0 = start;
            }
        }
        (false, false) => {
            if ranges.len() >= MAX_RANGES {
                return false;
            }
            ranges.insert(at, (start, end));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn key(id: u32) -> DatagramKey {
        DatagramKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            id,
            protocol: 6,
        }
    }

    fn frag(id: u32, offset: usize, more: bool, bytes: &[u8]) -> Fragment<'_> {
        Fragment {
            key: key(id),
            offset,
            more,
            next_header: 6,
            parts: [bytes, &[]],
        }
    }

    fn limits() -> DefragLimits {
        DefragLimits {
            max_datagrams: 8,
            max_bytes: 1 << 20,
            timeout_ns: 1_000,
        }
    }

    #[test]
    fn fragments_in_any_order_make_the_datagram() {
        let payload: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let pieces = [(0, 1480), (1480, 2960), (2960, 3000)];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [2, 0, 1]] {
            let mut defrag = Defrag::new(limits());
            let mut stats = DecodeStats::default();
            let mut result = None;
            for (n, &i) in order.iter().enumerate() {
                let (s, e) = pieces[i];
                let out = defrag.add(&frag(7, s, e != 3000, &payload[s..e]), 10, &mut stats);
                if n < 2 {
                    assert!(out.is_none());
                } else {
                    result = out;
                }
            }
            let done = result.expect("complete");
            assert_eq!(done.len, 3000);
            assert_eq!(defrag.done, payload);
            assert_eq!(defrag.held_bytes(), 0);
            assert_eq!(stats.fragments, 3);
            assert_eq!(stats.datagrams_reassembled, 1);
            assert_eq!(stats.fragments_dropped, 0);
        }
    }

    #[test]
    fn split_parts_are_joined() {
        let mut defrag = Defrag::new(limits());
        let mut stats = DecodeStats::default();
        let f = Fragment {
            parts: [b"ab", b"cd"],
            ..frag(1, 0, true, &[])
        };
        assert!(defrag.add(&f, 0, &mut stats).is_none());
        assert!(
            defrag
                .add(&frag(1, 4, false, b"ef"), 0, &mut stats)
                .is_some()
        );
        assert_eq!(defrag.done, b"abcdef");
    }

    #[test]
    fn exact_duplicates_are_ignored_and_conflicting_overlaps_give_up() {
        let mut defrag = Defrag::new(limits());
        let mut stats = DecodeStats::default();
        defrag.add(&frag(1, 0, true, b"abcdefgh"), 0, &mut stats);
        defrag.add(&frag(1, 0, true, b"abcdefgh"), 0, &mut stats);
        assert!(
            defrag
                .add(&frag(1, 8, false, b"ij"), 0, &mut stats)
                .is_some()
        );
        assert_eq!(defrag.done, b"abcdefghij");
        assert_eq!(stats.fragments_dropped, 0);

        defrag.add(&frag(2, 0, true, b"abcdefgh"), 0, &mut stats);
        defrag.add(&frag(2, 0, true, b"XXXXXXXX"), 0, &mut stats);
        assert_eq!(defrag.in_progress(), 0);
        assert_eq!(stats.fragments_dropped, 2);
        assert_eq!(defrag.held_bytes(), 0);
    }

    #[test]
    fn timeouts_and_finish_count_what_is_dropped() {
        let mut defrag = Defrag::new(limits());
        let mut stats = DecodeStats::default();
        defrag.add(&frag(1, 0, true, b"abcdefgh"), 100, &mut stats);
        defrag.add(&frag(1, 16, true, b"abcdefgh"), 200, &mut stats);
        defrag.add(&frag(2, 0, true, b"abcdefgh"), 600, &mut stats);
        defrag.expire(1_099, &mut stats);
        assert_eq!(defrag.in_progress(), 2);
        defrag.expire(1_100, &mut stats);
        assert_eq!(defrag.in_progress(), 1);
        assert_eq!(stats.fragments_dropped, 2);
        defrag.finish(&mut stats);
        assert_eq!(defrag.in_progress(), 0);
        assert_eq!(stats.fragments_dropped, 3);
        assert_eq!(defrag.held_bytes(), 0);
    }

    #[test]
    fn the_oldest_datagram_makes_room() {
        let mut defrag = Defrag::new(DefragLimits {
            max_datagrams: 2,
            ..limits()
        });
        let mut stats = DecodeStats::default();
        for id in 0..3 {
            defrag.add(&frag(id, 0, true, b"abcdefgh"), 0, &mut stats);
        }
        assert_eq!(defrag.in_progress(), 2);
        assert_eq!(stats.fragments_dropped, 1);
        // Datagram 0 is gone: its last fragment alone does not complete anything.
        assert!(
            defrag
                .add(&frag(0, 8, false, b"ij"), 0, &mut stats)
                .is_none()
        );
        assert!(
            defrag
                .add(&frag(2, 8, false, b"ij"), 0, &mut stats)
                .is_some()
        );
    }

    #[test]
    fn inconsistent_lengths_give_up() {
        let mut defrag = Defrag::new(limits());
        let mut stats = DecodeStats::default();
        defrag.add(&frag(1, 8, false, b"abcdefgh"), 0, &mut stats);
        // Past the announced end.
        defrag.add(&frag(1, 16, true, b"abcdefgh"), 0, &mut stats);
        assert_eq!(defrag.in_progress(), 0);
        // Past the largest datagram.
        defrag.add(&frag(3, 65_530, true, b"abcdefgh"), 0, &mut stats);
        assert_eq!(defrag.in_progress(), 0);
        assert_eq!(stats.fragments_dropped, 3);
    }

    #[test]
    fn ranges_merge() {
        let mut ranges = Vec::new();
        assert!(insert_range(&mut ranges, 10, 20));
        assert!(insert_range(&mut ranges, 30, 40));
        assert!(insert_range(&mut ranges, 20, 30));
        assert_eq!(ranges, [(10, 40)]);
        assert!(insert_range(&mut ranges, 0, 10));
        assert!(insert_range(&mut ranges, 50, 60));
        assert_eq!(ranges, [(0, 40), (50, 60)]);
    }
}
