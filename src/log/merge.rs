//! Merging several logs into one stream ordered by record time (captures from several nodes).
//!
//! A k-way merge holding one pending record per input. Ties keep input order (the earlier input
//! first, and each input's own order). Connection ids stay unique: inputs are grouped by the run
//! that wrote them (`Meta::run_id`: the files one `record` run rotates through share one id space,
//! so an exchange split across two of them still pairs); with G groups, connection `c` of group
//! `g` (from 0, in input order) becomes `c * G + g`; with one group ids are unchanged. An input
//! without a run id is a group of its own. The output starts with
//! one Meta record (the first input's, with `sources` = the input names, `command` = "merge") and
//! ends with one Closing record whose counters are the inputs' summed by name; the inputs' own Meta
//! and Closing records are not passed through.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::Read;

use super::{LogError, ReadStats, Reader};
use crate::exchange::{Counters, Meta, Record};

enum State {
    Meta,
    Body,
    Done,
}

/// Merges readers by record time; yields records ready to be written to one log.
pub struct Merger<R: Read = File> {
    inputs: Vec<Reader<R>>,
    heads: Vec<Option<Record>>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    meta: Meta,
    closing: Counters,
    last_ts: u64,
    state: State,
    /// The id-space group of each input: inputs from one run share a group.
    groups: Vec<usize>,
    /// Number of groups: connection `c` of group `g` becomes `c * group_count + g`.
    group_count: usize,
}

impl<R: Read> Merger<R> {
    /// Starts a merge: reads each input's first records (its Meta, if any, and the first record
    /// to merge).
    pub fn new(inputs: Vec<Reader<R>>) -> Result<Self, LogError> {
        let n = inputs.len();
        let mut merger = Merger {
            heads: vec![None; n],
            heap: BinaryHeap::with_capacity(n),
            meta: Meta::default(),
            closing: Counters::default(),
            last_ts: 0,
            state: State::Meta,
            groups: vec![0; n],
            group_count: 1,
            inputs,
        };
        let mut metas: Vec<Option<Meta>> = Vec::with_capacity(n);
        let mut firsts = Vec::with_capacity(n);
        for i in 0..n {
            let first = merger.inputs[i].next_record()?;
            match first {
                Some(Record::Meta(m)) => {
                    metas.push(Some(m));
                    firsts.push(merger.pull(i)?);
                }
                other => {
                    metas.push(None);
                    firsts.push(other);
                }
            }
        }
        // Inputs written by one run (rotated files) share its id space: one group each run.
        let mut runs: Vec<u64> = Vec::new();
        for (i, meta) in metas.iter().enumerate() {
            let run = meta.as_ref().map_or(0, |m| m.run_id);
            let group = match runs.iter().position(|&r| r == run && run != 0) {
                Some(g) => g,
                None => {
                    runs.push(run);
                    runs.len() - 1
                }
            };
            merger.groups[i] = group;
        }
        merger.group_count = runs.len().max(1);
        for (i, first) in firsts.into_iter().enumerate() {
            merger.set_head(i, first)?;
        }
        let metas: Vec<Meta> = metas.into_iter().flatten().collect();
        let mut meta = metas.first().cloned().unwrap_or_default();
        meta.sources = merger.inputs.iter().map(|r| r.name().to_owned()).collect();
        meta.command = "merge".into();
        meta.tool_version = env!("CARGO_PKG_VERSION").into();
        // One run keeps its id; several get an id of their own, derived from theirs.
        meta.run_id = match runs.as_slice() {
            [one] => *one,
            many => {
                let bytes: Vec<u8> = many.iter().flat_map(|r| r.to_le_bytes()).collect();
                xxhash_rust::xxh3::xxh3_64(&bytes).max(1)
            }
        };
        if let Some(start) = metas.iter().map(|m| m.start_ns).min() {
            meta.start_ns = start;
        }
        for note in metas.iter().flat_map(|m| &m.notes) {
            if !meta.notes.contains(note) {
                meta.notes.push(note.clone());
            }
        }
        merger.meta = meta;
        Ok(merger)
    }

