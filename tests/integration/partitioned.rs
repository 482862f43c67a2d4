//! `analyze --partitions N`: the input spilled to N customer partitions on disk and processed one
//! at a time gives the one-pass run's outputs (byte-identical without the model; with it, the
//! model's floats within 1e-5, since encoder batches are made per partition).

use crate::common;

use std::path::Path;

use common::{assert_tables_close, demo, run, run_ok, Table, KPI_FILES};

fn analyze(data: &Path, out: &Path, extra: &[&str]) {
    let (messages, conversations) = (data.join("messages"), data.join("conversations.parquet"));
    let mut args = vec![
        "analyze",
        "--messages",
        messages.to_str().unwrap(),
        "--conversations",
        conversations.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend(extra);
    run_ok(&args);
}

fn parquet_outputs() -> impl Iterator<Item = &'static str> {
    ["conversations.parquet", "messages.parquet", "qa_review.parquet", "quarantine.parquet", "voc_backlog.parquet"]
        .into_iter()
        .chain(KPI_FILES)
}

#[test]
fn without_the_model_partitions_give_the_same_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 400, 21);
    let one = tmp.path().join("one");
    let parts = tmp.path().join("parts");
    analyze(&data, &one, &["--no-model"]);
    analyze(&data, &parts, &["--no-model", "--partitions", "5"]);
    for t in parquet_outputs().chain(["qa_review.csv", "voc_backlog.md"]) {
        assert!(std::fs::read(one.join(t)).unwrap() == std::fs::read(parts.join(t)).unwrap(), "{t} differs");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(parts.join("run_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["partitions"], 5);
    let one_manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(one.join("run_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["rows"], one_manifest["rows"]);
    // The spill files are gone.
    let leftovers: Vec<_> = std::fs::read_dir(&parts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn with_the_model_partitions_give_the_same_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 300, 22);
    let one = tmp.path().join("one");
    let parts = tmp.path().join("parts");
    analyze(&data, &one, &[]);
    analyze(&data, &parts, &["--partitions", "3"]);
    for t in parquet_outputs() {
        if t == "voc_backlog.parquet" {
            continue; // centroids: compared below by theme
        }
        assert_tables_close(&one.join(t), &parts.join(t), 1e-5);
    }
    let (a, b) = (Table::open(&one.join("voc_backlog.parquet")), Table::open(&parts.join("voc_backlog.parquet")));
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 0, "the demo has complaints");
    for r in 0..a.len() {
        for c in ["intent", "title", "conversations", "messages", "quotes"] {
            assert_eq!(a.get(c, r), b.get(c, r), "voc_backlog {c}[{r}]");
        }
    }
}

#[test]
fn zero_partitions_is_refused_and_shards_and_nights_can_be_partitioned() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 50, 23);
    let out = tmp.path().join("out");
    let messages = data.join("messages");
    let args = |extra: &[&'static str]| {
        let mut args: Vec<String> = ["analyze", "--no-model", "--messages", messages.to_str().unwrap(), "--out"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.push(out.to_str().unwrap().to_string());
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let (code, _, stderr) = run(&args(&["--partitions", "0"]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--partitions"), "{stderr}");
    // The same bytes as without --partitions: tests/integration/golden.rs.
    for extra in [["--partitions", "2", "--shard", "0/2"], ["--partitions", "2", "--date", "2026-11-03"]] {
        let (code, _, stderr) = run(&args(&extra).iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code, 0, "{extra:?}: {stderr}");
    }
}
