//! The sentiment head: trained on real labelled Indonesian and English text (SmSA, NusaX),
//! selected on their validation splits only, saved with a card.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::data::{load, Labelled};
use super::train::{train_best, EmbeddedSet, Recipe};
use super::{Head, HeadCard, TrainRun};
use crate::encoder::Encoder;
use crate::error::{Error, Result};

pub const LABELS: [&str; 3] = ["negative", "neutral", "positive"];

/// The training and validation files under the shared data folder.
pub struct SentimentData {
    pub train: Vec<(String, PathBuf)>,
    pub valid: Vec<(String, PathBuf)>,
}

impl SentimentData {
    pub fn under(data_dir: &Path) -> SentimentData {
        let s = data_dir.join("sentiment");
        SentimentData {
            train: vec![
                ("smsa".into(), s.join("smsa/train_preprocess.tsv")),
                ("nusax_id".into(), s.join("nusax/indonesian/train.csv")),
                ("nusax_en".into(), s.join("nusax/english/train.csv")),
            ],
            valid: vec![
                ("smsa_valid".into(), s.join("smsa/valid_preprocess.tsv")),
                ("nusax_id_valid".into(), s.join("nusax/indonesian/valid.csv")),
                ("nusax_en_valid".into(), s.join("nusax/english/valid.csv")),
            ],
        }
    }
}

/// Embeds texts, reusing a cache file keyed by the encoder, the texts and the token limit.
pub fn embed_cached(
    encoder: &Encoder,
    texts: &[&str],
    max_tokens: usize,
    cache_dir: Option<&Path>,
) -> Result<Vec<Vec<f32>>> {
    let dim = encoder.model.shape.hidden;
    let key = {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        let setting = format!("{}\x00{}\x00{}\x00{max_tokens}", encoder.name, encoder.weights_id, encoder.query_prefix);
        for t in texts.iter().map(|t| t.as_bytes()).chain(std::iter::once(setting.as_bytes())) {
            for &b in t.iter().chain(b"\x00") {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("emb-{h:016x}-{}.f32", texts.len())
    };
    if let Some(dir) = cache_dir {
        let path = dir.join(&key);
        if let Ok(bytes) = std::fs::read(&path) {
            if bytes.len() == texts.len() * dim * 4 {
                let floats: Vec<f32> =
                    bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().expect("4"))).collect();
                return Ok(floats.chunks(dim).map(<[f32]>::to_vec).collect());
            }
        }
    }
    let vectors =
        encoder.embed(texts, &encoder.query_prefix, max_tokens, crate::encoder::DEFAULT_BATCH_TOKENS)?.vectors;
    if let Some(dir) = cache_dir {
        std::fs::create_dir_all(dir).map_err(|e| Error::write(dir, e))?;
        let bytes: Vec<u8> = vectors.iter().flatten().flat_map(|f| f.to_le_bytes()).collect();
        std::fs::write(dir.join(&key), bytes).map_err(|e| Error::write(dir, e))?;
    }
    Ok(vectors)
}

/// Each row's label as an index into `labels`; a label outside them is an input error.
pub fn label_index(labels: &[String], rows: &[Labelled], path: &Path) -> Result<Vec<usize>> {
    rows.iter()
        .map(|r| {
            labels.iter().position(|l| l == &r.label).ok_or_else(|| {
                Error::input(
                    path,
                    format!("label {:?} is not one of {labels:?}", r.label),
                    "relabel the file or train a head with these labels",
                )
            })
        })
        .collect()
}

/// Loads and embeds one labelled file.
pub fn embedded_set(
    encoder: &Encoder,
    name: &str,
    path: &Path,
    labels: &[String],
    max_tokens: usize,
    cache: Option<&Path>,
) -> Result<EmbeddedSet> {
    let rows = load(path)?;
    let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
    let x = embed_cached(encoder, &texts, max_tokens, cache)?;
    Ok(EmbeddedSet { name: name.to_string(), x, y: label_index(labels, &rows, path)? })
}

/// SmSA + NusaX: the training rows in one set (with a line per source for the card) and the
/// validation splits.
pub struct PublicSets {
    pub train: EmbeddedSet,
    pub training_data: Vec<String>,
    pub valid: Vec<EmbeddedSet>,
}

pub fn public_sets(
    encoder: &Encoder,
    data_dir: &Path,
    labels: &[String],
    max_tokens: usize,
    cache: Option<&Path>,
) -> Result<PublicSets> {
    let data = SentimentData::under(data_dir);
    let mut train = EmbeddedSet { name: "train".into(), x: vec![], y: vec![] };
    let mut training_data = Vec::new();
    for (name, path) in &data.train {
        let set = embedded_set(encoder, name, path, labels, max_tokens, cache)?;
        training_data.push(format!("{name}: {} ({} rows)", path.display(), set.y.len()));
        train.x.extend(set.x);
        train.y.extend(set.y);
    }
    let valid = data
        .valid
        .iter()
        .map(|(n, p)| embedded_set(encoder, n, p, labels, max_tokens, cache))
        .collect::<Result<_>>()?;
    Ok(PublicSets { train, training_data, valid })
}

/// The sentiment heads' starting recipe (a linear head); the candidates vary it.
pub const BASE_RECIPE: Recipe = Recipe::linear(40, 64);

/// Trains the candidate recipes, keeps the best on validation, and saves it to `out`.
pub fn train_sentiment(encoder: &Encoder, data_dir: &Path, out: &Path, run: TrainRun) -> Result<Head> {
    let TrainRun { model_name, max_tokens, cache, command } = run;
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let PublicSets { train: train_set, training_data, valid } =
        public_sets(encoder, data_dir, &labels, max_tokens, cache)?;
    let base = BASE_RECIPE;
    let candidates = [
        base,
        Recipe { hidden: 256, learning_rate: 1e-3, input_dropout: 0.1, ..base },
        Recipe { hidden: 512, learning_rate: 1e-3, input_dropout: 0.2, ..base },
        Recipe { hidden: 1024, learning_rate: 5e-4, input_dropout: 0.2, epochs: 60, ..base },
    ];
    let (recipe, trained, tried) = train_best(&labels, &train_set, &valid, &candidates)?;
    let card = HeadCard {
        task: "sentiment".into(),
        labels,
        encoder: model_name.to_string(),
        max_tokens,
        recipe: json!({
            "chosen": recipe,
            "best_epoch": trained.best_epoch,
            "selection": "mean macro-F1 over the three validation splits; class-weighted cross-entropy; AdamW on frozen `query: ` embeddings",
            "tried": tried,
        }),
        training_data,
        validation: trained.validation.into_iter().collect(),
        command: command.to_string(),
        out_of_scope: None,
        temperature: 1.0,
        menu_choice_weight: 0.0,
        subject_weight: 0.0,
        message_decay: super::intent::DEFAULT_MESSAGE_DECAY,
        lexical_weight: 0.0,
        encoder_adapter: None,
    };
    let head = Head::new(card, trained.layers);
    head.save(out)?;
    // A new head voids a lexical reader blended with the old one.
    super::lexical::save_beside(None, out)?;
    Ok(head)
}
