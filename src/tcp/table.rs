//! The flow table: connections keyed by their unordered address pair, kept in a slab with an
//! intrusive least-recently-seen list, so finding the idlest flow (for idle expiry and for
//! eviction when the table is full) costs O(1) instead of a scan.

use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};

/// The unordered address/port pair of a connection: both directions map to the same key.
/// IPv4 addresses are stored IPv4-mapped so both families share one 36-byte layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FlowKey {
    lo_ip: [u8; 16],
    hi_ip: [u8; 16],
    lo_port: u16,
    hi_port: u16,
}

fn endpoint(addr: SocketAddr) -> ([u8; 16], u16) {
    let ip = match addr.ip() {
        IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
        IpAddr::V6(v6) => v6.octets(),
    };
    (ip, addr.port())
}

impl FlowKey {
    /// The key of the connection between `src` and `dst`, and whether `src` is its low end.
    pub(crate) fn new(src: SocketAddr, dst: SocketAddr) -> (FlowKey, bool) {
        let a = endpoint(src);
        let b = endpoint(dst);
        let src_is_lo = a <= b;
        let (lo, hi) = if src_is_lo { (a, b) } else { (b, a) };
        let key = FlowKey {
            lo_ip: lo.0,
            hi_ip: hi.0,
            lo_port: lo.1,
            hi_port: hi.1,
        };
        (key, src_is_lo)
    }
}

impl Hash for FlowKey {
    fn hash<S: Hasher>(&self, state: &mut S) {
        let word = |b: &[u8; 16], i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        state.write_u64(word(&self.lo_ip, 0) ^ word(&self.hi_ip, 0).rotate_left(17));
        state.write_u64(word(&self.lo_ip, 8));
        state.write_u64(word(&self.hi_ip, 8));
        state.write_u64(u64::from(self.lo_port) << 16 | u64::from(self.hi_port));
    }
}

/// A multiply-rotate hasher in the style of rustc's FxHash: a few cycles per word, good enough
/// for keys an attacker cannot choose freely (addresses of connections seen on the wire are
/// bounded by the flow-table limit anyway).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FlowHasher(u64);

const SEED: u64 = 0xf135_7aea_2e62_a9c5;

impl Hasher for FlowHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0 ^ word).wrapping_mul(SEED).rotate_left(23);
    }

    fn finish(&self) -> u64 {
        // Spread the low bits into the high ones, which the table uses for its tag byte.
        self.0.wrapping_mul(SEED) ^ (self.0 >> 29)
    }
}

/// Builds [`FlowHasher`]s that start from a per-process random seed, so which keys collide
/// cannot be worked out in advance from this source alone (a speed bump, not a guarantee).
#[derive(Debug, Clone, Copy)]
pub(crate) struct FlowHashBuilder(u64);

impl Default for FlowHashBuilder {
    fn default() -> Self {
        FlowHashBuilder(RandomState::new().hash_one(0x5eed_u64))
    }
}

impl BuildHasher for FlowHashBuilder {
    type Hasher = FlowHasher;

    fn build_hasher(&self) -> FlowHasher {
        FlowHasher(self.0)
    }
}

const NIL: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Link {
    prev: u32,
    next: u32,
}

/// Flows in a slab, found by key, ordered from least to most recently seen.
#[derive(Debug)]
pub(crate) struct Table<F> {
    map: HashMap<FlowKey, u32, FlowHashBuilder>,
    slots: Vec<Option<F>>,
    links: Vec<Link>,
    free: Vec<u32>,
    head: u32,
    tail: u32,
}

impl<F> Default for Table<F> {
    fn default() -> Self {
        Table {
            map: HashMap::default(),
            slots: Vec::new(),
            links: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }
}

impl<F> Table<F> {
    /// Flows in the table.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The slot of the flow with this key.
    pub(crate) fn find(&self, key: &FlowKey) -> Option<u32> {
        self.map.get(key).copied()
    }

    /// The flow in a slot.
    pub(crate) fn get(&self, slot: u32) -> Option<&F> {
        self.slots.get(slot as usize)?.as_ref()
    }

    /// The flow in a slot, to change it.
    pub(crate) fn get_mut(&mut self, slot: u32) -> Option<&mut F> {
        self.slots.get_mut(slot as usize)?.as_mut()
    }

