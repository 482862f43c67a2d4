//! The KPI tables (kpi_overall, kpi_by_channel, _agent, _team, _intent, _day), the busy-hours
//! heatmap and intent x resolution time: one schema per table, written from `aggregate`'s
//! tables. convoqa does not read them back (`kpis` recomputes them from conversations.parquet);
//! tests/python/check_outputs.py reads them with pyarrow, DuckDB and Polars.

use arrow::array::RecordBatch;

use crate::aggregate::intent_resolution::IntentResolution;
use crate::aggregate::{KpiRow, KpiTable, KpiTables, TIMINGS};
use crate::error::Result;
use crate::write::TableBuilder;

/// Appends the KPI columns of `rows` (one KpiRow per output row) to a table.
pub fn kpi_columns(t: &mut TableBuilder, rows: &[&KpiRow]) {
    t.u64("conversations", rows.iter().map(|k| k.conversations));
    t.u64("messages", rows.iter().map(|k| k.messages));
    t.u64("customer_messages", rows.iter().map(|k| k.customer_messages));
    for (i, name) in TIMINGS.iter().enumerate() {
        t.f64(&format!("{name}_mean_s"), rows.iter().map(|k| k.timings[i].mean));
        t.f64(&format!("{name}_median_s"), rows.iter().map(|k| k.timings[i].median));
        t.f64(&format!("{name}_p90_s"), rows.iter().map(|k| k.timings[i].p90));
    }
    t.u64("resolved_conversations", rows.iter().map(|k| k.resolved_conversations));
    t.u64("fcr_mature_conversations", rows.iter().map(|k| k.fcr_mature_conversations));
    t.u64("fcr_immature_conversations", rows.iter().map(|k| k.fcr_immature_conversations));
    t.f64("fcr_rate", rows.iter().map(|k| k.fcr_rate));
    t.f64("reopen_rate", rows.iter().map(|k| k.reopen_rate));
    t.u64("had_bot_conversations", rows.iter().map(|k| k.had_bot_conversations));
    t.f64("handover_rate", rows.iter().map(|k| k.handover_rate));
    t.f64("bot_containment_rate", rows.iter().map(|k| k.bot_containment_rate));
    t.f64("csat_pct", rows.iter().map(|k| k.csat_pct));
    t.u64("csat_responses", rows.iter().map(|k| k.csat_responses));
    t.f64("low_csat_pct", rows.iter().map(|k| k.low_csat_pct));
    t.f64("predicted_low_csat_pct", rows.iter().map(|k| k.predicted_low_csat_pct));
    t.f64("nps", rows.iter().map(|k| k.nps));
    t.u64("nps_responses", rows.iter().map(|k| k.nps_responses));
    t.f64("ces_mean", rows.iter().map(|k| k.ces_mean));
    t.u64("ces_responses", rows.iter().map(|k| k.ces_responses));
    t.f64("service_level_pct", rows.iter().map(|k| k.service_level_pct));
    t.u64("unanswered_conversations", rows.iter().map(|k| k.unanswered_conversations));
}

fn keyed_table(key: &str, table: &KpiTable<Option<String>>) -> Result<RecordBatch> {
    let mut t = TableBuilder::new();
    t.str(key, table.iter().map(|(k, _)| k.as_deref()));
    kpi_columns(&mut t, &table.iter().map(|(_, k)| k).collect::<Vec<_>>());
    t.finish()
}

/// One row per intent; the Kruskal-Wallis columns are the same on every row (a test across
/// all intents), so a reader of any row sees how sure the differences are.
fn intent_resolution_batch(t: &IntentResolution) -> Result<RecordBatch> {
    let r = &t.rows;
    let mut b = TableBuilder::new();
    b.str("intent", r.iter().map(|x| Some(&x.intent)));
    b.u64("conversations", r.iter().map(|x| x.conversations));
    b.u64("resolved_conversations", r.iter().map(|x| x.resolved_conversations));
    b.f64("resolution_mean_s", r.iter().map(|x| x.resolution.mean));
    b.f64("resolution_median_s", r.iter().map(|x| x.resolution.median));
    b.f64("resolution_p90_s", r.iter().map(|x| x.resolution.p90));
    b.f64("resolution_bh_mean_s", r.iter().map(|x| x.resolution_bh.mean));
    b.f64("resolution_bh_median_s", r.iter().map(|x| x.resolution_bh.median));
    b.f64("resolution_bh_p90_s", r.iter().map(|x| x.resolution_bh.p90));
    b.f64("resolution_median_ratio", r.iter().map(|x| x.resolution_median_ratio));
    b.f64("frt_human_median_s", r.iter().map(|x| x.frt_human_median_s));
    b.f64("fcr_rate", r.iter().map(|x| x.fcr_rate));
    b.f64("reopen_rate", r.iter().map(|x| x.reopen_rate));
    b.f64("csat_pct", r.iter().map(|x| x.csat_pct));
    b.u64("csat_responses", r.iter().map(|x| x.csat_responses));
    b.f64("handover_rate", r.iter().map(|x| x.handover_rate));
    b.f64("ending_negative_rate", r.iter().map(|x| x.ending_negative_rate));
    let kw = t.test;
    b.f64("kruskal_wallis_h", r.iter().map(|_| kw.h));
    b.u64("kruskal_wallis_df", r.iter().map(|_| kw.df));
    b.u64("kruskal_wallis_n", r.iter().map(|_| kw.n));
    b.f64("kruskal_wallis_p_value", r.iter().map(|_| kw.p_value));
    b.f64("epsilon_squared", r.iter().map(|_| kw.epsilon_squared));
    b.finish()
}

/// The KPI tables and heatmap as (file name, batch).
pub fn to_batches(k: &KpiTables) -> Result<Vec<(&'static str, RecordBatch)>> {
    let mut overall = TableBuilder::new();
    kpi_columns(&mut overall, &[&k.overall]);
    let mut by_day = TableBuilder::new();
    by_day.date("day", k.by_day.iter().map(|(d, _)| *d));
    kpi_columns(&mut by_day, &k.by_day.iter().map(|(_, r)| r).collect::<Vec<_>>());
    let mut heat = TableBuilder::new();
    let cells: Vec<(u32, u32, u64)> = (0..7)
        .flat_map(|d| (0..24).map(move |h| (d, h)))
        .map(|(d, h)| (d + 1, h, k.heatmap[d as usize][h as usize]))
        .collect();
    const NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    heat.u32("weekday", cells.iter().map(|c| c.0));
    heat.str("weekday_name", cells.iter().map(|c| Some(NAMES[c.0 as usize - 1])));
    heat.u32("hour", cells.iter().map(|c| c.1));
    heat.u64("customer_messages", cells.iter().map(|c| c.2));
    Ok(vec![
        ("kpi_overall.parquet", overall.finish()?),
        ("kpi_by_channel.parquet", keyed_table("channel", &k.by_channel)?),
        ("kpi_by_agent.parquet", keyed_table("primary_agent_id", &k.by_agent)?),
        ("kpi_by_team.parquet", keyed_table("team", &k.by_team)?),
        ("kpi_by_day.parquet", by_day.finish()?),
        ("kpi_by_intent.parquet", keyed_table("intent", &k.by_intent)?),
        ("intent_resolution.parquet", intent_resolution_batch(&k.intent_resolution)?),
        ("heatmap_hourly.parquet", heat.finish()?),
    ])
}
