//! conversations.parquet, and a partitioned run's row spill: one per-conversation row each. The
//! schema lives here once: [`to_batch`] writes it, [`from_batch`] reads it back (stored runs for
//! `convoqa kpis`, nightly stores, spills), and a round-trip test holds the two together.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{Field, Schema, UInt64Type};

use crate::error::{Error, Result};
use crate::link::ReopenReason;
use crate::model::Status;
use crate::row::{ConversationRow, LinkOutcome, ModelReading, ResolutionState, ResolvedBy, RiskOutcome};
use crate::signals::{Signal, SIGNALS};
use crate::write::TableBuilder;

use super::{conform, Columns, FIX};

/// A partitioned run's spilled rows: conversations.parquet's columns plus, per signal,
/// `evidence_<signal column>` (the message that shows it), which store::read_rows_file restores.
pub fn spill_batch(rows: &[ConversationRow]) -> Result<RecordBatch> {
    let base = to_batch(rows)?;
    let mut t = TableBuilder::new();
    for s in SIGNALS {
        t.u64_opt(
            &format!("evidence_{}", s.column()),
            rows.iter().map(|r| r.risk_signals.evidence(s).map(|i| i as u64)),
        );
    }
    let extra = t.finish()?;
    let fields: Vec<Field> =
        base.schema().fields().iter().chain(extra.schema().fields().iter()).map(|f| f.as_ref().clone()).collect();
    let columns: Vec<ArrayRef> = base.columns().iter().chain(extra.columns()).cloned().collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).map_err(Error::arrow("rows spill batch"))
}

/// conversations.parquet: one row per conversation, every per-conversation field.
pub fn to_batch(rows: &[ConversationRow]) -> Result<RecordBatch> {
    let mut t = TableBuilder::new();
    t.str("conversation_id", rows.iter().map(|r| Some(&r.conversation_id)));
    t.str("thread_id", rows.iter().map(|r| Some(&r.thread_id)));
    t.str("customer_id", rows.iter().map(|r| r.customer_id.as_deref()));
    t.str("channel", rows.iter().map(|r| r.channel.as_deref()));
    t.str("team", rows.iter().map(|r| r.team.as_deref()));
    t.str("status", rows.iter().map(|r| r.status.map(|s| s.as_str())));
    t.ts("created_at", rows.iter().map(|r| Some(r.created_at_us)));
    t.ts("first_message_at", rows.iter().map(|r| Some(r.first_message_at_us)));
    t.ts("last_message_at", rows.iter().map(|r| Some(r.last_message_at_us)));
    t.bool("resolved", rows.iter().map(|r| Some(r.is_resolved())));
    t.ts("resolved_at", rows.iter().map(|r| r.resolved_at_us));
    t.str("resolved_by", rows.iter().map(|r| r.resolved_by.map(|b| b.as_str())));
    t.u64("messages", rows.iter().map(|r| r.messages));
    t.u64("customer_messages", rows.iter().map(|r| r.customer_messages));
    t.u64("human_replies", rows.iter().map(|r| r.human_replies));
    t.u64("bot_messages", rows.iter().map(|r| r.bot_messages));
    t.f64("frt_total_s", rows.iter().map(|r| r.frt_total_s));
    t.f64("frt_human_s", rows.iter().map(|r| r.frt_human_s));
    t.f64("frt_handover_s", rows.iter().map(|r| r.frt_handover_s));
    t.f64("avg_response_s", rows.iter().map(|r| r.avg_response_s));
    t.u64("answered_turns", rows.iter().map(|r| r.answered_turns));
    t.u64("unanswered_turns", rows.iter().map(|r| r.unanswered_turns));
    t.bool("unanswered", rows.iter().map(|r| Some(r.unanswered)));
    t.f64("resolution_s", rows.iter().map(|r| r.resolution_s));
    t.f64("handle_s", rows.iter().map(|r| r.handle_s));
    t.f64("frt_human_bh_s", rows.iter().map(|r| r.frt_human_bh_s));
    t.f64("resolution_bh_s", rows.iter().map(|r| r.resolution_bh_s));
    t.bool("had_bot", rows.iter().map(|r| Some(r.had_bot)));
    t.bool("handed_over", rows.iter().map(|r| Some(r.handed_over)));
    t.bool("bot_contained", rows.iter().map(|r| Some(r.bot_contained)));
    t.str("primary_agent_id", rows.iter().map(|r| r.primary_agent_id.as_deref()));
    t.f64("csat_score", rows.iter().map(|r| r.csat_score));
    t.str("csat_source", rows.iter().map(|r| r.csat_source));
    t.f64("nps_score", rows.iter().map(|r| r.nps_score));
    t.f64("ces_score", rows.iter().map(|r| r.ces_score));
    t.f64("sla_s", rows.iter().map(|r| Some(r.sla_s)));
    t.bool("within_sla", rows.iter().map(|r| r.within_sla));
    t.bool("reopened", rows.iter().map(|r| r.link.reopened));
    t.str("reopen_of", rows.iter().map(|r| r.link.reopen_of.as_deref()));
    t.str("reopen_reason", rows.iter().map(|r| r.link.reopen_reason));
    t.bool("fcr", rows.iter().map(|r| r.link.fcr));
    t.bool("fcr_mature", rows.iter().map(|r| Some(r.link.fcr_mature)));
    t.f64("sentiment_start", rows.iter().map(|r| r.reading.sentiment.start));
    t.f64("sentiment_end", rows.iter().map(|r| r.reading.sentiment.end));
    t.f64("sentiment_mean", rows.iter().map(|r| r.reading.sentiment.mean));
    t.f64("sentiment_min", rows.iter().map(|r| r.reading.sentiment.min));
    t.f64("sentiment_trend", rows.iter().map(|r| r.reading.sentiment.trend));
    t.bool("ends_negative", rows.iter().map(|r| r.reading.sentiment.ends_negative));
    t.str("intent", rows.iter().map(|r| r.reading.intent.as_deref()));
    t.f64("intent_confidence", rows.iter().map(|r| r.reading.intent_confidence));
    t.str("resolution_state", rows.iter().map(|r| r.reading.resolution_state.map(ResolutionState::as_str)));
    t.f64("resolution_confidence", rows.iter().map(|r| r.reading.resolution_confidence));
    t.f64("low_csat_risk", rows.iter().map(|r| r.risk.low_csat_risk));
    t.str("low_csat_reasons", rows.iter().map(|r| r.risk.low_csat_risk.map(|_| r.risk.low_csat_reasons.join(","))));
    t.f64("false_fcr_risk", rows.iter().map(|r| r.risk.false_fcr_risk));
    t.str("false_fcr_reasons", rows.iter().map(|r| r.risk.false_fcr_risk.map(|_| r.risk.false_fcr_reasons.join(","))));
    for (i, signal) in SIGNALS.iter().enumerate() {
        t.f64(&signal.column(), rows.iter().map(|r| Some(r.risk_signals.values[i])));
    }
    t.finish()
}