    /// Adds a flow as the most recently seen one; returns its slot. The key must not be present.
    pub(crate) fn insert(&mut self, key: FlowKey, flow: F) -> u32 {
        let slot = match self.free.pop() {
            Some(slot) => {
                if let Some(s) = self.slots.get_mut(slot as usize) {
                    *s = Some(flow);
                }
                slot
            }
            None => {
                self.slots.push(Some(flow));
                self.links.push(Link {
                    prev: NIL,
                    next: NIL,
                });
                (self.slots.len() - 1) as u32
            }
        };
        self.map.insert(key, slot);
        self.push_back(slot);
        slot
    }

    /// Takes the flow out of its slot.
    pub(crate) fn remove(&mut self, key: &FlowKey, slot: u32) -> Option<F> {
        let flow = self.slots.get_mut(slot as usize)?.take()?;
        self.map.remove(key);
        self.unlink(slot);
        self.free.push(slot);
        Some(flow)
    }

    /// Marks a flow as the most recently seen.
    pub(crate) fn touch(&mut self, slot: u32) {
        if self.tail != slot {
            self.unlink(slot);
            self.push_back(slot);
        }
    }

    /// The least recently seen flow.
    pub(crate) fn oldest(&self) -> Option<u32> {
        (self.head != NIL).then_some(self.head)
    }

    /// Slots of every flow, in no particular order.
    pub(crate) fn slots(&self) -> impl Iterator<Item = (u32, &F)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, f)| Some((i as u32, f.as_ref()?)))
    }

    fn push_back(&mut self, slot: u32) {
        if let Some(link) = self.links.get_mut(slot as usize) {
            link.prev = self.tail;
            link.next = NIL;
        }
        match self.links.get_mut(self.tail as usize) {
            Some(old_tail) => old_tail.next = slot,
            None => self.head = slot,
        }
        self.tail = slot;
    }

    fn unlink(&mut self, slot: u32) {
        let Some(&Link { prev, next }) = self.links.get(slot as usize) else {
            return;
        };
        match self.links.get_mut(prev as usize) {
            Some(p) => p.next = next,
            None => self.head = next,
        }
        match self.links.get_mut(next as usize) {
            Some(n) => n.prev = prev,
            None => self.tail = prev,
        }
        if let Some(link) = self.links.get_mut(slot as usize) {
            *link = Link {
                prev: NIL,
                next: NIL,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn both_directions_share_a_key() {
        let (k1, lo1) = FlowKey::new(addr("10.0.0.1:40000"), addr("10.0.0.2:80"));
        let (k2, lo2) = FlowKey::new(addr("10.0.0.2:80"), addr("10.0.0.1:40000"));
        assert_eq!(k1, k2);
        assert_ne!(lo1, lo2);
        let (k3, _) = FlowKey::new(addr("[2001:db8::1]:40000"), addr("[2001:db8::2]:80"));
        assert_ne!(k1, k3);
    }

    #[test]
    fn lru_order_follows_touches_and_removals() {
        let mut t: Table<u32> = Table::default();
        let keys: Vec<FlowKey> = (0..4)
            .map(|i| FlowKey::new(addr(&format!("10.0.0.1:{}", 1000 + i)), addr("10.0.0.2:80")).0)
            .collect();
        let slots: Vec<u32> = keys.iter().zip(0..).map(|(k, v)| t.insert(*k, v)).collect();
        assert_eq!(t.oldest(), Some(slots[0]));
        t.touch(slots[0]);
        assert_eq!(t.oldest(), Some(slots[1]));
        assert_eq!(t.remove(&keys[1], slots[1]), Some(1));
        assert_eq!(t.oldest(), Some(slots[2]));
        assert_eq!(t.find(&keys[1]), None);
        let again = t.insert(keys[1], 9);
        assert_eq!(again, slots[1], "freed slot reused");
        for (k, s) in [
            (keys[2], slots[2]),
            (keys[3], slots[3]),
            (keys[0], slots[0]),
        ] {
            assert_eq!(t.oldest(), Some(s));
            t.remove(&k, s);
        }
        assert_eq!(t.oldest(), Some(again));
        t.remove(&keys[1], again);
        assert_eq!(t.oldest(), None);
        assert_eq!(t.len(), 0);
    }
}
