//! Intent: a taxonomy (names, descriptions, owner teams, example messages) in TOML, a head
//! trained on its examples or on a team's labelled file, and the rule that picks which customer
//! messages of a conversation say what it is about.

use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::json;

use super::data::Labelled;
use super::sentiment::embed_cached;
use super::train::{train_best, EmbeddedSet, Recipe};
use super::{Head, HeadCard};
use crate::encoder::Encoder;
use crate::error::{Error, Result};

/// The default taxonomy, built in so a run never depends on the working directory for it.
pub const DEFAULT_TAXONOMY: &str = include_str!("../../data/taxonomy/intents.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    pub min_confidence: f64,
    pub intent: Vec<IntentDef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentDef {
    pub name: String,
    pub description: String,
    pub owner_team: String,
    pub examples: Vec<String>,
}

impl Taxonomy {
    pub fn parse(text: &str, origin: &Path) -> Result<Taxonomy> {
        let t: Taxonomy = toml::from_str(text)
            .map_err(|e| Error::input(origin, format!("not a taxonomy file: {}", e.message()), "compare with data/taxonomy/intents.toml"))?;
        if !t.intent.iter().any(|i| i.name == "other") {
            return Err(Error::input(origin, "the taxonomy has no `other` intent", "add an [[intent]] named other (low-confidence conversations go there)"));
        }
        Ok(t)
    }

    pub fn default_taxonomy() -> Taxonomy {
        Taxonomy::parse(DEFAULT_TAXONOMY, Path::new("data/taxonomy/intents.toml")).expect("the built-in taxonomy parses")
    }

    pub fn labelled(&self) -> Vec<Labelled> {
        self.intent.iter().flat_map(|i| i.examples.iter().map(|e| Labelled { text: e.clone(), label: i.name.clone() })).collect()
    }
}

/// Splits rows per label into train and held-out parts (`holdout` share of each label).
pub fn stratified_split(rows: &[Labelled], holdout: f64, seed: u64) -> (Vec<Labelled>, Vec<Labelled>) {
    let mut labels: Vec<&str> = rows.iter().map(|r| r.label.as_str()).collect();
    labels.sort_unstable();
    labels.dedup();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let (mut train_rows, mut held) = (Vec::new(), Vec::new());
    for label in labels {
        let mut group: Vec<&Labelled> = rows.iter().filter(|r| r.label == label).collect();
        group.shuffle(&mut rng);
        let n_held = ((group.len() as f64) * holdout).round() as usize;
        for (i, r) in group.into_iter().enumerate() {
            if i < n_held { held.push(r.clone()) } else { train_rows.push(r.clone()) }
        }
    }
    (train_rows, held)
}

/// Trains an intent head on labelled rows: a stratified hold-out picks the recipe and epoch and
/// gives the reported metrics.
pub fn train_intent(encoder: &Encoder, model_name: &str, rows: &[Labelled], source: &str, holdout: f64, out: &Path, max_tokens: usize, cache: Option<&Path>) -> Result<Head> {
    let mut labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    labels.sort();
    labels.dedup();
    let (train_rows, held) = stratified_split(rows, holdout, 17);
    let embed = |name: &str, rows: &[Labelled]| -> Result<EmbeddedSet> {
        let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
        let x = embed_cached(encoder, &texts, max_tokens, cache)?;
        let y = rows.iter().map(|r| labels.iter().position(|l| l == &r.label).expect("label listed")).collect();
        Ok(EmbeddedSet { name: name.to_string(), x, y })
    };
    let train_set = embed("train", &train_rows)?;
    let valid = vec![embed("holdout", &held)?];
    let base = Recipe { hidden: 0, epochs: 80, learning_rate: 1e-2, weight_decay: 1e-4, batch_size: 32, input_dropout: 0.0, seed: 7 };
    let candidates = [base, Recipe { hidden: 512, learning_rate: 1e-3, input_dropout: 0.1, ..base }];
    let (recipe, trained, tried) = train_best(&labels, &train_set, &valid, &candidates)?;
    let card = HeadCard {
        task: "intent".into(),
        labels,
        encoder: model_name.to_string(),
        max_tokens,
        recipe: json!({
            "chosen": recipe,
            "best_epoch": trained.best_epoch,
            "selection": format!("stratified hold-out of {:.0}% per label (seed 17) picks recipe and epoch and gives the metrics", holdout * 100.0),
            "tried": tried,
        }),
        training_data: vec![format!("{source}: {} rows ({} train, {} hold-out)", rows.len(), train_rows.len(), held.len())],
        validation: trained.validation.into_iter().collect(),
        command: String::new(),
    };
    let head = Head::new(card, trained.layers);
    head.save(out)?;
    Ok(head)
}

/// Whether a customer message says nothing about the issue: a greeting or thanks alone, a menu
/// digit, an order or tracking number alone, a ping.
pub fn is_substantive(text: &str) -> bool {
    const FILLER: [&str; 44] = [
        "halo", "hallo", "hai", "hi", "hello", "hey", "p", "ping", "min", "kak", "gan", "sis", "mas", "mbak", "admin",
        "selamat", "pagi", "siang", "sore", "malam", "permisi", "assalamualaikum", "assalamu'alaikum", "salam", "good",
        "morning", "afternoon", "evening", "ok", "oke", "okay", "sip", "ya", "iya", "yes", "terima", "kasih", "makasih",
        "thanks", "thank", "you", "test", "menu", "agent",
    ];
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || ",.!?;:()".contains(c))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    let informative = words.iter().filter(|w| {
        let is_number_like = w.chars().any(|c| c.is_ascii_digit()) && w.chars().all(|c| c.is_ascii_alphanumeric() || "/-#".contains(c));
        !FILLER.contains(&w.as_str()) && !is_number_like && w.chars().any(char::is_alphabetic)
    });
    informative.count() > 0
}

