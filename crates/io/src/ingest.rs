//! Stage 1, read and validate: Parquet files in, typed rows and quarantined rows out.
//!
//! Schema faults (a missing required column, a column of the wrong type, an unreadable file)
//! stop the run with a message that says how to fix it. Row faults never do: the row goes to
//! quarantine with its reason.

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::{cast, cast_with_options, CastOptions};
use arrow::datatypes::{DataType, Field, Float64Type, TimeUnit, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use indicatif::ProgressBar;
use jiff::tz::TimeZone;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ProjectionMask;
use rayon::prelude::*;

use crate::config::Settings;
use crate::diagnostics::Warnings;
use crate::error::{Error, Result};
use crate::model::{ConversationRecord, Message, QuarantineReason, QuarantinedRow, RowRef, Status};
use crate::timefmt::{format_us, parse_timestamp_str};
pub use convoqa_core::input::{ConversationsInput, MessagesInput};

const BATCH_ROWS: usize = 65_536;

/// The kind of value a logical column holds, and so which Arrow types it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Identifiers: strings, or integers (cast to their decimal text).
    Id,
    Text,
    Timestamp,
    Bool,
    Number,
}

impl Kind {
    fn expected(self) -> &'static str {
        match self {
            Kind::Id => "a string (or integer) column",
            Kind::Text => "a string column",
            Kind::Timestamp => "a timestamp column (any unit, with or without a time zone) or ISO-8601 strings",
            Kind::Bool => "a boolean column",
            Kind::Number => "a numeric column",
        }
    }

    fn accepts(self, dt: &DataType) -> bool {
        let is_str = |dt: &DataType| matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View);
        let is_str_like = |dt: &DataType| match dt {
            DataType::Dictionary(_, v) => is_str(v),
            other => is_str(other),
        };
        match self {
            Kind::Id => is_str_like(dt) || dt.is_integer(),
            Kind::Text => is_str_like(dt),
            Kind::Timestamp => matches!(dt, DataType::Timestamp(_, _)) || is_str_like(dt),
            Kind::Bool => matches!(dt, DataType::Boolean) || dt.is_integer() || is_str_like(dt),
            Kind::Number => dt.is_numeric(),
        }
    }
}

/// One logical input column: convoqa's name, the configured name in the file, what it holds.
struct ColumnSpec {
    logical: &'static str,
    configured: String,
    kind: Kind,
    required: bool,
}

/// One column of the input contract.
pub struct ContractColumn {
    pub logical: &'static str,
    kind: Kind,
    pub required: bool,
    pub description: &'static str,
}

const fn col(logical: &'static str, kind: Kind, required: bool, description: &'static str) -> ContractColumn {
    ContractColumn { logical, kind, required, description }
}

/// The messages table, in the order the reader hands columns to `message_row`.
pub const MESSAGE_COLUMNS: [ContractColumn; 9] = [
    col("conversation_id", Kind::Id, true, "conversation (or WhatsApp thread) the message belongs to"),
    col("sent_at", Kind::Timestamp, true, "when the message was sent; no zone = input_time_zone"),
    col("sender_role", Kind::Text, true, "customer | agent | bot | system (other values mapped under [roles])"),
    col("text", Kind::Text, false, "message text; null for media"),
    col("customer_id", Kind::Id, false, "the customer, for linking reopens across conversations"),
    col("channel", Kind::Text, false, "whatsapp | instagram | live_chat | email | ..."),
    col("agent_id", Kind::Id, false, "the agent who sent an agent message"),
    col("message_id", Kind::Id, false, "unique within its conversation; a repeated id is a redelivery or a conflict"),
    col("is_auto_reply", Kind::Bool, false, "true for automatic acknowledgements (not a human or bot answer)"),
];

