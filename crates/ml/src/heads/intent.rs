//! Intent: a taxonomy (names, descriptions, owner teams, example messages) in TOML, a head
//! trained on its examples or on a team's labelled file, and the rule that picks which customer
//! messages of a conversation say what it is about.

use std::collections::HashMap;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::data::Labelled;
use super::lexical::{self, term_counts, train_sparse, Idf, LexicalHead, SparseLinear, SparseRecipe, LEXICAL_WEIGHTS};
use super::metrics::Metrics;
use super::sentiment::embed_cached;
use super::train::{train_best, EmbeddedSet, Recipe};
use super::{Head, HeadCard, OutOfScope};
use crate::encoder::Encoder;
use crate::error::{Error, Result};

/// The default taxonomy, built in so a run never depends on the working directory for it.
pub const DEFAULT_TAXONOMY: &str = include_str!("../../../../data/taxonomy/intents.toml");

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Taxonomy {
    pub min_confidence: f64,
    pub intent: Vec<IntentDef>,
    /// The file it was read from (the built-in one names data/taxonomy/intents.toml), for cards.
    #[serde(skip)]
    pub origin: std::path::PathBuf,
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
        let mut t: Taxonomy = toml::from_str(text).map_err(|e| {
            Error::input(
                origin,
                format!("not a taxonomy file: {}", e.message()),
                "compare with data/taxonomy/intents.toml",
            )
        })?;
        if !t.intent.iter().any(|i| i.name == "other") {
            return Err(Error::input(
                origin,
                "the taxonomy has no `other` intent",
                "add an [[intent]] named other (low-confidence conversations go there)",
            ));
        }
        t.origin = origin.to_path_buf();
        Ok(t)
    }

    pub fn default_taxonomy() -> Taxonomy {
        Taxonomy::parse(DEFAULT_TAXONOMY, Path::new("data/taxonomy/intents.toml"))
            .expect("the built-in taxonomy parses")
    }

    pub fn labelled(&self) -> Vec<Labelled> {
        self.intent
            .iter()
            .flat_map(|i| i.examples.iter().map(|e| Labelled { text: e.clone(), label: i.name.clone() }))
            .collect()
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
            if i < n_held {
                held.push(r.clone())
            } else {
                train_rows.push(r.clone())
            }
        }
    }
    (train_rows, held)
}

/// How an intent head is trained: the split, and the out-of-scope label if the data has one.
pub struct IntentTraining<'a> {
    pub run: super::TrainRun<'a>,
    pub source: &'a str,
    pub holdout: f64,
    /// With an out-of-scope label ("oos" in CLINC150), 15% of the training part is set aside to
    /// pick the confidence below which a prediction becomes that label.
    pub out_of_scope: Option<&'a str>,
    /// The out-of-scope recall the team needs (`--out-of-scope-recall`): the threshold is then
    /// the best in-scope accuracy among those reaching it on the calibration rows. None weighs
    /// recall and in-scope accuracy equally.
    pub out_of_scope_recall: Option<f64>,
    /// Adapt the encoder to the team's data too (`--adapt-encoder`): a low-rank adapter for
    /// intent alone, saved in the head's directory (`ENCODER_ADAPTER_DIR`), and when to keep it.
    pub adapt_encoder: Option<(&'a super::adapt::AdaptRecipe, AdapterChoice)>,
}

/// When a team encoder adapter, once trained, is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterChoice {
    /// Only when the head read through it wins on the hold-out by `ADAPTER_MIN_GAIN`.
    IfBetter,
    /// Always (the team has measured it elsewhere, or wants it regardless).
    Always,
}

impl AdapterChoice {
    /// Whether to keep the adapter, given the head's hold-out accuracy with it and without it.
    pub fn keeps(self, with_adapter: f64, without_adapter: f64) -> bool {
        match self {
            AdapterChoice::Always => true,
            AdapterChoice::IfBetter => with_adapter >= without_adapter + ADAPTER_MIN_GAIN - 1e-9,
        }
    }
}

/// Where a team intent head keeps the encoder adapter it reads through, inside its directory.
pub const ENCODER_ADAPTER_DIR: &str = "encoder-adapter";

/// A head's predictions as analyze reads them: a head trained with an out-of-scope label applies
/// its own threshold (a plain argmax would never predict out-of-scope for a thin spread).
pub fn predict_labels(head: &Head, probs: &[Vec<f32>]) -> Vec<usize> {
    let out_of_scope = head
        .card
        .out_of_scope
        .as_ref()
        .and_then(|o| head.card.labels.iter().position(|l| *l == o.label).map(|i| (i, o.min_confidence)));
    match out_of_scope {
        Some((oos, min_confidence)) => predict_with_threshold(probs, oos, min_confidence),
        None => probs.iter().map(|p| crate::heads::argmax(p)).collect(),
    }
}

/// Top probabilities below `min_confidence` become `oos`.
pub fn predict_with_threshold(probs: &[Vec<f32>], oos: usize, min_confidence: f64) -> Vec<usize> {
    probs.iter().map(|p| label_with_threshold(p, oos, min_confidence)).collect()
}

