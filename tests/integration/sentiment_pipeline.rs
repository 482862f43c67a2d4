//! Sentiment in the analyze run: customer messages get a label, three probabilities and a score;
//! conversations get start, end, mean, min and trend; the model can be turned off; a missing
//! model is a clear exit 2. Needs the model (scripts/fetch-model.sh).

use crate::common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampSecondArray};
use common::{run, Table, Value};

fn fixture(path: &Path) {
    let conv = ["a", "a", "a", "a", "b", "b", "b"];
    let roles = ["customer", "agent", "customer", "customer", "customer", "bot", "customer"];
    let texts = [
        Some("parah banget, barang rusak dan udah seminggu gak ada yang bales!!"),
        Some("Mohon maaf kak, kami bantu cek ya"),
        None, // a photo
        Some("terima kasih banyak kak, sudah beres, pelayanannya cepat sekali 🙏"),
        Some("thank you so much, the refund arrived, great service!"),
        Some("Glad to help!"),
        Some("this is the worst service ever, my order is lost again and nobody answers"),
    ];
    let batch = RecordBatch::try_from_iter(vec![
        ("conversation_id", Arc::new(StringArray::from(conv.to_vec())) as ArrayRef),
        (
            "sent_at",
            Arc::new(TimestampSecondArray::from(vec![
                1_790_000_000,
                1_790_000_060,
                1_790_000_100,
                1_790_000_200,
                1_790_100_000,
                1_790_100_005,
                1_790_100_100,
            ])),
        ),
        ("sender_role", Arc::new(StringArray::from(roles.to_vec()))),
        ("text", Arc::new(StringArray::from(texts.to_vec()))),
        ("customer_id", Arc::new(StringArray::from(vec!["c1", "c1", "c1", "c1", "c2", "c2", "c2"]))),
    ])
    .unwrap();
    convoqa::write::write_parquet(path, &batch).unwrap();
}

#[test]
fn customer_messages_get_sentiment_and_conversations_get_its_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("m.parquet");
    fixture(&f);
    let out = tmp.path().join("out");
    let (code, stdout, err) = run(&["analyze", "--messages", f.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("sentiment of 4 customer messages"), "{stdout}");
    let m = Table::open(&out.join("messages.parquet"));
    let labels: Vec<Value> = (0..m.len()).map(|r| m.get("sentiment", r)).collect();
    let s = |x: &str| Value::Str(x.into());
    assert_eq!(
        labels,
        vec![s("negative"), Value::Null, Value::Null, s("positive"), s("positive"), Value::Null, s("negative")]
    );
    for r in [0, 3, 4, 6] {
        let p: Vec<f64> = ["sentiment_negative", "sentiment_neutral", "sentiment_positive"]
            .iter()
            .map(|c| m.get(c, r).f64().unwrap())
            .collect();
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-4, "probabilities sum to 1: {p:?}");
        assert!((m.get("sentiment_score", r).f64().unwrap() - (p[2] - p[0])).abs() < 1e-6);
    }
    let c = Table::open(&out.join("conversations.parquet"));
    let first = m.get("sentiment_score", 0).f64().unwrap();
    let last = m.get("sentiment_score", 3).f64().unwrap();
    assert!((c.get("sentiment_start", 0).f64().unwrap() - first).abs() < 1e-6);
    assert!((c.get("sentiment_end", 0).f64().unwrap() - last).abs() < 1e-6);
    assert!((c.get("sentiment_trend", 0).f64().unwrap() - (last - first)).abs() < 1e-6);
    assert!(c.get("sentiment_trend", 0).f64().unwrap() > 1.0, "angry to grateful");
    assert!(c.get("sentiment_trend", 1).f64().unwrap() < -1.0, "grateful to angry");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["model"]["customer_texts"], 4);
}

#[test]
fn no_model_gives_kpis_without_sentiment() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("m.parquet");
    fixture(&f);
    let out = tmp.path().join("out");
    let (code, _, err) =
        run(&["analyze", "--messages", f.to_str().unwrap(), "--out", out.to_str().unwrap(), "--no-model", "-q"]);
    assert_eq!(code, 0, "{err}");
    let m = Table::open(&out.join("messages.parquet"));
    assert!((0..m.len()).all(|r| m.get("sentiment", r) == Value::Null));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_manifest.json")).unwrap()).unwrap();
    assert!(manifest["model"].is_null());
    // The default same_intent reopen rule needs intents: the run says it counted any return.
    assert_eq!(manifest["warnings"]["reopen_match_fallback"]["count"], 1, "{}", manifest["warnings"]);
}

#[test]
fn a_missing_model_is_exit_2_with_the_command_that_fixes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("m.parquet");
    fixture(&f);
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "[model]\nencoder = \"/nonexistent/e5-small-q4.bin\"\n").unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = run(&[
        "analyze",
        "--messages",
        f.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/nonexistent/e5-small-q4.bin") && err.contains("scripts/fetch-model.sh"), "{err}");
    assert!(!out.exists());
}
