//! report.html: one self-contained page a supervisor can read. Charts are inline SVG written by
//! [`charts`], with tooltips as SVG `<title>`s and `<abbr title>`s; no script, no fetch (a
//! Content-Security-Policy forbids any; emoji use an installed colour font through `local()`).
//! Every customer text on it comes from the QA list and the VOC backlog, which are already redacted.

mod charts;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;

use charts::{
    bars_legend, figure, hbars, heatmap, intent_boxes, intent_boxplots, stacked_shares, zone_label, Bars, Unit, BLUE,
    GREEN, GREY, ORANGE, RED,
};

use crate::aggregate::intent_resolution::IntentResolutionRow;
use crate::aggregate::{KpiRow, KpiTables};
use crate::error::Result;
use crate::qa::QaItem;
use crate::row::ConversationRow;
use crate::score::Signal;
use crate::voc::{trend_text, VocItem};
use crate::wording::{
    dur, fcr_reopen_text, pct, quarantine_text, rate, returns_observed, single_reply_note, survey_text, NO_RETURNS,
    NO_SURVEY, REPLY_SPAN,
};

/// What the report shows.
pub struct ReportInput<'a> {
    pub kpis: &'a KpiTables,
    pub rows: &'a [ConversationRow],
    /// The QA list in rank order; at least its first 15 flagged items (the table shows those).
    pub qa: &'a [QaItem],
    /// How the QA list was cut, and how many crossed which line.
    pub qa_stats: &'a crate::qa::QaStats,
    pub voc: &'a [VocItem],
    /// First and last conversation start, and as_of, already formatted.
    pub period: (String, String),
    pub as_of: String,
    pub time_zone: String,
    pub risk_model: String,
    /// Input rows quarantined, message and conversation rows together.
    pub quarantined_rows: u64,
    /// Of quarantined_rows, the message rows (the rest are conversation rows).
    pub quarantined_message_rows: u64,
}

/// QA items the report shows.
pub const QA_TOP: usize = 15;

/// HTML-escapes text for element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn key_name(k: &Option<String>) -> String {
    k.clone().unwrap_or_else(|| "(none)".into())
}

/// Short definitions: the page's glossary, and the tooltips of its labels and column heads.
const GLOSSARY: [(&str, &str); 26] = [
    ("conversation", "One conversation with a customer, from its first message to its last; a WhatsApp-style endless thread is split into conversations at long pauses."),
    ("FRT, any reply", "First response time: from the customer's first message to the first reply of any kind, a bot's or an automatic acknowledgement included."),
    ("FRT, human", "First response time to a person: from the customer's first message to the first reply an agent wrote (automatic replies excluded)."),
    ("service level", "Share of conversations with a customer message whose first human reply came within the channel's target (SLA: 5 min for chat channels, 60 min for e-mail by default). No human reply counts as missed."),
    ("handover wait", "In conversations a bot handed to a person: from the bot's last message to the person's first reply."),
    ("average response", "Per conversation, the mean wait of the customer's turns that got a reply; then the mean, median and p90 over conversations."),
    ("resolution time", "From the conversation's start to its resolution: closed in the helpdesk, or 24 hours without activity."),
    (REPLY_SPAN, "Last human reply minus first human reply, plus hold and after-work time where the data has them. It is 0 when a person replied once. Not average handle time (AHT): the time agents spent working is not in chat data."),
    ("p90", "90th percentile: 9 in 10 conversations took this long or less."),
    ("FCR", "First contact resolution: resolved conversations whose customer did not come back about the same issue within the reopen window (48 hours by default), among those whose window has passed."),
    ("reopen rate", "Resolved conversations whose customer came back about the same issue within the reopen window, among those whose window has passed."),
    ("immature", "Resolved, but the reopen window had not passed by the as-of time: whether the customer comes back is not known yet, so FCR and the reopen rate leave them out."),
    (NO_RETURNS, "Not one customer came back within a reopen window. FCR would read 100% and the reopen rate 0%, but that is what data without returning (or linkable) customers looks like too: it is not a measured perfect score."),
    ("CSAT", "Share of satisfaction ratings (surveys and ratings given in the chat) of 4 or 5 out of 5."),
    (NO_SURVEY, "No customer answered a satisfaction survey or rated in the chat, so there is no CSAT to show."),
    ("1-3 star, surveyed", "Share of ratings of 1 to 3 stars among customers who answered. Unhappy customers answer more often, so this leans high."),
    ("1-3 star, predicted", "The low-CSAT risk model's average over every conversation: the 1-3 star share to expect had every customer answered."),
    ("bot containment", "Conversations with a bot that ended without a person, with the customer not left talking to the bot."),
    ("handover", "Conversations with a bot that a person took over."),
    ("low-CSAT risk", "The risk model's chance (0 to 1) that the customer would rate the conversation 1 to 3 stars."),
    ("false-FCR risk", "The risk model's chance (0 to 1) that the customer of a resolved conversation comes back about the same issue."),
    ("median vs all", "The intent's median resolution time divided by the median of all resolved conversations: 2.0x is twice as slow as usual."),
    ("Kruskal-Wallis", "A rank test of whether resolution times differ between intents (p: how likely a difference this large is by chance); epsilon squared (0 to 1) is how much of the spread the intent explains: about 0.01 small, 0.08 medium, 0.26 large."),
    ("low-CSAT share", "In a complaint theme: the mean low-CSAT risk of the conversations affected, so customers who did not answer a survey count too."),
    ("VOC cost", "Conversations affected x (reopen rate + low-CSAT share): how much a complaint theme costs."),
    ("quarantined rows", "Input rows that could not be used (a required field missing or invalid, a conflicting duplicate); each is in quarantine.parquet with its reason."),
];

