//! The one-screen summary printed at the end of `analyze`.

use crate::pipeline::AnalyzeReport;
use crate::wording::{
    dur, fcr_reopen_text, pct, quarantine_text, rate, reason_counts, returns_observed, single_reply_note, survey_text,
    NO_RETURNS, NO_SURVEY, REPLY_SPAN, REPLY_SPAN_DEFINITION,
};

fn reason_list(counts: &[(&str, usize)]) -> String {
    if counts.is_empty() {
        return "-".into();
    }
    counts.iter().take(4).map(|(c, n)| format!("{c} {n}")).collect::<Vec<_>>().join(", ")
}

pub fn render(report: &AnalyzeReport) -> String {
    let m = &report.manifest;
    let k = &report.kpis.overall;
    let msgs = &m.rows["messages"];
    let mut out = String::new();
    out.push_str(&format!("convoqa {}  as of {} ({})\n", m.tool_version, m.as_of, m.as_of_source));
    out.push_str(&format!(
        "message rows: {} in, {} used, {} quarantined, {} duplicates dropped\n",
        msgs.rows_in, msgs.rows_used, msgs.rows_quarantined, msgs.duplicates_dropped
    ));
    if msgs.rows_in == 0 {
        out.push_str("no messages in the input (--allow-empty): every table is empty\n");
    }
    let quarantined: u64 = m.rows.values().map(|a| a.rows_quarantined).sum();
    if quarantined > 0 {
        out.push_str(&format!("{}\n", quarantine_text(quarantined, msgs.rows_quarantined)));
    }
    out.push_str(&format!(
        "conversations: {}  messages: {}  customer messages: {}\n\n",
        k.conversations, k.messages, k.customer_messages
    ));
    out.push_str(&format!("{:<18}{:>10}{:>10}{:>10}\n", "", "mean", "median", "p90"));
    for (label, name) in [
        ("FRT (any reply)", "frt_total"),
        ("FRT (human)", "frt_human"),
        ("handover wait", "frt_handover"),
        ("avg response", "avg_response"),
        ("resolution", "resolution"),
        (REPLY_SPAN, "handle"),
    ] {
        let d = k.timing(name);
        out.push_str(&format!("{label:<18}{:>10}{:>10}{:>10}\n", dur(d.mean), dur(d.median), dur(d.p90)));
    }
    out.push_str(&format!(
        "  {REPLY_SPAN}: {REPLY_SPAN_DEFINITION};\n  {}\n",
        single_reply_note(&report.conversations)
    ));
    out.push('\n');
    let (fcr, reopen) = fcr_reopen_text(k);
    if returns_observed(k) == Some(false) {
        out.push_str(&format!(
            "FCR / reopen: {NO_RETURNS} (0 of {} mature resolved conversations came back within the reopen window; still in window {})\n",
            k.fcr_mature_conversations, k.fcr_immature_conversations
        ));
    } else {
        out.push_str(&format!(
            "FCR {fcr}  reopen {reopen}  (mature {}, still in window {})\n",
            k.fcr_mature_conversations, k.fcr_immature_conversations
        ));
    }
    out.push_str(&format!(
        "bot: {} conversations, handover {}, containment {}\n",
        k.had_bot_conversations,
        rate(k.handover_rate),
        rate(k.bot_containment_rate)
    ));
    let surveyed = match k.csat_responses {
        0 => format!("{NO_SURVEY};"),
        _ => format!("{} of survey answers,", pct(k.low_csat_pct)),
    };
    out.push_str(&format!(
        "1-3 star ratings: {surveyed} {} predicted for all conversations\n",
        pct(k.predicted_low_csat_pct)
    ));
    out.push_str(&format!(
        "CSAT {}  NPS {}  CES {}  service level {}  unanswered {}\n",
        match k.csat_responses {
            0 => NO_SURVEY.to_string(),
            n => format!("{} ({n} responses)", survey_text(k.csat_pct, n)),
        },
        k.nps.map_or("-".into(), |v| format!("{v:.0}")),
        k.ces_mean.map_or("-".into(), |v| format!("{v:.2}")),
        pct(k.service_level_pct),
        k.unanswered_conversations
    ));
    if let Some(model) = &m.model {
        let mut counts = [0u64; 3];
        let mut negative_end = 0u64;
        let mut with_sentiment = 0u64;
        for r in &report.conversations {
            if let Some(ends_negative) = r.reading.sentiment.ends_negative {
                with_sentiment += 1;
                negative_end += u64::from(ends_negative);
            }
        }
        for (label, n) in &report.sentiment_counts {
            if let Some(i) = ["negative", "neutral", "positive"].iter().position(|l| l == label) {
                counts[i] = *n;
            }
        }
        let total = counts.iter().sum::<u64>().max(1) as f64;
        out.push_str(&format!(
            "sentiment of {} customer messages ({} distinct texts, {:.1}s): negative {:.0}%, neutral {:.0}%, positive {:.0}%; {} of {} conversations end negative\n",
            model.customer_texts,
            model.distinct_texts,
            model.seconds,
            counts[0] as f64 / total * 100.0,
            counts[1] as f64 / total * 100.0,
            counts[2] as f64 / total * 100.0,
            negative_end,
            with_sentiment
        ));
    }
    let mut intents: Vec<(&Option<String>, u64)> =
        report.kpis.by_intent.iter().filter(|(k, _)| k.is_some()).map(|(k, v)| (k, v.conversations)).collect();
    if !intents.is_empty() {
        intents.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> =
            intents.iter().take(5).map(|(k, n)| format!("{} {n}", k.as_deref().unwrap_or("-"))).collect();
        out.push_str(&format!("top intents: {}\n", top.join(", ")));
    }
    let ir = &report.kpis.intent_resolution;
    // A median of a handful of conversations is noise: list intents with 10+ resolved.
    let mut slow: Vec<_> = ir
        .rows
        .iter()
        .filter(|r| r.resolved_conversations >= 10)
        .filter_map(|r| r.resolution_median_ratio.map(|x| (x, r)))
        .collect();
    slow.sort_by(|a, b| b.0.total_cmp(&a.0));
    if let (Some(h), Some(p), Some(e2)) = (ir.test.h, ir.test.p_value, ir.test.epsilon_squared) {
        let top: Vec<String> =
            slow.iter().take(3).map(|(x, r)| format!("{} {} ({x:.1}x)", r.intent, dur(r.resolution.median))).collect();
        out.push_str(&format!(
            "slowest to resolve (median, median vs all): {}; across intents Kruskal-Wallis H {h:.1}, p {}, epsilon^2 {e2:.3}\n",
            top.join(", "),
            if p < 0.001 { "< 0.001".to_string() } else { format!("{p:.3}") }
        ));
    }
    let flagged = |risk: fn(&crate::row::ConversationRow) -> Option<f64>| {
        report.conversations.iter().filter(|r| risk(r).is_some_and(|p| p >= 0.5)).count()
    };
    out.push_str(&format!(
        "risk >= 0.5 ({}): low CSAT {} conversations, false FCR {}\n",
        if report.manifest.risk_model.starts_with("built-in") { "built-in models" } else { "trained models" },
        flagged(|r| r.risk.low_csat_risk),
        flagged(|r| r.risk.false_fcr_risk)
    ));
    // Every scored conversation has up to three reasons per model, flagged or not.
    out.push_str(&format!(
        "conversations with each reason (top 4 per model): low-CSAT model {}; false-FCR model {}\n",
        reason_list(&reason_counts(&report.conversations, |r| &r.risk.low_csat_reasons)),
        reason_list(&reason_counts(&report.conversations, |r| &r.risk.false_fcr_reasons))
    ));
    let warn_total: u64 = m.warnings.0.values().map(|w| w.count).sum();
    if warn_total > 0 {
        let kinds: Vec<String> = m.warnings.0.iter().map(|(k, w)| format!("{k} {}", w.count)).collect();
        out.push_str(&format!("warnings: {}\n", kinds.join(", ")));
    }
    out.push_str(&format!("\noutputs in {}\n", report.out_dir.display()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::KpiRow;
    use crate::row::ConversationRow;
    use crate::wording::single_reply_counts;
    use std::collections::BTreeMap;

    #[test]
    fn no_return_at_all_is_not_a_perfect_fcr() {
        let mut k =
            KpiRow { fcr_mature_conversations: 40, fcr_rate: Some(1.0), reopen_rate: Some(0.0), ..Default::default() };
        assert_eq!(returns_observed(&k), Some(false));
        assert_eq!(fcr_reopen_text(&k), (NO_RETURNS.to_string(), NO_RETURNS.to_string()));
        k.fcr_rate = Some(0.9);
        k.reopen_rate = Some(0.1);
        assert_eq!(fcr_reopen_text(&k), ("90.0%".to_string(), "10.0%".to_string()));
        // No window has passed yet: unknown, not "no returns".
        let none = KpiRow::default();
        assert_eq!(returns_observed(&none), None);
        assert_eq!(fcr_reopen_text(&none), ("-".to_string(), "-".to_string()));
    }

    #[test]
    fn csat_without_answers_says_so() {
        assert_eq!(survey_text(None, 0), NO_SURVEY);
        assert_eq!(survey_text(Some(80.0), 12), "80.0%");
    }

    #[test]
    fn reply_span_counts_single_reply_conversations() {
        let row = |handle: Option<f64>, replies: u64| ConversationRow {
            handle_s: handle,
            human_replies: replies,
            ..Default::default()
        };
        let rows = [row(Some(0.0), 1), row(Some(0.0), 1), row(Some(900.0), 3), row(None, 0)];
        assert_eq!(single_reply_counts(&rows), (3, 2));
        assert!(
            single_reply_note(&rows).starts_with("2 of 3 conversations with a human reply had only one"),
            "{}",
            single_reply_note(&rows)
        );
        assert!(REPLY_SPAN_DEFINITION.contains("not average handle time"));
    }

    #[test]
    fn quarantine_wording_names_both_tables() {
        assert_eq!(
            quarantine_text(32, 29),
            "32 input rows quarantined (29 message rows, 3 conversation rows; each with its reason in quarantine.parquet)"
        );
    }

    /// A run of 4 conversations: no customer came back, nobody answered a survey, 3 of the 4 had
    /// one human reply, and 32 rows were quarantined (29 message rows, 3 conversation rows).
    fn run() -> AnalyzeReport {
        use crate::manifest::{Manifest, RowAccounting, Warnings};
        let row = |i: usize, replies: u64, handle: f64| ConversationRow {
            conversation_id: format!("c{i}"),
            human_replies: replies,
            handle_s: Some(handle),
            resolution_s: Some(3600.0),
            link: crate::row::LinkOutcome {
                fcr: Some(true),
                fcr_mature: true,
                reopened: Some(false),
                ..Default::default()
            },
            risk: crate::row::RiskOutcome {
                low_csat_risk: Some(0.7),
                low_csat_reasons: vec!["LONG_WAIT", "NEGATIVE_END"],
                false_fcr_risk: Some(0.2),
                false_fcr_reasons: vec!["LONG_WAIT"],
                ..Default::default()
            },
            ..Default::default()
        };
        let conversations = vec![row(0, 1, 0.0), row(1, 1, 0.0), row(2, 1, 0.0), row(3, 4, 12.0 * 3600.0)];
        let kpis = crate::aggregate::aggregate(&conversations, [[0; 24]; 7], &jiff::tz::TimeZone::UTC);
        let mut rows = BTreeMap::new();
        rows.insert(
            "messages",
            RowAccounting { rows_in: 129, rows_used: 100, rows_quarantined: 29, ..Default::default() },
        );
        rows.insert(
            "conversations",
            RowAccounting { rows_in: 7, rows_used: 4, rows_quarantined: 3, ..Default::default() },
        );
        let manifest = Manifest {
            tool: "convoqa",
            tool_version: "0",
            as_of: "2026-01-09T00:00:00Z".into(),
            as_of_source: "latest sent_at",
            config_sha256: String::new(),
            config: serde_json::Value::Null,
            inputs: BTreeMap::new(),
            rows,
            quarantine_by_reason: BTreeMap::new(),
            conversations_out: 4,
            model: None,
            qa: Default::default(),
            voc: Default::default(),
            risk_model: "built-in: set by reasoning".into(),
            partitions: None,
            shard: None,
            nightly: None,
            warnings: Warnings::default(),
            stage_seconds: vec![],
            outputs: vec![],
        };
        AnalyzeReport { manifest, kpis, conversations, out_dir: "out".into(), as_of_us: 0, sentiment_counts: vec![] }
    }

    #[test]
    fn the_summary_says_what_its_numbers_are() {
        let text = render(&run());
        assert!(!text.contains("\nhandle time"), "the row is renamed: {text}");
        assert!(text.contains("\nhuman reply span        3.0h        0s      8.4h\n"), "{text}");
        assert!(
            text.contains("not average handle time (AHT)")
                && text.contains("3 of 4 conversations with a human reply had only one"),
            "{text}"
        );
        assert!(
            text.contains("FCR / reopen: no returns observed (0 of 4 mature resolved conversations came back"),
            "{text}"
        );
        assert!(!text.contains("100.0%") && !text.contains("reopen 0.0%"), "{text}");
        assert!(
            text.contains("1-3 star ratings: no survey data; 70.0% predicted")
                && text.contains("CSAT no survey data  NPS"),
            "{text}"
        );
        assert!(text.contains("32 input rows quarantined (29 message rows, 3 conversation rows;"), "{text}");
        // 4 conversations: each count is of conversations, per model, never more than 4.
        assert!(text.contains("risk >= 0.5 (built-in models): low CSAT 4 conversations, false FCR 0"), "{text}");
        assert!(text.contains("low-CSAT model LONG_WAIT 4, NEGATIVE_END 4; false-FCR model LONG_WAIT 4"), "{text}");
    }

    #[test]
    fn reasons_are_counted_per_model_in_conversations() {
        let row = |csat: Vec<&'static str>, fcr: Vec<&'static str>| ConversationRow {
            risk: crate::row::RiskOutcome { low_csat_reasons: csat, false_fcr_reasons: fcr, ..Default::default() },
            ..Default::default()
        };
        let rows = [
            row(vec!["LONG_WAIT", "NEGATIVE_END"], vec!["LONG_WAIT"]),
            row(vec!["LONG_WAIT"], vec!["DEFERRED_RESOLUTION", "LONG_WAIT"]),
            row(vec![], vec![]),
        ];
        let csat = reason_counts(&rows, |r| &r.risk.low_csat_reasons);
        let fcr = reason_counts(&rows, |r| &r.risk.false_fcr_reasons);
        // Summed over both models LONG_WAIT would count 4 in 3 conversations; per model it is 2 and 2.
        assert_eq!(csat, vec![("LONG_WAIT", 2), ("NEGATIVE_END", 1)]);
        assert_eq!(fcr, vec![("LONG_WAIT", 2), ("DEFERRED_RESOLUTION", 1)]);
        assert!(csat.iter().chain(&fcr).all(|(_, n)| *n <= rows.len()));
        assert_eq!(reason_list(&csat), "LONG_WAIT 2, NEGATIVE_END 1");
        assert_eq!(reason_list(&[]), "-");
    }
}
