//! report.html: one self-contained page a supervisor can read. Charts are inline SVG drawn by
//! plotters; no script, no font, no fetch (a Content-Security-Policy forbids any). Every customer
//! text on it comes from the QA list and the VOC backlog, which are already redacted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use crate::aggregate::{KpiRow, KpiTables};
use crate::error::{Error, Result};
use crate::features::ConversationRow;
use crate::qa::QaItem;
use crate::summary::{dur, pct, rate};
use crate::voc::{trend_text, VocItem};

/// What the report shows.
pub struct ReportInput<'a> {
    pub kpis: &'a KpiTables,
    pub rows: &'a [ConversationRow],
    /// The QA list in rank order; at least its first 15 flagged items (the table shows those).
    pub qa: &'a [QaItem],
    /// How many conversations the QA list flags.
    pub qa_flagged: u64,
    pub voc: &'a [VocItem],
    /// First and last conversation start, and as_of, already formatted.
    pub period: (String, String),
    pub as_of: String,
    pub time_zone: String,
    pub risk_model: String,
    pub quarantined_rows: u64,
}

/// QA items the report shows.
pub const QA_TOP: usize = 15;

const BLUE: RGBColor = RGBColor(49, 110, 180);
const ORANGE: RGBColor = RGBColor(230, 140, 40);
const GREEN: RGBColor = RGBColor(70, 150, 90);
const RED: RGBColor = RGBColor(200, 70, 60);
const GREY: RGBColor = RGBColor(170, 170, 170);
const FONT: &str = "sans-serif";
/// Two charts side by side fit the page's 1100 px.
const CHART_WIDTH: u32 = 540;

/// A chart with its legend in HTML under it (plotters' legends sit on top of the bars).
fn figure(svg: &str, legend: &[(&str, RGBColor)]) -> String {
    let mut out = format!("<figure>{svg}<figcaption>");
    for (name, c) in legend {
        let _ = write!(out, "<span class=sw style=\"background:#{:02x}{:02x}{:02x}\"></span>{} ", c.0, c.1, c.2, escape(name));
    }
    out.push_str("</figcaption></figure>");
    out
}

fn chart_error(e: impl std::fmt::Display) -> Error {
    Error::Internal(format!("drawing a report chart: {e}"))
}

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

fn segment_label(names: &[String]) -> impl Fn(&SegmentValue<i32>) -> String + '_ {
    move |v| match v {
        SegmentValue::CenterOf(i) | SegmentValue::Exact(i) => names.get(*i as usize).cloned().unwrap_or_default(),
        SegmentValue::Last => String::new(),
    }
}

fn segment_end(i: usize, n: usize) -> SegmentValue<i32> {
    if i + 1 < n {
        SegmentValue::Exact(i as i32 + 1)
    } else {
        SegmentValue::Last
    }
}

/// Vertical bars, one group per category, one bar per series in the group.
fn grouped_bars(title: &str, y_label: &str, categories: &[String], series: &[(&str, RGBColor, Vec<Option<f64>>)]) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (CHART_WIDTH, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let top = series.iter().flat_map(|s| s.2.iter().flatten()).fold(0.0f64, |a, &b| a.max(b));
        let n = categories.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(55)
            .build_cartesian_2d((0..n as i32 - 1).into_segmented(), 0.0..(top * 1.1).max(1e-9))
            .map_err(chart_error)?;
        let label = segment_label(categories);
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(n)
            .x_label_formatter(&label)
            .y_desc(y_label)
            .label_style((FONT, 12))
            .draw()
            .map_err(chart_error)?;
        let width_px = (CHART_WIDTH - 75) / n as u32;
        let bar_px = (width_px.saturating_sub(12) / series.len().max(1) as u32).max(2);
        for (s, (_, color, values)) in series.iter().enumerate() {
            let left = 6 + s as u32 * bar_px;
            let right = width_px.saturating_sub(left + bar_px);
            let bars = values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (i, v))).map(move |(i, v)| {
                let mut bar = Rectangle::new([(SegmentValue::Exact(i as i32), 0.0), (segment_end(i, n), v)], color.filled());
                bar.set_margin(0, 0, left, right);
                bar
            });
            chart.draw_series(bars).map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Horizontal stacked bars: each category's parts as shares of its total, in percent.
