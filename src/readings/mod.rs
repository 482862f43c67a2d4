//! The default heads trained and measured on chats: sentiment on SmSA + NusaX + the corpus's
//! train split (chosen on the corpus's dev split) and its lexical reader, conversation intent on
//! the corpus's train and dev conversations + the taxonomy's examples (pooling, recipe,
//! temperature and the `other` threshold chosen by cross-validation over businesses),
//! resolution on the train split (chosen on dev). `evaluate_corpus` measures the shipped path (context rules, then
//! the model through `enrich`) on any split; `export_split` writes a split as analyze's input.
//! Above `enrich` in the data flow (it runs the whole readings path), so not part of `heads`.

use crate::error::{Error, Result};
use crate::heads::corpus::CorpusConversation;
use crate::heads::train::logits;
use crate::heads::Head;

mod evaluate;
mod export;
mod intent;
mod resolution;
mod sentiment;
mod twitter;

pub use evaluate::{evaluate_corpus, summary, CorpusReport, MessageIntentReport, MESSAGE_CONVERSATION_WEIGHT};
pub use export::{export_conversations, export_split};
pub use intent::{conversation_intent_parts, train_conversation_intent, IntentParts};
pub use resolution::{resolution_inputs, resolution_report, train_resolution, ResolutionReport};
pub use sentiment::{
    corpus_sentiment_rows, corpus_sentiment_set, train_sentiment_lexical, train_sentiment_with_corpus,
};
pub use twitter::{
    evaluate_twitter, tweet_sets, twitter_dev_json, TweetSets, TwitterLabelFiles, TwitterLabels, TwitterReport,
};

/// A label's index, or an internal error naming where the label came from.
fn label_of(labels: &[String], name: &str, what: &str) -> Result<usize> {
    labels
        .iter()
        .position(|l| l == name)
        .ok_or_else(|| Error::internal(format!("{what}: label {name:?} not in {labels:?}")))
}

/// How many businesses these conversations come from.
fn businesses(convs: &[&CorpusConversation]) -> usize {
    convs.iter().map(|c| c.business.as_str()).collect::<std::collections::BTreeSet<_>>().len()
}

/// Temperature minimising the negative log-likelihood on a development set (grid 0.3..5).
fn fit_temperature(head: &Head, x: &[Vec<f32>], y: &[usize]) -> Result<f64> {
    Ok(temperature_for(&logits(&head.layers, x)?, y))
}

/// Temperature minimising the negative log-likelihood of these logits (grid 0.3..5).
fn temperature_for(logits: &[Vec<f32>], y: &[usize]) -> f64 {
    let mut best = (f64::INFINITY, 1.0);
    for step in 3..=50 {
        let t = step as f64 / 10.0;
        let nll: f64 =
            logits.iter().zip(y).map(|(l, &y)| -log_softmax_at(l, t, y)).sum::<f64>() / y.len().max(1) as f64;
        if nll < best.0 {
            best = (nll, t);
        }
    }
    best.1
}

fn log_softmax_at(logits: &[f32], temperature: f64, at: usize) -> f64 {
    let scaled: Vec<f64> = logits.iter().map(|&l| l as f64 / temperature).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = scaled.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
    scaled[at] - log_sum
}
