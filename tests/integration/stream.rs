//! `convoqa stream`: messages as an Arrow IPC stream on stdin, conversations, enriched messages,
//! quarantined rows and the row accounting as one IPC stream on stdout. Its conversation and
//! message rows, merged by `convoqa kpis --rescore`, give the KPI tables of one `analyze`.
//! (The Spark job over several partitions: tests/python/check_spark.py, run by scripts/test.sh.)

use crate::common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{Schema, UInt64Type};
use common::{bin, demo, read_parquet, run, run_ok, KPI_FILES};

/// The demo's clean message files (the date=... partitions; the legacy export has another schema).
fn message_files(data: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(data.join("messages"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("date="))
        .flat_map(|d| std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()))
        .collect();
    files.sort();
    files
}

fn ipc_of(files: &[PathBuf]) -> (Vec<u8>, usize) {
    let batches: Vec<RecordBatch> = files.iter().map(|f| read_parquet(f)).collect();
    let schema = batches[0].schema();
    let mut bytes = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut bytes, &schema).unwrap();
    for b in &batches {
        writer.write(&b.clone().with_schema(schema.clone()).expect("the demo's partitions share a schema")).unwrap();
    }
    writer.finish().unwrap();
    drop(writer);
    (bytes, batches.iter().map(RecordBatch::num_rows).sum())
}

/// Runs `convoqa stream ARGS` with `stdin`; returns (exit code, stdout bytes, stderr).
fn stream(args: &[&str], stdin: Vec<u8>) -> (i32, Vec<u8>, String) {
    let mut child = bin()
        .arg("stream")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        let _ = input.write_all(&stdin); // a refusal closes the pipe early: the exit code says why
    });
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap();
    (out.status.code().unwrap_or(-1), out.stdout, String::from_utf8_lossy(&out.stderr).into())
}

/// The rows of one record type, with only the columns that table has (field metadata).
fn records(all: &RecordBatch, record: &str) -> RecordBatch {
    let mask = arrow::compute::kernels::cmp::eq(
        all.column_by_name("record").unwrap(),
        &arrow::array::StringArray::new_scalar(record),
    )
    .unwrap();
    let rows = filter_record_batch(all, &mask).unwrap();
    let keep: Vec<usize> = (1..rows.num_columns())
        .filter(|&i| rows.schema().field(i).metadata()["convoqa_tables"].split(',').any(|t| t == record))
        .collect();
    let schema = Schema::new(
        keep.iter()
            .map(|&i| rows.schema().field(i).clone().with_metadata(std::collections::HashMap::new()))
            .collect::<Vec<_>>(),
    );
    RecordBatch::try_new(Arc::new(schema), keep.iter().map(|&i| rows.column(i).clone()).collect()).unwrap()
}

#[test]
fn stream_rows_merge_into_the_single_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 200, 11);
    let files = message_files(&data);
    let file_args: Vec<&str> = files.iter().map(|f| f.to_str().unwrap()).collect();
    let single = tmp.path().join("single");
    let mut args = vec!["analyze", "--no-model", "--quiet", "--out", single.to_str().unwrap(), "--messages"];
    args.extend(&file_args);
    run_ok(&args);
    let as_of = serde_json::from_slice::<serde_json::Value>(&std::fs::read(single.join("run_manifest.json")).unwrap())
        .unwrap()["as_of"]
        .as_str()
        .unwrap()
        .to_string();

    let (input, rows_in) = ipc_of(&files);
    let (code, stdout, stderr) = stream(&["--as-of", &as_of, "--no-model"], input);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("message rows in"), "{stderr}");
    let reader = arrow::ipc::reader::StreamReader::try_new(stdout.as_slice(), None).unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    let all = arrow::compute::concat_batches(&schema, &batches).unwrap();

    // Every input row is accounted for.
    let acc = records(&all, "accounting");
    let get = |c: &str| acc.column_by_name(c).unwrap().as_primitive::<UInt64Type>().value(0);
    assert_eq!(get("rows_in"), rows_in as u64);
    assert_eq!(get("rows_used") + get("rows_quarantined") + get("duplicates_dropped"), get("rows_in"));
    let (conversations, messages) = (records(&all, "conversation"), records(&all, "message"));
    assert_eq!(messages.num_rows() as u64, get("rows_used"));
    assert_eq!(records(&all, "quarantine").num_rows() as u64, get("rows_quarantined"));
    assert_eq!(conversations.num_rows(), read_parquet(&single.join("conversations.parquet")).num_rows());

    // Written as an engine would, merged by kpis: the single run's tables, byte for byte.
    let part = tmp.path().join("part");
    std::fs::create_dir_all(&part).unwrap();
    convoqa::write::write_parquet(&part.join("conversations.parquet"), &conversations).unwrap();
    convoqa::write::write_parquet(&part.join("messages.parquet"), &messages).unwrap();
    let merged = tmp.path().join("merged");
    run_ok(&[
        "kpis",
        "--rescore",
        "--conversations",
        part.to_str().unwrap(),
        "--messages",
        part.to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    for t in std::iter::once("conversations.parquet").chain(KPI_FILES) {
        assert!(std::fs::read(single.join(t)).unwrap() == std::fs::read(merged.join(t)).unwrap(), "{t} differs");
    }
}

#[test]
fn stream_refuses_what_is_not_an_ipc_stream_and_needs_as_of() {
    let (code, stdout, stderr) =
        stream(&["--as-of", "2026-11-20T00:00:00Z", "--no-model"], b"PAR1 this is not arrow".to_vec());
    assert_eq!(code, 2, "{stderr}");
    assert!(stdout.is_empty());
    assert!(stderr.contains("not an Arrow IPC stream") && stderr.contains("pyarrow.ipc.new_stream"), "{stderr}");

    // Missing required columns are named with the fix, as for Parquet input.
    let batch = RecordBatch::try_from_iter(vec![(
        "text",
        Arc::new(arrow::array::StringArray::from(vec!["halo"])) as Arc<dyn Array>,
    )])
    .unwrap();
    let mut bytes = Vec::new();
    {
        let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut bytes, &batch.schema()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap();
    }
    let (code, _, stderr) = stream(&["--as-of", "2026-11-20T00:00:00Z", "--no-model"], bytes);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("conversation_id") && stderr.contains("[columns.messages]"), "{stderr}");

    // Each partition must judge at the same moment: --as-of is required.
    let (code, _, stderr) = run(&["stream", "--no-model"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("--as-of"), "{stderr}");
}
