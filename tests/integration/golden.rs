//! Byte-identical outputs across restructurings: a committed demo fixture
//! (tests/fixtures/golden/, made by `convoqa demo-data --conversations 250 --seed 7`) is analysed
//! without the model in each run mode, and every output file's sha256 is compared with
//! tests/fixtures/golden/hashes.txt. The model is off because the encoder's floats depend on the
//! CPU's kernels; the per-conversation tables, the KPIs, the QA list and the report do not.
//!
//! Each mode that cuts a run differently (`--partitions`) must hash like the one it cuts.
//! A deliberate change of outputs regenerates the file with
//! `CONVOQA_GOLDEN_UPDATE=1 cargo nextest run --release -E 'test(/^golden::/)'`, and the diff of
//! hashes.txt goes into the commit that changes them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

/// Runs `convoqa analyze` over the fixture from a scratch directory holding a copy of it, with
/// relative paths (the quarantine table records input paths as given).
fn analyze(work: &Path, out: &str, extra: &[&str]) {
    let mut args = vec!["analyze", "--messages", "messages", "--conversations", "conversations.parquet"];
    args.extend(["--out", out, "--no-model", "--quiet"]);
    args.extend(extra);
    let output = crate::common::bin().current_dir(work).args(&args).output().expect("convoqa runs");
    assert!(output.status.success(), "convoqa {args:?} failed:\n{}", String::from_utf8_lossy(&output.stderr));
}

fn copy_fixture(dir: &Path) -> PathBuf {
    let work = dir.join("work");
    let status = std::process::Command::new("cp").arg("-r").arg(fixture()).arg(&work).status().unwrap();
    assert!(status.success());
    let _ = std::fs::remove_file(work.join("hashes.txt"));
    work
}

/// sha256 of every file under `dir` but the manifests (they hold timings), by relative path.
fn hashes(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.strip_prefix(dir).unwrap().display().to_string();
            if name.ends_with("manifest.json") {
                continue;
            }
            out.insert(name, format!("{:x}", Sha256::digest(std::fs::read(&path).unwrap())));
        }
    }
    out
}

/// The runs: (case, the output directory to hash). Nightly runs two nights into one store.
fn run_case(work: &Path, case: &str, extra: &[&str]) -> BTreeMap<String, String> {
    let out = format!("out-{case}-{}", extra.join("_").replace(['-', '/', ' '], ""));
    if case == "nightly" {
        for day in ["2026-11-10", "2026-11-11"] {
            let mut args = vec!["--date", day];
            args.extend(extra);
            analyze(work, &out, &args);
        }
    } else {
        analyze(work, &out, extra);
    }
    hashes(&work.join(out))
}

const CASES: [(&str, &[&str]); 3] = [("one_pass", &[]), ("shard_1_of_2", &["--shard", "1/2"]), ("nightly", &[])];

fn read_golden() -> BTreeMap<String, BTreeMap<String, String>> {
    let text = std::fs::read_to_string(fixture().join("hashes.txt")).expect("tests/fixtures/golden/hashes.txt");
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts.len(), 3, "hashes.txt line {line:?}: expected `case file sha256`");
        out.entry(parts[0].to_string()).or_default().insert(parts[1].to_string(), parts[2].to_string());
    }
    out
}

fn check(case: &str, got: &BTreeMap<String, String>, golden: &BTreeMap<String, BTreeMap<String, String>>, how: &str) {
    let want = golden.get(case).unwrap_or_else(|| panic!("no case {case} in hashes.txt"));
    let differ: Vec<&String> = want
        .keys()
        .chain(got.keys())
        .filter(|f| want.get(*f) != got.get(*f))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(
        differ.is_empty(),
        "{case} ({how}): these outputs are not byte-identical to tests/fixtures/golden/hashes.txt: {differ:?}"
    );
}

#[test]
fn every_run_mode_writes_the_committed_bytes() {
    let tmp = tempfile::tempdir().unwrap();
    let work = copy_fixture(tmp.path());
    if std::env::var_os("CONVOQA_GOLDEN_UPDATE").is_some() {
        let mut text = String::from("# case file sha256: see tests/integration/golden.rs\n");
        for (case, extra) in CASES {
            for (file, sha) in run_case(&work, case, extra) {
                text.push_str(&format!("{case} {file} {sha}\n"));
            }
        }
        std::fs::write(fixture().join("hashes.txt"), text).unwrap();
        return;
    }
    let golden = read_golden();
    for (case, extra) in CASES {
        check(case, &run_case(&work, case, extra), &golden, "one pass");
        // Bounded memory cuts the same run into customer partitions: the same bytes.
        let mut partitioned: Vec<&str> = extra.to_vec();
        partitioned.extend(["--partitions", "3"]);
        check(case, &run_case(&work, case, &partitioned), &golden, "--partitions 3");
    }
}
