//! The pipeline against the ground truth the demo generator planted: per-conversation timings,
//! bot outcomes, primary agents, reopens and FCR maturity, and the row accounting.

use crate::common;

use common::{analyze_demo, demo, run_ok, Table, Value};

const WINDOW_US: i64 = 48 * 3_600_000_000;

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-3,
        (None, None) => true,
        _ => false,
    }
}

#[test]
fn every_planted_fact_is_found() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 400, 11);
    let out = tmp.path().join("out");
    analyze_demo(&data, &out);
    let truth = Table::open(&data.join("ground_truth.parquet"));
    let conv = Table::open(&out.join("conversations.parquet"));
    assert_eq!(conv.len(), truth.len(), "one output row per planted conversation");
    let by_id = conv.index_by("conversation_id");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_manifest.json")).unwrap()).unwrap();
    let as_of = manifest["as_of"].as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_microsecond();

    let (mut checked_reopens, mut new_topics, mut new_topic_misses) = (0, 0, 0);
    // Same-issue returns the resolution head reads as having nothing to solve after an answered
    // close are not linked, nor are vague ones after it (link.rs): that rests on the model, so
    // those are counted too.
    let read_as_answered =
        |row: usize| matches!(conv.get("resolution_state", row), Value::Str(s) if s == "solved" || s == "nothing");
    let (mut read_away, mut same_issue_returns, mut vague_returns, mut vague_after_answered) = (0, 0, 0, 0);
    let mut vague_placed = 0;
    for t in 0..truth.len() {
        let id = truth.get("conversation_id", t).str().unwrap().to_string();
        let r = by_id[&id];
        for col in ["frt_total_s", "frt_human_s", "frt_handover_s"] {
            assert!(
                close(conv.get(col, r).f64(), truth.get(col, t).f64()),
                "{id} {col}: got {:?}, planted {:?}",
                conv.get(col, r),
                truth.get(col, t)
            );
        }
        for col in ["had_bot", "handed_over", "bot_contained"] {
            assert_eq!(conv.get(col, r), truth.get(col, t), "{id} {col}");
        }
        for col in ["primary_agent_id", "status", "channel", "team", "customer_id"] {
            assert_eq!(conv.get(col, r), truth.get(col, t), "{id} {col}");
        }
        assert_eq!(conv.get("created_at", r), truth.get("created_at", t), "{id} created_at");
        assert_eq!(conv.get("resolved_at", r), truth.get("resolved_at", t), "{id} resolved_at");
        assert!(close(conv.get("csat_score", r).f64(), truth.get("csat_score", t).f64()), "{id} csat");

        // Reopens: only the planted return can reopen a conversation (one customer per story),
        // and under the default reopen_match = "same_intent" only when it is about the same
        // issue. Whether a new-topic return is told apart rests on the model, so those are
        // counted rather than asserted one by one.
        let resolved = truth.get("resolved_at", t).ts();
        let planted_gap_us = truth.get("return_gap_s", t).f64().map(|s| (s * 1e6).round() as i64);
        let kind = truth.get("return_kind", t);
        let new_topic = kind == Value::Str("new_topic".into());
        let mut expected_reopen = planted_gap_us.is_some_and(|g| g > 0 && g <= WINDOW_US) && !new_topic;
        if let (true, Value::Str(ret)) = (expected_reopen, truth.get("return_conversation_id", t)) {
            same_issue_returns += 1;
            let rr = by_id[&ret];
            // A vague return ("masalah kemarin belum beres") links as a follow-up only after a
            // close the head read as open; after one it read as answered it links only when its
            // intent or text matches.
            let vague = kind == Value::Str("vague".into());
            vague_returns += usize::from(vague);
            if read_as_answered(r) {
                if conv.get("resolution_state", rr) == Value::Str("nothing".into()) {
                    read_away += 1;
                    expected_reopen = false;
                } else if vague && conv.get("reopen_of", rr) == Value::Null {
                    vague_after_answered += 1;
                    expected_reopen = false;
                }
            } else if vague && conv.get("reopen_of", rr) == Value::Null {
                // After an open close a vague return links as a follow-up when the model cannot
                // place it; the model reading "the issue from before still isn't fixed" as some
                // intent with confidence is model-dependent, so these are counted.
                vague_placed += 1;
                expected_reopen = false;
            }
        }
        match resolved {
            Some(res) if as_of >= res + WINDOW_US => {
                assert_eq!(conv.get("fcr_mature", r), Value::Bool(true), "{id} mature");
                if !new_topic {
                    assert_eq!(conv.get("reopened", r), Value::Bool(expected_reopen), "{id} reopened");
                    assert_eq!(conv.get("fcr", r), Value::Bool(!expected_reopen), "{id} fcr");
                }
            }
            _ => {
                assert_eq!(conv.get("fcr_mature", r), Value::Bool(false), "{id} immature");
                assert_eq!(conv.get("fcr", r), Value::Null, "{id} immature fcr is unknown");
                assert_eq!(conv.get("reopened", r), Value::Null, "{id}");
            }
        }
        if let Value::Str(ret) = truth.get("return_conversation_id", t) {
            let rr = by_id[&ret];
            let expected = if expected_reopen { Value::Str(id.clone()) } else { Value::Null };
            if new_topic {
                new_topics += 1;
                new_topic_misses += usize::from(conv.get("reopen_of", rr) != expected);
            } else {
                assert_eq!(conv.get("reopen_of", rr), expected, "{ret} ({kind:?}) reopen_of");
                checked_reopens += 1;
            }
            let reason = conv.get("reopen_reason", rr);
            assert_eq!(reason == Value::Null, conv.get("reopen_of", rr) == Value::Null, "{ret}: a link has a reason");
            if kind == Value::Str("vague".into()) && reason != Value::Null {
                assert_eq!(reason, Value::Str("follow_up".into()), "{ret}");
            }
        }
    }
    assert!(checked_reopens >= 20, "the demo plants enough returns to test ({checked_reopens})");
    eprintln!("same-issue returns read as nothing to solve after an answered close: {read_away}/{same_issue_returns}");
    assert!(read_away * 10 <= same_issue_returns, "returns read away: {read_away}/{same_issue_returns}");
    // The demo's polite-but-unresolved closes ("sudah kami teruskan, mohon ditunggu 1x24 jam" then
    // "oke makasih") are deferrals; the head reads about half of them as solved (generator text,
    // not evidence either way), and the vague return after those is not linked.
    eprintln!("vague returns unlinked after a close read as answered: {vague_after_answered}/{vague_returns}");
    eprintln!("vague returns unlinked after an open close (the model placed them): {vague_placed}/{vague_returns}");
    assert!(vague_placed * 4 <= vague_returns, "vague returns placed: {vague_placed}/{vague_returns}");
    assert!(vague_returns >= 5, "the demo plants vague returns ({vague_returns})");
    assert!(
        vague_after_answered * 3 <= vague_returns * 2,
        "vague returns unlinked: {vague_after_answered}/{vague_returns}"
    );
    eprintln!("new-topic returns linked as reopens: {new_topic_misses}/{new_topics}");
    assert!(new_topics >= 5, "the demo plants new-topic returns ({new_topics})");
    assert!(new_topic_misses * 5 <= new_topics, "new-topic returns linked as reopens: {new_topic_misses}/{new_topics}");

    // Row accounting matches the planted faults exactly.
    let planted: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("ground_truth.json")).unwrap()).unwrap();
    let f = &planted["faults"];
    let q = &manifest["quarantine_by_reason"];
    for reason in [
        "null_conversation_id",
        "unparsable_timestamp",
        "unknown_role",
        "duplicate_message_id_conflict",
        "conversation_without_messages",
    ] {
        assert_eq!(q[reason], f[reason], "{reason}");
    }
    let rows = &manifest["rows"]["messages"];
    assert_eq!(rows["duplicates_dropped"], f["redeliveries"]);
    assert_eq!(rows["rows_in"], planted["message_rows"]);
    let quarantine = Table::open(&out.join("quarantine.parquet"));
    let total_q: u64 = q.as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
    assert_eq!(quarantine.len() as u64, total_q);
}