/// What each QA reason code means.
const REASONS: [(&str, &str); 14] = [
    ("NEGATIVE_END", "the customer's last message was negative"),
    ("SENTIMENT_DROP", "the customer's mood fell from the start to the end"),
    ("UNADDRESSED_NEGATIVE", "negative customer messages after the last agent reply"),
    ("UNANSWERED", "the customer's last turn got no reply"),
    ("LONG_WAIT", "a long wait for a reply (the longest of the customer's turns, or for the first person)"),
    ("BOT_LOOP", "the bot repeated itself, or the customer asked for a person"),
    ("REPEATED_QUESTION", "the customer asked the same thing again"),
    ("GREETING_ONLY_FIRST_REPLY", "the first human reply only greeted or asked to wait"),
    ("CLOSED_WITHOUT_CONFIRMATION", "closed with no confirmation from the customer after the last agent reply"),
    ("DEFERRED_RESOLUTION", "the last agent reply handed the issue on (\"forwarded to the team\", \"1x24 jam\")"),
    ("SLOW_FOR_INTENT", "slower to resolve than usual for its intent"),
    ("REPEAT_CONTACT", "the customer had other conversations in the 7 days before"),
    ("READ_AS_DEFERRED", "the model read the close as handed on (a promise, a ticket, \"mohon ditunggu 1x24 jam\"), not solved"),
    ("READ_AS_UNSOLVED", "the model read the close as leaving the problem open (unanswered, troubleshooting without a fix, a canned answer)"),
];

fn definition(term: &str) -> &'static str {
    let found = GLOSSARY.iter().chain(REASONS.iter()).find(|g| g.0 == term).map(|g| g.1);
    debug_assert!(found.is_some(), "no definition of {term}");
    found.unwrap_or("")
}

/// `shown` with the term's definition as its tooltip.
fn abbr(shown: &str, term: &str) -> String {
    format!("<abbr title=\"{}\">{}</abbr>", escape(definition(term)), escape(shown))
}

fn kpi_cell(label: &str, term: &str, value: String, note: &str) -> String {
    // Words instead of a figure ("no survey data") in a smaller type.
    let small = if value.contains(' ') { " style=\"font-size:17px\"" } else { "" };
    format!(
        "<div class=kpi title=\"{}\"><div class=v{small}>{}</div><div class=l>{}</div><div class=n>{}</div></div>",
        escape(definition(term)),
        escape(&value),
        escape(label),
        escape(note)
    )
}

fn headline(k: &KpiRow) -> String {
    let (fcr, reopen) = fcr_reopen_text(k);
    let no_returns = returns_observed(k) == Some(false);
    let mut out = String::from("<div class=kpis>");
    out.push_str(&kpi_cell(
        "conversations",
        "conversation",
        k.conversations.to_string(),
        &format!("{} messages", k.messages),
    ));
    out.push_str(&kpi_cell(
        "FRT human, median",
        "FRT, human",
        dur(k.timing("frt_human").median),
        &format!("any reply: {}", dur(k.timing("frt_total").median)),
    ));
    out.push_str(&kpi_cell("service level", "service level", pct(k.service_level_pct), "first human reply within SLA"));
    out.push_str(&kpi_cell(
        "resolution, median",
        "resolution time",
        dur(k.timing("resolution").median),
        &format!("p90 {}", dur(k.timing("resolution").p90)),
    ));
    let fcr_note = if no_returns {
        format!(
            "0 of {} mature conversations came back; {} still in the reopen window",
            k.fcr_mature_conversations, k.fcr_immature_conversations
        )
    } else {
        format!("{} mature, {} still in the reopen window", k.fcr_mature_conversations, k.fcr_immature_conversations)
    };
    out.push_str(&kpi_cell("FCR", if no_returns { NO_RETURNS } else { "FCR" }, fcr, &fcr_note));
    out.push_str(&kpi_cell(
        "reopen rate",
        if no_returns { NO_RETURNS } else { "reopen rate" },
        reopen,
        "of mature resolved conversations",
    ));
    let csat_term = if k.csat_responses == 0 { NO_SURVEY } else { "CSAT" };
    out.push_str(&kpi_cell(
        "CSAT",
        csat_term,
        survey_text(k.csat_pct, k.csat_responses),
        &format!("{} answers", k.csat_responses),
    ));
    let low_term = if k.csat_responses == 0 { NO_SURVEY } else { "1-3 star, surveyed" };
    out.push_str(&kpi_cell(
        "1-3 star, surveyed",
        low_term,
        survey_text(k.low_csat_pct, k.csat_responses),
        "share of survey answers",
    ));
    out.push_str(&kpi_cell(
        "1-3 star, predicted",
        "1-3 star, predicted",
        pct(k.predicted_low_csat_pct),
        "every conversation, risk model",
    ));
    out.push_str(&kpi_cell(
        "bot containment",
        "bot containment",
        rate(k.bot_containment_rate),
        &format!("handover {}", rate(k.handover_rate)),
    ));
    out.push_str("</div>");
    out
}

