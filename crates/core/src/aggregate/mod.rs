//! Stage 6, aggregate: KPI tables overall and by channel, primary agent, team and day, and the
//! busy-hours heatmap, and intent x resolution time. Every figure is computed from the per-conversation rows, exactly.

pub mod intent_resolution;

use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;

use crate::model::{Conversation, Role};
use crate::row::ConversationRow;
use crate::timefmt::local_datetime;
use intent_resolution::{intent_resolution, IntentResolution};

/// Timing KPIs that get mean, median and p90 columns, in output order.
pub const TIMINGS: [&str; 8] =
    ["frt_total", "frt_human", "frt_handover", "avg_response", "resolution", "handle", "frt_human_bh", "resolution_bh"];

fn timing_value(row: &ConversationRow, name: &str) -> Option<f64> {
    match name {
        "frt_total" => row.frt_total_s,
        "frt_human" => row.frt_human_s,
        "frt_handover" => row.frt_handover_s,
        "avg_response" => row.avg_response_s,
        "resolution" => row.resolution_s,
        "handle" => row.handle_s,
        "frt_human_bh" => row.frt_human_bh_s,
        "resolution_bh" => row.resolution_bh_s,
        _ => unreachable!("unknown timing {name}"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Distribution {
    pub mean: Option<f64>,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// One row of a KPI table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct KpiRow {
    pub conversations: u64,
    pub messages: u64,
    pub customer_messages: u64,
    /// In TIMINGS order.
    pub timings: Vec<Distribution>,
    pub resolved_conversations: u64,
    pub fcr_mature_conversations: u64,
    /// Resolved, but the reopen window has not passed by as_of.
    pub fcr_immature_conversations: u64,
    pub fcr_rate: Option<f64>,
    pub reopen_rate: Option<f64>,
    pub had_bot_conversations: u64,
    pub handover_rate: Option<f64>,
    pub bot_containment_rate: Option<f64>,
    pub csat_pct: Option<f64>,
    pub csat_responses: u64,
    /// Share of survey answers rated 1-3, in percent.
    pub low_csat_pct: Option<f64>,
    /// Mean low_csat_risk over every scored conversation, in percent: the rate the model
    /// expects had everyone answered (beside the surveyed low_csat_pct).
    pub predicted_low_csat_pct: Option<f64>,
    pub nps: Option<f64>,
    pub nps_responses: u64,
    pub ces_mean: Option<f64>,
    pub ces_responses: u64,
    pub service_level_pct: Option<f64>,
    pub unanswered_conversations: u64,
}

impl KpiRow {
    /// The distribution of one of TIMINGS.
    pub fn timing(&self, name: &str) -> Distribution {
        self.timings[TIMINGS.iter().position(|t| *t == name).expect("known timing")]
    }
}

/// Quantile with linear interpolation between closest ranks (numpy's default, "linear").
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    Some(sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo]))
}

