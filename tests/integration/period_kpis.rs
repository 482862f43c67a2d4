//! `convoqa kpis`: KPI tables recomputed from stored outputs, without the model.

use crate::common;

use std::path::Path;

use common::{analyze_demo, demo, run, run_ok, Table, KPI_FILES};

fn kpis(run_dir: &Path, out: &Path, extra: &[&str]) -> String {
    let (conv, msgs) = (run_dir.join("conversations.parquet"), run_dir.join("messages.parquet"));
    let mut args = vec![
        "kpis",
        "--conversations",
        conv.to_str().unwrap(),
        "--messages",
        msgs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    run_ok(&args)
}

fn same_bytes(a: &Path, b: &Path, name: &str) {
    assert!(std::fs::read(a.join(name)).unwrap() == std::fs::read(b.join(name)).unwrap(), "{name} differs");
}

#[test]
fn kpis_from_stored_rows_reproduce_the_run_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 500, 13);
    let run_dir = tmp.path().join("run");
    analyze_demo(&data, &run_dir);
    for (name, extra) in [("stored", &[][..]), ("rescored", &["--rescore"][..])] {
        let out = tmp.path().join(name);
        kpis(&run_dir, &out, extra);
        for f in KPI_FILES.iter().chain(&["conversations.parquet"]) {
            same_bytes(&run_dir, &out, f);
        }
    }
}

#[test]
fn a_period_is_the_days_it_covers() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 400, 17);
    let run_dir = tmp.path().join("run");
    analyze_demo(&data, &run_dir);
    let all = Table::open(&run_dir.join("kpi_by_day.parquet"));
    let days: Vec<String> = (0..all.len()).map(|r| all.get("day", r).date().unwrap()).collect();
    assert!(days.len() >= 6, "{days:?}");
    let (from, to) = (days[2].clone(), days[4].clone());
    let out = tmp.path().join("period");
    let said = kpis(&run_dir, &out, &["--from", &from, "--to", &to]);
    assert!(said.contains(&format!("({from} .. {to})")), "{said}");
    let period = Table::open(&out.join("kpi_by_day.parquet"));
    assert_eq!(period.len(), 3);
    let mut conversations = 0.0;
    for r in 0..3 {
        assert_eq!(period.get("day", r), all.get("day", r + 2));
        // A day's KPIs do not depend on the other days.
        for column in
            ["conversations", "frt_human_median_s", "fcr_rate", "csat_pct", "low_csat_pct", "predicted_low_csat_pct"]
        {
            assert_eq!(period.get(column, r), all.get(column, r + 2), "{column} on {from}+{r}");
        }
        conversations += period.get("conversations", r).f64().unwrap();
    }
    let overall = Table::open(&out.join("kpi_overall.parquet"));
    assert_eq!(overall.get("conversations", 0).f64().unwrap(), conversations);
    assert_eq!(Table::open(&out.join("conversations.parquet")).len() as f64, conversations);
}

#[test]
fn overlapping_inputs_and_bad_dates_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 60, 5);
    let run_dir = tmp.path().join("run");
    analyze_demo(&data, &run_dir);
    let conv = run_dir.join("conversations.parquet");
    let msgs = run_dir.join("messages.parquet");
    let out = tmp.path().join("out");
    let (code, _, stderr) = run(&[
        "kpis",
        "--conversations",
        conv.to_str().unwrap(),
        conv.to_str().unwrap(),
        "--messages",
        msgs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("is also in"), "{stderr}");
    assert!(!out.join("kpis_manifest.json").exists());
    let (code, _, stderr) = run(&[
        "kpis",
        "--conversations",
        conv.to_str().unwrap(),
        "--messages",
        msgs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--from",
        "2026-11-31",
    ]);
    assert_eq!(code, 2, "{stderr}");
    // A messages table is not a conversations table.
    let (code, _, stderr) = run(&[
        "kpis",
        "--conversations",
        msgs.to_str().unwrap(),
        "--messages",
        msgs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("not a convoqa conversations table"), "{stderr}");
}