/// The optional conversations table, in the order `conversation_row` reads it.
pub const CONVERSATION_COLUMNS: [ContractColumn; 13] = [
    col("conversation_id", Kind::Id, true, "matches messages.conversation_id"),
    col("customer_id", Kind::Id, false, "the customer (wins over the messages' customer_id)"),
    col("channel", Kind::Text, false, "the channel (wins over the messages' channel)"),
    col("status", Kind::Text, false, "resolved | closed | open | pending"),
    col("created_at", Kind::Timestamp, false, "conversation start; default: first message"),
    col("resolved_at", Kind::Timestamp, false, "resolution time; default: last message when resolved/closed"),
    col("csat_score", Kind::Number, false, "survey score 1-5"),
    col("nps_score", Kind::Number, false, "survey score 0-10"),
    col("ces_score", Kind::Number, false, "customer effort score 1-7"),
    col("hold_seconds", Kind::Number, false, "hold time added to handle_s"),
    col("after_work_seconds", Kind::Number, false, "after-contact work added to handle_s"),
    col("team", Kind::Text, false, "the team that owned the conversation"),
    col("subject", Kind::Text, false, "the e-mail or ticket subject line (read for intent)"),
];

fn specs_for<'a>(contract: &[ContractColumn], name_of: impl Fn(&str) -> &'a str) -> Vec<ColumnSpec> {
    contract
        .iter()
        .map(|c| ColumnSpec {
            logical: c.logical,
            configured: name_of(c.logical).to_string(),
            kind: c.kind,
            required: c.required,
        })
        .collect()
}

/// The input contract as `convoqa schema` prints it.
pub fn contract_text() -> String {
    let mut out = String::new();
    for (table, cols, note) in [
        (
            "messages",
            &MESSAGE_COLUMNS[..],
            "Parquet, one row per message: a file, several, or a directory (Hive partitions fine).",
        ),
        ("conversations", &CONVERSATION_COLUMNS[..], "Optional. Parquet, one row per conversation."),
    ] {
        out.push_str(&format!("{table}: {note}\n"));
        for c in cols {
            let req = if c.required { "required" } else { "optional" };
            out.push_str(&format!("  {:<20} {:<9} {:<58} {}\n", c.logical, req, c.kind.expected(), c.description));
        }
        out.push('\n');
    }
    out.push_str("Column names and role values are mapped in the config ([columns.messages], [columns.conversations], [roles]).\n");
    out
}

/// A logical column read from one batch, converted to its canonical Arrow type.
enum Column {
    Missing,
    Str(StringArray),
    /// Microseconds since the epoch, UTC, plus the raw text for ISO-string inputs.
    Time(Vec<Option<i64>>, Option<StringArray>),
    Bool(arrow::array::BooleanArray),
    Num(arrow::array::Float64Array),
}

impl Column {
    fn str(&self, row: usize) -> Option<&str> {
        match self {
            Column::Str(a) if a.is_valid(row) => Some(a.value(row)),
            _ => None,
        }
    }
    fn owned(&self, row: usize) -> Option<String> {
        self.str(row).map(str::to_string)
    }
    /// Text that is present and not blank.
    fn non_blank(&self, row: usize) -> Option<String> {
        self.str(row).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
    }
    fn time(&self, row: usize) -> Option<i64> {
        match self {
            Column::Time(v, _) => v[row],
            _ => None,
        }
    }
    fn time_raw(&self, row: usize) -> Option<String> {
        match self {
            Column::Time(v, raw) => match raw {
                Some(a) => a.is_valid(row).then(|| a.value(row).to_string()),
                None => v[row].map(format_us),
            },
            _ => None,
        }
    }
    fn bool(&self, row: usize) -> Option<bool> {
        match self {
            Column::Bool(a) if a.is_valid(row) => Some(a.value(row)),
            _ => None,
        }
    }
    fn num(&self, row: usize) -> Option<f64> {
        match self {
            Column::Num(a) if a.is_valid(row) => Some(a.value(row)).filter(|v| v.is_finite()),
            _ => None,
        }
    }
}

