//! Nightly runs (`analyze --date D`): a return after midnight is linked to yesterday's
//! conversation, yesterday's FCR matures in tonight's run, nights are idempotent, and the store's
//! per-conversation rows give period KPIs.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampSecondArray};
use common::{run_ok, Table, Value};

const DAY1: i64 = 1_795_564_800; // 2026-11-25T00:00:00Z
const H: i64 = 3600;

fn write_inputs(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    // (conversation, customer, seconds, role, text)
    let msgs: Vec<(&str, &str, i64, &str, &str)> = vec![
        ("conv-a", "cust-x", DAY1 + 22 * H, "customer", "kak paket INV/2026/11100 belum sampai, sudah 5 hari"),
        (
            "conv-a",
            "cust-x",
            DAY1 + 22 * H + 300,
            "agent",
            "Baik kak, kami cek ke kurir ya. Sudah kami minta percepat.",
        ),
        ("conv-c", "cust-y", DAY1 + 20 * H, "customer", "voucher GAJIAN50 gak bisa dipakai"),
        ("conv-c", "cust-y", DAY1 + 20 * H + 120, "agent", "Sudah kami aktifkan ya kak, silakan dicoba lagi"),
        ("conv-c", "cust-y", DAY1 + 20 * H + 600, "customer", "udah bisa kak, makasih"),
        // After midnight: customer x is back about the same order.
        ("conv-b", "cust-x", DAY1 + 33 * H, "customer", "paket INV/2026/11100 masih belum sampai juga kak"),
        ("conv-b", "cust-x", DAY1 + 33 * H + 600, "agent", "Mohon maaf kak, kami eskalasi ke tim ekspedisi"),
    ];
    let messages = dir.join("messages.parquet");
    let col = |f: &dyn Fn(&(&str, &str, i64, &str, &str)) -> String| {
        Arc::new(msgs.iter().map(|m| Some(f(m))).collect::<StringArray>()) as ArrayRef
    };
    let batch = RecordBatch::try_from_iter(vec![
        ("conversation_id", col(&|m| m.0.to_string())),
        ("customer_id", col(&|m| m.1.to_string())),
        (
            "sent_at",
            Arc::new(msgs.iter().map(|m| Some(m.2)).collect::<TimestampSecondArray>().with_timezone("UTC")) as ArrayRef,
        ),
        ("sender_role", col(&|m| m.3.to_string())),
        ("text", col(&|m| m.4.to_string())),
        ("channel", col(&|_| "whatsapp".to_string())),
    ])
    .unwrap();
    convoqa::write::write_parquet(&messages, &batch).unwrap();
    let conversations = dir.join("conversations.parquet");
    let convs = [
        ("conv-a", "cust-x", DAY1 + 22 * H, DAY1 + 23 * H),
        ("conv-c", "cust-y", DAY1 + 20 * H, DAY1 + 20 * H + 900),
        ("conv-b", "cust-x", DAY1 + 33 * H, DAY1 + 34 * H),
    ];
    let batch = RecordBatch::try_from_iter(vec![
        ("conversation_id", Arc::new(convs.iter().map(|c| Some(c.0)).collect::<StringArray>()) as ArrayRef),
        ("customer_id", Arc::new(convs.iter().map(|c| Some(c.1)).collect::<StringArray>())),
        ("status", Arc::new(convs.iter().map(|_| Some("resolved")).collect::<StringArray>())),
        (
            "created_at",
            Arc::new(convs.iter().map(|c| Some(c.2)).collect::<TimestampSecondArray>().with_timezone("UTC")),
        ),
        (
            "resolved_at",
            Arc::new(convs.iter().map(|c| Some(c.3)).collect::<TimestampSecondArray>().with_timezone("UTC")),
        ),
    ])
    .unwrap();
    convoqa::write::write_parquet(&conversations, &batch).unwrap();
    (messages, conversations)
}