/// One row's label: the most probable, or `oos` when its probability is below `min_confidence`.
pub fn label_with_threshold(probs: &[f32], oos: usize, min_confidence: f64) -> usize {
    let best = crate::heads::argmax(probs);
    if (probs[best] as f64) < min_confidence {
        oos
    } else {
        best
    }
}

/// How a confidence threshold did on the calibration rows.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct ThresholdTried {
    pub min_confidence: f64,
    /// In-scope rows given their own label (a row sent to out-of-scope counts as wrong).
    pub in_scope_accuracy: f64,
    /// Out-of-scope rows sent to out-of-scope; None without any in calibration.
    pub out_of_scope_recall: Option<f64>,
}

/// In-scope accuracy and out-of-scope recall of thresholded predictions.
pub fn threshold_scores(probs: &[Vec<f32>], y: &[usize], oos: usize, min_confidence: f64) -> ThresholdTried {
    let pred = predict_with_threshold(probs, oos, min_confidence);
    let share = |keep: &dyn Fn(usize) -> bool| {
        let rows: Vec<(usize, usize)> = y.iter().zip(&pred).map(|(&t, &p)| (t, p)).filter(|&(t, _)| keep(t)).collect();
        (!rows.is_empty()).then(|| rows.iter().filter(|(t, p)| t == p).count() as f64 / rows.len() as f64)
    };
    ThresholdTried {
        min_confidence,
        in_scope_accuracy: share(&|t| t != oos).unwrap_or(0.0),
        out_of_scope_recall: share(&|t| t == oos),
    }
}

/// The threshold (0.00 to 0.95 in steps of 0.05) that best serves the two things a team with an
/// out-of-scope label asks of it (CLINC150's two measures). By default they weigh equally:
/// in-scope accuracy and out-of-scope recall. Macro-F1 gave out-of-scope one say in 151 labels
/// and never moved the threshold off 0 (stop 24: CLINC150 val out-of-scope recall 0.55). A team
/// that states the recall it needs (`min_recall`, `--out-of-scope-recall`) gets the best in-scope
/// accuracy among the thresholds reaching it, or the highest recall when none does. Without
/// out-of-scope rows in calibration, in-scope accuracy alone decides. Ties go to the lower
/// threshold (fewer in-scope queries thrown away). Returns the threshold and every threshold tried.
pub fn pick_min_confidence(
    probs: &[Vec<f32>],
    y: &[usize],
    oos: usize,
    min_recall: Option<f64>,
) -> (f64, Vec<ThresholdTried>) {
    let tried: Vec<ThresholdTried> = (0..20).map(|step| threshold_scores(probs, y, oos, step as f64 / 20.0)).collect();
    // The lowest threshold with the highest key (keys compared in order, within float noise).
    fn lowest_best<'t>(
        candidates: impl Iterator<Item = &'t ThresholdTried>,
        key: impl Fn(&ThresholdTried) -> [f64; 2],
    ) -> f64 {
        let mut best: Option<([f64; 2], f64)> = None;
        for t in candidates {
            let k = key(t);
            let beats = |b: [f64; 2]| k[0] > b[0] + 1e-12 || ((k[0] - b[0]).abs() <= 1e-12 && k[1] > b[1] + 1e-12);
            if best.is_none_or(|(b, _)| beats(b)) {
                best = Some((k, t.min_confidence));
            }
        }
        best.map_or(0.0, |(_, threshold)| threshold)
    }
    let in_scope = |t: &ThresholdTried| [t.in_scope_accuracy, 0.0];
    let recall = |t: &ThresholdTried| t.out_of_scope_recall.unwrap_or(0.0);
    let has_out_of_scope = tried.iter().any(|t| t.out_of_scope_recall.is_some());
    let threshold = match min_recall {
        _ if !has_out_of_scope => lowest_best(tried.iter(), in_scope),
        None => lowest_best(tried.iter(), |t| [0.5 * (t.in_scope_accuracy + recall(t)), 0.0]),
        Some(wanted) => {
            let mut reaching = tried.iter().filter(|t| recall(t) >= wanted - 1e-9).peekable();
            if reaching.peek().is_some() {
                lowest_best(reaching, in_scope)
            } else {
                lowest_best(tried.iter(), |t| [recall(t), t.in_scope_accuracy])
            }
        }
    };
    (threshold, tried)
}

/// How much better on the hold-out (accuracy of the final predictions) a head read through its
/// own encoder adapter must be before the adapter is kept: it costs analyze half an encoder pass
/// over every text intent reads (1.5x wall on the bench input, BENCHMARKS.md), and it lost on
/// small data (the taxonomy's 440 examples: 0.927 against 0.945 without).
pub const ADAPTER_MIN_GAIN: f64 = 0.01;

/// The rows an intent head is fitted and judged on, by role.
struct IntentSplits<'r> {
    labels: &'r [String],
    train: &'r [Labelled],
    held: &'r [Labelled],
    calibration: &'r [Labelled],
    oos: Option<usize>,
    min_recall: Option<f64>,
    max_tokens: usize,
    cache: Option<&'r Path>,
}