/// Parquet files found under the paths the user gave, in a stable order.
pub fn discover_files(paths: &[PathBuf], what: &str) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::input(
                path,
                format!("the {what} path does not exist or cannot be read ({e})"),
                "check the path you passed",
            )
        })?;
        if meta.is_dir() {
            let mut found = Vec::new();
            walk_dir(path, &mut found)?;
            if found.is_empty() {
                return Err(Error::input(
                    path,
                    format!("directory holds no .parquet files for the {what} table"),
                    "point at a Parquet file or a directory of them (Hive partitions such as date=2026-11-01/ are fine)",
                ));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::read(dir, "listing directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::read(dir, "listing directory", e))?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        // Spark/Hive write _SUCCESS, _committed_..., and .crc side files: not data.
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            walk_dir(&path, out)?;
        } else if name.ends_with(".parquet") || name.ends_with(".parq") {
            out.push(path);
        }
    }
    Ok(())
}

/// Hive partition values (`key=value` path components) of a file.
fn hive_partitions(path: &Path) -> Vec<(String, String)> {
    path.parent()
        .into_iter()
        .flat_map(|p| p.components())
        .filter_map(|c| {
            let s = c.as_os_str().to_string_lossy();
            s.split_once('=').map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// Opens one file and checks every logical column against its schema.
fn open_checked(
    path: &Path,
    table: &str,
    specs: &[ColumnSpec],
) -> Result<(ParquetRecordBatchReaderBuilder<File>, Vec<Option<usize>>, Vec<Option<String>>)> {
    let file = File::open(path).map_err(|e| Error::read(path, "opening file", e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
        Error::input(
            path,
            format!("not a readable Parquet file ({e})"),
            format!("re-export the {table} table as Parquet"),
        )
    })?;
    let schema = builder.schema().clone();
    let (indices, constants) = check_schema(&schema, path, table, specs, &hive_partitions(path))?;
    let wanted: Vec<usize> = indices.iter().flatten().copied().collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    Ok((builder.with_projection(mask).with_batch_size(BATCH_ROWS), indices, constants))
}

/// Where each logical column is in `schema` (or the Hive partition value standing in for it),
/// or every problem of the schema at once, with the fixes.
fn check_schema(
    schema: &arrow::datatypes::Schema,
    path: &Path,
    table: &str,
    specs: &[ColumnSpec],
    partitions: &[(String, String)],
) -> Result<(Vec<Option<usize>>, Vec<Option<String>>)> {
    let mut indices = Vec::with_capacity(specs.len());
    let mut constants = Vec::with_capacity(specs.len());
    // Collect every schema problem of the file, so one run shows all that needs fixing.
    let mut problems: Vec<String> = Vec::new();
    let mut fixes: Vec<String> = Vec::new();
    for spec in specs {
        match schema.index_of(&spec.configured) {
            Ok(i) => {
                let field: &Field = schema.field(i);
                if !spec.kind.accepts(field.data_type()) {
                    problems.push(format!(
                        "column `{}` (convoqa's {}) has type {}, expected {}",
                        spec.configured,
                        spec.logical,
                        field.data_type(),
                        spec.kind.expected()
                    ));
                    let epoch_hint = if spec.kind == Kind::Timestamp && field.data_type().is_integer() {
                        " (epoch numbers: convert them, e.g. pyarrow.compute.cast(col, pa.timestamp('s')), or in SQL to_timestamp(col))"
                    } else {
                        ""
                    };
                    fixes.push(format!(
                        "cast `{}` in your export{epoch_hint}, or map another column under [columns.{table}] {} = \"...\"",
                        spec.configured, spec.logical
                    ));
                }
                indices.push(Some(i));
                constants.push(None);
            }
            Err(_) => {
                let from_partition = partitions.iter().find(|(k, _)| k == &spec.configured).map(|(_, v)| v.clone());
                if from_partition.is_none() && spec.required {
                    problems
                        .push(format!("required column `{}` (convoqa's {}) not found", spec.configured, spec.logical));
                    fixes.push(format!(
                        "if your export names it differently, set it in the config: [columns.{table}] {} = \"<your column>\"",
                        spec.logical
                    ));
                }
                indices.push(None);
                constants.push(from_partition);
            }
        }
    }
    if !problems.is_empty() {
        let present: Vec<String> =
            schema.fields().iter().map(|f| format!("{} ({})", f.name(), f.data_type())).collect();
        return Err(Error::input(
            path,
            format!("{}; columns present: {}", problems.join("; "), present.join(", ")),
            fixes.join("\n  fix: "),
        ));
    }
    Ok((indices, constants))
}

/// The logical columns of one batch: `position` maps a schema index to the batch's column.
fn convert_batch(
    batch: &RecordBatch,
    position: impl Fn(usize) -> usize,
    path: &Path,
    specs: &[ColumnSpec],
    indices: &[Option<usize>],
    constants: &[Option<String>],
    input_tz: &TimeZone,
) -> Result<Vec<Column>> {
    let n = batch.num_rows();
    let mut columns = Vec::with_capacity(specs.len());
    for ((spec, idx), constant) in specs.iter().zip(indices).zip(constants) {
        let col = match idx {
            Some(i) => convert(batch.column(position(*i)), spec, input_tz).map_err(|problem| {
                Error::input(path, problem, format!("fix or re-export the {} column", spec.configured))
            })?,
            None => match constant {
                Some(v) => Column::Str(StringArray::from(vec![Some(v.as_str()); n])),
                None => Column::Missing,
            },
        };
        columns.push(col);
    }
    Ok(columns)
}

/// Runs a read of `path`, turning a panic inside the Parquet library into a clear input error.
/// The fuzzer found files whose metadata makes the parquet crate panic (a negative column offset:
/// tests/fixtures/fuzz/); a corrupt file is bad input (exit 2), not a crash.
pub fn guard_corrupt<T>(path: &Path, table: &str, read: impl FnOnce() -> Result<T>) -> Result<T> {
    static QUIET_HOOK: std::sync::Once = std::sync::Once::new();
    QUIET_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !GUARDED.with(|g| g.get()) {
                previous(info);
            }
        }));
    });
    GUARDED.with(|g| g.set(true));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(read));
    GUARDED.with(|g| g.set(false));
    outcome.unwrap_or_else(|payload| {
        let why = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(Error::input(
            path,
            format!("corrupt Parquet file: the reader stopped with \"{why}\""),
            format!("re-export the {table} table; check the file was copied completely"),
        ))
    })
}

