//! Classification heads on sentence embeddings: sentiment per message, intent per conversation.
//! A head is a small MLP (or a linear layer) with its labels, saved as safetensors plus a JSON
//! card holding the labels, recipe and validation metrics.

pub mod adapt;
pub mod corpus;
pub mod data;
pub mod intent;
pub mod lexical;
pub mod metrics;
pub mod resolution;
pub mod sentiment;
pub mod train;

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What every head trainer is told about its run besides its data: the encoder's name for the
/// card (a head fits only that encoder), the token limit, where embeddings are cached, and the
/// command line the card records so the head can be made again.
#[derive(Debug, Clone, Copy)]
pub struct TrainRun<'a> {
    pub model_name: &'a str,
    pub max_tokens: usize,
    pub cache: Option<&'a Path>,
    pub command: &'a str,
}

/// What a head file says about itself.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadCard {
    pub task: String,
    pub labels: Vec<String>,
    pub encoder: String,
    pub max_tokens: usize,
    pub recipe: serde_json::Value,
    pub training_data: Vec<String>,
    pub validation: HashMap<String, metrics::Metrics>,
    pub command: String,
    /// Intent heads trained with an out-of-scope label: below this top probability the
    /// prediction becomes that label (picked on a calibration split, see heads::intent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_of_scope: Option<OutOfScope>,
    /// Logits are divided by this before the softmax (temperature scaling, fitted on a
    /// development split so that confidences are calibrated); 1 for heads without it.
    #[serde(default = "unit_temperature")]
    pub temperature: f64,
    /// Conversation-intent heads: how much the menu options the customer picked weigh against
    /// their own messages (heads::intent::IntentPooling); 0 for every other head and for
    /// intent heads trained before menu choices counted.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub menu_choice_weight: f64,
    /// Conversation-intent heads: how much an e-mail's subject line weighs against the
    /// customer's messages (heads::intent::IntentPooling); 0 reads no subject.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subject_weight: f64,
    /// Conversation-intent heads: the message pool's decay (heads::intent::message_pool);
    /// heads trained before it was chosen read 2.
    #[serde(default = "default_message_decay", skip_serializing_if = "is_default_message_decay")]
    pub message_decay: f64,
    /// Intent and sentiment heads: the weight of the lexical reader (heads::lexical, saved
    /// beside the head as lexical.safetensors) in the blend with this head; 0 reads none.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lexical_weight: f64,
    /// A team intent head trained with `--adapt-encoder`: the directory, inside the head's, of
    /// the low-rank adapter it reads its texts through (merged on top of the run's encoder and
    /// chat adapter, for intent alone; `Encoder::branch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoder_adapter: Option<String>,
}

fn default_message_decay() -> f64 {
    intent::DEFAULT_MESSAGE_DECAY
}

fn is_default_message_decay(x: &f64) -> bool {
    *x == intent::DEFAULT_MESSAGE_DECAY
}

fn unit_temperature() -> f64 {
    1.0
}

fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutOfScope {
    pub label: String,
    pub min_confidence: f64,
}

impl HeadCard {
    /// A card with labels only, for heads used in memory during training.
    pub fn bare(labels: &[String]) -> HeadCard {
        HeadCard {
            task: String::new(),
            labels: labels.to_vec(),
            encoder: String::new(),
            max_tokens: 0,
            recipe: serde_json::Value::Null,
            training_data: vec![],
            validation: HashMap::new(),
            command: String::new(),
            out_of_scope: None,
            temperature: 1.0,
            menu_choice_weight: 0.0,
            subject_weight: 0.0,
            message_decay: intent::DEFAULT_MESSAGE_DECAY,
            lexical_weight: 0.0,
            encoder_adapter: None,
        }
    }

    /// How a conversation-intent head pools a conversation's parts into its input.
    pub fn intent_pooling(&self) -> intent::IntentPooling {
        intent::IntentPooling {
            message_decay: self.message_decay,
            menu_choice: self.menu_choice_weight,
            subject: self.subject_weight,
        }
    }
}

pub struct Head {
    pub card: HeadCard,
    pub layers: Vec<(Tensor, Tensor)>,
}

/// A tensor operation's error, its source kept.
fn ce(source: candle_core::Error) -> Error {
    Error::Tensor { stage: "head", source }
}

impl Head {
    pub fn new(card: HeadCard, layers: Vec<(Tensor, Tensor)>) -> Head {
        Head { card, layers }
    }

