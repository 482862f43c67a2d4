//! Fine-tuning the encoder for chats: low-rank adapters on its upper layers, trained with
//! candle's autograd on two tasks at once (message sentiment and conversation intent) so both
//! heads share one adapted encoder and `analyze` still makes one encoder pass per text.
//!
//! The lower layers stay frozen, so their outputs are computed once per text and cached; each
//! step runs only the adapted upper layers forward and backward. Epochs are chosen on the
//! corpus dev split (businesses unseen in training). The shipped heads are then trained on the
//! adapted encoder's embeddings as before (`train sentiment --corpus`, `train intent --corpus`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var, D};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::corpus::{Corpus, CorpusConversation};
use super::data::load;
use super::intent::{message_pool, reads_intent, Taxonomy, DEFAULT_MESSAGE_DECAY};
use super::metrics::evaluate;
use super::sentiment::{SentimentData, LABELS};
use crate::encoder::lora::{AdaptedStack, Adapter, AdapterSpec, TARGETS};
use crate::encoder::Encoder;
use crate::error::{Error, Result};
use convoqa_domain::model::Role;

#[derive(Debug, Clone, Serialize)]
pub struct AdaptRecipe {
    pub rank: usize,
    pub alpha: f64,
    pub first_layer: usize,
    pub epochs: usize,
    pub learning_rate: f64,
    pub max_tokens: usize,
    pub batch_tokens: usize,
    /// SmSA train rows used (a seeded sample): the chats, not the reviews, are the point.
    pub smsa_rows: usize,
    /// Times the corpus's train messages are repeated per epoch (the mixing weight).
    pub corpus_repeats: usize,
    pub seed: u64,
}

impl Default for AdaptRecipe {
    fn default() -> Self {
        AdaptRecipe {
            rank: 8,
            alpha: 16.0,
            first_layer: 6,
            epochs: 3,
            learning_rate: 1e-3,
            max_tokens: 64,
            batch_tokens: 1024,
            smsa_rows: 3000,
            corpus_repeats: 2,
            seed: 11,
        }
    }
}

/// A tensor operation's error, its source kept.
fn ce(source: candle_core::Error) -> Error {
    Error::Tensor { stage: "adapter training", source }
}

/// Texts (deduplicated) with their cached lower-layer hidden states.
struct TextCache {
    index: BTreeMap<String, usize>,
    texts: Vec<String>,
    /// Per text: [len, h] row-major, unpadded.
    hidden: Vec<Vec<f32>>,
    lens: Vec<usize>,
}

impl TextCache {
    fn new() -> TextCache {
        TextCache { index: BTreeMap::new(), texts: Vec::new(), hidden: Vec::new(), lens: Vec::new() }
    }

    fn slot(&mut self, text: &str) -> usize {
        let key = convoqa_domain::text::inference_key(text);
        if let Some(&i) = self.index.get(&key) {
            return i;
        }
        self.texts.push(key.clone());
        self.index.insert(key, self.texts.len() - 1);
        self.texts.len() - 1
    }

    /// Runs the frozen lower layers once for every text.
    fn fill(&mut self, encoder: &Encoder, first_layer: usize, max_tokens: usize) -> Result<()> {
        let h = encoder.model.shape.hidden;
        let ids: Vec<Vec<u32>> = self
            .texts
            .par_iter()
            .map(|t| encoder.tokenizer.encode(&format!("{}{t}", encoder.query_prefix), max_tokens).map(|t| t.ids))
            .collect::<Result<_>>()?;
        let tokens: usize = ids.iter().map(Vec::len).sum();
        cache_fits(ids.len(), tokens * h * std::mem::size_of::<f32>(), convoqa_domain::memory::available_bytes())?;
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| (ids[i].len(), i));
        let batches: Vec<Vec<usize>> = order.chunks(32).map(<[usize]>::to_vec).collect();
        let pad = encoder.tokenizer.pad_id();
        let results: Vec<Vec<(usize, Vec<f32>)>> = batches
            .par_iter()
            .map(|batch| {
                let refs: Vec<&[u32]> = batch.iter().map(|&i| ids[i].as_slice()).collect();
                let (hidden, _) = encoder.model.hidden_until(&refs, pad, first_layer).map_err(ce)?;
                let all = hidden.to_vec3::<f32>().map_err(ce)?;
                Ok(batch
                    .iter()
                    .zip(all)
                    .map(|(&i, rows)| (i, rows.into_iter().take(ids[i].len()).flatten().collect()))
                    .collect())
            })
            .collect::<Result<_>>()?;
        self.hidden = vec![Vec::new(); ids.len()];
        self.lens = ids.iter().map(Vec::len).collect();
        for (i, v) in results.into_iter().flatten() {
            debug_assert_eq!(v.len(), self.lens[i] * h);
            self.hidden[i] = v;
        }
        Ok(())
    }

    /// A padded batch [b, len, h] and its mask [b, len].
    fn batch(&self, slots: &[usize], h: usize) -> candle_core::Result<(Tensor, Tensor)> {
        let len = slots.iter().map(|&s| self.lens[s]).max().unwrap_or(1);
        let mut x = vec![0f32; slots.len() * len * h];
        let mut mask = vec![0f32; slots.len() * len];
        for (b, &s) in slots.iter().enumerate() {
            x[b * len * h..b * len * h + self.hidden[s].len()].copy_from_slice(&self.hidden[s]);
            mask[b * len..b * len + self.lens[s]].fill(1.0);
        }
        Ok((
            Tensor::from_vec(x, (slots.len(), len, h), &Device::Cpu)?,
            Tensor::from_vec(mask, (slots.len(), len), &Device::Cpu)?,
        ))
    }
}

