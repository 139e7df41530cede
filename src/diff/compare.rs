//! The difference between two summaries: the paths where `other` says something else than
//! `reference`, each with its kind, reported once at the place that explains it.
//!
//! - If the status class differs, only status and headers are compared (the status mismatch is
//!   counted elsewhere; two different error pages say nothing about a release).
//! - A container that is missing, added, of another type, of another length or only reordered is
//!   reported once: the paths inside it are not reported on their own.
//! - A container whose hash differs because of a path inside it is not reported: the path is.
//! - Responses that are not comparable (production's body incomplete) give no difference.

use serde::{Deserialize, Serialize};

use super::intern::{NONE, PathId};
use super::{Entry, Summary, ValueKind};

/// How a path differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DiffKind {
    /// Same type, another value.
    Value,
    /// Another JSON type (`"1"` for `1`, `null` for an object).
    Type,
    /// The reference has the path, the other response does not.
    Missing,
    /// The other response has a path the reference does not.
    Added,
    /// An array of another length.
    Length,
    /// An array with the same elements in another order.
    Order,
}

impl DiffKind {
    /// Every kind, in counter order.
    pub const ALL: [DiffKind; 6] = [
        DiffKind::Value,
        DiffKind::Type,
        DiffKind::Missing,
        DiffKind::Added,
        DiffKind::Length,
        DiffKind::Order,
    ];

    /// The name reports use.
    pub fn as_str(self) -> &'static str {
        match self {
            DiffKind::Value => "value",
            DiffKind::Type => "type",
            DiffKind::Missing => "missing",
            DiffKind::Added => "added",
            DiffKind::Length => "length",
            DiffKind::Order => "order",
        }
    }

    /// The kind seen from the other side (missing ↔ added).
    pub fn reversed(self) -> DiffKind {
        match self {
            DiffKind::Missing => DiffKind::Added,
            DiffKind::Added => DiffKind::Missing,
            k => k,
        }
    }
}

/// One differing path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathDiff {
    /// The path.
    pub path: PathId,
    /// How it differs.
    pub kind: DiffKind,
    /// The other response's entry there (`None` when it lacks the path): two responses that
    /// differ from the reference the same way have equal entries.
    pub entry: Option<Entry>,
}

/// The paths where a response differs from its reference, sorted by path.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// The differing paths, sorted by id, each once.
    pub paths: Vec<PathDiff>,
}

impl Difference {
    /// True when the two responses say the same.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The entry for `path`, if it differs.
    pub fn get(&self, path: PathId) -> Option<&PathDiff> {
        self.paths
            .binary_search_by_key(&path, |d| d.path)
            .ok()
            .map(|i| &self.paths[i])
    }
}

/// How `other` differs from `reference`; `None` when either cannot be compared.
pub fn difference(reference: &Summary, other: &Summary) -> Option<Difference> {
    if !reference.comparable() || !other.comparable() {
        return None;
    }
    let status_class = |s: &Summary| {
        s.entries
            .iter()
            .find(|(_, e)| e.kind == ValueKind::Status)
            .map(|(_, e)| e.hash / 100)
    };
    let bodies = status_class(reference) == status_class(other);
    let compared = |e: &Entry| bodies || matches!(e.kind, ValueKind::Status | ValueKind::Header);

    let mut raw: Vec<PathDiff> = Vec::new();
    let (a, b) = (&reference.entries, &other.entries);
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        let next = match (a.get(i), b.get(j)) {
            (Some(x), Some(y)) if x.0 == y.0 => {
                i += 1;
                j += 1;
                if !compared(&x.1) {
                    continue;
                }
                entry_kind(&x.1, &y.1).map(|kind| PathDiff {
                    path: x.0,
                    kind,
                    entry: Some(y.1),
                })
            }
            (Some(x), y) if y.is_none_or(|y| x.0 < y.0) => {
                i += 1;
                compared(&x.1).then_some(PathDiff {
                    path: x.0,
                    kind: DiffKind::Missing,
                    entry: None,
                })
            }
            (_, Some(y)) => {
                j += 1;
                compared(&y.1).then_some(PathDiff {
                    path: y.0,
                    kind: DiffKind::Added,
                    entry: Some(y.1),
                })
            }
            (_, None) => break,
        };
        raw.extend(next);
    }
    if raw.is_empty() {
        return Some(Difference::default());
    }

    let parent = |id: PathId| {
        reference
            .get(id)
            .or_else(|| other.get(id))
            .map_or(NONE, |e| e.under)
    };
    let ancestors = |id: PathId| {
        let mut at = parent(id);
        let mut out = Vec::new();
        // Depth is capped at 64 by the walk; the bound only guards against a cycle in bad data.
        while at != NONE && out.len() < 128 {
            out.push(at);
            at = parent(at);
        }
        out
    };
    let holds = |id: PathId| raw.binary_search_by_key(&id, |d| d.path).ok();
    // Paths inside a container reported as a whole.
    let whole = |d: &PathDiff| d.kind != DiffKind::Value;
    let mut keep: Vec<bool> = raw
        .iter()
        .map(|d| {
            !ancestors(d.path)
                .into_iter()
                .any(|a| holds(a).is_some_and(|k| whole(&raw[k])))
        })
        .collect();
    // Containers whose value differs because of a path inside them.
    let mut explained = vec![false; raw.len()];
    for (k, d) in raw.iter().enumerate() {
        if keep[k] {
            for a in ancestors(d.path) {
                if let Some(x) = holds(a) {
                    explained[x] = true;
                }
            }
        }
    }
    for (k, d) in raw.iter().enumerate() {
        if explained[k] && d.kind == DiffKind::Value {
            keep[k] = false;
        }
    }
    let paths = raw
        .into_iter()
        .zip(keep)
        .filter_map(|(d, k)| k.then_some(d))
        .collect();
    Some(Difference { paths })
}

/// How two entries of one path differ, if they do.
pub fn entry_kind(a: &Entry, b: &Entry) -> Option<DiffKind> {
    if a.kind != b.kind {
        return Some(DiffKind::Type);
    }
    if a.kind == ValueKind::Array {
        return if a.hash == b.hash {
            (a.order != b.order).then_some(DiffKind::Order)
        } else if a.len != b.len {
            Some(DiffKind::Length)
        } else {
            Some(DiffKind::Value)
        };
    }
    (a.hash != b.hash).then_some(DiffKind::Value)
}
