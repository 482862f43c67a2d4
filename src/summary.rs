//! The one-screen summary printed at the end of `analyze`.

use std::collections::BTreeMap;

use crate::pipeline::AnalyzeReport;

pub(crate) fn dur(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(s) if s < 120.0 => format!("{s:.0}s"),
        Some(s) if s < 7200.0 => format!("{:.1}m", s / 60.0),
        Some(s) => format!("{:.1}h", s / 3600.0),
    }
}

pub(crate) fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}%"))
}

pub(crate) fn rate(v: Option<f64>) -> String {
    pct(v.map(|r| r * 100.0))
}

pub fn render(report: &AnalyzeReport) -> String {
    let m = &report.manifest;
    let k = &report.kpis.overall;
    let msgs = &m.rows["messages"];
    let mut out = String::new();
    out.push_str(&format!("convoqa {}  as of {} ({})\n", m.tool_version, m.as_of, m.as_of_source));
    out.push_str(&format!(
        "rows: {} in, {} used, {} quarantined, {} duplicates dropped\n",
        msgs.rows_in, msgs.rows_used, msgs.rows_quarantined, msgs.duplicates_dropped
    ));
    out.push_str(&format!(
        "conversations: {}  messages: {}  customer messages: {}\n\n",
        k.conversations, k.messages, k.customer_messages
    ));
    out.push_str(&format!("{:<16}{:>10}{:>10}{:>10}\n", "", "mean", "median", "p90"));
    for (label, name) in [
        ("FRT (any reply)", "frt_total"),
        ("FRT (human)", "frt_human"),
        ("handover wait", "frt_handover"),
        ("avg response", "avg_response"),
        ("resolution", "resolution"),
        ("handle time", "handle"),
    ] {
        let d = k.timing(name);
        out.push_str(&format!("{label:<16}{:>10}{:>10}{:>10}\n", dur(d.mean), dur(d.median), dur(d.p90)));
    }
    out.push('\n');
    out.push_str(&format!(
        "FCR {}  reopen {}  (mature {}, still in window {})\n",
        rate(k.fcr_rate),
        rate(k.reopen_rate),
        k.fcr_mature_conversations,
        k.fcr_immature_conversations
    ));
    out.push_str(&format!(
        "bot: {} conversations, handover {}, containment {}\n",
        k.had_bot_conversations,
        rate(k.handover_rate),
        rate(k.bot_containment_rate)
    ));
    out.push_str(&format!(
        "1-3 star ratings: {} of survey answers, {} predicted for all conversations\n",
        pct(k.low_csat_pct),
        pct(k.predicted_low_csat_pct)
    ));
    out.push_str(&format!(
        "CSAT {} ({} responses)  NPS {}  CES {}  service level {}  unanswered {}\n",
        pct(k.csat_pct),
        k.csat_responses,
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
            if let Some(ends_negative) = r.sentiment.ends_negative {
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
    let mut intents: Vec<(&Option<String>, u64)> = report.kpis.by_intent.iter().filter(|(k, _)| k.is_some()).map(|(k, v)| (k, v.conversations)).collect();
    if !intents.is_empty() {
        intents.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let top: Vec<String> = intents.iter().take(5).map(|(k, n)| format!("{} {n}", k.as_deref().unwrap_or("-"))).collect();
        out.push_str(&format!("top intents: {}\n", top.join(", ")));
    }
    let ir = &report.kpis.intent_resolution;
    // A median of a handful of conversations is noise: list intents with 10+ resolved.
    let mut slow: Vec<_> =
        ir.rows.iter().filter(|r| r.resolved_conversations >= 10).filter_map(|r| r.resolution_median_ratio.map(|x| (x, r))).collect();
    slow.sort_by(|a, b| b.0.total_cmp(&a.0));
    if let (Some(h), Some(p), Some(e2)) = (ir.test.h, ir.test.p_value, ir.test.epsilon_squared) {
        let top: Vec<String> = slow
            .iter()
            .take(3)
            .map(|(x, r)| format!("{} {} ({x:.1}x)", r.intent, dur(r.resolution.median)))
            .collect();
        out.push_str(&format!(
            "slowest to resolve (median, x overall): {}; across intents Kruskal-Wallis H {h:.1}, p {}, epsilon^2 {e2:.3}\n",
            top.join(", "),
            if p < 0.001 { "< 0.001".to_string() } else { format!("{p:.3}") }
        ));
    }
    let flagged = |risk: fn(&crate::features::ConversationRow) -> Option<f64>| report.conversations.iter().filter(|r| risk(r).is_some_and(|p| p >= 0.5)).count();
    let mut reasons: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &report.conversations {
        for code in r.low_csat_reasons.iter().chain(&r.false_fcr_reasons) {
            *reasons.entry(code).or_default() += 1;
        }
    }
    let mut top: Vec<(&str, usize)> = reasons.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let top: Vec<String> = top.iter().take(4).map(|(c, n)| format!("{c} {n}")).collect();
    out.push_str(&format!(
        "risk >= 0.5 ({}): low CSAT {}, false FCR {}; top reasons: {}\n",
        if report.manifest.risk_model.starts_with("built-in") { "built-in models" } else { "trained models" },
        flagged(|r| r.low_csat_risk),
        flagged(|r| r.false_fcr_risk),
        if top.is_empty() { "-".to_string() } else { top.join(", ") }
    ));
    let warn_total: u64 = m.warnings.0.values().map(|w| w.count).sum();
    if warn_total > 0 {
        let kinds: Vec<String> = m.warnings.0.iter().map(|(k, w)| format!("{k} {}", w.count)).collect();
        out.push_str(&format!("warnings: {}\n", kinds.join(", ")));
    }
    out.push_str(&format!("\noutputs in {}\n", report.out_dir.display()));
    out
}
