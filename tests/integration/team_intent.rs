//! A team's own taxonomy: `train intent --data FILE --out-of-scope LABEL`, then `eval` reads the
//! head as analyze does, with its out-of-scope threshold.

use crate::common::run_ok;

fn write_tsv(path: &std::path::Path, rows: &[(&str, &str)]) {
    let body: String = rows.iter().map(|(t, l)| format!("{t}\t{l}\n")).collect();
    std::fs::write(path, body).unwrap();
}

/// Three intents of a shop's customers, one row each per item.
fn team_rows(items: &[&str]) -> Vec<(String, &'static str)> {
    items
        .iter()
        .flat_map(|item| {
            [
                (format!("refund {item} saya belum masuk ke rekening"), "refund"),
                (format!("paket {item} saya belum sampai, resinya di mana"), "tracking"),
                (format!("voucher diskon buat {item} ga bisa dipakai"), "voucher"),
            ]
        })
        .collect()
}

#[test]
fn a_team_head_with_an_out_of_scope_label_is_evaluated_with_its_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = team_rows(&[
        "sepatu", "tas", "jaket", "kaos", "celana", "topi", "dompet", "jam", "kacamata", "sandal", "rok", "kemeja",
    ]);
    for odd in [
        "siapa presiden pertama",
        "resep rendang enak",
        "cuaca besok hujan gak",
        "lirik lagu dangdut",
        "skor bola semalam",
        "cara main catur",
        "harga emas hari ini",
        "film bioskop minggu ini",
        "jadwal kereta ke bandung",
        "ramalan zodiak",
        "tebak-tebakan lucu",
        "puisi tentang laut",
    ] {
        rows.push((odd.to_string(), "oos"));
    }
    let rows: Vec<(&str, &str)> = rows.iter().map(|(t, l)| (t.as_str(), *l)).collect();
    let train = tmp.path().join("team.tsv");
    write_tsv(&train, &rows);
    let head = tmp.path().join("head");
    let out = run_ok(&[
        "train",
        "intent",
        "--data",
        train.to_str().unwrap(),
        "--holdout",
        "0.25",
        "--out-of-scope",
        "oos",
        "--out",
        head.to_str().unwrap(),
    ]);
    assert!(out.contains("out-of-scope: top probability below"), "{out}");

    let eval = tmp.path().join("eval.tsv");
    write_tsv(
        &eval,
        &[
            ("refund kemeja belum balik dananya", "refund"),
            ("kurir belum antar paket jaket", "tracking"),
            ("kode voucher tas ditolak", "voucher"),
            ("berapa tinggi gunung everest", "oos"),
        ],
    );
    let report = run_ok(&["eval", "--head", head.to_str().unwrap(), "--data", eval.to_str().unwrap()]);
    assert!(report.contains("n = 4"), "{report}");
    assert!(report.contains("recall of `oos` = "), "the out-of-scope threshold applies:\n{report}");
    assert!(report.contains("in-scope accuracy = "), "{report}");
}

/// An e-mail's subject line (the conversations table's `subject`) reaches the intent head:
/// analyze embeds it beside the customer's messages, and only e-mail conversations change.
#[test]
fn the_conversations_subject_column_is_read_for_intent() {
    use crate::common::{Table, Value};
    use std::sync::Arc;
    let head: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string("models/heads/intent/card.json").unwrap()).unwrap();
    if head["subject_weight"].as_f64().unwrap_or(0.0) == 0.0 {
        eprintln!("the shipped intent head reads no subject; nothing to check");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let with = tmp.path().join("with");
    run_ok(&["corpus-export", "--split", "dev", "--out", with.to_str().unwrap()]);
    // The same tables without the subject column.
    let without = tmp.path().join("without");
    std::fs::create_dir_all(&without).unwrap();
    std::fs::copy(with.join("messages.parquet"), without.join("messages.parquet")).unwrap();
    let batch = crate::common::read_parquet(&with.join("conversations.parquet"));
    let schema = batch.schema();
    let keep: Vec<usize> = (0..schema.fields().len()).filter(|&i| schema.field(i).name() != "subject").collect();
    assert_eq!(keep.len() + 1, schema.fields().len(), "corpus-export writes a subject column");
    let out = std::fs::File::create(without.join("conversations.parquet")).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(out, Arc::new(schema.project(&keep).unwrap()), None).unwrap();
    writer.write(&batch.project(&keep).unwrap()).unwrap();
    writer.close().unwrap();

    let analyze = |dir: &std::path::Path| {
        let out = dir.join("out");
        crate::common::analyze_tables(&dir.join("messages.parquet"), &dir.join("conversations.parquet"), &out);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("run_manifest.json")).unwrap()).unwrap();
        (Table::open(&out.join("conversations.parquet")), manifest["model"]["distinct_texts"].as_u64().unwrap())
    };
    let (a, texts_with) = analyze(&with);
    let (b, texts_without) = analyze(&without);
    assert!(texts_with > texts_without, "subjects are embedded: {texts_with} vs {texts_without} distinct texts");
    let b_rows = b.index_by("conversation_id");
    let mut email_changed = 0;
    for r in 0..a.len() {
        let id = a.get("conversation_id", r).str().unwrap().to_string();
        // Another set of distinct texts batches differently, so confidences move in the last
        // float digits; a subject moves them by far more.
        let confidence = |t: &Table, row: usize| t.get("intent_confidence", row).f64().unwrap_or(-1.0);
        let moved = (confidence(&a, r) - confidence(&b, b_rows[&id])).abs();
        if a.get("channel", r) == Value::Str("email".into()) {
            email_changed += usize::from(moved > 1e-3);
        } else {
            assert!(moved < 1e-4, "{id}: no subject, same reading ({moved})");
            assert_eq!(a.get("intent", r), b.get("intent", b_rows[&id]), "{id}");
        }
    }
    assert!(email_changed > 0, "the e-mail conversations are read with their subjects");
}

