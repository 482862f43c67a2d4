//! Bad input gets a clear error and exit code 2, and nothing is written; row faults go to
//! quarantine; config mapping lets a real export be read as it is.

use crate::common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray, TimestampNanosecondArray,
};
use common::{run, run_ok, Table, Value};

fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    let batch = RecordBatch::try_from_iter(columns).unwrap();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    convoqa::write::write_parquet(path, &batch).unwrap();
}

fn strs(v: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(v.to_vec()))
}

/// A small valid messages file: two conversations of one customer.
fn valid_messages(path: &Path) {
    let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    write(
        path,
        vec![
            ("conversation_id", strs(&[Some("a"), Some("a"), Some("b"), Some("b")])),
            (
                "sent_at",
                Arc::new(
                    TimestampMillisecondArray::from(vec![
                        t("2026-11-02T01:00:00Z"),
                        t("2026-11-02T01:05:00Z"),
                        t("2026-11-03T02:00:00Z"),
                        t("2026-11-03T02:01:00Z"),
                    ])
                    .with_timezone("UTC"),
                ),
            ),
            ("sender_role", strs(&[Some("customer"), Some("agent"), Some("customer"), Some("agent")])),
            ("text", strs(&[Some("halo kak"), Some("siap kak"), Some("lagi dong"), None])),
            ("customer_id", strs(&[Some("c1"); 4])),
        ],
    );
}

fn analyze(messages: &Path, out: &Path, extra: &[&str]) -> (i32, String, String) {
    let mut args = vec!["analyze", "--messages", messages.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn missing_required_column_names_file_column_and_fix() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("msgs.parquet");
    write(&f, vec![("conversation_id", strs(&[Some("a")])), ("sender_role", strs(&[Some("customer")]))]);
    let out = tmp.path().join("out");
    let (code, _, err) = analyze(&f, &out, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("msgs.parquet") && err.contains("`sent_at`"), "{err}");
    assert!(err.contains("columns present: conversation_id (Utf8), sender_role (Utf8)"), "{err}");
    assert!(err.contains("[columns.messages] sent_at"), "{err}");
    assert!(!out.exists(), "nothing is written on bad input");
}

#[test]
fn wrong_column_type_says_what_was_expected_and_found() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("msgs.parquet");
    write(
        &f,
        vec![
            ("conversation_id", strs(&[Some("a")])),
            ("sent_at", Arc::new(Int64Array::from(vec![1_700_000_000]))),
            ("sender_role", strs(&[Some("customer")])),
        ],
    );
    let (code, _, err) = analyze(&f, &tmp.path().join("out"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("Int64") && err.contains("expected a timestamp column"), "{err}");
    assert!(err.contains("epoch numbers"), "{err}");
}

#[test]
fn corrupt_or_missing_files_are_input_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("broken.parquet");
    std::fs::write(&f, b"this is not parquet at all").unwrap();
    let (code, _, err) = analyze(&f, &tmp.path().join("out"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("broken.parquet") && err.contains("not a readable Parquet file"), "{err}");

    let (code, _, err) = analyze(&tmp.path().join("nope"), &tmp.path().join("out"), &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn invalid_config_is_exit_2_and_names_the_key() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("m.parquet");
    valid_messages(&f);
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "time_zone = \"Mars/Olympus\"\n").unwrap();
    let (code, _, err) = analyze(&f, &tmp.path().join("out"), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("time_zone") && err.contains("Mars/Olympus"), "{err}");

    std::fs::write(&cfg, "[business_hours.default]\nmon = [\"17:00-09:00\"]\n[business_hours]\nenabled = true\n")
        .unwrap();
    let (code, _, err) = analyze(&f, &tmp.path().join("out"), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");

    std::fs::write(&cfg, "reopen_window_hours = -3\n").unwrap();
    let (code, _, err) = analyze(&f, &tmp.path().join("out"), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("reopen_window_hours"), "{err}");

    let (code, _, err) = analyze(&f, &tmp.path().join("out"), &["--as-of", "last tuesday"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--as-of"), "{err}");
}

#[test]
fn a_failed_run_leaves_the_previous_outputs_as_they_were() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.parquet");
    valid_messages(&good);
    let out = tmp.path().join("out");
    let (code, _, err) = analyze(&good, &out, &[]);
    assert_eq!(code, 0, "{err}");
    let before: Vec<(String, Vec<u8>)> = list(&out);
    let bad = tmp.path().join("bad.parquet");
    write(&bad, vec![("conversation_id", strs(&[Some("a")]))]);
    let (code, _, _) = analyze(&bad, &out, &[]);
    assert_eq!(code, 2);
    assert_eq!(list(&out), before, "outputs untouched, no staging left behind");
}

fn list(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().to_string(), std::fs::read(e.path()).unwrap_or_default())
        })
        .collect();
    v.sort();
    v
}

