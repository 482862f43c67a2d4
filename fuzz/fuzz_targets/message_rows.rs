//! Arbitrary message rows (ids, string timestamps in any shape, roles, texts, customers) through
//! the reader, the assembler, per-conversation features and reopen linking.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use arrow::array::{ArrayRef, BooleanArray, RecordBatch, StringArray};
use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

#[derive(Arbitrary, Debug)]
struct Row {
    conversation_id: Option<String>,
    sent_at: Option<String>,
    sender_role: Option<String>,
    text: Option<String>,
    customer_id: Option<String>,
    message_id: Option<String>,
    is_auto_reply: Option<bool>,
}

fuzz_target!(|rows: Vec<Row>| {
    let col = |f: fn(&Row) -> Option<&str>| Arc::new(rows.iter().map(f).collect::<StringArray>()) as ArrayRef;
    let batch = RecordBatch::try_from_iter(vec![
        ("conversation_id", col(|r| r.conversation_id.as_deref())),
        ("sent_at", col(|r| r.sent_at.as_deref())),
        ("sender_role", col(|r| r.sender_role.as_deref())),
        ("text", col(|r| r.text.as_deref())),
        ("customer_id", col(|r| r.customer_id.as_deref())),
        ("message_id", col(|r| r.message_id.as_deref())),
        ("is_auto_reply", Arc::new(rows.iter().map(|r| r.is_auto_reply).collect::<BooleanArray>()) as ArrayRef),
    ]);
    let Ok(batch) = batch else { return };
    let file = tempfile::Builder::new().suffix(".parquet").tempfile().expect("temp file");
    convoqa::write::write_parquet(file.path(), &batch).expect("write");
    common::read_assemble_link(file.path());
});
