//! Conversation intent on the corpus: what a conversation is read from (`IntentParts`), the
//! pooling, recipe, temperature and `other` threshold chosen by cross-validation over businesses.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::heads::corpus::{Corpus, CorpusConversation};
use crate::heads::intent::{label_with_threshold, reads_intent, IntentPooling, Taxonomy};
use crate::heads::lexical::{self, term_counts, train_sparse, Idf, LexicalHead, Sparse, SparseRecipe, LEXICAL_WEIGHTS};
use crate::heads::metrics::evaluate;
use crate::heads::sentiment::embed_cached;
use crate::heads::train::{logits, train_epochs, EmbeddedSet, Recipe};
use crate::heads::{argmax, softmax, Head, HeadCard, OutOfScope, TrainRun};

use super::{businesses, label_of, temperature_for};

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
    corpus: &Corpus,
    taxonomy: &Taxonomy,
    out: &Path,
    run: TrainRun,
) -> Result<Head> {
    let TrainRun { model_name, max_tokens, cache, command } = run;
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
    let linear = Recipe::linear(80, 32);
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
                "{} {}: {} conversations read by the model ({} businesses)",
                corpus.dir.display(),
                splits.into_iter().collect::<Vec<_>>().join(" + "),
                all.y.len() - example_set.y.len(),
                businesses(&convs)
            ),
            format!("{}: {} examples", taxonomy.origin.display(), examples.len()),
        ],
        validation,
        command: command.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
