//! The resolution head trained on the corpus's train split and chosen on dev.

use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::heads::corpus::{Corpus, CorpusConversation};
use crate::heads::metrics::{evaluate, Metrics};
use crate::heads::resolution::{
    closing_exchange, deciding_slot, input_vector as resolution_input, ClosingExchange, LABELS as RESOLUTION_LABELS,
};
use crate::heads::sentiment::embed_cached;
use crate::heads::train::{train_best, EmbeddedSet, Recipe};
use crate::heads::{argmax, Head, HeadCard, TrainRun};

use super::{businesses, fit_temperature, label_of};

/// exchange.
pub fn resolution_inputs(
    encoder: &Encoder,
    conversations: &[&CorpusConversation],
    max_tokens: usize,
    cache: Option<&Path>,
) -> Result<Vec<(Vec<f32>, ClosingExchange)>> {
    let mut texts: Vec<String> = Vec::new();
    let mut per_conv: Vec<(ClosingExchange, Vec<Option<usize>>)> = Vec::new();
    for c in conversations {
        let conv = c.to_conversation()?;
        let rules = crate::context::rule_readings(&conv.messages);
        let exchange = closing_exchange(&conv.messages, &rules);
        let slots = exchange
            .slots
            .iter()
            .enumerate()
            .map(|(k, s)| {
                s.and_then(|i| conv.messages[i].text.as_deref()).map(|t| {
                    texts.push(crate::text::inference_key(&crate::heads::resolution::slot_text(k, t)));
                    texts.len() - 1
                })
            })
            .collect();
        per_conv.push((exchange, slots));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embed_cached(encoder, &refs, max_tokens, cache)?;
    let dim = vectors.first().map_or(384, Vec::len);
    Ok(per_conv
        .into_iter()
        .map(|(exchange, slots)| {
            let x = resolution_input(&exchange, std::array::from_fn(|k| slots[k].map(|t| vectors[t].as_slice())), dim);
            (x, exchange)
        })
        .collect())
}

fn resolution_set(
    encoder: &Encoder,
    corpus: &Corpus,
    split: &str,
    max_tokens: usize,
    cache: Option<&Path>,
) -> Result<(EmbeddedSet, Vec<(ClosingExchange, usize)>)> {
    let labels: Vec<String> = RESOLUTION_LABELS.iter().map(|l| l.to_string()).collect();
    let convs: Vec<&CorpusConversation> = corpus.split(split).filter(|c| c.resolution.is_some()).collect();
    if convs.is_empty() {
        return Err(Error::input(
            corpus.dir.join("labels/resolution"),
            format!("no resolution labels for the {split} split"),
            "see data/corpus/README.md, \"Resolution state\"",
        ));
    }
    let inputs = resolution_inputs(encoder, &convs, max_tokens, cache)?;
    let mut set = EmbeddedSet { name: format!("corpus_{split}"), x: vec![], y: vec![] };
    let mut truth = Vec::new();
    for ((x, exchange), c) in inputs.into_iter().zip(&convs) {
        let label = c.resolution.as_ref().expect("filtered");
        set.x.push(x);
        set.y.push(label_of(&labels, &label.resolution_state, "resolution labels")?);
        truth.push((exchange, label.decided_by));
    }
    Ok((set, truth))
}

/// What the resolution head scores on a labelled split: the four states, "left open" (deferred
/// or unsolved) against solved-in-fact, and how often the evidence is the labelled message.
#[derive(Debug, Clone, Serialize)]
pub struct ResolutionReport {
    pub metrics: Metrics,
    /// ROC-AUC of P(deferred) + P(unsolved) against the corpus's `solved` = false.
    pub open_roc_auc: Option<f64>,
    /// Among conversations read with the right state: the evidence message is the one the
    /// labeller chose.
    pub evidence_agreement: f64,
}

pub fn resolution_report(
    head: &Head,
    set: &EmbeddedSet,
    truth: &[(ClosingExchange, usize)],
    solved: &[bool],
) -> Result<ResolutionReport> {
    let probs = head.predict_proba(&set.x)?;
    let predicted: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
    let metrics = evaluate(&head.card.labels, &set.y, &predicted);
    let scored: Vec<(f64, bool)> = probs.iter().zip(solved).map(|(p, &s)| ((p[1] + p[2]) as f64, !s)).collect();
    let weights = head.linear_weights()?;
    let dim = (set.x.first().map_or(0, Vec::len) - crate::heads::resolution::FLAGS) / crate::heads::resolution::SLOTS;
    let (mut right, mut agree) = (0usize, 0usize);
    for (((x, &p), &y), (exchange, decided_by)) in set.x.iter().zip(&predicted).zip(&set.y).zip(truth) {
        if p == y {
            right += 1;
            let slot = weights.as_deref().and_then(|w| deciding_slot(w, p, x, dim));
            agree += usize::from(slot.and_then(|s| exchange.slots[s]) == Some(*decided_by));
        }
    }
    Ok(ResolutionReport {
        metrics,
        open_roc_auc: crate::score::eval::roc_auc(&scored),
        evidence_agreement: agree as f64 / right.max(1) as f64,
    })
}

/// Trains the resolution head on the corpus's train split (labels/resolution), recipe and epoch
/// chosen on dev, temperature fitted on dev; saves it with its card.
pub fn train_resolution(encoder: &Encoder, corpus: &Corpus, out: &Path, run: TrainRun) -> Result<Head> {
    let TrainRun { model_name, max_tokens, cache, command } = run;
    let labels: Vec<String> = RESOLUTION_LABELS.iter().map(|l| l.to_string()).collect();
    let (train_set, _) = resolution_set(encoder, corpus, "train", max_tokens, cache)?;
    let (dev_set, dev_truth) = resolution_set(encoder, corpus, "dev", max_tokens, cache)?;
    // Linear only: the evidence is the slot contributing most to the chosen state's logit.
    let base = Recipe::linear(60, 32);
    let candidates = [
        base,
        Recipe { learning_rate: 3e-3, ..base },
        Recipe { input_dropout: 0.2, ..base },
        Recipe { weight_decay: 1e-2, input_dropout: 0.2, ..base },
    ];
    let (recipe, trained, tried) = train_best(&labels, &train_set, std::slice::from_ref(&dev_set), &candidates)?;
    let mut head = Head::new(HeadCard::bare(&labels), trained.layers);
    head.card.temperature = fit_temperature(&head, &dev_set.x, &dev_set.y)?;
    let dev_solved: Vec<bool> = corpus.split("dev").filter(|c| c.resolution.is_some()).map(|c| c.solved).collect();
    let dev = resolution_report(&head, &dev_set, &dev_truth, &dev_solved)?;
    let train_convs: Vec<&CorpusConversation> = corpus.split("train").filter(|c| c.resolution.is_some()).collect();
    let mut validation = std::collections::HashMap::new();
    validation.insert("corpus_dev".to_string(), dev.metrics.clone());
    head.card = HeadCard {
        task: "resolution".into(),
        labels,
        encoder: model_name.to_string(),
        max_tokens,
        recipe: json!({
            "input": "per conversation: the embeddings of its closing exchange (the business's last two messages, rating prompts skipped; the customer's last two messages the model reads), zeros for empty slots, then three flags (customer spoke last; customer messages after the business's last, /3; no human agent) - heads::resolution",
            "chosen": recipe,
            "best_epoch": trained.best_epoch,
            "selection": "recipe and epoch by macro-F1 on the corpus dev split (businesses unseen in training); temperature by dev NLL; linear heads only, so that the evidence message is the slot contributing most to the chosen state",
            "tried": tried,
            "dev_open_roc_auc": dev.open_roc_auc,
            "dev_evidence_agreement": dev.evidence_agreement,
        }),
        training_data: vec![format!(
            "{} train split with labels/resolution: {} conversations ({} businesses)",
            corpus.dir.display(),
            train_set.y.len(),
            businesses(&train_convs)
        )],
        validation,
        command: command.to_string(),
        out_of_scope: None,
        temperature: head.card.temperature,
        menu_choice_weight: 0.0,
        subject_weight: 0.0,
        message_decay: crate::heads::intent::DEFAULT_MESSAGE_DECAY,
        lexical_weight: 0.0,
        encoder_adapter: None,
    };
    head.save(out)?;
    Ok(head)
}
