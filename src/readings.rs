//! The default heads trained and measured on chats: sentiment on SmSA + NusaX + the corpus's
//! train split (chosen on the corpus's dev split) and its lexical reader, conversation intent on
//! the corpus's train and dev conversations + the taxonomy's examples (pooling, recipe,
//! temperature and the `other` threshold chosen by cross-validation over businesses),
//! resolution on the train split (chosen on dev). `evaluate_corpus` measures the shipped path (context rules, then
//! the model through `enrich`) on any split; `export_split` writes a split as analyze's input.
//! Above `enrich` in the data flow (it runs the whole readings path), so not part of `heads`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::encoder::Encoder;
use crate::enrich::LanguageModel;
use crate::error::{Error, Result};
use crate::heads::corpus::{Corpus, CorpusConversation};
use crate::heads::intent::{label_with_threshold, reads_intent, IntentPooling, Taxonomy};
use crate::heads::lexical::{
    self, term_counts, train_sparse, Idf, LexicalHead, Sparse, SparseLinear, SparseRecipe, LEXICAL_WEIGHTS,
};
use crate::heads::metrics::{evaluate, Metrics};
use crate::heads::resolution::{
    closing_exchange, deciding_slot, input_vector as resolution_input, ClosingExchange, LABELS as RESOLUTION_LABELS,
};
use crate::heads::sentiment::{embed_cached, public_sets, PublicSets, LABELS};
use crate::heads::train::{logits, train_best, train_epochs, EmbeddedSet, Recipe};
use crate::heads::{argmax, softmax, Head, HeadCard, OutOfScope};

/// What one conversation's intent is read from: the embeddings of the customer messages the
/// model reads and of the menu options the customer picked, each in message order, and of the
/// e-mail subject line.
pub struct IntentParts {
    pub messages: Vec<Vec<f32>>,
    pub menu_choices: Vec<Vec<f32>>,
    pub subject: Option<Vec<f32>>,
    /// The same texts, as the lexical reader reads them (heads::intent::intent_document).
    pub document: String,
}

impl IntentParts {
    /// The pooled intent vector (None: nothing to read, so `other`).
    pub fn vector(&self, pooling: IntentPooling) -> Option<Vec<f32>> {
        let messages: Vec<&[f32]> = self.messages.iter().map(Vec::as_slice).collect();
        let menu_choices: Vec<&[f32]> = self.menu_choices.iter().map(Vec::as_slice).collect();
        pooling.pool(&messages, &menu_choices, self.subject.as_deref())
    }
}

/// Each conversation's intent parts and its label.
pub fn conversation_intent_parts(
    encoder: &Encoder,
    conversations: &[&CorpusConversation],
    max_tokens: usize,
    cache: Option<&Path>,
) -> Result<Vec<(IntentParts, String)>> {
    let mut texts: Vec<String> = Vec::new();
    let mut per_conv: Vec<(Vec<usize>, Vec<usize>, Option<usize>)> = Vec::new();
    let mut documents: Vec<String> = Vec::new();
    for c in conversations {
        let conv = c.to_conversation()?;
        let subject_text = c.subject.as_deref().and_then(crate::heads::intent::intent_subject);
        let subject = subject_text.map(|s| {
            texts.push(crate::text::inference_key(s));
            texts.len() - 1
        });
        let mut read: Vec<String> = Vec::new();
        let (rules, picked) = crate::context::readings_with_menu_choices(&conv.messages);
        let (mut said, mut menus) = (Vec::new(), Vec::new());
        for ((m, rule), option) in conv.messages.iter().zip(rules).zip(picked) {
            let text = m.text.as_deref().unwrap_or("");
            if m.role == crate::model::Role::Customer && reads_intent(text, rule) {
                said.push(texts.len());
                texts.push(crate::text::inference_key(text));
                read.push(text.to_string());
            } else if let Some(option) = option {
                menus.push(texts.len());
                texts.push(crate::text::inference_key(&option));
                read.push(option);
            }
        }
        read.extend(subject_text.map(str::to_string));
        documents.push(crate::heads::intent::intent_document(read.iter().map(String::as_str)));
        per_conv.push((said, menus, subject));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let vectors = embed_cached(encoder, &refs, max_tokens, cache)?;
    let take = |idx: &[usize]| idx.iter().map(|&i| vectors[i].clone()).collect::<Vec<_>>();
    Ok(per_conv
        .iter()
        .zip(documents)
        .zip(conversations)
        .map(|(((said, menus, subject), document), c)| {
            let parts = IntentParts {
                messages: take(said),
                menu_choices: take(menus),
                subject: subject.map(|i| vectors[i].clone()),
                document,
            };
            (parts, c.intent.clone())
        })
        .collect())
}

/// Each conversation's pooled intent vector.
fn pooled(parts: &[(IntentParts, String)], pooling: IntentPooling) -> Vec<Option<Vec<f32>>> {
    parts.iter().map(|(p, _)| p.vector(pooling)).collect()
}

/// The pooling the default intent trainer tries: message decays x menu-choice weights x
/// subject weights (chosen by cross-validation with everything else). Weight 0 for menus and
/// subjects, and decays above 2, lost on every earlier selection.
const MESSAGE_DECAYS: [f64; 3] = [0.5, 1.0, 2.0];
const MENU_CHOICE_WEIGHTS: [f64; 3] = [0.0, 0.25, 0.5];
const SUBJECT_WEIGHTS: [f64; 2] = [0.5, 1.0];

/// Folds of the intent head's selection. Each fold holds out whole businesses, so every
/// selection score measures businesses, templates and writers the fold's head never saw.
const INTENT_FOLDS: usize = 6;

fn label_of(labels: &[String], name: &str, what: &str) -> Result<usize> {
    labels
        .iter()
        .position(|l| l == name)
        .ok_or_else(|| Error::internal(format!("{what}: label {name:?} not in {labels:?}")))
}

/// Temperature minimising the negative log-likelihood on a development set (grid 0.3..5).
pub fn fit_temperature(head: &Head, x: &[Vec<f32>], y: &[usize]) -> Result<f64> {
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

/// Predicted intents from each conversation's probabilities (None: nothing substantive to
/// read): below `min_confidence`, or nothing to read, is `other`.
fn predict_intents(probs: &[Option<Vec<f32>>], other: usize, min_confidence: f64) -> Vec<usize> {
    probs.iter().map(|p| p.as_deref().map_or(other, |p| label_with_threshold(p, other, min_confidence))).collect()
}

/// The `other` threshold: the best accuracy among thresholds whose predicted `other` share is
/// within 5 points of the true share (the target); the closest share if none is.
fn pick_other_threshold(probs: &[Option<Vec<f32>>], truth: &[usize], other: usize) -> (f64, Vec<serde_json::Value>) {
    let n = truth.len().max(1) as f64;
    let true_share = truth.iter().filter(|&&t| t == other).count() as f64 / n;
    let mut tried = Vec::new();
    let mut best: Option<(bool, f64, f64)> = None; // (share ok, accuracy or -gap, threshold)
    for step in 0..=18 {
        let t = step as f64 * 0.05;
        let pred = predict_intents(probs, other, t);
        let share = pred.iter().filter(|&&p| p == other).count() as f64 / n;
        let acc = pred.iter().zip(truth).filter(|(p, t)| p == t).count() as f64 / n;
        let ok = (share - true_share).abs() <= 0.05;
        tried.push(json!({"min_confidence": t, "other_share": share, "accuracy": acc}));
        let key = (ok, if ok { acc } else { -(share - true_share).abs() }, t);
        if best.is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
            best = Some(key);
        }
    }
    (best.map_or(0.0, |b| b.2), tried)
}

/// Each conversation's fold: its business's, businesses dealt round-robin in a seeded shuffle.
fn business_folds(conversations: &[&CorpusConversation], folds: usize, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let mut names: Vec<&str> = conversations
        .iter()
        .map(|c| c.business.as_str())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    names.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
    let fold_of: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, &b)| (b, i % folds)).collect();
    conversations.iter().map(|c| fold_of[c.business.as_str()]).collect()
}

/// Out-of-fold readings of one pooling and recipe: the epoch whose out-of-fold macro-F1 (over
/// the conversations the model reads) is best, that score, and each conversation's
/// out-of-fold logits at that epoch (None where there is nothing to read).
struct CrossValidated {
    best_epoch: usize,
    macro_f1: f64,
    logits: Vec<Option<Vec<f32>>>,
}

/// Trains one head per fold on the other folds (plus `always`, rows every fold trains on) and
/// reads the held-out fold after every epoch.
fn cross_validate(
    labels: &[String],
    inputs: &[Option<Vec<f32>>],
    truth: &[usize],
    folds: &[usize],
    always: &EmbeddedSet,
    recipe: Recipe,
) -> Result<CrossValidated> {
    let n = inputs.len();
    let mut per_epoch: Vec<Vec<Option<Vec<f32>>>> = vec![vec![None; n]; recipe.epochs];
    for fold in 0..=folds.iter().copied().max().unwrap_or(0) {
        let mut train_set = EmbeddedSet { name: "train".into(), x: always.x.clone(), y: always.y.clone() };
        let (mut held, mut held_x) = (Vec::new(), Vec::new());
        for (i, v) in inputs.iter().enumerate() {
            let Some(v) = v else { continue };
            if folds[i] == fold {
                held.push(i);
                held_x.push(v.clone());
            } else {
                train_set.x.push(v.clone());
                train_set.y.push(truth[i]);
            }
        }
        train_epochs(labels, &train_set, recipe, |epoch, layers| {
            for (&i, row) in held.iter().zip(logits(layers, &held_x)?) {
                per_epoch[epoch - 1][i] = Some(row);
            }
            Ok(())
        })?;
    }
    best_epoch(labels, inputs.iter().map(Option::is_some).collect(), truth, per_epoch)
}

