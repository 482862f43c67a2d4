//! Redaction on real text: IBM's Twitter customer-care dialogs in ../shared/data carry real
//! e-mail addresses, handles, phone numbers and links. Skipped (with a message) where the shared
//! data is absent.

use std::path::PathBuf;

use convoqa::redact::{redact, PiiKind};

#[test]
fn real_customer_care_text_leaves_no_address_handle_or_phone() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/conversations/twitter-customer-care/dev.json");
    let Ok(raw) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} not found", path.display());
        return;
    };
    let dialogs: serde_json::Value = serde_json::from_str(&raw).unwrap();
    let email = regex::Regex::new(r"(?i)[a-z0-9._%+-]+@[a-z0-9-]+\.[a-z]{2,}").unwrap();
    let handle = regex::Regex::new(r"(?:^|\s)@[A-Za-z0-9_]{2,}").unwrap();
    let phone = regex::Regex::new(r"(?:\+62|\b08)\d{8,}").unwrap();
    let mut counts = std::collections::BTreeMap::<PiiKind, usize>::new();
    let mut texts = 0;
    for d in dialogs.as_array().unwrap() {
        for m in d["dialogContent"].as_array().unwrap() {
            let text = m["message"].as_str().unwrap();
            texts += 1;
            let r = redact(text);
            for k in &r.found {
                *counts.entry(*k).or_default() += 1;
            }
            assert!(!email.is_match(&r.text), "e-mail left in {:?}", r.text);
            assert!(!handle.is_match(&r.text), "handle left in {:?}", r.text);
            assert!(!phone.is_match(&r.text), "phone left in {:?}", r.text);
        }
    }
    eprintln!("{texts} real messages, redacted: {counts:?}");
    assert!(counts.get(&PiiKind::Email).copied().unwrap_or(0) >= 3, "the set has real e-mail addresses: {counts:?}");
    assert!(counts.get(&PiiKind::Handle).copied().unwrap_or(0) >= 300, "{counts:?}");
}

use crate::common;

/// messages.parquet keeps the team's own text unless `--redact-all` is given.
#[test]
fn redact_all_redacts_messages_text_and_the_default_keeps_it() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampSecondArray};

    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("m.parquet");
    let batch = RecordBatch::try_from_iter(vec![
        ("conversation_id", Arc::new(StringArray::from(vec!["a", "a"])) as ArrayRef),
        ("sent_at", Arc::new(TimestampSecondArray::from(vec![1_790_000_000, 1_790_000_060]))),
        ("sender_role", Arc::new(StringArray::from(vec!["customer", "agent"]))),
        ("text", Arc::new(StringArray::from(vec!["email saya budi@example.co.id, wa 081234567890", "Baik kak"]))),
        ("customer_id", Arc::new(StringArray::from(vec!["c1", "c1"]))),
    ])
    .unwrap();
    convoqa::write::write_parquet(&input, &batch).unwrap();
    for (flag, want) in [
        (None, "email saya budi@example.co.id, wa 081234567890"),
        (Some("--redact-all"), "email saya [EMAIL], wa [PHONE]"),
    ] {
        let out = tmp.path().join(format!("out-{}", flag.is_some()));
        let mut args =
            vec!["analyze", "--messages", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "--no-model", "-q"];
        args.extend(flag);
        common::run_ok(&args);
        let msgs = common::Table::open(&out.join("messages.parquet"));
        assert_eq!(msgs.get("text", 0).str(), Some(want), "{flag:?}");
    }
}
