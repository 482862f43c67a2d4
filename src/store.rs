//! The output store, read back: conversations.parquet written by earlier `analyze` runs (or
//! shards of one run) becomes per-conversation rows again, so KPI tables for any period can be
//! recomputed and shards merged without re-running the model.

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::error::{Error, Result};
use crate::features::{ConversationRow, ResolvedBy};
use crate::link::ReopenReason;
use crate::model::Status;
use crate::signals::{Signal, SIGNALS};

const FIX: &str = "pass conversations.parquet files (or directories of them) written by `convoqa analyze` of this version; re-run analyze for outputs of an older version";

/// One batch's columns by name, with the file for error messages.
struct Columns<'a> {
    batch: &'a RecordBatch,
    path: &'a Path,
}

impl Columns<'_> {
    fn column(&self, name: &str, want: &DataType) -> Result<&dyn Array> {
        let c = self.batch.column_by_name(name).ok_or_else(|| {
            Error::input(self.path, format!("no column {name:?}: not a convoqa conversations table"), FIX)
        })?;
        if c.data_type() != want {
            return Err(Error::input(self.path, format!("column {name:?} is {}, expected {want}", c.data_type()), FIX));
        }
        Ok(c.as_ref())
    }
    fn str(&self, name: &str, i: usize) -> Result<Option<String>> {
        let a = self.column(name, &DataType::Utf8)?.as_string::<i32>();
        Ok(a.is_valid(i).then(|| a.value(i).to_string()))
    }
    fn f64(&self, name: &str, i: usize) -> Result<Option<f64>> {
        let a = self.column(name, &DataType::Float64)?.as_primitive::<Float64Type>();
        Ok(a.is_valid(i).then(|| a.value(i)))
    }
    fn u64(&self, name: &str, i: usize) -> Result<u64> {
        let a = self.column(name, &DataType::UInt64)?.as_primitive::<UInt64Type>();
        Ok(a.value(i))
    }
    fn bool(&self, name: &str, i: usize) -> Result<Option<bool>> {
        let a = self.column(name, &DataType::Boolean)?.as_boolean();
        Ok(a.is_valid(i).then(|| a.value(i)))
    }
    fn ts(&self, name: &str, i: usize) -> Result<Option<i64>> {
        let a = self
            .column(name, &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())))?
            .as_primitive::<TimestampMicrosecondType>();
        Ok(a.is_valid(i).then(|| a.value(i)))
    }
    fn required<T>(&self, name: &str, i: usize, v: Option<T>) -> Result<T> {
        v.ok_or_else(|| Error::input(self.path, format!("row {i}: {name} is null"), FIX))
    }
    fn known<T>(&self, name: &str, raw: Option<String>, parse: impl Fn(&str) -> Option<T>) -> Result<Option<T>> {
        raw.map(|r| {
            parse(&r).ok_or_else(|| Error::input(self.path, format!("{name} {r:?} is not a value convoqa writes"), FIX))
        })
        .transpose()
    }
}

fn reasons(c: &Columns, name: &str, i: usize) -> Result<Vec<&'static str>> {
    let raw = c.str(name, i)?.unwrap_or_default();
    raw.split(',')
        .filter(|s| !s.is_empty())
        .map(|code| {
            Signal::from_code(code)
                .map(Signal::code)
                .ok_or_else(|| Error::input(c.path, format!("{name}: unknown reason {code:?}"), FIX))
        })
        .collect()
}

