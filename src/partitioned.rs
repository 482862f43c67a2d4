//! Bounded memory: `analyze --partitions N`. The input is read batch by batch and spilled to N
//! partition files on disk by a stable hash of the customer (the key `--shard` uses, so a
//! customer's conversations meet and reopens link); each partition is then assembled, enriched,
//! featured and linked alone, its messages and per-conversation rows written out sorted. The
//! model is then dropped, the rows read back and scored together (intent norms are the whole run's), the QA evidence is
//! read back partition by partition, and the sorted message parts are merged into one
//! messages.parquet. Same outputs as the one-pass run (tests/integration/partitioned.rs).
//!
//! What still grows with the input: the per-conversation rows, the conversation -> customer map,
//! rows quarantined at read time, and for the VOC backlog the negative customer messages (text
//! and one embedding per distinct text).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray, UInt32Array, UInt64Array, UInt8Array,
};
use arrow::datatypes::{Int64Type, UInt32Type, UInt64Type, UInt8Type};
use indicatif::ProgressBar;

use crate::assemble::assemble;
use crate::diagnostics::{RowAccounting, Warnings};
use crate::enrich::{enrich, EnrichStats, LanguageModel};
use crate::error::{Error, Result};
use crate::features::ConversationRow;
use crate::ingest::{read_conversations, read_messages_each, ConversationsInput, MessagesInput};
use crate::link::link_reopens;
use crate::model::{Message, QuarantinedRow, Role, RowRef};
use crate::pipeline::{
    featured_rows, finish, reopen_rule, reopen_topics, set_signals, AnalyzeReport, AnalyzeRequest, FinishedRun,
    QaOutput, StageTimer,
};
use crate::score::{score_conversations, RiskModels};
use crate::tables::messages;
use crate::voc::{NegativeMessage, PreviousTheme};
use crate::write::StagedOutput;

/// Messages buffered per partition before they are appended to its spill file.
const SPILL_BATCH: usize = 1024;
/// Rows per batch read from each part while merging (every part has one open at a time).
const MERGE_READ_BATCH: usize = crate::write::SPILL_ROW_GROUP;
/// Rows per batch of the merged messages.parquet: a multiple of the Parquet writer's mini-batch
/// (1024), so its pages break where the one-pass run's do and the file is byte-identical.
const MERGE_BATCH: usize = crate::write::ROWS_PER_WRITE;