/// Share of the memory available at the start that the cache may fill: the training steps need
/// the rest (each batch's activations and gradients, the optimiser's state).
const CACHE_MEMORY_SHARE: f64 = 0.7;

/// Refuses a cache of `bytes` that would not fit in `available` bytes (None: not known, so not
/// checked), before minutes of encoding end in the kernel's out-of-memory kill.
fn cache_fits(texts: usize, bytes: usize, available: Option<u64>) -> Result<()> {
    let gib = |b: f64| b / f64::from(1u32 << 30);
    tracing::info!(texts, cache_gib = gib(bytes as f64), "lower-layer cache");
    match available {
        Some(available) if bytes as f64 > available as f64 * CACHE_MEMORY_SHARE => Err(Error::config(
            "the encoder adapter's training texts",
            format!(
                "the frozen layers' states of {texts} texts need {:.1} GiB in memory, more than {:.0}% of the {:.1} GiB \
                 this machine (or its container) has available",
                gib(bytes as f64),
                CACHE_MEMORY_SHARE * 100.0,
                gib(available as f64)
            ),
            "train on fewer texts (the cache grows with texts x tokens): `train adapter --smsa-rows 3000`, or a sample \
             of a team's file for `train intent --adapt-encoder`; or on a machine with more memory",
        )),
        _ => Ok(()),
    }
}

/// Labelled rows of one task: (text slot, class).
struct Task {
    rows: Vec<(usize, usize)>,
}

