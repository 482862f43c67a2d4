//! The QA list's quotes, spilled per partition by a `--partitions` run (one row per quoted
//! message) and read back for the conversations the list selects.

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::UInt32Type;

use crate::error::{Error, Result};
use crate::qa::{EvidenceQuotes, Quote};
use crate::write::TableBuilder;

pub fn to_batch(quotes: &[(String, EvidenceQuotes)]) -> Result<RecordBatch> {
    let rows = || quotes.iter().flat_map(|(id, q)| q.0.iter().map(move |quote| (id, quote)));
    let mut t = TableBuilder::new();
    t.str("conversation_id", rows().map(|(id, _)| Some(id)));
    t.u32("message", rows().map(|(_, q)| q.message));
    t.str("message_id", rows().map(|(_, q)| Some(&q.message_id)));
    t.str("text", rows().map(|(_, q)| Some(&q.text)));
    t.finish()
}

/// The quotes of one batch, grouped by conversation in the order they were written; a
/// conversation without quotes has no rows.
pub fn from_batch(b: &RecordBatch) -> Result<Vec<(String, EvidenceQuotes)>> {
    let col = |name: &str| {
        b.column_by_name(name).ok_or_else(|| Error::internal(format!("qa evidence spill: no column {name}")))
    };
    let (ids, messages, message_ids, texts) = (
        col("conversation_id")?.as_string::<i32>(),
        col("message")?.as_primitive::<UInt32Type>(),
        col("message_id")?.as_string::<i32>(),
        col("text")?.as_string::<i32>(),
    );
    let mut out: Vec<(String, EvidenceQuotes)> = Vec::new();
    for r in 0..b.num_rows() {
        let quote = Quote {
            message: messages.value(r),
            message_id: message_ids.value(r).to_string(),
            text: texts.value(r).to_string(),
        };
        match out.last_mut() {
            Some((id, q)) if id == ids.value(r) => q.0.push(quote),
            _ => out.push((ids.value(r).to_string(), EvidenceQuotes(vec![quote]))),
        }
    }
    debug_assert!(ids.null_count() == 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn quotes() -> impl Strategy<Value = (String, EvidenceQuotes)> {
        ("[a-z0-9#-]{1,10}", prop::collection::vec((0..500u32, "[a-z0-9-]{1,8}", "[a-zA-Z0-9 ,|:\"é😀-]{0,20}"), 1..4))
            .prop_map(|(id, qs)| {
                let quotes = qs.into_iter().map(|(message, message_id, text)| Quote { message, message_id, text });
                (id, EvidenceQuotes(quotes.collect()))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn qa_evidence_round_trips(mut all in prop::collection::vec(quotes(), 0..8)) {
            // One entry per conversation, as a partition writes them.
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all.dedup_by(|a, b| a.0 == b.0);
            prop_assert_eq!(from_batch(&to_batch(&all).unwrap()).unwrap(), all);
        }
    }
}