/// The timing KPIs with their definitions; the human reply span says what it is and is not.
fn timing_table(k: &KpiRow, rows: &[ConversationRow]) -> String {
    let mut out = format!(
        "<table class=timings><tr><th>timing</th><th class=num>mean</th><th class=num>median</th><th class=num>{}</th><th>what it measures</th></tr>",
        abbr("p90", "p90")
    );
    for (label, name) in [
        ("FRT, any reply", "frt_total"),
        ("FRT, human", "frt_human"),
        ("handover wait", "frt_handover"),
        ("average response", "avg_response"),
        ("resolution time", "resolution"),
        (REPLY_SPAN, "handle"),
    ] {
        let d = k.timing(name);
        let mut what = escape(definition(label));
        if name == "handle" {
            let _ = write!(what, " <b>{}.</b>", escape(&single_reply_note(rows)));
        }
        let _ = write!(
            out,
            "<tr><td class=nw>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=def>{what}</td></tr>",
            escape(label),
            dur(d.mean),
            dur(d.median),
            dur(d.p90)
        );
    }
    out.push_str("</table>");
    out
}

/// The wait LONG_WAIT measured (its signal is log2(1 + hours)), when the signal fired.
fn long_wait_s(row: &ConversationRow) -> Option<f64> {
    let v = row.risk_signals.get(Signal::LongWait);
    (v > 0.0).then(|| (v.exp2() - 1.0) * 3600.0)
}

/// Evidence shown in a QA cell before "(+N more)" and a click for the rest.
const EVIDENCE_CHARS: usize = 70;

fn shorten(text: &str, chars: usize) -> (String, bool) {
    if text.chars().count() <= chars {
        (text.to_string(), false)
    } else {
        (text.chars().take(chars - 1).chain(['…']).collect(), true)
    }
}

/// A QA row's evidence (`REASON: "snippet" | ...`): LONG_WAIT says how long the wait was; more
/// than a short line folds into a `<details>` whose summary is the first piece, cut short.
fn evidence_cell(evidence: &str, long_wait: Option<f64>) -> String {
    if evidence.is_empty() {
        return "-".into();
    }
    let pieces: Vec<String> = evidence
        .split(" | ")
        .map(|p| match (p.strip_prefix("LONG_WAIT: "), long_wait) {
            (Some(rest), Some(w)) => format!("LONG_WAIT (waited {}): {rest}", dur(Some(w))),
            _ => p.to_string(),
        })
        .collect();
    let (first, cut) = shorten(&pieces[0], EVIDENCE_CHARS);
    if pieces.len() == 1 && !cut {
        return escape(&first);
    }
    let more =
        if pieces.len() > 1 { format!(" <span class=more>(+{} more)</span>", pieces.len() - 1) } else { String::new() };
    format!(
        "<details><summary>{}{more}</summary>{}</details>",
        escape(&first),
        pieces.iter().map(|p| format!("<div>{}</div>", escape(p))).collect::<String>()
    )
}

fn reasons_cell(reasons: &str) -> String {
    reasons
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| if REASONS.iter().any(|x| x.0 == r) { abbr(r, r) } else { escape(r) })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Emoji in customer text come from a colour emoji font, the rest from the text fonts: a face
/// limited to the emoji code points goes first (a text font such as DejaVu Sans has black-and-white
/// glyphs for some emoji and would win otherwise; a colour font first would draw the digits).
/// local() reads an installed font; nothing is fetched.
const EMOJI_FACE: &str = "@font-face{font-family:\"Color Emoji\";src:local(\"Noto Color Emoji\"),local(\"Apple Color Emoji\"),local(\"Segoe UI Emoji\");\
unicode-range:U+00A9,U+00AE,U+203C,U+2049,U+2122,U+2139,U+2194-21AA,U+231A-23FF,U+24C2,U+25AA-25FE,U+2600-27BF,U+2934-2935,U+2B05-2B55,U+3030,U+303D,U+3297,U+3299,U+FE0F,U+1F000-1FAFF}";

