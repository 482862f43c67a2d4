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

/// A tweets folder like data/tweets (written tweets, dev labels) and a dev.json like IBM's
/// under `data`: 12 negative, 12 neutral and 1 positive labelled customer tweets, each in its
/// own dialog after nothing or an agent's reply.
fn tiny_tweets(tweets: &Path, data: &Path) {
    let negative = [
        "@Acme third time asking, nobody answers. great service",
        "@Acme been on hold 2 hours, this is a joke",
        "@Acme paid for premium and still no access, ridiculous",
        "@Acme worst support ever, cancelling tomorrow",
        "@Acme my order is a week late AGAIN. unacceptable",
        "@Acme still waiting on that refund, so fed up",
        "@Acme you charged me twice and nobody cares",
        "@Acme app crashed again and lost my work, thanks for nothing",
        "@Acme how is this still broken after a month??",
        "@Acme terrible experience, never buying from you again",
        "@Acme I am beyond frustrated with your billing team",
        "@Acme 5 days without internet and you keep sending bots",
    ];
    let neutral = [
        "@Acme my order 1123 shows delivered, can you check?",
        "@Acme app crashes when I open settings on iOS 13, any fix?",
        "@Acme how do I change the email on my account?",
        "@Acme is there an outage in Austin right now?",
        "DM sent",
        "@Acme can I move my booking to Friday?",
        "@Acme what time does the store open on Sunday?",
        "@Acme do you ship to Canada?",
        "@Acme the reset link goes to my old address, how do I update it?",
        "@Acme which plan includes international roaming?",
        "@Acme is the sale on in stores too?",
        "@Acme my card was declined at checkout, what should I try?",
    ];
    let mut dialogs = Vec::new();
    let mut labels = String::from("dialog\tturn\tsentiment\n");
    let labelled = negative.iter().map(|t| (*t, "negative")).chain(neutral.iter().map(|t| (*t, "neutral")));
    for (i, (text, label)) in
        labelled.chain(std::iter::once(("@Acme thank you, that fixed it!", "positive"))).enumerate()
    {
        // Odd dialogs open with the company's message: the customer's tweet is turn 1.
        let mut content = Vec::new();
        if i % 2 == 1 {
            content.push(serde_json::json!({"agent": "Acme", "message": "@you Hi, how can we help?"}));
        }
        content.push(serde_json::json!({"client": "you", "message": text}));
        labels.push_str(&format!("{i}\t{}\t{label}\n", content.len() - 1));
        dialogs.push(serde_json::json!({"dialogContent": content}));
    }
    write(&data.join("conversations/twitter-customer-care/dev.json"), &serde_json::Value::Array(dialogs).to_string());
    write(&tweets.join("twitter_dev_messages.tsv"), &format!("# test labels\n{labels}"));
    let written = "text\tlabel\tkind\n\
        @Shop two weeks and my parcel is still missing, awful\tnegative\tfirst\n\
        @Shop can you tell me where parcel 7781 is?\tneutral\tfirst\n\
        thanks, all sorted now!\tpositive\treply\n\
        @Shop still broken. this is a joke\tnegative\treply\n";
    write(&tweets.join("written.tsv"), written);
}