/// A head fitted on one reading of the texts: the run's encoder, or its branch through a team
/// encoder adapter.
struct FittedHead {
    card: HeadCard,
    layers: Vec<(candle_core::Tensor, candle_core::Tensor)>,
    lexical: Option<LexicalHead>,
    how_trained: serde_json::Value,
    validation: HashMap<String, Metrics>,
    /// Hold-out accuracy of the predictions analyze would make (blend, then threshold).
    holdout_accuracy: f64,
}

/// Fits the embedding head (recipe and epoch on the hold-out), its lexical reader and blend
/// weight, and the out-of-scope threshold (on the calibration rows), reading through `encoder`.
fn fit_head(encoder: &Encoder, splits: &IntentSplits) -> Result<FittedHead> {
    let IntentSplits { labels, train, held, calibration, oos, min_recall, max_tokens, cache } = *splits;
    let embed = |name: &str, rows: &[Labelled]| -> Result<EmbeddedSet> {
        let texts: Vec<&str> = rows.iter().map(|r| r.text.as_str()).collect();
        let x = embed_cached(encoder, &texts, max_tokens, cache)?;
        let y = rows.iter().map(|r| labels.iter().position(|l| l == &r.label).expect("label listed")).collect();
        Ok(EmbeddedSet { name: name.to_string(), x, y })
    };
    let train_set = embed("train", train)?;
    let valid = vec![embed("holdout", held)?];
    let base = Recipe::linear(80, 32);
    let candidates = [
        base,
        Recipe { learning_rate: 3e-2, ..base },
        Recipe { hidden: 512, learning_rate: 1e-3, input_dropout: 0.1, ..base },
        Recipe { hidden: 1024, learning_rate: 1e-3, input_dropout: 0.3, ..base },
    ];
    let (recipe, trained, tried) = train_best(labels, &train_set, &valid, &candidates)?;

    // The lexical reader (heads::lexical) on the same training rows; its epoch and its weight in
    // the blend are picked on the hold-out too.
    let documents =
        |rows: &[Labelled], idf: &Idf| rows.iter().map(|r| idf.weigh(&term_counts(&r.text))).collect::<Vec<_>>();
    let idf = Idf::fit(&train.iter().map(|r| term_counts(&r.text)).collect::<Vec<_>>());
    let (train_x, held_x) = (documents(train, &idf), documents(held, &idf));
    let lexical_recipe = SparseRecipe { epochs: 20, learning_rate: 0.2, l2: 1e-5, seed: 7 };
    let mut lexical_best: Option<(usize, f64, SparseLinear)> = None;
    train_sparse(labels.len(), &train_x, &train_set.y, lexical_recipe, |epoch, layer| {
        let pred: Vec<usize> = held_x.iter().map(|x| super::argmax(&layer.logits(x))).collect();
        let f1 = super::metrics::evaluate(labels, &valid[0].y, &pred).macro_f1;
        if lexical_best.as_ref().is_none_or(|(_, b, _)| f1 > *b) {
            lexical_best = Some((epoch, f1, layer.clone()));
        }
        Ok(())
    })?;
    let (lexical_epoch, _, lexical_layer) = lexical_best.expect("an epoch trained");
    let lexical_head = LexicalHead::new(idf, lexical_layer);
    let held_texts: Vec<&str> = held.iter().map(|r| r.text.as_str()).collect();
    let mut card = HeadCard::bare(labels);
    let mut blends_tried = Vec::new();
    let mut best_blend: Option<(f64, Metrics)> = None;
    for &w in &LEXICAL_WEIGHTS {
        card.lexical_weight = w;
        let head = Head::new(card.clone(), trained.layers.clone());
        let probs = lexical::blended_proba(&head, Some(&lexical_head), &valid[0].x, &held_texts)?;
        let m =
            super::metrics::evaluate(labels, &valid[0].y, &probs.iter().map(|p| super::argmax(p)).collect::<Vec<_>>());
        tracing::info!(lexical_weight = w, macro_f1 = m.macro_f1, "blend tried");
        blends_tried.push(json!({"lexical_weight": w, "holdout_macro_f1": m.macro_f1}));
        if best_blend.as_ref().is_none_or(|(_, b)| m.macro_f1 > b.macro_f1) {
            best_blend = Some((w, m));
        }
    }
    let (lexical_weight, blended_metrics) = best_blend.expect("a blend tried");
    card.lexical_weight = lexical_weight;
    let lexical = (lexical_weight > 0.0).then_some(lexical_head);
    let mut holdout_accuracy = blended_metrics.accuracy;
    let mut validation: HashMap<String, Metrics> = trained.validation.into_iter().collect();
    validation.insert("holdout_blended".into(), blended_metrics);
    let mut how_trained = json!({
            "chosen": recipe,
            "best_epoch": trained.best_epoch,
            "tried": tried,
            "lexical": {
                "chosen": SparseRecipe { epochs: lexical_epoch, ..lexical_recipe },
                "blend": "softmax((1 - w) log p_embedding + w log p_lexical); w picked on the hold-out",
                "blends_tried": blends_tried,
            },
    });
    if let Some(oos) = oos {
        let head = Head::new(card.clone(), trained.layers.clone());
        let calibration_set = embed("calibration", calibration)?;
        let calibration_texts: Vec<&str> = calibration.iter().map(|r| r.text.as_str()).collect();
        let calibration_probs =
            lexical::blended_proba(&head, lexical.as_ref(), &calibration_set.x, &calibration_texts)?;
        let (min_confidence, thresholds) = pick_min_confidence(&calibration_probs, &calibration_set.y, oos, min_recall);
        let held_probs = lexical::blended_proba(&head, lexical.as_ref(), &valid[0].x, &held_texts)?;
        let with_threshold =
            super::metrics::evaluate(labels, &valid[0].y, &predict_with_threshold(&held_probs, oos, min_confidence));
        holdout_accuracy = with_threshold.accuracy;
        validation.insert("holdout_with_threshold".into(), with_threshold);
        card.out_of_scope = Some(OutOfScope { label: labels[oos].clone(), min_confidence });
        let selection = match min_recall {
            None => "on the calibration rows: the threshold with the best mean of in-scope accuracy and out-of-scope recall".to_string(),
            Some(r) => format!("on the calibration rows: the best in-scope accuracy among the thresholds with out-of-scope recall >= {r} (the highest recall if none reaches it)"),
        };
        how_trained["out_of_scope_thresholds"] = json!({ "selection": selection, "tried": thresholds });
    }
    Ok(FittedHead { card, layers: trained.layers, lexical, how_trained, validation, holdout_accuracy })
}

