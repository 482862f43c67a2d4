//! A head's second reader: a bag of hashed n-grams (character 2- to 5-grams inside each word,
//! plus words and word pairs), TF-IDF weighted, under a linear layer. It reads the same texts as
//! the embedding head (for intent the customer's messages that speak to the need, the menu
//! options picked, the e-mail subject; for sentiment each customer message no context rule
//! decides) and the two are blended in log-probability space.
//!
//! Why: a small multilingual encoder blurs the words that separate neighbouring needs, or a
//! complaint from a calm report, in informal Indonesian ("blm nyampe" against "nyampe tp
//! rusak", "tagihan dobel", "telat lg"); character n-grams keep them, typos and abbreviations
//! included. The blend beat either reader alone for both heads (models/heads/*/CARD.md).
//!
//! Features hash into `BUCKETS` slots (no vocabulary to ship or to miss); collisions cost
//! little at this size (for intent, 2^16 against 2^18 moved out-of-fold macro-F1 by 0.002).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::error::{Error, Result};

/// Weights of the lexical reader in the blend the trainers try (0: the embedding head alone).
pub const LEXICAL_WEIGHTS: [f64; 7] = [0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 1.0];

/// Hashed feature slots.
pub const BUCKETS: usize = 1 << 16;

/// Character n-gram lengths inside a word padded with spaces (" kak " gives " k", "ka", ...).
const CHAR_NGRAMS: std::ops::RangeInclusive<usize> = 2..=5;

/// A document's features: (slot, value) sorted by slot, each slot once.
pub type Sparse = Vec<(u32, f32)>;

fn slot(kind: u8, gram: &str) -> u32 {
    // FNV-1a: stable across runs and platforms, unlike std's randomly seeded hasher.
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in std::iter::once(&kind).chain(gram.as_bytes()) {
        h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
    }
    (h % BUCKETS as u64) as u32
}

/// Raw n-gram counts of a document (lowercased; words are runs of letters and digits).
pub fn term_counts(doc: &str) -> Sparse {
    let lower = doc.to_lowercase();
    let words: Vec<&str> = lower.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let mut counts: HashMap<u32, f32> = HashMap::new();
    let mut add = |s: u32| *counts.entry(s).or_default() += 1.0;
    for (i, w) in words.iter().enumerate() {
        add(slot(b'w', w));
        if let Some(next) = words.get(i + 1) {
            add(slot(b'b', &format!("{w} {next}")));
        }
        let padded: Vec<char> = format!(" {w} ").chars().collect();
        for n in CHAR_NGRAMS {
            for gram in padded.windows(n) {
                add(slot(b'c', &gram.iter().collect::<String>()));
            }
        }
    }
    let mut sparse: Sparse = counts.into_iter().collect();
    sparse.sort_unstable_by_key(|&(s, _)| s);
    sparse
}

/// Inverse document frequencies, smoothed (ln((1 + n) / (1 + df)) + 1), so a slot no training
/// document had still counts.
#[derive(Debug, Clone)]
pub struct Idf(pub Vec<f32>);

impl Idf {
    pub fn fit(documents: &[Sparse]) -> Idf {
        let mut df = vec![0u32; BUCKETS];
        for d in documents {
            for &(s, _) in d {
                df[s as usize] += 1;
            }
        }
        let n = documents.len() as f32;
        Idf(df.into_iter().map(|d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0).collect())
    }

    /// Sublinear term frequency (1 + ln tf) times idf, L2-normalised.
    pub fn weigh(&self, counts: &Sparse) -> Sparse {
        let mut v: Sparse = counts.iter().map(|&(s, c)| (s, (1.0 + c.ln()) * self.0[s as usize])).collect();
        let norm = v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt().max(1e-12);
        for (_, x) in &mut v {
            *x /= norm;
        }
        v
    }
}

/// The trained lexical reader: idf plus a linear layer [classes, BUCKETS].
#[derive(Debug, Clone)]
pub struct LexicalHead {
    pub idf: Idf,
    pub layer: SparseLinear,
}

/// The file beside a head's head.safetensors (intent heads; the sentiment head since stop 26).
pub const FILE: &str = "lexical.safetensors";

fn ce(source: candle_core::Error) -> Error {
    Error::Tensor { stage: "lexical head", source }
}

impl LexicalHead {
    pub fn new(idf: Idf, layer: SparseLinear) -> LexicalHead {
        LexicalHead { idf, layer }
    }

    /// Logits for one document (before any temperature).
    pub fn logits(&self, doc: &str) -> Vec<f32> {
        self.layer.logits(&self.idf.weigh(&term_counts(doc)))
    }