#[test]
fn with_tweets_the_reader_trains_on_written_tweets_and_selects_on_real_ones() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    tiny_sentiment_data(&data);
    let tweets = tmp.path().join("tweets");
    tiny_tweets(&tweets, &data);
    let head = tmp.path().join("head");
    std::fs::create_dir_all(&head).unwrap();
    let shipped = root.join("models/heads/sentiment");
    for file in ["head.safetensors", "card.json"] {
        std::fs::copy(shipped.join(file), head.join(file)).unwrap();
    }
    let corpus = root.join("data/corpus");
    let args = |tweets: &Path| {
        [
            "train",
            "sentiment",
            "--lexical-only",
            "--data-dir",
            data.to_str().unwrap(),
            "--corpus",
            corpus.to_str().unwrap(),
            "--tweets",
            tweets.to_str().unwrap(),
            "--out",
            head.to_str().unwrap(),
        ]
        .map(str::to_string)
    };
    let (code, _, stderr) = run(&args(&tweets).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{stderr}");
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(head.join("card.json")).unwrap()).unwrap();
    let lexical = &card["recipe"]["lexical"];
    let tried = lexical["tried"].as_array().unwrap();
    assert_eq!(tried.len(), 18, "3 corpus weights x 3 tweet weights x 2 recipes");
    // Each corpus weight with each tweet weight, both recipes: (1, 1), (1, 1), (1, 4), ...
    let weights: Vec<(u64, u64)> =
        tried.iter().map(|t| (t["corpus_repeats"].as_u64().unwrap(), t["tweet_repeats"].as_u64().unwrap())).collect();
    let expected: Vec<(u64, u64)> =
        [1, 4, 8].iter().flat_map(|&c| [1, 4, 8].iter().flat_map(move |&t| [(c, t), (c, t)])).collect();
    assert_eq!(weights, expected);
    // The card records the command as it was typed, so the reader can be made again.
    assert_eq!(lexical["command"].as_str().unwrap(), format!("convoqa {}", args(&tweets).join(" ")), "{lexical}");
    let described = lexical["training_data"].to_string();
    assert!(described.contains("4 tweets written for convoqa"), "{described}");
    // The one positive tweet is too few to score its class: the dev split keeps 24 rows.
    assert!(described.contains("24 of the 25 customer tweets"), "{described}");
    assert_eq!(card["validation"]["twitter_dev"]["n"].as_u64(), Some(24), "{}", card["validation"]);

    // Without --tweets the reader is chosen on four splits again, and the card says only those.
    let without: Vec<String> = args(&tweets).into_iter().filter(|a| !a.contains("tweets")).collect();
    let (code, _, stderr) = run(&without.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 0, "{stderr}");
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(head.join("card.json")).unwrap()).unwrap();
    let splits: Vec<&str> = card["validation"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(splits, ["corpus_dev", "nusax_en_valid", "nusax_id_valid", "smsa_valid"]);

    // Bad labels are the input's errors (exit 2), saying which file and line.
    let refused = |file: &str, body: &str, says: &[&str]| {
        let kept = std::fs::read_to_string(tweets.join(file)).unwrap();
        std::fs::write(tweets.join(file), body).unwrap();
        let (code, _, stderr) = run(&args(&tweets).iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 2, "{stderr}");
        for s in says {
            assert!(stderr.contains(s), "{s:?} not in {stderr}");
        }
        std::fs::write(tweets.join(file), kept).unwrap();
    };
    refused("written.tsv", "text\tlabel\tkind\nno label here\n", &["written.tsv", "line 2", "column"]);
    refused("written.tsv", "text\tlabel\tkind\n@Acme meh\tnegatif\tfirst\n", &["line 2", "\"negatif\"", "neutral"]);
    // Dialog 1's turn 0 is the company's message.
    refused("twitter_dev_messages.tsv", "dialog\tturn\tsentiment\n1\t0\tneutral\n", &["dialog 1 turn 0", "customer"]);
    refused("twitter_dev_messages.tsv", "dialog\tturn\tsentiment\none\t0\tneutral\n", &["line 2", "dialog TAB turn"]);
}

