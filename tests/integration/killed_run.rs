//! A run killed with SIGKILL part-way leaves the previous outputs exactly as they were, and
//! running again completes the job with the same result as an uninterrupted run.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        // Hidden files are not outputs: a killed run's lock file (the kernel released its lock).
        .filter(|p| p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| (p.file_name().unwrap().to_string_lossy().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn sigkill_mid_run_loses_nothing_and_a_rerun_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let old_data = common::demo(&tmp.path().join("old"), 200, 3);
    let new_data = common::demo(&tmp.path().join("new"), 3000, 4);
    let out = tmp.path().join("out");
    common::analyze_demo(&old_data, &out);
    let before = snapshot(&out);
    let reference = tmp.path().join("reference");
    let started = Instant::now();
    common::analyze_demo(&new_data, &reference);
    let full = started.elapsed();

    // Kill at several points of the run; each time the previous outputs must be intact.
    let mut killed = 0;
    for fraction in [0.2, 0.5, 0.8] {
        let mut child = common::bin()
            .args(["analyze", "--messages", new_data.join("messages").to_str().unwrap(), "--conversations"])
            .arg(new_data.join("conversations.parquet"))
            .args(["--out", out.to_str().unwrap(), "-q"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_secs_f64(full.as_secs_f64() * fraction));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().ok(); // SIGKILL on Unix
        child.wait().unwrap();
        let now = snapshot(&out);
        if finished {
            // It beat the timer: then it must have completed the new set (timings aside).
            let (mut a, mut b) = (now, snapshot(&reference));
            a.remove("run_manifest.json");
            b.remove("run_manifest.json");
            assert_eq!(a, b, "a finished run wrote the full new set");
        } else {
            killed += 1;
            assert_eq!(now, before, "killed at {fraction}: the previous outputs changed");
        }
    }
    assert!(killed >= 1, "no run was killed before it finished");
    // Running again completes, with the same bytes as the uninterrupted run (manifest aside: it
    // records stage timings).
    common::analyze_demo(&new_data, &out);
    let (mut done, mut want) = (snapshot(&out), snapshot(&reference));
    done.remove("run_manifest.json");
    want.remove("run_manifest.json");
    assert_eq!(done, want);
    // The killed runs' half-written staging directories are cleared by the next run.
    let leftovers: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().starts_with(".convoqa-staging"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