fn night(store: &Path, messages: &Path, conversations: &Path, config: &Path, day: &str, as_of: &str) {
    run_ok(&[
        "analyze",
        "--messages",
        messages.to_str().unwrap(),
        "--conversations",
        conversations.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
        "--out",
        store.to_str().unwrap(),
        "--date",
        day,
        "--as-of",
        as_of,
        "-q",
    ]);
}

fn rows(partition: &Path) -> std::collections::HashMap<String, (Value, Value, Value, Value)> {
    let t = Table::open(&partition.join("conversations.parquet"));
    (0..t.len())
        .map(|r| {
            (
                t.get("conversation_id", r).str().unwrap().to_string(),
                (t.get("fcr_mature", r), t.get("reopened", r), t.get("fcr", r), t.get("reopen_of", r)),
            )
        })
        .collect()
}

#[test]
fn a_return_after_midnight_is_linked_and_fcr_matures_the_next_night() {
    let tmp = tempfile::tempdir().unwrap();
    let (messages, conversations) = write_inputs(tmp.path());
    let config = tmp.path().join("c.toml");
    std::fs::write(&config, "reopen_window_hours = 24.0\n").unwrap();
    let store = tmp.path().join("store");
    let (d1, d2) = (store.join("date=2026-11-25"), store.join("date=2026-11-26"));

    night(&store, &messages, &conversations, &config, "2026-11-25", "2026-11-25T23:59:59Z");
    let first = rows(&d1);
    assert_eq!(first.len(), 2, "only the conversations created that day");
    assert_eq!(
        first["conv-a"],
        (Value::Bool(false), Value::Null, Value::Null, Value::Null),
        "immature on its own night"
    );
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(d1.join("run_manifest.json")).unwrap()).unwrap();
    assert_eq!(m["rows"]["messages"]["rows_other_days"], 2, "conv-b's messages belong to the next night");
    assert_eq!(m["rows"]["conversations"]["rows_other_days"], 1);

    night(&store, &messages, &conversations, &config, "2026-11-26", "2026-11-26T23:59:59Z");
    let tonight = rows(&d2);
    assert_eq!(tonight["conv-b"].3, Value::Str("conv-a".into()), "linked across midnight");
    let b = Table::open(&d2.join("conversations.parquet"));
    assert_eq!(
        b.get("reopen_reason", 0),
        Value::Str("same_reference".into()),
        "by the order number, from the stored topic"
    );
    let yesterday = rows(&d1);
    assert_eq!(
        yesterday["conv-a"],
        (Value::Bool(true), Value::Bool(true), Value::Bool(false), Value::Null),
        "matured as reopened"
    );
    assert_eq!(
        yesterday["conv-c"],
        (Value::Bool(true), Value::Bool(false), Value::Bool(true), Value::Null),
        "matured as FCR"
    );
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(d2.join("run_manifest.json")).unwrap()).unwrap();
    assert_eq!(m["nightly"]["earlier_conversations_relinked"], 2);

    // The same night again: the same files.
    let snapshot = |p: &Path| std::fs::read(p.join("conversations.parquet")).unwrap();
    let (s1, s2) = (snapshot(&d1), snapshot(&d2));
    night(&store, &messages, &conversations, &config, "2026-11-26", "2026-11-26T23:59:59Z");
    assert!(snapshot(&d1) == s1 && snapshot(&d2) == s2, "a rerun of a night changes nothing");

    // Period KPIs over the store, from the updated rows.
    let period = tmp.path().join("period");
    let said = run_ok(&[
        "kpis",
        "--conversations",
        store.to_str().unwrap(),
        "--messages",
        store.to_str().unwrap(),
        "--out",
        period.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert!(said.contains("3 of 3"), "{said}");
    let k = Table::open(&period.join("kpi_overall.parquet"));
    assert_eq!(
        k.get("fcr_rate", 0),
        Value::F64(0.5),
        "conv-c first-contact resolved, conv-a reopened, conv-b not yet known"
    );
    assert_eq!(k.get("fcr_immature_conversations", 0), Value::U64(1));
}