#[test]
fn without_a_conversations_table_inactivity_decides_resolution() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 120, 5);
    let out = tmp.path().join("out");
    let as_of = "2026-12-31T00:00:00Z";
    run_ok(&[
        "analyze",
        "--messages",
        data.join("messages").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--as-of",
        as_of,
        "--quiet",
    ]);
    let conv = Table::open(&out.join("conversations.parquet"));
    let msgs = Table::open(&out.join("messages.parquet"));
    // Long after the data: every conversation is resolved at its last message, by inactivity.
    for r in 0..conv.len() {
        assert_eq!(conv.get("resolved_by", r), Value::Str("inactivity".into()));
        assert_eq!(conv.get("resolved_at", r), conv.get("last_message_at", r));
        assert_eq!(conv.get("status", r), Value::Null);
        assert_eq!(conv.get("fcr_mature", r), Value::Bool(true));
    }
    // Messages keep every used row, each with an id and a normalised role.
    let mut roles = std::collections::BTreeSet::new();
    for r in 0..msgs.len() {
        assert!(msgs.get("message_id", r).str().is_some());
        roles.insert(msgs.get("sender_role", r).str().unwrap().to_string());
    }
    assert_eq!(roles.into_iter().collect::<Vec<_>>(), vec!["agent", "bot", "customer", "system"]);
}

