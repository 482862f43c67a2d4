//! intent_resolution.parquet: which intents are slow to resolve, and how sure that is.
//!
//! Per intent: resolution time (and its business-hours twin), first human response, outcome rates
//! and the share of conversations ending negative; across intents, the Kruskal-Wallis test on
//! resolution_s (rank-based: resolution times are heavy-tailed, so a test on means would be
//! driven by a few multi-day conversations) with its epsilon-squared effect size.

use std::collections::HashMap;

use statrs::distribution::{ChiSquared, ContinuousCDF};

use super::{Distribution, KpiRow, KpiTable};
use crate::row::ConversationRow;

/// One intent's row.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntentResolutionRow {
    pub intent: String,
    pub conversations: u64,
    /// Conversations with a resolution time (the n behind the resolution columns).
    pub resolved_conversations: u64,
    pub resolution: Distribution,
    pub resolution_bh: Distribution,
    pub frt_human_median_s: Option<f64>,
    pub fcr_rate: Option<f64>,
    pub reopen_rate: Option<f64>,
    pub csat_pct: Option<f64>,
    pub csat_responses: u64,
    pub handover_rate: Option<f64>,
    /// Conversations whose last labelled customer message is negative / conversations with one.
    pub ending_negative_rate: Option<f64>,
    /// This intent's median resolution over the median of all conversations.
    pub resolution_median_ratio: Option<f64>,
}

/// The Kruskal-Wallis H test across intents on resolution_s.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct KruskalWallis {
    /// Tie-corrected H.
    pub h: Option<f64>,
    /// Groups - 1.
    pub df: u64,
    /// Upper tail of the chi-squared distribution with df degrees of freedom at H.
    pub p_value: Option<f64>,
    /// epsilon^2 = H / (n - 1): the share of rank variance the intents explain (0..1).
    pub epsilon_squared: Option<f64>,
    /// Values tested (conversations with an intent and a resolution time).
    pub n: u64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct IntentResolution {
    pub rows: Vec<IntentResolutionRow>,
    pub test: KruskalWallis,
}

/// Builds the table from the per-intent KPI rows the aggregate stage already computed, plus
/// what only this table needs: each intent's resolution times (for the test) and endings.
pub fn intent_resolution(
    rows: &[ConversationRow],
    overall: &KpiRow,
    by_intent: &KpiTable<Option<String>>,
) -> IntentResolution {
    let overall_median = overall.timing("resolution").median;
    let mut resolution: HashMap<&str, Vec<f64>> = HashMap::new();
    let mut ends: HashMap<&str, (u64, u64)> = HashMap::new();
    for r in rows {
        let Some(intent) = r.reading.intent.as_deref() else { continue };
        if let Some(s) = r.resolution_s {
            resolution.entry(intent).or_default().push(s);
        }
        if let Some(negative) = r.reading.sentiment.ends_negative {
            let e = ends.entry(intent).or_default();
            e.0 += u64::from(negative);
            e.1 += 1;
        }
    }
    let mut samples: Vec<Vec<f64>> = Vec::new();
    let mut table = Vec::new();
    for (intent, k) in by_intent {
        let Some(intent) = intent.as_deref() else { continue };
        let res = k.timing("resolution");
        let values = resolution.remove(intent).unwrap_or_default();
        let resolved_conversations = values.len() as u64;
        if !values.is_empty() {
            samples.push(values);
        }
        table.push(IntentResolutionRow {
            intent: intent.to_string(),
            conversations: k.conversations,
            resolved_conversations,
            resolution: res,
            resolution_bh: k.timing("resolution_bh"),
            frt_human_median_s: k.timing("frt_human").median,
            fcr_rate: k.fcr_rate,
            reopen_rate: k.reopen_rate,
            csat_pct: k.csat_pct,
            csat_responses: k.csat_responses,
            handover_rate: k.handover_rate,
            ending_negative_rate: ends.get(intent).filter(|e| e.1 > 0).map(|e| e.0 as f64 / e.1 as f64),
            resolution_median_ratio: res.median.zip(overall_median).filter(|(_, o)| *o > 0.0).map(|(m, o)| m / o),
        });
    }
    IntentResolution { rows: table, test: kruskal_wallis(&samples) }
}

