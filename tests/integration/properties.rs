//! Property tests of the KPI invariants over generated inputs (no model: these are about the
//! pipeline's bookkeeping, which the model does not touch): every input row is accounted for,
//! the order of input rows does not matter, sharded runs merge into the single run, and FCR
//! rates stay in 0..1 and never count immature conversations.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampSecondArray};
use convoqa::pipeline::{analyze, load_settings, period_kpis, AnalyzeRequest, InputRequest, KpisRequest};
use convoqa::shard::Shard;
use proptest::prelude::*;

use crate::common;

/// One generated message row; `None` fields make invalid rows that must be quarantined.
#[derive(Debug, Clone)]
struct Row {
    conversation: Option<u8>,
    /// Few distinct ids, so redeliveries and conflicting duplicates occur.
    message_id: Option<u8>,
    minute: u32,
    role: &'static str,
    text: &'static str,
}

fn row() -> impl Strategy<Value = Row> {
    (
        prop_oneof![9 => (0u8..12).prop_map(Some), 1 => Just(None)],
        0u32..(6 * 24 * 60),
        prop_oneof![5 => Just("customer"), 4 => Just("agent"), 2 => Just("bot"), 1 => Just("system"), 1 => Just("robot??")],
        prop_oneof![Just("halo kak, paket saya belum sampai"), Just("baik kak, kami cek ya"), Just("makasih"), Just("")],
        prop_oneof![3 => Just(None), 1 => (0u8..16).prop_map(Some)],
    )
        .prop_map(|(conversation, minute, role, text, message_id)| Row { conversation, message_id, minute, role, text })
}

fn write_rows(path: &Path, rows: &[Row]) {
    // A conversation's customer is fixed by its number, as in real exports; customers have
    // several conversations, so reopens happen.
    let batch = RecordBatch::try_from_iter(vec![
        (
            "conversation_id",
            Arc::new(rows.iter().map(|r| r.conversation.map(|c| format!("conv-{c}"))).collect::<StringArray>())
                as ArrayRef,
        ),
        ("message_id", Arc::new(rows.iter().map(|r| r.message_id.map(|m| format!("m-{m}"))).collect::<StringArray>())),
        (
            "sent_at",
            Arc::new(rows.iter().map(|r| Some(1_790_000_000 + r.minute as i64 * 60)).collect::<TimestampSecondArray>()),
        ),
        ("sender_role", Arc::new(rows.iter().map(|r| Some(r.role)).collect::<StringArray>())),
        ("text", Arc::new(rows.iter().map(|r| Some(r.text)).collect::<StringArray>())),
        (
            "customer_id",
            Arc::new(rows.iter().map(|r| r.conversation.map(|c| format!("cust-{}", c % 7))).collect::<StringArray>()),
        ),
    ])
    .unwrap();
    convoqa::write::write_parquet(path, &batch).unwrap();
}

fn run(input: &Path, out: &Path, shard: Option<Shard>) -> convoqa::pipeline::AnalyzeReport {
    run_partitioned(input, out, shard, None)
}

fn run_partitioned(
    input: &Path,
    out: &Path,
    shard: Option<Shard>,
    partitions: Option<u32>,
) -> convoqa::pipeline::AnalyzeReport {
    let mut settings = load_settings(None).unwrap();
    settings.config.model.enabled = false;
    let req = AnalyzeRequest {
        input: InputRequest {
            messages: vec![input.to_path_buf()],
            conversations: vec![],
            as_of_us: None,
            settings,
            show_progress: false,
            shard,
            nightly: None,
        },
        out_dir: out.to_path_buf(),
        redact_all: false,
        previous_dir: None,
        partitions,
        allow_empty: false,
    };
    analyze(&req).unwrap()
}

fn bytes(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap()
}

fn tables() -> impl Iterator<Item = &'static str> {
    std::iter::once("conversations.parquet").chain(common::KPI_FILES)
}

