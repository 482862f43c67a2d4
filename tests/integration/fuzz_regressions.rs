//! Hostile message files: whatever the bytes, `analyze` answers with outputs (exit 0) or a clear
//! error (exit 2), never a crash. Cases: the fuzzer's findings in tests/fixtures/fuzz/ plus
//! damaged copies of a real file made here.

use crate::common;

use std::path::Path;

fn analyze_answers_cleanly(input: &Path, out: &Path) {
    let (code, _, stderr) = common::run(&[
        "analyze",
        "--messages",
        input.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--no-model",
        "-q",
    ]);
    assert!(code == 0 || code == 2, "{}: exit {code}\n{stderr}", input.display());
    if code == 2 {
        assert!(
            stderr.contains("error:") && stderr.contains("fix:") || stderr.contains("cannot read"),
            "{}: unclear error\n{stderr}",
            input.display()
        );
    }
}

#[test]
fn damaged_and_found_inputs_never_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let data = common::demo(tmp.path(), 20, 1);
    let good = std::fs::read_dir(data.join("messages"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "parquet"))
        .unwrap();
    let bytes = std::fs::read(&good).unwrap();
    let mut cases: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), vec![]),
        ("magic only".into(), b"PAR1PAR1".to_vec()),
        ("truncated".into(), bytes[..bytes.len() / 2].to_vec()),
        ("no footer".into(), bytes[..bytes.len() - 8].to_vec()),
    ];
    // Flip bytes through the file: pages, then the footer.
    for at in [bytes.len() / 5, bytes.len() / 2, bytes.len() - 40, bytes.len() - 12] {
        let mut b = bytes.clone();
        b[at] ^= 0xff;
        b[at + 1] = b[at + 1].wrapping_add(97);
        cases.push((format!("flipped at {at}"), b));
    }
    for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            cases.push((path.display().to_string(), std::fs::read(&path).unwrap()));
        }
    }
    for (i, (name, b)) in cases.iter().enumerate() {
        let input = tmp.path().join(format!("case-{i}.parquet"));
        std::fs::write(&input, b).unwrap();
        eprintln!("case {name}");
        analyze_answers_cleanly(&input, &tmp.path().join(format!("out-{i}")));
    }
}