const STYLE: &str = "body{font-family:\"Color Emoji\",system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"DejaVu Sans\",sans-serif,\"Noto Color Emoji\",\"Apple Color Emoji\",\"Segoe UI Emoji\";margin:24px auto;max-width:1100px;color:#222}h1{margin-bottom:0}\
.sub{color:#666;margin-top:4px}.kpis{display:flex;flex-wrap:wrap;gap:10px}.kpi{border:1px solid #ddd;border-radius:6px;padding:10px;width:190px}\
.kpi .v{font-size:24px;font-weight:bold}.kpi .l{font-size:13px}.kpi .n{font-size:11px;color:#777}.charts{display:flex;flex-wrap:wrap;gap:12px}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border-bottom:1px solid #e3e3e3;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f5f5f5;white-space:nowrap}figure{margin:0;max-width:540px}figcaption{font-size:12px;padding-left:60px}.sw{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}.num{text-align:right;white-space:nowrap}.note{font-size:12px;color:#666}q{font-style:italic}\
.nw{white-space:nowrap}.ev{min-width:220px;max-width:400px}table.qa{font-size:12px}table.qa td.rs{font-size:11px}table.qa th{white-space:normal}.ev summary{cursor:pointer}.ev details div{margin:2px 0 4px 12px}.more{color:#777;white-space:nowrap}.def{font-size:12px;color:#444;max-width:560px}\
abbr[title]{text-decoration:underline dotted #999;cursor:help}dl.glossary{font-size:13px}dl.glossary dt{font-weight:bold;margin-top:6px}dl.glossary dd{margin-left:16px}";

/// The whole page: the header and headline figures, then each section in turn.
pub fn report_html(input: &ReportInput) -> Result<String> {
    let k = input.kpis;
    let zone = zone_label(&input.time_zone, input.rows);
    let mut html = String::with_capacity(256 * 1024);
    html.push_str("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>");
    // No script, no fetch of any kind: the page is complete as written.
    html.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">");
    let _ = write!(
        html,
        "<title>convoqa report {} to {}</title><style>{EMOJI_FACE}{STYLE}</style></head><body>",
        escape(&input.period.0),
        escape(&input.period.1)
    );
    let _ = write!(
        html,
        "<h1>Conversation quality</h1><p class=sub>Conversations started {} to {}; judged as of {} (reopen windows still open after that are {}). Times in {}. Point at a figure, a column head or a bar for its definition; all of them are under <a href=\"#definitions\">Definitions</a>.</p>",
        escape(&input.period.0),
        escape(&input.period.1),
        escape(&input.as_of),
        abbr("immature", "immature"),
        escape(&zone)
    );
    if k.overall.conversations == 0 {
        // `--allow-empty` on a night without traffic: say so rather than show empty charts.
        html.push_str(
            "<p class=note><strong>No messages</strong> in the input for this run: every table is empty.</p>",
        );
    }
    html.push_str(&headline(&k.overall));
    let quarantine = if input.quarantined_rows == 0 {
        "No input row was quarantined".to_string()
    } else {
        quarantine_text(input.quarantined_rows, input.quarantined_message_rows)
    };
    let _ = write!(
        html,
        "<p class=note>Risk model: {}. {}.</p>",
        escape(&input.risk_model),
        abbr(&quarantine, "quarantined rows")
    );
    html.push_str(&speed_section(input));
    html.push_str(&busy_hours_section(input, &zone));
    html.push_str(&intent_section(input));
    html.push_str(&satisfaction_section(input));
    html.push_str(&qa_section(input));
    html.push_str(&voc_section(input));
    html.push_str(&glossary());
    html.push_str("<p class=note>Made by convoqa. The definitions with their exact formulas: docs/kpis.md in the convoqa repository.</p></body></html>\n");
    Ok(html)
}

/// Each channel's name and its bars' tooltip: the conversations, then `what` of its KPI row.
fn channel_tips(k: &KpiTables, what: &dyn Fn(&KpiRow) -> String) -> Vec<(String, String)> {
    k.by_channel
        .iter()
        .map(|(c, r)| (key_name(c), format!("{}: {} conversations; {}", key_name(c), r.conversations, what(r))))
        .collect()
}

/// First response time and service level by channel, and the timing table.
fn speed_section(input: &ReportInput) -> String {
    let k = input.kpis;
    let frt_series = [
        Bars {
            name: "any reply (bot included)",
            key: "any",
            color: ORANGE,
            values: k.by_channel.iter().map(|(_, r)| r.timing("frt_total").median).collect(),
        },
        Bars {
            name: "first human reply",
            key: "human",
            color: BLUE,
            values: k.by_channel.iter().map(|(_, r)| r.timing("frt_human").median).collect(),
        },
    ];
    let frt_categories = channel_tips(k, &|r| {
        format!(
            "median first reply {}, first human reply {}",
            dur(r.timing("frt_total").median),
            dur(r.timing("frt_human").median)
        )
    });
    let frt = figure(
        &hbars(
            "frt",
            "First response time by channel (median)",
            "median wait, log scale",
            &frt_categories,
            &frt_series,
            Unit::Duration,
            "no reply",
        ),
        &bars_legend(&frt_series),
    );
    let service_series = [Bars {
        name: "first human reply within the channel's SLA",
        key: "within_sla",
        color: GREEN,
        values: k.by_channel.iter().map(|(_, r)| r.service_level_pct).collect(),
    }];
    let service = figure(
        &hbars(
            "service",
            "Service level by channel",
            "% of conversations within SLA",
            &channel_tips(k, &|r| format!("service level {}", pct(r.service_level_pct))),
            &service_series,
            Unit::Percent,
            "no customer message",
        ),
        &bars_legend(&service_series),
    );
    let mut html = String::new();
    html.push_str("<h2>Speed</h2><div class=charts>");
    for svg in [&frt, &service] {
        html.push_str(svg);
    }
    html.push_str("</div><p class=note>A bot's instant answer is not help: the gap between the two bars is the wait for a person. First response time is on a log scale (each grid line multiplies the wait), so seconds and hours fit on one chart; the label at a bar's end is its median.</p>");
    html.push_str(&timing_table(&k.overall, input.rows));
    html
}

