//! A team's own taxonomy: `train intent --data FILE --out-of-scope LABEL`, then `eval` reads the
//! head as analyze does, with its out-of-scope threshold.

use crate::common::run_ok;

fn write_tsv(path: &std::path::Path, rows: &[(&str, &str)]) {
    let body: String = rows.iter().map(|(t, l)| format!("{t}\t{l}\n")).collect();
    std::fs::write(path, body).unwrap();
}

#[test]
fn a_team_head_with_an_out_of_scope_label_is_evaluated_with_its_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = Vec::new();
    let items =
        ["sepatu", "tas", "jaket", "kaos", "celana", "topi", "dompet", "jam", "kacamata", "sandal", "rok", "kemeja"];
    for item in items {
        rows.push((format!("refund {item} saya belum masuk ke rekening"), "refund"));
        rows.push((format!("paket {item} saya belum sampai, resinya di mana"), "tracking"));
        rows.push((format!("voucher diskon buat {item} ga bisa dipakai"), "voucher"));
    }
    for odd in [
        "siapa presiden pertama",
        "resep rendang enak",
        "cuaca besok hujan gak",
        "lirik lagu dangdut",
        "skor bola semalam",
        "cara main catur",
        "harga emas hari ini",
        "film bioskop minggu ini",
        "jadwal kereta ke bandung",
        "ramalan zodiak",
        "tebak-tebakan lucu",
        "puisi tentang laut",
    ] {
        rows.push((odd.to_string(), "oos"));
    }
    let rows: Vec<(&str, &str)> = rows.iter().map(|(t, l)| (t.as_str(), *l)).collect();
    let train = tmp.path().join("team.tsv");
    write_tsv(&train, &rows);
    let head = tmp.path().join("head");
    let out = run_ok(&[
        "train",
        "intent",
        "--data",
        train.to_str().unwrap(),
        "--holdout",
        "0.25",
        "--out-of-scope",
        "oos",
        "--out",
        head.to_str().unwrap(),
    ]);
    assert!(out.contains("out-of-scope: top probability below"), "{out}");

    let eval = tmp.path().join("eval.tsv");
    write_tsv(
        &eval,
        &[
            ("refund kemeja belum balik dananya", "refund"),
            ("kurir belum antar paket jaket", "tracking"),
            ("kode voucher tas ditolak", "voucher"),
            ("berapa tinggi gunung everest", "oos"),
        ],
    );
    let report = run_ok(&["eval", "--head", head.to_str().unwrap(), "--data", eval.to_str().unwrap()]);
    assert!(report.contains("n = 4"), "{report}");
    assert!(report.contains("recall of `oos` = "), "the out-of-scope threshold applies:\n{report}");
    assert!(report.contains("in-scope accuracy = "), "{report}");
}