#[test]
fn a_real_export_is_read_through_the_config_mapping() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("export").join("date=2026-11-02").join("part.parquet");
    // Naive nanosecond timestamps in Jakarta time, other column names, other role words.
    let t = |s: &str| {
        s.parse::<jiff::civil::DateTime>()
            .unwrap()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .unwrap()
            .timestamp()
            .as_nanosecond() as i64
    };
    write(
        &f,
        vec![
            ("chat_id", Arc::new(Int64Array::from(vec![77, 77, 77, 77, 78]))),
            (
                "ts",
                Arc::new(TimestampNanosecondArray::from(vec![
                    t("2026-11-02T08:00:00"),
                    t("2026-11-02T08:00:02"),
                    t("2026-11-02T08:04:00"),
                    t("2026-11-02T08:05:00"),
                    t("2026-11-02T09:00:00"),
                ])),
            ),
            ("from", strs(&[Some("User"), Some("Operator"), Some("moderator"), Some("Operator"), Some("user")])),
            (
                "body",
                strs(&[
                    Some("halo"),
                    Some("Terima kasih, pesan diterima"),
                    Some("x"),
                    Some("halo kak, ada yang bisa dibantu?"),
                    None,
                ]),
            ),
            ("auto", Arc::new(BooleanArray::from(vec![false, true, false, false, false]))),
        ],
    );
    let cfg = tmp.path().join("c.toml");
    std::fs::write(
        &cfg,
        "input_time_zone = \"Asia/Jakarta\"\n[columns.messages]\nconversation_id = \"chat_id\"\nsent_at = \"ts\"\nsender_role = \"from\"\ntext = \"body\"\nis_auto_reply = \"auto\"\nchannel = \"channel\"\n",
    )
    .unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = analyze(&tmp.path().join("export"), &out, &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let conv = Table::open(&out.join("conversations.parquet"));
    let by_id = conv.index_by("conversation_id");
    let r = by_id["77"];
    assert_eq!(conv.get("frt_total_s", r), Value::F64(2.0));
    assert_eq!(conv.get("frt_human_s", r), Value::F64(300.0));
    // 08:00 WIB is 01:00 UTC.
    assert_eq!(
        conv.get("created_at", r).ts(),
        Some("2026-11-02T01:00:00Z".parse::<jiff::Timestamp>().unwrap().as_microsecond())
    );
    let q = Table::open(&out.join("quarantine.parquet"));
    assert_eq!(q.len(), 1);
    assert_eq!(q.get("reason", 0), Value::Str("unknown_role".into()));
    assert_eq!(q.get("sender_role_raw", 0), Value::Str("moderator".into()));
    assert!(q.get("source_file", 0).str().unwrap().ends_with("part.parquet"));
}

#[test]
fn row_faults_are_quarantined_and_accounted_for() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("m.parquet");
    write(
        &f,
        vec![
            (
                "conversation_id",
                strs(&[Some("a"), None, Some("a"), Some("a"), Some(" "), Some("a"), Some("a"), Some("a")]),
            ),
            (
                "sent_at",
                strs(&[
                    Some("2026-11-02T01:00:00Z"),
                    Some("2026-11-02T01:01:00Z"),
                    Some("besok pagi"),
                    None,
                    Some("2026-11-02T01:02:00Z"),
                    Some("2026-11-02T01:03:00+07:00"),
                    Some("2026-11-02T01:04:00Z"),
                    Some("2026-11-02T01:04:00Z"),
                ]),
            ),
            (
                "sender_role",
                strs(&[
                    Some("customer"),
                    Some("agent"),
                    Some("agent"),
                    Some("agent"),
                    Some("agent"),
                    Some("alien"),
                    Some("agent"),
                    Some("agent"),
                ]),
            ),
            (
                "message_id",
                strs(&[Some("m1"), Some("m2"), Some("m3"), Some("m4"), Some("m5"), Some("m6"), Some("m7"), Some("m7")]),
            ),
        ],
    );
    let out = tmp.path().join("out");
    let (code, _, err) = analyze(&f, &out, &[]);
    assert_eq!(code, 0, "{err}");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_manifest.json")).unwrap()).unwrap();
    let rows = &manifest["rows"]["messages"];
    assert_eq!((rows["rows_in"].as_u64(), rows["rows_used"].as_u64()), (Some(8), Some(2)));
    assert_eq!((rows["rows_quarantined"].as_u64(), rows["duplicates_dropped"].as_u64()), (Some(5), Some(1)));
    let reasons = &manifest["quarantine_by_reason"];
    assert_eq!(reasons["null_conversation_id"], 2);
    assert_eq!(reasons["unparsable_timestamp"], 1);
    assert_eq!(reasons["null_sent_at"], 1);
    assert_eq!(reasons["unknown_role"], 1);
    let q = Table::open(&out.join("quarantine.parquet"));
    let rows: Vec<u64> = (0..q.len()).map(|r| q.get("source_row", r).f64().unwrap() as u64).collect();
    assert_eq!(rows, vec![1, 2, 3, 4, 5]);
}