pub fn analyze_partitioned(
    req: &AnalyzeRequest,
    count: u32,
    risk_models: &RiskModels,
    previous_voc: Option<&[PreviousTheme]>,
) -> Result<AnalyzeReport> {
    let input = &req.input;
    let settings = &input.settings;
    if count == 0 {
        return Err(Error::config("--partitions", "0 partitions", "use 1 or more, e.g. --partitions 16"));
    }
    if input.shard.is_some() || input.nightly.is_some() {
        return Err(Error::config(
            "--partitions",
            "cannot be combined with --shard or --date",
            "run the shard or the night without --partitions",
        ));
    }
    let mut timer = StageTimer::new();
    let model =
        if settings.config.model.enabled { Some(LanguageModel::load(&settings.model_config()?)?) } else { None };
    timer.done("load_model");
    let progress = ProgressBar::hidden();
    let mut warnings = Warnings::default();
    let conversations_in = if input.conversations.is_empty() {
        None
    } else {
        Some(read_conversations(&input.conversations, settings, &progress, &mut warnings)?)
    };

    // Pass 1: each conversation's customer, the key `--shard` uses.
    let mut customer = crate::shard::CustomerKeys::default();
    customer.add_records(conversations_in.as_ref());
    read_messages_each(&input.messages, settings, &progress, |messages, _| {
        messages.iter().for_each(|m| customer.add_message(m));
        Ok(())
    })?;
    let partition_of = |conversation_id: &str| customer.part(conversation_id, count) as usize;

    // Pass 2: spill every valid message to its partition; rows quarantined at read are kept.
    let spill = SpillDir::new(&req.out_dir)?;
    let mut writers: Vec<SpillWriter> =
        (0..count).map(|p| SpillWriter::create(&spill.path.join(format!("part-{p}.arrow")))).collect::<Result<_>>()?;
    let mut quarantined: Vec<QuarantinedRow> = Vec::new();
    let mut latest: Option<i64> = None;
    let (message_files, rows_in) = read_messages_each(&input.messages, settings, &progress, |messages, bad| {
        quarantined.extend(bad);
        for m in messages {
            latest = latest.max(Some(m.sent_at_us));
            writers[partition_of(&m.thread_id)].push(m)?;
        }
        Ok(())
    })?;
    let spilled: Vec<PathBuf> = writers.into_iter().map(SpillWriter::finish).collect::<Result<_>>()?;
    let read_quarantined = quarantined.len() as u64;
    timer.done("read");
    let (as_of_us, as_of_source) = match (input.as_of_us, latest) {
        (Some(t), _) => (t, "--as-of"),
        (None, Some(t)) => (t, "latest sent_at"),
        (None, None) => (0, "no messages"),
    };

    // The conversations table's records, by partition (they are per-conversation rows).
    let mut records_by_part: Vec<Vec<_>> = vec![Vec::new(); count as usize];
    let (conversation_files, mut conversations_acc) = match conversations_in {
        Some(c) => {
            for r in c.records {
                records_by_part[partition_of(&r.0.conversation_id)].push(r);
            }
            let acc = RowAccounting {
                rows_in: c.rows_in,
                rows_quarantined: c.quarantined.len() as u64,
                ..Default::default()
            };
            quarantined.extend(c.quarantined);
            (c.files, Some(acc))
        }
        None => (Vec::new(), None),
    };
    drop(customer);
    let has_table = conversations_acc.is_some();
    let part_input = |records: Vec<_>, messages: Vec<Message>| {
        let messages_in = MessagesInput {
            files: message_files.clone(),
            rows_in: messages.len() as u64,
            rows_other_shards: 0,
            messages,
            quarantined: Vec::new(),
        };
        let conversations_in = has_table.then(|| ConversationsInput {
            files: conversation_files.clone(),
            rows_in: records.len() as u64,
            rows_other_shards: 0,
            records,
            quarantined: Vec::new(),
        });
        (messages_in, conversations_in)
    };

    // Each partition alone: assemble, enrich, features, links, signals; its messages written.
    let mut row_files: Vec<PathBuf> = Vec::with_capacity(count as usize);
    let mut conversations_out = 0usize;
    let mut messages_rows = RowAccounting { rows_in, rows_quarantined: read_quarantined, ..Default::default() };
    let mut heatmap = [[0u64; 24]; 7];
    let mut negative: Vec<(String, NegativeMessage)> = Vec::new();
    let mut vectors: Vec<Vec<f32>> = Vec::new();
    let mut slot_of_text: HashMap<String, usize> = HashMap::new();
    let mut sentiment_counts: BTreeMap<String, u64> = BTreeMap::new();
    let mut model_stats: Option<EnrichStats> = None;
    let mut message_parts: Vec<PathBuf> = Vec::new();
    for (p, spill_file) in spilled.iter().enumerate() {
        let (messages_in, conversations_part) =
            part_input(std::mem::take(&mut records_by_part[p]), read_spill(spill_file)?);
        let assembled = assemble(messages_in, conversations_part, settings, &mut warnings);
        let enrichment = model.as_ref().map(|m| enrich(&assembled.conversations, m)).transpose()?;
        let mut part_rows = featured_rows(&assembled.conversations, enrichment.as_ref(), settings, as_of_us);
        let topics = reopen_topics(&assembled.conversations, enrichment.as_ref(), settings, &mut warnings);
        link_reopens(&mut part_rows, &reopen_rule(topics.as_deref(), settings), settings, as_of_us, &mut warnings);
        drop(topics);
        set_signals(&mut part_rows, &assembled.conversations, enrichment.as_ref());

        let part_file = spill.path.join(format!("messages-{p}.parquet"));
        crate::write::write_spill_parquet(
            &part_file,
            &messages::to_batch(&assembled.conversations, enrichment.as_ref().map(|e| &e.sentiment), req.redact_all)?,
        )?;
        message_parts.push(part_file);
        let part_heatmap = crate::aggregate::conversations_heatmap(&assembled.conversations, &settings.time_zone);
        for (total, part) in heatmap.iter_mut().flatten().zip(part_heatmap.iter().flatten()) {
            *total += part;
        }
        if let Some(e) = &enrichment {
            for n in crate::voc::negative_messages(&part_rows, &assembled.conversations, e) {
                // Keyed as the encoder dedups (order numbers stripped): the one-pass run's slots.
                let slot = *slot_of_text.entry(crate::text::inference_key(&n.text)).or_insert_with(|| {
                    vectors.push(e.intent_embeddings[n.slot].clone());
                    vectors.len() - 1
                });
                negative.push((part_rows[n.conversation].conversation_id.clone(), NegativeMessage { slot, ..n }));
            }
            for s in e.sentiment.iter().flatten().flatten() {
                *sentiment_counts.entry(s.label.to_string()).or_default() += 1;
            }
            model_stats = Some(add_stats(model_stats, &e.stats));
        }
        messages_rows.add_outcomes(&assembled.messages_rows);
        if let (Some(total), Some(part)) = (&mut conversations_acc, &assembled.conversations_rows) {
            total.add_outcomes(part);
        }
        quarantined.extend(assembled.quarantined);
        // The rows wait on disk too, so the model and a partition's messages are never in
        // memory beside every row.
        let rows_file = spill.path.join(format!("rows-{p}.parquet"));
        crate::write::write_spill_parquet(&rows_file, &crate::tables::conversations::spill_batch(&part_rows)?)?;
        row_files.push(rows_file);
        conversations_out += part_rows.len();
    }
    let owner_teams = model.as_ref().map(crate::pipeline::owner_teams);
    drop(model);
    release_free_memory();
    let mut rows: Vec<ConversationRow> = Vec::with_capacity(conversations_out);
    for f in &row_files {
        rows.extend(crate::store::read_rows_file(f)?);
    }
    timer.done("partitions");

    // Together: score with the whole run's intent norms, then the VOC backlog and the QA list.
    // Unstable: ids are unique, and the stable sort would borrow half the rows again as a buffer.
    rows.sort_unstable_by(|a, b| a.conversation_id.cmp(&b.conversation_id));
    score_conversations(&mut rows, risk_models);
    messages_rows.check("messages")?;
    if let Some(acc) = &conversations_acc {
        acc.check("conversations")?;
    }
    timer.done("score");
    // Rows are sorted by id: a binary search finds one without an index beside them.
    let position =
        |id: &str| rows.binary_search_by(|r| r.conversation_id.as_str().cmp(id)).expect("a row for every conversation");

    // VOC first, so its messages and embeddings are gone before the QA pass.
    let mut negative: Vec<NegativeMessage> =
        negative.into_iter().map(|(id, n)| NegativeMessage { conversation: position(&id), ..n }).collect();
    negative.sort_by_key(|n| (n.conversation, n.message));
    let voc_items = match &owner_teams {
        Some(owners) => crate::voc::voc_backlog(&rows, &negative, &vectors, owners),
        None => Vec::new(),
    };
    drop((negative, vectors));
    release_free_memory();
    timer.done("voc");

    let (selected, qa_stats) = crate::qa::qa_selection(&rows, &settings.config.qa);
    let selected_by_row: HashMap<usize, crate::qa::Selected> = selected.iter().map(|s| (s.row, *s)).collect();
    drop(selected);
    // Each partition's items are spilled in rank order and merged at the end; only the report's
    // top items stay in memory.
    let mut qa_top = Vec::new();
    let mut qa_parts = Vec::with_capacity(spilled.len());
    for (p, spill_file) in spilled.iter().enumerate() {
        // The same messages assemble into the same conversations (the records only annotate
        // them): evidence indices still point right.
        let (messages_in, conversations_part) = part_input(Vec::new(), read_spill(spill_file)?);
        let assembled = assemble(messages_in, conversations_part, settings, &mut Warnings::default());
        let mut items = Vec::new();
        for conv in &assembled.conversations {
            let i = position(&conv.conversation_id);
            if let Some(s) = selected_by_row.get(&i) {
                items.push(crate::qa::item(&rows[i], conv, s.group, s.rank));
            }
        }
        items.sort_by_key(|item| item.rank);
        let part_file = spill.path.join(format!("qa-{p}.parquet"));
        crate::write::write_spill_parquet(&part_file, &crate::tables::qa_review::to_batch(&items)?)?;
        qa_parts.push(part_file);
        qa_top.extend(items.into_iter().filter(|item| item.rank <= crate::report::QA_TOP as u64));
    }
    qa_top.sort_by_key(|item| item.rank);
    drop(selected_by_row);
    release_free_memory();
    timer.done("qa_review");

    let run = FinishedRun {
        rows,
        heatmap,
        qa: QaOutput::Written { top: qa_top },
        qa_stats,
        voc_items,
        quarantined,
        messages_rows,
        conversations_rows: conversations_acc,
        model_stats,
        sentiment_counts,
        warnings,
        as_of_us,
        as_of_source,
        message_files,
        conversation_files,
        prior: Vec::new(),
        tonight_topics: Vec::new(),
        partitions: Some(count),
    };
    let report = finish(req, risk_models, run, previous_voc, timer, |staged| {
        merge_messages(&message_parts, staged)?;
        merge_qa(&qa_parts, staged)
    })?;
    drop(spill);
    Ok(report)
}

