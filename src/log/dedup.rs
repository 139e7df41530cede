//! The body deduplication window, kept identically by writers and readers.
//!
//! Rule (`docs/FORMAT.md`, "Body deduplication"): a body definition is appended to a FIFO; a
//! definition whose id is already present replaces it (the old one stops counting); then entries are
//! dropped from the front while the live bytes exceed [`WINDOW_BYTES`] or the entries exceed
//! [`WINDOW_ENTRIES`]. A writer references only bodies still in its own window; a reader that
//! applies the same rule to the definitions it has read holds every one of them (it can only have
//! read fewer, or older ones that it drops first).

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use super::codec::BodySource;

/// Smallest body that is deduplicated: 512 bytes.
pub const MIN_BODY: usize = 512;

/// Largest body that is deduplicated: 8 MiB (larger ones are stored inline).
pub const MAX_BODY: usize = 8 << 20;

/// Live bytes of bodies the window holds at most: 32 MiB.
pub const WINDOW_BYTES: usize = 32 << 20;

/// Entries the window holds at most (`WINDOW_BYTES / MIN_BODY`).
pub const WINDOW_ENTRIES: usize = WINDOW_BYTES / MIN_BODY;

/// One FIFO slot: which definition, its length, and the insertion number that tells a live slot
/// from one whose id was redefined later.
struct Slot {
    id: u64,
    len: usize,
    seq: u64,
}

/// The FIFO bookkeeping shared by both sides; `V` is what is kept per id.
struct Fifo<V> {
    /// id → (insertion number, length, value) of the live definitions.
    live: HashMap<u64, (u64, usize, V)>,
    order: VecDeque<Slot>,
    live_bytes: usize,
    next_seq: u64,
}

impl<V> Fifo<V> {
    fn new() -> Self {
        Fifo {
            live: HashMap::new(),
            order: VecDeque::new(),
            live_bytes: 0,
            next_seq: 0,
        }
    }

    /// Defines `id`, then evicts; `evicted` gets every value that leaves the window.
    fn define(&mut self, id: u64, len: usize, value: V, mut evicted: impl FnMut(V)) {
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some((_, old_len, old)) = self.live.insert(id, (seq, len, value)) {
            // The old slot stays in `order` (it still counts as an entry) but its bytes no longer
            // count. Only a second writer session appending to a file redefines ids.
            self.live_bytes -= old_len;
            evicted(old);
        }
        self.order.push_back(Slot { id, len, seq });
        self.live_bytes += len;
        while self.live_bytes > WINDOW_BYTES || self.order.len() > WINDOW_ENTRIES {
            let Some(slot) = self.order.pop_front() else {
                break;
            };
            if self
                .live
                .get(&slot.id)
                .is_some_and(|(s, _, _)| *s == slot.seq)
            {
                self.live_bytes -= slot.len;
                if let Some((_, _, v)) = self.live.remove(&slot.id) {
                    evicted(v);
                }
            }
        }
    }
}

/// The reader's window: id → body bytes.
pub struct ReadWindow {
    fifo: Fifo<Bytes>,
}

impl ReadWindow {
    /// An empty window.
    pub fn new() -> Self {
        ReadWindow { fifo: Fifo::new() }
    }

    /// Records a body definition read from the file.
    pub fn define(&mut self, id: u64, body: &[u8]) {
        self.fifo
            .define(id, body.len(), Bytes::copy_from_slice(body), |_| {});
    }
}

impl BodySource for ReadWindow {
    fn body(&self, id: u64) -> Option<&Bytes> {
        self.fifo.live.get(&id).map(|(_, _, b)| b)
    }
}

/// The writer's window: body hash (xxh3-128) → id. It keeps no bytes.
pub struct WriteWindow {
    fifo: Fifo<u128>,
    by_hash: HashMap<u128, u64>,
    next_id: u64,
}

impl WriteWindow {
    /// An empty window; ids start at 0.
    pub fn new() -> Self {
        WriteWindow {
            fifo: Fifo::new(),
            by_hash: HashMap::new(),
            next_id: 0,
        }
    }

    /// Whether `body` can be deduplicated at all.
    pub fn eligible(body: &[u8]) -> bool {
        (MIN_BODY..=MAX_BODY).contains(&body.len())
    }

    /// The id of an identical body still in the window, if any.
    pub fn lookup(&self, hash: u128) -> Option<u64> {
        self.by_hash.get(&hash).copied()
    }

    /// The id the next definition will get.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Defines a new body and returns its id.
    pub fn define(&mut self, hash: u128, len: usize) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let by_hash = &mut self.by_hash;
        self.fifo.define(id, len, hash, |old| {
            by_hash.remove(&old);
        });
        by_hash.insert(hash, id);
        id
    }
}

/// The hash that identifies a body in the writer's window.
pub fn body_hash(body: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_window_evicts_oldest_by_bytes() {
        let mut w = WriteWindow::new();
        let big = WINDOW_BYTES / 4;
        let ids: Vec<u64> = (0..4u128).map(|h| w.define(h, big)).collect();
        assert_eq!(ids, vec![0, 1, 2, 3]);
        assert_eq!(w.lookup(0), Some(0));
        w.define(4, 1);
        assert_eq!(
            w.lookup(0),
            None,
            "oldest dropped when the window overflows"
        );
        assert_eq!(w.lookup(1), Some(1));
        assert_eq!(w.lookup(4), Some(4));
    }

    #[test]
    fn reader_holds_what_writer_references() {
        // Model: after the same definitions, every id the writer still knows is in the reader.
        let mut w = WriteWindow::new();
        let mut r = ReadWindow::new();
        let mut state: u64 = 7;
        for _ in 0..3000 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            let len = MIN_BODY + (state >> 40) as usize % 40_000;
            let hash = u128::from(state);
            let id = w.define(hash, len);
            r.define(id, &vec![0u8; len]);
            for (h, id) in &w.by_hash {
                assert!(r.body(*id).is_some(), "hash {h} id {id}");
            }
        }
        assert!(r.fifo.live_bytes <= WINDOW_BYTES);
    }

    #[test]
    fn redefinition_replaces_and_old_session_goes_first() {
        let mut r = ReadWindow::new();
        r.define(0, &[1u8; 600]);
        r.define(1, &[2u8; 600]);
        // A second writer session (append) reuses id 0.
        r.define(0, &[3u8; 700]);
        assert_eq!(r.body(0).map(|b| b[0]), Some(3));
        assert_eq!(r.fifo.live_bytes, 1300);
        assert_eq!(r.fifo.order.len(), 3);
    }
}
