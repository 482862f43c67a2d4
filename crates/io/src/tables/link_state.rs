//! link_state.parquet (nightly runs): each conversation's topic (intent, order numbers and other
//! references, the embedding), so the next nights can link returns to it.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::Float32Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::{Columns, FIX};
use crate::error::{Error, Result};
use crate::link::StoredTopic;
use crate::row::{ConversationRow, ResolutionState};
use crate::write::TableBuilder;

/// link_state.parquet (nightly runs): each conversation's topic, so the next nights can link
/// returns to it by topic.
pub fn to_batch(rows: &[ConversationRow], topics: &[crate::link::StoredTopic]) -> Result<RecordBatch> {
    let mut t = TableBuilder::new();
    t.str("conversation_id", rows.iter().map(|r| Some(&r.conversation_id)));
    t.str("topic_intent", topics.iter().map(|x| x.intent.as_deref()));
    t.str("topic_references", topics.iter().map(|x| Some(x.references.join(","))));
    t.f32_list_opt("topic_embedding", topics.iter().map(|x| x.embedding.as_deref()));
    t.str("topic_resolution_state", topics.iter().map(|x| x.resolution.map(|r| r.as_str())));
    t.finish()
}

/// The topics of one stored batch, by conversation_id.
pub fn from_batch(batch: &RecordBatch, path: &Path, topics: &mut HashMap<String, StoredTopic>) -> Result<()> {
    let c = Columns { batch, path };
    let embedding = batch
        .column_by_name("topic_embedding")
        .and_then(|a| a.as_list_opt::<i32>())
        .ok_or_else(|| Error::input(path, "no list column \"topic_embedding\"", FIX))?;
    // Written since the resolution head joined the reopen rule; older state files lack it.
    let has_resolution = batch.column_by_name("topic_resolution_state").is_some();
    for i in 0..batch.num_rows() {
        let resolution = match has_resolution {
            true => c.str("topic_resolution_state", i)?.as_deref().and_then(ResolutionState::parse),
            false => None,
        };
        let vector = embedding.is_valid(i).then(|| embedding.value(i).as_primitive::<Float32Type>().values().to_vec());
        let references = c.str("topic_references", i)?.unwrap_or_default();
        topics.insert(
            c.required("conversation_id", i, c.str("conversation_id", i)?)?,
            StoredTopic {
                intent: c.str("topic_intent", i)?,
                embedding: vector,
                references: references.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                resolution,
            },
        );
    }
    Ok(())
}

/// The topics of a nightly partition's link_state.parquet, by conversation_id.
pub fn read(path: &Path) -> Result<HashMap<String, StoredTopic>> {
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, "opening", e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| Error::read(path, "reading Parquet", e))?;
    let mut topics = HashMap::new();
    for batch in reader {
        from_batch(&batch.map_err(|e| Error::read(path, "reading Parquet", e))?, path, &mut topics)?;
    }
    Ok(topics)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn link_state_round_trips(topics in prop::collection::btree_map(
            "[a-z0-9#-]{1,10}",
            (prop::option::of("[a-z_]{1,12}"), prop::option::of(prop::collection::vec(-1.0..1.0f32, 4)), prop::collection::vec("[A-Z0-9/-]{1,10}", 0..3), prop::option::of(0..4usize)),
            0..12,
        )) {
            let rows: Vec<ConversationRow> = topics.keys().map(|id| ConversationRow { conversation_id: id.clone(), ..Default::default() }).collect();
            let stored: Vec<StoredTopic> = topics.values().map(|(intent, embedding, references, state)| StoredTopic { intent: intent.clone(), embedding: embedding.clone(), references: references.clone(), resolution: state.map(|k| ResolutionState::ALL[k]) }).collect();
            let mut back = HashMap::new();
            from_batch(&to_batch(&rows, &stored).unwrap(), Path::new("t.parquet"), &mut back).unwrap();
            let want: HashMap<String, StoredTopic> = rows.iter().map(|r| r.conversation_id.clone()).zip(stored).collect();
            prop_assert_eq!(back, want);
        }
    }
}
