//! report.html: self-contained, consistent with the tables beside it, redacted. (It is rendered
//! in headless Chromium by tests/python/check_report.py from scripts/test.sh.)

use crate::common;

use common::{analyze_demo, demo, run_ok, Table};

fn external_references(html: &str) -> Vec<String> {
    let re = regex::Regex::new(r#"(?i)(src|href)\s*=\s*["']?(https?:|//)"#).unwrap();
    re.find_iter(html).map(|m| m.as_str().to_string()).collect()
}

#[test]
fn report_is_self_contained_and_agrees_with_the_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 400, 21);
    let out = tmp.path().join("out");
    analyze_demo(&data, &out);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Content-Security-Policy") && html.contains("default-src 'none'"));
    assert!(!html.contains("<script"), "no script");
    assert!(external_references(&html).is_empty(), "{:?}", external_references(&html));
    assert!(html.matches("<svg").count() >= 6, "charts inline");

    // Headline and lists agree with the Parquet tables.
    let overall = Table::open(&out.join("kpi_overall.parquet"));
    let n = overall.get("conversations", 0);
    assert!(
        html.contains(&format!("<div class=v>{}</div><div class=l>conversations</div>", n.f64().unwrap() as u64)),
        "conversation count"
    );
    let qa = Table::open(&out.join("qa_review.parquet"));
    assert!(html.contains(qa.get("conversation_id", 0).str().unwrap()), "the top QA flag is listed");
    let voc = Table::open(&out.join("voc_backlog.parquet"));
    let title = voc.get("title", 0).str().unwrap().to_string();
    assert!(html.contains(&title), "the top VOC theme {title:?} is listed");
    assert!(html.contains("Kruskal-Wallis test across intents"));

    // Customer text on the page is redacted: no Indonesian mobile numbers or e-mail addresses.
    let phone = regex::Regex::new(r"(\+62|\b62|\b0)8\d{8,11}\b").unwrap();
    let email = regex::Regex::new(r"[\w.+-]+@[\w-]+\.[\w.]+").unwrap();
    assert!(!phone.is_match(&html), "{:?}", phone.find(&html));
    assert!(!email.is_match(&html), "{:?}", email.find(&html));
}

#[test]
fn report_without_the_model_says_what_is_missing() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 80, 4);
    let out = tmp.path().join("out");
    run_ok(&[
        "analyze",
        "--messages",
        data.join("messages").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "-q",
        "--no-model",
    ]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("No intents: the run had the model off."));
    assert!(html.matches("<svg").count() >= 5);
}

/// Customer text reaches the report, the QA list and the VOC backlog only redacted.
#[test]
fn pii_in_complaints_is_redacted_everywhere_it_is_shown() {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, RecordBatch, StringArray, TimestampSecondArray};

    let complaints = [
        "kurirnya kasar banget, paket dilempar ke pagar! telp saya 081234567890 sekarang",
        "paket rusak dan kurir kasar, kecewa banget. email saya budi.santoso@example.co.id",
        "kurir kasar banget, paket dilempar, tolong hubungi +62 812-3456-7891",
        "kecewa, kurirnya kasar dan paket penyok. transfer balik ke rek BCA 1234567890",
    ];
    let (mut ids, mut times, mut roles, mut texts, mut customers) = (vec![], vec![], vec![], vec![], vec![]);
    for (i, c) in complaints.iter().enumerate() {
        let t0 = 1_790_000_000 + i as i64 * 86_400;
        for (dt, role, text) in
            [(0, "customer", *c), (7200, "agent", "Halo kak, mohon ditunggu ya"), (7300, "customer", *c)]
        {
            ids.push(format!("conv-{i}"));
            times.push(t0 + dt);
            roles.push(role);
            texts.push(text.to_string());
            customers.push(format!("cust-{i}"));
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("m.parquet");
    let batch = RecordBatch::try_from_iter(vec![
        ("conversation_id", Arc::new(StringArray::from(ids)) as ArrayRef),
        ("sent_at", Arc::new(TimestampSecondArray::from(times))),
        ("sender_role", Arc::new(StringArray::from(roles))),
        ("text", Arc::new(StringArray::from(texts))),
        ("customer_id", Arc::new(StringArray::from(customers))),
    ])
    .unwrap();
    convoqa::write::write_parquet(&input, &batch).unwrap();
    let out = tmp.path().join("out");
    run_ok(&["analyze", "--messages", input.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
    let shown: Vec<(&str, String)> = ["report.html", "qa_review.csv", "voc_backlog.md"]
        .iter()
        .map(|f| (*f, std::fs::read_to_string(out.join(f)).unwrap()))
        .collect();
    for (file, text) in &shown {
        for raw in ["081234567890", "budi.santoso@example.co.id", "812-3456-7891", "1234567890"] {
            assert!(!text.contains(raw), "{file} shows {raw}");
        }
    }
    let report = &shown[0].1;
    // The complaints did reach the page (as QA evidence and VOC quotes), with their PII replaced.
    assert!(report.contains("[PHONE]") && report.contains("[EMAIL]"), "{report}");
}
