//! The sentiment head and its lexical reader, trained on SmSA + NusaX + the corpus's train
//! messages (+ written tweets) and chosen on the validation splits.

use std::path::Path;

use serde_json::json;

use crate::encoder::Encoder;
use crate::error::{Error, Result};
use crate::heads::corpus::Corpus;
use crate::heads::lexical::{
    self, term_counts, train_sparse, Idf, LexicalHead, Sparse, SparseLinear, SparseRecipe, LEXICAL_WEIGHTS,
};
use crate::heads::metrics::evaluate;
use crate::heads::sentiment::{embed_cached, public_sets, PublicSets, LABELS};
use crate::heads::train::{train_best, EmbeddedSet, Recipe};
use crate::heads::{argmax, Head, HeadCard, TrainRun};

use super::label_of;
use super::twitter::tweet_sets;

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
    data_dir: &Path,
    corpus: &Corpus,
    tweets_dir: Option<&Path>,
    out: &Path,
    run: TrainRun,
) -> Result<Head> {
    let TrainRun { model_name, max_tokens, cache, command } = run;
    let labels: Vec<String> = LABELS.iter().map(|s| s.to_string()).collect();
    let PublicSets { train: public, mut training_data, mut valid } =
        public_sets(encoder, data_dir, &labels, max_tokens, cache)?;
    let corpus_train = corpus_sentiment_set(encoder, corpus, "train", &labels, max_tokens, cache)?;
    training_data.push(format!(
        "{} train split: {} customer messages the model reads",
        corpus.dir.display(),
        corpus_train.y.len()
    ));
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
        command: command.to_string(),
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
    command: &str,
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
    training_data.push(format!(
        "{} train split: {} customer messages the model reads",
        corpus.dir.display(),
        corpus_train.len()
    ));
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
        "command": command,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weightings_repeat_each_part_its_number_of_times() {
        assert_eq!(weightings(false), [(1, 0), (4, 0), (8, 0)]);
        assert_eq!(weightings(true).len(), 9);
        assert_eq!(weightings(true)[..3], [(1, 1), (1, 4), (1, 8)]);
        let (x, y) = weighted_rows((&["s"], &[0]), &[(&["c"], &[1], 2), (&["t"], &[2], 0)]);
        assert_eq!((x, y), (vec!["s", "c", "c"], vec![0, 1, 1]));
    }
}
