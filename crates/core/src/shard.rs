//! `--shard I/N`: one of N disjoint parts of the input, by a stable hash of the customer, so
//! orchestrators without Spark (Kubernetes Indexed Jobs, Airflow, Slurm arrays) can run N
//! processes and merge their outputs with `convoqa kpis --rescore`.
//!
//! Everything that links conversations (reopens, repeat contacts) is within one customer, so a
//! customer's conversations must stay together: a conversation's key is its customer_id (from
//! the conversations table, else from its messages), or its conversation_id when it has none.
//! Rows quarantined at read time go with their conversation_id's key, else with their position.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::input::{ConversationsInput, MessagesInput};
use crate::text::stable_hash;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// "I/N" with 0 <= I < N.
    pub fn parse(raw: &str) -> Result<Shard> {
        let bad = |problem: String| {
            Error::config("--shard", problem, "use I/N with 0 <= I < N, e.g. --shard 0/4 ... --shard 3/4")
        };
        let (i, n) = raw.split_once('/').ok_or_else(|| bad(format!("{raw:?} is not I/N")))?;
        let index: u32 = i.trim().parse().map_err(|_| bad(format!("{i:?} is not a number")))?;
        let count: u32 = n.trim().parse().map_err(|_| bad(format!("{n:?} is not a number")))?;
        if count == 0 || index >= count {
            return Err(bad(format!("{index}/{count} is out of range")));
        }
        Ok(Shard { index, count })
    }

    pub fn owns(&self, key: &str) -> bool {
        stable_hash(key) % self.count as u64 == self.index as u64
    }
}

/// Each conversation's customer, the key that keeps a customer's conversations in one part
/// (shard or partition): from the conversations table first, then from its messages; the
/// conversation_id itself when it has none.
#[derive(Debug, Default)]
pub struct CustomerKeys(HashMap<String, String>);

impl CustomerKeys {
    pub fn add_records(&mut self, conversations: Option<&ConversationsInput>) {
        for (rec, _) in conversations.iter().flat_map(|c| &c.records) {
            if let Some(id) = &rec.customer_id {
                self.0.entry(rec.conversation_id.clone()).or_insert_with(|| id.clone());
            }
        }
    }

    pub fn add_message(&mut self, m: &crate::model::Message) {
        if let Some(id) = &m.customer_id {
            if !self.0.contains_key(&m.thread_id) {
                self.0.insert(m.thread_id.clone(), id.clone());
            }
        }
    }

    /// The part (0..count) of a conversation (its input id, the thread).
    pub fn part(&self, conversation_id: &str, count: u32) -> u32 {
        (stable_hash(self.key(conversation_id)) % count as u64) as u32
    }

    fn key<'a>(&'a self, conversation_id: &'a str) -> &'a str {
        self.0.get(conversation_id).map_or(conversation_id, String::as_str)
    }

    /// The partition (0..count) of a conversation within `shard`'s part, None when another
    /// shard owns it.
    pub fn place(&self, conversation_id: &str, shard: Option<Shard>, count: u32) -> Option<u32> {
        self.place_key(self.key(conversation_id), shard, count)
    }

    /// As `place`, for a customer key (a customer_id, or the thread of a conversation without one).
    pub fn place_key(&self, key: &str, shard: Option<Shard>, count: u32) -> Option<u32> {
        let hash = stable_hash(key);
        match shard {
            None => Some((hash % count as u64) as u32),
            // The shard takes the hash's remainder, the partition what is left of it, so a
            // shard's customers spread over every partition.
            Some(s) => (hash % s.count as u64 == s.index as u64).then(|| (hash / s.count as u64 % count as u64) as u32),
        }
    }
}

/// Whether `shard` owns a row quarantined at read time: its conversation's, else by position.
pub fn owns_quarantined(keys: &CustomerKeys, shard: Shard, q: &crate::model::QuarantinedRow) -> bool {
    match &q.conversation_id {
        Some(id) => keys.part(id, shard.count) == shard.index,
        None => shard.owns(&format!("{}:{}:{}", q.table, q.source.file, q.source.row)),
    }
}

/// Keeps this shard's rows; the rest are counted as rows_other_shards.
pub fn select(
    mut messages: MessagesInput,
    mut conversations: Option<ConversationsInput>,
    shard: Shard,
) -> (MessagesInput, Option<ConversationsInput>) {
    let mut customer = CustomerKeys::default();
    customer.add_records(conversations.as_ref());
    for m in &messages.messages {
        customer.add_message(m);
    }
    let owns = |conversation_id: &str| customer.part(conversation_id, shard.count) == shard.index;
    let owns_quarantined = |q: &crate::model::QuarantinedRow| owns_quarantined(&customer, shard, q);

    let before = messages.messages.len() + messages.quarantined.len();
    messages.messages.retain(|m| owns(&m.thread_id));
    messages.quarantined.retain(owns_quarantined);
    messages.rows_other_shards = (before - messages.messages.len() - messages.quarantined.len()) as u64;
    if let Some(c) = &mut conversations {
        let before = c.records.len() + c.quarantined.len();
        c.records.retain(|(rec, _)| owns(&rec.conversation_id));
        c.quarantined.retain(owns_quarantined);
        c.rows_other_shards = (before - c.records.len() - c.quarantined.len()) as u64;
    }
    (messages, conversations)
}

/// `--date D`: keeps the conversations created on local day `day` (created_at from the
/// conversations table, else the first message); the others' messages and records are counted
/// as rows_other_days. A conversation belongs to the night of the day it started.
pub fn select_day(assembled: &mut crate::assemble::Assembled, day: jiff::civil::Date, tz: &jiff::tz::TimeZone) {
    let created = |c: &crate::model::Conversation| {
        c.record.as_ref().and_then(|r| r.created_at_us).or(c.messages.first().map(|m| m.sent_at_us))
    };
    let (mut messages, mut records) = (0u64, 0u64);
    assembled.conversations.retain(|c| {
        let keep = created(c).and_then(|t| crate::aggregate::local_day(t, tz)) == Some(day);
        if !keep {
            messages += c.messages.len() as u64;
            records += c.record.is_some() as u64;
        }
        keep
    });
    assembled.messages_rows.rows_used -= messages;
    assembled.messages_rows.rows_other_days += messages;
    if let Some(acc) = &mut assembled.conversations_rows {
        acc.rows_used -= records;
        acc.rows_other_days += records;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_accepts_i_of_n_and_refuses_the_rest() {
        assert_eq!(Shard::parse("2/4").unwrap(), Shard { index: 2, count: 4 });
        for bad in ["4/4", "1/0", "a/2", "3", "-1/2"] {
            let e = Shard::parse(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn every_key_has_exactly_one_shard() {
        for key in ["6281234", "cust-9", "", "conv-1#2"] {
            let owners = (0..5).filter(|&i| Shard { index: i, count: 5 }.owns(key)).count();
            assert_eq!(owners, 1, "{key}");
        }
    }
}
