//! What readers skipped as damaged, tallied across every input of a command, and the one rule
//! every command that reads logs applies to it: a damaged input fails the run (exit 3) unless the
//! user said `--allow-damaged`, and then it is a warning. A log is never silently smaller.

use std::fmt;

use super::ReadStats;
use crate::exit::{Classify, Status};

/// What was skipped as damaged: corrupt or truncated blocks, and records that did not decode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Damage {
    /// Corrupt or truncated blocks skipped.
    pub skipped_blocks: u64,
    /// Bytes skipped with them.
    pub skipped_bytes: u64,
    /// Records skipped: malformed or undecodable (records of kinds a newer reel writes are not
    /// damage: they are skipped by design).
    pub skipped_records: u64,
    /// At most this many records were lost: what the skipped blocks' headers said they held
    /// (records and body definitions). `None` when a skipped block's header was unreadable too.
    pub lost_records: Option<u64>,
    /// Where the first skip was: the input and its byte offset.
    pub first: Option<(String, u64)>,
    /// Inputs read to their end that end without their closing record, and are not named
    /// `NAME.part` (a finished log always ends with one: these were cut, possibly right at a
    /// block boundary, which no checksum sees), with their lengths.
    pub unclosed: Vec<(String, u64)>,
    /// Inputs with damage.
    pub inputs: u64,
}

impl Damage {
    /// What one reader of the input `name` skipped.
    pub fn of(name: &str, stats: &ReadStats) -> Damage {
        let mut d = Damage {
            skipped_blocks: stats.skipped_blocks,
            skipped_bytes: stats.skipped_bytes,
            skipped_records: stats.undecodable_records,
            lost_records: (stats.headerless_skips == 0).then_some(stats.lost_records),
            first: stats.first_skip_at.map(|at| (name.to_owned(), at)),
            unclosed: Vec::new(),
            inputs: 0,
        };
        if stats.ended && !stats.closed && !name.ends_with(".part") {
            d.unclosed.push((name.to_owned(), stats.file_bytes));
        }
        d.inputs = u64::from(!d.is_none());
        d
    }

    /// True when nothing was skipped.
    pub fn is_none(&self) -> bool {
        self.skipped_blocks == 0
            && self.skipped_bytes == 0
            && self.skipped_records == 0
            && self.unclosed.is_empty()
    }

    /// The `damaged` object of a command's JSON: `{blocks, bytes, records, lost_records, first}`,
    /// `null` when nothing was skipped.
    pub fn to_json(&self) -> serde_json::Value {
        if self.is_none() {
            return serde_json::Value::Null;
        }
        serde_json::json!({
            "blocks": self.skipped_blocks,
            "bytes": self.skipped_bytes,
            "records": self.skipped_records,
            "lost_records_at_most": self.lost_records,
            "first": self.first.as_ref().map(|(input, offset)| serde_json::json!({
                "input": input,
                "offset": offset,
            })),
            "unclosed": self.unclosed.iter().map(|(input, len)| serde_json::json!({
                "input": input,
                "bytes": len,
            })).collect::<Vec<_>>(),
        })
    }

    /// The rule: nothing skipped is fine; damage is an error ([`DamagedInput`], exit 3) unless
    /// `allow`, and then the warning line to print is returned.
    pub fn judge(&self, allow: bool) -> Result<Option<String>, DamagedInput> {
        if self.is_none() {
            return Ok(None);
        }
        if allow {
            return Ok(Some(format!(
                "{self}; --allow-damaged: going on with what is intact"
            )));
        }
        Err(DamagedInput(self.clone()))
    }
}

impl std::ops::AddAssign for Damage {
    fn add_assign(&mut self, other: Damage) {
        if other.is_none() {
            return;
        }
        if self.is_none() {
            *self = other;
            return;
        }
        self.lost_records = self
            .lost_records
            .zip(other.lost_records)
            .map(|(a, b)| a + b);
        self.skipped_blocks += other.skipped_blocks;
        self.skipped_bytes += other.skipped_bytes;
        self.skipped_records += other.skipped_records;
        self.inputs += other.inputs;
        if self.first.is_none() {
            self.first = other.first;
        }
        self.unclosed.extend(other.unclosed);
    }
}

