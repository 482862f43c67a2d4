//! voc_backlog.parquet: the themes, ranked; the next run reads their intent, size and centroid
//! back for the trend (`analyze --previous DIR`).

use std::path::Path;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Float64Type, UInt64Type};

use crate::error::{Error, Result};
use crate::voc::{PreviousTheme, VocItem};
use crate::write::TableBuilder;

/// voc_backlog.parquet's theme embedding, read back by the next run for the trend.
pub const CENTROID_COLUMN: &str = "theme_centroid";

/// voc_backlog.parquet; quotes joined by " | ".
pub fn to_batch(items: &[VocItem]) -> Result<RecordBatch> {
    let mut t = TableBuilder::new();
    t.u64("rank", items.iter().map(|i| i.rank));
    t.str("intent", items.iter().map(|i| Some(&i.intent)));
    t.str("owner_team", items.iter().map(|i| i.owner_team.as_deref()));
    t.str("title", items.iter().map(|i| Some(&i.title)));
    t.u64("conversations", items.iter().map(|i| i.conversations));
    t.f64("share", items.iter().map(|i| Some(i.share)));
    t.u64("messages", items.iter().map(|i| i.messages));
    t.f64("reopen_rate", items.iter().map(|i| i.reopen_rate));
    t.f64("surveyed_low_csat_share", items.iter().map(|i| i.surveyed_low_csat_share));
    t.f64("low_csat_share", items.iter().map(|i| Some(i.low_csat_share)));
    t.f64("cost", items.iter().map(|i| Some(i.cost)));
    t.str("quotes", items.iter().map(|i| Some(i.quotes.join(" | "))));
    t.str("conversation_ids", items.iter().map(|i| Some(i.conversation_ids.join(","))));
    t.str("trend", items.iter().map(|i| i.trend.as_ref().map(|t| t.direction)));
    t.u64_opt("previous_conversations", items.iter().map(|i| i.trend.as_ref().and_then(|t| t.previous_conversations)));
    t.f64("previous_share", items.iter().map(|i| i.trend.as_ref().and_then(|t| t.previous_share)));
    t.f32_list(CENTROID_COLUMN, items.iter().map(|i| i.centroid.as_slice()));
    t.finish()
}

/// The themes of an earlier run's voc_backlog.parquet (`analyze --previous DIR`).
pub fn read_previous(dir: &Path) -> Result<Vec<PreviousTheme>> {
    let path = dir.join("voc_backlog.parquet");
    let fix = "pass the output directory of an earlier `convoqa analyze` run made with the model on (it holds voc_backlog.parquet with a theme_centroid column)";
    let file = std::fs::File::open(&path)
        .map_err(|e| Error::input(&path, format!("cannot open the previous run's VOC backlog: {e}"), fix))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| Error::read(&path, "reading the previous VOC backlog", e))?;
    let mut themes = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| Error::read(&path, "reading the previous VOC backlog", e))?;
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| Error::input(&path, format!("no column {name:?}"), fix))
        };
        let (intent, conversations, share, centroid) =
            (column("intent")?, column("conversations")?, column("share")?, column(CENTROID_COLUMN)?);
        let wrong = |name: &str| Error::input(&path, format!("column {name:?} has an unexpected type"), fix);
        let intent = intent.as_string_opt::<i32>().ok_or_else(|| wrong("intent"))?;
        let conversations = conversations.as_primitive_opt::<UInt64Type>().ok_or_else(|| wrong("conversations"))?;
        let share = share.as_primitive_opt::<Float64Type>().ok_or_else(|| wrong("share"))?;
        let centroid = centroid.as_list_opt::<i32>().ok_or_else(|| wrong(CENTROID_COLUMN))?;
        for i in 0..batch.num_rows() {
            let values = centroid.value(i);
            let values = values.as_primitive_opt::<Float32Type>().ok_or_else(|| wrong(CENTROID_COLUMN))?;
            themes.push(PreviousTheme {
                intent: intent.value(i).to_string(),
                conversations: conversations.value(i),
                share: share.value(i),
                centroid: values.values().to_vec(),
            });
        }
    }
    Ok(themes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item() -> impl Strategy<Value = VocItem> {
        (
            "[a-z_]{1,12}",
            0..1000u64,
            0.0..1.0f64,
            prop::collection::vec(-1.0..1.0f32, 3),
            prop::collection::vec("[a-z ]{0,20}", 0..4),
        )
            .prop_map(|(intent, conversations, share, centroid, quotes)| VocItem {
                rank: 1,
                intent,
                owner_team: None,
                title: "t".into(),
                conversations,
                share,
                messages: conversations * 2,
                reopen_rate: None,
                surveyed_low_csat_share: None,
                low_csat_share: 0.5,
                cost: 1.0,
                quotes,
                conversation_ids: vec![],
                centroid,
                trend: None,
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        #[test]
        fn the_next_run_reads_back_what_the_trend_needs(items in prop::collection::vec(item(), 0..8)) {
            let dir = tempfile::tempdir().unwrap();
            crate::write::write_parquet(&dir.path().join("voc_backlog.parquet"), &to_batch(&items).unwrap()).unwrap();
            let back = read_previous(dir.path()).unwrap();
            let want: Vec<PreviousTheme> = items.iter().map(|i| PreviousTheme { intent: i.intent.clone(), conversations: i.conversations, share: i.share, centroid: i.centroid.clone() }).collect();
            prop_assert_eq!(back, want);
        }
    }
}
