//! Themes by density: HDBSCAN over the conversations' points, themes closer than
//! [`MERGE_SIMILARITY`] merged, and above [`MAX_CLUSTERED`] conversations a sample clustered with
//! the rest joining their nearest theme. Vectors are unit length, so cosine is a dot product.

use std::collections::BTreeMap;

use crate::text::stable_hash;

use super::{
    VocStats, INTENT_WEIGHT, LEXICAL_WEIGHT, MAX_CLUSTERED, MERGE_SIMILARITY, MIN_SAMPLES, MIN_THEME_CONVERSATIONS,
    OUTLIER_SIMILARITY,
};

pub(super) fn normalised(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::MIN_POSITIVE);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

pub(super) fn mean_of<'a>(vectors: impl Iterator<Item = &'a Vec<f32>>) -> Vec<f32> {
    let mut sum: Vec<f32> = Vec::new();
    for v in vectors {
        if sum.is_empty() {
            sum = vec![0.0; v.len()];
        }
        sum.iter_mut().zip(v).for_each(|(a, x)| *a += x);
    }
    normalised(sum)
}

pub(super) fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// A theme under construction: its conversations (indices into the rows) and centroid.
pub(super) struct Cluster {
    pub(super) members: Vec<usize>,
    centroid: Vec<f32>,
}

/// HDBSCAN over the points; None for noise.
fn hdbscan_labels(points: &[Vec<f32>]) -> Vec<Option<usize>> {
    if points.len() < MIN_THEME_CONVERSATIONS {
        return vec![None; points.len()];
    }
    let params = hdbscan::HdbscanHyperParams::builder()
        .min_cluster_size(MIN_THEME_CONVERSATIONS)
        .min_samples(MIN_SAMPLES)
        .build();
    match hdbscan::Hdbscan::new(points, params).cluster() {
        Ok(labels) => labels.into_iter().map(|l| usize::try_from(l).ok()).collect(),
        // Only empty or non-finite input fails; neither reaches here, and no theme is a safe answer.
        Err(_) => vec![None; points.len()],
    }
}

/// Clusters the complaint conversations: HDBSCAN on (a sample of) them, near-duplicate themes
/// merged, the rest assigned by centroid. Returns the themes and stats.
pub(super) fn cluster_conversations(points: &BTreeMap<usize, Vec<f32>>, ids: &[&str]) -> (Vec<Cluster>, VocStats) {
    let mut order: Vec<usize> = points.keys().copied().collect();
    order.sort_by_key(|&c| (stable_hash(ids[c]), c));
    let (sampled, rest) = order.split_at(order.len().min(MAX_CLUSTERED));
    let mut sampled = sampled.to_vec();
    sampled.sort_unstable();
    let vectors: Vec<Vec<f32>> = sampled.iter().map(|c| points[c].clone()).collect();
    let labels = hdbscan_labels(&vectors);
    let mut by_label: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (&c, label) in sampled.iter().zip(&labels) {
        if let Some(l) = label {
            by_label.entry(*l).or_default().push(c);
        }
    }
    let mut clusters: Vec<Cluster> = by_label
        .into_values()
        .map(|members| Cluster { centroid: mean_of(members.iter().map(|c| &points[c])), members })
        .collect();
    let mut merged = 0u64;
    loop {
        let mut best: Option<(f32, usize, usize)> = None;
        for i in 0..clusters.len() {
            for j in i + 1..clusters.len() {
                let sim = cosine(&clusters[i].centroid, &clusters[j].centroid);
                if sim >= MERGE_SIMILARITY && best.is_none_or(|b| sim > b.0) {
                    best = Some((sim, i, j));
                }
            }
        }
        let Some((_, i, j)) = best else { break };
        let absorbed = clusters.remove(j);
        clusters[i].members.extend(absorbed.members);
        clusters[i].members.sort_unstable();
        clusters[i].centroid = mean_of(clusters[i].members.iter().map(|c| &points[c]));
        merged += 1;
    }
    // Noise close to a theme joins it; centroids stay as HDBSCAN found them, so the order of the
    // noise does not matter.
    let noise: Vec<usize> = sampled.iter().zip(&labels).filter(|(_, l)| l.is_none()).map(|(&c, _)| c).collect();
    let mut assigned = 0u64;
    for (c, k) in noise
        .iter()
        .filter_map(|&c| nearest_theme(&clusters, &points[&c], OUTLIER_SIMILARITY).map(|k| (c, k)))
        .collect::<Vec<_>>()
    {
        clusters[k].members.push(c);
        assigned += 1;
    }
    for &c in rest {
        if let Some(k) = nearest_theme(&clusters, &points[&c], MERGE_SIMILARITY) {
            clusters[k].members.push(c);
            assigned += 1;
        }
    }
    clusters.retain(|c| c.members.len() >= MIN_THEME_CONVERSATIONS);
    let themed: usize = clusters.iter().map(|c| c.members.len()).sum();
    let stats = VocStats {
        complaint_conversations: points.len() as u64,
        themes: clusters.len() as u64,
        themed_conversations: themed as u64,
        long_tail_conversations: (points.len() - themed) as u64,
        merged_themes: merged,
        assigned_by_centroid: assigned,
        method: format!(
            "HDBSCAN (min cluster size {MIN_THEME_CONVERSATIONS}, min samples {MIN_SAMPLES}) on one point per complaint conversation (its problem statements' centred embedding, their TF-IDF words x {LEXICAL_WEIGHT}, its intent x {INTENT_WEIGHT}), across intents; themes merged above cosine {MERGE_SIMILARITY}; noise within cosine {OUTLIER_SIMILARITY} of a theme joins it; titles by class-based TF-IDF over uni- and bigrams"
        ),
    };
    (clusters, stats)
}

/// The theme whose centroid is closest to `point`, if at least `min_similarity` (cosine).
fn nearest_theme(clusters: &[Cluster], point: &[f32], min_similarity: f32) -> Option<usize> {
    clusters
        .iter()
        .enumerate()
        .map(|(k, cl)| (cosine(&cl.centroid, point), k))
        .filter(|(sim, _)| *sim >= min_similarity)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}