fn row(c: &Columns, i: usize) -> Result<ConversationRow> {
    let mut r = ConversationRow {
        conversation_id: c.required("conversation_id", i, c.str("conversation_id", i)?)?,
        thread_id: c.required("thread_id", i, c.str("thread_id", i)?)?,
        customer_id: c.str("customer_id", i)?,
        channel: c.str("channel", i)?,
        team: c.str("team", i)?,
        status: c.known("status", c.str("status", i)?, Status::parse)?,
        created_at_us: c.required("created_at", i, c.ts("created_at", i)?)?,
        first_message_at_us: c.required("first_message_at", i, c.ts("first_message_at", i)?)?,
        last_message_at_us: c.required("last_message_at", i, c.ts("last_message_at", i)?)?,
        resolved_at_us: c.ts("resolved_at", i)?,
        resolved_by: c.known("resolved_by", c.str("resolved_by", i)?, ResolvedBy::parse)?,
        messages: c.u64("messages", i)?,
        customer_messages: c.u64("customer_messages", i)?,
        human_replies: c.u64("human_replies", i)?,
        bot_messages: c.u64("bot_messages", i)?,
        frt_total_s: c.f64("frt_total_s", i)?,
        frt_human_s: c.f64("frt_human_s", i)?,
        frt_handover_s: c.f64("frt_handover_s", i)?,
        avg_response_s: c.f64("avg_response_s", i)?,
        answered_turns: c.u64("answered_turns", i)?,
        unanswered_turns: c.u64("unanswered_turns", i)?,
        unanswered: c.required("unanswered", i, c.bool("unanswered", i)?)?,
        resolution_s: c.f64("resolution_s", i)?,
        handle_s: c.f64("handle_s", i)?,
        frt_human_bh_s: c.f64("frt_human_bh_s", i)?,
        resolution_bh_s: c.f64("resolution_bh_s", i)?,
        had_bot: c.required("had_bot", i, c.bool("had_bot", i)?)?,
        handed_over: c.required("handed_over", i, c.bool("handed_over", i)?)?,
        bot_contained: c.required("bot_contained", i, c.bool("bot_contained", i)?)?,
        primary_agent_id: c.str("primary_agent_id", i)?,
        csat_score: c.f64("csat_score", i)?,
        csat_source: c.str("csat_source", i)?.and_then(|s| crate::features::csat_source_name(&s)),
        nps_score: c.f64("nps_score", i)?,
        ces_score: c.f64("ces_score", i)?,
        sla_s: c.required("sla_s", i, c.f64("sla_s", i)?)?,
        within_sla: c.bool("within_sla", i)?,
        reopened: c.bool("reopened", i)?,
        reopen_of: c.str("reopen_of", i)?,
        reopen_reason: c
            .known("reopen_reason", c.str("reopen_reason", i)?, |s| ReopenReason::parse(s).map(ReopenReason::as_str))?,
        fcr: c.bool("fcr", i)?,
        fcr_mature: c.required("fcr_mature", i, c.bool("fcr_mature", i)?)?,
        intent: c.str("intent", i)?,
        intent_confidence: c.f64("intent_confidence", i)?,
        low_csat_risk: c.f64("low_csat_risk", i)?,
        low_csat_reasons: reasons(c, "low_csat_reasons", i)?,
        false_fcr_risk: c.f64("false_fcr_risk", i)?,
        false_fcr_reasons: reasons(c, "false_fcr_reasons", i)?,
        ..Default::default()
    };
    r.sentiment.start = c.f64("sentiment_start", i)?;
    r.sentiment.end = c.f64("sentiment_end", i)?;
    r.sentiment.mean = c.f64("sentiment_mean", i)?;
    r.sentiment.min = c.f64("sentiment_min", i)?;
    r.sentiment.trend = c.f64("sentiment_trend", i)?;
    r.sentiment.ends_negative = c.bool("ends_negative", i)?;
    for (k, s) in SIGNALS.iter().enumerate() {
        r.risk_signals.values[k] = c.required(&s.column(), i, c.f64(&s.column(), i)?)?;
    }
    if r.resolved_at_us.is_some() != c.required("resolved", i, c.bool("resolved", i)?)? {
        return Err(Error::input(c.path, format!("row {i}: resolved disagrees with resolved_at"), FIX));
    }
    Ok(r)
}

/// A stored batch in the types convoqa writes. Tables written back by an engine differ: Spark has
/// no unsigned integers and may write other timestamp units or large strings. Integers become
/// UInt64 (every integer column of the tables read here is a count), timestamps microseconds
/// UTC, strings Utf8; a cast that would lose anything (a negative count) is an error.
fn conform(batch: RecordBatch, path: &Path) -> Result<RecordBatch> {
    let micros_utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let mut changed = false;
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        let want = match column.data_type() {
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 | DataType::UInt32 => {
                Some(DataType::UInt64)
            }
            DataType::Timestamp(..) if column.data_type() != &micros_utc => Some(micros_utc.clone()),
            DataType::LargeUtf8 | DataType::Utf8View => Some(DataType::Utf8),
            _ => None,
        };
        match want {
            Some(want) => {
                let cast = cast_with_options(column, &want, &CastOptions { safe: false, ..Default::default() })
                    .map_err(|e| {
                        Error::input(
                            path,
                            format!("column {:?} ({}) cannot be read as {want}: {e}", field.name(), column.data_type()),
                            FIX,
                        )
                    })?;
                fields.push(field.as_ref().clone().with_data_type(want));
                columns.push(cast);
                changed = true;
            }
            None => {
                fields.push(field.as_ref().clone());
                columns.push(column.clone());
            }
        }
    }
    if !changed {
        return Ok(batch);
    }
    RecordBatch::try_new(std::sync::Arc::new(arrow::datatypes::Schema::new(fields)), columns)
        .map_err(|e| Error::Internal(format!("conforming {}: {e}", path.display())))
}

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
            let batch = conform(batch.map_err(|e| Error::read(path, "reading Parquet", e))?, path)?;
            let c = Columns { batch: &batch, path };
            let evidence: Vec<Option<&arrow::array::UInt64Array>> = SIGNALS
                .iter()
                .map(|s| {
                    batch.column_by_name(&format!("evidence_{}", s.column())).map(|a| a.as_primitive::<UInt64Type>())
                })
                .collect();
            for i in 0..batch.num_rows() {
                let mut r = row(&c, i)?;
                for (k, e) in evidence.iter().enumerate() {
                    if let Some(e) = e.filter(|e| e.is_valid(i)) {
                        r.risk_signals.set_evidence(SIGNALS[k], Some(e.value(i) as usize));
                    }
                }
                out.push(r);
            }
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