/// `cross_validate` for the lexical reader (sparse rows, heads::lexical::train_sparse).
fn cross_validate_lexical(
    labels: &[String],
    inputs: &[Option<Sparse>],
    truth: &[usize],
    folds: &[usize],
    always: (&[Sparse], &[usize]),
    recipe: SparseRecipe,
) -> Result<CrossValidated> {
    let n = inputs.len();
    let mut per_epoch: Vec<Vec<Option<Vec<f32>>>> = vec![vec![None; n]; recipe.epochs];
    for fold in 0..=folds.iter().copied().max().unwrap_or(0) {
        let (mut x, mut y) = (always.0.to_vec(), always.1.to_vec());
        let mut held = Vec::new();
        for (i, v) in inputs.iter().enumerate() {
            let Some(v) = v else { continue };
            if folds[i] == fold {
                held.push(i);
            } else {
                x.push(v.clone());
                y.push(truth[i]);
            }
        }
        train_sparse(labels.len(), &x, &y, recipe, |epoch, layer| {
            for &i in &held {
                per_epoch[epoch - 1][i] = Some(layer.logits(inputs[i].as_ref().expect("held rows are read")));
            }
            Ok(())
        })?;
    }
    best_epoch(labels, inputs.iter().map(Option::is_some).collect(), truth, per_epoch)
}

/// The epoch whose out-of-fold macro-F1 over the read conversations is best.
fn best_epoch(
    labels: &[String],
    read: Vec<bool>,
    truth: &[usize],
    mut per_epoch: Vec<Vec<Option<Vec<f32>>>>,
) -> Result<CrossValidated> {
    let read: Vec<usize> = (0..truth.len()).filter(|&i| read[i]).collect();
    let read_truth: Vec<usize> = read.iter().map(|&i| truth[i]).collect();
    let mut best: Option<(usize, f64)> = None;
    for (e, epoch_logits) in per_epoch.iter().enumerate() {
        let pred: Vec<usize> = read.iter().map(|&i| argmax(epoch_logits[i].as_deref().expect("read"))).collect();
        let f1 = evaluate(labels, &read_truth, &pred).macro_f1;
        if best.is_none_or(|(_, b)| f1 > b) {
            best = Some((e + 1, f1));
        }
    }
    let (best_epoch, macro_f1) = best.ok_or_else(|| Error::internal("no epoch trained"))?;
    Ok(CrossValidated { best_epoch, macro_f1, logits: per_epoch.swap_remove(best_epoch - 1) })
}

/// Trains the default conversation-intent head and saves it with its card. Selection is by
/// cross-validation over businesses on the corpus's train and dev splits (INTENT_FOLDS folds,
/// each holding out whole businesses): the pooling with a linear head first, then the recipe
/// and epoch; temperature and the `other` threshold are fitted on the out-of-fold readings;
/// the shipped head is trained on every train and dev conversation.
pub fn train_conversation_intent(
    encoder: &Encoder,
    model_name: &str,
    corpus: &Corpus,
    taxonomy: &Taxonomy,
    out: &Path,
    max_tokens: usize,
    cache: Option<&Path>,
) -> Result<Head> {
    let mut labels: Vec<String> = taxonomy.intent.iter().map(|i| i.name.clone()).collect();
    labels.sort();
    let other = label_of(&labels, "other", "taxonomy")?;
    let convs: Vec<&CorpusConversation> = corpus.conversations.iter().filter(|c| c.split != "test").collect();
    let parts = conversation_intent_parts(encoder, &convs, max_tokens, cache)?;
    let truth: Vec<usize> = parts.iter().map(|(_, l)| label_of(&labels, l, "corpus")).collect::<Result<_>>()?;
    let folds = business_folds(&convs, INTENT_FOLDS, 7);
    let examples = taxonomy.labelled();
    let example_texts: Vec<&str> = examples.iter().map(|r| r.text.as_str()).collect();
    let example_set = EmbeddedSet {
        name: "taxonomy".into(),
        x: embed_cached(encoder, &example_texts, max_tokens, cache)?,
        y: examples.iter().map(|r| label_of(&labels, &r.label, "taxonomy")).collect::<Result<_>>()?,
    };
    let linear = Recipe {
        hidden: 0,
        epochs: 80,
        learning_rate: 1e-2,
        weight_decay: 1e-4,
        batch_size: 32,
        input_dropout: 0.0,
        seed: 7,
    };
    let recipes = [
        linear,
        Recipe { learning_rate: 3e-2, ..linear },
        Recipe { hidden: 512, learning_rate: 1e-3, input_dropout: 0.1, epochs: 60, ..linear },
        Recipe { hidden: 512, learning_rate: 1e-3, input_dropout: 0.3, epochs: 60, ..linear },
    ];

    // 1. The pooling, read by the linear head.
    let mut pooling_tried = Vec::new();
    let mut best_pooling: Option<(IntentPooling, f64)> = None;
    for &message_decay in &MESSAGE_DECAYS {
        for &menu_choice in &MENU_CHOICE_WEIGHTS {
            for &subject in &SUBJECT_WEIGHTS {
                let pooling = IntentPooling { message_decay, menu_choice, subject };
                let cv = cross_validate(&labels, &pooled(&parts, pooling), &truth, &folds, &example_set, linear)?;
                tracing::info!(message_decay, menu_choice, subject, macro_f1 = cv.macro_f1, "pooling tried");
                pooling_tried
                    .push(json!({"pooling": pooling, "cv_macro_f1": cv.macro_f1, "best_epoch": cv.best_epoch}));
                if best_pooling.is_none_or(|(_, f1)| cv.macro_f1 > f1) {
                    best_pooling = Some((pooling, cv.macro_f1));
                }
            }
        }
    }
    let (pooling, _) = best_pooling.expect("a pooling tried");
    let inputs = pooled(&parts, pooling);

    // 2. The recipe and epoch at that pooling.
    let mut recipes_tried = Vec::new();
    let mut best: Option<(Recipe, CrossValidated)> = None;
    for &recipe in &recipes {
        let cv = cross_validate(&labels, &inputs, &truth, &folds, &example_set, recipe)?;
        tracing::info!(hidden = recipe.hidden, macro_f1 = cv.macro_f1, epoch = cv.best_epoch, "recipe tried");
        recipes_tried.push(json!({"recipe": recipe, "cv_macro_f1": cv.macro_f1, "best_epoch": cv.best_epoch}));
        if best.as_ref().is_none_or(|(_, b)| cv.macro_f1 > b.macro_f1) {
            best = Some((recipe, cv));
        }
    }
    let (recipe, cv) = best.expect("a recipe tried");

    // 3. The lexical reader: hashed n-grams of the same texts, a linear layer on the same
    // folds, then its weight in the blend. Idf is fitted on every document (it reads no label).
    let documents: Vec<Option<Sparse>> =
        parts.iter().zip(&inputs).map(|((p, _), v)| v.as_ref().map(|_| term_counts(&p.document))).collect();
    let example_documents: Vec<Sparse> = example_texts.iter().map(|t| term_counts(t)).collect();
    let idf = Idf::fit(&documents.iter().flatten().chain(&example_documents).cloned().collect::<Vec<_>>());
    let lexical_inputs: Vec<Option<Sparse>> = documents.iter().map(|d| d.as_ref().map(|d| idf.weigh(d))).collect();
    let lexical_examples: Vec<Sparse> = example_documents.iter().map(|d| idf.weigh(d)).collect();
    let lexical_base = SparseRecipe { epochs: 30, learning_rate: 0.2, l2: 1e-5, seed: 7 };
    let lexical_recipes =
        [lexical_base, SparseRecipe { l2: 1e-4, ..lexical_base }, SparseRecipe { l2: 3e-4, ..lexical_base }];
    let mut lexical_tried = Vec::new();
    let mut lexical_best: Option<(SparseRecipe, CrossValidated)> = None;
    for &r in &lexical_recipes {
        let lcv =
            cross_validate_lexical(&labels, &lexical_inputs, &truth, &folds, (&lexical_examples, &example_set.y), r)?;
        tracing::info!(l2 = r.l2, macro_f1 = lcv.macro_f1, epoch = lcv.best_epoch, "lexical recipe tried");
        lexical_tried.push(json!({"recipe": r, "cv_macro_f1": lcv.macro_f1, "best_epoch": lcv.best_epoch}));
        if lexical_best.as_ref().is_none_or(|(_, b)| lcv.macro_f1 > b.macro_f1) {
            lexical_best = Some((r, lcv));
        }
    }
    let (lexical_recipe, lexical_cv) = lexical_best.expect("a lexical recipe tried");
    let blended = |w: f64| -> Vec<Option<Vec<f32>>> {
        cv.logits
            .iter()
            .zip(&lexical_cv.logits)
            .map(|(e, l)| Some(lexical::blend(e.as_deref()?, l.as_deref()?, w)))
            .collect()
    };
    let read: Vec<usize> = (0..truth.len()).filter(|&i| cv.logits[i].is_some()).collect();
    let read_truth: Vec<usize> = read.iter().map(|&i| truth[i]).collect();
    let mut blends_tried = Vec::new();
    let mut best_blend: Option<(f64, f64)> = None;
    for &w in &LEXICAL_WEIGHTS {
        let logits = blended(w);
        let pred: Vec<usize> = read.iter().map(|&i| argmax(logits[i].as_deref().expect("read"))).collect();
        let f1 = evaluate(&labels, &read_truth, &pred).macro_f1;
        tracing::info!(lexical_weight = w, macro_f1 = f1, "blend tried");
        blends_tried.push(json!({"lexical_weight": w, "cv_macro_f1": f1}));
        if best_blend.is_none_or(|(_, b)| f1 > b) {
            best_blend = Some((w, f1));
        }
    }
    let (lexical_weight, _) = best_blend.expect("a blend tried");
    let cv_logits = blended(lexical_weight);

    // 4. Temperature and `other` threshold on the out-of-fold readings.
    let (read_logits, read_truth): (Vec<Vec<f32>>, Vec<usize>) =
        cv_logits.iter().zip(&truth).filter_map(|(l, &t)| Some((l.clone()?, t))).unzip();
    let temperature = temperature_for(&read_logits, &read_truth);
    let probs: Vec<Option<Vec<f32>>> =
        cv_logits.iter().map(|l| l.as_deref().map(|l| softmax(l, temperature))).collect();
    let (min_confidence, thresholds) = pick_other_threshold(&probs, &truth, other);
    let cv_metrics = evaluate(&labels, &truth, &predict_intents(&probs, other, min_confidence));

    // 5. The shipped heads: every train and dev conversation, the chosen epoch counts.
    let mut all = EmbeddedSet { name: "train".into(), x: example_set.x.clone(), y: example_set.y.clone() };
    for (v, &t) in inputs.iter().zip(&truth) {
        if let Some(v) = v {
            all.x.push(v.clone());
            all.y.push(t);
        }
    }
    let chosen = Recipe { epochs: cv.best_epoch, ..recipe };
    let layers = train_epochs(&labels, &all, chosen, |_, _| Ok(()))?;
    let lexical_chosen = SparseRecipe { epochs: lexical_cv.best_epoch, ..lexical_recipe };
    let lexical_head = if lexical_weight > 0.0 {
        let (mut x, mut y) = (lexical_examples, example_set.y.clone());
        for (v, &t) in lexical_inputs.into_iter().zip(&truth) {
            if let Some(v) = v {
                x.push(v);
                y.push(t);
            }
        }
        Some(LexicalHead::new(idf, train_sparse(labels.len(), &x, &y, lexical_chosen, |_, _| Ok(()))?))
    } else {
        None
    };
    let mut validation = std::collections::HashMap::new();
    validation.insert("corpus_cv".to_string(), cv_metrics);
    let splits: std::collections::BTreeSet<&str> = convs.iter().map(|c| c.split.as_str()).collect();
    let card = HeadCard {
        task: "intent".into(),
        labels,
        encoder: model_name.to_string(),
        max_tokens,
        recipe: json!({
            "input": "per conversation: the L2-normalised 1/(i+1)^message_decay-weighted mean of the embeddings of its substantive customer messages that no context rule decided, plus menu_choice_weight times the normalised mean of the menu options the customer picked, plus subject_weight times the e-mail subject's embedding (heads::intent::IntentPooling)",
            "chosen": chosen,
            "best_epoch": cv.best_epoch,
            "selection": format!("{INTENT_FOLDS}-fold cross-validation over businesses (each fold holds out whole businesses) on the corpus's {splits:?} splits: the pooling by the linear head's out-of-fold macro-F1, then recipe and epoch by out-of-fold macro-F1; temperature by out-of-fold NLL; `other` threshold: best out-of-fold accuracy with the predicted other share within 5 points of the true share; the shipped head trains on every one of those conversations for the chosen epochs"),
            "tried": recipes_tried,
            "pooling_tried": pooling_tried,
            "other_thresholds_tried": thresholds,
            "lexical": {
                "input": "the same texts as one document: hashed (2^16) character 2-5-grams inside words plus words and word pairs, sublinear TF-IDF, L2-normalised (heads::lexical); idf over every train and dev document",
                "chosen": lexical_chosen,
                "tried": lexical_tried,
                "blend": "softmax(((1 - w) log p_embedding + w log p_lexical) / temperature)",
                "blends_tried": blends_tried,
            },
        }),
        training_data: vec![
            format!(
                "data/corpus {}: {} conversations read by the model ({} businesses)",
                splits.into_iter().collect::<Vec<_>>().join(" + "),
                all.y.len() - example_set.y.len(),
                businesses(&convs)
            ),
            format!("data/taxonomy/intents.toml: {} examples", examples.len()),
        ],
        validation,
        command: format!("convoqa train intent --corpus {} --out {}", corpus.dir.display(), out.display()),
        out_of_scope: Some(OutOfScope { label: "other".into(), min_confidence }),
        temperature,
        menu_choice_weight: pooling.menu_choice,
        subject_weight: pooling.subject,
        message_decay: pooling.message_decay,
        lexical_weight,
        encoder_adapter: None,
    };
    let head = Head::new(card, layers);
    head.save(out)?;
    lexical::save_beside(lexical_head.as_ref(), out)?;
    Ok(head)
}

