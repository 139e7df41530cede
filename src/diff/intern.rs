//! Path strings, interned: every summary, difference and counter holds a `u32` id; the string is
//! kept once. Interners of separate shards merge into one with a [`Remap`] of the other's ids.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

/// An interned path (`$.items[].price`, `header.server`, `status`, `body`).
pub type PathId = u32;

/// The id that names no path (an entry under no array).
pub const NONE: PathId = u32::MAX;

/// The id ↔ string table of one writer or shard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interner {
    paths: Vec<Box<str>>,
    #[serde(skip)]
    ids: HashMap<Box<str>, PathId, Xxh3DefaultBuilder>,
}

/// The ids of one interner mapped into another's (`remap.get(other_id)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remap(Vec<PathId>);

impl Remap {
    /// The id in the target interner of `id` of the absorbed one ([`NONE`] stays [`NONE`]).
    pub fn get(&self, id: PathId) -> PathId {
        self.0.get(id as usize).copied().unwrap_or(NONE)
    }

    /// True when every id maps to itself (nothing to rewrite).
    pub fn is_identity(&self) -> bool {
        self.0.iter().enumerate().all(|(i, &id)| i as u32 == id)
    }
}

impl Interner {
    /// An empty table.
    pub fn new() -> Interner {
        Interner::default()
    }

    /// The id of `path`, adding it when new.
    pub fn intern(&mut self, path: &str) -> PathId {
        if let Some(&id) = self.ids.get(path) {
            return id;
        }
        let id = self.paths.len() as PathId;
        let boxed: Box<str> = path.into();
        self.paths.push(boxed.clone());
        self.ids.insert(boxed, id);
        id
    }

    /// The id of `path` if it was interned.
    pub fn lookup(&self, path: &str) -> Option<PathId> {
        self.ids.get(path).copied()
    }

    /// The string of `id` (`"?"` for an id this table never gave).
    pub fn path(&self, id: PathId) -> &str {
        self.paths.get(id as usize).map_or("?", |p| p)
    }

    /// How many paths are interned.
    pub fn len(&self) -> usize {
        self.paths.len()
    }

    /// True when nothing is interned.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// Every (id, path) in id order.
    pub fn iter(&self) -> impl Iterator<Item = (PathId, &str)> {
        self.paths
            .iter()
            .enumerate()
            .map(|(i, p)| (i as PathId, &**p))
    }

    /// Adds every path of `other` and says where each of its ids went.
    pub fn absorb(&mut self, other: &Interner) -> Remap {
        Remap(other.paths.iter().map(|p| self.intern(p)).collect())
    }

    /// Rebuilds the string → id index (after deserializing, which stores only the strings).
    pub fn reindex(&mut self) {
        self.ids = self
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| (p.clone(), i as PathId))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_strings_kept_once() {
        let mut i = Interner::new();
        let a = i.intern("$.a");
        let b = i.intern("$.b");
        assert_eq!(i.intern("$.a"), a);
        assert_ne!(a, b);
        assert_eq!(i.path(b), "$.b");
        assert_eq!(i.len(), 2);
        assert_eq!(i.path(7), "?");
    }

    #[test]
    fn absorbing_a_shard_maps_its_ids_to_the_same_strings() {
        let mut left = Interner::new();
        left.intern("$.x");
        left.intern("$.y");
        let mut right = Interner::new();
        let ry = right.intern("$.y");
        let rz = right.intern("$.z");
        let remap = left.absorb(&right);
        assert_eq!(left.path(remap.get(ry)), "$.y");
        assert_eq!(left.path(remap.get(rz)), "$.z");
        assert_eq!(remap.get(ry), left.lookup("$.y").unwrap_or(NONE));
        assert_eq!(left.len(), 3);
        assert_eq!(remap.get(NONE), NONE);
        assert!(!remap.is_identity());
        let mut copy = left.clone();
        assert!(copy.absorb(&left).is_identity());
    }

    #[test]
    fn a_deserialized_table_finds_its_strings_again() {
        let mut i = Interner::new();
        i.intern("$.a");
        i.intern("header.server");
        let bytes = postcard::to_stdvec(&i).unwrap_or_default();
        let mut back: Interner = postcard::from_bytes(&bytes).unwrap_or_default();
        back.reindex();
        assert_eq!(back.lookup("header.server"), Some(1));
        assert_eq!(back, i);
    }
}