/// team.tsv in `dir`: the three intents over ten items (30 rows), and its rows.
fn ten_items_team_file(dir: &std::path::Path) -> (std::path::PathBuf, Vec<(String, &'static str)>) {
    let rows = team_rows(&["sepatu", "tas", "jaket", "kaos", "celana", "topi", "dompet", "jam", "kacamata", "sandal"]);
    let borrowed: Vec<(&str, &str)> = rows.iter().map(|(t, l)| (t.as_str(), *l)).collect();
    let train = dir.join("team.tsv");
    write_tsv(&train, &borrowed);
    (train, rows)
}

/// `train intent --data FILE --adapt-encoder`: the team's labels also fine-tune the encoder (a
/// low-rank adapter saved inside the head), `eval` and `analyze` read intent through it, the
/// merged adapter gives what it gives beside the frozen weights, and sentiment, which never reads
/// it, is unchanged.
#[test]
fn a_team_head_that_adapts_the_encoder_changes_intent_alone() {
    use crate::common::Table;
    use convoqa::encoder::bert::cosine;
    use convoqa::encoder::lora::{AdaptedStack, Adapter};
    use convoqa::encoder::Encoder;
    let tmp = tempfile::tempdir().unwrap();
    let (train, rows) = ten_items_team_file(tmp.path());
    let head = tmp.path().join("head");
    let out = run_ok(&[
        "train",
        "intent",
        "--data",
        train.to_str().unwrap(),
        "--holdout",
        "0.2",
        "--adapt-encoder=always",
        "--adapter-epochs",
        "2",
        "--out",
        head.to_str().unwrap(),
    ]);
    assert!(out.contains("encoder adapter:") && out.contains("kept, saved in"), "{out}");
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(head.join("card.json")).unwrap()).unwrap();
    assert_eq!(card["encoder_adapter"], "encoder-adapter");
    assert_eq!(card["recipe"]["encoder_adapter"]["kept"], true, "{card}");
    assert_eq!(card["recipe"]["encoder_adapter"]["epochs"].as_array().unwrap().len(), 2, "{card}");
    let adapter_dir = head.join("encoder-adapter");

    // Merged into a copy of the run's encoder, the adapter gives the embeddings it gives beside
    // the frozen weights, and the run's own encoder (what sentiment reads) is left as it was.
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (encoder, _) =
        Encoder::load_adapted(&Encoder::default_path(&root), Some(&root.join(convoqa::encoder::DEFAULT_ADAPTER_PATH)))
            .unwrap();
    let texts: Vec<&str> = rows.iter().map(|r| r.0.as_str()).chain(["kak mau tanya ongkir ke medan berapa"]).collect();
    let embed =
        |e: &Encoder| e.embed(&texts, &e.query_prefix, 128, convoqa::encoder::DEFAULT_BATCH_TOKENS).unwrap().vectors;
    let before = embed(&encoder);
    let branch = encoder.branch(&adapter_dir).unwrap();
    // The adapter names the chat adapter it was trained over; another one under the same name
    // is refused rather than read wrong.
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(adapter_dir.join("adapter.json")).unwrap()).unwrap();
    assert_eq!(spec["base_weights_id"], encoder.weights_id.as_str(), "{spec}");
    // The head and its adapter record the same command, as typed.
    assert!(card["command"].as_str().unwrap().contains(" --adapt-encoder"), "{card}");
    assert_eq!(spec["training"]["command"], card["command"], "{spec}");
    let other = tmp.path().join("other-adapter");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::copy(adapter_dir.join("adapter.safetensors"), other.join("adapter.safetensors")).unwrap();
    let mut moved = spec.clone();
    moved["base_weights_id"] = "0000000000000000".into();
    std::fs::write(other.join("adapter.json"), moved.to_string()).unwrap();
    let refused = encoder.branch(&other).err().expect("a different chat adapter is refused").to_string();
    assert!(refused.contains("adapter weights 0000000000000000"), "{refused}");
    assert_eq!(embed(&encoder), before, "branching leaves the shared encoder alone");
    let adapted = embed(&branch);
    let adapter = Adapter::load(&adapter_dir).unwrap();
    let stack = AdaptedStack {
        model: &encoder.model,
        first_layer: adapter.spec.first_layer,
        scale: adapter.scale(),
        weights: &adapter.weights,
    };
    let mut changed = 0;
    for (i, t) in texts.iter().enumerate() {
        let ids = encoder.tokenizer.encode(&format!("{}{t}", encoder.query_prefix), 128).unwrap().ids;
        let (hidden, mask) = encoder
            .model
            .hidden_until(&[ids.as_slice()], encoder.tokenizer.pad_id(), adapter.spec.first_layer)
            .unwrap();
        let unmerged = stack.embed(&hidden, &mask).unwrap().to_vec2::<f32>().unwrap().remove(0);
        let c = cosine(&unmerged, &adapted[i]);
        assert!(c >= 0.9999, "text {i}: cosine {c}");
        changed += usize::from(cosine(&before[i], &adapted[i]) < 0.9999);
    }
    assert!(changed > texts.len() / 2, "the adapter moves the embeddings: {changed} of {}", texts.len());
    // analyze's one pass: the layers below the adapter run once for both readings, and give
    // what the two encoders give apart.
    use convoqa::encoder::Embed;
    let again: Vec<usize> = (0..texts.len()).step_by(2).collect();
    let both = convoqa::encoder::BranchedEncoder::new(encoder, &adapter_dir).unwrap();
    let (own, branched) = both.embed_texts_and_branch(&texts, 128, &again).unwrap();
    let branched = branched.expect("a branch");
    for i in 0..texts.len() {
        assert!(cosine(&own.vectors[i], &before[i]) >= 0.9999, "text {i}");
        if again.contains(&i) {
            assert!(cosine(&branched[i], &adapted[i]) >= 0.9999, "text {i}");
        } else {
            assert!(branched[i].is_empty(), "text {i} was not asked for");
        }
    }

    let eval = tmp.path().join("eval.tsv");
    write_tsv(
        &eval,
        &[
            ("refund kemeja belum balik dananya", "refund"),
            ("kurir belum antar paket rok", "tracking"),
            ("kode voucher kemeja ditolak", "voucher"),
        ],
    );
    let report = run_ok(&["eval", "--head", head.to_str().unwrap(), "--data", eval.to_str().unwrap()]);
    assert!(report.contains("n = 3"), "{report}");

    // analyze with the team head: intent comes from its labels, read through its adapter (a
    // second pass over the texts intent reads, counted in the manifest); sentiment is the same
    // as a run with the built-in intent head.
    let data = tmp.path().join("dev");
    run_ok(&["corpus-export", "--split", "dev", "--out", data.to_str().unwrap()]);
    let config = tmp.path().join("team.toml");
    std::fs::write(&config, format!("[model]\nintent_head = {:?}\n", head.display().to_string())).unwrap();
    let analyze = |name: &str, extra: &[&str]| {
        let out = tmp.path().join(name);
        crate::common::analyze_tables_with(
            &data.join("messages.parquet"),
            &data.join("conversations.parquet"),
            &out,
            extra,
        );
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("run_manifest.json")).unwrap()).unwrap();
        (out, manifest)
    };
    let (built_in, built_in_manifest) = analyze("built-in", &[]);
    let (team, team_manifest) = analyze("team", &["--config", config.to_str().unwrap()]);
    assert!(built_in_manifest["model"].get("intent_adapter_texts").is_none(), "{}", built_in_manifest["model"]);
    let again = team_manifest["model"]["intent_adapter_texts"].as_u64().unwrap();
    assert!(
        again > 0 && again < team_manifest["model"]["distinct_texts"].as_u64().unwrap(),
        "{}",
        team_manifest["model"]
    );
    let (a, b) = (Table::open(&built_in.join("messages.parquet")), Table::open(&team.join("messages.parquet")));
    assert_eq!(a.len(), b.len());
    // The team head reads no menu options or subjects, so the shared pass holds fewer distinct
    // texts and batches differently: probabilities may move in the last float digits.
    for r in 0..a.len() {
        for column in ["sentiment", "sentiment_source"] {
            assert_eq!(a.get(column, r), b.get(column, r), "{column}, row {r}");
        }
        for column in ["sentiment_negative", "sentiment_neutral", "sentiment_positive"] {
            let (x, y) = (a.get(column, r).f64(), b.get(column, r).f64());
            assert_eq!(x.is_some(), y.is_some(), "{column}, row {r}");
            assert!((x.unwrap_or(0.0) - y.unwrap_or(0.0)).abs() < 1e-4, "{column}, row {r}: {x:?} vs {y:?}");
        }
    }
    let conversations = Table::open(&team.join("conversations.parquet"));
    for r in 0..conversations.len() {
        let intent = conversations.get("intent", r);
        let intent = intent.str().unwrap_or("other");
        assert!(["refund", "tracking", "voucher", "other"].contains(&intent), "{intent}");
    }
}