fn businesses(convs: &[&CorpusConversation]) -> usize {
    convs.iter().map(|c| c.business.as_str()).collect::<std::collections::BTreeSet<_>>().len()
}

/// A split's customer messages that the model reads, embedded, with their labels.
pub fn corpus_sentiment_set(
    encoder: &Encoder,
    corpus: &Corpus,
    split: &str,
    labels: &[String],
    max_tokens: usize,
    cache: Option<&Path>,
) -> Result<EmbeddedSet> {
    let ReadSet { x, y, .. } = ReadSet::embedded(
        &format!("corpus_{split}"),
        corpus_sentiment_rows(corpus, split, labels)?,
        encoder,
        max_tokens,
        cache,
    )?;
    Ok(EmbeddedSet { name: format!("corpus_{split}"), x, y })
}

/// Trains the sentiment head on SmSA + NusaX + the corpus's train messages (+ the written
/// tweets of `tweets_dir`); the corpus rows' and the tweets' weights (repetitions) and the recipe
/// are chosen on the validation splits: SmSA and NusaX valid, the corpus dev split (+ the real
/// tweets' dev split).
pub fn train_sentiment_with_corpus(
    encoder: &Encoder,
    model_name: &str,
    data_dir: &Path,
    corpus: &Corpus,
    tweets_dir: Option<&Path>,
    out: &Path,
    max_tokens: usize,
    cache: Option<&Path>,
) -> Result<Head> {
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let PublicSets { train: public, mut training_data, mut valid } =
        public_sets(encoder, data_dir, &labels, max_tokens, cache)?;
    let corpus_train = corpus_sentiment_set(encoder, corpus, "train", &labels, max_tokens, cache)?;
    training_data.push(format!("data/corpus train split: {} customer messages the model reads", corpus_train.y.len()));
    valid.push(corpus_sentiment_set(encoder, corpus, "dev", &labels, max_tokens, cache)?);
    let mut written = ReadSet { name: "written_tweets".into(), texts: vec![], x: vec![], y: vec![] };
    if let Some(dir) = tweets_dir {
        let t = tweet_sets(dir, data_dir, &labels)?;
        training_data.extend(t.described.iter().cloned());
        written = ReadSet::embedded("written_tweets", t.written, encoder, max_tokens, cache)?;
        let dev = ReadSet::embedded("twitter_dev", t.twitter_dev, encoder, max_tokens, cache)?;
        valid.push(EmbeddedSet { name: dev.name, x: dev.x, y: dev.y });
    }
    let base = crate::heads::sentiment::BASE_RECIPE;
    let candidates = [
        Recipe { hidden: 256, learning_rate: 1e-3, input_dropout: 0.1, ..base },
        Recipe { hidden: 512, learning_rate: 1e-3, input_dropout: 0.2, ..base },
    ];
    let mut best: Option<(f64, (usize, usize), Recipe, crate::heads::train::Trained, Vec<serde_json::Value>)> = None;
    let mut weights_tried = Vec::new();
    for (repeats, tweet_repeat) in weightings(tweets_dir.is_some()) {
        let (x, y) = weighted_rows(
            (&public.x, &public.y),
            &[(&corpus_train.x, &corpus_train.y, repeats), (&written.x, &written.y, tweet_repeat)],
        );
        let train_set = EmbeddedSet { name: "train".into(), x, y };
        let (recipe, trained, tried) = train_best(&labels, &train_set, &valid, &candidates)?;
        tracing::info!(repeats, tweet_repeat, score = trained.score, "corpus weight tried");
        weights_tried.push(json!({"corpus_repeats": repeats, "tweet_repeats": tweets_dir.is_some().then_some(tweet_repeat), "validation_score": trained.score}));
        if best.as_ref().is_none_or(|b| trained.score > b.0) {
            best = Some((trained.score, (repeats, tweet_repeat), recipe, trained, tried));
        }
    }
    let (_, (repeats, tweet_repeat), recipe, trained, tried) = best.expect("a weight tried");
    let card = HeadCard {
        task: "sentiment".into(),
        labels,
        encoder: model_name.to_string(),
        max_tokens,
        recipe: json!({
            "chosen": recipe,
            "corpus_repeats": repeats,
            "tweet_repeats": tweets_dir.is_some().then_some(tweet_repeat),
            "best_epoch": trained.best_epoch,
            "selection": format!(
                "mean macro-F1 over SmSA valid, NusaX id/en valid and the corpus dev split (unseen businesses){}; class-weighted cross-entropy; AdamW on frozen `query: ` embeddings; menu choices, ratings, media, ids and lone emoji are decided by context rules and neither train nor score the head",
                if tweets_dir.is_some() { " and the real tweets' dev split" } else { "" }
            ),
            "tried": tried,
            "corpus_weights_tried": weights_tried,
        }),
        training_data,
        validation: trained.validation.into_iter().collect(),
        command: format!(
            "convoqa train sentiment --data-dir {} --corpus {}{} --out {}",
            data_dir.display(),
            corpus.dir.display(),
            tweets_dir.map(|d| format!(" --tweets {}", d.display())).unwrap_or_default(),
            out.display()
        ),
        out_of_scope: None,
        temperature: 1.0,
        menu_choice_weight: 0.0,
        subject_weight: 0.0,
        message_decay: crate::heads::intent::DEFAULT_MESSAGE_DECAY,
        lexical_weight: 0.0,
        encoder_adapter: None,
    };
    let head = Head::new(card, trained.layers);
    head.save(out)?;
    // A new head voids a lexical reader blended with the old one (`--lexical-only` trains one).
    lexical::save_beside(None, out)?;
    Ok(head)
}

