//! The output store, read back: conversations.parquet written by earlier `analyze` runs (or
//! shards of one run) becomes per-conversation rows again, so KPI tables for any period can be
//! recomputed and shards merged without re-running the model.

use std::path::{Path, PathBuf};

use arrow::array::AsArray;
use arrow::datatypes::{DataType, TimeUnit, TimestampMicrosecondType};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::row::ConversationRow;
use crate::tables::{conform, Columns};

/// Files of one stored table: files as given; in a directory (a run's output, or a nightly store
/// with date=... partitions) the files named `<table>.parquet`, or every .parquet file when there
/// are none (a directory of part files).
pub fn discover_table(paths: &[PathBuf], table: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let name = format!("{table}.parquet");
    for path in paths {
        let found = crate::ingest::discover_files(std::slice::from_ref(path), table)?;
        if path.is_dir() && found.iter().any(|f| f.file_name().is_some_and(|n| n == name.as_str())) {
            files.extend(found.into_iter().filter(|f| f.file_name().is_some_and(|n| n == name.as_str())));
        } else {
            files.extend(found);
        }
    }
    Ok(files)
}

/// Every row of the given conversations tables, sorted by conversation_id (the order `analyze`
/// writes), failing on a conversation_id that appears twice.
pub fn read_conversation_rows(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<ConversationRow>)> {
    let files = discover_table(paths, "conversations")?;
    // Sized from the files' metadata, and sorted in place: the rows are most of the memory.
    let mut rows: Vec<ConversationRow> = Vec::with_capacity(files.iter().map(|f| row_count(f).unwrap_or(0)).sum());
    for path in &files {
        let part = read_rows_file(path)?;
        if rows.is_empty() {
            rows = part; // one file (the common case): no second copy
        } else {
            rows.extend(part);
        }
    }
    rows.sort_unstable_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
    if let Some(w) = rows.windows(2).find(|w| w[0].conversation_id == w[1].conversation_id) {
        // Rare: read the ids again to name the files.
        let id = &w[0].conversation_id;
        let holding: Vec<&PathBuf> = files
            .iter()
            .filter(|f| read_rows_file(f).is_ok_and(|r| r.iter().any(|r| &r.conversation_id == id)))
            .collect();
        let (first, second) = match holding.as_slice() {
            [a, b, ..] => (*a, *b),
            [a] => (*a, *a),
            [] => (&files[0], &files[0]),
        };
        return Err(Error::input(
            second,
            format!("conversation {id:?} is also in {}", first.display()),
            "pass each conversation once: the outputs of disjoint shards or periods, not overlapping runs",
        ));
    }
    Ok((files, rows))
}

/// Rows in a Parquet file, from its footer.
fn row_count(path: &Path) -> Option<usize> {
    let file = std::fs::File::open(path).ok()?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).ok()?;
    usize::try_from(builder.metadata().file_metadata().num_rows()).ok()
}

/// The rows of one conversations table, in file order. Where the file has `evidence_<signal>`
/// columns (a partitioned run's spill, write::rows_spill_batch), the signals' evidence too.
pub fn read_rows_file(path: &Path) -> Result<Vec<ConversationRow>> {
    crate::ingest::guard_corrupt(path, "conversations", || {
        let file = std::fs::File::open(path).map_err(|e| Error::read(path, "opening", e))?;
        let reader = ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.build())
            .map_err(|e| Error::read(path, "reading Parquet", e))?;
        let mut out = Vec::with_capacity(row_count(path).unwrap_or(0));
        for batch in reader {
            let batch = batch.map_err(|e| Error::read(path, "reading Parquet", e))?;
            out.extend(crate::tables::conversations::from_batch(batch, path)?);
        }
        Ok(out)
    })
}

/// sent_at of the customer messages of the given conversations, from stored messages.parquet
/// files (only conversation_id, sent_at and sender_role are read).
pub fn read_customer_message_times(
    paths: &[PathBuf],
    conversations: &std::collections::HashSet<&str>,
) -> Result<(Vec<PathBuf>, Vec<i64>)> {
    use parquet::arrow::ProjectionMask;
    let fix = "pass messages.parquet files (or directories of them) written by `convoqa analyze`";
    let files = discover_table(paths, "messages")?;
    let mut times = Vec::new();
    for path in &files {
        let file = std::fs::File::open(path).map_err(|e| Error::read(path, "opening", e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::read(path, "reading Parquet", e))?;
        let schema = builder.parquet_schema();
        let wanted = ["conversation_id", "sent_at", "sender_role"];
        let indices: Vec<usize> =
            wanted
                .iter()
                .map(|w| {
                    schema.columns().iter().position(|c| c.name() == *w).ok_or_else(|| {
                        Error::input(path, format!("no column {w:?}: not a convoqa messages table"), fix)
                    })
                })
                .collect::<Result<_>>()?;
        let mask = ProjectionMask::leaves(schema, indices);
        let reader = builder.with_projection(mask).build().map_err(|e| Error::read(path, "reading Parquet", e))?;
        for batch in reader {
            let batch = conform(batch.map_err(|e| Error::read(path, "reading Parquet", e))?, path)?;
            let c = Columns { batch: &batch, path };
            let ids = c.column("conversation_id", &DataType::Utf8)?.as_string::<i32>();
            let roles = c.column("sender_role", &DataType::Utf8)?.as_string::<i32>();
            let sent = c
                .column("sent_at", &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))?
                .as_primitive::<TimestampMicrosecondType>();
            for i in 0..batch.num_rows() {
                if roles.value(i) == "customer" && conversations.contains(ids.value(i)) {
                    times.push(sent.value(i));
                }
            }
        }
    }
    Ok((files, times))
}