/// Trains an intent head on labelled rows: a stratified hold-out picks the recipe and epoch and
/// gives the reported metrics. With `adapt_encoder`, the head is fitted through a team adapter
/// trained on the same rows and (unless the adapter is kept regardless) on the run's encoder,
/// and the adapter is kept only if it wins on the hold-out by `ADAPTER_MIN_GAIN`.
pub fn train_intent(encoder: &Encoder, rows: &[Labelled], how: &IntentTraining, out: &Path) -> Result<Head> {
    let IntentTraining {
        run: super::TrainRun { model_name, max_tokens, cache, command },
        source,
        holdout,
        out_of_scope,
        out_of_scope_recall,
        adapt_encoder,
    } = *how;
    let mut labels: Vec<String> = rows.iter().map(|r| r.label.clone()).collect();
    labels.sort();
    labels.dedup();
    let oos = match out_of_scope {
        Some(l) => Some(labels.iter().position(|x| x == l).ok_or_else(|| {
            crate::error::Error::input(
                Path::new(source),
                format!("--out-of-scope {l:?} is not a label of the data"),
                "name the data's out-of-scope label, e.g. oos",
            )
        })?),
        None => None,
    };
    let (train_rows, held) = stratified_split(rows, holdout, 17);
    // The calibration rows never train the head and never score it.
    let (train_rows, calibration) =
        if oos.is_some() { stratified_split(&train_rows, 0.15, 23) } else { (train_rows, Vec::new()) };
    fn index<'r>(rows: &'r [Labelled], labels: &[String]) -> Vec<(&'r str, usize)> {
        rows.iter()
            .map(|r| (r.text.as_str(), labels.iter().position(|l| l == &r.label).expect("label listed")))
            .collect()
    }
    let splits = IntentSplits {
        labels: &labels,
        train: &train_rows,
        held: &held,
        calibration: &calibration,
        oos,
        min_recall: out_of_scope_recall,
        max_tokens,
        cache,
    };
    let adapter_dir = out.join(ENCODER_ADAPTER_DIR);
    // A head without an adapter must not leave an earlier one looking current.
    let remove_adapter = || -> Result<()> {
        if adapter_dir.exists() {
            std::fs::remove_dir_all(&adapter_dir).map_err(|e| crate::error::Error::write(&adapter_dir, e))?;
        }
        Ok(())
    };
    let (fitted, adapter_report, adapter_kept) = match adapt_encoder {
        None => {
            remove_adapter()?;
            (fit_head(encoder, &splits)?, None, false)
        }
        Some((recipe, choice)) => {
            let outcome = super::adapt::train_team_adapter(
                encoder,
                &index(&train_rows, &labels),
                &index(&held, &labels),
                labels.len(),
                recipe,
                command,
            )?;
            outcome.adapter.save(&adapter_dir)?;
            // Fitted exactly as analyze will read: through the adapter as saved (f16).
            let adapted = fit_head(&encoder.branch(&adapter_dir)?, &splits)?;
            // The head without the adapter is only fitted when it could win.
            let plain = match choice {
                AdapterChoice::IfBetter => Some(fit_head(encoder, &splits)?),
                AdapterChoice::Always => None,
            };
            let kept = plain.as_ref().is_none_or(|p| choice.keeps(adapted.holdout_accuracy, p.holdout_accuracy));
            tracing::info!(
                without = plain.as_ref().map(|p| p.holdout_accuracy),
                with = adapted.holdout_accuracy,
                kept,
                "hold-out accuracy without and with the encoder adapter"
            );
            let mut report = outcome.report;
            if let Some(p) = &plain {
                report["holdout_accuracy_without"] = json!(p.holdout_accuracy);
            }
            report["holdout_accuracy_with"] = json!(adapted.holdout_accuracy);
            report["kept"] = json!(kept);
            report["rule"] = json!(match choice {
                AdapterChoice::IfBetter => format!(
                    "kept when the head read through it beats the head without on the hold-out by at least {ADAPTER_MIN_GAIN} accuracy"
                ),
                AdapterChoice::Always => "kept whatever the hold-out says (--adapt-encoder=always)".to_string(),
            });
            match plain {
                Some(plain) if !kept => {
                    remove_adapter()?;
                    (plain, Some(report), false)
                }
                _ => (adapted, Some(report), true),
            }
        }
    };
    let FittedHead { card: fitted_card, layers, lexical, mut how_trained, validation, .. } = fitted;
    how_trained["selection"] = json!(format!(
        "stratified hold-out of {:.0}% per label (seed 17) picks recipe and epoch and gives the metrics",
        holdout * 100.0
    ));
    if let Some(report) = adapter_report {
        how_trained["encoder_adapter"] = report;
    }
    let card = HeadCard {
        task: "intent".into(),
        labels,
        encoder: model_name.to_string(),
        max_tokens,
        recipe: how_trained,
        training_data: vec![format!(
            "{source}: {} rows ({} train, {} calibration, {} hold-out)",
            rows.len(),
            train_rows.len(),
            calibration.len(),
            held.len()
        )],
        validation,
        command: command.to_string(),
        out_of_scope: fitted_card.out_of_scope,
        temperature: 1.0,
        menu_choice_weight: 0.0,
        subject_weight: 0.0,
        message_decay: DEFAULT_MESSAGE_DECAY,
        lexical_weight: fitted_card.lexical_weight,
        encoder_adapter: adapter_kept.then(|| ENCODER_ADAPTER_DIR.to_string()),
    };
    let head = Head::new(card, layers);
    head.save(out)?;
    lexical::save_beside(lexical.as_ref(), out)?;
    Ok(head)
}