/// How many times the corpus's train messages repeat among the sentiment head's and its lexical
/// reader's training rows (their weight against SmSA and NusaX).
const CORPUS_REPEATS: [usize; 3] = [1, 4, 8];

/// How many times the written tweets (data/tweets/written.tsv) repeat among the training rows,
/// for the head and its lexical reader.
const TWEET_REPEATS: [usize; 3] = [1, 4, 8];

/// The (corpus, written tweets) repetitions a sentiment trainer tries, corpus-major; without
/// tweets, the corpus's alone.
fn weightings(with_tweets: bool) -> Vec<(usize, usize)> {
    let tweets: &[usize] = if with_tweets { &TWEET_REPEATS } else { &[0] };
    CORPUS_REPEATS.iter().flat_map(|&c| tweets.iter().map(move |&t| (c, t))).collect()
}

/// Training rows: `base`, then each part's rows repeated its number of times.
fn weighted_rows<X: Clone>(base: (&[X], &[usize]), parts: &[(&[X], &[usize], usize)]) -> (Vec<X>, Vec<usize>) {
    let (mut x, mut y) = (base.0.to_vec(), base.1.to_vec());
    for &(part_x, part_y, times) in parts {
        for _ in 0..times {
            x.extend_from_slice(part_x);
            y.extend_from_slice(part_y);
        }
    }
    (x, y)
}

/// A labelled text set read both ways: embedded for the head, raw for the lexical reader.
struct ReadSet {
    name: String,
    texts: Vec<String>,
    x: Vec<Vec<f32>>,
    y: Vec<usize>,
}

impl ReadSet {
    fn embedded(
        name: &str,
        rows: Vec<(String, usize)>,
        encoder: &Encoder,
        max_tokens: usize,
        cache: Option<&Path>,
    ) -> Result<ReadSet> {
        let (texts, y): (Vec<String>, Vec<usize>) = rows.into_iter().unzip();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let x = embed_cached(encoder, &refs, max_tokens, cache)?;
        Ok(ReadSet { name: name.to_string(), texts, x, y })
    }

    /// Macro-F1 of a head's embedding logits blended with lexical logits at `weight`.
    fn blended_macro_f1(&self, labels: &[String], head_logits: &[Vec<f32>], lexical: &[Vec<f32>], weight: f64) -> f64 {
        let pred: Vec<usize> =
            head_logits.iter().zip(lexical).map(|(e, l)| argmax(&lexical::blend(e, l, weight))).collect();
        evaluate(labels, &self.y, &pred).macro_f1
    }
}

/// Labelled rows of a SmSA / NusaX file, labels as indices.
fn labelled_rows(path: &Path, labels: &[String]) -> Result<Vec<(String, usize)>> {
    let rows = crate::heads::data::load(path)?;
    let y = crate::heads::sentiment::label_index(labels, &rows, path)?;
    Ok(rows.into_iter().map(|r| r.text).zip(y).collect())
}

/// The customer messages of a corpus split that the sentiment head reads, as inference keys.
pub fn corpus_sentiment_rows(corpus: &Corpus, split: &str, labels: &[String]) -> Result<Vec<(String, usize)>> {
    let mut rows = Vec::new();
    for c in corpus.split(split) {
        for (text, label) in c.model_sentiment_rows()? {
            rows.push((crate::text::inference_key(&text), label_of(labels, &label, "corpus")?));
        }
    }
    Ok(rows)
}