fn stacked_shares(title: &str, categories: &[String], parts: &[(&str, RGBColor)], counts: &[Vec<u64>]) -> Result<String> {
    let mut svg = String::new();
    {
        let height = 80 + 34 * categories.len().max(1) as u32;
        let root = SVGBackend::with_string(&mut svg, (CHART_WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let n = categories.len().max(1);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 16))
            .margin(8)
            .margin_right(20)
            .x_label_area_size(30)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..100.0, (0..n as i32 - 1).into_segmented())
            .map_err(chart_error)?;
        let label = segment_label(categories);
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&label)
            .x_desc("% of resolved conversations")
            .label_style((FONT, 12))
            .draw()
            .map_err(chart_error)?;
        for (p, (_, color)) in parts.iter().enumerate() {
            let bars: Vec<Rectangle<(f64, SegmentValue<i32>)>> = counts
                .iter()
                .enumerate()
                .filter_map(|(i, c)| {
                    let total: u64 = c.iter().sum();
                    (total > 0).then(|| {
                        let before: u64 = c[..p].iter().sum();
                        let (x0, x1) = (before as f64 / total as f64 * 100.0, (before + c[p]) as f64 / total as f64 * 100.0);
                        let mut bar = Rectangle::new([(x0, SegmentValue::Exact(i as i32)), (x1, segment_end(i, n))], color.filled());
                        bar.set_margin(5, 5, 0, 0);
                        bar
                    })
                })
                .collect();
            chart.draw_series(bars).map_err(chart_error)?;
        }
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Customer messages by weekday and hour, darker = busier.
fn heatmap(cells: &[[u64; 24]; 7], time_zone: &str) -> Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 270)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let days: Vec<String> = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].iter().map(|d| d.to_string()).collect();
        let hours: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
        let mut chart = ChartBuilder::on(&root)
            .caption(format!("Customer messages by weekday and hour ({time_zone})"), (FONT, 16))
            .margin(8)
            .x_label_area_size(25)
            .y_label_area_size(40)
            .build_cartesian_2d((0..23).into_segmented(), (0..6).into_segmented())
            .map_err(chart_error)?;
        let (xl, yl) = (segment_label(&hours), segment_label(&days));
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(24)
            .y_labels(7)
            .x_label_formatter(&xl)
            .y_label_formatter(&yl)
            .label_style((FONT, 11))
            .draw()
            .map_err(chart_error)?;
        let max = cells.iter().flatten().copied().max().unwrap_or(0).max(1) as f64;
        let rects = (0..7usize).flat_map(|d| (0..24usize).map(move |h| (d, h))).map(|(d, h)| {
            let v = cells[d][h] as f64 / max;
            // White to blue.
            let mix = |full: u8| (255.0 - (255.0 - full as f64) * v).round() as u8;
            let mut r = Rectangle::new(
                [(SegmentValue::Exact(h as i32), SegmentValue::Exact(d as i32)), (segment_end(h, 24), segment_end(d, 7))],
                RGBColor(mix(BLUE.0), mix(BLUE.1), mix(BLUE.2)).filled(),
            );
            r.set_margin(1, 1, 1, 1);
            r
        });
        chart.draw_series(rects).map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(svg)
}