/// A customer message's intent probabilities: its own reading blended with its conversation's,
/// (1 - w) log p_message + w log p_conversation, renormalised. Read alone, a message loses what
/// the conversation established ("udah 5 hari" is about the order asked after two messages
/// earlier); copied from the conversation, it misses the need moving on ("refundnya kapan
/// masuk?" in a cancellation).
pub fn message_intent_proba(message: &[f32], conversation: &[f32], conversation_weight: f64) -> Vec<f32> {
    let ln = |p: &[f32]| p.iter().map(|x| x.max(1e-12).ln()).collect::<Vec<f32>>();
    super::softmax(&super::lexical::blend(&ln(message), &ln(conversation), conversation_weight), 1.0)
}

/// Whether a customer message is read for the conversation's intent: it has something to say
/// (`is_substantive`) and no context rule decided it (a menu choice, an id, media).
pub fn reads_intent(text: &str, rule: Option<crate::context::RuleReading>) -> bool {
    rule.is_none() && is_substantive(text)
}

/// How the message pool weighs the i-th read message (0-based): 1/(i+1)^decay. Every message
/// counts, not only the first ("iya kak, refundnya belum masuk" often says what "halo kak mau
/// tanya" did not), but the opening weighs most: later messages drift to waiting and thanks.
/// 2 was picked on the first dev split (accuracy 0.69 plain mean, 0.76 at 1, 0.77 at 2, 0.76 at
/// 3, 0.73 first message alone) and is what heads without `message_decay` in their card read;
/// later heads choose it by cross-validation over businesses.
pub const DEFAULT_MESSAGE_DECAY: f64 = 2.0;

/// A conversation's message pool: the L2-normalised weighted mean of the embeddings of the
/// customer messages its intent is read from, the i-th weighted 1/(i+1)^decay. The messages
/// are embedded for sentiment anyway, so this costs no encoder pass. None without messages.
pub fn message_pool(vectors: &[&[f32]], decay: f64) -> Option<Vec<f32>> {
    unit_weighted_sum(vectors.iter().enumerate().map(|(i, v)| ((1.0 / (1.0 + i as f64).powf(decay)) as f32, *v)))
}

/// An e-mail subject as the intent head reads it: reply and forward prefixes ("Re:", "Fwd:")
/// and bracketed ticket ids ("[DKL-2610-01944]") say nothing about the need. None when nothing
/// else is left.
pub fn intent_subject(subject: &str) -> Option<&str> {
    let mut s = subject.trim();
    loop {
        let prefix = ["re:", "fwd:", "fw:", "balas:", "tr:"]
            .iter()
            .find(|p| s.get(..p.len()).is_some_and(|head| head.eq_ignore_ascii_case(p)));
        if let Some(p) = prefix {
            s = s[p.len()..].trim_start();
        } else if s.starts_with('[') {
            match s.find(']') {
                Some(end) => s = s[end + 1..].trim_start(),
                None => break,
            }
        } else {
            break;
        }
    }
    (!s.is_empty()).then_some(s)
}

/// The lexical reader's document: the texts the pooled vector is made of (messages that speak
/// to the need, menu options picked, the subject), one per line.
pub fn intent_document<'a>(texts: impl Iterator<Item = &'a str>) -> String {
    texts.collect::<Vec<_>>().join("\n")
}