/// `s` for counts other than one.
fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// One line: `prod.reel: damaged: 1 corrupt or truncated block skipped (30511 bytes, up to 640
/// records lost), the first at byte 29980`.
impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self
            .first
            .as_ref()
            .or(self.unclosed.first())
            .map(|(input, _)| input.as_str());
        match name {
            Some(input) if self.inputs > 1 => {
                write!(f, "{input} and {} more inputs: damaged:", self.inputs - 1)?
            }
            Some(input) => write!(f, "{input}: damaged:")?,
            None => f.write_str("damaged input:")?,
        }
        let mut parts = Vec::new();
        if self.skipped_blocks > 0 || self.skipped_bytes > 0 {
            let mut text = format!(
                "{} corrupt or truncated block{} skipped ({} bytes",
                self.skipped_blocks,
                plural(self.skipped_blocks),
                self.skipped_bytes
            );
            if let Some(n) = self.lost_records.filter(|n| *n > 0) {
                text.push_str(&format!(", up to {n} record{} lost", plural(n)));
            }
            text.push(')');
            if let Some((_, at)) = &self.first {
                text.push_str(&format!(", the first at byte {at}"));
            }
            parts.push(text);
        }
        if self.skipped_records > 0 {
            parts.push(format!(
                "{} record{} that do not decode skipped",
                self.skipped_records,
                plural(self.skipped_records)
            ));
        }
        for (input, len) in &self.unclosed {
            let who = if Some(input.as_str()) == name {
                String::new()
            } else {
                format!("{input} ")
            };
            parts.push(format!(
                "{who}ends at byte {len} without its closing record (cut short, or written by a \
                 run that did not finish)"
            ));
        }
        write!(f, " {}", parts.join("; "))
    }
}

/// A damaged input without `--allow-damaged`: the run read less than the log held (exit 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}; what was read is incomplete (--allow-damaged uses what is intact)")]
pub struct DamagedInput(pub Damage);

impl Classify for DamagedInput {
    fn status(&self) -> Status {
        Status::Runtime
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut() -> Damage {
        Damage::of(
            "cut.reel",
            &ReadStats {
                ended: true,
                closed: true,
                skipped_blocks: 1,
                skipped_bytes: 30_000,
                lost_records: 640,
                first_skip_at: Some(52),
                ..ReadStats::default()
            },
        )
    }

    #[test]
    fn nothing_skipped_is_no_damage() {
        let closed = ReadStats {
            ended: true,
            closed: true,
            ..ReadStats::default()
        };
        let d = Damage::of("ok.reel", &closed);
        assert!(d.is_none());
        // Not read to the end (a --limit stopped the reading): nothing to say about its end.
        assert!(Damage::of("ok.reel", &ReadStats::default()).is_none());
        assert_eq!(d.judge(false), Ok(None));
        assert!(d.to_json().is_null());
    }

    #[test]
    fn damage_is_an_error_naming_the_input_the_loss_and_the_offset() {
        let e = cut().judge(false).unwrap_err();
        assert_eq!(e.status(), Status::Runtime);
        assert_eq!(
            e.to_string(),
            "cut.reel: damaged: 1 corrupt or truncated block skipped (30000 bytes, up to 640 \
             records lost), the first at byte 52; what was read is incomplete (--allow-damaged \
             uses what is intact)"
        );
        let warning = cut().judge(true).unwrap().unwrap();
        assert!(
            warning.starts_with("cut.reel: damaged: 1 corrupt"),
            "{warning}"
        );
        assert_eq!(cut().to_json()["blocks"], 1);
        assert_eq!(cut().to_json()["bytes"], 30_000);
        assert_eq!(cut().to_json()["first"]["offset"], 52);
    }

    #[test]
    fn a_log_cut_at_a_block_boundary_is_damaged_unless_it_is_a_part_file() {
        let unclosed = ReadStats {
            ended: true,
            file_bytes: 4096,
            ..ReadStats::default()
        };
        let d = Damage::of("cut.reel", &unclosed);
        assert!(!d.is_none());
        assert_eq!(
            d.to_string(),
            "cut.reel: damaged: ends at byte 4096 without its closing record (cut short, \
             or written by a run that did not finish)"
        );
        assert_eq!(d.to_json()["unclosed"][0]["bytes"], 4096);
        assert!(Damage::of("live.reel.part", &unclosed).is_none());
    }

    #[test]
    fn tallies_add_up_and_keep_the_first_place() {
        let mut d = Damage::of("ok.reel", &ReadStats::default());
        d += cut();
        d += Damage::of(
            "b.reel",
            &ReadStats {
                undecodable_records: 2,
                first_skip_at: None,
                ..ReadStats::default()
            },
        );
        assert_eq!((d.skipped_blocks, d.skipped_records, d.inputs), (1, 2, 2));
        assert_eq!(d.first, Some(("cut.reel".into(), 52)));
        assert!(
            d.to_string()
                .starts_with("cut.reel and 1 more inputs: damaged:")
        );
        assert!(
            d.to_string()
                .ends_with("2 records that do not decode skipped")
        );
    }
}