/// Hands memory freed by the partitions (their messages, the model) back to the system. glibc's
/// allocator keeps freed memory for reuse, so without this the peak of the partition loop would
/// stay resident under the rows read back afterwards.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it touches no live allocation.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Totals of the partitions' enrichment statistics (distinct texts are counted per partition).
fn add_stats(total: Option<EnrichStats>, part: &EnrichStats) -> EnrichStats {
    match total {
        None => part.clone(),
        Some(t) => EnrichStats {
            customer_texts: t.customer_texts + part.customer_texts,
            distinct_texts: t.distinct_texts + part.distinct_texts,
            tokens: t.tokens + part.tokens,
            truncated: t.truncated + part.truncated,
            seconds: t.seconds + part.seconds,
            ..t
        },
    }
}

/// The spill files of one run, next to its outputs (same disk as the user chose), removed when
/// the run ends; a killed run's are removed by the next run (write::remove_dead_staging).
struct SpillDir {
    path: PathBuf,
}

impl SpillDir {
    fn new(out_dir: &Path) -> Result<SpillDir> {
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
struct SpillWriter {
    path: PathBuf,
    buffer: Vec<Message>,
    writer: arrow::ipc::writer::StreamWriter<BufWriter<File>>,
}

impl SpillWriter {
    fn create(path: &Path) -> Result<SpillWriter> {
        let file = File::create(path).map_err(|e| Error::write(path, e))?;
        let writer = arrow::ipc::writer::StreamWriter::try_new(BufWriter::new(file), &spill_batch(&[])?.schema())
            .map_err(|e| Error::write(path, e))?;
        Ok(SpillWriter { path: path.to_path_buf(), buffer: Vec::with_capacity(SPILL_BATCH), writer })
    }

    fn push(&mut self, m: Message) -> Result<()> {
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

    fn finish(mut self) -> Result<PathBuf> {
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
    .map_err(|e| Error::Internal(format!("spill batch: {e}")))
}

fn read_spill(path: &Path) -> Result<Vec<Message>> {
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
fn merge_messages(parts: &[PathBuf], staged: &mut StagedOutput) -> Result<()> {
    let schema = messages::to_batch(&[], None, false)?.schema();
    let mut out = staged.parquet_writer("messages.parquet", schema.clone())?;
    merge_sorted_parts(parts, &schema, "conversation_id", |batch| out.write(batch))?;
    out.close()
}

/// Merges the partitions' QA items (each part in rank order) into qa_review.parquet and
/// qa_review.csv in rank order.
fn merge_qa(parts: &[PathBuf], staged: &mut StagedOutput) -> Result<()> {
    let schema = crate::tables::qa_review::to_batch(&[])?.schema();
    let mut parquet = staged.parquet_writer("qa_review.parquet", schema.clone())?;
    staged.file("qa_review.csv", |out| {
        let mut csv = crate::tables::qa_review::csv_writer(out)?;
        merge_sorted_parts(parts, &schema, "rank", |batch| {
            parquet.write(batch)?;
            crate::tables::qa_review::csv_rows(&mut csv, &crate::tables::qa_review::from_batch(batch))
        })?;
        csv.into_inner().map_err(|e| Error::Internal(format!("qa_review.csv: {e}")))
    })?;
    parquet.close()
}

/// A merge key: a string or an unsigned integer column's value, borrowed from its batch.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Key<'a> {
    Str(&'a str),
    U64(u64),
}

fn key_at(column: &dyn Array, r: usize) -> Key<'_> {
    match column.data_type() {
        arrow::datatypes::DataType::UInt64 => Key::U64(column.as_primitive::<UInt64Type>().value(r)),
        _ => Key::Str(column.as_string::<i32>().value(r)),
    }
}

/// Merges Parquet parts, each sorted by the column `key` with every key in one part, in key
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
    let key_index = schema.index_of(key).map_err(|e| Error::Internal(format!("merge key {key}: {e}")))?;
    let mut readers = Vec::with_capacity(parts.len());
    for p in parts {
        let file = File::open(p).map_err(|e| Error::read(p, "opening a partition's part", e))?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
            .and_then(|b| b.with_batch_size(MERGE_READ_BATCH).build())
            .map_err(|e| Error::read(p, "reading a partition's part", e))?;
        readers.push(Part { path: p.clone(), reader, batch: None, row: 0 });
    }
    let concat = |slices: &[RecordBatch]| {
        arrow::compute::concat_batches(schema, slices).map_err(|e| Error::Internal(format!("merging parts: {e}")))
    };
    let mut slices: Vec<RecordBatch> = Vec::new();
    let mut buffered = 0usize;
    loop {
        for part in readers.iter_mut() {
            part.ready()?;
        }
        // The part whose current key is smallest gives that key's run of rows.
        let current =
            |i: usize| readers[i].batch.as_ref().map(|b| key_at(b.column(key_index).as_ref(), readers[i].row));
        let Some(i) =
            (0..readers.len()).filter(|&i| readers[i].batch.is_some()).min_by(|&a, &b| current(a).cmp(&current(b)))
        else {
            break;
        };
        let part = &readers[i];
        let batch = part.batch.as_ref().expect("a current batch");
        let column = batch.column(key_index).as_ref();
        let k = key_at(column, part.row);
        let end = (part.row..batch.num_rows()).find(|&r| key_at(column, r) != k).unwrap_or(batch.num_rows());
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