/// Trains a lexical reader (hashed n-grams under a linear layer, as the intent head's) for the
/// sentiment head in `head_dir` and picks its blend weight; the embedding head is kept as it
/// is (it lost on dev at every retrain since stop 20). Rows: SmSA train, NusaX id/en train, the
/// corpus's train messages (repeated 1, 4 or 8 times) and, with `tweets_dir`, the written tweets
/// (repeated 1, 4 or 8 times). Recipe, epoch, repeats and weight (0 = the head alone, which wins
/// ties) are chosen by the rule that chose the head: the mean macro-F1 over SmSA valid, NusaX
/// id/en valid and the corpus dev split, and with `tweets_dir` the real tweets' dev split. The
/// card's validation figures become the blend's, on exactly those splits.
pub fn train_sentiment_lexical(
    encoder: &Encoder,
    data_dir: &Path,
    corpus: &Corpus,
    tweets_dir: Option<&Path>,
    head_dir: &Path,
    cache: Option<&Path>,
) -> Result<Head> {
    let mut head = Head::load(head_dir)?;
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    if head.card.labels != labels {
        return Err(Error::input(
            head_dir,
            format!("a sentiment head has the labels {labels:?}; this one has {:?}", head.card.labels),
            "point --out at a sentiment head",
        ));
    }
    // The reader is chosen on the head's readings, so they must be the ones analyze computes.
    crate::enrich::check_head_fits(&head, head_dir, encoder)?;
    // The head's own token limit, whatever --max-tokens says: it reads texts as analyze will.
    let max_tokens = head.card.max_tokens;
    let data = crate::heads::sentiment::SentimentData::under(data_dir);
    let (mut public_train, mut training_data) = (Vec::new(), Vec::new());
    for (name, path) in &data.train {
        let rows = labelled_rows(path, &labels)?;
        training_data.push(format!("{name}: {} ({} rows)", path.display(), rows.len()));
        public_train.extend(rows);
    }
    let corpus_train = corpus_sentiment_rows(corpus, "train", &labels)?;
    training_data.push(format!("data/corpus train split: {} customer messages the model reads", corpus_train.len()));
    let tweets = tweets_dir.map(|dir| tweet_sets(dir, data_dir, &labels)).transpose()?;
    // Selected by the rule that chose the head: SmSA valid, NusaX id/en valid, corpus dev (and
    // the real tweets' dev split, with --tweets).
    let mut selection = Vec::new();
    for (name, path) in &data.valid {
        selection.push(ReadSet::embedded(name, labelled_rows(path, &labels)?, encoder, max_tokens, cache)?);
    }
    selection.push(ReadSet::embedded(
        "corpus_dev",
        corpus_sentiment_rows(corpus, "dev", &labels)?,
        encoder,
        max_tokens,
        cache,
    )?);
    if let Some(t) = &tweets {
        training_data.extend(t.described.iter().cloned());
        selection.push(ReadSet::embedded("twitter_dev", t.twitter_dev.clone(), encoder, max_tokens, cache)?);
    }
    let written = tweets.as_ref().map(|t| t.written.clone()).unwrap_or_default();
    let head_logits: Vec<Vec<Vec<f32>>> =
        selection.iter().map(|s| Ok(head.raw_logits(&s.x)?)).collect::<Result<_>>()?;

    let idf = Idf::fit(
        &public_train.iter().chain(&corpus_train).chain(&written).map(|(t, _)| term_counts(t)).collect::<Vec<_>>(),
    );
    let weigh =
        |rows: &[(String, usize)]| -> Vec<Sparse> { rows.iter().map(|(t, _)| idf.weigh(&term_counts(t))).collect() };
    let (public_x, corpus_x, written_x) = (weigh(&public_train), weigh(&corpus_train), weigh(&written));
    let labels_of = |rows: &[(String, usize)]| -> Vec<usize> { rows.iter().map(|(_, l)| *l).collect() };
    let (public_y, corpus_y, written_y) = (labels_of(&public_train), labels_of(&corpus_train), labels_of(&written));
    let selection_x: Vec<Vec<Sparse>> =
        selection.iter().map(|s| s.texts.iter().map(|t| idf.weigh(&term_counts(t))).collect()).collect();
    let score = |lexical: &[Vec<Vec<f32>>], weight: f64| -> f64 {
        selection
            .iter()
            .zip(&head_logits)
            .zip(lexical)
            .map(|((s, h), l)| s.blended_macro_f1(&labels, h, l, weight))
            .sum::<f64>()
            / selection.len() as f64
    };
    let head_alone = score(&head_logits, 0.0);
    tracing::info!(score = head_alone, "the head alone");

    let base = SparseRecipe { epochs: 20, learning_rate: 0.2, l2: 1e-5, seed: 7 };
    let recipes = [base, SparseRecipe { l2: 1e-4, ..base }];
    let mut tried = Vec::new();
    let mut best_by_weight = [f64::NEG_INFINITY; LEXICAL_WEIGHTS.len()];
    let mut best_here: Option<(f64, usize, f64)> = None;
    // (score, weight, corpus repeats, tweet repeats, recipe at its epoch, layer)
    let mut best: Option<(f64, f64, usize, usize, SparseRecipe, SparseLinear)> = None;
    for (repeats, tweet_repeat) in weightings(tweets.is_some()) {
        let (x, y) = weighted_rows(
            (&public_x, &public_y),
            &[(&corpus_x, &corpus_y, repeats), (&written_x, &written_y, tweet_repeat)],
        );
        for &recipe in &recipes {
            train_sparse(labels.len(), &x, &y, recipe, |epoch, layer| {
                let lexical: Vec<Vec<Vec<f32>>> =
                    selection_x.iter().map(|xs| xs.iter().map(|v| layer.logits(v)).collect()).collect();
                for (k, &weight) in LEXICAL_WEIGHTS.iter().enumerate() {
                    let s = score(&lexical, weight);
                    best_by_weight[k] = best_by_weight[k].max(s);
                    if best_here.is_none_or(|(b, _, _)| s > b) {
                        best_here = Some((s, epoch, weight));
                    }
                    if best.as_ref().is_none_or(|b| s > b.0) {
                        let at_epoch = SparseRecipe { epochs: epoch, ..recipe };
                        best = Some((s, weight, repeats, tweet_repeat, at_epoch, layer.clone()));
                    }
                }
                Ok(())
            })?;
            let (s, epoch, weight) = best_here.take().expect("an epoch scored");
            tracing::info!(repeats, tweet_repeat, l2 = recipe.l2, epoch, weight, score = s, "lexical recipe tried");
            tried.push(json!({"corpus_repeats": repeats, "tweet_repeats": tweets.is_some().then_some(tweet_repeat), "l2": recipe.l2, "best_epoch": epoch, "lexical_weight": weight, "selection_score": s}));
        }
    }
    let (selection_score, weight, repeats, tweet_repeat, recipe, layer) = best.expect("a blend tried");
    tracing::info!(selection_score, head_alone, weight, repeats, tweet_repeat, "lexical reader chosen");
    lexical::save_beside((weight > 0.0).then(|| LexicalHead::new(idf, layer)).as_ref(), head_dir)?;
    head.card.lexical_weight = weight;
    // Read back as analyze will (the file holds f16 weights), so the card's figures are the file's.
    let reader = lexical::load_for(&head, head_dir)?;
    // At weight 0 no reader ships, so none is described.
    let shipped = weight > 0.0;
    head.card.recipe["lexical"] = json!({
        "chosen": shipped.then_some(recipe),
        "corpus_repeats": shipped.then_some(repeats),
        "tweet_repeats": (shipped && tweets.is_some()).then_some(tweet_repeat),
        "lexical_weight": weight,
        "selection_score": selection_score,
        "head_alone_selection_score": head_alone,
        "selection": if tweets.is_some() {
            "mean macro-F1 over SmSA valid, NusaX id/en valid, the corpus dev split and the real tweets' dev split (the head's own rule); the head alone (weight 0) wins ties"
        } else {
            "mean macro-F1 over SmSA valid, NusaX id/en valid and the corpus dev split (the head's own rule); the head alone (weight 0) wins ties"
        },
        "training_data": training_data,
        "command": format!(
            "convoqa train sentiment --lexical-only --data-dir {} --corpus {}{} --out {}",
            data_dir.display(),
            corpus.dir.display(),
            tweets_dir.map(|d| format!(" --tweets {}", d.display())).unwrap_or_default(),
            head_dir.display()
        ),
        "tried": tried,
        "best_score_by_weight": LEXICAL_WEIGHTS.iter().zip(best_by_weight).map(|(w, s)| json!({"lexical_weight": w, "selection_score": s})).collect::<Vec<_>>(),
    });
    // The card reports what analyze runs: the blend, on the same splits (and only those: a
    // figure of a split this selection did not read would describe another reader).
    head.card.validation.retain(|name, _| selection.iter().any(|s| s.name == *name));
    for set in &selection {
        let documents: Vec<&str> = set.texts.iter().map(String::as_str).collect();
        let probs = lexical::blended_proba(&head, reader.as_ref(), &set.x, &documents)?;
        let pred: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
        head.card.validation.insert(set.name.clone(), evaluate(&labels, &set.y, &pred));
    }
    head.save(head_dir)?;
    Ok(head)
}

/// Metrics of the shipped path on one corpus split, overall and by language and channel.
#[derive(Debug, Serialize)]
pub struct CorpusReport {
    pub split: String,
    pub conversations: usize,
    pub sentiment: Metrics,
    pub sentiment_by_language: BTreeMap<String, Metrics>,
    pub sentiment_by_channel: BTreeMap<String, Metrics>,
    /// Messages decided by a context rule, and how many of them agree with the label.
    pub rule_decided: usize,
    pub rule_agreeing: usize,
    pub intent: Metrics,
    pub intent_by_language: BTreeMap<String, Metrics>,
    pub intent_by_channel: BTreeMap<String, Metrics>,
    pub other_share_true: f64,
    pub other_share_predicted: f64,
    /// Per-message intent readings against labels/message_intent, where the split has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_intent: Option<MessageIntentReport>,
}

/// Per-message intent (`enrich::message_intents`, not written by analyze) against the corpus's
/// per-message labels.
#[derive(Debug, Serialize)]
pub struct MessageIntentReport {
    /// Customer messages labelled with a need (an intent, not null).
    pub labelled: usize,
    /// Of those, the ones the model reads (it reads no rule-decided or filler message).
    pub read: usize,
    /// On the labelled messages read: each message read alone.
    pub own_reading: Metrics,
    /// Blended with its conversation's reading at `MESSAGE_CONVERSATION_WEIGHT`.
    pub blended: Metrics,
    /// The baseline a per-message column must beat: the conversation's intent copied to each
    /// of its messages.
    pub conversation_intent_copied: Metrics,
    /// Messages the model reads that the labeller found no need in (null).
    pub read_without_need: usize,
}

/// The conversation's weight in a message's intent for `eval-readings`: picked among 0, 0.25,
/// 0.5, 0.75 and 1 on the eighth test split's per-message labels with stop 24's intent head,
/// which never trained on it (accuracy 0.685 / 0.766 / 0.825 / 0.859 / 0.856).
pub const MESSAGE_CONVERSATION_WEIGHT: f64 = 0.75;

fn grouped(labels: &[String], rows: &[(String, usize, usize)]) -> BTreeMap<String, Metrics> {
    let mut groups: BTreeMap<String, (Vec<usize>, Vec<usize>)> = BTreeMap::new();
    for (g, t, p) in rows {
        let e = groups.entry(g.clone()).or_default();
        e.0.push(*t);
        e.1.push(*p);
    }
    groups.into_iter().map(|(g, (t, p))| (g, evaluate(labels, &t, &p))).collect()
}

/// Per-message intent against labels/message_intent, on the conversations that have them (None
/// without any).
fn message_intent_report(
    convs: &[&CorpusConversation],
    assembled: &[crate::model::Conversation],
    enrichment: &crate::enrich::Enrichment,
    model: &LanguageModel,
) -> Result<Option<MessageIntentReport>> {
    if convs.iter().all(|c| c.message_intents.is_none()) {
        return Ok(None);
    }
    let i_labels = &model.intent.card.labels;
    let own_reading = crate::enrich::message_intents(assembled, enrichment, model, 0.0)?;
    let blended = crate::enrich::message_intents(assembled, enrichment, model, MESSAGE_CONVERSATION_WEIGHT)?;
    let (mut mi_truth, mut mi_own, mut mi_blended, mut mi_copied) = (vec![], vec![], vec![], vec![]);
    let (mut mi_labelled, mut mi_without_need) = (0, 0);
    for (((c, intent), own), blend) in convs.iter().zip(&enrichment.intent).zip(&own_reading).zip(&blended) {
        let Some(labels) = &c.message_intents else { continue };
        let read = c.messages.iter().zip(own.iter().zip(blend)).filter(|(m, _)| m.role == "customer").map(|(_, r)| r);
        for (label, (own, blend)) in labels.iter().zip(read) {
            mi_labelled += usize::from(label.is_some());
            match (label, own, blend) {
                (Some(label), Some(own), Some(blend)) => {
                    mi_truth.push(label_of(i_labels, label, "message intent labels")?);
                    mi_own.push(label_of(i_labels, &own.intent, "prediction")?);
                    mi_blended.push(label_of(i_labels, &blend.intent, "prediction")?);
                    mi_copied.push(label_of(i_labels, &intent.intent, "prediction")?);
                }
                (None, Some(_), _) => mi_without_need += 1,
                _ => {}
            }
        }
    }
    Ok((mi_labelled > 0).then(|| MessageIntentReport {
        labelled: mi_labelled,
        read: mi_truth.len(),
        own_reading: evaluate(i_labels, &mi_truth, &mi_own),
        blended: evaluate(i_labels, &mi_truth, &mi_blended),
        conversation_intent_copied: evaluate(i_labels, &mi_truth, &mi_copied),
        read_without_need: mi_without_need,
    }))
}

