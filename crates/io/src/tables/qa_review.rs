//! qa_review.parquet and qa_review.csv: the QA list, flagged conversations ranked, then the
//! control sample. Read back by tools and tests (`from_batch`).

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::UInt64Type;

use crate::error::{Error, Result};
use crate::qa::QaItem;
use crate::write::TableBuilder;

/// qa_review.parquet.
pub fn to_batch(items: &[QaItem]) -> Result<RecordBatch> {
    let mut t = TableBuilder::new();
    t.str("conversation_id", items.iter().map(|i| Some(&i.conversation_id)));
    t.str("group", items.iter().map(|i| Some(i.group)));
    t.u64("rank", items.iter().map(|i| i.rank));
    t.f64("low_csat_risk", items.iter().map(|i| i.low_csat_risk));
    t.f64("false_fcr_risk", items.iter().map(|i| i.false_fcr_risk));
    t.str("reasons", items.iter().map(|i| Some(&i.reasons)));
    t.str("primary_agent_id", items.iter().map(|i| i.primary_agent_id.as_deref()));
    t.str("channel", items.iter().map(|i| i.channel.as_deref()));
    t.str("team", items.iter().map(|i| i.team.as_deref()));
    t.str("intent", items.iter().map(|i| i.intent.as_deref()));
    t.str("evidence_message_ids", items.iter().map(|i| Some(&i.evidence_message_ids)));
    t.str("evidence", items.iter().map(|i| Some(&i.evidence)));
    t.finish()
}

/// qa_review.csv, for spreadsheet users: `csv_writer`, then `csv_rows` a chunk of the list at a
/// time, then `csv_finish`.
pub fn csv_finish<W: std::io::Write>(w: csv::Writer<W>) -> Result<W> {
    w.into_inner().map_err(|e| Error::format("writing qa_review.csv")(e.into_error()))
}

/// qa_review.csv's writer, its header written; rows follow with `csv_rows`.
pub fn csv_writer<W: std::io::Write>(out: W) -> Result<csv::Writer<W>> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "conversation_id",
        "group",
        "rank",
        "low_csat_risk",
        "false_fcr_risk",
        "reasons",
        "primary_agent_id",
        "channel",
        "team",
        "intent",
        "evidence_message_ids",
        "evidence",
    ])
    .map_err(Error::format("writing qa_review.csv"))?;
    Ok(w)
}

pub fn csv_rows<W: std::io::Write>(w: &mut csv::Writer<W>, items: &[QaItem]) -> Result<()> {
    let internal = |e: csv::Error| Error::format("writing qa_review.csv")(e);
    let num = |v: Option<f64>| v.map_or(String::new(), |x| format!("{x:.4}"));
    for i in items {
        w.write_record([
            i.conversation_id.as_str(),
            i.group,
            &i.rank.to_string(),
            &num(i.low_csat_risk),
            &num(i.false_fcr_risk),
            &i.reasons,
            i.primary_agent_id.as_deref().unwrap_or(""),
            i.channel.as_deref().unwrap_or(""),
            i.team.as_deref().unwrap_or(""),
            i.intent.as_deref().unwrap_or(""),
            &i.evidence_message_ids,
            &i.evidence,
        ])
        .map_err(internal)?;
    }
    Ok(())
}

/// QA items back from a qa_review batch.
pub fn from_batch(b: &RecordBatch) -> Vec<QaItem> {
    let col = |name: &str| b.column_by_name(name).expect("a qa_review column");
    let s = |name: &str, r: usize| {
        let a = col(name).as_string::<i32>();
        a.is_valid(r).then(|| a.value(r).to_string())
    };
    let f = |name: &str, r: usize| {
        let a = col(name).as_primitive::<arrow::datatypes::Float64Type>();
        a.is_valid(r).then(|| a.value(r))
    };
    (0..b.num_rows())
        .map(|r| QaItem {
            conversation_id: s("conversation_id", r).unwrap_or_default(),
            group: if s("group", r).as_deref() == Some("flagged") { "flagged" } else { "control" },
            rank: col("rank").as_primitive::<UInt64Type>().value(r),
            low_csat_risk: f("low_csat_risk", r),
            false_fcr_risk: f("false_fcr_risk", r),
            reasons: s("reasons", r).unwrap_or_default(),
            primary_agent_id: s("primary_agent_id", r),
            channel: s("channel", r),
            team: s("team", r),
            intent: s("intent", r),
            evidence_message_ids: s("evidence_message_ids", r).unwrap_or_default(),
            evidence: s("evidence", r).unwrap_or_default(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item() -> impl Strategy<Value = QaItem> {
        let text = || "[a-zA-Z0-9 ,|:é😀-]{0,16}";
        (
            (
                "[a-z0-9#-]{1,10}",
                any::<bool>(),
                0..1000u64,
                prop::option::of(0.0..1.0f64),
                prop::option::of(0.0..1.0f64),
            ),
            (
                text(),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
                prop::option::of(text()),
            ),
            (text(), text()),
        )
            .prop_map(
                |((id, flagged, rank, low, fcr), (reasons, agent, channel, team, intent), (ids, evidence))| QaItem {
                    conversation_id: id,
                    group: if flagged { "flagged" } else { "control" },
                    rank,
                    low_csat_risk: low,
                    false_fcr_risk: fcr,
                    reasons,
                    primary_agent_id: agent,
                    channel,
                    team,
                    intent,
                    evidence_message_ids: ids,
                    evidence,
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn qa_review_round_trips(items in prop::collection::vec(item(), 0..12)) {
            prop_assert_eq!(from_batch(&to_batch(&items).unwrap()), items);
        }
    }
}
