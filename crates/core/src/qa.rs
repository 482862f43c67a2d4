//! The QA review list: conversations whose risk is over the thresholds, highest first, each with
//! its reasons and the messages that show them (ids and short redacted snippets); and a control
//! group of unflagged conversations sampled within each channel x agent, so the scores QA gives
//! the flagged ones can be compared with a baseline.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::config::QaConfig;
use crate::model::Conversation;
use crate::redact::snippet;
use crate::row::ConversationRow;
use crate::signals::SIGNALS;

/// One row of qa_review.parquet / qa_review.csv.
#[derive(Debug, Clone, PartialEq)]
pub struct QaItem {
    pub conversation_id: String,
    /// "flagged" or "control".
    pub group: &'static str,
    /// 1 = the highest risk; control rows follow the flagged ones.
    pub rank: u64,
    pub low_csat_risk: Option<f64>,
    pub false_fcr_risk: Option<f64>,
    /// Reason codes of both risks, comma-separated.
    pub reasons: String,
    pub primary_agent_id: Option<String>,
    pub channel: Option<String>,
    pub team: Option<String>,
    pub intent: Option<String>,
    pub evidence_message_ids: String,
    /// `REASON: "snippet"` per piece of evidence, redacted, joined by " | ".
    pub evidence: String,
}

/// What the manifest records about the list.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QaStats {
    /// How the list was cut, in words (for the manifest and the report).
    pub rule: String,
    /// Conversations over each threshold, and over either.
    pub over_low_csat_threshold: u64,
    pub over_false_fcr_threshold: u64,
    pub over_a_threshold: u64,
    /// Over a threshold but left off by the per-agent or unassigned cap.
    pub cut_by_cap: u64,
    pub reviews_per_agent: u64,
    pub reviews_unassigned: u64,
    /// Listed conversations with an agent, and without one.
    pub listed_with_agent: u64,
    pub listed_unassigned: u64,
    pub flagged: u64,
    pub control: u64,
    pub unflagged: u64,
    pub control_rate: f64,
    pub low_csat_threshold: f64,
    pub false_fcr_threshold: f64,
    /// Control sample size per "channel / agent" stratum.
    pub control_by_stratum: BTreeMap<String, u64>,
}

const SNIPPET_CHARS: usize = 120;

use crate::text::stable_hash;

/// A message a conversation's risk signals point at, quoted for the QA list.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    /// Its position in the conversation (the index a signal's evidence gives).
    pub message: u32,
    /// Its id in the outputs (`Message::output_id`).
    pub message_id: String,
    /// As written: redacted and cut only for the conversations the list selects.
    pub text: String,
}

/// The quotes of one conversation, by message position. Taken where the messages are (each
/// partition), so the list is built after scoring without reading the messages again.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvidenceQuotes(pub Vec<Quote>);

impl EvidenceQuotes {
    /// Every message any signal of `row` points at, quoted.
    pub fn of(row: &ConversationRow, conv: &Conversation) -> EvidenceQuotes {
        let mut at: Vec<usize> = SIGNALS.iter().filter_map(|&s| row.risk_signals.evidence(s)).collect();
        at.sort_unstable();
        at.dedup();
        EvidenceQuotes(
            at.into_iter()
                .filter_map(|i| {
                    let m = conv.messages.get(i)?;
                    Some(Quote {
                        message: i as u32,
                        message_id: m.output_id(i),
                        text: m.text.clone().unwrap_or_default(),
                    })
                })
                .collect(),
        )
    }

    fn at(&self, message: usize) -> Option<&Quote> {
        self.0.iter().find(|q| q.message as usize == message)
    }
}