    /// Saved in f16 (half the bytes in git; logits move by under 1e-3).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let SparseLinear { weights, bias } = &self.layer;
        let classes = bias.len();
        let half = |v: &[f32], shape: &[usize]| {
            Tensor::from_vec(v.to_vec(), shape, &Device::Cpu).and_then(|t| t.to_dtype(DType::F16))
        };
        let map: HashMap<String, Tensor> = [
            ("w", half(weights, &[classes, BUCKETS])),
            ("b", Tensor::from_vec(bias.clone(), classes, &Device::Cpu)),
            ("idf", half(&self.idf.0, &[BUCKETS])),
        ]
        .into_iter()
        .map(|(k, t)| Ok((k.to_string(), t.map_err(ce)?)))
        .collect::<Result<_>>()?;
        let path = dir.join(FILE);
        candle_core::safetensors::save(&map, &path).map_err(|e| Error::write(&path, e))
    }

    pub fn load(dir: &Path) -> Result<LexicalHead> {
        let path = dir.join(FILE);
        let bad = |what: String| {
            Error::input(
                &path,
                what,
                "re-create it: card.json's `recipe.lexical.command` (sentiment) or `command` (intent)",
            )
        };
        let tensors = candle_core::safetensors::load(&path, &Device::Cpu)
            .map_err(|e| bad(format!("cannot read the lexical head: {e}")))?;
        let get = |k: &str| -> Result<Vec<f32>> {
            let t = tensors.get(k).ok_or_else(|| bad(format!("no tensor `{k}`")))?;
            t.to_dtype(DType::F32).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).map_err(ce)
        };
        let (weights, bias, idf) = (get("w")?, get("b")?, get("idf")?);
        if idf.len() != BUCKETS || weights.len() != bias.len() * BUCKETS {
            return Err(bad(format!(
                "expected {BUCKETS} idf values and [classes, {BUCKETS}] weights; found {} and {}",
                idf.len(),
                weights.len()
            )));
        }
        Ok(LexicalHead { idf: Idf(idf), layer: SparseLinear { weights, bias } })
    }
}

/// A linear layer over sparse rows: weights [classes, BUCKETS] row-major, bias [classes].
#[derive(Debug, Clone)]
pub struct SparseLinear {
    pub weights: Vec<f32>,
    pub bias: Vec<f32>,
}

impl SparseLinear {
    pub fn logits(&self, x: &Sparse) -> Vec<f32> {
        self.bias
            .iter()
            .enumerate()
            .map(|(c, b)| {
                let row = &self.weights[c * BUCKETS..(c + 1) * BUCKETS];
                b + x.iter().map(|&(s, v)| row[s as usize] * v).sum::<f32>()
            })
            .collect()
    }
}

/// How the lexical layer trains: multinomial logistic regression by per-row AdaGrad with an L2
/// penalty, class-weighted like the embedding heads (heads::train), rows in a seeded shuffle.
/// Written for sparse rows: candle's dense optimiser would update all 2^16 x classes weights on
/// every step (hours on 2 cores); a row here touches only its few hundred n-grams.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct SparseRecipe {
    pub epochs: usize,
    pub learning_rate: f32,
    pub l2: f32,
    pub seed: u64,
}

/// Trains for `recipe.epochs` epochs, handing each epoch's layer to `after_epoch` (1-based).
pub fn train_sparse(
    classes: usize,
    x: &[Sparse],
    y: &[usize],
    recipe: SparseRecipe,
    mut after_epoch: impl FnMut(usize, &SparseLinear) -> Result<()>,
) -> Result<SparseLinear> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut layer = SparseLinear { weights: vec![0.0; classes * BUCKETS], bias: vec![0.0; classes] };
    let (mut g_weights, mut g_bias) = (vec![0f32; classes * BUCKETS], vec![0f32; classes]);
    let mut counts = vec![0usize; classes];
    for &c in y {
        counts[c] += 1;
    }
    let class_weight: Vec<f32> =
        counts.iter().map(|&c| if c == 0 { 0.0 } else { y.len() as f32 / (classes as f32 * c as f32) }).collect();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(recipe.seed);
    let mut order: Vec<usize> = (0..y.len()).collect();
    let step = |g: &mut f32, grad: f32| {
        recipe.learning_rate * grad / {
            *g += grad * grad;
            g.sqrt() + 1e-8
        }
    };
    for epoch in 1..=recipe.epochs {
        order.shuffle(&mut rng);
        for &i in &order {
            let z = layer.logits(&x[i]);
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let exp: Vec<f32> = z.iter().map(|v| (v - max).exp()).collect();
            let sum: f32 = exp.iter().sum();
            for c in 0..classes {
                let d = class_weight[y[i]] * (exp[c] / sum - f32::from(c == y[i]));
                for &(s, v) in &x[i] {
                    let at = c * BUCKETS + s as usize;
                    let grad = d * v + recipe.l2 * layer.weights[at];
                    layer.weights[at] -= step(&mut g_weights[at], grad);
                }
                layer.bias[c] -= step(&mut g_bias[c], d);
            }
        }
        after_epoch(epoch, &layer)?;
    }
    Ok(layer)
}

/// Blends the embedding head's and the lexical head's logits: (1 - w) log p_embedding +
/// w log p_lexical, itself a vector of logits (temperature and softmax follow).
pub fn blend(embedding_logits: &[f32], lexical_logits: &[f32], lexical_weight: f64) -> Vec<f32> {
    let a = log_softmax(embedding_logits);
    let b = log_softmax(lexical_logits);
    let w = lexical_weight as f32;
    a.iter().zip(&b).map(|(x, y)| (1.0 - w) * x + w * y).collect()
}