/// The intent model reads the demo's opening messages (written apart from the taxonomy's
/// examples) as the generator meant them, for most conversations. Vague returns are left out:
/// their opening ("the problem from before still isn't fixed") names no intent.
#[test]
fn planted_intents_are_mostly_recognised() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 300, 21);
    let out = tmp.path().join("out");
    analyze_demo(&data, &out);
    let truth = Table::open(&data.join("ground_truth.parquet"));
    let conv = Table::open(&out.join("conversations.parquet"));
    let by_id = conv.index_by("conversation_id");
    let vague_returns: std::collections::HashSet<String> = (0..truth.len())
        .filter(|&t| truth.get("return_kind", t) == Value::Str("vague".into()))
        .filter_map(|t| truth.get("return_conversation_id", t).str().map(str::to_string))
        .collect();
    let (mut agree, mut n) = (0, 0);
    for t in 0..truth.len() {
        let id = truth.get("conversation_id", t).str().unwrap().to_string();
        if vague_returns.contains(&id) {
            continue;
        }
        let r = by_id[&id];
        let confidence = conv.get("intent_confidence", r).f64();
        assert!(confidence.is_none_or(|c| (0.0..=1.0).contains(&c)), "{id}: {confidence:?}");
        n += 1;
        agree += usize::from(conv.get("intent", r) == truth.get("intent", t));
    }
    let rate = agree as f64 / n as f64;
    eprintln!("intent agreement with the planted intents: {agree}/{n} = {rate:.3}");
    assert!(rate >= 0.9, "intent agreement {rate:.3} on {n} conversations");
}

/// The demo makes refund and payment questions wait on a finance team (about 3 h more);
/// intent_resolution.parquet must find those two slow and the Kruskal-Wallis test significant.
#[test]
fn intent_resolution_finds_the_planted_slow_intents() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 500, 2);
    let out = tmp.path().join("out");
    analyze_demo(&data, &out);
    let t = Table::open(&out.join("intent_resolution.parquet"));
    let ratio = |intent: &str| {
        let r = (0..t.len())
            .find(|&r| t.get("intent", r).str() == Some(intent))
            .unwrap_or_else(|| panic!("no row for {intent}"));
        t.get("resolution_median_ratio", r).f64().unwrap()
    };
    for slow in ["refund_return", "payment_billing"] {
        assert!(ratio(slow) > 2.0, "{slow}: {}", ratio(slow));
    }
    for fast in ["order_status", "cancellation", "account_access", "promo_voucher"] {
        assert!(ratio(fast) < ratio("refund_return").min(ratio("payment_billing")), "{fast}: {}", ratio(fast));
    }
    let p = t.get("kruskal_wallis_p_value", 0).f64().unwrap();
    let e2 = t.get("epsilon_squared", 0).f64().unwrap();
    assert!(p < 0.01 && e2 > 0.02, "p {p}, epsilon^2 {e2}");
}

/// Mann-Whitney AUC: the chance a positive scores above a negative (ties count half).
fn auc(scored: &[(f64, bool)]) -> f64 {
    let (pos, neg): (Vec<f64>, Vec<f64>) =
        (scored.iter().filter(|s| s.1).map(|s| s.0).collect(), scored.iter().filter(|s| !s.1).map(|s| s.0).collect());
    let mut wins = 0.0;
    for p in &pos {
        for n in &neg {
            wins += if p > n {
                1.0
            } else if p == n {
                0.5
            } else {
                0.0
            };
        }
    }
    wins / (pos.len() * neg.len()) as f64
}