/// How a conversation's parts are pooled into the intent head's input; an intent head's card
/// carries it (`HeadCard::intent_pooling`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IntentPooling {
    /// The message pool's decay (`message_pool`).
    pub message_decay: f64,
    /// Weight of the normalised mean of the menu options the customer picked.
    pub menu_choice: f64,
    /// Weight of the e-mail subject line.
    pub subject: f64,
}

impl IntentPooling {
    /// The customer's messages alone, as the first intent heads read them.
    pub const MESSAGES_ONLY: IntentPooling =
        IntentPooling { message_decay: DEFAULT_MESSAGE_DECAY, menu_choice: 0.0, subject: 0.0 };

    /// A conversation's intent vector: the message pool (`message_pool`) plus `menu_choice`
    /// times the L2-normalised mean of the embeddings of the menu options the customer picked
    /// (context::menu_choices), plus `subject` times the e-mail subject's embedding,
    /// L2-normalised. "2" after "2. Refund belum masuk" says what the customer came for as
    /// plainly as a sentence would, and a subject is the customer's own summary of the need.
    /// A weight of 0 leaves that part out exactly; a single part is read alone, whatever its
    /// weight (a customer who only picked from menus). None when there is nothing to read.
    pub fn pool(&self, messages: &[&[f32]], menu_choices: &[&[f32]], subject: Option<&[f32]>) -> Option<Vec<f32>> {
        let menu =
            if self.menu_choice > 0.0 { unit_weighted_sum(menu_choices.iter().map(|v| (1.0, *v))) } else { None };
        let subject = subject.filter(|_| self.subject > 0.0).map(<[f32]>::to_vec);
        let mut parts: Vec<(f32, Vec<f32>)> = [
            (1.0, message_pool(messages, self.message_decay)),
            (self.menu_choice as f32, menu),
            (self.subject as f32, subject),
        ]
        .into_iter()
        .filter_map(|(w, v)| Some((w, v?)))
        .collect();
        if parts.len() == 1 {
            return parts.pop().map(|(_, only)| only);
        }
        unit_weighted_sum(parts.iter().map(|(w, v)| (*w, v.as_slice())))
    }
}

/// The L2-normalised weighted sum of vectors (None without any).
fn unit_weighted_sum<'a>(weighted: impl Iterator<Item = (f32, &'a [f32])>) -> Option<Vec<f32>> {
    let mut sum: Option<Vec<f32>> = None;
    for (w, v) in weighted {
        let s = sum.get_or_insert_with(|| vec![0f32; v.len()]);
        for (s, x) in s.iter_mut().zip(v) {
            *s += w * x;
        }
    }
    let sum = sum?;
    let norm = sum.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    Some(sum.into_iter().map(|x| x / norm).collect())
}