/// CI explores the same cases every run (a gate should not flake on luck); set PROPTEST_RNG_SEED
/// (and PROPTEST_CASES) to explore others: `scripts/explore-properties.sh` does. A failure prints
/// its minimal input; add it to `order_regressions` below once fixed.
fn config() -> ProptestConfig {
    let seed = std::env::var("PROPTEST_RNG_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20_261_123);
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(48);
    ProptestConfig {
        cases,
        failure_persistence: None,
        rng_seed: proptest::test_runner::RngSeed::Fixed(seed),
        ..ProptestConfig::default()
    }
}

/// Shuffles `rows` with `seed`, runs again and requires byte-identical tables (and the same
/// quarantine counts: quarantine rows name their input position, which moved).
fn same_outputs_when_shuffled(
    tmp: &Path,
    rows: &[Row],
    report: &convoqa::pipeline::AnalyzeReport,
    single: &Path,
    seed: u64,
) -> Result<(), TestCaseError> {
    let mut shuffled = rows.to_vec();
    let mut state = seed | 1;
    for i in (1..shuffled.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        shuffled.swap(i, (state % (i as u64 + 1)) as usize);
    }
    let input2 = tmp.join("shuffled.parquet");
    write_rows(&input2, &shuffled);
    let reordered = tmp.join("reordered");
    run(&input2, &reordered, None);
    let manifest: serde_json::Value = serde_json::from_slice(&bytes(&reordered, "run_manifest.json")).unwrap();
    let quarantined: std::collections::BTreeMap<String, u64> = manifest["quarantine_by_reason"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect();
    prop_assert_eq!(&report.manifest.quarantine_by_reason, &quarantined);
    for t in tables() {
        prop_assert!(bytes(single, t) == bytes(&reordered, t), "{} depends on row order", t);
    }
    Ok(())
}

/// Inputs the property test once failed on, kept as plain tests.
#[test]
fn order_regressions() {
    let row = |conversation, message_id, minute, role, text| Row {
        conversation: Some(conversation),
        message_id,
        minute,
        role,
        text,
    };
    let cases = [
        // A customer message and a bot message stamped the same minute were ordered by input
        // position (CI, 2026-11-22).
        vec![
            row(0, None, 0, "customer", "halo kak, paket saya belum sampai"),
            row(0, None, 0, "bot", "makasih"),
            row(0, None, 30, "agent", "baik kak, kami cek ya"),
        ],
        // Conflicting deliveries of one message_id: which is kept must not depend on order.
        vec![
            row(1, Some(3), 5, "customer", "halo kak, paket saya belum sampai"),
            row(1, Some(3), 5, "customer", "makasih"),
            row(1, None, 9, "agent", "baik kak, kami cek ya"),
        ],
    ];
    for rows in cases {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("m.parquet");
        write_rows(&input, &rows);
        let single = tmp.path().join("single");
        let report = run(&input, &single, None);
        for seed in 0..6 {
            same_outputs_when_shuffled(tmp.path(), &rows, &report, &single, seed).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn invariants_hold_for_any_input(rows in prop::collection::vec(row(), 1..80), seed in any::<u64>(), shards in 2u32..5) {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("m.parquet");
        write_rows(&input, &rows);
        let single = tmp.path().join("single");
        let report = run(&input, &single, None);

        // Every input row is used, quarantined or dropped as a duplicate.
        let acc = report.manifest.rows["messages"];
        prop_assert_eq!(acc.rows_in, rows.len() as u64);
        prop_assert_eq!(acc.rows_used + acc.rows_quarantined + acc.duplicates_dropped, acc.rows_in);
        prop_assert!(acc.rows_quarantined >= rows.iter().filter(|r| r.conversation.is_none() || r.role == "robot??").count() as u64);

        // FCR: rates in 0..1, immature conversations never counted.
        for r in &report.conversations {
            if r.is_resolved() && !r.link.fcr_mature {
                prop_assert!(r.link.fcr.is_none() && r.link.reopened.is_none(), "{}", r.conversation_id);
            }
        }
        let k = &report.kpis.overall;
        for rate in [k.fcr_rate, k.reopen_rate].into_iter().flatten() {
            prop_assert!((0.0..=1.0).contains(&rate));
        }
        let known = report.conversations.iter().filter(|r| r.link.fcr.is_some()).count() as u64;
        prop_assert_eq!(known, k.fcr_mature_conversations);
        prop_assert_eq!(k.fcr_mature_conversations + k.fcr_immature_conversations, k.resolved_conversations);

        // The order of input rows does not matter.
        same_outputs_when_shuffled(tmp.path(), &rows, &report, &single, seed)?;

        // Spilled to partitions on disk and processed one at a time: the same files.
        let partitioned = tmp.path().join("partitioned");
        let p = run_partitioned(&input, &partitioned, None, Some(shards));
        prop_assert_eq!(&p.manifest.rows, &report.manifest.rows);
        for t in tables().chain(["messages.parquet", "qa_review.parquet", "quarantine.parquet"]) {
            prop_assert!(bytes(&single, t) == bytes(&partitioned, t), "{} differs when run in {} partitions", t, shards);
        }

        // Sharded runs merge into the single run, and account for every row once.
        let parts: Vec<PathBuf> = (0..shards).map(|i| tmp.path().join(format!("shard-{i}"))).collect();
        let mut used = 0;
        for (i, dir) in parts.iter().enumerate() {
            let r = run(&input, dir, Some(Shard { index: i as u32, count: shards }));
            let a = r.manifest.rows["messages"];
            prop_assert_eq!(a.rows_used + a.rows_quarantined + a.duplicates_dropped + a.rows_other_shards, a.rows_in);
            used += a.rows_used + a.rows_quarantined + a.duplicates_dropped;
        }
        prop_assert_eq!(used, rows.len() as u64);
        let merged = tmp.path().join("merged");
        period_kpis(&KpisRequest {
            conversations: parts.iter().map(|d| d.join("conversations.parquet")).collect(),
            messages: parts.iter().map(|d| d.join("messages.parquet")).collect(),
            from: None,
            to: None,
            rescore: true,
            settings: { let mut s = load_settings(None).unwrap(); s.config.model.enabled = false; s },
            out_dir: merged.clone(),
        }).unwrap();
        for t in tables() {
            prop_assert!(bytes(&single, t) == bytes(&merged, t), "{} differs after merging {} shards", t, shards);
        }
    }
}