thread_local! {
    /// Set while this thread reads under [`guard_corrupt`]: its panics are reported as errors.
    static GUARDED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn read_file<T>(
    path: &Path,
    table: &str,
    specs: &[ColumnSpec],
    input_tz: &TimeZone,
    progress: &ProgressBar,
    per_batch: impl FnMut(&[Column], usize, u64) -> T,
) -> Result<Vec<T>> {
    guard_corrupt(path, table, || read_file_unguarded(path, table, specs, input_tz, progress, per_batch))
}

fn read_file_unguarded<T>(
    path: &Path,
    table: &str,
    specs: &[ColumnSpec],
    input_tz: &TimeZone,
    progress: &ProgressBar,
    mut per_batch: impl FnMut(&[Column], usize, u64) -> T,
) -> Result<Vec<T>> {
    let (builder, indices, constants) = open_checked(path, table, specs)?;
    // The projection keeps the file's column order; map each logical column to its position.
    let mut projected: Vec<usize> = indices.iter().flatten().copied().collect();
    projected.sort_unstable();
    let reader = builder.build().map_err(|e| Error::read(path, "starting to read", e))?;
    let mut out = Vec::new();
    let mut first_row: u64 = 0;
    for batch in reader {
        let batch: RecordBatch =
            batch.map_err(|e| Error::read(path, format!("reading rows after row {first_row}"), e))?;
        let n = batch.num_rows();
        let columns = convert_batch(
            &batch,
            |i| projected.binary_search(&i).expect("projected column"),
            path,
            specs,
            &indices,
            &constants,
            input_tz,
        )?;
        out.push(per_batch(&columns, n, first_row));
        first_row += n as u64;
        progress.inc(n as u64);
    }
    Ok(out)
}

fn convert(array: &ArrayRef, spec: &ColumnSpec, input_tz: &TimeZone) -> std::result::Result<Column, String> {
    let to_utf8 = |a: &ArrayRef| -> std::result::Result<StringArray, String> {
        let c = cast(a, &DataType::Utf8).map_err(|e| format!("column `{}`: {e}", spec.configured))?;
        Ok(c.as_string::<i32>().clone())
    };
    match spec.kind {
        Kind::Id | Kind::Text => Ok(Column::Str(to_utf8(array)?)),
        Kind::Bool => {
            let opts = CastOptions { safe: true, ..Default::default() };
            let c = cast_with_options(array, &DataType::Boolean, &opts).map_err(|e| e.to_string())?;
            Ok(Column::Bool(c.as_boolean().clone()))
        }
        Kind::Number => {
            let c = cast(array, &DataType::Float64).map_err(|e| e.to_string())?;
            Ok(Column::Num(c.as_primitive::<Float64Type>().clone()))
        }
        Kind::Timestamp => match array.data_type() {
            DataType::Timestamp(_, tz) => {
                let c =
                    cast(array, &DataType::Timestamp(TimeUnit::Microsecond, tz.clone())).map_err(|e| e.to_string())?;
                let values = c.as_primitive::<TimestampMicrosecondType>();
                let naive_local = tz.is_none() && *input_tz != TimeZone::UTC;
                let v = values
                    .iter()
                    .map(|v| {
                        v.and_then(
                            |us| if naive_local { crate::timefmt::local_us_to_utc(us, input_tz) } else { Some(us) },
                        )
                    })
                    .collect();
                Ok(Column::Time(v, None))
            }
            _ => {
                let raw = to_utf8(array)?;
                let v = raw.iter().map(|s| s.and_then(|s| parse_timestamp_str(s, input_tz))).collect();
                Ok(Column::Time(v, Some(raw)))
            }
        },
    }
}

/// The message files of `paths` and the configured columns, every file's schema checked before
/// any rows are read, so a bad file fails fast.
/// Finds the message files and checks each opens with the contract's columns; returns the files,
/// the column specs and the files' row count (from the Parquet footers).
fn open_message_files(paths: &[PathBuf], settings: &Settings) -> Result<(Vec<PathBuf>, Vec<ColumnSpec>, u64)> {
    let files = discover_files(paths, "messages")?;
    let specs = specs_for(&MESSAGE_COLUMNS, |l| settings.config.columns.messages.name_of(l));
    let mut rows = 0u64;
    for f in &files {
        let (builder, _, _) = guard_corrupt(f, "messages", || open_checked(f, "messages", &specs))?;
        rows += builder.metadata().file_metadata().num_rows().max(0) as u64;
    }
    Ok((files, specs, rows))
}

/// The messages input checked before any work: every file found, readable, with the columns
/// the contract needs; returns the files and their row count.
pub fn check_messages(paths: &[PathBuf], settings: &Settings) -> Result<(Vec<PathBuf>, u64)> {
    let (files, _, rows) = open_message_files(paths, settings)?;
    Ok((files, rows))
}

pub fn read_messages(paths: &[PathBuf], settings: &Settings, progress: &ProgressBar) -> Result<MessagesInput> {
    let (files, specs, _) = open_message_files(paths, settings)?;
    let per_file: Vec<Result<(u64, Vec<Message>, Vec<QuarantinedRow>)>> = files
        .par_iter()
        .enumerate()
        .map(|(file_idx, path)| {
            let mut messages = Vec::new();
            let mut quarantined = Vec::new();
            let mut rows = 0u64;
            read_file(path, "messages", &specs, &settings.input_time_zone, progress, |cols, n, first_row| {
                rows += n as u64;
                push_message_rows(
                    cols,
                    n,
                    RowRef { file: file_idx as u32, row: first_row },
                    settings,
                    &mut messages,
                    &mut quarantined,
                );
            })?;
            Ok((rows, messages, quarantined))
        })
        .collect();
    let mut input = MessagesInput { files, ..Default::default() };
    for part in per_file {
        let (rows, messages, quarantined) = part?;
        input.rows_in += rows;
        input.messages.extend(messages);
        input.quarantined.extend(quarantined);
    }
    Ok(input)
}

/// The messages of `paths` one batch at a time, for runs that must not hold them all
/// (`--partitions`): `each` gets every batch's valid messages and quarantined rows, in file and
/// row order. Returns the files and the number of rows read.
pub fn read_messages_each(
    paths: &[PathBuf],
    settings: &Settings,
    progress: &ProgressBar,
    mut each: impl FnMut(Vec<Message>, Vec<QuarantinedRow>) -> Result<()>,
) -> Result<(Vec<PathBuf>, u64)> {
    let (files, specs, _) = open_message_files(paths, settings)?;
    let mut rows_in = 0u64;
    for (file_idx, path) in files.iter().enumerate() {
        let outcomes =
            read_file(path, "messages", &specs, &settings.input_time_zone, progress, |cols, n, first_row| {
                let (mut messages, mut quarantined) = (Vec::with_capacity(n), Vec::new());
                push_message_rows(
                    cols,
                    n,
                    RowRef { file: file_idx as u32, row: first_row },
                    settings,
                    &mut messages,
                    &mut quarantined,
                );
                rows_in += n as u64;
                each(messages, quarantined)
            })?;
        outcomes.into_iter().collect::<Result<()>>()?;
    }
    Ok((files, rows_in))
}

/// Where errors say stream input came from.
pub const STDIN_PATH: &str = "<stdin>";

/// Messages from an Arrow IPC stream (`convoqa stream`, one engine partition at a time): the same
/// columns, mapping and row checks as Parquet input; rows are numbered in stream order.
pub fn read_messages_ipc(input: impl std::io::Read, settings: &Settings) -> Result<MessagesInput> {
    let path = Path::new(STDIN_PATH);
    let specs = specs_for(&MESSAGE_COLUMNS, |l| settings.config.columns.messages.name_of(l));
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::BufReader::new(input), None).map_err(|e| {
        Error::input(
            path,
            format!("not an Arrow IPC stream ({e})"),
            "send the messages as an Arrow IPC stream (pyarrow.ipc.new_stream), not the IPC file format or Parquet",
        )
    })?;
    let (indices, constants) = check_schema(&reader.schema(), path, "messages", &specs, &[])?;
    let mut input = MessagesInput { files: vec![path.to_path_buf()], ..Default::default() };
    for batch in reader {
        let batch =
            batch.map_err(|e| Error::read(path, format!("reading the stream after row {}", input.rows_in), e))?;
        let columns = convert_batch(&batch, |i| i, path, &specs, &indices, &constants, &settings.input_time_zone)?;
        let first = RowRef { file: 0, row: input.rows_in };
        push_message_rows(&columns, batch.num_rows(), first, settings, &mut input.messages, &mut input.quarantined);
        input.rows_in += batch.num_rows() as u64;
    }
    Ok(input)
}