/// Customer messages by weekday and hour.
fn busy_hours_section(input: &ReportInput, zone: &str) -> String {
    let heat = heatmap(&input.kpis.heatmap, zone);
    let mut html = String::new();
    html.push_str("<h2>When customers write</h2>");
    html.push_str(&heat);
    let _ = write!(
        html,
        "<p class=note>Hours and weekdays are in {}, the report's time zone (<code>time_zone</code> in the config).",
        escape(zone)
    );
    if input.time_zone.eq_ignore_ascii_case("UTC") {
        html.push_str(" Set it to the team's zone (for example Asia/Jakarta) to see the team's local hours.");
    }
    html.push_str(" Each cell counts customer messages sent in that weekday-hour over the whole period; the scale under the chart gives the counts of its shades.</p>");
    html
}

/// Resolution time by intent: box plots, the Kruskal-Wallis test and the table.
fn intent_section(input: &ReportInput) -> String {
    let k = input.kpis;
    let boxes = intent_boxes(input.rows);
    let mut html = String::new();
    html.push_str("<h2>Intent and resolution time</h2>");
    if boxes.is_empty() && k.intent_resolution.rows.is_empty() {
        html.push_str("<p>No intents: the run had the model off.</p>");
    } else {
        if !boxes.is_empty() {
            html.push_str(&intent_boxplots(&boxes));
        }
        let t = &k.intent_resolution.test;
        if let (Some(h), Some(p), Some(e2)) = (t.h, t.p_value, t.epsilon_squared) {
            let _ = write!(
                html,
                "<p>{}: H = {h:.1}, df = {}, n = {}, p {}, epsilon&sup2; = {e2:.3} ({}).</p>",
                abbr("Kruskal-Wallis test across intents", "Kruskal-Wallis"),
                t.df,
                t.n,
                if p < 0.001 { "&lt; 0.001".to_string() } else { format!("= {p:.3}") },
                if p < 0.01 {
                    "resolution time differs between intents"
                } else {
                    "no clear difference between intents"
                }
            );
        }
        let _ = write!(
            html,
            "<table><tr><th>intent</th><th class=num>conversations</th><th class=num>resolved (n)</th><th class=num>median resolution</th><th class=num>{}</th><th class=num>{}</th><th class=num>{}</th><th class=num>ends negative</th></tr>",
            abbr("median vs all", "median vs all"),
            abbr("FCR", "FCR"),
            abbr("reopen", "reopen rate")
        );
        // The box plot's order (slowest median first), then intents with nothing resolved.
        let order = |r: &IntentResolutionRow| boxes.iter().position(|b| b.0 == r.intent).unwrap_or(usize::MAX);
        let mut table: Vec<&IntentResolutionRow> = k.intent_resolution.rows.iter().collect();
        table.sort_by_key(|r| (order(r), r.intent.clone()));
        for r in table {
            let no_returns = r.reopen_rate == Some(0.0);
            let (fcr, reopen) = if no_returns {
                (abbr("no returns", NO_RETURNS), abbr("no returns", NO_RETURNS))
            } else {
                (rate(r.fcr_rate), rate(r.reopen_rate))
            };
            let _ = write!(
                html,
                "<tr><td class=nw>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{fcr}</td><td class=num>{reopen}</td><td class=num>{}</td></tr>",
                escape(&r.intent),
                r.conversations,
                r.resolved_conversations,
                dur(r.resolution.median),
                r.resolution_median_ratio.map_or("-".into(), |x| format!("{x:.1}x")),
                rate(r.ending_negative_rate)
            );
        }
        html.push_str("</table><p class=note>The box plot and the resolution columns count resolved conversations only (n, as in the box plot's labels): a conversation not yet resolved has no resolution time. <i>conversations</i> counts them all. Box: the middle half of the times, with the median as a white line; whiskers reach the furthest time within 1.5 box-lengths of the box; circles are the times beyond; times under a minute are drawn at one minute. Median vs all: the intent's median over the median of every resolved conversation.</p>");
    }
    html
}

