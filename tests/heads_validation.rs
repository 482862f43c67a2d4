//! The shipped heads keep what their cards claim: each validation split's macro-F1, recomputed
//! here from the real data, may not fall below the card's figure minus 0.02.
//! Needs the model (scripts/fetch-model.sh) and ../shared/data (CI has both).

use std::path::PathBuf;

use convoqa::encoder::Encoder;
use convoqa::heads::metrics::evaluate;
use convoqa::heads::sentiment::{embedded_set, SentimentData};
use convoqa::heads::{argmax, Head};

#[test]
fn shipped_sentiment_head_keeps_its_card_claims() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let data = root.join("../shared/data");
    if !data.join("sentiment").exists() {
        eprintln!("skipped: {} not found (the shared data lives beside the project in CI)", data.display());
        return;
    }
    let head = Head::load(&root.join("models/heads/sentiment")).expect("the shipped sentiment head");
    let encoder = Encoder::load(&Encoder::default_path(&root)).expect("the model: run scripts/fetch-model.sh");
    let splits = SentimentData::under(&data).valid;
    assert_eq!(head.card.validation.len(), splits.len(), "the card reports every validation split");
    for (name, path) in splits {
        let claimed = &head.card.validation[&name];
        let set = embedded_set(&encoder, &name, &path, &head.card.labels, head.card.max_tokens, None).unwrap();
        let pred: Vec<usize> = head.predict_proba(&set.x).unwrap().iter().map(|p| argmax(p)).collect();
        let got = evaluate(&head.card.labels, &set.y, &pred);
        eprintln!("{name}: macro-F1 {:.4} (card {:.4})", got.macro_f1, claimed.macro_f1);
        assert!(got.macro_f1 >= claimed.macro_f1 - 0.02, "{name}: macro-F1 {:.4} < card {:.4} - 0.02", got.macro_f1, claimed.macro_f1);
    }
}

#[test]
fn shipped_intent_head_keeps_its_card_claims() {
    use convoqa::heads::intent::{stratified_split, Taxonomy};
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let head = Head::load(&root.join("models/heads/intent")).expect("the shipped intent head");
    let encoder = Encoder::load(&Encoder::default_path(&root)).expect("the model: run scripts/fetch-model.sh");
    // The same stratified hold-out `train intent` used (25%, seed 17).
    let (_, held) = stratified_split(&Taxonomy::default_taxonomy().labelled(), 0.25, 17);
    let texts: Vec<&str> = held.iter().map(|r| r.text.as_str()).collect();
    let x = encoder.embed(&texts, convoqa::encoder::QUERY_PREFIX, head.card.max_tokens, convoqa::encoder::DEFAULT_BATCH_TOKENS).unwrap().vectors;
    let truth: Vec<usize> = held.iter().map(|r| head.card.labels.iter().position(|l| l == &r.label).unwrap()).collect();
    let pred: Vec<usize> = head.predict_proba(&x).unwrap().iter().map(|p| argmax(p)).collect();
    let got = evaluate(&head.card.labels, &truth, &pred);
    let claimed = &head.card.validation["holdout"];
    eprintln!("intent hold-out: macro-F1 {:.4} (card {:.4})", got.macro_f1, claimed.macro_f1);
    assert!(got.macro_f1 >= claimed.macro_f1 - 0.02);
}