/// Converts `n` rows of one batch, whose first row is `first`: valid rows become messages, the
/// rest quarantine rows.
fn push_message_rows(
    cols: &[Column],
    n: usize,
    first: RowRef,
    settings: &Settings,
    messages: &mut Vec<Message>,
    quarantined: &mut Vec<QuarantinedRow>,
) {
    for r in 0..n {
        let source = RowRef { file: first.file, row: first.row + r as u64 };
        match message_row(cols, r, source, settings) {
            Ok(m) => messages.push(m),
            Err(q) => quarantined.push(q),
        }
    }
}

fn message_row(
    cols: &[Column],
    r: usize,
    source: RowRef,
    settings: &Settings,
) -> std::result::Result<Message, QuarantinedRow> {
    let [conv, sent, role, text, customer, channel, agent, msg_id, auto] = cols else {
        unreachable!("nine message columns")
    };
    let quarantine = |reason: QuarantineReason, detail: String| QuarantinedRow {
        table: "messages",
        source,
        reason,
        detail,
        conversation_id: conv.owned(r),
        message_id: msg_id.owned(r),
        sent_at_raw: sent.time_raw(r),
        sender_role_raw: role.owned(r),
        text: text.owned(r),
    };
    let Some(conversation_id) = conv.non_blank(r) else {
        return Err(quarantine(QuarantineReason::NullConversationId, "conversation_id is null or blank".into()));
    };
    let sent_at_us = match (sent.time(r), sent.time_raw(r)) {
        (Some(t), _) => t,
        (None, Some(raw)) if !raw.trim().is_empty() => {
            return Err(quarantine(
                QuarantineReason::UnparsableTimestamp,
                format!("sent_at {raw:?} is not an ISO-8601 timestamp"),
            ))
        }
        _ => return Err(quarantine(QuarantineReason::NullSentAt, "sent_at is null".into())),
    };
    let Some(role_raw) = role.non_blank(r) else {
        return Err(quarantine(QuarantineReason::NullSenderRole, "sender_role is null or blank".into()));
    };
    let Some(role) = settings.roles.get(&role_raw.to_lowercase()).copied() else {
        return Err(quarantine(
            QuarantineReason::UnknownRole,
            format!(
                "sender_role {role_raw:?} is not customer, agent, bot or system; map it under [roles] in the config"
            ),
        ));
    };
    Ok(Message {
        thread_id: conversation_id.clone(),
        conversation_id,
        message_id: msg_id.non_blank(r),
        sent_at_us,
        role,
        text: text.owned(r),
        customer_id: customer.non_blank(r),
        channel: channel.non_blank(r).map(|c| normalise_channel(&c)),
        agent_id: agent.non_blank(r),
        is_auto_reply: auto.bool(r).unwrap_or(false),
        source,
    })
}

