//! Training a head on frozen embeddings: AdamW, class-weighted cross-entropy (rare classes such
//! as neutral sentiment count as much as common ones), input dropout, and the epoch kept that
//! scores best on the validation sets (mean of their macro-F1).

use candle_core::{DType, Device, Tensor, D};
use candle_nn::{linear, AdamW, Linear, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::metrics::{evaluate, Metrics};
use super::{argmax, Head, HeadCard};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Recipe {
    /// Hidden units of the MLP; 0 = a linear head (logistic regression).
    pub hidden: usize,
    pub epochs: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub batch_size: usize,
    pub input_dropout: f32,
    pub seed: u64,
}

impl Recipe {
    /// A linear head (logistic regression) with the settings every trainer starts from: AdamW at
    /// learning rate 1e-2, weight decay 1e-4, no dropout, seed 7. Candidates vary it.
    pub const fn linear(epochs: usize, batch_size: usize) -> Recipe {
        Recipe { hidden: 0, epochs, learning_rate: 1e-2, weight_decay: 1e-4, batch_size, input_dropout: 0.0, seed: 7 }
    }
}

/// A labelled set as embeddings and class indices.
pub struct EmbeddedSet {
    pub name: String,
    pub x: Vec<Vec<f32>>,
    pub y: Vec<usize>,
}

pub struct Trained {
    pub layers: Vec<(Tensor, Tensor)>,
    pub best_epoch: usize,
    pub validation: Vec<(String, Metrics)>,
    pub score: f64,
}

/// A tensor operation's error, its source kept.
fn ce(source: candle_core::Error) -> Error {
    Error::Tensor { stage: "head training", source }
}

fn to_tensor(x: &[Vec<f32>], dev: &Device) -> candle_core::Result<Tensor> {
    let dim = x.first().map_or(0, |v| v.len());
    Tensor::from_vec(x.iter().flatten().copied().collect::<Vec<_>>(), (x.len(), dim), dev)
}

fn predict(layers: &[(Tensor, Tensor)], x: &[Vec<f32>]) -> Result<Vec<usize>> {
    Ok(logits(layers, x)?.iter().map(|r| argmax(r)).collect())
}

/// Inverted dropout with a mask drawn from the training's own seeded generator.
fn dropout(x: &Tensor, p: f32, rng: &mut ChaCha8Rng) -> Result<Tensor> {
    let keep = 1.0 / (1.0 - p);
    let mask: Vec<f32> = (0..x.elem_count()).map(|_| if rng.random::<f32>() < p { 0.0 } else { keep }).collect();
    let mask = Tensor::from_vec(mask, x.shape(), x.device()).map_err(ce)?;
    x.mul(&mask).map_err(ce)
}

/// Trains for `recipe.epochs` epochs, handing each epoch's weights to `after_epoch` (1-based
/// epoch), and returns the last epoch's weights.
pub fn train_epochs(
    labels: &[String],
    train_set: &EmbeddedSet,
    recipe: Recipe,
    mut after_epoch: impl FnMut(usize, &[(Tensor, Tensor)]) -> Result<()>,
) -> Result<Vec<(Tensor, Tensor)>> {
    let dev = Device::Cpu;
    let k = labels.len();
    let dim = train_set.x.first().map_or(0, |v| v.len());
    let mut varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let layers: Vec<Linear> = if recipe.hidden == 0 {
        vec![linear(dim, k, vb.pp("l0")).map_err(ce)?]
    } else {
        vec![linear(dim, recipe.hidden, vb.pp("l0")).map_err(ce)?, linear(recipe.hidden, k, vb.pp("l1")).map_err(ce)?]
    };
    // candle's CPU random source cannot be seeded: initialise from the recipe's seed instead
    // (uniform +-1/sqrt(fan_in), candle's own default), so `convoqa train` reproduces a head
    // bit for bit.
    let mut rng = ChaCha8Rng::seed_from_u64(recipe.seed);
    let dims: Vec<(usize, usize)> =
        if recipe.hidden == 0 { vec![(dim, k)] } else { vec![(dim, recipe.hidden), (recipe.hidden, k)] };
    for (i, (fan_in, fan_out)) in dims.into_iter().enumerate() {
        let bound = 1.0 / (fan_in as f32).sqrt();
        let mut uniform = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
        let w = Tensor::from_vec(uniform(fan_in * fan_out), (fan_out, fan_in), &dev).map_err(ce)?;
        let b = Tensor::from_vec(uniform(fan_out), fan_out, &dev).map_err(ce)?;
        varmap.set_one(format!("l{i}.weight"), w).map_err(ce)?;
        varmap.set_one(format!("l{i}.bias"), b).map_err(ce)?;
    }
    let params = ParamsAdamW { lr: recipe.learning_rate, weight_decay: recipe.weight_decay, ..Default::default() };
    let mut opt = AdamW::new(varmap.all_vars(), params).map_err(ce)?;

    // Class weights: inverse frequency, normalised to mean 1.
    let mut counts = vec![0usize; k];
    for &y in &train_set.y {
        counts[y] += 1;
    }
    let raw: Vec<f32> =
        counts.iter().map(|&c| if c == 0 { 0.0 } else { train_set.y.len() as f32 / (k as f32 * c as f32) }).collect();
    let class_weights = Tensor::from_vec(raw, k, &dev).map_err(ce)?;

    let x_all = to_tensor(&train_set.x, &dev).map_err(ce)?;
    let y_all = Tensor::from_vec(train_set.y.iter().map(|&y| y as u32).collect::<Vec<_>>(), train_set.y.len(), &dev)
        .map_err(ce)?;
    let mut order: Vec<u32> = (0..train_set.y.len() as u32).collect();
    let mut last = None;
    for epoch in 1..=recipe.epochs {
        order.shuffle(&mut rng);
        for chunk in order.chunks(recipe.batch_size) {
            let idx = Tensor::from_vec(chunk.to_vec(), chunk.len(), &dev).map_err(ce)?;
            let x = x_all.index_select(&idx, 0).map_err(ce)?;
            let y = y_all.index_select(&idx, 0).map_err(ce)?;
            let x = if recipe.input_dropout > 0.0 { dropout(&x, recipe.input_dropout, &mut rng)? } else { x };
            let mut h = x;
            for (i, l) in layers.iter().enumerate() {
                h = l.forward(&h).map_err(ce)?;
                if i + 1 < layers.len() {
                    h = h.relu().map_err(ce)?;
                }
            }
            let logp = candle_nn::ops::log_softmax(&h, D::Minus1).map_err(ce)?;
            let picked = logp.gather(&y.unsqueeze(1).map_err(ce)?, 1).map_err(ce)?.squeeze(1).map_err(ce)?;
            let w = class_weights.index_select(&y, 0).map_err(ce)?;
            let loss = (picked.mul(&w).map_err(ce)?.sum_all().map_err(ce)?.neg().map_err(ce)?
                / w.sum_all().map_err(ce)?.to_scalar::<f32>().map_err(ce)? as f64)
                .map_err(ce)?;
            opt.backward_step(&loss).map_err(ce)?;
        }
        let snapshot: Vec<(Tensor, Tensor)> = layers
            .iter()
            .map(|l| Ok((l.weight().copy()?, l.bias().expect("linear has a bias").copy()?)))
            .collect::<candle_core::Result<_>>()
            .map_err(ce)?;
        after_epoch(epoch, &snapshot)?;
        last = Some(snapshot);
    }
    last.ok_or_else(|| Error::internal("no epoch trained"))
}

/// Trains and keeps the epoch that scores best on the validation sets (mean macro-F1).
pub fn train(labels: &[String], train_set: &EmbeddedSet, valid: &[EmbeddedSet], recipe: Recipe) -> Result<Trained> {
    let mut best: Option<Trained> = None;
    train_epochs(labels, train_set, recipe, |epoch, snapshot| {
        let mut validation = Vec::new();
        for set in valid {
            let pred = predict(snapshot, &set.x)?;
            validation.push((set.name.clone(), evaluate(labels, &set.y, &pred)));
        }
        let score = validation.iter().map(|(_, m)| m.macro_f1).sum::<f64>() / validation.len().max(1) as f64;
        if best.as_ref().is_none_or(|b| score > b.score) {
            best = Some(Trained { layers: snapshot.to_vec(), best_epoch: epoch, validation, score });
        }
        Ok(())
    })?;
    best.ok_or_else(|| Error::internal("no epoch trained"))
}

/// Logits of a head's layers (as `train_epochs` hands them) for these inputs, before any
/// temperature.
pub fn logits(layers: &[(Tensor, Tensor)], x: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
    if x.is_empty() {
        return Ok(Vec::new());
    }
    let head = Head::new(HeadCard::bare(&[]), layers.to_vec());
    head.logits(&to_tensor(x, &Device::Cpu).map_err(ce)?).map_err(ce)?.to_vec2::<f32>().map_err(ce)
}

/// Trains every candidate recipe and keeps the one with the best validation score; also returns
/// what each candidate scored, for the head's card.
pub fn train_best(
    labels: &[String],
    train_set: &EmbeddedSet,
    valid: &[EmbeddedSet],
    candidates: &[Recipe],
) -> Result<(Recipe, Trained, Vec<serde_json::Value>)> {
    let mut tried = Vec::new();
    let mut best: Option<(Recipe, Trained)> = None;
    for &recipe in candidates {
        let t = train(labels, train_set, valid, recipe)?;
        tracing::info!(hidden = recipe.hidden, score = t.score, epoch = t.best_epoch, "recipe tried");
        tried.push(serde_json::json!({"recipe": recipe, "best_epoch": t.best_epoch, "validation_score": t.score}));
        if best.as_ref().is_none_or(|(_, b)| t.score > b.score) {
            best = Some((recipe, t));
        }
    }
    let (recipe, trained) = best.ok_or_else(|| Error::internal("no candidate recipe"))?;
    Ok((recipe, trained, tried))
}