/// One list entry: the conversation's risks, reasons and the messages that show them.
pub fn item(row: &ConversationRow, quotes: &EvidenceQuotes, group: &'static str, rank: u64) -> QaItem {
    let mut reasons: Vec<&str> = row.risk.low_csat_reasons.clone();
    for r in &row.risk.false_fcr_reasons {
        if !reasons.contains(r) {
            reasons.push(r);
        }
    }
    let evidence: Vec<(&str, String)> = row
        .risk
        .evidence
        .iter()
        .filter_map(|&(code, i)| {
            let q = quotes.at(i)?;
            Some((q.message_id.as_str(), format!("{code}: \"{}\"", snippet(&q.text, SNIPPET_CHARS))))
        })
        .collect();
    QaItem {
        conversation_id: row.conversation_id.clone(),
        group,
        rank,
        low_csat_risk: row.risk.low_csat_risk,
        false_fcr_risk: row.risk.false_fcr_risk,
        reasons: reasons.join(","),
        primary_agent_id: row.primary_agent_id.clone(),
        channel: row.channel.clone(),
        team: row.team.clone(),
        intent: row.reading.intent.clone(),
        evidence_message_ids: evidence.iter().map(|e| e.0).collect::<Vec<_>>().join(","),
        evidence: evidence.iter().map(|e| e.1.as_str()).collect::<Vec<_>>().join(" | "),
    }
}

/// A conversation on the list: its index in the rows, group ("flagged" or "control") and rank.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Selected {
    pub row: usize,
    pub group: &'static str,
    pub rank: u64,
}

/// Builds the list from scored rows (aligned with `conversations`).
pub fn qa_review(rows: &[ConversationRow], conversations: &[Conversation], cfg: &QaConfig) -> (Vec<QaItem>, QaStats) {
    let (selected, stats) = qa_selection(rows, cfg);
    let items = selected
        .iter()
        .map(|s| item(&rows[s.row], &EvidenceQuotes::of(&rows[s.row], &conversations[s.row]), s.group, s.rank))
        .collect();
    (items, stats)
}