pub fn distribution(values: &mut [f64]) -> Distribution {
    if values.is_empty() {
        return Distribution::default();
    }
    values.sort_by(f64::total_cmp);
    Distribution {
        mean: Some(values.iter().sum::<f64>() / values.len() as f64),
        median: quantile(values, 0.5),
        p90: quantile(values, 0.9),
    }
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

pub fn kpis(rows: &[&ConversationRow]) -> KpiRow {
    let count = |pred: &dyn Fn(&ConversationRow) -> bool| rows.iter().filter(|r| pred(r)).count() as u64;
    let timings = TIMINGS
        .iter()
        .map(|name| {
            let mut v: Vec<f64> = rows.iter().filter_map(|r| timing_value(r, name)).collect();
            distribution(&mut v)
        })
        .collect();
    let fcr_known = count(&|r| r.link.fcr.is_some());
    let had_bot = count(&|r| r.had_bot);
    let csat: Vec<f64> = rows.iter().filter_map(|r| r.csat_score).collect();
    let nps: Vec<f64> = rows.iter().filter_map(|r| r.nps_score).collect();
    let ces: Vec<f64> = rows.iter().filter_map(|r| r.ces_score).collect();
    let pct = |n: usize, d: usize| (d > 0).then(|| n as f64 / d as f64 * 100.0);
    let sla_base = count(&|r| r.within_sla.is_some());
    KpiRow {
        conversations: rows.len() as u64,
        messages: rows.iter().map(|r| r.messages).sum(),
        customer_messages: rows.iter().map(|r| r.customer_messages).sum(),
        timings,
        resolved_conversations: count(&|r| r.is_resolved()),
        fcr_mature_conversations: count(&|r| r.link.fcr_mature),
        fcr_immature_conversations: count(&|r| r.is_resolved() && !r.link.fcr_mature),
        fcr_rate: ratio(count(&|r| r.link.fcr == Some(true)), fcr_known),
        reopen_rate: ratio(count(&|r| r.link.reopened == Some(true)), count(&|r| r.link.reopened.is_some())),
        had_bot_conversations: had_bot,
        handover_rate: ratio(count(&|r| r.handed_over), had_bot),
        bot_containment_rate: ratio(count(&|r| r.bot_contained), had_bot),
        csat_pct: pct(csat.iter().filter(|&&s| s >= 4.0).count(), csat.len()),
        csat_responses: csat.len() as u64,
        low_csat_pct: pct(csat.iter().filter(|&&s| s <= 3.0).count(), csat.len()),
        predicted_low_csat_pct: {
            let risks: Vec<f64> = rows.iter().filter_map(|r| r.risk.low_csat_risk).collect();
            (!risks.is_empty()).then(|| risks.iter().sum::<f64>() / risks.len() as f64 * 100.0)
        },
        nps: pct(nps.iter().filter(|&&s| s >= 9.0).count(), nps.len())
            .zip(pct(nps.iter().filter(|&&s| s <= 6.0).count(), nps.len()))
            .map(|(p, d)| p - d),
        nps_responses: nps.len() as u64,
        ces_mean: (!ces.is_empty()).then(|| ces.iter().sum::<f64>() / ces.len() as f64),
        ces_responses: ces.len() as u64,
        service_level_pct: ratio(count(&|r| r.within_sla == Some(true)), sla_base).map(|r| r * 100.0),
        unanswered_conversations: count(&|r| r.unanswered),
    }
}

/// A KPI table: one row per group key (None = rows without a value for the key).
pub type KpiTable<K> = Vec<(K, KpiRow)>;

pub fn kpis_by<K: Ord + Clone>(rows: &[ConversationRow], key: impl Fn(&ConversationRow) -> K) -> KpiTable<K> {
    let mut groups: BTreeMap<K, Vec<&ConversationRow>> = BTreeMap::new();
    for r in rows {
        groups.entry(key(r)).or_default().push(r);
    }
    groups.into_iter().map(|(k, g)| (k, kpis(&g))).collect()
}

/// Local date of an instant in the reporting time zone.
pub fn local_day(us: i64, tz: &TimeZone) -> Option<Date> {
    local_datetime(us, tz).map(|dt| dt.date())
}

/// Every KPI table of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiTables {
    pub overall: KpiRow,
    pub by_channel: KpiTable<Option<String>>,
    pub by_agent: KpiTable<Option<String>>,
    pub by_team: KpiTable<Option<String>>,
    pub by_day: KpiTable<Option<Date>>,
    /// Empty of keys (one null group) when the model is off.
    pub by_intent: KpiTable<Option<String>>,
    /// Intents only (empty when the model is off), with the Kruskal-Wallis test across them.
    pub intent_resolution: IntentResolution,
    /// customer_messages[weekday Monday=0][hour].
    pub heatmap: [[u64; 24]; 7],
}

/// Customer messages by local weekday (Monday = 0) and hour.
pub fn customer_heatmap(customer_sent_at_us: impl Iterator<Item = i64>, tz: &TimeZone) -> [[u64; 24]; 7] {
    let mut heatmap = [[0u64; 24]; 7];
    for t in customer_sent_at_us {
        if let Some(dt) = local_datetime(t, tz) {
            heatmap[dt.weekday().to_monday_zero_offset() as usize][dt.hour() as usize] += 1;
        }
    }
    heatmap
}

