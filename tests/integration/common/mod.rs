//! Helpers for the integration tests: run the real binary, read its Parquet outputs.
#![allow(dead_code)]

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Float64Type, TimeUnit, TimestampMicrosecondType, UInt64Type};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_convoqa"))
}

/// Runs convoqa with `args`; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let out: Output = bin().args(args).output().expect("convoqa runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

pub fn run_ok(args: &[&str]) -> String {
    let (code, stdout, stderr) = run(args);
    assert_eq!(code, 0, "convoqa {args:?} failed:\n{stderr}");
    stdout
}

/// A demo data set, generated once per test binary per (size, seed).
pub fn demo(dir: &Path, conversations: usize, seed: u64) -> PathBuf {
    let out = dir.join(format!("demo-{conversations}-{seed}"));
    if !out.join("ground_truth.json").exists() {
        run_ok(&[
            "demo-data",
            "--out",
            out.to_str().unwrap(),
            "--conversations",
            &conversations.to_string(),
            "--seed",
            &seed.to_string(),
        ]);
    }
    out
}

/// Analyses a demo set (messages directory + conversations table) into `out`, quietly.
pub fn analyze_demo(data: &Path, out: &Path) {
    analyze_tables(&data.join("messages"), &data.join("conversations.parquet"), out);
}

/// Analyses a messages input and a conversations table into `out`, quietly.
pub fn analyze_tables(messages: &Path, conversations: &Path, out: &Path) {
    analyze_tables_with(messages, conversations, out, &[]);
}

/// As `analyze_tables`, with more arguments (e.g. `--config FILE`).
pub fn analyze_tables_with(messages: &Path, conversations: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec![
        "analyze",
        "--messages",
        messages.to_str().unwrap(),
        "--conversations",
        conversations.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ];
    args.extend(extra);
    run_ok(&args);
}

pub fn read_parquet(path: &Path) -> RecordBatch {
    let file = File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let batches: Vec<RecordBatch> = reader.map(|b| b.unwrap()).collect();
    let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| {
        let f = File::open(path).unwrap();
        ParquetRecordBatchReaderBuilder::try_new(f).unwrap().schema().clone()
    });
    concat_batches(&schema, &batches).unwrap()
}

/// One table as rows of name -> value, for readable assertions.
pub struct Table {
    pub batch: RecordBatch,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Str(String),
    F64(f64),
    U64(u64),
    Bool(bool),
    TsUs(i64),
    /// Days since 1970-01-01.
    Date(i32),
}

impl Value {
    pub fn str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn f64(&self) -> Option<f64> {
        match self {
            Value::F64(v) => Some(*v),
            Value::U64(v) => Some(*v as f64),
            _ => None,
        }
    }
    pub fn bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    pub fn ts(&self) -> Option<i64> {
        match self {
            Value::TsUs(v) => Some(*v),
            _ => None,
        }
    }
    /// A Date32 value as YYYY-MM-DD.
    pub fn date(&self) -> Option<String> {
        match self {
            Value::Date(d) => {
                Some(jiff::civil::date(1970, 1, 1).checked_add(jiff::Span::new().days(*d as i64)).ok()?.to_string())
            }
            _ => None,
        }
    }
}

impl Table {
    pub fn open(path: &Path) -> Table {
        Table { batch: read_parquet(path) }
    }
    pub fn len(&self) -> usize {
        self.batch.num_rows()
    }
    pub fn get(&self, column: &str, row: usize) -> Value {
        let col = self.batch.column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
        if col.is_null(row) {
            return Value::Null;
        }
        match col.data_type() {
            DataType::Utf8 => Value::Str(col.as_string::<i32>().value(row).to_string()),
            DataType::Float64 => Value::F64(col.as_primitive::<Float64Type>().value(row)),
            DataType::UInt64 => Value::U64(col.as_primitive::<UInt64Type>().value(row)),
            DataType::UInt32 => Value::U64(col.as_primitive::<arrow::datatypes::UInt32Type>().value(row) as u64),
            DataType::Boolean => Value::Bool(col.as_boolean().value(row)),
            DataType::Timestamp(TimeUnit::Microsecond, _) => {
                Value::TsUs(col.as_primitive::<TimestampMicrosecondType>().value(row))
            }
            DataType::Date32 => Value::Date(col.as_primitive::<arrow::datatypes::Date32Type>().value(row)),
            other => panic!("unhandled type {other} in {column}"),
        }
    }
    /// Rows keyed by a string column.
    pub fn index_by(&self, key: &str) -> HashMap<String, usize> {
        (0..self.len()).map(|r| (self.get(key, r).str().expect("key").to_string(), r)).collect()
    }
}

/// Same schema and rows; floats within `tol` (relative above 1).
pub fn assert_tables_close(a: &Path, b: &Path, tol: f64) {
    let (x, y) = (Table::open(a), Table::open(b));
    assert_eq!(x.batch.schema(), y.batch.schema(), "{}", a.display());
    assert_eq!(x.len(), y.len(), "{}", a.display());
    for field in x.batch.schema().fields() {
        for r in 0..x.len() {
            match (x.get(field.name(), r), y.get(field.name(), r)) {
                (Value::F64(p), Value::F64(q)) => assert!(
                    (p - q).abs() <= tol * p.abs().max(1.0),
                    "{} {}[{r}]: {p} vs {q}",
                    a.display(),
                    field.name()
                ),
                (p, q) => assert_eq!(p, q, "{} {}[{r}]", a.display(), field.name()),
            }
        }
    }
}

/// A parity fixture set made by a scripts/gen-*-fixtures.sh: `<name>.jsonl` (text, reference
/// token ids) and `<name>.f32` (reference embeddings, `dim` little-endian floats each).
pub fn parity_fixtures(name: &str, dim: usize) -> (Vec<String>, Vec<Vec<u32>>, Vec<Vec<f32>>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let text = std::fs::read_to_string(dir.join(format!("{name}.jsonl"))).unwrap();
    let (mut texts, mut ids) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        texts.push(v["text"].as_str().unwrap().to_string());
        ids.push(v["ids"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as u32).collect());
    }
    let raw = std::fs::read(dir.join(format!("{name}.f32"))).unwrap();
    let floats: Vec<f32> = raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect();
    let emb = floats.chunks(dim).map(|c| c.to_vec()).collect::<Vec<_>>();
    assert_eq!(emb.len(), texts.len());
    (texts, ids, emb)
}

/// The tables `convoqa kpis` writes besides conversations.parquet.
pub const KPI_FILES: [&str; 8] = [
    "kpi_overall.parquet",
    "kpi_by_channel.parquet",
    "kpi_by_agent.parquet",
    "kpi_by_team.parquet",
    "kpi_by_day.parquet",
    "kpi_by_intent.parquet",
    "intent_resolution.parquet",
    "heatmap_hourly.parquet",
];