/// Which conversations are on the list, in rank order: the flagged ones by risk, then the
/// control sample. Needs only the scored rows; the evidence comes from the messages (`item`).
///
/// Flagged: conversations over a threshold, cut to each agent's `reviews_per_agent` highest
/// risks and the `reviews_unassigned` highest of those with no agent (a QA team reviews a fixed
/// number per agent, not every conversation a threshold lets through).
pub fn qa_selection(rows: &[ConversationRow], cfg: &QaConfig) -> (Vec<Selected>, QaStats) {
    let over_low = |r: &ConversationRow| r.risk.low_csat_risk.is_some_and(|p| p >= cfg.low_csat_threshold);
    let over_fcr = |r: &ConversationRow| r.risk.false_fcr_risk.is_some_and(|p| p >= cfg.false_fcr_threshold);
    let is_flagged = |r: &ConversationRow| over_low(r) || over_fcr(r);
    let top_risk = |r: &ConversationRow| r.risk.low_csat_risk.unwrap_or(0.0).max(r.risk.false_fcr_risk.unwrap_or(0.0));
    let by_risk = |a: &usize, b: &usize| {
        top_risk(&rows[*b])
            .total_cmp(&top_risk(&rows[*a]))
            .then(rows[*a].conversation_id.cmp(&rows[*b].conversation_id))
    };
    let mut candidates: Vec<usize> = (0..rows.len()).filter(|&i| is_flagged(&rows[i])).collect();
    candidates.sort_by(by_risk);
    // Walk the candidates highest first, keeping each agent's (and the unassigned) quota.
    let mut taken: BTreeMap<Option<&str>, usize> = BTreeMap::new();
    let flagged: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| {
            let agent = rows[i].primary_agent_id.as_deref();
            let cap = if agent.is_some() { cfg.reviews_per_agent } else { cfg.reviews_unassigned };
            let n = taken.entry(agent).or_default();
            *n += 1;
            cap == 0 || *n <= cap
        })
        .collect();

    // Control: in each channel x agent stratum, the ceil(rate x n) unflagged conversations that
    // come first in hash order (every stratum with a conversation gets at least one at rate > 0).
    let mut strata: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for i in (0..rows.len()).filter(|&i| !is_flagged(&rows[i])) {
        let key = format!(
            "{} / {}",
            rows[i].channel.as_deref().unwrap_or("-"),
            rows[i].primary_agent_id.as_deref().unwrap_or("-")
        );
        strata.entry(key).or_default().push(i);
    }
    let unflagged: usize = strata.values().map(Vec::len).sum();
    let mut control: Vec<usize> = Vec::new();
    let mut control_by_stratum = BTreeMap::new();
    for (key, mut members) in strata {
        let take = (cfg.control_rate * members.len() as f64).ceil() as usize;
        members.sort_by_key(|&i| (stable_hash(&rows[i].conversation_id), i));
        control.extend(members.iter().take(take));
        if take > 0 {
            control_by_stratum.insert(key, take as u64);
        }
    }
    control.sort_by(|&a, &b| rows[a].conversation_id.cmp(&rows[b].conversation_id));

    let mut selected: Vec<Selected> = Vec::with_capacity(flagged.len() + control.len());
    for (rank, &i) in flagged.iter().enumerate() {
        selected.push(Selected { row: i, group: "flagged", rank: rank as u64 + 1 });
    }
    for (k, &i) in control.iter().enumerate() {
        selected.push(Selected { row: i, group: "control", rank: (flagged.len() + k) as u64 + 1 });
    }
    let cap = |n: usize| if n == 0 { "no cap".to_string() } else { format!("at most {n}") };
    let rule = format!(
        "over a threshold (low_csat_risk >= {}, false_fcr_risk >= {}), then {} per agent and {} without an agent, highest risk first; plus a control sample of {:.0}% of the rest per channel x agent",
        cfg.low_csat_threshold,
        cfg.false_fcr_threshold,
        cap(cfg.reviews_per_agent),
        cap(cfg.reviews_unassigned),
        cfg.control_rate * 100.0
    );
    let with_agent = flagged.iter().filter(|&&i| rows[i].primary_agent_id.is_some()).count();
    let stats = QaStats {
        rule,
        over_low_csat_threshold: rows.iter().filter(|r| over_low(r)).count() as u64,
        over_false_fcr_threshold: rows.iter().filter(|r| over_fcr(r)).count() as u64,
        over_a_threshold: candidates.len() as u64,
        cut_by_cap: (candidates.len() - flagged.len()) as u64,
        reviews_per_agent: cfg.reviews_per_agent as u64,
        reviews_unassigned: cfg.reviews_unassigned as u64,
        listed_with_agent: with_agent as u64,
        listed_unassigned: (flagged.len() - with_agent) as u64,
        flagged: flagged.len() as u64,
        control: control.len() as u64,
        unflagged: unflagged as u64,
        control_rate: cfg.control_rate,
        low_csat_threshold: cfg.low_csat_threshold,
        false_fcr_threshold: cfg.false_fcr_threshold,
        control_by_stratum,
    };
    (selected, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Message, Role};

    fn conv(id: &str, text: &str) -> Conversation {
        Conversation {
            conversation_id: id.into(),
            thread_id: id.into(),
            messages: vec![Message::for_test(id, 0, Role::Customer, text)],
            record: None,
        }
    }

    fn row(id: &str, risk: f64, agent: &str) -> ConversationRow {
        let mut risk_signals = crate::signals::RiskSignals::default();
        if risk >= 0.5 {
            risk_signals.set_with(crate::signals::Signal::NegativeEnd, 1.0, Some(0));
        }
        ConversationRow {
            risk_signals,
            conversation_id: id.into(),
            channel: Some("whatsapp".into()),
            primary_agent_id: Some(agent.into()),
            risk: crate::row::RiskOutcome {
                low_csat_risk: Some(risk),
                low_csat_reasons: if risk >= 0.5 { vec!["NEGATIVE_END"] } else { vec![] },
                evidence: if risk >= 0.5 { vec![("NEGATIVE_END", 0)] } else { vec![] },
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn the_list_keeps_each_agents_highest_risks_up_to_the_cap_and_samples_control_from_the_rest() {
        let mut rows = Vec::new();
        // Agent x: 15 conversations over the threshold; agent y: 3; no agent (bot-only): 12;
        // 20 under the threshold for x.
        for i in 0..15 {
            rows.push(row(&format!("x{i:02}"), 0.6 + i as f64 / 100.0, "x"));
        }
        for i in 0..3 {
            rows.push(row(&format!("y{i:02}"), 0.55, "y"));
        }
        for i in 0..12 {
            let mut r = row(&format!("b{i:02}"), 0.7 + i as f64 / 100.0, "-");
            r.primary_agent_id = None;
            rows.push(r);
        }
        for i in 0..20 {
            rows.push(row(&format!("u{i:02}"), 0.1, "x"));
        }
        let cfg = QaConfig::default();
        let (selected, stats) = qa_selection(&rows, &cfg);
        let flagged: Vec<&str> =
            selected.iter().filter(|s| s.group == "flagged").map(|s| rows[s.row].conversation_id.as_str()).collect();
        let of = |p: &str| flagged.iter().filter(|id| id.starts_with(p)).count();
        assert_eq!((of("x"), of("y"), of("b")), (10, 3, 10));
        // Agent x keeps its ten highest: x05..x14.
        assert!(flagged.iter().filter(|id| id.starts_with('x')).all(|id| *id >= "x05"), "{flagged:?}");
        // Ranked by risk across agents: the bot-only b11 (0.81) first.
        assert_eq!(flagged[0], "b11");
        assert_eq!((stats.over_a_threshold, stats.cut_by_cap, stats.flagged), (30, 7, 23));
        assert_eq!((stats.listed_with_agent, stats.listed_unassigned), (13, 10));
        assert!(stats.rule.contains("at most 10 per agent"), "{}", stats.rule);
        // Control: ceil(5% of 20) = 1 from the conversations under the threshold, never a capped one.
        let control: Vec<&str> =
            selected.iter().filter(|s| s.group == "control").map(|s| rows[s.row].conversation_id.as_str()).collect();
        assert_eq!(control.len(), 1);
        assert!(control[0].starts_with('u'));
        // No cap: every conversation over a threshold is listed.
        let uncapped = QaConfig { reviews_per_agent: 0, reviews_unassigned: 0, ..cfg };
        assert_eq!(qa_selection(&rows, &uncapped).1.flagged, 30);
    }

    #[test]
    fn flagged_highest_first_with_redacted_evidence_then_a_stratified_control_group() {
        let mut rows = vec![row("a", 0.6, "x"), row("b", 0.9, "x")];
        let mut convs = vec![conv("a", "kecewa banget"), conv("b", "parah, hubungi saya di 081234567890 sekarang")];
        for i in 0..40 {
            let (id, agent) = (format!("u{i:02}"), if i < 30 { "x" } else { "y" });
            rows.push(row(&id, 0.1, agent));
            convs.push(conv(&id, "ok"));
        }
        let cfg = QaConfig { control_rate: 0.05, ..Default::default() };
        let (items, stats) = qa_review(&rows, &convs, &cfg);
        assert_eq!(items[0].conversation_id, "b");
        assert_eq!((items[0].rank, items[1].rank), (1, 2));
        assert_eq!(items[0].evidence_message_ids, "b-1");
        assert!(items[0].evidence.contains("[PHONE]") && !items[0].evidence.contains("0812"), "{}", items[0].evidence);
        // ceil(5% of 30) = 2 for agent x, ceil(5% of 10) = 1 for agent y.
        assert_eq!((stats.flagged, stats.control, stats.unflagged), (2, 3, 40));
        assert_eq!(stats.control_by_stratum.values().copied().collect::<Vec<_>>(), vec![2, 1]);
        assert!(items[2..].iter().all(|i| i.group == "control"));
        // The same data gives the same sample.
        assert_eq!(qa_review(&rows, &convs, &cfg).0, items);
    }
}
