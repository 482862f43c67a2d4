//! A team's own taxonomy: `train intent --data FILE --out-of-scope LABEL`, then `eval` reads the
//! head as analyze does, with its out-of-scope threshold.

use crate::common::run_ok;

fn write_tsv(path: &std::path::Path, rows: &[(&str, &str)]) {
    let body: String = rows.iter().map(|(t, l)| format!("{t}\t{l}\n")).collect();
    std::fs::write(path, body).unwrap();
}

#[test]
fn a_team_head_with_an_out_of_scope_label_is_evaluated_with_its_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    let items =
        ["sepatu", "tas", "jaket", "kaos", "celana", "topi", "dompet", "jam", "kacamata", "sandal", "rok", "kemeja"];
    for item in items {
        rows.push((format!("refund {item} saya belum masuk ke rekening"), "refund"));
        rows.push((format!("paket {item} saya belum sampai, resinya di mana"), "tracking"));
        rows.push((format!("voucher diskon buat {item} ga bisa dipakai"), "voucher"));
    }
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