/// Resolution time per intent as box plots (median line, quartiles, 1.5 IQR whiskers), log scale.
fn intent_boxplots(rows: &[ConversationRow]) -> Result<Option<String>> {
    let mut by_intent: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in rows {
        if let (Some(i), Some(s)) = (r.intent.as_deref(), r.resolution_s) {
            by_intent.entry(i).or_default().push((s / 3600.0).max(1.0 / 60.0));
        }
    }
    if by_intent.is_empty() {
        return Ok(None);
    }
    // Slowest median first, at the top.
    let mut groups: Vec<(String, Quartiles, f64)> = by_intent
        .into_iter()
        .map(|(k, v)| {
            let q = Quartiles::new(&v);
            let median = q.median();
            (format!("{k} (n={})", v.len()), q, median)
        })
        .collect();
    groups.sort_by(|a, b| a.2.total_cmp(&b.2));
    let names: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
    let (lo, hi) = groups.iter().fold((f32::MAX, f32::MIN), |(lo, hi), g| {
        let v = g.1.values();
        (lo.min(v[0]), hi.max(v[4]))
    });
    let mut svg = String::new();
    {
        let height = 90 + 30 * groups.len() as u32;
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        root.fill(&WHITE).map_err(chart_error)?;
        let n = groups.len();
        let mut chart = ChartBuilder::on(&root)
            .caption("Resolution time by intent (hours, log scale)", (FONT, 16))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(190)
            .build_cartesian_2d(((lo * 0.8).max(1.0 / 120.0)..hi * 1.25).log_scale(), (0..n as i32 - 1).into_segmented())
            .map_err(chart_error)?;
        let label = segment_label(&names);
        chart
            .configure_mesh()
            .y_labels(n)
            .y_label_formatter(&label)
            .x_desc("hours from first customer message to resolution")
            .label_style((FONT, 12))
            .draw()
            .map_err(chart_error)?;
        chart
            .draw_series(groups.iter().enumerate().map(|(i, g)| Boxplot::new_horizontal(SegmentValue::CenterOf(i as i32), &g.1).width(14).style(BLUE)))
            .map_err(chart_error)?;
        root.present().map_err(chart_error)?;
    }
    Ok(Some(svg))
}

