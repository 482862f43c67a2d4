//! What a run noticed about its input, carried by every stage: warnings (counted, with a few
//! examples) and the account of every input row. Domain types at the bottom of the crate: the
//! stages fill them, the manifest writes them.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::error::{Error, Result};

/// Warnings by kind: a count and the first few examples. Warnings never stop a run.
#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct Warnings(pub BTreeMap<String, WarningEntry>);

#[derive(Debug, Default, Clone, Serialize, PartialEq)]
pub struct WarningEntry {
    pub count: u64,
    pub examples: Vec<String>,
}

const MAX_EXAMPLES: usize = 5;

impl Warnings {
    pub fn add(&mut self, kind: &str, example: String) {
        let e = self.0.entry(kind.to_string()).or_default();
        e.count += 1;
        if e.examples.len() < MAX_EXAMPLES {
            e.examples.push(example);
        }
    }

    pub fn merge(&mut self, other: Warnings) {
        for (kind, entry) in other.0 {
            let e = self.0.entry(kind).or_default();
            e.count += entry.count;
            for ex in entry.examples {
                if e.examples.len() < MAX_EXAMPLES {
                    e.examples.push(ex);
                }
            }
        }
    }

    pub fn count(&self, kind: &str) -> u64 {
        self.0.get(kind).map_or(0, |e| e.count)
    }
}

/// Row accounting for one input table: rows_in = rows_used + rows_quarantined +
/// duplicates_dropped + rows_other_shards.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
pub struct RowAccounting {
    pub rows_in: u64,
    pub rows_used: u64,
    pub rows_quarantined: u64,
    pub duplicates_dropped: u64,
    /// `--shard I/N`: rows that belong to another shard (that shard's run accounts for them).
    pub rows_other_shards: u64,
    /// `--date D`: rows of conversations created on another day (that night's run owns them).
    pub rows_other_days: u64,
}

impl RowAccounting {
    /// Adds another part's account (a partition's rows, each counted in one part only).
    pub fn add(&mut self, part: &RowAccounting) {
        self.rows_in += part.rows_in;
        self.rows_used += part.rows_used;
        self.rows_quarantined += part.rows_quarantined;
        self.duplicates_dropped += part.duplicates_dropped;
        self.rows_other_shards += part.rows_other_shards;
        self.rows_other_days += part.rows_other_days;
    }

    /// Fails the run loudly if a row went missing or was counted twice: that is a bug.
    pub fn check(&self, table: &str) -> Result<()> {
        let accounted = self.rows_used
            + self.rows_quarantined
            + self.duplicates_dropped
            + self.rows_other_shards
            + self.rows_other_days;
        if accounted != self.rows_in {
            return Err(Error::Internal(format!(
                "row accounting broken for {table}: rows_in {} != rows_used {} + rows_quarantined {} + duplicates_dropped {} + rows_other_shards {} + rows_other_days {}",
                self.rows_in, self.rows_used, self.rows_quarantined, self.duplicates_dropped, self.rows_other_shards, self.rows_other_days
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_must_add_up() {
        let ok = RowAccounting {
            rows_in: 10,
            rows_used: 7,
            rows_quarantined: 2,
            duplicates_dropped: 1,
            rows_other_shards: 0,
            rows_other_days: 0,
        };
        assert!(ok.check("messages").is_ok());
        let broken = RowAccounting {
            rows_in: 10,
            rows_used: 7,
            rows_quarantined: 2,
            duplicates_dropped: 0,
            rows_other_shards: 0,
            rows_other_days: 0,
        };
        let err = broken.check("messages").unwrap_err();
        assert_eq!(err.exit_code(), 1);
    }

    #[test]
    fn warnings_keep_counts_and_a_few_examples() {
        let mut w = Warnings::default();
        for i in 0..8 {
            w.add("late", format!("m{i}"));
        }
        assert_eq!(w.count("late"), 8);
        assert_eq!(w.0["late"].examples.len(), MAX_EXAMPLES);
    }
}