/// Channel names are compared lower-case with '-' and ' ' as '_', so "Live Chat" = "live_chat".
pub fn normalise_channel(raw: &str) -> String {
    raw.trim().to_lowercase().replace([' ', '-'], "_")
}

pub fn read_conversations(
    paths: &[PathBuf],
    settings: &Settings,
    progress: &ProgressBar,
    warnings: &mut Warnings,
) -> Result<ConversationsInput> {
    let files = discover_files(paths, "conversations")?;
    let specs = specs_for(&CONVERSATION_COLUMNS, |l| settings.config.columns.conversations.name_of(l));
    for f in &files {
        guard_corrupt(f, "conversations", || open_checked(f, "conversations", &specs))?;
    }
    let mut input = ConversationsInput { files: files.clone(), ..Default::default() };
    for (file_idx, path) in files.iter().enumerate() {
        let batches =
            read_file(path, "conversations", &specs, &settings.input_time_zone, progress, |cols, n, first_row| {
                let mut local = Warnings::default();
                let mut rows = Vec::with_capacity(n);
                for r in 0..n {
                    let source = RowRef { file: file_idx as u32, row: first_row + r as u64 };
                    rows.push(conversation_row(cols, r, source, &mut local));
                }
                (n as u64, rows, local)
            })?;
        for (n, rows, local) in batches {
            input.rows_in += n;
            warnings.merge(local);
            for row in rows {
                match row {
                    Ok(rec) => input.records.push(rec),
                    Err(q) => input.quarantined.push(q),
                }
            }
        }
    }
    Ok(input)
}