    /// Each input's name and what was read from it so far (skipped blocks included).
    pub fn input_stats(&self) -> Vec<(String, ReadStats)> {
        self.inputs
            .iter()
            .map(|r| (r.name().to_owned(), r.stats()))
            .collect()
    }

    /// The next record of the merged stream, `Ok(None)` after the Closing record.
    pub fn next_record(&mut self) -> Result<Option<Record>, LogError> {
        match self.state {
            State::Meta => {
                self.state = State::Body;
                Ok(Some(Record::Meta(self.meta.clone())))
            }
            State::Body => match self.heap.pop() {
                Some(Reverse((ts, i))) => {
                    let record = self.heads.get_mut(i).and_then(Option::take);
                    let next = self.pull(i)?;
                    self.set_head(i, next)?;
                    self.last_ts = self.last_ts.max(ts);
                    Ok(record)
                }
                None => {
                    self.state = State::Done;
                    let mut closing = std::mem::take(&mut self.closing);
                    if closing.end_ns == 0 {
                        closing.end_ns = self.last_ts;
                    }
                    Ok(Some(Record::Closing(closing)))
                }
            },
            State::Done => Ok(None),
        }
    }

    /// The next record of input `i` to merge, folding in its Closing records and dropping Metas.
    fn pull(&mut self, i: usize) -> Result<Option<Record>, LogError> {
        let Some(input) = self.inputs.get_mut(i) else {
            return Ok(None);
        };
        loop {
            match input.next_record()? {
                Some(Record::Meta(_)) => {}
                Some(Record::Closing(c)) => add_counters(&mut self.closing, &c),
                other => return Ok(other),
            }
        }
    }

    /// Makes `record` the pending record of input `i`, with its connection id renumbered.
    fn set_head(&mut self, i: usize, record: Option<Record>) -> Result<(), LogError> {
        let Some(mut record) = record else {
            return Ok(());
        };
        if let Record::Closing(c) = &record {
            add_counters(&mut self.closing, c);
            return Ok(());
        }
        let n = self.group_count;
        if n > 1 {
            let group = self.groups.get(i).copied().unwrap_or(i);
            let conn = record.conn().unwrap_or(0);
            let new = conn
                .checked_mul(n as u64)
                .and_then(|c| c.checked_add(group as u64))
                .ok_or_else(|| LogError::ConnOverflow {
                    path: self
                        .inputs
                        .get(i)
                        .map(|r| r.name().to_owned())
                        .unwrap_or_default(),
                    conn,
                    inputs: n,
                })?;
            set_conn(&mut record, new);
        }
        self.heap.push(Reverse((record.ts_ns(), i)));
        if let Some(slot) = self.heads.get_mut(i) {
            *slot = Some(record);
        }
        Ok(())
    }
}

impl<R: Read> Iterator for Merger<R> {
    type Item = Result<Record, LogError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.next_record() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => None,
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }
}

fn set_conn(record: &mut Record, conn: u64) {
    match record {
        Record::Request(m) => m.conn = conn,
        Record::Response(r) | Record::Interim(r) | Record::Orphan(r) => r.message.conn = conn,
        Record::Gap(g) => g.conn = conn,
        Record::Result(r) => r.conn = conn,
        Record::Meta(_) | Record::Closing(_) => {}
    }
}

/// Adds `more` into `total`: values summed by name (new names appended), latest end time kept.
fn add_counters(total: &mut Counters, more: &Counters) {
    total.end_ns = total.end_ns.max(more.end_ns);
    for (name, value) in &more.values {
        match total.values.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v = v.saturating_add(*value),
            None => total.values.push((name.clone(), *value)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_sum_by_name() {
        let mut total = Counters::default();
        add_counters(
            &mut total,
            &Counters {
                end_ns: 5,
                values: vec![("requests".into(), 2), ("drops".into(), 1)],
            },
        );
        add_counters(
            &mut total,
            &Counters {
                end_ns: 3,
                values: vec![("requests".into(), 10), ("gaps".into(), 4)],
            },
        );
        assert_eq!(
            total,
            Counters {
                end_ns: 5,
                values: vec![
                    ("requests".into(), 12),
                    ("drops".into(), 1),
                    ("gaps".into(), 4)
                ],
            }
        );
    }
}