/// By default (`--adapt-encoder` alone) the adapter is kept only if it pays for its run-time
/// cost on the hold-out. On these ten easy items per intent the head without it already gets
/// every hold-out row right, so it is dropped: no adapter files, the card reads the shared
/// encoder, and the report gives both accuracies.
#[test]
fn an_encoder_adapter_that_does_not_win_on_the_holdout_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let (train, _) = ten_items_team_file(tmp.path());
    let head = tmp.path().join("head");
    // An adapter left by an earlier run must not survive a retrain that drops it.
    std::fs::create_dir_all(head.join("encoder-adapter")).unwrap();
    let args = |when: &'static str| {
        vec!["train", "intent", "--data", train.to_str().unwrap(), "--holdout", "0.2", when, "--adapter-epochs", "1"]
    };
    let mut cmd = args("--adapt-encoder");
    cmd.extend(["--out", head.to_str().unwrap()]);
    let out = run_ok(&cmd);
    assert!(out.contains("not kept"), "{out}");
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(head.join("card.json")).unwrap()).unwrap();
    let report = &card["recipe"]["encoder_adapter"];
    assert_eq!(report["holdout_accuracy_without"], 1.0, "{report}");
    assert_eq!(report["kept"], false, "{report}");
    assert!(card.get("encoder_adapter").is_none_or(|v| v.is_null()), "{card}");
    assert!(!head.join("encoder-adapter").exists());
    // The head still reads, through the shared encoder.
    let report = run_ok(&["eval", "--head", head.to_str().unwrap(), "--data", train.to_str().unwrap()]);
    assert!(report.contains("n = 30"), "{report}");
}