#[test]
fn same_input_gives_byte_identical_parquet() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::demo(tmp.path(), 150, 9);
    let mut outputs = Vec::new();
    for name in ["o1", "o2"] {
        let out = tmp.path().join(name);
        common::analyze_demo(&data, &out);
        outputs.push(list(&out).into_iter().filter(|(n, _)| n.ends_with(".parquet")).collect::<Vec<_>>());
    }
    assert_eq!(outputs[0].len(), 13);
    assert_eq!(outputs[0], outputs[1]);
}

#[test]
fn whatsapp_threads_split_into_sessions_and_link_reopens_by_thread() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("m.parquet");
    let h = |hours: f64| (1_793_000_000_000.0 + hours * 3_600_000.0) as i64; // ms
    write(
        &f,
        vec![
            ("conversation_id", strs(&[Some("6281"); 6])),
            (
                "sent_at",
                Arc::new(TimestampMillisecondArray::from(vec![h(0.0), h(0.1), h(10.0), h(10.2), h(100.0), h(100.1)])),
            ),
            (
                "sender_role",
                strs(&[
                    Some("customer"),
                    Some("agent"),
                    Some("customer"),
                    Some("agent"),
                    Some("customer"),
                    Some("agent"),
                ]),
            ),
        ],
    );
    let cfg = tmp.path().join("c.toml");
    std::fs::write(&cfg, "session_gap_hours = 6\n").unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = analyze(&f, &out, &["--config", cfg.to_str().unwrap(), "--as-of", "2026-12-31T00:00:00Z"]);
    assert_eq!(code, 0, "{err}");
    let conv = Table::open(&out.join("conversations.parquet"));
    let ids: Vec<String> = (0..conv.len()).map(|r| conv.get("conversation_id", r).str().unwrap().to_string()).collect();
    assert_eq!(ids, vec!["6281#1", "6281#2", "6281#3"]);
    // #2 starts 9.9 h after #1 closed (inside 48 h); #3 starts ~90 h after #2 (outside).
    assert_eq!(conv.get("reopen_of", 1), Value::Str("6281#1".into()));
    assert_eq!(conv.get("reopened", 0), Value::Bool(true));
    assert_eq!(conv.get("reopened", 1), Value::Bool(false));
    assert_eq!(conv.get("reopen_of", 2), Value::Null);
}