/// Whether a customer message says nothing about the issue: a greeting or thanks alone, a menu
/// digit, an order or tracking number alone, a ping.
pub fn is_substantive(text: &str) -> bool {
    const FILLER: [&str; 57] = [
        "halo",
        "hallo",
        "hai",
        "hi",
        "hello",
        "hey",
        "p",
        "ping",
        "min",
        "kak",
        "gan",
        "sis",
        "mas",
        "mbak",
        "admin",
        "selamat",
        "pagi",
        "siang",
        "sore",
        "malam",
        "permisi",
        "assalamualaikum",
        "assalamu'alaikum",
        "salam",
        "good",
        "morning",
        "afternoon",
        "evening",
        "ok",
        "oke",
        "okay",
        "sip",
        "ya",
        "iya",
        "yes",
        "terima",
        "kasih",
        "makasih",
        "thanks",
        "thank",
        "you",
        "test",
        "menu",
        "agent",
        // Asking for help or to wait says nothing about what the help is for ("iya kak, tolong
        // dibantu ya", "bisa dibantu?", "please help", "ditunggu ya").
        "tolong",
        "dibantu",
        "bantu",
        "bantuannya",
        "bisa",
        "dong",
        "please",
        "help",
        "ditunggu",
        "tunggu",
        "baik",
        "siap",
        "noted",
    ];
    let words: Vec<String> = text
        .split(|c: char| c.is_whitespace() || ",.!?;:()".contains(c))
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase())
        .collect();
    let informative = words.iter().filter(|w| {
        let is_number_like =
            w.chars().any(|c| c.is_ascii_digit()) && w.chars().all(|c| c.is_ascii_alphanumeric() || "/-#".contains(c));
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
        for t in
            ["halo kak", "Selamat pagi min!", "3", "INV/2026/31517000", "JX1234567890", "p", "ok makasih kak", "#88213"]
        {
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
    fn menu_choices_blend_into_the_intent_vector_by_their_weight() {
        let (a, b): (&[f32], &[f32]) = (&[1.0, 0.0], &[0.0, 1.0]);
        // Weight 0 is the message pool exactly; menus alone are read when nothing else is.
        let pooling = |menu_choice, subject| IntentPooling { menu_choice, subject, ..IntentPooling::MESSAGES_ONLY };
        assert_eq!(pooling(0.0, 0.0).pool(&[a], &[b], None), message_pool(&[a], DEFAULT_MESSAGE_DECAY));
        assert_eq!(pooling(0.5, 0.0).pool(&[], &[b], None), Some(vec![0.0, 1.0]));
        assert_eq!(pooling(0.0, 0.0).pool(&[], &[b], None), None);
        let v = pooling(1.0, 0.0).pool(&[a], &[b], None).unwrap();
        assert!((v[0] - v[1]).abs() < 1e-6 && (v[0] * v[0] + v[1] * v[1] - 1.0).abs() < 1e-6, "{v:?}");
        let v = pooling(0.25, 0.0).pool(&[a], &[b], None).unwrap();
        assert!((v[1] / v[0] - 0.25).abs() < 1e-6, "{v:?}");
    }

    #[test]
    fn a_subject_loses_its_reply_prefixes_and_ticket_ids() {
        assert_eq!(
            intent_subject("Re: [DKL-2610-01944] Refund for cancelled order not received"),
            Some("Refund for cancelled order not received")
        );
        assert_eq!(intent_subject("FWD: RE: Tagihan dobel"), Some("Tagihan dobel"));
        assert_eq!(intent_subject("Paket belum sampai"), Some("Paket belum sampai"));
        assert_eq!(intent_subject("[unclosed ticket"), Some("[unclosed ticket"));
        assert_eq!(intent_subject("  Re: [#4411] "), None);
        assert_eq!(intent_subject("Ré: ongkir"), Some("Ré: ongkir"));
    }

    #[test]
    fn an_email_subject_blends_in_by_its_weight() {
        let (a, b, s): (&[f32], &[f32], &[f32]) = (&[1.0, 0.0, 0.0], &[0.0, 1.0, 0.0], &[0.0, 0.0, 1.0]);
        // Weight 0 ignores it: older heads read exactly as before.
        let pooling = |menu_choice, subject| IntentPooling { menu_choice, subject, ..IntentPooling::MESSAGES_ONLY };
        assert_eq!(pooling(0.5, 0.0).pool(&[a], &[b], Some(s)), pooling(0.5, 0.0).pool(&[a], &[b], None));
        let v = pooling(0.0, 0.5).pool(&[a], &[], Some(s)).unwrap();
        assert!((v[2] / v[0] - 0.5).abs() < 1e-6 && v[1] == 0.0, "{v:?}");
        let v = pooling(1.0, 1.0).pool(&[a], &[b], Some(s)).unwrap();
        assert!((v[0] - v[1]).abs() < 1e-6 && (v[1] - v[2]).abs() < 1e-6, "{v:?}");
        // A subject alone (an e-mail whose body says nothing substantive) is read.
        assert_eq!(pooling(0.5, 1.0).pool(&[], &[], Some(s)), Some(s.to_vec()));
    }

    #[test]
    fn the_message_decay_sets_how_much_later_messages_weigh() {
        let (a, b): (&[f32], &[f32]) = (&[1.0, 0.0], &[0.0, 1.0]);
        // The second message weighs 1/2^decay of the first: 1/4 at the old fixed 2, 1/2 at 1,
        // and a plain mean at 0.
        for (decay, ratio) in [(2.0, 0.25), (1.0, 0.5), (0.0, 1.0)] {
            let v = message_pool(&[a, b], decay).unwrap();
            assert!((v[1] / v[0] - ratio).abs() < 1e-6, "decay {decay}: {v:?}");
        }
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

    #[test]
    fn low_confidence_predictions_become_out_of_scope_at_the_picked_threshold() {
        // Confident in-scope rows, and out-of-scope rows the head spreads thinly.
        let probs = vec![vec![0.9, 0.05, 0.05], vec![0.1, 0.8, 0.1], vec![0.4, 0.35, 0.25], vec![0.3, 0.47, 0.23]];
        let y = vec![0, 1, 2, 2];
        assert_eq!(predict_with_threshold(&probs, 2, 0.5), vec![0, 1, 2, 2]);
        assert_eq!(predict_with_threshold(&probs, 2, 0.0), vec![0, 1, 0, 1]);
        let (t, tried) = pick_min_confidence(&probs, &y, 2, None);
        // The lowest grid threshold that separates them: above 0.47, at most 0.8.
        assert_eq!(t, 0.5);
        let at = |t: f64| *tried.iter().find(|x| (x.min_confidence - t).abs() < 1e-9).expect("on the grid");
        assert_eq!((at(0.0).in_scope_accuracy, at(0.0).out_of_scope_recall), (1.0, Some(0.0)));
        assert_eq!((at(0.5).in_scope_accuracy, at(0.5).out_of_scope_recall), (1.0, Some(1.0)));
        assert_eq!((at(0.85).in_scope_accuracy, at(0.85).out_of_scope_recall), (0.5, Some(1.0)));
    }

    #[test]
    fn a_messages_intent_leans_on_its_conversation_by_the_weight_given() {
        let own = [0.6f32, 0.3, 0.1];
        let conversation = [0.1f32, 0.8, 0.1];
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5);
        assert!(close(&message_intent_proba(&own, &conversation, 0.0), &own));
        assert!(close(&message_intent_proba(&own, &conversation, 1.0), &conversation));
        // Halfway: the geometric mean, renormalised; the conversation's need wins here.
        let half = message_intent_proba(&own, &conversation, 0.5);
        let g: Vec<f32> = own.iter().zip(&conversation).map(|(a, b)| (a * b).sqrt()).collect();
        let sum: f32 = g.iter().sum();
        assert!(close(&half, &g.iter().map(|x| x / sum).collect::<Vec<_>>()));
        assert_eq!(crate::heads::argmax(&half), 1);
        // A zero probability stays finite.
        assert!(message_intent_proba(&[1.0, 0.0], &[0.5, 0.5], 0.5).iter().all(|p| p.is_finite()));
    }

    #[test]
    fn out_of_scope_recall_weighs_as_much_as_in_scope_accuracy_among_many_labels() {
        // 40 in-scope labels and out-of-scope: macro-F1 gives out-of-scope one say in 41 and
        // would keep every row in scope. 38 confident in-scope rows, 2 unsure ones (right), and
        // 4 out-of-scope rows read as unsure in-scope ones.
        let n = 41;
        let oos = 40;
        let row = |label: usize, p: f32| {
            let mut v = vec![(1.0 - p) / (n - 1) as f32; n];
            v[label] = p;
            v
        };
        let mut probs: Vec<Vec<f32>> = (0..38).map(|i| row(i, 0.9)).collect();
        let mut y: Vec<usize> = (0..38).collect();
        probs.extend([row(38, 0.4), row(39, 0.4)]);
        y.extend([38, 39]);
        probs.extend((0..4).map(|i| row(i, 0.3)));
        y.extend([oos; 4]);
        let (t, _) = pick_min_confidence(&probs, &y, oos, None);
        // 0.35 .. 0.40: in-scope 1.0, out-of-scope 1.0.
        assert_eq!(t, 0.35);
        // No out-of-scope rows to calibrate on: in-scope accuracy alone, so nothing is thrown away.
        let (t, tried) = pick_min_confidence(&probs[..40], &y[..40], oos, None);
        assert_eq!(t, 0.0);
        assert!(tried.iter().all(|x| x.out_of_scope_recall.is_none()));
    }

    #[test]
    fn an_encoder_adapter_is_kept_only_when_it_pays_for_its_run_time() {
        assert!(AdapterChoice::IfBetter.keeps(0.956, 0.906));
        assert!(AdapterChoice::IfBetter.keeps(0.92, 0.91));
        assert!(!AdapterChoice::IfBetter.keeps(0.915, 0.91));
        assert!(!AdapterChoice::IfBetter.keeps(0.927, 0.945));
        assert!(AdapterChoice::Always.keeps(0.927, 0.945));
    }

    #[test]
    fn a_stated_out_of_scope_recall_keeps_the_best_in_scope_accuracy_that_reaches_it() {
        // 10 in-scope rows at confidences 0.47..0.92 (all right at threshold 0), 4 out-of-scope
        // rows read as in-scope at 0.20, 0.30, 0.50 and 0.60.
        // Six labels, the last out of scope, so the rest of a row's mass is spread thin.
        let row = |label: usize, p: f32| {
            let mut v = vec![(1.0 - p) / 5.0; 6];
            v[label] = p;
            v
        };
        let mut probs: Vec<Vec<f32>> = (0..10).map(|i| row(i % 2, 0.47 + 0.05 * i as f32)).collect();
        let mut y: Vec<usize> = (0..10).map(|i| i % 2).collect();
        probs.extend([0.2, 0.3, 0.5, 0.6].map(|p| row(0, p)));
        y.extend([5; 4]);
        let at =
            |t: f64, tried: &[ThresholdTried]| *tried.iter().find(|x| (x.min_confidence - t).abs() < 1e-9).unwrap();
        // Recall 0.5 is reached from 0.35 on, where every in-scope row is still kept.
        let (t, tried) = pick_min_confidence(&probs, &y, 5, Some(0.5));
        assert_eq!(t, 0.35);
        assert_eq!((at(t, &tried).in_scope_accuracy, at(t, &tried).out_of_scope_recall), (1.0, Some(0.5)));
        // Recall 0.75 needs 0.55, which throws away two in-scope rows (0.47, 0.52).
        let (t, tried) = pick_min_confidence(&probs, &y, 5, Some(0.75));
        assert_eq!(t, 0.55);
        assert_eq!((at(t, &tried).in_scope_accuracy, at(t, &tried).out_of_scope_recall), (0.8, Some(0.75)));
        // The balanced rule would pay more in-scope accuracy for full recall: (0.6 + 1) / 2 at
        // 0.65 beats (0.8 + 0.75) / 2.
        assert_eq!(pick_min_confidence(&probs, &y, 5, None).0, 0.65);
        // A recall no threshold reaches: the highest recall, at the best in-scope accuracy.
        let mut unreachable = probs.clone();
        unreachable[13] = row(0, 0.99);
        let (t, tried) = pick_min_confidence(&unreachable, &y, 5, Some(1.0));
        assert_eq!(at(t, &tried).out_of_scope_recall, Some(0.75));
        assert_eq!(t, 0.55);
    }
}
