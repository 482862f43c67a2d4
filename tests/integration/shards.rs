//! `analyze --shard I/N` then `convoqa kpis --rescore`: the same per-conversation rows and KPI
//! tables as one run over everything, and every input row accounted for exactly once.

use crate::common;

use std::path::Path;

use common::{assert_tables_close, demo, run, run_ok, KPI_FILES};

fn merged_files() -> impl Iterator<Item = &'static str> {
    std::iter::once("conversations.parquet").chain(KPI_FILES)
}

fn merge(shards: &[std::path::PathBuf], out: &Path) {
    let mut args = vec![
        "kpis".to_string(),
        "--rescore".into(),
        "--out".into(),
        out.display().to_string(),
        "--conversations".into(),
    ];
    args.extend(shards.iter().map(|d| d.join("conversations.parquet").display().to_string()));
    args.push("--messages".into());
    args.extend(shards.iter().map(|d| d.join("messages.parquet").display().to_string()));
    run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

fn manifest(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("run_manifest.json")).unwrap()).unwrap()
}

#[test]
fn sharded_runs_merge_into_the_single_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 600, 19);
    let (messages, conversations) = (data.join("messages"), data.join("conversations.parquet"));
    let analyze = |out: &Path, shard: Option<&str>| {
        let mut args = vec![
            "analyze",
            "--messages",
            messages.to_str().unwrap(),
            "--conversations",
            conversations.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "-q",
        ];
        if let Some(s) = shard {
            args.extend(["--shard", s]);
        }
        run_ok(&args);
    };
    let single = tmp.path().join("single");
    analyze(&single, None);
    let shards: Vec<_> = (0..3).map(|i| tmp.path().join(format!("shard-{i}"))).collect();
    for (i, dir) in shards.iter().enumerate() {
        analyze(dir, Some(&format!("{i}/3")));
    }

    // Every input row is in exactly one shard's accounting.
    let one = manifest(&single);
    for table in ["messages", "conversations"] {
        let sum = |field: &str| shards.iter().map(|d| manifest(d)["rows"][table][field].as_u64().unwrap()).sum::<u64>();
        for field in ["rows_used", "rows_quarantined", "duplicates_dropped"] {
            assert_eq!(sum(field), one["rows"][table][field].as_u64().unwrap(), "{table}.{field}");
        }
        let rows_in = one["rows"][table]["rows_in"].as_u64().unwrap();
        assert_eq!(sum("rows_other_shards"), 2 * rows_in, "{table}: each row is another shard's in the other two");
    }
    let conversations_out: u64 = shards.iter().map(|d| manifest(d)["conversations_out"].as_u64().unwrap()).sum();
    assert_eq!(conversations_out, one["conversations_out"].as_u64().unwrap());
    assert!(
        shards.iter().all(|d| manifest(d)["conversations_out"].as_u64().unwrap() > 100),
        "the hash spreads customers"
    );

    // Model outputs agree to float rounding: which texts share an encoder batch changes the
    // last bits of f32 arithmetic. Everything else (intents, links, flags, counts) is exact.
    let merged = tmp.path().join("merged");
    merge(&shards, &merged);
    for f in merged_files() {
        assert_tables_close(&merged.join(f), &single.join(f), 1e-5);
    }
}

#[test]
fn without_the_model_merged_shards_are_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 400, 23);
    let (messages, conversations) = (data.join("messages"), data.join("conversations.parquet"));
    let analyze = |out: &Path, shard: Option<String>| {
        let mut args = vec![
            "analyze".to_string(),
            "--messages".into(),
            messages.display().to_string(),
            "--conversations".into(),
            conversations.display().to_string(),
            "--out".into(),
            out.display().to_string(),
            "-q".into(),
            "--no-model".into(),
        ];
        args.extend(shard.map(|s| ["--shard".to_string(), s]).into_iter().flatten());
        run_ok(&args.iter().map(String::as_str).collect::<Vec<_>>());
    };
    let single = tmp.path().join("single");
    analyze(&single, None);
    let shards: Vec<_> = (0..4).map(|i| tmp.path().join(format!("shard-{i}"))).collect();
    for (i, dir) in shards.iter().enumerate() {
        analyze(dir, Some(format!("{i}/4")));
    }
    let merged = tmp.path().join("merged");
    merge(&shards, &merged);
    for f in merged_files() {
        assert!(
            std::fs::read(merged.join(f)).unwrap() == std::fs::read(single.join(f)).unwrap(),
            "{f}: merged shards differ from the single run"
        );
    }
}

#[test]
fn a_bad_shard_is_a_config_error() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 30, 2);
    for bad in ["3/3", "x/2", "1"] {
        let (code, _, stderr) = run(&[
            "analyze",
            "--messages",
            data.join("messages").to_str().unwrap(),
            "--out",
            tmp.path().join("o").to_str().unwrap(),
            "--shard",
            bad,
            "--no-model",
        ]);
        assert_eq!(code, 2, "{bad}: {stderr}");
        assert!(stderr.contains("--shard"), "{stderr}");
    }
}