/// Runs context rules and the model exactly as `analyze` does (`enrich::enrich`) on a split.
pub fn evaluate_corpus(model: &LanguageModel, corpus: &Corpus, split: &str) -> Result<CorpusReport> {
    let convs: Vec<&CorpusConversation> = corpus.split(split).collect();
    let assembled: Vec<crate::model::Conversation> =
        convs.iter().map(|c| c.to_conversation()).collect::<convoqa_ml::error::Result<_>>()?;
    let enrichment = crate::enrich::enrich(&assembled, model)?;
    let s_labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let i_labels = model.intent.card.labels.clone();
    let (mut s_lang, mut s_chan, mut i_lang, mut i_chan) = (vec![], vec![], vec![], vec![]);
    let (mut rule_decided, mut rule_agreeing) = (0, 0);
    for ((c, sent), intent) in convs.iter().zip(&enrichment.sentiment).zip(&enrichment.intent) {
        for (m, s) in c.messages.iter().zip(sent) {
            let (Some(label), Some(s)) = (&m.sentiment, s) else { continue };
            let t = label_of(&s_labels, label, "corpus")?;
            let p = label_of(&s_labels, s.label, "prediction")?;
            if s.source != crate::enrich::MessageSentiment::MODEL {
                rule_decided += 1;
                rule_agreeing += usize::from(t == p);
            }
            s_lang.push((c.language.clone(), t, p));
            s_chan.push((c.channel.clone(), t, p));
        }
        let t = label_of(&i_labels, &c.intent, "corpus")?;
        let p = label_of(&i_labels, &intent.intent, "prediction")?;
        i_lang.push((c.language.clone(), t, p));
        i_chan.push((c.channel.clone(), t, p));
    }
    let all = |rows: &[(String, usize, usize)], labels: &[String]| {
        evaluate(labels, &rows.iter().map(|r| r.1).collect::<Vec<_>>(), &rows.iter().map(|r| r.2).collect::<Vec<_>>())
    };
    let other = label_of(&i_labels, "other", "intent head")?;
    let n = i_lang.len().max(1) as f64;
    Ok(CorpusReport {
        split: split.to_string(),
        conversations: convs.len(),
        sentiment: all(&s_lang, &s_labels),
        sentiment_by_language: grouped(&s_labels, &s_lang),
        sentiment_by_channel: grouped(&s_labels, &s_chan),
        rule_decided,
        rule_agreeing,
        intent: all(&i_lang, &i_labels),
        intent_by_language: grouped(&i_labels, &i_lang),
        intent_by_channel: grouped(&i_labels, &i_chan),
        other_share_true: i_lang.iter().filter(|r| r.1 == other).count() as f64 / n,
        other_share_predicted: i_lang.iter().filter(|r| r.2 == other).count() as f64 / n,
        message_intent: message_intent_report(&convs, &assembled, &enrichment, model)?,
    })
}

/// The real tweets: IBM's Twitter customer-care dialogs with our labels (data/eval's test
/// dialogs, data/tweets' dev dialogs).
#[derive(Debug, Serialize)]
pub struct TwitterReport {
    pub dialogs: usize,
    pub sentiment: Metrics,
    /// Dialogs whose need fits the taxonomy (`none` labels left out); only the test dialogs
    /// have intent labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub intent: Option<Metrics>,
}

/// The labels of the real tweets of a corpus split's role: `test` (dialogs 0-359, sentiment and
/// intent) or `dev` (dialogs 360-524, sentiment), relative to the project's root.
pub fn twitter_labels(split: &str) -> Option<(std::path::PathBuf, Option<std::path::PathBuf>)> {
    match split {
        "test" => {
            Some(("data/eval/twitter_care_messages.tsv".into(), Some("data/eval/twitter_care_intents.tsv".into())))
        }
        "dev" => Some(("data/tweets/twitter_dev_messages.tsv".into(), None)),
        _ => None,
    }
}

fn read_tsv(path: &Path) -> Result<Vec<Vec<String>>> {
    Ok(read_tsv_lines(path)?.into_iter().map(|(_, row)| row).collect())
}

/// The rows of a labels TSV (comment lines and the header skipped) with their 1-based line
/// numbers, for errors that say where.
fn read_tsv_lines(path: &Path) -> Result<Vec<(usize, Vec<String>)>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::input(path, format!("cannot read ({e})"), "give a labels file from data/eval or data/tweets")
    })?;
    Ok(text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
        .skip(1)
        .map(|(i, l)| (i + 1, l.split('\t').map(str::to_string).collect()))
        .collect())
}

/// A sentiment label of a labels file, as an index; a label outside `labels` is the file's error.
fn file_label(labels: &[String], name: &str, path: &Path, at: &str) -> Result<usize> {
    labels.iter().position(|l| l == name).ok_or_else(|| {
        Error::input(
            path,
            format!("{at}: label {name:?} is not one of {labels:?}"),
            "write negative, neutral or positive",
        )
    })
}

const TWITTER_DEV_JSON_FIX: &str = "give IBM's twitter-customer-care/dev.json (eval-readings --twitter), or a \
     --data-dir holding conversations/twitter-customer-care/dev.json (train sentiment --tweets)";

/// Reads IBM's Twitter customer-care `dev.json`: its list of dialogs.
fn read_twitter_dialogs(dev_json: &Path) -> Result<Vec<serde_json::Value>> {
    let text = std::fs::read_to_string(dev_json)
        .map_err(|e| Error::input(dev_json, format!("cannot read ({e})"), TWITTER_DEV_JSON_FIX))?;
    serde_json::from_str(&text).map_err(|e| Error::input(dev_json, format!("not JSON: {e}"), TWITTER_DEV_JSON_FIX))
}

/// Message labels of a Twitter labels file (dialog TAB turn TAB sentiment).
fn twitter_message_labels(messages_tsv: &Path) -> Result<BTreeMap<(usize, usize), String>> {
    read_tsv_lines(messages_tsv)?
        .into_iter()
        .map(|(line, r)| {
            let parsed = (|| Some(((r.first()?.parse().ok()?, r.get(1)?.parse().ok()?), r.get(2)?.clone())))();
            parsed.ok_or_else(|| {
                Error::input(
                    messages_tsv,
                    format!("line {line} is not dialog TAB turn TAB sentiment"),
                    "write the dialog's and the turn's index (numbers) and the label",
                )
            })
        })
        .collect()
}

/// Dialog `d` of `dialogs` as a corpus conversation: customer tweets as customer messages
/// (labelled where `message_labels` has their turn), company tweets as agent messages, in order.
fn twitter_conversation(
    dialogs: &[serde_json::Value],
    d: usize,
    intent: &str,
    message_labels: &BTreeMap<(usize, usize), String>,
    labels_file: &Path,
    dev_json: &Path,
) -> Result<CorpusConversation> {
    let dialog = dialogs.get(d).ok_or_else(|| {
        Error::input(
            labels_file,
            format!("dialog {d} is not in {}", dev_json.display()),
            "use the labels made for this file",
        )
    })?;
    let content = dialog["dialogContent"].as_array().cloned().unwrap_or_default();
    // A label must name a customer tweet of the dialog: one that names anything else is lost.
    for &(_, turn) in message_labels.range((d, 0)..=(d, usize::MAX)).map(|(k, _)| k) {
        if content.get(turn).is_none_or(|m| m.get("agent").is_some()) {
            return Err(Error::input(
                labels_file,
                format!("dialog {d} turn {turn} is not a customer tweet of {}", dev_json.display()),
                "label the customer turns (dialogContent entries without an \"agent\" key) of this file's dialogs",
            ));
        }
    }
    let messages: Vec<crate::heads::corpus::CorpusMessage> = content
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let agent = m.get("agent").is_some();
            crate::heads::corpus::CorpusMessage {
                t: i as f64 * 60.0,
                role: if agent { "agent".into() } else { "customer".into() },
                text: m["message"].as_str().unwrap_or("").to_string(),
                agent_id: agent.then(|| "agent".to_string()),
                sentiment: if agent { None } else { message_labels.get(&(d, i)).cloned() },
            }
        })
        .collect();
    Ok(CorpusConversation {
        conversation_id: format!("twitter-{d}"),
        business: "twitter".into(),
        channel: "twitter".into(),
        language: "en".into(),
        customer_id: format!("twitter-{d}"),
        created_at: "2020-01-01T00:00:00+00:00".into(),
        subject: None,
        status: "closed".into(),
        intent: intent.to_string(),
        solved: false,
        reopens: None,
        expect_low_csat: false,
        csat_score: None,
        messages,
        split: "twitter".into(),
        resolution: None,
        message_intents: None,
    })
}

