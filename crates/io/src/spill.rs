//! Spill files for `analyze --partitions N`: the input's messages split by customer partition
//! (Arrow IPC), the per-partition parts of the outputs, and the merge of sorted parts into one
//! output file. Removed when the run ends; a killed run's are removed by the next run
//! (write::remove_dead_staging).

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{Int64Type, UInt32Type, UInt64Type, UInt8Type};

use crate::error::{Error, Result};
use crate::model::{Message, Role, RowRef};
use crate::tables::messages;
use crate::write::StagedOutput;

/// Messages buffered per partition before they are appended to its spill file.
const SPILL_BATCH: usize = 1024;
/// Rows per batch read from each part while merging (every part has one open at a time).
const MERGE_READ_BATCH: usize = crate::write::SPILL_ROW_GROUP;
/// Rows per batch of the merged messages.parquet: a multiple of the Parquet writer's mini-batch
/// (1024), so its pages break where the one-pass run's do and the file is byte-identical.
const MERGE_BATCH: usize = crate::write::ROWS_PER_WRITE;

/// Hands memory freed by the partitions (their messages, the model) back to the system. glibc's
/// allocator keeps freed memory for reuse, so without this the peak of the partition loop would
/// stay resident under the rows read back afterwards.
pub fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The spill files of one run, next to its outputs (same disk as the user chose), removed when
/// the run ends; a killed run's are removed by the next run (write::remove_dead_staging).
pub struct SpillDir {
    pub path: PathBuf,
}

