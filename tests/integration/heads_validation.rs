//! The shipped heads keep what their cards claim: each validation split's macro-F1, recomputed
//! here from the real data, may not fall below the card's figure minus 0.02.
//! Needs the model (scripts/fetch-model.sh) and ../shared/data (CI has both).

use std::path::PathBuf;

use convoqa::encoder::Encoder;
use convoqa::heads::corpus::Corpus;
use convoqa::heads::metrics::evaluate;
use convoqa::heads::sentiment::{embedded_set, SentimentData};
use convoqa::heads::{argmax, Head};
use convoqa::readings::{corpus_sentiment_rows, corpus_sentiment_set};

#[test]
fn shipped_sentiment_head_keeps_its_card_claims() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("../shared/data");
    let head = Head::load(&root.join("models/heads/sentiment")).expect("the shipped sentiment head");
    // The head reads the adapted encoder it was trained on (the shipped adapter merged in).
    let adapter = root.join(convoqa::encoder::DEFAULT_ADAPTER_PATH);
    let (encoder, _) = Encoder::load_adapted(&Encoder::default_path(&root), Some(&adapter))
        .expect("the model: run scripts/fetch-model.sh");
    assert!(encoder.name.ends_with("+e5-small-chat"), "{}", encoder.name);
    // The corpus's dev split (in the project) and, where present, the public validation splits,
    // read as analyze reads them: the head blended with its lexical reader, if it has one.
    let lexical = convoqa::heads::lexical::load_for(&head, &root.join("models/heads/sentiment")).unwrap();
    let corpus = Corpus::load(&root.join("data/corpus")).unwrap();
    let dev_texts: Vec<String> =
        corpus_sentiment_rows(&corpus, "dev", &head.card.labels).unwrap().into_iter().map(|(t, _)| t).collect();
    let mut sets = vec![(
        corpus_sentiment_set(&encoder, &corpus, "dev", &head.card.labels, head.card.max_tokens, None).unwrap(),
        dev_texts,
    )];
    let twitter = convoqa::readings::twitter_dev_json(&data);
    if data.join("sentiment").exists() && twitter.exists() {
        for (name, path) in SentimentData::under(&data).valid {
            let texts = convoqa::heads::data::load(&path).unwrap().into_iter().map(|r| r.text).collect();
            sets.push((
                embedded_set(&encoder, &name, &path, &head.card.labels, head.card.max_tokens, None).unwrap(),
                texts,
            ));
        }
        // The real tweets' dev split (data/tweets labels, dialogs in the shared data).
        let tweets = convoqa::readings::tweet_sets(&root.join("data/tweets"), &data, &head.card.labels).unwrap();
        let (texts, y): (Vec<String>, Vec<usize>) = tweets.twitter_dev.into_iter().unzip();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let x = convoqa::heads::sentiment::embed_cached(&encoder, &refs, head.card.max_tokens, None).unwrap();
        sets.push((convoqa::heads::train::EmbeddedSet { name: "twitter_dev".into(), x, y }, texts));
    } else {
        eprintln!(
            "public splits skipped: {} or {} not found (the shared data lives beside the project in CI)",
            data.join("sentiment").display(),
            twitter.display()
        );
    }
    assert_eq!(
        head.card.validation.len(),
        5,
        "the card reports SmSA, NusaX id/en, the corpus dev split and the real tweets' dev split"
    );
    for (set, texts) in sets {
        let claimed = &head.card.validation[&set.name];
        let documents: Vec<&str> = texts.iter().map(String::as_str).collect();
        let probs = convoqa::heads::lexical::blended_proba(&head, lexical.as_ref(), &set.x, &documents).unwrap();
        let pred: Vec<usize> = probs.iter().map(|p| argmax(p)).collect();
        let got = evaluate(&head.card.labels, &set.y, &pred);
        eprintln!("{}: macro-F1 {:.4} (card {:.4})", set.name, got.macro_f1, claimed.macro_f1);
        assert!(
            got.macro_f1 >= claimed.macro_f1 - 0.02,
            "{}: macro-F1 {:.4} < card {:.4} - 0.02",
            set.name,
            got.macro_f1,
            claimed.macro_f1
        );
    }
}

#[test]
fn shipped_readings_keep_their_card_claims_on_the_corpus_dev_split() {
    // The whole shipped path (context rules, sentiment, pooled conversation intent with its
    // temperature and `other` threshold), as analyze runs it.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cfg = convoqa::config::ModelConfig {
        encoder: Encoder::default_path(&root).display().to_string(),
        sentiment_head: root.join("models/heads/sentiment").display().to_string(),
        intent_head: root.join("models/heads/intent").display().to_string(),
        adapter: root.join(convoqa::encoder::DEFAULT_ADAPTER_PATH).display().to_string(),
        ..Default::default()
    };
    let model = convoqa::enrich::LanguageModel::load(&cfg).expect("the shipped model");
    let corpus = Corpus::load(&root.join("data/corpus")).unwrap();
    let report = convoqa::readings::evaluate_corpus(&model, &corpus, "dev").unwrap();
    // The intent head trains on the dev businesses too (its card's figure is out-of-fold over
    // businesses), so this checks that the shipped path (pooling, temperature, threshold) reads
    // as the trainer did, not how well it generalises.
    let claimed = &model.intent.card.validation["corpus_cv"];
    eprintln!(
        "intent dev: accuracy {:.4} macro-F1 {:.4} (card, cross-validated: {:.4})",
        report.intent.accuracy, report.intent.macro_f1, claimed.macro_f1
    );
    assert!(report.intent.macro_f1 >= claimed.macro_f1 - 0.02);
    assert!((report.other_share_predicted - report.other_share_true).abs() <= 0.05, "{report:?}");
    // Context rules agree with the labels on what they decide.
    assert!(
        report.rule_decided >= 100 && report.rule_agreeing as f64 >= 0.95 * report.rule_decided as f64,
        "{report:?}"
    );
}