/// Surveyed beside predicted 1-3 star shares, and how resolved conversations ended.
fn satisfaction_section(input: &ReportInput) -> String {
    let k = input.kpis;
    let channels: Vec<String> = k.by_channel.iter().map(|(c, _)| key_name(c)).collect();
    let csat_series = [
        Bars {
            name: "surveyed (answers only)",
            key: "surveyed",
            color: ORANGE,
            values: k.by_channel.iter().map(|(_, r)| r.low_csat_pct).collect(),
        },
        Bars {
            name: "predicted (every conversation)",
            key: "predicted",
            color: BLUE,
            values: k.by_channel.iter().map(|(_, r)| r.predicted_low_csat_pct).collect(),
        },
    ];
    let csat = figure(
        &hbars(
            "csat",
            "1-3 star ratings by channel: surveyed vs predicted",
            "% of conversations rated (or predicted) 1-3 stars",
            &channel_tips(k, &|r| format!("{} survey answers", r.csat_responses)),
            &csat_series,
            Unit::Percent,
            NO_SURVEY,
        ),
        &bars_legend(&csat_series),
    );
    let mut fcr_counts: BTreeMap<String, Vec<u64>> = channels.iter().map(|c| (c.clone(), vec![0; 3])).collect();
    for r in input.rows.iter().filter(|r| r.is_resolved()) {
        let c = fcr_counts.get_mut(&key_name(&r.channel)).expect("every channel has a KPI row");
        match (r.link.fcr_mature, r.link.reopened) {
            (true, Some(true)) => c[1] += 1,
            (true, _) => c[0] += 1,
            (false, _) => c[2] += 1,
        }
    }
    let fcr_parts =
        [("resolved first time (mature)", GREEN), ("reopened", RED), ("immature: reopen window still open", GREY)];
    let fcr_svg = stacked_shares(
        "fcr",
        "Resolved conversations: FCR, reopened, not yet known",
        "% of resolved conversations",
        &channel_tips(k, &|r| {
            format!(
                "{} resolved: {} mature, {} still in the reopen window",
                r.resolved_conversations, r.fcr_mature_conversations, r.fcr_immature_conversations
            )
        }),
        &fcr_parts,
        &channels.iter().map(|c| fcr_counts[c].clone()).collect::<Vec<_>>(),
    );
    let fcr = figure(&fcr_svg, &fcr_parts);
    let mut html = String::new();
    html.push_str("<h2>Satisfaction and first contact resolution</h2><div class=charts>");
    html.push_str(&csat);
    html.push_str(&fcr);
    html.push_str("</div><p class=note>Surveyed shares count only customers who answered, and unhappy customers answer more often; the predicted share covers every conversation.");
    if returns_observed(&k.overall) == Some(false) {
        let _ = write!(
            html,
            " <b>No returns observed:</b> not one of the {} mature resolved conversations' customers came back within the reopen window, so <i>resolved first time</i> is every mature conversation, not a measured FCR (customers may be unlinkable, or the period too short).",
            k.overall.fcr_mature_conversations
        );
    }
    if k.overall.csat_responses == 0 {
        html.push_str(" <b>No survey data:</b> no customer answered a survey or rated in the chat, so only the predicted share is shown.");
    }
    html.push_str("</p>");

    html
}

/// The top of the QA list, with reasons and evidence.
fn qa_section(input: &ReportInput) -> String {
    let mut html = String::new();
    let by_id: HashMap<&str, &ConversationRow> = input.rows.iter().map(|r| (r.conversation_id.as_str(), r)).collect();
    let flagged: Vec<&QaItem> = input.qa.iter().filter(|q| q.group == "flagged").collect();
    let st = input.qa_stats;
    let _ = write!(
        html,
        "<h2>Top QA flags</h2><p>{} conversations listed for review ({} with an agent, {} without) of {} over a threshold ({} for low CSAT, {} for false FCR; {} left off by the caps). The rule: {}. Full list with the control group: qa_review.csv.</p>",
        st.flagged,
        st.listed_with_agent,
        st.listed_unassigned,
        st.over_a_threshold,
        st.over_low_csat_threshold,
        st.over_false_fcr_threshold,
        st.cut_by_cap,
        escape(&st.rule)
    );
    let _ = write!(
        html,
        "<table class=qa><tr><th>#</th><th>conversation</th><th>agent</th><th>channel</th><th>intent</th><th class=num>{}</th><th class=num>{}</th><th>reasons</th><th>evidence (redacted)</th></tr>",
        abbr("low-CSAT risk", "low-CSAT risk"),
        abbr("false-FCR risk", "false-FCR risk")
    );
    for q in flagged.iter().take(QA_TOP) {
        let wait = by_id.get(q.conversation_id.as_str()).and_then(|r| long_wait_s(r));
        let _ = write!(
            html,
            "<tr><td>{}</td><td class=nw>{}</td><td class=nw>{}</td><td class=nw>{}</td><td class=nw>{}</td><td class=num>{}</td><td class=num>{}</td><td class=rs>{}</td><td class=ev>{}</td></tr>",
            q.rank,
            escape(&q.conversation_id),
            escape(q.primary_agent_id.as_deref().unwrap_or("-")),
            escape(q.channel.as_deref().unwrap_or("-")),
            escape(q.intent.as_deref().unwrap_or("-")),
            q.low_csat_risk.map_or("-".into(), |v| format!("{v:.2}")),
            q.false_fcr_risk.map_or("-".into(), |v| format!("{v:.2}")),
            reasons_cell(&q.reasons),
            evidence_cell(&q.evidence, wait)
        );
    }
    html.push_str("</table>");

    html
}

