//! Stage 7, write: the plumbing under every output (Parquet, Arrow IPC and CSV writers, the
//! table builder), the output directory's lock, and atomic publication; each table's schema is
//! in `tables`. Everything goes to a staging directory inside the output directory first; only when every file is complete are they
//! renamed into place (each rename is atomic), with the manifest last. A run that fails before
//! that leaves the previous outputs as they were.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float32Builder, Float64Array, ListBuilder, StringArray,
    TimestampMicrosecondArray, UInt32Array, UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use jiff::civil::Date;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

/// Builds one table column by column, keeping each column's name, type and values together.
#[derive(Default)]
pub struct TableBuilder {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl TableBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    fn push(&mut self, name: &str, array: ArrayRef, nullable: bool) -> &mut Self {
        self.fields.push(Field::new(name, array.data_type().clone(), nullable));
        self.arrays.push(array);
        self
    }
    pub fn str<S: AsRef<str>>(&mut self, name: &str, values: impl IntoIterator<Item = Option<S>>) -> &mut Self {
        self.push(name, Arc::new(values.into_iter().collect::<StringArray>()), true)
    }
    pub fn f64(&mut self, name: &str, values: impl IntoIterator<Item = Option<f64>>) -> &mut Self {
        self.push(name, Arc::new(values.into_iter().collect::<Float64Array>()), true)
    }
    pub fn u64(&mut self, name: &str, values: impl IntoIterator<Item = u64>) -> &mut Self {
        self.push(name, Arc::new(values.into_iter().collect::<UInt64Array>()), false)
    }
    pub fn u64_opt(&mut self, name: &str, values: impl IntoIterator<Item = Option<u64>>) -> &mut Self {
        self.push(name, Arc::new(values.into_iter().collect::<UInt64Array>()), true)
    }
    pub fn f32_list<'a>(&mut self, name: &str, values: impl IntoIterator<Item = &'a [f32]>) -> &mut Self {
        let mut b =
            ListBuilder::new(Float32Builder::new()).with_field(Arc::new(Field::new("item", DataType::Float32, false)));
        for v in values {
            b.values().append_slice(v);
            b.append(true);
        }
        self.push(name, Arc::new(b.finish()), false)
    }
    pub fn f32_list_opt<'a>(&mut self, name: &str, values: impl IntoIterator<Item = Option<&'a [f32]>>) -> &mut Self {
        let mut b =
            ListBuilder::new(Float32Builder::new()).with_field(Arc::new(Field::new("item", DataType::Float32, false)));
        for v in values {
            match v {
                Some(v) => {
                    b.values().append_slice(v);
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        self.push(name, Arc::new(b.finish()), true)
    }
    pub fn u32(&mut self, name: &str, values: impl IntoIterator<Item = u32>) -> &mut Self {
        self.push(name, Arc::new(values.into_iter().collect::<UInt32Array>()), false)
    }
    pub fn bool(&mut self, name: &str, values: impl IntoIterator<Item = Option<bool>>) -> &mut Self {
        self.push(name, Arc::new(values.into_iter().collect::<BooleanArray>()), true)
    }
    /// Timestamps in UTC (microseconds), written as Parquet timestamps, not strings.
    pub fn ts(&mut self, name: &str, values: impl IntoIterator<Item = Option<i64>>) -> &mut Self {
        let a = values.into_iter().collect::<TimestampMicrosecondArray>().with_timezone("UTC");
        self.push(name, Arc::new(a), true)
    }
    pub fn date(&mut self, name: &str, values: impl IntoIterator<Item = Option<Date>>) -> &mut Self {
        let epoch = Date::constant(1970, 1, 1);
        let days = values.into_iter().map(|d| d.map(|d| (d - epoch).get_days())).collect::<Date32Array>();
        self.push(name, Arc::new(days), true)
    }
    pub fn finish(self) -> Result<RecordBatch> {
        let schema = Arc::new(Schema::new(self.fields));
        RecordBatch::try_new(schema, self.arrays).map_err(Error::arrow("building an output table"))
    }
}

/// Writes one batch as a Parquet file. No run time or host goes into the file, so the same
/// input gives the same bytes.
pub fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<()> {
    let mut writer = StagedParquet::create(path, batch.schema(), writer_props())?;
    writer.write(batch)?;
    writer.close()
}

/// A partitioned run's spill file: small row groups (reading a part back while merging holds one
/// row group's column chunks) and no compression (written once, read once, deleted).
pub fn write_spill_parquet(path: &Path, batch: &RecordBatch) -> Result<()> {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(SPILL_ROW_GROUP))
        .set_compression(Compression::UNCOMPRESSED)
        .build();
    let mut writer = StagedParquet::create(path, batch.schema(), props)?;
    writer.write(batch)?;
    writer.close()
}

/// The writer settings of every Parquet file convoqa writes (part of what makes outputs
/// byte-identical run to run).
fn writer_props() -> WriterProperties {
    WriterProperties::builder()
        // The writer holds a row group's encoded pages until it is full: 128k rows bounds that
        // (a few tens of MB) and is still a large group for DuckDB, Spark and Polars.
        .set_max_row_group_row_count(Some(128 * 1024))
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid level")))
        .set_created_by(format!("convoqa {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A Parquet file written batch by batch (the merged messages of a partitioned run).
pub struct StagedParquet {
    path: PathBuf,
    writer: ArrowWriter<File>,
}

impl StagedParquet {
    fn create(path: &Path, schema: arrow::datatypes::SchemaRef, props: WriterProperties) -> Result<StagedParquet> {
        let file = File::create(path).map_err(|e| Error::write(path, e))?;
        let writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(|e| Error::write(path, e))?;
        Ok(StagedParquet { path: path.to_path_buf(), writer })
    }
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer.write(batch).map_err(|e| Error::write(&self.path, e))
    }
    pub fn close(self) -> Result<()> {
        self.writer.close().map_err(|e| Error::write(&self.path, e))?;
        Ok(())
    }
}

/// Rows per write of `StagedOutput::parquet_rows` and of merged parts: a multiple of 1024.
pub const ROWS_PER_WRITE: usize = 8192;

/// Rows per row group of spill files: a merge holds one row group of every part at once.
pub const SPILL_ROW_GROUP: usize = 1024;

/// Prefix of a partitioned run's spill directory inside the output directory (+ [`run_tag`]).
pub const SPILL_PREFIX: &str = ".convoqa-spill-";

const STAGING_PREFIX: &str = ".convoqa-staging-";

/// `<host>-<pid>`: names this run's private directories. The host keeps runs on different
/// machines or containers (where every run may be pid 1) sharing an output store apart.
pub fn run_tag() -> String {
    format!("{}-{}", host_name(), std::process::id())
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let raw = if ok {
        String::from_utf8_lossy(&buf[..buf.iter().position(|&b| b == 0).unwrap_or(buf.len())]).into_owned()
    } else {
        String::new()
    };
    let clean: String = raw.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' { c } else { '_' }).collect();
    if clean.is_empty() {
        "host".into()
    } else {
        clean
    }
}

/// Staging directories of runs that were killed (their process is gone) hold half-written files
/// nobody will commit: clear them. Best effort; a live run's directory is never touched, nor one
/// of another host (its process cannot be checked from here).
fn remove_dead_staging(out_dir: &Path) {
    let Ok(entries) = std::fs::read_dir(out_dir) else { return };
    let here = host_name();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(tag) = name.strip_prefix(STAGING_PREFIX).or_else(|| name.strip_prefix(SPILL_PREFIX)) else { continue };
        let (host, pid) = match tag.rsplit_once('-') {
            Some((host, pid)) => (host, pid),
            None => (here.as_str(), tag),
        };
        let Ok(pid) = pid.parse::<u32>() else { continue };
        if host != here {
            continue;
        }
        let alive = Path::new(&format!("/proc/{pid}")).exists() || !Path::new("/proc/self").exists();
        if !alive {
            tracing::info!(dir = %entry.path().display(), "removing a killed run's staging directory");
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// The advisory lock a run holds on its output directory while it works: a second run into the
/// same place exits 2 at once, naming the holder, instead of both renaming files into it.
/// `flock` on `<out>/.convoqa.lock`, released by the kernel if the process dies; the file is
/// removed when the run ends, so outputs hold only outputs.
pub struct OutDirLock {
    path: PathBuf,
    /// Never read: the flock lives as long as this descriptor is open.
    _file: File,
    /// The run made the directory: a run that fails before writing anything removes it again.
    created_dir: Option<PathBuf>,
}

pub const LOCK_FILE: &str = ".convoqa.lock";

impl OutDirLock {
    pub fn acquire(out_dir: &Path, flag: &str) -> Result<OutDirLock> {
        use std::io::{Read, Seek, Write};
        use std::os::unix::fs::MetadataExt;
        use std::os::unix::io::AsRawFd;
        let created_dir = (!out_dir.exists()).then(|| out_dir.to_path_buf());
        std::fs::create_dir_all(out_dir).map_err(|e| Error::write(out_dir, e))?;
        let path = out_dir.join(LOCK_FILE);
        loop {
            let mut file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| Error::write(&path, e))?;
            // SAFETY: flock on a file descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                return Err(Error::config(
                    flag,
                    format!("another convoqa run is writing into {} ({})", out_dir.display(), holder.trim().trim_end_matches(',')),
                    "wait for it to finish, or give this run another --out; schedulers should not start a run while the previous one is still going",
                ));
            }
            // The holder before us may have removed the file after we opened it: then our lock
            // is on a deleted file and does not exclude anyone. Lock the current file instead.
            let same = match (file.metadata(), std::fs::metadata(&path)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            let started = jiff::Timestamp::now().round(jiff::Unit::Second).unwrap_or_else(|_| jiff::Timestamp::now());
            let _ = file.set_len(0);
            let _ = file.seek(std::io::SeekFrom::Start(0));
            let _ = write!(file, "pid {} on {}, started {started}", std::process::id(), host_name());
            let _ = file.flush();
            return Ok(OutDirLock { path, _file: file, created_dir });
        }
    }
}

impl Drop for OutDirLock {
    fn drop(&mut self) {
        // Removed while still held (`_file` closes after this): a waiter that opened it sees the
        // inode change and retries on the new file.
        let _ = std::fs::remove_file(&self.path);
        if let Some(dir) = &self.created_dir {
            // Only succeeds when empty: nothing was written.
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// Output files staged in a private directory, then moved into place together.
pub struct StagedOutput {
    out_dir: PathBuf,
    staging: PathBuf,
    files: Vec<String>,
}

/// Checks, before any work, that `out_dir` can be an output directory: not an existing file, and
/// the directory (or its nearest existing ancestor, where it will be created) writable. Nothing is
/// created. Errors are the user's to fix (exit 2).
pub fn check_out_dir(out_dir: &Path, flag: &str) -> Result<()> {
    if out_dir.exists() && !out_dir.is_dir() {
        return Err(Error::config(
            flag,
            format!("{} is an existing file, not a directory", out_dir.display()),
            "pass a directory path (convoqa writes several tables into it); remove or rename the file",
        ));
    }
    let mut existing = out_dir;
    while !existing.exists() {
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p,
            _ => {
                existing = Path::new(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return Err(Error::config(
            flag,
            format!("{} cannot be created: {} is a file", out_dir.display(), existing.display()),
            "pass a path under a directory",
        ));
    }
    // Permissions are not enough to know (read-only mounts, ACLs): try to create a file.
    let probe = existing.join(format!(".convoqa-write-check-{}", std::process::id()));
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(Error::config(
            flag,
            format!("cannot write into {} ({e})", existing.display()),
            "pass a directory you can write to, or fix its permissions (the scheduler's user must own it or have write access)",
        )),
    }
}

impl StagedOutput {
    pub fn new(out_dir: &Path) -> Result<StagedOutput> {
        std::fs::create_dir_all(out_dir).map_err(|e| Error::write(out_dir, e))?;
        remove_dead_staging(out_dir);
        let staging = out_dir.join(format!("{STAGING_PREFIX}{}", run_tag()));
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| Error::write(&staging, e))?;
        }
        std::fs::create_dir(&staging).map_err(|e| Error::write(&staging, e))?;
        Ok(StagedOutput { out_dir: out_dir.to_path_buf(), staging, files: Vec::new() })
    }

    pub fn parquet(&mut self, name: &str, batch: &RecordBatch) -> Result<()> {
        write_parquet(&self.staging.join(name), batch)?;
        self.files.push(name.to_string());
        Ok(())
    }

    /// A Parquet table of many rows, built and written `ROWS_PER_WRITE` rows at a time so the
    /// whole table is never in memory as Arrow arrays. The file is the one a single batch gives
    /// (chunks are whole multiples of the writer's 1024-row mini-batches, so pages break alike).
    pub fn parquet_rows<T>(
        &mut self,
        name: &str,
        rows: &[T],
        to_batch: impl Fn(&[T]) -> Result<RecordBatch>,
    ) -> Result<()> {
        let first = to_batch(&rows[..rows.len().min(ROWS_PER_WRITE)])?;
        let mut writer = self.parquet_writer(name, first.schema())?;
        writer.write(&first)?;
        drop(first);
        for chunk in rows.chunks(ROWS_PER_WRITE).skip(1) {
            writer.write(&to_batch(chunk)?)?;
        }
        writer.close()
    }

    /// A file of the stage written by `write`, which gets a buffered writer of it (large outputs
    /// need not be built in memory first).
    pub fn file(
        &mut self,
        name: &str,
        write: impl FnOnce(std::io::BufWriter<File>) -> Result<std::io::BufWriter<File>>,
    ) -> Result<()> {
        let path = self.staging.join(name);
        let file = File::create(&path).map_err(|e| Error::write(&path, e))?;
        let mut written = write(std::io::BufWriter::new(file))?;
        std::io::Write::flush(&mut written).map_err(|e| Error::write(&path, e))?;
        self.files.push(name.to_string());
        Ok(())
    }

    /// A Parquet file of the stage written batch by batch; close it before the commit.
    pub fn parquet_writer(&mut self, name: &str, schema: arrow::datatypes::SchemaRef) -> Result<StagedParquet> {
        let writer = StagedParquet::create(&self.staging.join(name), schema, writer_props())?;
        self.files.push(name.to_string());
        Ok(writer)
    }

    pub fn bytes(&mut self, name: &str, data: &[u8]) -> Result<()> {
        let path = self.staging.join(name);
        std::fs::write(&path, data).map_err(|e| Error::write(&path, e))?;
        self.files.push(name.to_string());
        Ok(())
    }

    pub fn file_names(&self) -> &[String] {
        &self.files
    }

    /// Moves every staged file into the output directory; `last` (the manifest) goes last so
    /// its presence means the set is complete.
    pub fn commit(mut self, last: &str) -> Result<Vec<String>> {
        let mut order: Vec<String> = self.files.iter().filter(|f| f.as_str() != last).cloned().collect();
        order.push(last.to_string());
        for name in &order {
            let from = self.staging.join(name);
            let to = self.out_dir.join(name);
            std::fs::rename(&from, &to).map_err(|e| Error::write(&to, e))?;
        }
        let _ = std::fs::remove_dir(&self.staging);
        self.files.clear();
        Ok(order)
    }
}

impl Drop for StagedOutput {
    fn drop(&mut self) {
        // After a commit the directory is already gone; otherwise drop the half-written files.
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}

/// Several tables as one Arrow IPC stream (`convoqa stream`), since an engine's map over a
/// partition returns one schema: a `record` column names each row's table, then the union of
/// the tables' columns in order of first appearance (a name shared by tables has one type), null
/// where a row's table has no such column. Each field's metadata `convoqa_tables` lists the
/// tables that have it, so a reader can split the stream back into tables.
pub fn write_ipc_stream<W: std::io::Write>(output: W, tables: &[(&str, &RecordBatch)]) -> Result<()> {
    use arrow::array::new_null_array;
    let mut fields: Vec<(Field, Vec<&str>)> =
        vec![(Field::new("record", DataType::Utf8, false), tables.iter().map(|t| t.0).collect())];
    for (table, batch) in tables {
        for f in batch.schema().fields() {
            match fields.iter_mut().find(|(g, _)| g.name() == f.name()) {
                Some((g, _)) if g.data_type() != f.data_type() => {
                    return Err(Error::internal(format!(
                        "stream column {} is {} in {table} but {} before",
                        f.name(),
                        f.data_type(),
                        g.data_type()
                    )))
                }
                Some((_, owners)) => owners.push(table),
                None => fields.push((f.as_ref().clone().with_nullable(true), vec![*table])),
            }
        }
    }
    let fields: Vec<Field> = fields
        .into_iter()
        .map(|(f, owners)| {
            f.with_metadata(std::collections::HashMap::from([("convoqa_tables".to_string(), owners.join(","))]))
        })
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let stdout = std::path::Path::new("<stdout>");
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(output, &schema).map_err(|e| Error::write(stdout, e))?;
    for (table, batch) in tables {
        let n = batch.num_rows();
        let columns: Vec<ArrayRef> =
            std::iter::once(Arc::new(StringArray::from(vec![*table; n])) as ArrayRef)
                .chain(schema.fields().iter().skip(1).map(|f| {
                    batch.column_by_name(f.name()).cloned().unwrap_or_else(|| new_null_array(f.data_type(), n))
                }))
                .collect();
        let union =
            RecordBatch::try_new(schema.clone(), columns).map_err(Error::arrow(format!("stream batch of {table}")))?;
        writer.write(&union).map_err(|e| Error::write(stdout, e))?;
    }
    // into_inner finishes the stream; the flush makes a closed pipe an error here, not at drop.
    let mut output = writer.into_inner().map_err(|e| Error::write(stdout, e))?;
    output.flush().map_err(|e| Error::write(stdout, e))
}

/// Writes risk_model.json (what `[risk] model` loads) and CARD.md into `dir`, atomically;
/// returns the model file's path.
pub fn save_risk_model(
    dir: &Path,
    models: &crate::score::RiskModels,
    card: &crate::score::train::RiskCard,
) -> Result<std::path::PathBuf> {
    let file = crate::score::train::model_file(models, card);
    let json = serde_json::to_vec_pretty(&file).map_err(Error::format("risk model to JSON"))?;
    let mut staged = StagedOutput::new(dir)?;
    staged.bytes("CARD.md", crate::score::train::card_markdown(card, models).as_bytes())?;
    staged.bytes(crate::score::train::MODEL_FILE, &json)?;
    staged.commit(crate::score::train::MODEL_FILE)?;
    Ok(dir.join(crate::score::train::MODEL_FILE))
}