/// Runs the shipped path on the labelled dialogs of `dev_json` (customer tweets as customer
/// messages, company tweets as agent messages, in order).
pub fn evaluate_twitter(
    model: &LanguageModel,
    dev_json: &Path,
    messages_tsv: &Path,
    intents_tsv: Option<&Path>,
) -> Result<TwitterReport> {
    let dialogs = read_twitter_dialogs(dev_json)?;
    let message_labels = twitter_message_labels(messages_tsv)?;
    // Without intent labels every dialog with a labelled message is read, its intent unknown.
    let intent_labels: BTreeMap<usize, String> = match intents_tsv {
        Some(path) => {
            read_tsv(path)?.into_iter().filter_map(|r| Some((r.first()?.parse().ok()?, r.get(1)?.clone()))).collect()
        }
        None => message_labels.keys().map(|(d, _)| (*d, "none".to_string())).collect(),
    };
    let labels_file = intents_tsv.unwrap_or(messages_tsv);
    let conversations: Vec<CorpusConversation> = intent_labels
        .iter()
        .map(|(&d, intent)| twitter_conversation(&dialogs, d, intent, &message_labels, labels_file, dev_json))
        .collect::<Result<_>>()?;
    let assembled: Vec<crate::model::Conversation> =
        conversations.iter().map(|c| c.to_conversation()).collect::<convoqa_ml::error::Result<_>>()?;
    let enrichment = crate::enrich::enrich(&assembled, model)?;
    let s_labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let i_labels = model.intent.card.labels.clone();
    let (mut st, mut sp, mut it, mut ip) = (vec![], vec![], vec![], vec![]);
    for (c, (sent, intent)) in conversations.iter().zip(enrichment.sentiment.iter().zip(&enrichment.intent)) {
        for (m, s) in c.messages.iter().zip(sent) {
            if let (Some(label), Some(s)) = (&m.sentiment, s) {
                st.push(label_of(&s_labels, label, "twitter labels")?);
                sp.push(label_of(&s_labels, s.label, "prediction")?);
            }
        }
        if c.intent != "none" {
            it.push(label_of(&i_labels, &c.intent, "twitter intents")?);
            ip.push(label_of(&i_labels, &intent.intent, "prediction")?);
        }
    }
    Ok(TwitterReport {
        dialogs: conversations.len(),
        sentiment: evaluate(&s_labels, &st, &sp),
        intent: intents_tsv.map(|_| evaluate(&i_labels, &it, &ip)),
    })
}

/// Where IBM's Twitter customer-care dialogs sit under the shared data folder.
pub fn twitter_dev_json(data_dir: &Path) -> std::path::PathBuf {
    data_dir.join("conversations/twitter-customer-care/dev.json")
}

/// A selection split scores only the classes it has at least this many rows of: the real
/// tweets hold a handful of positives, whose F1 would swing the mean by itself.
const MIN_SELECTION_CLASS_ROWS: usize = 10;

/// Customer tweets for the sentiment head (data/tweets, README there): `written.tsv`, tweets
/// written for convoqa, which the head and its reader train on; and the real customer tweets of
/// IBM's Twitter dialogs labelled in `twitter_dev_messages.tsv` (never the test dialogs of
/// data/eval), which select, as the messages the model reads, in the classes that have at least
/// `MIN_SELECTION_CLASS_ROWS` of them.
pub struct TweetSets {
    pub written: Vec<(String, usize)>,
    pub twitter_dev: Vec<(String, usize)>,
    /// What was read, for the card's training_data.
    pub described: Vec<String>,
}

pub fn tweet_sets(tweets_dir: &Path, data_dir: &Path, labels: &[String]) -> Result<TweetSets> {
    let written_tsv = tweets_dir.join("written.tsv");
    let written: Vec<(String, usize)> = read_tsv_lines(&written_tsv)?
        .into_iter()
        .map(|(line, r)| match (r.first(), r.get(1)) {
            (Some(text), Some(label)) => Ok((
                crate::text::inference_key(text),
                file_label(labels, label, &written_tsv, &format!("line {line}"))?,
            )),
            _ => Err(Error::input(
                &written_tsv,
                format!("line {line} has {} column(s)", r.len()),
                "write text TAB label TAB kind TAB writer",
            )),
        })
        .collect::<Result<_>>()?;
    let dev_json = twitter_dev_json(data_dir);
    let labels_tsv = tweets_dir.join("twitter_dev_messages.tsv");
    let message_labels = twitter_message_labels(&labels_tsv)?;
    let dialogs = read_twitter_dialogs(&dev_json)?;
    let mut twitter_dev = Vec::new();
    for d in message_labels.keys().map(|(d, _)| *d).collect::<std::collections::BTreeSet<_>>() {
        let c = twitter_conversation(&dialogs, d, "none", &message_labels, &labels_tsv, &dev_json)?;
        for (text, label) in c.model_sentiment_rows()? {
            let index = file_label(labels, &label, &labels_tsv, &format!("dialog {d}"))?;
            twitter_dev.push((crate::text::inference_key(&text), index));
        }
    }
    let kept: Vec<usize> = (0..labels.len())
        .filter(|&k| twitter_dev.iter().filter(|(_, l)| *l == k).count() >= MIN_SELECTION_CLASS_ROWS)
        .collect();
    let read = twitter_dev.len();
    twitter_dev.retain(|(_, l)| kept.contains(l));
    let described = vec![
        format!("{}: {} tweets written for convoqa", written_tsv.display(), written.len()),
        format!(
            "selection: {} of the {read} customer tweets the model reads in the dialogs labelled in {} ({}; classes with at least {MIN_SELECTION_CLASS_ROWS} rows: {:?})",
            twitter_dev.len(),
            labels_tsv.display(),
            dev_json.display(),
            kept.iter().map(|&k| labels[k].as_str()).collect::<Vec<_>>()
        ),
    ];
    Ok(TweetSets { written, twitter_dev, described })
}

/// A few lines a person reads: the headline figures of a corpus report.
pub fn summary(r: &CorpusReport) -> String {
    let by = |m: &BTreeMap<String, Metrics>| {
        m.iter().map(|(k, v)| format!("{k} {:.3}", v.macro_f1)).collect::<Vec<_>>().join(", ")
    };
    let by_acc = |m: &BTreeMap<String, Metrics>| {
        m.iter().map(|(k, v)| format!("{k} {:.3}", v.accuracy)).collect::<Vec<_>>().join(", ")
    };
    format!(
        "corpus {} split: {} conversations\n  customer-message sentiment: macro-F1 {:.3}, accuracy {:.3} on {} messages ({} decided by context rules, {} of them as labelled)\n    by language: {}\n    by channel: {}\n  conversation intent: accuracy {:.3}, macro-F1 {:.3}; `other` share {:.3} predicted vs {:.3} true\n    accuracy by language: {}\n    accuracy by channel: {}\n",
        r.split, r.conversations, r.sentiment.macro_f1, r.sentiment.accuracy, r.sentiment.n, r.rule_decided, r.rule_agreeing,
        by(&r.sentiment_by_language), by(&r.sentiment_by_channel), r.intent.accuracy, r.intent.macro_f1, r.other_share_predicted, r.other_share_true,
        by_acc(&r.intent_by_language), by_acc(&r.intent_by_channel)
    ) + &r.message_intent.as_ref().map_or(String::new(), |m| format!(
        "  message intent (not written by analyze), accuracy / macro-F1 on {} of {} messages labelled with a need: read alone {:.3} / {:.3}, blended with the conversation {:.3} / {:.3}, the conversation's intent copied {:.3} / {:.3}; {} read where the labeller saw no need\n",
        m.read, m.labelled, m.own_reading.accuracy, m.own_reading.macro_f1, m.blended.accuracy, m.blended.macro_f1,
        m.conversation_intent_copied.accuracy, m.conversation_intent_copied.macro_f1, m.read_without_need
    ))
}

/// Writes a split ("all": the whole corpus) as convoqa's input tables (messages.parquet, conversations.parquet with the
/// survey scores), so `analyze` can be run on it (scripts/demo.sh does).
pub fn export_split(corpus: &Corpus, split: &str, out: &Path) -> Result<(usize, usize)> {
    if split == "all" {
        return export_conversations(corpus.conversations.iter(), out);
    }
    export_conversations(corpus.split(split), out)
}