/// Kruskal-Wallis H with the tie correction, as scipy.stats.kruskal computes it. H is null with
/// fewer than two groups or when every value is tied (no ranks to compare).
pub fn kruskal_wallis(groups: &[Vec<f64>]) -> KruskalWallis {
    let n: usize = groups.iter().map(Vec::len).sum();
    let df = groups.len().saturating_sub(1) as u64;
    let mut test = KruskalWallis { df, n: n as u64, ..Default::default() };
    if groups.len() < 2 || n < 2 {
        return test;
    }
    // Pool (value, group), sort, and give tied values their average rank.
    let mut pooled: Vec<(f64, usize)> =
        groups.iter().enumerate().flat_map(|(g, values)| values.iter().map(move |&v| (v, g))).collect();
    pooled.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sums = vec![0.0f64; groups.len()];
    let mut tie_term = 0.0f64;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && pooled[j + 1].0 == pooled[i].0 {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        for &(_, g) in &pooled[i..=j] {
            rank_sums[g] += average_rank;
        }
        let t = (j - i + 1) as f64;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let nf = n as f64;
    let correction = 1.0 - tie_term / (nf * nf * nf - nf);
    if correction <= 0.0 {
        return test;
    }
    let sum: f64 = rank_sums.iter().zip(groups).map(|(r, g)| r * r / g.len() as f64).sum();
    let h = (12.0 / (nf * (nf + 1.0)) * sum - 3.0 * (nf + 1.0)) / correction;
    let h = h.max(0.0);
    test.h = Some(h);
    test.p_value = ChiSquared::new(df as f64).ok().map(|chi2| chi2.sf(h));
    test.epsilon_squared = Some(h / (nf - 1.0));
    test
}

#[cfg(test)]
mod tests {
    use super::super::{kpis, kpis_by};
    use super::*;

    #[test]
    fn kruskal_wallis_matches_scipy() {
        // scipy.stats.kruskal([1, 3, 5, 7, 9], [2, 4, 6, 8, 10], [11, 12, 13, 13, 15])
        //   -> H = 9.516994633273702, p = 0.008578490471899161
        let groups =
            vec![vec![1.0, 3.0, 5.0, 7.0, 9.0], vec![2.0, 4.0, 6.0, 8.0, 10.0], vec![11.0, 12.0, 13.0, 13.0, 15.0]];
        let t = kruskal_wallis(&groups);
        assert_eq!((t.df, t.n), (2, 15));
        assert!((t.h.unwrap() - 9.516_994_633_273_702).abs() < 1e-9, "{:?}", t.h);
        assert!((t.p_value.unwrap() - 0.008_578_490_471_899_161).abs() < 1e-9, "{:?}", t.p_value);
        assert!((t.epsilon_squared.unwrap() - 9.516_994_633_273_702 / 14.0).abs() < 1e-12);
    }

    #[test]
    fn kruskal_wallis_is_null_without_two_groups_or_without_spread() {
        assert_eq!(kruskal_wallis(&[vec![1.0, 2.0]]).h, None);
        assert_eq!(kruskal_wallis(&[vec![3.0, 3.0], vec![3.0]]).h, None);
        // Identical distributions: H = 0, p = 1.
        let t = kruskal_wallis(&[vec![1.0, 2.0], vec![1.0, 2.0]]);
        assert_eq!(t.h, Some(0.0));
        assert!((t.p_value.unwrap() - 1.0).abs() < 1e-12);
    }

    fn conv(intent: &str, resolution_s: Option<f64>, ends_negative: Option<bool>) -> ConversationRow {
        let mut r = ConversationRow {
            reading: crate::row::ModelReading { intent: Some(intent.into()), ..Default::default() },
            resolution_s,
            ..Default::default()
        };
        r.reading.sentiment.ends_negative = ends_negative;
        r
    }

    #[test]
    fn per_intent_rows_and_the_ratio_to_the_overall_median() {
        let rows = vec![
            conv("refund_return", Some(600.0), Some(true)),
            conv("refund_return", Some(1000.0), Some(false)),
            conv("order_status", Some(100.0), None),
            conv("order_status", Some(200.0), Some(false)),
            conv("order_status", None, Some(false)),
        ];
        let all: Vec<&ConversationRow> = rows.iter().collect();
        let t = intent_resolution(&rows, &kpis(&all), &kpis_by(&rows, |r| r.reading.intent.clone()));
        let names: Vec<&str> = t.rows.iter().map(|r| r.intent.as_str()).collect();
        assert_eq!(names, ["order_status", "refund_return"]);
        let (order, refund) = (&t.rows[0], &t.rows[1]);
        assert_eq!((order.conversations, order.resolved_conversations), (3, 2));
        // Overall median of [100, 200, 600, 1000] = 400.
        assert_eq!(refund.resolution.median, Some(800.0));
        assert_eq!(refund.resolution_median_ratio, Some(2.0));
        assert_eq!(order.resolution_median_ratio, Some(150.0 / 400.0));
        assert_eq!(refund.ending_negative_rate, Some(0.5));
        assert_eq!(order.ending_negative_rate, Some(0.0));
        assert_eq!(t.test.n, 4);
        assert!(t.test.h.is_some());
    }
}