/// The top of the VOC backlog, in customers' words.
fn voc_section(input: &ReportInput) -> String {
    let mut html = String::new();
    let _ = write!(
        html,
        "<h2>Voice of the customer</h2><p>What customers complain about, ranked by {} = conversations affected x (reopen rate + low-CSAT share). Full list: voc_backlog.md.</p>",
        abbr("cost", "VOC cost")
    );
    let _ = write!(
        html,
        "<table><tr><th>#</th><th>theme</th><th>intent</th><th>owner</th><th class=num>conversations</th><th class=num>{}</th><th class=num>{}</th><th>trend</th><th>in their words (redacted)</th></tr>",
        abbr("reopen", "reopen rate"),
        abbr("low-CSAT share", "low-CSAT share")
    );
    for v in input.voc.iter().take(10) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td class=nw>{}</td><td>{}</td><td class=num>{} ({:.1}%)</td><td class=num>{}</td><td class=num>{:.0}%</td><td>{}</td><td>{}</td></tr>",
            v.rank,
            escape(&v.title),
            escape(&v.intent),
            escape(v.owner_team.as_deref().unwrap_or("-")),
            v.conversations,
            v.share * 100.0,
            rate(v.reopen_rate),
            v.low_csat_share * 100.0,
            escape(v.trend.as_ref().map_or("-".to_string(), |t| trend_text(t).trim_start_matches("; trend: ").to_string()).as_str()),
            v.quotes.iter().take(2).map(|q| format!("<q>{}</q>", escape(q))).collect::<Vec<_>>().join("<br>")
        );
    }
    html.push_str("</table>");
    html
}

/// The Definitions section: every term above, and what each QA reason code means.
fn glossary() -> String {
    let mut out = String::from("<h2 id=definitions>Definitions</h2><dl class=glossary>");
    for (term, text) in GLOSSARY {
        let _ = write!(out, "<dt>{}</dt><dd>{}</dd>", escape(term), escape(text));
    }
    out.push_str("</dl><p><b>QA reasons</b> (up to three per risk model, the signals that raised the risk most):</p><dl class=glossary>");
    for (code, text) in REASONS {
        let _ = write!(out, "<dt>{code}</dt><dd>{}</dd>", escape(text));
    }
    out.push_str("</dl>");
    out
}

