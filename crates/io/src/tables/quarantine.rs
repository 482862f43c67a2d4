//! quarantine.parquet (every rejected input row, its reason and source), and the one-row row
//! accounting `convoqa stream` sends beside its records.

use arrow::array::RecordBatch;

use crate::error::Result;
use crate::model::QuarantinedRow;
use crate::write::TableBuilder;

/// quarantine.parquet: every rejected row, its reason, and where it came from.
pub fn to_batch(rows: &[QuarantinedRow], source_path: impl Fn(&QuarantinedRow) -> String) -> Result<RecordBatch> {
    let mut t = TableBuilder::new();
    t.str("table", rows.iter().map(|q| Some(q.table)));
    t.str("source_file", rows.iter().map(|q| Some(source_path(q))));
    t.u64("source_row", rows.iter().map(|q| q.source.row));
    t.str("reason", rows.iter().map(|q| Some(q.reason.as_str())));
    t.str("detail", rows.iter().map(|q| Some(&q.detail)));
    t.str("conversation_id", rows.iter().map(|q| q.conversation_id.as_deref()));
    t.str("message_id", rows.iter().map(|q| q.message_id.as_deref()));
    t.str("sent_at_raw", rows.iter().map(|q| q.sent_at_raw.as_deref()));
    t.str("sender_role_raw", rows.iter().map(|q| q.sender_role_raw.as_deref()));
    t.str("text", rows.iter().map(|q| q.text.as_deref()));
    t.finish()
}

/// One row of row accounting, for the stream's `accounting` record: the engine sums them over
/// partitions and checks them against its input.
pub fn accounting_batch(acc: &crate::diagnostics::RowAccounting) -> Result<RecordBatch> {
    let mut t = TableBuilder::new();
    t.u64("rows_in", std::iter::once(acc.rows_in));
    t.u64("rows_used", std::iter::once(acc.rows_used));
    t.u64("rows_quarantined", std::iter::once(acc.rows_quarantined));
    t.u64("duplicates_dropped", std::iter::once(acc.duplicates_dropped));
    t.finish()
}