/// `--adapter-epochs 0` would train nothing: refused as bad config (exit 2) before the model loads.
#[test]
fn zero_adapter_epochs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let train = tmp.path().join("team.tsv");
    write_tsv(&train, &[("refund belum masuk", "refund"), ("paket belum sampai", "tracking")]);
    let (code, _, err) = crate::common::run(&[
        "train",
        "intent",
        "--data",
        train.to_str().unwrap(),
        "--adapt-encoder",
        "--adapter-epochs",
        "0",
        "--model",
        "nowhere/model.bin",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--adapter-epochs"), "{err}");
}

/// A stated out-of-scope recall must be a share, and needs the out-of-scope label it is about.
#[test]
fn a_stated_out_of_scope_recall_is_checked_before_training() {
    let tmp = tempfile::tempdir().unwrap();
    let train = tmp.path().join("team.tsv");
    write_tsv(&train, &[("refund belum masuk", "refund"), ("cuaca hari ini", "oos")]);
    let data = train.to_str().unwrap();
    for (extra, expected) in [
        (vec!["--out-of-scope", "oos", "--out-of-scope-recall", "1.5"], "not a share between 0 and 1"),
        (vec!["--out-of-scope-recall", "0.8"], "--out-of-scope"),
    ] {
        let mut args = vec!["train", "intent", "--data", data, "--model", "nowhere/model.bin"];
        args.extend(extra);
        let (code, _, err) = crate::common::run(&args);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(expected), "{err}");
    }
}