#[test]
fn the_real_tweets_have_labels_of_their_own_only_for_the_dev_and_test_splits() {
    // Refused before the model loads: the real tweets have dev (360-524) and test (0-359) labels
    // only; other splits need labels given (--twitter-labels).
    let (code, _, stderr) = run(&["eval-readings", "--split", "train", "--twitter", "dev.json"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no train split") && stderr.contains("--split dev"), "{stderr}");
    // Labels without the dialogs they label are the parser's refusal.
    let (code, _, stderr) = run(&["eval-readings", "--twitter-labels", "labels.tsv"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--twitter <TWITTER>"), "{stderr}");
}

#[test]
fn eval_readings_scores_a_corpus_split_and_tweets_with_the_labels_given() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    let (data, tweets) = (tmp.path().join("data"), tmp.path().join("tweets"));
    tiny_tweets(&tweets, &data);
    let dev_json = data.join("conversations/twitter-customer-care/dev.json");
    let labels = tweets.join("twitter_dev_messages.tsv");
    let corpus = root.join("data/corpus");
    let args = |extra: &[&str]| {
        let mut args = vec![
            "eval-readings",
            "--split",
            "dev",
            "--corpus",
            corpus.to_str().unwrap(),
            "--twitter",
            dev_json.to_str().unwrap(),
            "--twitter-labels",
            labels.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.into_iter().map(str::to_string).collect::<Vec<_>>()
    };
    let run_args = |extra: &[&str]| run(&args(extra).iter().map(String::as_str).collect::<Vec<_>>());

    // Every labelled tweet is read, positives included (selection drops them; a score does not).
    let (code, stdout, stderr) = run_args(&["--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["corpus"]["split"], "dev");
    assert!(report["corpus"]["sentiment"]["n"].as_u64().unwrap() > 100, "{}", report["corpus"]["sentiment"]);
    let twitter = &report["twitter"];
    assert_eq!(twitter["dialogs"].as_u64(), Some(25));
    assert_eq!(twitter["sentiment"]["n"].as_u64(), Some(25));
    assert!(twitter.get("intent").is_none(), "no intent labels were given: {twitter}");
    let macro_f1 = twitter["sentiment"]["macro_f1"].as_f64().unwrap();
    // Obvious complaints and questions: the real model must read most of them as labelled.
    assert!(twitter["sentiment"]["accuracy"].as_f64().unwrap() >= 0.6, "{twitter}");

    // Intent labels for the same dialogs: `none` dialogs are left out of intent's score.
    let intents = tmp.path().join("intents.tsv");
    let mut body = String::from("dialog\tintent\n");
    for d in 0..25 {
        body.push_str(&format!("{d}\t{}\n", if d < 6 { "complaint_service" } else { "none" }));
    }
    std::fs::write(&intents, body).unwrap();
    let (code, stdout, stderr) = run_args(&["--twitter-intents", intents.to_str().unwrap()]);
    assert_eq!(code, 0, "{stderr}");
    let title = format!("real Twitter labelled in {} (25 dialogs)", labels.display());
    assert!(stdout.contains(&format!("{title}: message sentiment macro-F1 {macro_f1:.3}")), "{stdout}");
    assert!(stdout.contains("; intent accuracy"), "{stdout}");
    let (code, stdout, stderr) = run_args(&["--twitter-intents", intents.to_str().unwrap(), "--json"]);
    assert_eq!(code, 0, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["twitter"]["intent"]["n"].as_u64(), Some(6), "`none` dialogs are left out");
    assert_eq!(report["twitter"]["sentiment"]["n"].as_u64(), Some(25));

    // Labels that are not labels: the file's error (exit 2), with its line.
    let bad = tmp.path().join("bad.tsv");
    std::fs::write(&bad, "dialog\tintent\n0\tcomplaint_service\n1\tcomplain\n").unwrap();
    let (code, _, stderr) = run_args(&["--twitter-intents", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("bad.tsv") && stderr.contains("line 3") && stderr.contains("\"complain\""), "{stderr}");
    std::fs::write(&bad, "dialog\tintent\n0\n").unwrap();
    let (code, _, stderr) = run_args(&["--twitter-intents", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("line 2 is not dialog TAB intent"), "{stderr}");

    // A sentiment label that is not one, or a labels file that is not there: the input's error,
    // naming the file (and line, or the flag that gives it).
    let labels_kept = std::fs::read_to_string(&labels).unwrap();
    std::fs::write(&labels, "dialog\tturn\tsentiment\n0\t0\tnegatif\n").unwrap();
    let (code, _, stderr) = run_args(&[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("line 2") && stderr.contains("\"negatif\""), "{stderr}");
    std::fs::write(&labels, "dialog\tturn\tsentiment\n0\t0\tnegative\n0\t0\tneutral\n").unwrap();
    let (code, _, stderr) = run_args(&[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("line 3 labels dialog 0 turn 0 again (line 2 did)"), "{stderr}");
    std::fs::write(&labels, labels_kept).unwrap();
    let missing = tmp.path().join("nowhere.tsv");
    let mut missing_args = args(&[]);
    let at = missing_args.iter().position(|a| a == "--twitter-labels").unwrap();
    missing_args[at + 1] = missing.to_str().unwrap().to_string();
    let (code, _, stderr) = run(&missing_args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("nowhere.tsv") && stderr.contains("--twitter-labels"), "{stderr}");
}