fn reasons(c: &Columns, name: &str, i: usize) -> Result<Vec<&'static str>> {
    let raw = c.str(name, i)?.unwrap_or_default();
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(|code| {
            Signal::from_code(code)
                .map(Signal::code)
                .ok_or_else(|| Error::input(c.path, format!("{name}: unknown reason {code:?}"), FIX))
        })
        .collect()
}

fn row(c: &Columns, i: usize) -> Result<ConversationRow> {
    let mut r = ConversationRow {
        conversation_id: c.required("conversation_id", i, c.str("conversation_id", i)?)?,
        thread_id: c.required("thread_id", i, c.str("thread_id", i)?)?,
        customer_id: c.str("customer_id", i)?,
        channel: c.str("channel", i)?,
        team: c.str("team", i)?,
        status: c.known("status", c.str("status", i)?, Status::parse)?,
        created_at_us: c.required("created_at", i, c.ts("created_at", i)?)?,
        first_message_at_us: c.required("first_message_at", i, c.ts("first_message_at", i)?)?,
        last_message_at_us: c.required("last_message_at", i, c.ts("last_message_at", i)?)?,
        resolved_at_us: c.ts("resolved_at", i)?,
        resolved_by: c.known("resolved_by", c.str("resolved_by", i)?, ResolvedBy::parse)?,
        messages: c.u64("messages", i)?,
        customer_messages: c.u64("customer_messages", i)?,
        human_replies: c.u64("human_replies", i)?,
        bot_messages: c.u64("bot_messages", i)?,
        frt_total_s: c.f64("frt_total_s", i)?,
        frt_human_s: c.f64("frt_human_s", i)?,
        frt_handover_s: c.f64("frt_handover_s", i)?,
        avg_response_s: c.f64("avg_response_s", i)?,
        answered_turns: c.u64("answered_turns", i)?,
        unanswered_turns: c.u64("unanswered_turns", i)?,
        unanswered: c.required("unanswered", i, c.bool("unanswered", i)?)?,
        resolution_s: c.f64("resolution_s", i)?,
        handle_s: c.f64("handle_s", i)?,
        frt_human_bh_s: c.f64("frt_human_bh_s", i)?,
        resolution_bh_s: c.f64("resolution_bh_s", i)?,
        had_bot: c.required("had_bot", i, c.bool("had_bot", i)?)?,
        handed_over: c.required("handed_over", i, c.bool("handed_over", i)?)?,
        bot_contained: c.required("bot_contained", i, c.bool("bot_contained", i)?)?,
        primary_agent_id: c.str("primary_agent_id", i)?,
        csat_score: c.f64("csat_score", i)?,
        csat_source: c.str("csat_source", i)?.and_then(|s| crate::features::csat_source_name(&s)),
        nps_score: c.f64("nps_score", i)?,
        ces_score: c.f64("ces_score", i)?,
        sla_s: c.required("sla_s", i, c.f64("sla_s", i)?)?,
        within_sla: c.bool("within_sla", i)?,
        link: LinkOutcome {
            reopened: c.bool("reopened", i)?,
            reopen_of: c.str("reopen_of", i)?,
            reopen_reason: c.known("reopen_reason", c.str("reopen_reason", i)?, |s| {
                ReopenReason::parse(s).map(ReopenReason::as_str)
            })?,
            fcr: c.bool("fcr", i)?,
            fcr_mature: c.required("fcr_mature", i, c.bool("fcr_mature", i)?)?,
        },
        reading: ModelReading {
            intent: c.str("intent", i)?,
            intent_confidence: c.f64("intent_confidence", i)?,
            resolution_state: c.known("resolution_state", c.str("resolution_state", i)?, ResolutionState::parse)?,
            resolution_confidence: c.f64("resolution_confidence", i)?,
            ..Default::default()
        },
        risk: RiskOutcome {
            low_csat_risk: c.f64("low_csat_risk", i)?,
            low_csat_reasons: reasons(c, "low_csat_reasons", i)?,
            false_fcr_risk: c.f64("false_fcr_risk", i)?,
            false_fcr_reasons: reasons(c, "false_fcr_reasons", i)?,
            evidence: Vec::new(),
        },
        ..Default::default()
    };
    r.reading.sentiment.start = c.f64("sentiment_start", i)?;
    r.reading.sentiment.end = c.f64("sentiment_end", i)?;
    r.reading.sentiment.mean = c.f64("sentiment_mean", i)?;
    r.reading.sentiment.min = c.f64("sentiment_min", i)?;
    r.reading.sentiment.trend = c.f64("sentiment_trend", i)?;
    r.reading.sentiment.ends_negative = c.bool("ends_negative", i)?;
    for (k, s) in SIGNALS.iter().enumerate() {
        r.risk_signals.values[k] = c.required(&s.column(), i, c.f64(&s.column(), i)?)?;
    }
    if r.resolved_at_us.is_some() != c.required("resolved", i, c.bool("resolved", i)?)? {
        return Err(Error::input(c.path, format!("row {i}: resolved disagrees with resolved_at"), FIX));
    }
    Ok(r)
}