#[cfg(test)]
mod tests {
    use super::charts::tests::bars;
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(escape("<b>\"Tom\" & 'Jerry'</b>"), "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;");
    }

    /// The `data-*` bars of a chart: (category, series, width in px).
    #[test]
    fn evidence_is_cut_short_with_the_full_text_a_click_away_and_long_waits_say_how_long() {
        let long = format!("NEGATIVE_END: \"{}\"", "sangat kecewa ".repeat(8));
        let cell = evidence_cell(&format!("{long} | LONG_WAIT: \"halo, ada orang?\""), Some(5.0 * 3600.0));
        assert!(cell.starts_with("<details><summary>NEGATIVE_END: &quot;sangat kecewa"), "{cell}");
        let summary = &cell[..cell.find("</summary>").unwrap()];
        assert!(summary.contains('…') && summary.contains("(+1 more)"), "{summary}");
        assert!(cell.contains(&escape(&long)), "full text inside");
        assert!(cell.contains("LONG_WAIT (waited 5.0h): &quot;halo, ada orang?&quot;"), "{cell}");
        // Short evidence stays plain text.
        assert_eq!(evidence_cell("UNANSWERED: \"halo\"", None), "UNANSWERED: &quot;halo&quot;");
        assert_eq!(evidence_cell("", None), "-");
        // The wait comes back from the LONG_WAIT signal, log2(1 + hours).
        let mut row = ConversationRow::default();
        assert_eq!(long_wait_s(&row), None);
        row.risk_signals.set(Signal::LongWait, (1.0f64 + 5.0).log2());
        assert!((long_wait_s(&row).unwrap() - 5.0 * 3600.0).abs() < 1e-6);
    }

    #[test]
    fn headline_says_no_returns_and_no_survey_instead_of_perfect_scores() {
        let k = KpiRow {
            timings: vec![Default::default(); crate::aggregate::TIMINGS.len()],
            fcr_mature_conversations: 120,
            fcr_rate: Some(1.0),
            reopen_rate: Some(0.0),
            ..Default::default()
        };
        let html = headline(&k);
        assert!(!html.contains("100.0%") && !html.contains(">0.0%<"), "{html}");
        assert_eq!(html.matches(">no returns observed<").count(), 2, "{html}");
        assert!(html.contains("0 of 120 mature conversations came back"));
        assert_eq!(html.matches(">no survey data<").count(), 2, "CSAT and the surveyed 1-3 star share: {html}");
        assert!(html.contains(&format!("title=\"{}\"", escape(definition(NO_RETURNS)))));
    }

    fn page(rows: &[ConversationRow], qa: &[QaItem]) -> String {
        let tz = jiff::tz::TimeZone::UTC;
        let kpis = crate::aggregate::aggregate(rows, [[1; 24]; 7], &tz);
        report_html(&ReportInput {
            kpis: &kpis,
            rows,
            qa,
            qa_stats: &crate::qa::QaStats { flagged: qa.len() as u64, ..Default::default() },
            voc: &[],
            period: ("2026-01-01 00:00".into(), "2026-01-02 00:00".into()),
            as_of: "2026-01-09 00:00".into(),
            time_zone: "UTC".into(),
            risk_model: "built-in".into(),
            quarantined_rows: 32,
            quarantined_message_rows: 29,
        })
        .unwrap()
    }

    #[test]
    fn the_page_defines_its_terms_and_names_the_reply_span() {
        let mut rows: Vec<ConversationRow> = (0..10)
            .map(|i| ConversationRow {
                conversation_id: format!("c{i}"),
                channel: Some(if i % 2 == 0 { "email" } else { "whatsapp" }.into()),
                reading: crate::row::ModelReading { intent: Some("refund".into()), ..Default::default() },
                resolution_s: Some(3600.0 * (i + 1) as f64),
                resolved_at_us: Some(1),
                frt_total_s: Some(5.0),
                frt_human_s: Some(if i % 2 == 0 { 14_700.0 } else { 120.0 }),
                handle_s: Some(if i < 9 { 0.0 } else { 7200.0 }),
                human_replies: if i < 9 { 1 } else { 3 },
                csat_score: Some(5.0),
                primary_agent_id: Some("agent-very-long-id-042".into()),
                ..Default::default()
            })
            .collect();
        rows[3].risk_signals.set(Signal::LongWait, 2.0);
        let qa = [QaItem {
            conversation_id: "c3".into(),
            group: "flagged",
            rank: 1,
            low_csat_risk: Some(0.8),
            false_fcr_risk: None,
            reasons: "LONG_WAIT,NEGATIVE_END".into(),
            primary_agent_id: Some("agent-very-long-id-042".into()),
            channel: Some("whatsapp".into()),
            team: None,
            intent: Some("refund".into()),
            evidence_message_ids: "c3-1".into(),
            evidence: "LONG_WAIT: \"halo?\" | NEGATIVE_END: \"kecewa 😡\"".into(),
        }];
        let html = page(&rows, &qa);
        // The handle KPI under its honest name, with its definition and the single-reply count.
        assert!(!html.contains(">handle time<") && html.contains(">human reply span<"), "renamed");
        assert!(
            html.contains("Not average handle time (AHT)")
                && html.contains("9 of 10 conversations with a human reply had only one")
        );
        // Glossary, tooltips and the footer.
        assert!(
            html.contains("<h2 id=definitions>Definitions</h2>")
                && html.contains("<dt>FCR</dt>")
                && html.contains("<dt>LONG_WAIT</dt>")
        );
        assert!(
            html.contains("<abbr title=\"")
                && html.contains("<th class=num><abbr title=\"The intent&#39;s median resolution time divided")
        );
        assert!(!html.contains("title=\"\""), "every tooltip has a text");
        assert!(!html.contains("Definitions: docs/kpis.md"));
        assert!(!html.contains("x overall") && html.contains(">median vs all</abbr>"));
        // One wording of quarantined rows.
        assert!(html.contains("32 input rows quarantined (29 message rows, 3 conversation rows"));
        // QA table: the wait, ids that do not wrap, a font stack with emoji.
        assert!(html.contains("LONG_WAIT (waited 3.0h)"), "2^2 - 1 = 3 hours");
        assert!(html.contains("<td class=nw>agent-very-long-id-042</td>"));
        assert!(
            html.contains("font-family:\"Color Emoji\",")
                && html
                    .contains("src:local(\"Noto Color Emoji\"),local(\"Apple Color Emoji\"),local(\"Segoe UI Emoji\")")
        );
        // The box plot's n is the table's resolved column.
        assert!(html.contains(">refund (n=10)<") && html.contains("<td class=num>10</td><td class=num>10</td>"));
        // UTC is said to be UTC, with how to change it.
        assert!(html.contains("Set it to the team&#39;s zone") || html.contains("Set it to the team's zone"));
        // Every chart's bars are there, both FRT series for both channels.
        let frt = &html[html.find("data-chart=\"frt\"").unwrap()..];
        let frt = &frt[..frt.find("</svg>").unwrap()];
        assert_eq!(bars(frt).len(), 4, "{frt}");
        assert!(html.matches("<svg").count() >= 6);
    }
}