/// The heatmap of assembled conversations.
pub fn conversations_heatmap(conversations: &[Conversation], tz: &TimeZone) -> [[u64; 24]; 7] {
    customer_heatmap(
        conversations.iter().flat_map(|c| &c.messages).filter(|m| m.role == Role::Customer).map(|m| m.sent_at_us),
        tz,
    )
}

pub fn aggregate(rows: &[ConversationRow], heatmap: [[u64; 24]; 7], tz: &TimeZone) -> KpiTables {
    let all: Vec<&ConversationRow> = rows.iter().collect();
    let overall = kpis(&all);
    let by_intent = kpis_by(rows, |r| r.reading.intent.clone());
    KpiTables {
        intent_resolution: intent_resolution(rows, &overall, &by_intent),
        overall,
        by_channel: kpis_by(rows, |r| r.channel.clone()),
        by_agent: kpis_by(rows, |r| r.primary_agent_id.clone()),
        by_team: kpis_by(rows, |r| r.team.clone()),
        by_day: kpis_by(rows, |r| local_day(r.created_at_us, tz)),
        by_intent,
        heatmap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_match_numpy_linear() {
        // numpy.percentile([1, 2, 3, 4, 10], [50, 90]) -> [3.0, 7.6]
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(quantile(&v, 0.5), Some(3.0));
        assert!((quantile(&v, 0.9).unwrap() - 7.6).abs() < 1e-12);
        // numpy.percentile([5, 1], 50) -> 3.0 (even count interpolates)
        let d = distribution(&mut [5.0, 1.0]);
        assert_eq!(d.median, Some(3.0));
        assert_eq!(quantile(&[7.0], 0.9), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
    }

    fn row() -> ConversationRow {
        ConversationRow::default()
    }

    #[test]
    fn rates_use_the_documented_denominators() {
        let mut rows = [row(), row(), row(), row()];
        rows[0].link.fcr = Some(true);
        rows[0].link.reopened = Some(false);
        rows[1].link.fcr = Some(false);
        rows[1].link.reopened = Some(true);
        // rows 2 and 3 immature: excluded from both rates.
        rows[0].had_bot = true;
        rows[0].handed_over = true;
        rows[1].had_bot = true;
        rows[1].bot_contained = true;
        rows[2].had_bot = true;
        rows[0].csat_score = Some(5.0);
        rows[1].csat_score = Some(4.0);
        rows[2].csat_score = Some(2.0);
        rows[0].nps_score = Some(10.0);
        rows[1].nps_score = Some(8.0);
        rows[2].nps_score = Some(3.0);
        rows[3].nps_score = Some(6.0);
        rows[0].within_sla = Some(true);
        rows[1].within_sla = Some(false);
        rows[2].within_sla = Some(true);
        let k = kpis(&rows.iter().collect::<Vec<_>>());
        assert_eq!(k.fcr_rate, Some(0.5));
        assert_eq!(k.reopen_rate, Some(0.5));
        assert_eq!(k.handover_rate, Some(1.0 / 3.0));
        assert_eq!(k.bot_containment_rate, Some(1.0 / 3.0));
        assert!((k.csat_pct.unwrap() - 200.0 / 3.0).abs() < 1e-9);
        assert_eq!(k.csat_responses, 3);
        assert!((k.low_csat_pct.unwrap() - 100.0 / 3.0).abs() < 1e-9);
        assert_eq!(k.predicted_low_csat_pct, None, "no scored rows");
        assert_eq!(k.nps, Some(25.0 - 50.0));
        assert!((k.service_level_pct.unwrap() - 200.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn empty_groups_give_null_rates_not_zero() {
        let k = kpis(&[]);
        assert_eq!((k.fcr_rate, k.csat_pct, k.nps, k.service_level_pct), (None, None, None, None));
    }
}
