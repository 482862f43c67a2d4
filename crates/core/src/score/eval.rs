//! Ranking and calibration metrics for the risk models: ROC-AUC, PR-AUC (average precision),
//! Brier score and a calibration table, with sklearn's definitions.

use serde::{Deserialize, Serialize};

/// ROC-AUC: the probability that a random positive scores above a random negative, ties
/// counting half (Mann-Whitney U with average ranks). None without both classes.
pub fn roc_auc(scored: &[(f64, bool)]) -> Option<f64> {
    let positives = scored.iter().filter(|s| s.1).count();
    let negatives = scored.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < sorted.len() {
        let j = (i..sorted.len()).find(|&j| sorted[j].0 != sorted[i].0).unwrap_or(sorted.len());
        let average_rank = (i + 1 + j) as f64 / 2.0;
        rank_sum += average_rank * sorted[i..j].iter().filter(|s| s.1).count() as f64;
        i = j;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Average precision (sklearn's PR-AUC): sum over score thresholds of (recall step) x
/// precision, tied scores forming one threshold. None without positives.
pub fn average_precision(scored: &[(f64, bool)]) -> Option<f64> {
    let positives = scored.iter().filter(|s| s.1).count();
    if positives == 0 {
        return None;
    }
    let mut sorted: Vec<(f64, bool)> = scored.to_vec();
    sorted.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut true_pos, mut seen, mut ap, mut last_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < sorted.len() {
        let j = (i..sorted.len()).find(|&j| sorted[j].0 != sorted[i].0).unwrap_or(sorted.len());
        true_pos += sorted[i..j].iter().filter(|s| s.1).count();
        seen = j;
        let recall = true_pos as f64 / positives as f64;
        ap += (recall - last_recall) * true_pos as f64 / seen as f64;
        last_recall = recall;
        i = j;
    }
    debug_assert_eq!(seen, sorted.len());
    Some(ap)
}

/// Mean squared error of the probabilities.
pub fn brier(scored: &[(f64, bool)]) -> Option<f64> {
    (!scored.is_empty()).then(|| {
        scored.iter().map(|(p, y)| (p - if *y { 1.0 } else { 0.0 }).powi(2)).sum::<f64>() / scored.len() as f64
    })
}

/// One bin of a calibration table: predictions in [lower, upper).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalibrationBin {
    pub lower: f64,
    pub upper: f64,
    pub rows: usize,
    pub mean_predicted: f64,
    pub observed_rate: f64,
}

/// Equal-width bins over 0..1 (the last includes 1.0); empty bins are left out.
pub fn calibration_table(scored: &[(f64, bool)], bins: usize) -> Vec<CalibrationBin> {
    let mut sums = vec![(0usize, 0.0, 0usize); bins];
    for &(p, y) in scored {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        sums[b].0 += 1;
        sums[b].1 += p;
        sums[b].2 += y as usize;
    }
    sums.iter()
        .enumerate()
        .filter(|(_, s)| s.0 > 0)
        .map(|(b, &(n, p, y))| CalibrationBin {
            lower: b as f64 / bins as f64,
            upper: (b + 1) as f64 / bins as f64,
            rows: n,
            mean_predicted: p / n as f64,
            observed_rate: y as f64 / n as f64,
        })
        .collect()
}

/// The metrics the card reports for one model on one set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RankingMetrics {
    pub rows: usize,
    pub positives: usize,
    pub base_rate: f64,
    pub roc_auc: Option<f64>,
    pub pr_auc: Option<f64>,
    pub brier: Option<f64>,
}

impl RankingMetrics {
    pub fn of(scored: &[(f64, bool)]) -> RankingMetrics {
        let positives = scored.iter().filter(|s| s.1).count();
        RankingMetrics {
            rows: scored.len(),
            positives,
            base_rate: if scored.is_empty() { 0.0 } else { positives as f64 / scored.len() as f64 },
            roc_auc: roc_auc(scored),
            pr_auc: average_precision(scored),
            brier: brier(scored),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // sklearn 1.9.1 gives roc_auc_score 0.8125 and average_precision_score 0.816667 on these arrays.
    const Y: [bool; 8] = [false, false, true, true, false, true, false, true];
    const P: [f64; 8] = [0.1, 0.4, 0.35, 0.8, 0.4, 0.9, 0.2, 0.4];

    fn scored() -> Vec<(f64, bool)> {
        P.iter().copied().zip(Y).collect()
    }

    #[test]
    fn roc_auc_counts_ties_half() {
        // Pairs: positives {0.35, 0.8, 0.9, 0.4} vs negatives {0.1, 0.4, 0.4, 0.2}:
        // 0.35 beats 2; 0.8, 0.9 beat 4 each; 0.4 beats 2 and ties 2 -> (2+4+4+3)/16.
        assert!((roc_auc(&scored()).unwrap() - 13.0 / 16.0).abs() < 1e-12);
        assert_eq!(roc_auc(&[(0.3, true)]), None);
    }

    #[test]
    fn average_precision_groups_tied_scores() {
        // Thresholds 0.9 (1/1), 0.8 (2/2), 0.4 (3 of 5 seen), 0.35 (4/6), then no more positives:
        // AP = 0.25*1 + 0.25*1 + 0.25*3/5 + 0.25*4/6.
        let expected = 0.25 * (1.0 + 1.0 + 0.6 + 4.0 / 6.0);
        assert!((average_precision(&scored()).unwrap() - expected).abs() < 1e-12);
    }

    #[test]
    fn calibration_bins_hold_every_row() {
        let t = calibration_table(&scored(), 10);
        assert_eq!(t.iter().map(|b| b.rows).sum::<usize>(), 8);
        let b = t.iter().find(|b| b.lower == 0.4).unwrap();
        assert_eq!(b.rows, 3);
        assert!((b.observed_rate - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(calibration_table(&[(1.0, true)], 10)[0].upper, 1.0);
    }
}