/// Batches of rows of similar length, at most `batch_tokens` padded tokens each.
fn batches(
    rows: &[(usize, usize)],
    cache: &TextCache,
    batch_tokens: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<Vec<(usize, usize)>> {
    let mut sorted = rows.to_vec();
    sorted.shuffle(rng);
    sorted.sort_by_key(|&(s, _)| cache.lens[s]);
    let mut out = Vec::new();
    let mut current: Vec<(usize, usize)> = Vec::new();
    for r in sorted {
        let len = cache.lens[r.0];
        if !current.is_empty() && (len * (current.len() + 1) > batch_tokens || current.len() >= 32) {
            out.push(std::mem::take(&mut current));
        }
        current.push(r);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Cosine-style classifier head: logits = 20 * normalised embedding x W^T + b.
fn head_logits(emb: &Tensor, w: &Var, b: &Var) -> candle_core::Result<Tensor> {
    (emb * 20.0)?.matmul(&w.as_tensor().t()?)?.broadcast_add(b.as_tensor())
}

fn loss(logits: &Tensor, y: &[usize]) -> candle_core::Result<Tensor> {
    let y = Tensor::from_vec(y.iter().map(|&v| v as u32).collect::<Vec<_>>(), y.len(), &Device::Cpu)?;
    candle_nn::loss::cross_entropy(logits, &y)
}

/// The adapter's variables for every target of the upper layers: A small random, B zero, so
/// training starts at the encoder it adapts.
fn adapter_vars(
    model: &crate::encoder::bert::BertModel,
    recipe: &AdaptRecipe,
    rng: &mut ChaCha8Rng,
) -> Result<BTreeMap<String, (Var, Var)>> {
    let mut vars = BTreeMap::new();
    for l in recipe.first_layer..model.layers.len() {
        for name in TARGETS {
            let (out_dim, in_dim) = crate::encoder::lora::target(&model.layers[l], name).weight.dims2().map_err(ce)?;
            let bound = 1.0 / (in_dim as f32).sqrt();
            let a: Vec<f32> = (0..recipe.rank * in_dim).map(|_| rng.random_range(-bound..bound)).collect();
            let a =
                Var::from_tensor(&Tensor::from_vec(a, (recipe.rank, in_dim), &Device::Cpu).map_err(ce)?).map_err(ce)?;
            let b = Var::zeros((out_dim, recipe.rank), DType::F32, &Device::Cpu).map_err(ce)?;
            vars.insert(format!("l{l}.{name}"), (a, b));
        }
    }
    Ok(vars)
}

/// A task's classifier weights (for `head_logits`): W small random, b zero.
fn task_head(k: usize, h: usize, rng: &mut ChaCha8Rng) -> Result<(Var, Var)> {
    let bound = 1.0 / (h as f32).sqrt();
    let w: Vec<f32> = (0..k * h).map(|_| rng.random_range(-bound..bound)).collect();
    Ok((
        Var::from_tensor(&Tensor::from_vec(w, (k, h), &Device::Cpu).map_err(ce)?).map_err(ce)?,
        Var::zeros(k, DType::F32, &Device::Cpu).map_err(ce)?,
    ))
}

/// The adapter's current weights, copied out of the variables.
fn snapshot(vars: &BTreeMap<String, (Var, Var)>) -> Result<BTreeMap<String, (Tensor, Tensor)>> {
    vars.iter()
        .map(|(k, (a, b))| Ok((k.clone(), (a.as_tensor().copy().map_err(ce)?, b.as_tensor().copy().map_err(ce)?))))
        .collect()
}

/// Adapted embeddings of cached texts (by slot), in the order given.
fn embed_cached_slots(
    model: &crate::encoder::bert::BertModel,
    cache: &TextCache,
    first_layer: usize,
    scale: f64,
    weights: &BTreeMap<String, (Tensor, Tensor)>,
    slots: &[usize],
) -> Result<Vec<Vec<f32>>> {
    let h = model.shape.hidden;
    let stack = AdaptedStack { model, first_layer, scale, weights };
    let mut order: Vec<usize> = (0..slots.len()).collect();
    order.sort_by_key(|&i| cache.lens[slots[i]]);
    let mut out = vec![Vec::new(); slots.len()];
    for chunk in order.chunks(64) {
        let ss: Vec<usize> = chunk.iter().map(|&i| slots[i]).collect();
        let (x, mask) = cache.batch(&ss, h).map_err(ce)?;
        let e = stack.embed(&x, &mask).map_err(ce)?.to_vec2::<f32>().map_err(ce)?;
        for (&i, v) in chunk.iter().zip(e) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// Predicted classes of a task head on embeddings.
fn head_predictions(e: Vec<Vec<f32>>, w: &Var, b: &Var, h: usize) -> Result<Vec<usize>> {
    let n = e.len();
    let x = Tensor::from_vec(e.into_iter().flatten().collect::<Vec<_>>(), (n, h), &Device::Cpu).map_err(ce)?;
    Ok(head_logits(&x, w, b)
        .map_err(ce)?
        .argmax(D::Minus1)
        .map_err(ce)?
        .to_vec1::<u32>()
        .map_err(ce)?
        .into_iter()
        .map(|v| v as usize)
        .collect())
}

pub struct AdaptOutcome {
    pub adapter: Adapter,
    pub report: serde_json::Value,
}

/// The adapted layers must exist: `first_layer` below the encoder's layer count.
fn check_first_layer(model: &crate::encoder::bert::BertModel, recipe: &AdaptRecipe) -> Result<()> {
    if recipe.first_layer >= model.layers.len() {
        return Err(Error::config(
            "--first-layer",
            format!("{} is not below the encoder's {} layers", recipe.first_layer, model.layers.len()),
            "e.g. --first-layer 6",
        ));
    }
    Ok(())
}

/// The trained weights described for the adapter file: the encoder they fit, shape and training.
fn outcome(
    encoder: &Encoder,
    recipe: &AdaptRecipe,
    weights: BTreeMap<String, (Tensor, Tensor)>,
    mut report: serde_json::Value,
    command: &str,
) -> AdaptOutcome {
    // Recorded so the adapter can be made again.
    report["command"] = serde_json::Value::String(command.to_string());
    let spec = AdapterSpec {
        base: encoder.name.clone(),
        // Empty for the plain file: only an adapter over another adapter records it.
        base_weights_id: (!encoder.weights_id.is_empty()).then(|| encoder.weights_id.clone()),
        rank: recipe.rank,
        alpha: recipe.alpha,
        first_layer: recipe.first_layer,
        targets: TARGETS.iter().map(|s| s.to_string()).collect(),
        training: report.clone(),
    };
    AdaptOutcome { adapter: Adapter { spec, weights }, report }
}

/// Trains the adapter; returns the epoch that scored best on the dev split.
pub fn train_adapter(
    encoder: &Encoder,
    data_dir: &Path,
    corpus: &Corpus,
    taxonomy: &Taxonomy,
    recipe: &AdaptRecipe,
    command: &str,
) -> Result<AdaptOutcome> {
    let started = Instant::now();
    let model = &encoder.model;
    let h = model.shape.hidden;
    check_first_layer(model, recipe)?;
    let mut rng = ChaCha8Rng::seed_from_u64(recipe.seed);
    let mut cache = TextCache::new();
    let s_labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let mut i_labels: Vec<String> = taxonomy.intent.iter().map(|i| i.name.clone()).collect();
    i_labels.sort();
    let pos = |labels: &[String], l: &str| {
        labels.iter().position(|x| x == l).ok_or_else(|| Error::internal(format!("label {l:?} not in {labels:?}")))
    };

    // Sentiment rows: SmSA (a seeded sample), NusaX id/en, and the corpus's train messages.
    let data = SentimentData::under(data_dir);
    let mut sentiment = Task { rows: Vec::new() };
    let mut sources = Vec::new();
    for (name, path) in &data.train {
        let mut rows = load(path)?;
        if name == "smsa" {
            rows.shuffle(&mut rng);
            rows.truncate(recipe.smsa_rows);
        }
        sources.push(format!("{name}: {} rows of {}", rows.len(), path.display()));
        for r in rows {
            let slot = cache.slot(&r.text);
            sentiment.rows.push((slot, pos(&s_labels, &r.label)?));
        }
    }
    let corpus_rows = |split: &str, cache: &mut TextCache| -> Result<Vec<(usize, usize)>> {
        let mut out = Vec::new();
        for c in corpus.split(split) {
            for (text, label) in c.model_sentiment_rows()? {
                out.push((cache.slot(&text), pos(&s_labels, &label)?));
            }
        }
        Ok(out)
    };
    let corpus_train = corpus_rows("train", &mut cache)?;
    sources.push(format!(
        "{} train: {} customer messages the model reads, x{}",
        corpus.dir.display(),
        corpus_train.len(),
        recipe.corpus_repeats
    ));
    for _ in 0..recipe.corpus_repeats {
        sentiment.rows.extend(&corpus_train);
    }
    let sentiment_dev = corpus_rows("dev", &mut cache)?;

    // Intent rows: the taxonomy's examples and the corpus's train conversations' first two
    // intent-bearing messages, each labelled with its conversation's intent.
    let mut intent = Task { rows: Vec::new() };
    for r in taxonomy.labelled() {
        let slot = cache.slot(&r.text);
        intent.rows.push((slot, pos(&i_labels, &r.label)?));
    }
    let intent_slots = |c: &CorpusConversation, cache: &mut TextCache| -> Result<Vec<usize>> {
        let conv = c.to_conversation()?;
        let rules = crate::context::rule_readings(&conv.messages);
        Ok(conv
            .messages
            .iter()
            .zip(rules)
            .filter(|(m, rule)| m.role == Role::Customer && reads_intent(m.text.as_deref().unwrap_or(""), *rule))
            .map(|(m, _)| cache.slot(m.text.as_deref().unwrap_or("")))
            .collect())
    };
    let mut corpus_intent_rows = 0;
    for c in corpus.split("train") {
        let label = pos(&i_labels, &c.intent)?;
        for slot in intent_slots(c, &mut cache)?.into_iter().take(2) {
            intent.rows.push((slot, label));
            corpus_intent_rows += 1;
        }
    }
    sources.push(format!("data/taxonomy/intents.toml examples + {corpus_intent_rows} corpus train messages labelled with their conversation's intent"));
    let dev_convs: Vec<(Vec<usize>, usize)> = corpus
        .split("dev")
        .map(|c| Ok((intent_slots(c, &mut cache)?, pos(&i_labels, &c.intent)?)))
        .collect::<Result<_>>()?;

    let t0 = Instant::now();
    cache.fill(encoder, recipe.first_layer, recipe.max_tokens)?;
    let cache_s = t0.elapsed().as_secs_f64();
    tracing::info!(texts = cache.texts.len(), seconds = cache_s, "lower layers cached");

    let vars = adapter_vars(model, recipe, &mut rng)?;
    let (sw, sb) = task_head(s_labels.len(), h, &mut rng)?;
    let (iw, ib) = task_head(i_labels.len(), h, &mut rng)?;
    let mut all_vars: Vec<Var> = vars.values().flat_map(|(a, b)| [a.clone(), b.clone()]).collect();
    all_vars.extend([sw.clone(), sb.clone(), iw.clone(), ib.clone()]);
    let mut opt =
        AdamW::new(all_vars, ParamsAdamW { lr: recipe.learning_rate, weight_decay: 0.0, ..Default::default() })
            .map_err(ce)?;
    let scale = recipe.alpha / recipe.rank as f64;

    let embed_slots = |weights: &BTreeMap<String, (Tensor, Tensor)>, slots: &[usize]| {
        embed_cached_slots(model, &cache, recipe.first_layer, scale, weights, slots)
    };
    // Dev: sentiment macro-F1 of the task head on the corpus dev messages, and conversation
    // intent accuracy from pooled embeddings (as analyze pools them).
    let dev_score = |weights: &BTreeMap<String, (Tensor, Tensor)>| -> Result<(f64, f64)> {
        let s_slots: Vec<usize> = sentiment_dev.iter().map(|r| r.0).collect();
        let e = embed_slots(weights, &s_slots)?;
        let pred = head_predictions(e, &sw, &sb, h)?;
        let sent_f1 = evaluate(&s_labels, &sentiment_dev.iter().map(|r| r.1).collect::<Vec<_>>(), &pred).macro_f1;
        let all_slots: Vec<usize> = dev_convs.iter().flat_map(|(s, _)| s.iter().copied()).collect();
        let e = embed_slots(weights, &all_slots)?;
        let mut at = 0;
        let (mut correct, mut n) = (0usize, 0usize);
        for (slots, label) in &dev_convs {
            let vs: Vec<&[f32]> = e[at..at + slots.len()].iter().map(Vec::as_slice).collect();
            at += slots.len();
            n += 1;
            let Some(v) = message_pool(&vs, DEFAULT_MESSAGE_DECAY) else { continue };
            let x = Tensor::from_vec(v, (1, h), &Device::Cpu).map_err(ce)?;
            let p =
                head_logits(&x, &iw, &ib).map_err(ce)?.argmax(D::Minus1).map_err(ce)?.to_vec1::<u32>().map_err(ce)?[0]
                    as usize;
            correct += usize::from(p == *label);
        }
        Ok((sent_f1, correct as f64 / n.max(1) as f64))
    };

    // Inference parallelises across batches and keeps each matmul on one thread
    // (encoder::configure_threads); a training step is one batch, so its matmuls take them all.
    let threads = rayon::current_num_threads().to_string();
    std::env::set_var("RAYON_NUM_THREADS", &threads);
    let mut epochs_report = Vec::new();
    let mut best: Option<(f64, usize, BTreeMap<String, (Tensor, Tensor)>)> = None;
    for epoch in 1..=recipe.epochs {
        let t = Instant::now();
        let mut steps: Vec<(bool, Vec<(usize, usize)>)> =
            batches(&sentiment.rows, &cache, recipe.batch_tokens, &mut rng).into_iter().map(|b| (true, b)).collect();
        steps.extend(batches(&intent.rows, &cache, recipe.batch_tokens, &mut rng).into_iter().map(|b| (false, b)));
        steps.shuffle(&mut rng);
        let mut total_loss = 0.0;
        for (i, (is_sentiment, batch)) in steps.iter().enumerate() {
            let head = if *is_sentiment { (&sw, &sb) } else { (&iw, &ib) };
            total_loss += train_step(model, &cache, &vars, recipe.first_layer, scale, head, batch, &mut opt)?;
            if (i + 1) % 25 == 0 {
                tracing::info!(
                    epoch,
                    step = i + 1,
                    of = steps.len(),
                    mean_loss = total_loss / (i + 1) as f64,
                    seconds = t.elapsed().as_secs_f64(),
                    "adapter training"
                );
            }
        }
        let weights = snapshot(&vars)?;
        let (sent_f1, intent_acc) = dev_score(&weights)?;
        let score = (sent_f1 + intent_acc) / 2.0;
        tracing::info!(epoch, sent_f1, intent_acc, seconds = t.elapsed().as_secs_f64(), "adapter epoch");
        epochs_report.push(json!({"epoch": epoch, "mean_loss": total_loss / steps.len().max(1) as f64, "dev_sentiment_macro_f1": sent_f1, "dev_intent_accuracy": intent_acc, "seconds": t.elapsed().as_secs_f64()}));
        if best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, epoch, weights));
        }
    }
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let (_, best_epoch, weights) = best.ok_or_else(|| Error::internal("no epoch trained"))?;
    let report = json!({
        "recipe": recipe,
        "data": sources,
        "texts_cached": cache.texts.len(),
        "cache_seconds": cache_s,
        "epochs": epochs_report,
        "best_epoch": best_epoch,
        "selection": "epoch by the mean of dev sentiment macro-F1 (task head) and dev conversation-intent accuracy (pooled, task head) on the corpus dev split",
        "seconds": started.elapsed().as_secs_f64(),
        "threads": rayon::current_num_threads(),
    });
    Ok(outcome(encoder, recipe, weights, report, command))
}

/// One optimiser step on a batch of (text slot, class) rows through the adapted upper layers and
/// a task head; returns the batch's loss.
#[allow(clippy::too_many_arguments)]
fn train_step(
    model: &crate::encoder::bert::BertModel,
    cache: &TextCache,
    vars: &BTreeMap<String, (Var, Var)>,
    first_layer: usize,
    scale: f64,
    head: (&Var, &Var),
    batch: &[(usize, usize)],
    opt: &mut AdamW,
) -> Result<f64> {
    let weights: BTreeMap<String, (Tensor, Tensor)> =
        vars.iter().map(|(k, (a, b))| (k.clone(), (a.as_tensor().clone(), b.as_tensor().clone()))).collect();
    let stack = AdaptedStack { model, first_layer, scale, weights: &weights };
    let slots: Vec<usize> = batch.iter().map(|r| r.0).collect();
    let y: Vec<usize> = batch.iter().map(|r| r.1).collect();
    let (x, mask) = cache.batch(&slots, model.shape.hidden).map_err(ce)?;
    let emb = stack.embed(&x, &mask).map_err(ce)?;
    let l = loss(&head_logits(&emb, head.0, head.1).map_err(ce)?, &y).map_err(ce)?;
    let value = l.to_scalar::<f32>().map_err(ce)? as f64;
    opt.backward_step(&l).map_err(ce)?;
    Ok(value)
}

/// A team's own intent data adapts the encoder for its intent head alone (`convoqa train intent
/// --data FILE --adapt-encoder`): low-rank adapters on the upper layers of the encoder the run
/// uses (the chat adapter already merged), trained on one task, the team's labels, with a
/// cosine task head. The epoch is the one whose task head is most accurate on `select` (the
/// hold-out, which also picks the intent head's recipe). Sentiment never reads this adapter:
/// `analyze` embeds the texts read for intent a second time through it.
pub fn train_team_adapter(
    encoder: &Encoder,
    train: &[(&str, usize)],
    select: &[(&str, usize)],
    labels: usize,
    recipe: &AdaptRecipe,
    command: &str,
) -> Result<AdaptOutcome> {
    let started = Instant::now();
    let model = &encoder.model;
    let h = model.shape.hidden;
    check_first_layer(model, recipe)?;
    let mut rng = ChaCha8Rng::seed_from_u64(recipe.seed);
    let mut cache = TextCache::new();
    let train_rows: Vec<(usize, usize)> = train.iter().map(|&(t, y)| (cache.slot(t), y)).collect();
    let select_rows: Vec<(usize, usize)> = select.iter().map(|&(t, y)| (cache.slot(t), y)).collect();
    let t0 = Instant::now();
    cache.fill(encoder, recipe.first_layer, recipe.max_tokens)?;
    let cache_s = t0.elapsed().as_secs_f64();
    tracing::info!(texts = cache.texts.len(), seconds = cache_s, "lower layers cached");

    let vars = adapter_vars(model, recipe, &mut rng)?;
    let (w, b) = task_head(labels, h, &mut rng)?;
    let mut all_vars: Vec<Var> = vars.values().flat_map(|(a, b)| [a.clone(), b.clone()]).collect();
    all_vars.extend([w.clone(), b.clone()]);
    let mut opt =
        AdamW::new(all_vars, ParamsAdamW { lr: recipe.learning_rate, weight_decay: 0.0, ..Default::default() })
            .map_err(ce)?;
    let scale = recipe.alpha / recipe.rank as f64;
    let select_slots: Vec<usize> = select_rows.iter().map(|r| r.0).collect();
    let select_y: Vec<usize> = select_rows.iter().map(|r| r.1).collect();

    // As in train_adapter: a training step is one batch, so its matmuls take every thread.
    let threads = rayon::current_num_threads().to_string();
    std::env::set_var("RAYON_NUM_THREADS", &threads);
    let mut epochs_report = Vec::new();
    let mut best: Option<(f64, usize, BTreeMap<String, (Tensor, Tensor)>)> = None;
    for epoch in 1..=recipe.epochs {
        let t = Instant::now();
        let steps = batches(&train_rows, &cache, recipe.batch_tokens, &mut rng);
        let mut total_loss = 0.0;
        for (i, batch) in steps.iter().enumerate() {
            total_loss += train_step(model, &cache, &vars, recipe.first_layer, scale, (&w, &b), batch, &mut opt)?;
            if (i + 1) % 50 == 0 {
                tracing::info!(
                    epoch,
                    step = i + 1,
                    of = steps.len(),
                    mean_loss = total_loss / (i + 1) as f64,
                    seconds = t.elapsed().as_secs_f64(),
                    "encoder adapter training"
                );
            }
        }
        let weights = snapshot(&vars)?;
        let e = embed_cached_slots(model, &cache, recipe.first_layer, scale, &weights, &select_slots)?;
        let pred = head_predictions(e, &w, &b, h)?;
        let accuracy = pred.iter().zip(&select_y).filter(|(p, y)| p == y).count() as f64 / select_y.len().max(1) as f64;
        tracing::info!(
            epoch,
            holdout_accuracy = accuracy,
            seconds = t.elapsed().as_secs_f64(),
            "encoder adapter epoch"
        );
        epochs_report.push(json!({"epoch": epoch, "mean_loss": total_loss / steps.len().max(1) as f64, "holdout_task_head_accuracy": accuracy, "seconds": t.elapsed().as_secs_f64()}));
        if best.as_ref().is_none_or(|b| accuracy > b.0) {
            best = Some((accuracy, epoch, weights));
        }
    }
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let (_, best_epoch, weights) = best.ok_or_else(|| Error::internal("no epoch trained"))?;
    let report = json!({
        "recipe": {
            "rank": recipe.rank, "alpha": recipe.alpha, "first_layer": recipe.first_layer,
            "epochs": recipe.epochs, "learning_rate": recipe.learning_rate,
            "max_tokens": recipe.max_tokens, "batch_tokens": recipe.batch_tokens, "seed": recipe.seed,
        },
        "rows": train_rows.len(),
        "texts_cached": cache.texts.len(),
        "cache_seconds": cache_s,
        "epochs": epochs_report,
        "best_epoch": best_epoch,
        "selection": "epoch by the task head's accuracy on the hold-out",
        "seconds": started.elapsed().as_secs_f64(),
        "threads": rayon::current_num_threads(),
    });
    Ok(outcome(encoder, recipe, weights, report, command))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_larger_than_its_share_of_available_memory_is_refused_before_encoding() {
        let gib = 1usize << 30;
        assert!(cache_fits(1000, gib, Some(4 * gib as u64)).is_ok());
        // 3 GiB is more than 70% of 4 GiB.
        let err = cache_fits(50_000, 3 * gib, Some(4 * gib as u64)).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        let says = err.to_string();
        assert!(says.contains("50000 texts") && says.contains("3.0 GiB") && says.contains("4.0 GiB"), "{says}");
        assert!(says.contains("fix: train on fewer texts") && says.contains("--smsa-rows"), "{says}");
        // Where the available memory is unknown, nothing is refused.
        assert!(cache_fits(50_000, 3 * gib, None).is_ok());
    }
}
