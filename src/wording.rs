//! The words the report and the terminal summary share: durations, percentages, and the phrases
//! that replace a figure there is no data for ("no returns observed", "no survey data"), so both
//! say the same thing the same way.

use std::collections::BTreeMap;

use crate::aggregate::KpiRow;
use crate::row::ConversationRow;

pub(crate) fn dur(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.0}s"),
        Some(s) if s < 7200.0 => format!("{:.1}m", s / 60.0),
        Some(s) => format!("{:.1}h", s / 3600.0),
    }
}

pub(crate) fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}%"))
}

pub(crate) fn rate(v: Option<f64>) -> String {
    pct(v.map(|r| r * 100.0))
}

/// Shown instead of FCR 100% / reopen 0% when not one mature resolved conversation was reopened:
/// with customers who never came back (or who cannot be linked) that is no measurement.
pub(crate) const NO_RETURNS: &str = "no returns observed";
/// Shown instead of a CSAT figure when nobody answered a survey or rated in the chat.
pub(crate) const NO_SURVEY: &str = "no survey data";

/// Whether any customer came back inside a reopen window: None while no window has passed.
pub(crate) fn returns_observed(k: &KpiRow) -> Option<bool> {
    k.reopen_rate.map(|r| r > 0.0)
}

/// FCR and reopen rate as people read them: "no returns observed" for both when no customer came
/// back at all (the rates would read a perfect 100% and 0%).
pub(crate) fn fcr_reopen_text(k: &KpiRow) -> (String, String) {
    match returns_observed(k) {
        Some(false) => (NO_RETURNS.into(), NO_RETURNS.into()),
        _ => (rate(k.fcr_rate), rate(k.reopen_rate)),
    }
}

/// A survey share (CSAT, 1-3 star surveyed) as people read it: "no survey data" without answers.
pub(crate) fn survey_text(value_pct: Option<f64>, responses: u64) -> String {
    if responses == 0 {
        NO_SURVEY.into()
    } else {
        pct(value_pct)
    }
}

/// The KPI column `handle` (handle_s) as people read it: it is not AHT.
pub(crate) const REPLY_SPAN: &str = "human reply span";
pub(crate) const REPLY_SPAN_DEFINITION: &str =
    "last human reply minus first human reply, + hold and after-work time where the data has them; not average handle time (AHT)";

/// Conversations with a human reply, and those of them with one human reply only (span 0).
pub(crate) fn single_reply_counts(rows: &[ConversationRow]) -> (u64, u64) {
    let with_human: Vec<&ConversationRow> = rows.iter().filter(|r| r.handle_s.is_some()).collect();
    (with_human.len() as u64, with_human.iter().filter(|r| r.human_replies == 1).count() as u64)
}

/// "454 of 500 conversations with a human reply had only one (span 0 + hold/after-work)".
pub(crate) fn single_reply_note(rows: &[ConversationRow]) -> String {
    let (with_human, single) = single_reply_counts(rows);
    format!("{single} of {with_human} conversations with a human reply had only one: their span is 0 (+ hold/after-work where given)")
}

/// The one wording of quarantined input rows, in the report and the terminal summary.
pub(crate) fn quarantine_text(total: u64, message_rows: u64) -> String {
    format!(
        "{total} input rows quarantined ({message_rows} message rows, {} conversation rows; each with its reason in quarantine.parquet)",
        total.saturating_sub(message_rows)
    )
}

/// Conversations with each reason code, per risk model, most frequent first (a conversation
/// counts once per code and model; it can have up to three codes per model).
pub(crate) fn reason_counts<'a>(
    rows: &'a [ConversationRow],
    reasons: impl Fn(&'a ConversationRow) -> &'a [&'static str],
) -> Vec<(&'static str, usize)> {
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for r in rows {
        let mut seen: Vec<&'static str> = reasons(r).to_vec();
        seen.sort_unstable();
        seen.dedup();
        for code in seen {
            *counts.entry(code).or_default() += 1;
        }
    }
    let mut top: Vec<(&'static str, usize)> = counts.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    top
}