    /// Loads `<dir>/head.safetensors` and `<dir>/card.json`.
    pub fn load(dir: &Path) -> Result<Head> {
        let card_path = dir.join("card.json");
        let text = std::fs::read_to_string(&card_path).map_err(|e| {
            Error::input(
                &card_path,
                format!("cannot read the head's card ({e})"),
                "point at a head directory made by `convoqa train`",
            )
        })?;
        let card: HeadCard = serde_json::from_str(&text).map_err(|e| {
            Error::input(&card_path, format!("not a head card: {e}"), "re-create it with `convoqa train`")
        })?;
        let weights_path = dir.join("head.safetensors");
        let tensors = candle_core::safetensors::load(&weights_path, &Device::Cpu).map_err(|e| {
            Error::input(&weights_path, format!("cannot read head weights: {e}"), "re-create it with `convoqa train`")
        })?;
        let mut layers = Vec::new();
        for i in 0.. {
            match (tensors.get(&format!("w{i}")), tensors.get(&format!("b{i}"))) {
                (Some(w), Some(b)) => layers.push((w.clone(), b.clone())),
                _ => break,
            }
        }
        if layers.is_empty() {
            return Err(Error::input(
                &weights_path,
                "no layers (w0, b0) in the head file",
                "re-create it with `convoqa train`",
            ));
        }
        Ok(Head { card, layers })
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let mut map = HashMap::new();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            map.insert(format!("w{i}"), w.clone());
            map.insert(format!("b{i}"), b.clone());
        }
        let weights = dir.join("head.safetensors");
        candle_core::safetensors::save(&map, &weights).map_err(|e| Error::write(&weights, e))?;
        let card = dir.join("card.json");
        let json =
            serde_json::to_string_pretty(&self.card).map_err(|source| Error::Json { what: "head card", source })?;
        std::fs::write(&card, json).map_err(|e| Error::write(&card, e))?;
        Ok(())
    }

    /// Logits for a batch of embeddings [n, dim]: ReLU between layers, none after the last.
    pub fn logits(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        for (i, (w, b)) in self.layers.iter().enumerate() {
            h = h.matmul(&w.t()?)?.broadcast_add(b)?;
            if i + 1 < self.layers.len() {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    /// The weights [classes, inputs] of a linear head, row-major; None for an MLP.
    pub fn linear_weights(&self) -> Result<Option<Vec<f32>>> {
        match self.layers.as_slice() {
            [(w, _)] => Ok(Some(w.flatten_all().and_then(|w| w.to_vec1::<f32>()).map_err(ce)?)),
            _ => Ok(None),
        }
    }

    /// Logits for each embedding [n, dim] as a tensor; None for no embeddings.
    fn logits_of(&self, embeddings: &[Vec<f32>]) -> Result<Option<Tensor>> {
        let Some(dim) = embeddings.first().map(Vec::len) else { return Ok(None) };
        let flat: Vec<f32> = embeddings.iter().flatten().copied().collect();
        let x = Tensor::from_vec(flat, (embeddings.len(), dim), &Device::Cpu).map_err(ce)?;
        self.logits(&x).map(Some).map_err(ce)
    }

    /// Logits for each embedding, before the temperature.
    pub fn raw_logits(&self, embeddings: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        match self.logits_of(embeddings)? {
            None => Ok(Vec::new()),
            Some(logits) => logits.to_vec2::<f32>().map_err(ce),
        }
    }

    /// Class probabilities for each embedding.
    pub fn predict_proba(&self, embeddings: &[Vec<f32>]) -> Result<Vec<Vec<f32>>> {
        let Some(logits) = self.logits_of(embeddings)? else { return Ok(Vec::new()) };
        let p = candle_nn::ops::softmax_last_dim(&(logits / self.card.temperature).map_err(ce)?).map_err(ce)?;
        p.to_vec2::<f32>().map_err(ce)
    }
}

/// A head's metrics on a labelled file (`convoqa eval`), read as analyze reads it: through the
/// head's own encoder adapter if it has one, blended with its lexical reader, and with its
/// out-of-scope threshold. `encoder` is the run's (with the chat adapter merged).
pub fn evaluate_on_file(
    head_dir: &Path,
    encoder: &crate::encoder::Encoder,
    data: &Path,
) -> Result<(Head, metrics::Metrics)> {
    let head = Head::load(head_dir)?;
    let lexical = lexical::load_for(&head, head_dir)?;
    let branch = head.card.encoder_adapter.as_ref().map(|dir| encoder.branch(&head_dir.join(dir))).transpose()?;
    let reading = branch.as_ref().unwrap_or(encoder);
    let rows = data::load(data)?;
    let truth = sentiment::label_index(&head.card.labels, &rows, data)?;
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let vectors = sentiment::embed_cached(reading, &texts, head.card.max_tokens, None)?;
    let probs = lexical::blended_proba(&head, lexical.as_ref(), &vectors, &texts)?;
    let predicted = intent::predict_labels(&head, &probs);
    let metrics = metrics::evaluate(&head.card.labels, &truth, &predicted);
    Ok((head, metrics))
}

/// Probabilities from logits at a temperature, computed in f64 (the corpus trainer fits the
/// temperature with this and analyze applies it with this, so both read the same numbers).
pub fn softmax(logits: &[f32], temperature: f64) -> Vec<f32> {
    let scaled: Vec<f64> = logits.iter().map(|&l| l as f64 / temperature).collect();
    let max = scaled.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = scaled.iter().map(|v| (v - max).exp()).sum::<f64>().ln() + max;
    scaled.iter().map(|v| (v - log_sum).exp() as f32).collect()
}

/// Index of the largest value.
pub fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).map_or(0, |(i, _)| i)
}