/// The built-in risk models rank the demo's planted outcomes above chance, with reasons. The
/// demo is synthetic: these are checks that the signals are wired, not a quality claim.
#[test]
fn risk_scores_rank_planted_outcomes_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let data = demo(tmp.path(), 1000, 5);
    let out = tmp.path().join("out");
    analyze_demo(&data, &out);
    let conv = Table::open(&out.join("conversations.parquet"));
    let (mut csat, mut reopen) = (Vec::new(), Vec::new());
    for r in 0..conv.len() {
        let risk = conv.get("low_csat_risk", r).f64().expect("every conversation is scored");
        assert!((0.0..=1.0).contains(&risk));
        if let Some(score) = conv.get("csat_score", r).f64() {
            csat.push((risk, score <= 3.0));
        }
        match (conv.get("false_fcr_risk", r).f64(), conv.get("reopened", r)) {
            (Some(f), Value::Bool(b)) => reopen.push((f, b)),
            (None, _) => {
                assert_eq!(conv.get("resolved_at", r), Value::Null, "resolved conversations get a false-FCR risk")
            }
            _ => {}
        }
    }
    let (a_csat, a_fcr) = (auc(&csat), auc(&reopen));
    eprintln!(
        "built-in models on the demo (synthetic): low-CSAT AUC {a_csat:.3} on {}, false-FCR AUC {a_fcr:.3} on {}",
        csat.len(),
        reopen.len()
    );
    // Above chance, not a quality bar: the built-in models are fitted on the chat corpus, whose
    // outcomes are not planted by the demo generator's rules (0.649 / 0.600 at 9e3f6c1; the
    // reasoned coefficients, which mirror the generator, scored 0.71 / 0.69).
    assert!(a_csat > 0.6 && a_fcr > 0.55, "low-CSAT AUC {a_csat:.3}, false-FCR AUC {a_fcr:.3}");
    // The planted hand-offs ("sudah kami teruskan ke tim terkait ... 1x24 jam") carry a deferral
    // reason: the rule's (DEFERRED_RESOLUTION) or the resolution head's (READ_AS_DEFERRED); which
    // one outweighs the other is the fitted model's call.
    let deferred = (0..conv.len())
        .filter(|&r| {
            conv.get("false_fcr_reasons", r)
                .str()
                .is_some_and(|s| s.contains("DEFERRED_RESOLUTION") || s.contains("READ_AS_DEFERRED"))
        })
        .count();
    assert!(deferred >= 20, "{deferred}");

    // The QA list: flagged highest first, each with reasons and evidence; then the control group.
    let qa = Table::open(&out.join("qa_review.parquet"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("run_manifest.json")).unwrap()).unwrap();
    let flagged = manifest["qa"]["flagged"].as_u64().unwrap() as usize;
    let control = manifest["qa"]["control"].as_u64().unwrap() as usize;
    assert!(flagged > 0 && control > 0, "{}", manifest["qa"]);
    assert_eq!(qa.len(), flagged + control);
    let top = |r: usize| {
        qa.get("low_csat_risk", r).f64().unwrap_or(0.0).max(qa.get("false_fcr_risk", r).f64().unwrap_or(0.0))
    };
    for r in 0..flagged {
        assert_eq!(qa.get("group", r), Value::Str("flagged".into()));
        assert!(top(r) >= 0.5);
        assert!(r == 0 || top(r) <= top(r - 1), "sorted by risk");
        assert!(
            !qa.get("reasons", r).str().unwrap().is_empty() && !qa.get("evidence", r).str().unwrap().is_empty(),
            "row {r}"
        );
    }
    for r in flagged..qa.len() {
        assert_eq!(qa.get("group", r), Value::Str("control".into()));
        assert!(top(r) < 0.5);
    }
    let csv = std::fs::read_to_string(out.join("qa_review.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.records().count(), qa.len(), "the CSV holds the same rows");

    // The VOC backlog: ranked by cost, each item with an owner and quotes.
    let voc = Table::open(&out.join("voc_backlog.parquet"));
    assert!(voc.len() >= 5, "{}", voc.len());
    for r in 0..voc.len() {
        assert!(r == 0 || voc.get("cost", r).f64() <= voc.get("cost", r - 1).f64(), "sorted by cost");
        assert!(voc.get("owner_team", r).str().is_some() && !voc.get("quotes", r).str().unwrap().is_empty());
    }
    assert!(std::fs::read_to_string(out.join("voc_backlog.md")).unwrap().contains("## 1."));
    assert!((0..voc.len()).all(|r| voc.get("trend", r) == Value::Null), "no trend without --previous");

    // Trend: the same period against itself is steady everywhere, theme for theme.
    let again = tmp.path().join("again");
    let args = |previous: &std::path::Path| {
        vec![
            "analyze".to_string(),
            "--messages".into(),
            data.join("messages").display().to_string(),
            "--conversations".into(),
            data.join("conversations.parquet").display().to_string(),
            "--out".into(),
            again.display().to_string(),
            "-q".into(),
            "--previous".into(),
            previous.display().to_string(),
        ]
    };
    let owned = args(&out);
    common::run_ok(&owned.iter().map(String::as_str).collect::<Vec<_>>());
    let voc2 = Table::open(&again.join("voc_backlog.parquet"));
    assert_eq!(voc2.len(), voc.len());
    for r in 0..voc2.len() {
        assert_eq!(voc2.get("trend", r), Value::Str("steady".into()), "row {r}");
        assert_eq!(voc2.get("previous_share", r).f64(), voc2.get("share", r).f64());
    }
    // A directory without a backlog: exit 2, naming the file.
    let owned = args(&tmp.path().join("no-such-run"));
    let (code, _, stderr) = common::run(&owned.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("voc_backlog.parquet"), "{stderr}");
}