fn legend<'a>(series: &'a [(&'a str, RGBColor, Vec<Option<f64>>)]) -> Vec<(&'a str, RGBColor)> {
    series.iter().map(|s| (s.0, s.1)).collect()
}

fn kpi_cell(label: &str, value: String, note: &str) -> String {
    format!("<div class=kpi><div class=v>{}</div><div class=l>{}</div><div class=n>{}</div></div>", escape(&value), escape(label), escape(note))
}

fn headline(k: &KpiRow) -> String {
    let mut out = String::from("<div class=kpis>");
    out.push_str(&kpi_cell("conversations", k.conversations.to_string(), &format!("{} messages", k.messages)));
    out.push_str(&kpi_cell("FRT human, median", dur(k.timing("frt_human").median), &format!("any reply: {}", dur(k.timing("frt_total").median))));
    out.push_str(&kpi_cell("service level", pct(k.service_level_pct), "first human reply within SLA"));
    out.push_str(&kpi_cell("resolution, median", dur(k.timing("resolution").median), &format!("p90 {}", dur(k.timing("resolution").p90))));
    out.push_str(&kpi_cell("FCR", rate(k.fcr_rate), &format!("{} mature, {} still in the reopen window", k.fcr_mature_conversations, k.fcr_immature_conversations)));
    out.push_str(&kpi_cell("reopen rate", rate(k.reopen_rate), "of mature resolved conversations"));
    out.push_str(&kpi_cell("CSAT", pct(k.csat_pct), &format!("{} answers", k.csat_responses)));
    out.push_str(&kpi_cell("1-3 star, surveyed", pct(k.low_csat_pct), "share of survey answers"));
    out.push_str(&kpi_cell("1-3 star, predicted", pct(k.predicted_low_csat_pct), "every conversation, risk model"));
    out.push_str(&kpi_cell("bot containment", rate(k.bot_containment_rate), &format!("handover {}", rate(k.handover_rate))));
    out.push_str("</div>");
    out
}

const STYLE: &str = "body{font-family:sans-serif;margin:24px auto;max-width:1100px;color:#222}h1{margin-bottom:0}\
.sub{color:#666;margin-top:4px}.kpis{display:flex;flex-wrap:wrap;gap:10px}.kpi{border:1px solid #ddd;border-radius:6px;padding:10px;width:190px}\
.kpi .v{font-size:24px;font-weight:bold}.kpi .l{font-size:13px}.kpi .n{font-size:11px;color:#777}.charts{display:flex;flex-wrap:wrap;gap:12px}\
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border-bottom:1px solid #e3e3e3;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f5f5f5}figure{margin:0}figcaption{font-size:12px;padding-left:60px}.sw{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px}.num{text-align:right}.note{font-size:12px;color:#666}q{font-style:italic}";

/// The whole page.
pub fn report_html(input: &ReportInput) -> Result<String> {
    let k = input.kpis;
    let channels: Vec<String> = k.by_channel.iter().map(|(c, _)| key_name(c)).collect();
    let frt_series = [
        ("any reply (bot included)", ORANGE, k.by_channel.iter().map(|(_, r)| r.timing("frt_total").median.map(|s| s / 60.0)).collect()),
        ("first human reply", BLUE, k.by_channel.iter().map(|(_, r)| r.timing("frt_human").median.map(|s| s / 60.0)).collect()),
    ];
    let frt = figure(&grouped_bars("First response time by channel (median, minutes)", "minutes", &channels, &frt_series)?, &legend(&frt_series));
    let service_series = [("first human reply within the channel's SLA", GREEN, k.by_channel.iter().map(|(_, r)| r.service_level_pct).collect())];
    let service = figure(&grouped_bars("Service level by channel (%)", "% within SLA", &channels, &service_series)?, &legend(&service_series));
    let csat_series = [
        ("surveyed (answers only)", ORANGE, k.by_channel.iter().map(|(_, r)| r.low_csat_pct).collect()),
        ("predicted (every conversation)", BLUE, k.by_channel.iter().map(|(_, r)| r.predicted_low_csat_pct).collect()),
    ];
    let csat = figure(&grouped_bars("1-3 star ratings by channel: surveyed vs predicted (%)", "% of conversations", &channels, &csat_series)?, &legend(&csat_series));
    let mut fcr_counts: BTreeMap<String, Vec<u64>> = channels.iter().map(|c| (c.clone(), vec![0; 3])).collect();
    for r in input.rows.iter().filter(|r| r.is_resolved()) {
        let c = fcr_counts.get_mut(&key_name(&r.channel)).expect("every channel has a KPI row");
        match (r.fcr_mature, r.reopened) {
            (true, Some(true)) => c[1] += 1,
            (true, _) => c[0] += 1,
            (false, _) => c[2] += 1,
        }
    }
    let fcr_parts = [("resolved first time (mature)", GREEN), ("reopened", RED), ("immature: reopen window still open", GREY)];
    let fcr = figure(
        &stacked_shares("Resolved conversations: FCR, reopened, not yet known", &channels, &fcr_parts, &channels.iter().map(|c| fcr_counts[c].clone()).collect::<Vec<_>>())?,
        &fcr_parts,
    );
    let heat = heatmap(&k.heatmap, &input.time_zone)?;
    let intents = intent_boxplots(input.rows)?;

    let mut html = String::with_capacity(256 * 1024);
    html.push_str("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>");
    // No script, no fetch of any kind: the page is complete as written.
    html.push_str("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">");
    let _ = write!(html, "<title>convoqa report {} to {}</title><style>{STYLE}</style></head><body>", escape(&input.period.0), escape(&input.period.1));
    let _ = write!(
        html,
        "<h1>Conversation quality</h1><p class=sub>Conversations started {} to {}; judged as of {} (reopen windows still open after that are <i>immature</i>). Times in {}.</p>",
        escape(&input.period.0),
        escape(&input.period.1),
        escape(&input.as_of),
        escape(&input.time_zone)
    );
    html.push_str(&headline(&k.overall));
    let _ = write!(
        html,
        "<p class=note>Risk model: {}. {} input rows were quarantined (see quarantine.parquet).</p>",
        escape(&input.risk_model),
        input.quarantined_rows
    );
    html.push_str("<h2>Speed</h2><div class=charts>");
    for svg in [&frt, &service] {
        html.push_str(svg);
    }
    html.push_str("</div><p class=note>A bot's instant answer is not help: the gap between the two bars is the wait for a person.</p>");
    html.push_str("<h2>When customers write</h2>");
    html.push_str(&heat);
    html.push_str("<h2>Intent and resolution time</h2>");
    match &intents {
        Some(svg) => {
            html.push_str(svg);
            let t = &k.intent_resolution.test;
            if let (Some(h), Some(p), Some(e2)) = (t.h, t.p_value, t.epsilon_squared) {
                let _ = write!(
                    html,
                    "<p>Kruskal-Wallis test across intents: H = {h:.1}, df = {}, n = {}, p {}, epsilon&sup2; = {e2:.3} ({}).</p>",
                    t.df,
                    t.n,
                    if p < 0.001 { "&lt; 0.001".to_string() } else { format!("= {p:.3}") },
                    if p < 0.01 { "resolution time differs between intents" } else { "no clear difference between intents" }
                );
            }
            html.push_str("<table><tr><th>intent</th><th class=num>conversations</th><th class=num>median resolution</th><th class=num>x overall</th><th class=num>FCR</th><th class=num>reopen</th><th class=num>ends negative</th></tr>");
            for r in &k.intent_resolution.rows {
                let _ = write!(
                    html,
                    "<tr><td>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td><td class=num>{}</td></tr>",
                    escape(&r.intent),
                    r.conversations,
                    dur(r.resolution.median),
                    r.resolution_median_ratio.map_or("-".into(), |x| format!("{x:.1}x")),
                    rate(r.fcr_rate),
                    rate(r.reopen_rate),
                    rate(r.ending_negative_rate)
                );
            }
            html.push_str("</table>");
        }
        None => html.push_str("<p>No intents: the run had the model off.</p>"),
    }
    html.push_str("<h2>Satisfaction and first contact resolution</h2><div class=charts>");
    html.push_str(&csat);
    html.push_str(&fcr);
    html.push_str("</div><p class=note>Surveyed shares count only customers who answered, and unhappy customers answer more often; the predicted share covers every conversation.</p>");

    let flagged: Vec<&QaItem> = input.qa.iter().filter(|q| q.group == "flagged").collect();
    let _ = write!(html, "<h2>Top QA flags</h2><p>{} conversations flagged for review (full list with the control group: qa_review.csv).</p>", input.qa_flagged);
    html.push_str("<table><tr><th>#</th><th>conversation</th><th>agent</th><th>channel</th><th>intent</th><th class=num>low-CSAT risk</th><th class=num>false-FCR risk</th><th>reasons</th><th>evidence (redacted)</th></tr>");
    for q in flagged.iter().take(QA_TOP) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=num>{}</td><td class=num>{}</td><td>{}</td><td>{}</td></tr>",
            q.rank,
            escape(&q.conversation_id),
            escape(q.primary_agent_id.as_deref().unwrap_or("-")),
            escape(q.channel.as_deref().unwrap_or("-")),
            escape(q.intent.as_deref().unwrap_or("-")),
            q.low_csat_risk.map_or("-".into(), |v| format!("{v:.2}")),
            q.false_fcr_risk.map_or("-".into(), |v| format!("{v:.2}")),
            escape(&q.reasons.replace(',', ", ")),
            escape(&q.evidence)
        );
    }
    html.push_str("</table>");

    html.push_str("<h2>Voice of the customer</h2><p>What customers complain about, ranked by cost = conversations affected x (reopen rate + low-CSAT share). Full list: voc_backlog.md.</p>");
    html.push_str("<table><tr><th>#</th><th>theme</th><th>intent</th><th>owner</th><th class=num>conversations</th><th class=num>reopen</th><th class=num>low-CSAT share</th><th>trend</th><th>in their words (redacted)</th></tr>");
    for v in input.voc.iter().take(10) {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=num>{} ({:.1}%)</td><td class=num>{}</td><td class=num>{:.0}%</td><td>{}</td><td>{}</td></tr>",
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
    html.push_str("</table><p class=note>Made by convoqa. Definitions: docs/kpis.md.</p></body></html>\n");
    Ok(html)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(escape("<b>\"Tom\" & 'Jerry'</b>"), "&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;");
    }

    #[test]
    fn charts_are_svg_with_their_labels() {
        let svg = grouped_bars("t", "min", &["whatsapp".into(), "email".into()], &[("a", BLUE, vec![Some(1.0), None]), ("b", ORANGE, vec![Some(2.0), Some(3.0)])]).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("whatsapp") && svg.contains("email"), "{svg}");
        // Three bars drawn (one value missing), plus legend swatches.
        let blue = svg.matches("fill=\"#316EB4\"").count();
        assert!(blue >= 1, "{svg}");
        let mut cells = [[0u64; 24]; 7];
        cells[0][9] = 5;
        assert!(heatmap(&cells, "Asia/Jakarta").unwrap().contains("Mon"));
    }
}