#[test]
fn schema_and_init() {
    let (code, out, _) = run(&["schema"]);
    assert_eq!(code, 0);
    assert!(out.contains("conversation_id") && out.contains("is_auto_reply") && out.contains("csat_score"));
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("convoqa.toml");
    run_ok(&["init", cfg.to_str().unwrap()]);
    let (code, _, err) = run(&["init", cfg.to_str().unwrap()]);
    assert_eq!(code, 2, "refuses to overwrite: {err}");
    // The written default is accepted as a config.
    let m = tmp.path().join("m.parquet");
    valid_messages(&m);
    let (code, _, err) = analyze(&m, &tmp.path().join("out"), &["--config", cfg.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
}

// The errors a scheduler meets, each before any work (no model load, no input read), exit 2,
// with a fix.

#[test]
fn out_of_range_flags_are_refused_by_the_parser_with_the_range() {
    for (args, says) in [
        (&["eval-readings", "--split", "valid"][..], "[possible values: train, dev, test]"),
        (&["corpus-export", "--split", "valid"][..], "[possible values: train, dev, test, all]"),
        (&["eval-flags", "--split", "tset"][..], "[possible values: train, dev, test]"),
        (&["train", "intent", "--holdout", "0.9"][..], "between 0.05 and 0.5"),
        (&["train", "risk", "--messages", "m", "--test-fraction", "0"][..], "between 0.05 and 0.5"),
        (&["train", "risk", "--messages", "m", "--l2=-1"][..], "not a non-negative number"),
        (&["train", "risk", "--messages", "m", "--l2", "NaN"][..], "not a non-negative number"),
    ] {
        let (code, _, err) = run(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn out_that_is_a_file_or_unwritable_fails_before_the_work() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("msgs.parquet");
    valid_messages(&f);
    let file = tmp.path().join("outfile");
    std::fs::write(&file, "x").unwrap();
    // The model is not loaded first: a bad model dir would otherwise be the error.
    let (code, _, err) = analyze(&f, &file, &["--model-dir", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("`--out`") && err.contains("is an existing file") && err.contains("fix: pass a directory path"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");

    let under_file = file.join("out");
    let (code, _, err) = analyze(&f, &under_file, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot be created") && err.contains("fix:"), "{err}");

    // Permissions stop everyone but root (CI may run as root).
    if unsafe { libc::geteuid() } != 0 {
        use std::os::unix::fs::PermissionsExt;
        let ro = tmp.path().join("ro");
        std::fs::create_dir(&ro).unwrap();
        std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
        let (code, _, err) = analyze(&f, &ro.join("out"), &[]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("cannot write into") && err.contains("fix:"), "{err}");
    }
}

#[test]
fn empty_input_is_refused_unless_allowed_with_an_as_of() {
    let tmp = tempfile::tempdir().unwrap();
    let full = tmp.path().join("full.parquet");
    valid_messages(&full);
    let empty = tmp.path().join("empty.parquet");
    let batch = common::read_parquet(&full).slice(0, 0);
    convoqa::write::write_parquet(&empty, &batch).unwrap();
    let out = tmp.path().join("out");

    let (code, _, err) = analyze(&empty, &out, &["--no-model"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no messages in") && err.contains("empty.parquet") && err.contains("--allow-empty"), "{err}");
    assert!(!out.exists());

    let (code, _, err) = analyze(&empty, &out, &["--no-model", "--allow-empty"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("`--as-of`"), "{err}");

    let (code, _, err) = analyze(&empty, &out, &["--no-model", "--allow-empty", "--as-of", "2026-11-22T00:00:00Z"]);
    assert_eq!(code, 0, "{err}");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("run_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["rows"]["messages"]["rows_in"], 0, "{manifest}");
    assert_eq!(Table::open(&out.join("conversations.parquet")).len(), 0);
    assert!(std::fs::read_to_string(out.join("report.html"))
        .unwrap()
        .contains("<strong>No messages</strong> in the input"));
    let (code, summary, err) = run(&[
        "analyze",
        "--messages",
        empty.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-model",
        "--allow-empty",
        "--as-of",
        "2026-11-22T00:00:00Z",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(summary.contains("no messages in the input (--allow-empty)"), "{summary}");
}

fn config_error(toml: &str) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("msgs.parquet");
    valid_messages(&f);
    let cfg = tmp.path().join("convoqa.toml");
    std::fs::write(&cfg, toml).unwrap();
    let (code, _, err) = analyze(&f, &tmp.path().join("out"), &["--config", cfg.to_str().unwrap(), "--no-model"]);
    assert_eq!(code, 2, "{err}");
    assert!(!tmp.path().join("out").exists());
    err
}

#[test]
fn a_mistyped_config_key_gets_its_line_column_and_the_key_meant() {
    let err = config_error("time_zone = \"UTC\"\nreopen_window_hour = 12\n");
    assert!(err.contains("line 2, column 1"), "{err}");
    assert!(err.contains("did you mean `reopen_window_hours`?"), "{err}");
    // Far from every valid key: the valid keys of that table are listed instead.
    let err = config_error("[qa]\nzzzz_qqq = 1\n");
    assert!(
        err.contains("line 2, column 1") && err.contains("low_csat_threshold, false_fcr_threshold, control_rate"),
        "{err}"
    );
}

#[test]
fn a_value_of_the_wrong_type_names_the_key_line_and_unit() {
    let err = config_error("reopen_window_hours = \"48h\"\n");
    assert!(err.contains("`reopen_window_hours`") && err.contains("line 1"), "{err}");
    assert!(err.contains("a number of hours, e.g. 48"), "{err}");
    let err = config_error("\n[sla_seconds]\nemail = \"1h\"\n");
    assert!(
        err.contains("`sla_seconds.email`") && err.contains("line 3") && err.contains("a number of seconds, e.g. 300"),
        "{err}"
    );
}

#[test]
fn sla_overrides_need_no_default_and_an_unseen_channel_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("msgs.parquet");
    valid_messages(&f);
    let cfg = tmp.path().join("convoqa.toml");
    std::fs::write(&cfg, "[sla_seconds]\nwhatsap = 300\n").unwrap();
    let out = tmp.path().join("out");
    let (code, _, err) = analyze(&f, &out, &["--config", cfg.to_str().unwrap(), "--no-model"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("config_channel_not_in_input") && err.contains("whatsap"), "stderr: {err}");
    let manifest = std::fs::read_to_string(out.join("run_manifest.json")).unwrap();
    assert!(manifest.contains("config_channel_not_in_input") && manifest.contains("sla_seconds.whatsap"), "{manifest}");
    // The built-in default and channels still apply beside the override.
    let manifest: serde_json::Value = serde_json::from_str(&manifest).unwrap();
    let sla = &manifest["config"]["sla_seconds"];
    assert_eq!(
        (sla["default"].as_f64(), sla["email"].as_f64(), sla["whatsap"].as_f64()),
        (Some(900.0), Some(3600.0), Some(300.0)),
        "{sla}"
    );
}

#[test]
fn logs_have_colour_only_on_a_terminal_and_json_on_request() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("msgs.parquet");
    valid_messages(&f);
    let out = tmp.path().join("out");
    // stderr is a pipe here: no escape codes.
    let (code, _, err) = analyze(&f, &out, &["--no-model", "-v"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("INFO") && !err.contains('\u{1b}'), "{err:?}");
    let (_, _, err) = analyze(&f, &out, &["--no-model", "-v", "--color", "always"]);
    assert!(err.contains('\u{1b}'), "--color always colours: {err:?}");
    let (code, _, err) = analyze(&f, &out, &["--no-model", "-v", "--log-format", "json"]);
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        assert!(v["level"].is_string() && v["timestamp"].is_string(), "{line}");
    }
}

#[test]
fn a_reply_before_the_customer_is_a_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("msgs.parquet");
    let t = |s: &str| s.parse::<jiff::Timestamp>().unwrap().as_millisecond();
    // The company's reply stamped 6 hours before the tweet it answers (a lost sign).
    write(
        &f,
        vec![
            ("conversation_id", strs(&[Some("a"), Some("a")])),
            (
                "sent_at",
                Arc::new(
                    TimestampMillisecondArray::from(vec![t("2026-11-02T07:00:00Z"), t("2026-11-02T01:00:00Z")])
                        .with_timezone("UTC"),
                ),
            ),
            ("sender_role", strs(&[Some("customer"), Some("agent")])),
            ("text", strs(&[Some("my order is late"), Some("sorry, DM us")])),
            ("customer_id", strs(&[Some("c1"); 2])),
        ],
    );
    let out = tmp.path().join("out");
    let (code, _, err) = analyze(&f, &out, &["--no-model"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("first_message_not_customer"), "{err}");
    let manifest = std::fs::read_to_string(out.join("run_manifest.json")).unwrap();
    assert!(manifest.contains("a: the first message is the agent's, at 2026-11-02T01:00:00Z"), "{manifest}");
}

#[test]
fn a_second_run_into_a_locked_out_exits_2_naming_the_holder() {
    let tmp = tempfile::tempdir().unwrap();
    let f = tmp.path().join("msgs.parquet");
    valid_messages(&f);
    let out = tmp.path().join("out");
    let held = convoqa::write::OutDirLock::acquire(&out, "--out").unwrap();
    let (code, _, err) = analyze(&f, &out, &["--no-model"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("another convoqa run is writing into") && err.contains(&format!("pid {}", std::process::id())),
        "{err}"
    );
    assert!(!out.join("run_manifest.json").exists());
    drop(held);
    assert!(!out.exists(), "the lock's directory is removed when nothing was written into it");
    let (code, _, err) = analyze(&f, &out, &["--no-model"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.join(convoqa::write::LOCK_FILE).exists(), "outputs hold only outputs");
}