impl SpillDir {
    pub fn new(out_dir: &Path) -> Result<SpillDir> {
        std::fs::create_dir_all(out_dir).map_err(|e| Error::write(out_dir, e))?;
        let path = out_dir.join(format!("{}{}", crate::write::SPILL_PREFIX, crate::write::run_tag()));
        if path.exists() {
            std::fs::remove_dir_all(&path).map_err(|e| Error::write(&path, e))?;
        }
        std::fs::create_dir(&path).map_err(|e| Error::write(&path, e))?;
        Ok(SpillDir { path })
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Appends messages to one partition's spill file (Arrow IPC), a batch at a time.
pub struct SpillWriter {
    path: PathBuf,
    buffer: Vec<Message>,
    writer: arrow::ipc::writer::StreamWriter<BufWriter<File>>,
}

impl SpillWriter {
    pub fn create(path: &Path) -> Result<SpillWriter> {
        let file = File::create(path).map_err(|e| Error::write(path, e))?;
        let writer = arrow::ipc::writer::StreamWriter::try_new(BufWriter::new(file), &spill_batch(&[])?.schema())
            .map_err(|e| Error::write(path, e))?;
        Ok(SpillWriter { path: path.to_path_buf(), buffer: Vec::with_capacity(SPILL_BATCH), writer })
    }

    pub fn push(&mut self, m: Message) -> Result<()> {
        self.buffer.push(m);
        if self.buffer.len() >= SPILL_BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if !self.buffer.is_empty() {
            let batch = spill_batch(&self.buffer)?;
            self.writer.write(&batch).map_err(|e| Error::write(&self.path, e))?;
            self.buffer.clear();
        }
        Ok(())
    }

    pub fn finish(mut self) -> Result<PathBuf> {
        self.flush()?;
        self.writer.finish().map_err(|e| Error::write(&self.path, e))?;
        Ok(self.path)
    }
}

/// Messages as a spill batch: every field, so reading it back gives the same messages.
fn spill_batch(messages: &[Message]) -> Result<RecordBatch> {
    let s = |f: fn(&Message) -> Option<&str>| Arc::new(messages.iter().map(f).collect::<StringArray>()) as ArrayRef;
    // Declared nullable throughout: the schema of the first (possibly empty) batch is the file's.
    RecordBatch::try_from_iter_with_nullable(vec![
        ("conversation_id", s(|m| Some(m.conversation_id.as_str())), true),
        ("thread_id", s(|m| Some(m.thread_id.as_str())), true),
        ("message_id", s(|m| m.message_id.as_deref()), true),
        ("sent_at_us", Arc::new(messages.iter().map(|m| m.sent_at_us).collect::<Int64Array>()) as ArrayRef, true),
        (
            "role",
            Arc::new(
                messages
                    .iter()
                    .map(|m| Role::ALL.iter().position(|r| *r == m.role).expect("a role") as u8)
                    .collect::<UInt8Array>(),
            ),
            true,
        ),
        ("text", s(|m| m.text.as_deref()), true),
        ("customer_id", s(|m| m.customer_id.as_deref()), true),
        ("channel", s(|m| m.channel.as_deref()), true),
        ("agent_id", s(|m| m.agent_id.as_deref()), true),
        ("is_auto_reply", Arc::new(messages.iter().map(|m| Some(m.is_auto_reply)).collect::<BooleanArray>()), true),
        ("source_file", Arc::new(messages.iter().map(|m| m.source.file).collect::<UInt32Array>()), true),
        ("source_row", Arc::new(messages.iter().map(|m| m.source.row).collect::<UInt64Array>()), true),
    ])
    .map_err(Error::arrow("spill batch"))
}

pub fn read_spill(path: &Path) -> Result<Vec<Message>> {
    let file = File::open(path).map_err(|e| Error::read(path, "opening a spill file", e))?;
    let reader = arrow::ipc::reader::StreamReader::try_new(BufReader::new(file), None)
        .map_err(|e| Error::read(path, "reading a spill file", e))?;
    let mut out = Vec::new();
    for batch in reader {
        let b = batch.map_err(|e| Error::read(path, "reading a spill file", e))?;
        let col = |i: usize| b.column(i);
        let strs = |i: usize| col(i).as_string::<i32>();
        let opt = |i: usize, r: usize| strs(i).is_valid(r).then(|| strs(i).value(r).to_string());
        let (sent, role, auto) =
            (col(3).as_primitive::<Int64Type>(), col(4).as_primitive::<UInt8Type>(), col(9).as_boolean());
        let (file_idx, row) = (col(10).as_primitive::<UInt32Type>(), col(11).as_primitive::<UInt64Type>());
        for r in 0..b.num_rows() {
            out.push(Message {
                conversation_id: strs(0).value(r).to_string(),
                thread_id: strs(1).value(r).to_string(),
                message_id: opt(2, r),
                sent_at_us: sent.value(r),
                role: Role::ALL[role.value(r) as usize],
                text: opt(5, r),
                customer_id: opt(6, r),
                channel: opt(7, r),
                agent_id: opt(8, r),
                is_auto_reply: auto.value(r),
                source: RowRef { file: file_idx.value(r), row: row.value(r) },
            });
        }
    }
    Ok(out)
}

/// Merges the partitions' messages.parquet parts (each sorted by conversation_id, a
/// conversation in one part) into the stage's messages.parquet in conversation_id order.
pub fn merge_messages(parts: &[PathBuf], staged: &mut StagedOutput) -> Result<()> {
    let schema = messages::to_batch(&[], None, false)?.schema();
    let mut out = staged.parquet_writer("messages.parquet", schema.clone())?;
    merge_sorted_parts(parts, &schema, "conversation_id", |batch| out.write(batch))?;
    out.close()
}

/// Merges Parquet parts, each sorted by the string column `key` with every key in one part, in key
/// order: the rows of a key come as one run from its part. `emit` gets batches of `MERGE_BATCH`
/// rows (the last may be shorter), so a Parquet writer breaks pages where a one-batch write does.
/// Holds one row group per part and less than two output batches.
fn merge_sorted_parts(
    parts: &[PathBuf],
    schema: &arrow::datatypes::SchemaRef,
    key: &str,
    mut emit: impl FnMut(&RecordBatch) -> Result<()>,
) -> Result<()> {
    struct Part {
        path: PathBuf,
        reader: parquet::arrow::arrow_reader::ParquetRecordBatchReader,
        batch: Option<RecordBatch>,
        row: usize,
    }
    impl Part {
        /// Loads the next batch when the current one is used up; false when the part is done.
        fn ready(&mut self) -> Result<bool> {
            while self.batch.as_ref().is_none_or(|b| self.row >= b.num_rows()) {
                match self.reader.next() {
                    Some(b) => {
                        self.batch = Some(b.map_err(|e| Error::read(&self.path, "reading a partition's part", e))?);
                        self.row = 0;
                    }
                    None => {
                        self.batch = None;
                        return Ok(false);
                    }
                }
            }
            Ok(true)
        }
    }
    let key_index = schema.index_of(key).map_err(Error::arrow(format!("merge key {key}")))?;
    let mut readers = Vec::with_capacity(parts.len());
    for p in parts {
        let file = File::open(p).map_err(|e| Error::read(p, "opening a partition's part", e))?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(MERGE_READ_BATCH).build())
            .map_err(|e| Error::read(p, "reading a partition's part", e))?;
        readers.push(Part { path: p.clone(), reader, batch: None, row: 0 });
    }
    let concat =
        |slices: &[RecordBatch]| arrow::compute::concat_batches(schema, slices).map_err(Error::arrow("merging parts"));
    let mut slices: Vec<RecordBatch> = Vec::new();
    let mut buffered = 0usize;
    loop {
        for part in readers.iter_mut() {
            part.ready()?;
        }
        // The part whose current key is smallest gives that key's run of rows.
        let current =
            |i: usize| readers[i].batch.as_ref().map(|b| b.column(key_index).as_string::<i32>().value(readers[i].row));
        let Some(i) =
            (0..readers.len()).filter(|&i| readers[i].batch.is_some()).min_by(|&a, &b| current(a).cmp(&current(b)))
        else {
            break;
        };
        let part = &readers[i];
        let batch = part.batch.as_ref().expect("a current batch");
        let column = batch.column(key_index).as_string::<i32>();
        let k = column.value(part.row);
        let end = (part.row..batch.num_rows()).find(|&r| column.value(r) != k).unwrap_or(batch.num_rows());
        let (start, run) = (part.row, batch.slice(part.row, end - part.row));
        readers[i].row = end;
        slices.push(run);
        buffered += end - start;
        if buffered >= MERGE_BATCH {
            let all = concat(&slices)?;
            let whole = all.num_rows() / MERGE_BATCH * MERGE_BATCH;
            emit(&all.slice(0, whole))?;
            slices = vec![all.slice(whole, all.num_rows() - whole)];
            buffered = all.num_rows() - whole;
        }
    }
    let rest = concat(&slices)?;
    if rest.num_rows() > 0 {
        emit(&rest)?;
    }
    Ok(())
}

/// Every batch of a spilled Parquet part.
pub fn read_parquet_batches(path: &Path) -> Result<Vec<RecordBatch>> {
    let file = File::open(path).map_err(|e| Error::read(path, "opening a partition's part", e))?;
    parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| Error::read(path, "reading a partition's part", e))?
        .map(|b| b.map_err(|e| Error::read(path, "reading a partition's part", e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn message() -> impl Strategy<Value = Message> {
        let text = || prop::option::of("[a-zA-Z0-9 ,|:é😀-]{0,16}");
        (
            ("[a-z0-9#-]{1,10}", "[a-z0-9-]{1,10}", text(), any::<i64>(), 0..4usize),
            (text(), text(), text(), text(), any::<bool>(), any::<u32>(), any::<u64>()),
        )
            .prop_map(|((conversation_id, thread_id, message_id, sent_at_us, role), rest)| {
                let (text, customer_id, channel, agent_id, is_auto_reply, file, row) = rest;
                Message {
                    conversation_id,
                    thread_id,
                    message_id,
                    sent_at_us,
                    role: Role::ALL[role],
                    text,
                    customer_id,
                    channel,
                    agent_id,
                    is_auto_reply,
                    source: RowRef { file, row },
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// A partition's spill gives back every field of every message, in order.
        #[test]
        fn the_message_spill_round_trips(messages in prop::collection::vec(message(), 0..40)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("part-0.arrow");
            let mut writer = SpillWriter::create(&path).unwrap();
            for m in messages.iter().cloned() {
                writer.push(m).unwrap();
            }
            let path = writer.finish().unwrap();
            prop_assert_eq!(read_spill(&path).unwrap(), messages);
        }
    }
}