/// Writes corpus conversations as analyze's input tables (messages.parquet,
/// conversations.parquet with status, resolved_at, csat_score and the e-mail subject).
pub fn export_conversations<'a>(
    conversations: impl Iterator<Item = &'a CorpusConversation>,
    out: &Path,
) -> Result<(usize, usize)> {
    use crate::write::{write_parquet, TableBuilder};
    let convs: Vec<(&CorpusConversation, crate::model::Conversation)> =
        conversations.map(|c| Ok((c, c.to_conversation()?))).collect::<Result<_>>()?;
    let msgs: Vec<(&crate::model::Message, &CorpusConversation)> =
        convs.iter().flat_map(|(c, a)| a.messages.iter().map(move |m| (m, *c))).collect();
    let mut t = TableBuilder::new();
    t.str("conversation_id", msgs.iter().map(|(m, _)| Some(&m.conversation_id)));
    t.str("message_id", msgs.iter().map(|(m, _)| m.message_id.as_deref()));
    t.ts("sent_at", msgs.iter().map(|(m, _)| Some(m.sent_at_us)));
    t.str("sender_role", msgs.iter().map(|(m, _)| Some(m.role.as_str())));
    t.str("text", msgs.iter().map(|(m, _)| m.text.as_deref()));
    t.str("customer_id", msgs.iter().map(|(m, _)| m.customer_id.as_deref()));
    t.str("channel", msgs.iter().map(|(m, _)| m.channel.as_deref()));
    t.str("agent_id", msgs.iter().map(|(m, _)| m.agent_id.as_deref()));
    std::fs::create_dir_all(out).map_err(|e| Error::write(out, e))?;
    write_parquet(&out.join("messages.parquet"), &t.finish()?)?;
    let mut c = TableBuilder::new();
    c.str("conversation_id", convs.iter().map(|(c, _)| Some(&c.conversation_id)));
    c.str("customer_id", convs.iter().map(|(c, _)| Some(&c.customer_id)));
    c.str("channel", convs.iter().map(|(c, _)| Some(&c.channel)));
    c.str("status", convs.iter().map(|(c, _)| Some(&c.status)));
    c.ts("created_at", convs.iter().map(|(_, a)| a.messages.first().map(|m| m.sent_at_us)));
    let done = |c: &CorpusConversation| c.status == "resolved" || c.status == "closed";
    c.ts(
        "resolved_at",
        convs.iter().map(|(c, a)| if done(c) { a.messages.last().map(|m| m.sent_at_us) } else { None }),
    );
    c.f64("csat_score", convs.iter().map(|(c, _)| c.csat_score.map(f64::from)));
    c.str("subject", convs.iter().map(|(c, _)| c.subject.as_deref()));
    write_parquet(&out.join("conversations.parquet"), &c.finish()?)?;
    Ok((convs.len(), msgs.len()))
}

/// Each conversation's resolution-head input (exactly as `enrich` builds it) and its closing
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
pub fn train_resolution(
    encoder: &Encoder,
    model_name: &str,
    corpus: &Corpus,
    out: &Path,
    max_tokens: usize,
    cache: Option<&Path>,
) -> Result<Head> {
    let labels: Vec<String> = RESOLUTION_LABELS.iter().map(|l| l.to_string()).collect();
    let (train_set, _) = resolution_set(encoder, corpus, "train", max_tokens, cache)?;
    let (dev_set, dev_truth) = resolution_set(encoder, corpus, "dev", max_tokens, cache)?;
    // Linear only: the evidence is the slot contributing most to the chosen state's logit.
    let base = Recipe {
        hidden: 0,
        epochs: 60,
        learning_rate: 1e-2,
        weight_decay: 1e-4,
        batch_size: 32,
        input_dropout: 0.0,
        seed: 7,
    };
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
            "data/corpus train split with labels/resolution: {} conversations ({} businesses)",
            train_set.y.len(),
            businesses(&train_convs)
        )],
        validation,
        command: format!("convoqa train resolution --corpus {} --out {}", corpus.dir.display(), out.display()),
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The real tweets' dev split (data/tweets, which selects) and test split (data/eval, scored
    /// once) share no dialog, and no tweet written for training copies a real test tweet (short
    /// generic replies such as "DM sent" aside). The text check needs ../shared/data.
    #[test]
    fn the_real_tweet_splits_share_no_dialog_and_training_copies_no_test_tweet() {
        use std::collections::BTreeSet;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let labels = |file: &str| twitter_message_labels(&root.join(file)).unwrap();
        let dialogs = |m: &BTreeMap<(usize, usize), String>| m.keys().map(|k| k.0).collect::<BTreeSet<usize>>();
        let dev = labels("data/tweets/twitter_dev_messages.tsv");
        let test = labels("data/eval/twitter_care_messages.tsv");
        let (dev_dialogs, test_dialogs) = (dialogs(&dev), dialogs(&test));
        assert!(
            dev_dialogs.len() >= 150 && test_dialogs.len() >= 300,
            "{} / {}",
            dev_dialogs.len(),
            test_dialogs.len()
        );
        let shared: Vec<&usize> = dev_dialogs.intersection(&test_dialogs).collect();
        assert!(shared.is_empty(), "dialogs in both the dev and the test split: {shared:?}");

        let dev_json = twitter_dev_json(&root.join("../shared/data"));
        if !dev_json.exists() {
            eprintln!("skipping the text check: {} is absent", dev_json.display());
            return;
        }
        let all = read_twitter_dialogs(&dev_json).unwrap();
        let test_texts: BTreeSet<String> = test
            .keys()
            .map(|&(d, turn)| crate::text::inference_key(all[d]["dialogContent"][turn]["message"].as_str().unwrap()))
            .collect();
        let written = read_tsv_lines(&root.join("data/tweets/written.tsv")).unwrap();
        assert!(written.len() > 1000, "{}", written.len());
        let copies: Vec<&String> = written
            .iter()
            .filter_map(|(_, row)| row.first())
            .filter(|text| text.split_whitespace().count() >= 4)
            .filter(|text| test_texts.contains(&crate::text::inference_key(text)))
            .collect();
        assert!(copies.is_empty(), "written tweets that copy real test tweets: {copies:?}");
    }

    fn conversation(business: &str, n: usize) -> CorpusConversation {
        serde_json::from_value(json!({
            "conversation_id": format!("{business}-{n:04}"), "business": business, "channel": "whatsapp",
            "language": "id", "customer_id": format!("{business}-c{n:04}"), "created_at": "2026-10-01T09:00:00+07:00",
            "status": "resolved", "intent": "other", "solved": true, "reopens": null, "expect_low_csat": false,
            "csat_score": null, "messages": []
        }))
        .unwrap()
    }

    #[test]
    fn weightings_repeat_each_part_its_number_of_times() {
        assert_eq!(weightings(false), [(1, 0), (4, 0), (8, 0)]);
        assert_eq!(weightings(true).len(), 9);
        assert_eq!(weightings(true)[..3], [(1, 1), (1, 4), (1, 8)]);
        let (x, y) = weighted_rows((&["s"], &[0]), &[(&["c"], &[1], 2), (&["t"], &[2], 0)]);
        assert_eq!((x, y), (vec!["s", "c", "c"], vec![0, 1, 1]));
    }

    #[test]
    fn folds_hold_out_whole_businesses_and_deal_them_evenly() {
        let convs: Vec<CorpusConversation> =
            (0..12).flat_map(|b| (0..3 + b % 4).map(move |n| conversation(&format!("biz{b}"), n))).collect();
        let refs: Vec<&CorpusConversation> = convs.iter().collect();
        let folds = business_folds(&refs, 6, 7);
        let mut fold_of: BTreeMap<&str, usize> = BTreeMap::new();
        for (c, &f) in refs.iter().zip(&folds) {
            assert_eq!(*fold_of.entry(c.business.as_str()).or_insert(f), f, "{} split across folds", c.business);
        }
        let mut per_fold = [0usize; 6];
        fold_of.values().for_each(|&f| per_fold[f] += 1);
        assert_eq!(per_fold, [2; 6], "12 businesses, 2 per fold");
        assert_eq!(folds, business_folds(&refs, 6, 7), "seeded");
    }

    #[test]
    fn cross_validation_reads_every_held_out_conversation_and_picks_an_epoch() {
        let labels = vec!["a".to_string(), "b".to_string()];
        // Two separable classes across four "businesses"; one conversation has nothing to read.
        let inputs: Vec<Option<Vec<f32>>> = (0..40)
            .map(|i| (i != 5).then(|| if i % 2 == 0 { vec![1.0, 0.1 * (i % 3) as f32] } else { vec![0.1, 1.0] }))
            .collect();
        let truth: Vec<usize> = (0..40).map(|i| i % 2).collect();
        let folds: Vec<usize> = (0..40).map(|i| i / 10).collect();
        let none = EmbeddedSet { name: "none".into(), x: vec![], y: vec![] };
        let recipe = Recipe {
            hidden: 0,
            epochs: 5,
            learning_rate: 5e-2,
            weight_decay: 0.0,
            batch_size: 8,
            input_dropout: 0.0,
            seed: 1,
        };
        let cv = cross_validate(&labels, &inputs, &truth, &folds, &none, recipe).unwrap();
        assert!((1..=5).contains(&cv.best_epoch));
        assert!(cv.macro_f1 > 0.9, "{}", cv.macro_f1);
        for (i, l) in cv.logits.iter().enumerate() {
            assert_eq!(l.is_some(), i != 5, "row {i}");
        }
        let probs: Vec<Option<Vec<f32>>> = cv.logits.iter().map(|l| l.as_deref().map(|l| softmax(l, 1.0))).collect();
        assert!(probs.iter().flatten().all(|p| (p.iter().sum::<f32>() - 1.0).abs() < 1e-5));
        // Nothing to read is the out-of-scope label, whatever the threshold.
        assert_eq!(predict_intents(&probs, 0, 0.0)[5], 0);
    }
}