/// The rows of one stored batch (conversations.parquet, or a spill with `evidence_<signal>`
/// columns, whose evidence is restored too). Engine-written types are conformed first.
pub fn from_batch(batch: RecordBatch, path: &Path) -> Result<Vec<ConversationRow>> {
    let batch = conform(batch, path)?;
    let c = Columns { batch: &batch, path };
    let evidence: Vec<Option<&arrow::array::UInt64Array>> = SIGNALS
        .iter()
        .map(|s| batch.column_by_name(&format!("evidence_{}", s.column())).map(|a| a.as_primitive::<UInt64Type>()))
        .collect();
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let mut r = row(&c, i)?;
        for (k, e) in evidence.iter().enumerate() {
            if let Some(e) = e.filter(|e| e.is_valid(i)) {
                r.risk_signals.set_evidence(SIGNALS[k], Some(e.value(i) as usize));
            }
        }
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn opt_f64() -> impl Strategy<Value = Option<f64>> {
        prop::option::of(-1e7..1e9f64)
    }

    fn opt_str() -> impl Strategy<Value = Option<String>> {
        prop::option::of("[a-z0-9_ #,é😀-]{0,12}")
    }

    fn reasons() -> impl Strategy<Value = Vec<&'static str>> {
        prop::sample::subsequence(SIGNALS.iter().map(|s| s.code()).collect::<Vec<_>>(), 0..4)
    }

    /// Every stored field random; the fields a table does not hold (evidence, risk_evidence) at
    /// their defaults, and reasons only where their risk is set (nulls read back as none).
    fn row() -> impl Strategy<Value = ConversationRow> {
        let ids = ("[a-z0-9#-]{1,10}", "[a-z0-9#-]{1,10}", opt_str(), opt_str(), opt_str());
        let times = (
            0..2_000_000_000_000_000i64,
            0..2_000_000_000_000_000i64,
            0..2_000_000_000_000_000i64,
            prop::option::of(0..2_000_000_000_000_000i64),
        );
        let enums = (
            prop::option::of(prop::sample::select(vec!["resolved", "closed", "open", "pending"])),
            prop::option::of(prop::sample::select(vec!["status", "resolved_at", "inactivity"])),
            prop::option::of(prop::sample::select(vec![crate::features::CSAT_SURVEY, crate::features::CSAT_CHAT])),
            prop::option::of(prop::sample::select(ReopenReason::ALL.iter().map(|r| r.as_str()).collect::<Vec<_>>())),
            prop::option::of(prop::sample::select(crate::row::ResolutionState::ALL.to_vec())),
        );
        let counts = prop::array::uniform6(0..10_000u64);
        let timings = prop::array::uniform8(opt_f64());
        let flags = (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            prop::array::uniform4(prop::option::of(any::<bool>())),
        );
        let scores = (prop::array::uniform7(opt_f64()), -1e6..1e6f64, opt_str(), opt_str(), opt_str());
        let risks = (opt_f64(), reasons(), opt_f64(), reasons(), prop::array::uniform14(-5.0..5.0f64));
        (ids, times, enums, counts, timings, flags, scores, risks).prop_map(
            |(ids, times, enums, counts, timings, flags, scores, risks)| {
                let mut r = ConversationRow {
                    conversation_id: ids.0,
                    thread_id: ids.1,
                    customer_id: ids.2,
                    channel: ids.3,
                    team: ids.4,
                    created_at_us: times.0,
                    first_message_at_us: times.1,
                    last_message_at_us: times.2,
                    resolved_at_us: times.3,
                    status: enums.0.and_then(Status::parse),
                    resolved_by: enums.1.and_then(ResolvedBy::parse),
                    csat_source: enums.2,
                    link: crate::row::LinkOutcome {
                        reopen_reason: enums.3,
                        fcr_mature: flags.4,
                        reopened: flags.5[1],
                        fcr: flags.5[2],
                        reopen_of: scores.3,
                    },
                    reading: crate::row::ModelReading {
                        intent_confidence: scores.0[3],
                        intent: scores.4,
                        resolution_state: enums.4,
                        resolution_confidence: timings[2],
                        ..Default::default()
                    },
                    risk: crate::row::RiskOutcome {
                        low_csat_risk: risks.0,
                        low_csat_reasons: if risks.0.is_some() { risks.1 } else { vec![] },
                        false_fcr_risk: risks.2,
                        false_fcr_reasons: if risks.2.is_some() { risks.3 } else { vec![] },
                        ..Default::default()
                    },
                    messages: counts[0],
                    customer_messages: counts[1],
                    human_replies: counts[2],
                    bot_messages: counts[3],
                    answered_turns: counts[4],
                    unanswered_turns: counts[5],
                    frt_total_s: timings[0],
                    frt_human_s: timings[1],
                    frt_handover_s: timings[2],
                    avg_response_s: timings[3],
                    resolution_s: timings[4],
                    handle_s: timings[5],
                    frt_human_bh_s: timings[6],
                    resolution_bh_s: timings[7],
                    unanswered: flags.0,
                    had_bot: flags.1,
                    handed_over: flags.2,
                    bot_contained: flags.3,
                    within_sla: flags.5[0],
                    csat_score: scores.0[0],
                    nps_score: scores.0[1],
                    ces_score: scores.0[2],
                    sla_s: scores.1,
                    primary_agent_id: scores.2,
                    ..Default::default()
                };
                r.reading.sentiment.start = scores.0[4];
                r.reading.sentiment.end = scores.0[5];
                r.reading.sentiment.mean = scores.0[6];
                r.reading.sentiment.min = timings[0];
                r.reading.sentiment.trend = timings[1];
                r.reading.sentiment.ends_negative = flags.5[3];
                r.risk_signals.values = risks.4;
                r
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn conversations_round_trip(rows in prop::collection::vec(row(), 0..20)) {
            let back = from_batch(to_batch(&rows).unwrap(), Path::new("t.parquet")).unwrap();
            prop_assert_eq!(back, rows);
        }

        #[test]
        fn the_spill_keeps_the_evidence_too(mut rows in prop::collection::vec(row(), 1..10), at in prop::collection::vec(prop::option::of(0..500usize), 14)) {
            for r in &mut rows {
                for (s, e) in SIGNALS.iter().zip(&at) {
                    r.risk_signals.set_evidence(*s, *e);
                }
            }
            let back = from_batch(spill_batch(&rows).unwrap(), Path::new("t.parquet")).unwrap();
            prop_assert_eq!(back, rows);
        }
    }
}
