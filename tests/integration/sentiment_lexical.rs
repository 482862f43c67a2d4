//! `train sentiment --lexical-only`: trains a lexical reader beside an existing sentiment head
//! and picks its blend weight, leaving the head's weights as they were; `eval` and analyze then
//! read the blend. Small SmSA / NusaX look-alikes, the project's corpus (needs the model).

use std::path::{Path, PathBuf};

use crate::common::{run, run_ok};

fn write(path: &Path, body: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// A data folder shaped like ../shared/data/sentiment, with a few rows per file.
fn tiny_sentiment_data(dir: &Path) {
    let rows = [
        ("pengiriman telat parah, kecewa banget", "negative"),
        ("barangnya rusak dan penjualnya ketus", "negative"),
        ("pelayanan lambat, ga akan beli lagi", "negative"),
        ("mantap, barang sesuai dan cepat sampai", "positive"),
        ("puas banget sama pelayanannya, terima kasih", "positive"),
        ("makanannya enak dan harganya murah", "positive"),
        ("toko buka jam berapa ya", "neutral"),
        ("alamat kantor pusatnya di jakarta", "neutral"),
        ("promo berlaku sampai akhir bulan", "neutral"),
    ];
    let tsv: String = rows.iter().map(|(t, l)| format!("{t}\t{l}\n")).collect();
    let csv: String = std::iter::once("id,text,label\n".to_string())
        .chain(rows.iter().enumerate().map(|(i, (t, l))| format!("{i},\"{t}\",{l}\n")))
        .collect();
    let s = dir.join("sentiment");
    write(&s.join("smsa/train_preprocess.tsv"), &tsv);
    write(&s.join("smsa/valid_preprocess.tsv"), &tsv);
    for lang in ["indonesian", "english"] {
        write(&s.join(format!("nusax/{lang}/train.csv")), &csv);
        write(&s.join(format!("nusax/{lang}/valid.csv")), &csv);
    }
}

#[test]
fn a_lexical_reader_trains_beside_the_head_and_keeps_its_weights() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    tiny_sentiment_data(&data);
    let head = tmp.path().join("head");
    std::fs::create_dir_all(&head).unwrap();
    let shipped = root.join("models/heads/sentiment");
    std::fs::copy(shipped.join("head.safetensors"), head.join("head.safetensors")).unwrap();
    // The shipped card, its validation figures emptied: the trainer must write them.
    let mut shipped_card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped.join("card.json")).unwrap()).unwrap();
    shipped_card["validation"] = serde_json::json!({});
    std::fs::write(head.join("card.json"), shipped_card.to_string()).unwrap();
    let weights_before = std::fs::read(head.join("head.safetensors")).unwrap();

    // Without a corpus the flag is refused by the parser (exit 2) before anything loads.
    let (code, _, stderr) = run(&["train", "sentiment", "--lexical-only", "--out", head.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");

    let corpus = root.join("data/corpus");
    let (data, corpus, out) = (data.to_str().unwrap(), corpus.to_str().unwrap(), head.to_str().unwrap());
    let train = |extra: &[&str]| {
        let mut args =
            vec!["train", "sentiment", "--lexical-only", "--data-dir", data, "--corpus", corpus, "--out", out];
        args.extend_from_slice(extra);
        run(&args)
    };
    // A head read on another encoder (here: without the adapter it was trained with) is refused.
    let (code, _, stderr) = train(&["--adapter", ""]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("was trained on"), "{stderr}");
    assert!(!head.join("lexical.safetensors").exists());
    let (code, _, stderr) = train(&[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(std::fs::read(head.join("head.safetensors")).unwrap(), weights_before, "the head is kept");
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(head.join("card.json")).unwrap()).unwrap();
    let lexical = &card["recipe"]["lexical"];
    let weight = card["lexical_weight"].as_f64().unwrap();
    assert_eq!(lexical["lexical_weight"].as_f64().unwrap(), weight);
    assert_eq!(lexical["tried"].as_array().unwrap().len(), 6, "3 corpus weights x 2 recipes");
    // Weight 0 is the head alone; the choice is the best weight's best score.
    let by_weight: Vec<f64> = lexical["best_score_by_weight"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["selection_score"].as_f64().unwrap())
        .collect();
    assert_eq!(by_weight[0], lexical["head_alone_selection_score"].as_f64().unwrap());
    let best = by_weight.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!(lexical["selection_score"].as_f64().unwrap(), best);
    assert_eq!(head.join("lexical.safetensors").exists(), weight > 0.0);
    assert_eq!(lexical["chosen"].is_null(), weight == 0.0, "a recipe only for a shipped reader");
    let splits: Vec<&str> = card["validation"].as_object().unwrap().keys().map(String::as_str).collect();
    for split in ["smsa_valid", "nusax_id_valid", "nusax_en_valid", "corpus_dev"] {
        assert!(splits.contains(&split), "{splits:?}");
    }
    // `eval` reads the head as analyze does and reproduces the card's SmSA figure.
    let out = run_ok(&[
        "eval",
        "--head",
        head.to_str().unwrap(),
        "--data",
        tmp.path().join("data/sentiment/smsa/valid_preprocess.tsv").to_str().unwrap(),
    ]);
    let claimed = card["validation"]["smsa_valid"]["macro_f1"].as_f64().unwrap();
    assert!(out.contains(&format!("macro-F1 = {claimed:.4}")), "card {claimed:.4}, eval said:\n{out}");
}