/// The text the conversation's intent is read from: its first substantive customer message, and
/// the next one too when the first is short (under four words): later replies such as "iya kak,
/// tolong dibantu" only dilute a clear opening. None when nothing substantive was said.
pub fn intent_text<'a>(customer_texts: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut substantive = customer_texts.filter(|t| is_substantive(t));
    let first = substantive.next()?;
    if first.split_whitespace().count() >= 4 {
        return Some(first.to_string());
    }
    Some(match substantive.next() {
        Some(second) => format!("{first} {second}"),
        None => first.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_digits_and_order_numbers_alone_are_skipped() {
        for t in ["halo kak", "Selamat pagi min!", "3", "INV/2026/31517000", "JX1234567890", "p", "ok makasih kak", "#88213"] {
            assert!(!is_substantive(t), "{t}");
        }
        for t in ["pesanan aku belum sampai", "where is my order", "refund", "kak akun aku gak bisa login"] {
            assert!(is_substantive(t), "{t}");
        }
        let texts = ["halo kak", "1", "paket aku hilang", "INV/2026/1", "udah seminggu", "tolong dong"];
        assert_eq!(intent_text(texts.iter().copied()).as_deref(), Some("paket aku hilang udah seminggu"));
        assert_eq!(intent_text(["halo", "3"].iter().copied()), None);
    }

    #[test]
    fn default_taxonomy_has_eleven_intents_with_forty_examples_each() {
        let t = Taxonomy::default_taxonomy();
        assert_eq!(t.intent.len(), 11);
        for i in &t.intent {
            assert!(i.examples.len() >= 40, "{}: {}", i.name, i.examples.len());
            assert!(!i.description.is_empty() && !i.owner_team.is_empty());
        }
    }

    #[test]
    fn stratified_split_keeps_every_label_on_both_sides() {
        let rows = Taxonomy::default_taxonomy().labelled();
        let (train_rows, held) = stratified_split(&rows, 0.25, 1);
        assert_eq!(train_rows.len() + held.len(), rows.len());
        assert_eq!(held.iter().filter(|r| r.label == "other").count(), 10);
    }
}