/// The topics of a nightly partition's link_state.parquet, by conversation_id.
pub fn read_link_state(path: &Path) -> Result<std::collections::HashMap<String, crate::link::StoredTopic>> {
    use arrow::datatypes::Float32Type;
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, "opening", e))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| Error::read(path, "reading Parquet", e))?;
    let mut topics = std::collections::HashMap::new();
    for batch in reader {
        let batch = batch.map_err(|e| Error::read(path, "reading Parquet", e))?;
        let c = Columns { batch: &batch, path };
        let embedding = batch
            .column_by_name("topic_embedding")
            .and_then(|a| a.as_list_opt::<i32>())
            .ok_or_else(|| Error::input(path, "no list column \"topic_embedding\"", FIX))?;
        for i in 0..batch.num_rows() {
            let vector =
                embedding.is_valid(i).then(|| embedding.value(i).as_primitive::<Float32Type>().values().to_vec());
            let references = c.str("topic_references", i)?.unwrap_or_default();
            topics.insert(
                c.required("conversation_id", i, c.str("conversation_id", i)?)?,
                crate::link::StoredTopic {
                    intent: c.str("topic_intent", i)?,
                    embedding: vector,
                    references: references.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect(),
                },
            );
        }
    }
    Ok(topics)
}

/// The themes of an earlier run's voc_backlog.parquet (`analyze --previous DIR`).
pub fn read_previous_voc(dir: &std::path::Path) -> crate::error::Result<Vec<crate::voc::PreviousTheme>> {
    use crate::error::Error;
    use arrow::array::AsArray;
    use arrow::datatypes::{Float32Type, Float64Type, UInt64Type};
    let path = dir.join("voc_backlog.parquet");
    let fix = "pass the output directory of an earlier `convoqa analyze` run made with the model on (it holds voc_backlog.parquet with a theme_centroid column)";
    let file = std::fs::File::open(&path)
        .map_err(|e| Error::input(&path, format!("cannot open the previous run's VOC backlog: {e}"), fix))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.build())
        .map_err(|e| Error::read(&path, "reading the previous VOC backlog", e))?;
    let mut themes = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| Error::read(&path, "reading the previous VOC backlog", e))?;
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| Error::input(&path, format!("no column {name:?}"), fix))
        };
        let (intent, conversations, share, centroid) =
            (column("intent")?, column("conversations")?, column("share")?, column(crate::write::VOC_CENTROID_COLUMN)?);
        let wrong = |name: &str| Error::input(&path, format!("column {name:?} has an unexpected type"), fix);
        let intent = intent.as_string_opt::<i32>().ok_or_else(|| wrong("intent"))?;
        let conversations = conversations.as_primitive_opt::<UInt64Type>().ok_or_else(|| wrong("conversations"))?;
        let share = share.as_primitive_opt::<Float64Type>().ok_or_else(|| wrong("share"))?;
        let centroid = centroid.as_list_opt::<i32>().ok_or_else(|| wrong(crate::write::VOC_CENTROID_COLUMN))?;
        for i in 0..batch.num_rows() {
            let values = centroid.value(i);
            let values =
                values.as_primitive_opt::<Float32Type>().ok_or_else(|| wrong(crate::write::VOC_CENTROID_COLUMN))?;
            themes.push(crate::voc::PreviousTheme {
                intent: intent.value(i).to_string(),
                conversations: conversations.value(i),
                share: share.value(i),
                centroid: values.values().to_vec(),
            });
        }
    }
    Ok(themes)
}