fn conversation_row(
    cols: &[Column],
    r: usize,
    source: RowRef,
    warnings: &mut Warnings,
) -> std::result::Result<(ConversationRecord, RowRef), QuarantinedRow> {
    let [id, customer, channel, status, created, resolved, csat, nps, ces, hold, acw, team, subject] = cols else {
        unreachable!("thirteen conversation columns")
    };
    let Some(conversation_id) = id.non_blank(r) else {
        return Err(QuarantinedRow {
            table: "conversations",
            source,
            reason: QuarantineReason::NullConversationId,
            detail: "conversation_id is null or blank".into(),
            conversation_id: None,
            message_id: None,
            sent_at_raw: created.time_raw(r),
            sender_role_raw: None,
            text: None,
        });
    };
    let status = status.non_blank(r).and_then(|raw| {
        let s = Status::parse(&raw);
        if s.is_none() {
            warnings.add("unknown_status", format!("{conversation_id}: status {raw:?} (expected resolved, closed, open or pending); treated as missing"));
        }
        s
    });
    let mut time = |col: &Column, name: &str| {
        let t = col.time(r);
        if t.is_none() {
            if let Some(raw) = col.time_raw(r).filter(|s| !s.trim().is_empty()) {
                warnings.add("unparsable_conversation_timestamp", format!("{conversation_id}: {name} {raw:?} ignored"));
            }
        }
        t
    };
    let created_at_us = time(created, "created_at");
    let resolved_at_us = time(resolved, "resolved_at");
    let mut score = |col: &Column, name: &str, lo: f64, hi: f64| {
        let v = col.num(r)?;
        if v < lo || v > hi {
            warnings.add("score_out_of_range", format!("{conversation_id}: {name} {v} outside {lo}..{hi}; ignored"));
            return None;
        }
        Some(v)
    };
    let csat_score = score(csat, "csat_score", 1.0, 5.0);
    let nps_score = score(nps, "nps_score", 0.0, 10.0);
    let ces_score = score(ces, "ces_score", 1.0, 7.0);
    let hold_s = score(hold, "hold_seconds", 0.0, f64::MAX);
    let after_work_s = score(acw, "after_work_seconds", 0.0, f64::MAX);
    Ok((
        ConversationRecord {
            conversation_id,
            customer_id: customer.non_blank(r),
            channel: channel.non_blank(r).map(|c| normalise_channel(&c)),
            status,
            created_at_us,
            resolved_at_us,
            csat_score,
            nps_score,
            ces_score,
            hold_s,
            after_work_s,
            team: team.non_blank(r),
            subject: subject.non_blank(r),
        },
        source,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_partition_values_come_from_directories() {
        let p = Path::new("/data/msgs/date=2026-11-01/channel=whatsapp/part-0.parquet");
        assert_eq!(
            hive_partitions(p),
            vec![("date".into(), "2026-11-01".into()), ("channel".into(), "whatsapp".into())]
        );
    }

    #[test]
    fn channel_names_are_normalised() {
        assert_eq!(normalise_channel(" Live Chat"), "live_chat");
        assert_eq!(normalise_channel("WhatsApp"), "whatsapp");
    }

    #[test]
    fn kinds_accept_the_documented_types() {
        use std::sync::Arc;
        assert!(Kind::Id.accepts(&DataType::Int64));
        assert!(!Kind::Id.accepts(&DataType::Float64));
        assert!(Kind::Timestamp.accepts(&DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("+07:00")))));
        assert!(Kind::Timestamp.accepts(&DataType::LargeUtf8));
        assert!(!Kind::Timestamp.accepts(&DataType::Int64));
        assert!(!Kind::Text.accepts(&DataType::Binary));
    }
}