/// A head's class probabilities for each input: the head alone, or blended with its lexical
/// reader (each input's document, the same texts raw) and then its temperature. Documents are
/// read in parallel: a sentiment head reads every customer message the rules leave to it.
pub fn blended_proba(
    head: &super::Head,
    lexical: Option<&LexicalHead>,
    embeddings: &[Vec<f32>],
    documents: &[&str],
) -> Result<Vec<Vec<f32>>> {
    use rayon::prelude::*;
    let Some(lexical) = lexical else { return head.predict_proba(embeddings) };
    let embedding_logits = head.raw_logits(embeddings)?;
    Ok(embedding_logits
        .par_iter()
        .zip(documents)
        .map(|(e, d)| super::softmax(&blend(e, &lexical.logits(d), head.card.lexical_weight), head.card.temperature))
        .collect())
}

/// Saves a head's lexical reader beside it, or removes a stale one (from an earlier
/// training into the same directory) when the head blends none.
pub fn save_beside(lexical: Option<&LexicalHead>, dir: &Path) -> Result<()> {
    let path = dir.join(FILE);
    match lexical {
        Some(l) => l.save(dir),
        None if path.exists() => std::fs::remove_file(&path).map_err(|e| Error::write(&path, e)),
        None => Ok(()),
    }
}

/// The lexical reader a head blends, loaded from beside it; None when it blends none.
pub fn load_for(head: &super::Head, dir: &Path) -> Result<Option<LexicalHead>> {
    if head.card.lexical_weight > 0.0 {
        Ok(Some(LexicalHead::load(dir)?))
    } else {
        Ok(None)
    }
}

fn log_softmax(z: &[f32]) -> Vec<f32> {
    let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max + z.iter().map(|x| (x - max).exp()).sum::<f32>().ln();
    z.iter().map(|x| x - lse).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_case_blind_and_see_inside_words() {
        let a = term_counts("Paket BLM nyampe");
        assert_eq!(a, term_counts("paket blm nyampe!!"));
        // "blm" shares its character grams with "blm" inside another message, not "belum".
        let shared = |x: &Sparse, y: &Sparse| x.iter().filter(|(s, _)| y.iter().any(|(t, _)| t == s)).count();
        let b = term_counts("blm");
        assert_eq!(shared(&a, &b), b.len());
        // words: " blm " gives 4 + 3 + 2 + 1 char grams (2..=5) and one word.
        assert_eq!(b.len(), 4 + 3 + 2 + 1 + 1);
        assert!(term_counts("").is_empty());
    }

    #[test]
    fn weighted_rows_are_unit_length_and_rare_grams_weigh_more() {
        let docs = [term_counts("refund belum masuk"), term_counts("paket belum sampai"), term_counts("belum")];
        let idf = Idf::fit(&docs);
        let v = idf.weigh(&docs[0]);
        let norm: f32 = v.iter().map(|(_, x)| x * x).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        let word = |w: &str| idf.0[slot(b'w', w) as usize];
        assert!(word("refund") > word("belum"));
    }

    #[test]
    fn blend_is_the_weighted_sum_of_log_probabilities() {
        let (e, l) = ([2.0f32, 0.0], [0.0f32, 2.0]);
        assert_eq!(blend(&e, &l, 0.0), log_softmax(&e));
        assert_eq!(blend(&e, &l, 1.0), log_softmax(&l));
        let even = blend(&e, &l, 0.5);
        assert!((even[0] - even[1]).abs() < 1e-6);
        // Shifting logits by a constant changes nothing.
        for (a, b) in blend(&[12.0, 10.0], &l, 0.3).iter().zip(blend(&e, &l, 0.3)) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    #[test]
    fn a_saved_head_reads_the_same_after_loading() {
        let dir = std::env::temp_dir().join(format!("convoqa-lexical-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let docs = [term_counts("refund belum masuk"), term_counts("paket belum sampai")];
        let idf = Idf::fit(&docs);
        let rows: Vec<Sparse> = docs.iter().map(|d| idf.weigh(d)).collect();
        let mut seen = Vec::new();
        let layer = train_sparse(
            2,
            &rows,
            &[0, 1],
            SparseRecipe { epochs: 5, learning_rate: 0.5, l2: 1e-4, seed: 7 },
            |e, l| {
                seen.push((e, l.logits(&rows[0])[0] - l.logits(&rows[0])[1]));
                Ok(())
            },
        )
        .unwrap();
        // Each epoch separates the two rows further.
        assert_eq!(seen.len(), 5);
        assert!(seen.windows(2).all(|w| w[1].1 > w[0].1 && w[0].1 > 0.0), "{seen:?}");
        let head = LexicalHead::new(idf, layer);
        head.save(&dir).unwrap();
        let loaded = LexicalHead::load(&dir).unwrap();
        for doc in ["refundnya belum masuk kak", "paket sampai"] {
            for (a, b) in head.logits(doc).iter().zip(loaded.logits(doc)) {
                assert!((a - b).abs() < 1e-2, "{a} vs {b}");
            }
        }
        assert!(head.logits("refund masuk")[0] > head.logits("refund masuk")[1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
