//! The report's charts, as inline SVG written here (`Svg`): horizontal bars with a log axis for
//! durations, 100% bars, the busy-hours heatmap and the intent box plots. Every shape carries a
//! `<title>` (the browser's tooltip, no script) and data attributes the tests read.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::escape;
use crate::aggregate::quantile;
use crate::row::ConversationRow;
use crate::wording::dur;

/// A colour, red, green, blue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct RGBColor(u8, u8, u8);

pub(super) const BLUE: RGBColor = RGBColor(49, 110, 180);
pub(super) const ORANGE: RGBColor = RGBColor(230, 140, 40);
pub(super) const GREEN: RGBColor = RGBColor(70, 150, 90);
pub(super) const RED: RGBColor = RGBColor(200, 70, 60);
pub(super) const GREY: RGBColor = RGBColor(170, 170, 170);
const FONT: &str = "sans-serif";
/// Two charts side by side fit the page's 1100 px.
const CHART_WIDTH: u32 = 540;

/// A chart with its legend in HTML under it.
pub(super) fn figure(svg: &str, legend: &[(&str, RGBColor)]) -> String {
    let mut out = format!("<figure>{svg}<figcaption>");
    for (name, c) in legend {
        let _ = write!(
            out,
            "<span class=sw style=\"background:#{:02x}{:02x}{:02x}\"></span>{} ",
            c.0,
            c.1,
            c.2,
            escape(name)
        );
    }
    out.push_str("</figcaption></figure>");
    out
}

/// `#RRGGBB`.
fn hex(c: RGBColor) -> String {
    format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2)
}

/// An SVG chart, written directly: every shape can carry a `<title>` (the browser's tooltip, no
/// script needed) and data attributes (for tests), a log axis is labelled in minutes and hours,
/// and values are written at the ends of bars. (plotters, used before, could do none of these and
/// drew nothing for a single category.)
struct Svg {
    out: String,
}

impl Svg {
    /// `chart` names it for tests (`data-chart`); `tip` is the tooltip of the whole chart.
    fn new(chart: &str, width: u32, height: u32, caption: &str, tip: &str) -> Svg {
        let mut out = String::with_capacity(16 * 1024);
        let _ = write!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"{FONT}\" data-chart=\"{chart}\"><title>{}</title><rect width=\"{width}\" height=\"{height}\" fill=\"#FFFFFF\"/>",
            escape(tip)
        );
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"20\" font-size=\"15\" text-anchor=\"middle\" fill=\"#222222\">{}</text>",
            width / 2,
            escape(caption)
        );
        Svg { out }
    }

    /// A filled rectangle with a tooltip; `attrs` are extra attributes (class, data-*).
    fn rect(&mut self, (x, y, w, h): (f64, f64, f64, f64), fill: RGBColor, attrs: &str, tip: &str) {
        let _ = write!(
            self.out,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{}\" {attrs}><title>{}</title></rect>",
            hex(fill),
            escape(tip)
        );
    }

    fn text(&mut self, (x, y): (f64, f64), anchor: &str, size: u32, fill: &str, text: &str) {
        let _ = write!(
            self.out,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"{size}\" text-anchor=\"{anchor}\" dy=\"0.35em\" fill=\"{fill}\">{}</text>",
            escape(text)
        );
    }

    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), stroke: &str, width: f64, attrs: &str) {
        let _ = write!(self.out, "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" stroke=\"{stroke}\" stroke-width=\"{width}\" {attrs}/>");
    }

    fn raw(&mut self, svg: &str) {
        self.out.push_str(svg);
    }

    fn finish(mut self) -> String {
        self.out.push_str("</svg>");
        self.out
    }
}

/// Where a value sits along an axis, 0..1.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scale {
    /// 0 to the maximum.
    Linear(f64),
    /// Logarithmic from lo to hi (both > 0); values under the floor (> lo) are drawn at the floor,
    /// so a 0 s median still gets a bar as long as log(floor / lo).
    Log { lo: f64, hi: f64, floor: f64 },
}

impl Scale {
    fn frac(self, v: f64) -> f64 {
        match self {
            Scale::Linear(max) => (v / max).clamp(0.0, 1.0),
            Scale::Log { lo, hi, floor } => ((v.max(floor).ln() - lo.ln()) / (hi.ln() - lo.ln())).clamp(0.0, 1.0),
        }
    }
}

/// A log scale for durations in seconds that holds every value with room on both sides: from a
/// third of the smallest (at least `floor`) to 1.2 x the largest, and at least a factor 10 wide.
/// So the shortest bar is still log(3) wide, never a hairline.
fn log_scale(values: impl Iterator<Item = f64>, floor: f64) -> Scale {
    let (lo, hi) = values.fold((f64::MAX, 0.0f64), |(lo, hi), v| (lo.min(v.max(floor)), hi.max(v)));
    if hi <= 0.0 {
        return Scale::Log { lo: floor / 3.0, hi: floor * 10.0, floor };
    }
    let lo = lo / 3.0;
    Scale::Log { lo, hi: (hi * 1.2).max(lo * 10.0), floor }
}

/// Duration ticks for a log axis, with the labels people use.
const DURATION_TICKS: [(f64, &str); 12] = [
    (1.0, "1s"),
    (10.0, "10s"),
    (60.0, "1m"),
    (300.0, "5m"),
    (1800.0, "30m"),
    (3600.0, "1h"),
    (4.0 * 3600.0, "4h"),
    (86_400.0, "1d"),
    (3.0 * 86_400.0, "3d"),
    (7.0 * 86_400.0, "7d"),
    (30.0 * 86_400.0, "30d"),
    (90.0 * 86_400.0, "90d"),
];

fn ticks(scale: Scale) -> Vec<(f64, String)> {
    match scale {
        Scale::Log { lo, hi, .. } => {
            DURATION_TICKS.iter().filter(|t| t.0 >= lo && t.0 <= hi).map(|t| (t.0, t.1.to_string())).collect()
        }
        Scale::Linear(max) => {
            let step =
                [1.0, 2.0, 5.0, 10.0, 20.0, 25.0, 50.0].into_iter().find(|s| max / s <= 6.0).unwrap_or(max / 5.0);
            (0..).map(|i| i as f64 * step).take_while(|v| *v <= max + 1e-9).map(|v| (v, format!("{v:.0}%"))).collect()
        }
    }
}

/// Ticks with grid lines down the plot and labels under it; the axis description below them.
fn axis(svg: &mut Svg, scale: Scale, (left, width): (f64, f64), (top, bottom): (f64, f64), desc: &str) {
    for (v, label) in ticks(scale) {
        let x = left + scale.frac(v) * width;
        svg.line((x, top), (x, bottom), "#E3E3E3", 1.0, "");
        svg.text((x, bottom + 10.0), "middle", 11, "#555555", &label);
    }
    svg.line((left, bottom), (left + width, bottom), "#999999", 1.0, "");
    svg.line((left, top), (left, bottom), "#999999", 1.0, "");
    svg.text((left + width / 2.0, bottom + 26.0), "middle", 12, "#333333", desc);
}

/// One series of bars: its legend name, its key (for tests) and its value per category.
pub(super) struct Bars<'a> {
    pub(super) name: &'a str,
    pub(super) key: &'a str,
    pub(super) color: RGBColor,
    pub(super) values: Vec<Option<f64>>,
}

pub(super) fn bars_legend<'a>(series: &'a [Bars<'a>]) -> Vec<(&'a str, RGBColor)> {
    series.iter().map(|s| (s.name, s.color)).collect()
}

/// What a bar chart's values are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Unit {
    /// Seconds, on a log axis labelled in s/m/h/d.
    Duration,
    /// Percent, on a linear axis from 0.
    Percent,
}

impl Unit {
    fn label(self, v: f64) -> String {
        match self {
            Unit::Duration => dur(Some(v)),
            Unit::Percent => format!("{v:.0}%"),
        }
    }
}

/// Horizontal bars: a row of bars per category, one per series, each with its value written at
/// its end and a tooltip; a series without a value for a category says `missing` there.
/// Durations get a log axis, so a bot's seconds and an e-mail's hours are both visible.
pub(super) fn hbars(
    chart: &str,
    caption: &str,
    desc: &str,
    categories: &[(String, String)],
    series: &[Bars],
    unit: Unit,
    missing: &str,
) -> String {
    const LEFT: f64 = 100.0;
    const RIGHT: f64 = 56.0;
    const TOP: f64 = 34.0;
    const BAR: f64 = 15.0;
    const GAP: f64 = 3.0;
    const GROUP_GAP: f64 = 14.0;
    let n = categories.len().max(1);
    let group = series.len() as f64 * BAR + (series.len().max(1) - 1) as f64 * GAP;
    let bottom = TOP + n as f64 * (group + GROUP_GAP);
    let height = (bottom + 44.0).ceil() as u32;
    let plot = CHART_WIDTH as f64 - LEFT - RIGHT;
    let all = series.iter().flat_map(|s| s.values.iter().flatten().copied());
    let scale = match unit {
        Unit::Duration => log_scale(all, 1.0),
        Unit::Percent => {
            let top = all.fold(0.0f64, f64::max);
            Scale::Linear(if top > 50.0 { 100.0 } else { ((top * 1.15 / 10.0).ceil() * 10.0).max(10.0) })
        }
    };
    let mut svg = Svg::new(chart, CHART_WIDTH, height, caption, &format!("{caption}. Point at a bar for its value."));
    axis(&mut svg, scale, (LEFT, plot), (TOP - 4.0, bottom), desc);
    for (i, (category, tip)) in categories.iter().enumerate() {
        let y0 = TOP + i as f64 * (group + GROUP_GAP) + GROUP_GAP / 2.0;
        let shown: String = if category.chars().count() > 15 {
            category.chars().take(14).chain(['…']).collect()
        } else {
            category.clone()
        };
        svg.raw(&format!(
            "<g class=\"category\" data-category=\"{}\"><title>{}</title>",
            escape(category),
            escape(tip)
        ));
        svg.text((LEFT - 6.0, y0 + group / 2.0), "end", 12, "#222222", &shown);
        svg.raw("</g>");
        for (s, bars) in series.iter().enumerate() {
            let y = y0 + s as f64 * (BAR + GAP);
            match bars.values.get(i).copied().flatten() {
                Some(v) => {
                    let w = (scale.frac(v) * plot).max(2.0);
                    let attrs = format!(
                        "class=\"bar\" data-category=\"{}\" data-series=\"{}\" data-value=\"{v}\"",
                        escape(category),
                        escape(bars.key)
                    );
                    svg.rect(
                        (LEFT, y, w, BAR),
                        bars.color,
                        &attrs,
                        &format!("{category}, {}: {}", bars.name, unit.label(v)),
                    );
                    svg.text((LEFT + w + 4.0, y + BAR / 2.0), "start", 11, "#222222", &unit.label(v));
                }
                None => {
                    svg.raw(&format!(
                        "<g class=\"missing\" data-category=\"{}\" data-series=\"{}\">",
                        escape(category),
                        escape(bars.key)
                    ));
                    svg.text((LEFT + 4.0, y + BAR / 2.0), "start", 11, "#888888", &format!("{}: {missing}", bars.name));
                    svg.raw("</g>");
                }
            }
        }
    }
    svg.finish()
}

/// Horizontal 100% bars: each category's parts as shares of its total, with the share written in
/// a part wide enough for it and a tooltip with the counts.
pub(super) fn stacked_shares(
    chart: &str,
    caption: &str,
    desc: &str,
    categories: &[(String, String)],
    parts: &[(&str, RGBColor)],
    counts: &[Vec<u64>],
) -> String {
    const LEFT: f64 = 100.0;
    const RIGHT: f64 = 24.0;
    const TOP: f64 = 34.0;
    const ROW: f64 = 30.0;
    let bottom = TOP + categories.len().max(1) as f64 * ROW;
    let plot = CHART_WIDTH as f64 - LEFT - RIGHT;
    let mut svg = Svg::new(chart, CHART_WIDTH, (bottom + 44.0).ceil() as u32, caption, caption);
    axis(&mut svg, Scale::Linear(100.0), (LEFT, plot), (TOP - 4.0, bottom), desc);
    for (i, ((category, tip), c)) in categories.iter().zip(counts).enumerate() {
        let y = TOP + i as f64 * ROW + 5.0;
        svg.raw(&format!(
            "<g class=\"category\" data-category=\"{}\"><title>{}</title>",
            escape(category),
            escape(tip)
        ));
        svg.text((LEFT - 6.0, y + 10.0), "end", 12, "#222222", category);
        svg.raw("</g>");
        let total: u64 = c.iter().sum();
        if total == 0 {
            svg.text((LEFT + 4.0, y + 10.0), "start", 11, "#888888", "none resolved");
            continue;
        }
        let mut before = 0u64;
        for ((name, color), n) in parts.iter().zip(c) {
            let (x0, w) = (LEFT + before as f64 / total as f64 * plot, *n as f64 / total as f64 * plot);
            before += n;
            if *n == 0 {
                continue;
            }
            let share = *n as f64 / total as f64 * 100.0;
            let attrs = format!("class=\"part\" data-category=\"{}\" data-part=\"{}\"", escape(category), escape(name));
            svg.rect(
                (x0, y, w, 20.0),
                *color,
                &attrs,
                &format!("{category}: {name}, {n} of {total} resolved ({share:.1}%)"),
            );
            if w >= 34.0 {
                svg.text((x0 + w / 2.0, y + 10.0), "middle", 11, "#FFFFFF", &format!("{share:.0}%"));
            }
        }
    }
    svg.finish()
}

/// The colour of a heatmap cell: white for 0 to full blue for the busiest cell.
fn heat_colour(count: u64, max: u64) -> RGBColor {
    let v = count as f64 / max.max(1) as f64;
    let mix = |full: u8| (255.0 - (255.0 - full as f64) * v).round() as u8;
    RGBColor(mix(BLUE.0), mix(BLUE.1), mix(BLUE.2))
}

/// The heatmap legend's steps: 0, a fifth of the busiest cell's count, ... the busiest.
fn heat_legend_steps(max: u64) -> Vec<u64> {
    let mut steps: Vec<u64> = (0..=5).map(|i| (max as f64 * i as f64 / 5.0).round() as u64).collect();
    steps.dedup();
    steps
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Customer messages by weekday and hour, darker = busier, with a colour scale in counts and a
/// tooltip per cell. `zone` names the time zone the hours are in.
pub(super) fn heatmap(cells: &[[u64; 24]; 7], zone: &str) -> String {
    const LEFT: f64 = 44.0;
    const TOP: f64 = 34.0;
    const CW: f64 = 28.0;
    const CH: f64 = 22.0;
    let max = cells.iter().flatten().copied().max().unwrap_or(0);
    let caption = format!("Customer messages by weekday and hour of day ({zone})");
    let mut svg = Svg::new("heatmap", 760, 290, &caption, &caption);
    for (d, day) in DAYS.iter().enumerate() {
        let y = TOP + d as f64 * CH;
        svg.text((LEFT - 6.0, y + CH / 2.0), "end", 11, "#222222", day);
        for (h, &count) in cells[d].iter().enumerate() {
            let attrs = format!("class=\"cell\" data-count=\"{count}\" stroke=\"#EEEEEE\"");
            let tip = format!("{day} {h:02}:00-{h:02}:59 ({zone}): {count} customer messages");
            svg.rect((LEFT + h as f64 * CW, y, CW, CH), heat_colour(count, max), &attrs, &tip);
        }
    }
    let below = TOP + 7.0 * CH;
    for h in 0..24 {
        svg.text((LEFT + (h as f64 + 0.5) * CW, below + 10.0), "middle", 10, "#555555", &format!("{h:02}"));
    }
    svg.text((LEFT + 12.0 * CW, below + 26.0), "middle", 12, "#333333", &format!("hour of day, {zone}"));
    // The colour scale, in counts: what a shade means.
    let y = below + 44.0;
    svg.raw(&format!("<g class=\"legend\" data-legend=\"heatmap\" data-max=\"{max}\"><title>Colour scale: customer messages in one weekday-hour cell over the whole period; the darkest is the busiest cell ({max})</title>"));
    svg.text((LEFT + 250.0, y + 6.0), "end", 12, "#333333", "customer messages per cell:");
    for (i, step) in heat_legend_steps(max).iter().enumerate() {
        let x = LEFT + 260.0 + i as f64 * 52.0;
        svg.rect(
            (x, y, 44.0, 12.0),
            heat_colour(*step, max),
            "class=\"swatch\" stroke=\"#BBBBBB\"",
            &format!("{step} messages"),
        );
        svg.text((x + 22.0, y + 22.0), "middle", 11, "#333333", &step.to_string());
    }
    svg.raw("</g>");
    svg.finish()
}

/// The time zone as a person reads it: its name and UTC offset over the period (two offsets
/// where daylight saving changed it).
pub(super) fn zone_label(name: &str, rows: &[ConversationRow]) -> String {
    let Ok(tz) = jiff::tz::TimeZone::get(name) else { return name.to_string() };
    let mut offsets: Vec<String> =
        [rows.iter().map(|r| r.created_at_us).min(), rows.iter().map(|r| r.created_at_us).max()]
            .into_iter()
            .flatten()
            .filter_map(|us| jiff::Timestamp::from_microsecond(us).ok())
            .map(|t| tz.to_offset(t).to_string())
            .collect();
    offsets.dedup();
    if name.eq_ignore_ascii_case("UTC") || offsets.is_empty() {
        return name.to_string();
    }
    format!("{name}, UTC{}", offsets.join(" / "))
}

/// A box plot's numbers: quartiles interpolated as the KPI tables do (so its median is the
/// table's), Tukey whiskers at the furthest values within 1.5 IQR of the box, and the values
/// beyond them.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct BoxStats {
    n: usize,
    q1: f64,
    median: f64,
    q3: f64,
    whisker_lo: f64,
    whisker_hi: f64,
    outliers: Vec<f64>,
}

fn box_stats(values: &mut [f64]) -> Option<BoxStats> {
    values.sort_by(f64::total_cmp);
    let (q1, median, q3) = (quantile(values, 0.25)?, quantile(values, 0.5)?, quantile(values, 0.75)?);
    let (lo_fence, hi_fence) = (q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1));
    let inside = values.iter().copied().filter(|v| *v >= lo_fence && *v <= hi_fence);
    let whisker_lo = inside.clone().fold(q1, f64::min);
    let whisker_hi = inside.fold(q3, f64::max);
    let outliers = values.iter().copied().filter(|v| *v < lo_fence || *v > hi_fence).collect();
    Some(BoxStats { n: values.len(), q1, median, q3, whisker_lo, whisker_hi, outliers })
}

/// Resolution time per intent (resolved conversations only) as box plots, slowest median on top.
pub(super) fn intent_boxes(rows: &[ConversationRow]) -> Vec<(String, BoxStats)> {
    let mut by_intent: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in rows {
        if let (Some(i), Some(s)) = (r.reading.intent.as_deref(), r.resolution_s) {
            by_intent.entry(i).or_default().push(s);
        }
    }
    let mut boxes: Vec<(String, BoxStats)> =
        by_intent.into_iter().filter_map(|(k, mut v)| box_stats(&mut v).map(|b| (k.to_string(), b))).collect();
    boxes.sort_by(|a, b| b.1.median.total_cmp(&a.1.median).then(a.0.cmp(&b.0)));
    boxes
}

/// Values under this are drawn at it on the box plots' log axis.
const BOX_FLOOR_S: f64 = 60.0;

pub(super) fn intent_boxplots(boxes: &[(String, BoxStats)]) -> String {
    const LEFT: f64 = 210.0;
    const RIGHT: f64 = 24.0;
    const TOP: f64 = 34.0;
    const ROW: f64 = 28.0;
    let width = 760.0;
    let plot = width - LEFT - RIGHT;
    let bottom = TOP + boxes.len() as f64 * ROW;
    // The axis holds every value, outliers included: nothing is cut at its edge.
    let scale = log_scale(
        boxes.iter().flat_map(|(_, b)| b.outliers.iter().copied().chain([b.whisker_lo, b.whisker_hi])),
        BOX_FLOOR_S,
    );
    let x = |v: f64| LEFT + scale.frac(v) * plot;
    let caption = "Resolution time by intent (resolved conversations, log scale)";
    let mut svg = Svg::new("boxplot", width as u32, (bottom + 44.0).ceil() as u32, caption, caption);
    axis(&mut svg, scale, (LEFT, plot), (TOP - 4.0, bottom), "time from the conversation's start to its resolution");
    let blue = hex(BLUE);
    for (i, (intent, b)) in boxes.iter().enumerate() {
        let cy = TOP + (i as f64 + 0.5) * ROW;
        let tip = format!(
            "{intent}: n = {} resolved; median {}, middle half {} to {}, whiskers {} to {}, {} beyond the whiskers",
            b.n,
            dur(Some(b.median)),
            dur(Some(b.q1)),
            dur(Some(b.q3)),
            dur(Some(b.whisker_lo)),
            dur(Some(b.whisker_hi)),
            b.outliers.len()
        );
        svg.text((LEFT - 8.0, cy), "end", 12, "#222222", &format!("{intent} (n={})", b.n));
        svg.raw(&format!(
            "<g class=\"box\" data-intent=\"{}\" data-n=\"{}\"><title>{}</title>",
            escape(intent),
            b.n,
            escape(&tip)
        ));
        svg.line((x(b.whisker_lo), cy), (x(b.q1), cy), &blue, 1.5, "class=\"whisker\"");
        svg.line((x(b.q3), cy), (x(b.whisker_hi), cy), &blue, 1.5, "class=\"whisker\"");
        for w in [b.whisker_lo, b.whisker_hi] {
            svg.line((x(w), cy - 6.0), (x(w), cy + 6.0), &blue, 1.5, "class=\"whisker\"");
        }
        let (x1, x3) = (x(b.q1), x(b.q3).max(x(b.q1) + 2.0));
        svg.rect((x1, cy - 8.0, x3 - x1, 16.0), BLUE, "", &tip);
        svg.line((x(b.median), cy - 8.0), (x(b.median), cy + 8.0), "#FFFFFF", 2.0, "");
        for o in &b.outliers {
            let _ = write!(
                svg.out,
                "<circle cx=\"{:.1}\" cy=\"{cy:.1}\" r=\"2.5\" fill=\"none\" stroke=\"{blue}\"/>",
                x(*o)
            );
        }
        svg.raw("</g>");
    }
    svg.finish()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::report) fn bars(svg: &str) -> Vec<(String, String, f64)> {
        let re = regex::Regex::new(r#"<rect x="[^"]+" y="[^"]+" width="([^"]+)" height="[^"]+" fill="[^"]+" class="bar" data-category="([^"]+)" data-series="([^"]+)""#).unwrap();
        re.captures_iter(svg).map(|c| (c[2].to_string(), c[3].to_string(), c[1].parse().unwrap())).collect()
    }

    fn cats(names: &[&str]) -> Vec<(String, String)> {
        names.iter().map(|n| (n.to_string(), format!("{n} tip"))).collect()
    }

    #[test]
    fn frt_bars_stay_visible_beside_a_slow_channel() {
        // E-mail's 245 minutes next to a bot's 5 seconds: on a linear axis the bot bar would be
        // 5 / (245 x 60) of the plot, under a pixel.
        let series = [
            Bars {
                name: "any reply",
                key: "any",
                color: ORANGE,
                values: vec![Some(5.0), Some(245.0 * 60.0), Some(0.0)],
            },
            Bars {
                name: "first human reply",
                key: "human",
                color: BLUE,
                values: vec![Some(180.0), Some(245.0 * 60.0), None],
            },
        ];
        let svg = hbars(
            "frt",
            "FRT",
            "median",
            &cats(&["whatsapp", "email", "instagram"]),
            &series,
            Unit::Duration,
            "no reply",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"), "{svg}");
        let drawn = bars(&svg);
        assert_eq!(drawn.len(), 5, "{drawn:?}");
        for (channel, series, width) in &drawn {
            assert!(*width >= 20.0, "{channel} {series}: {width} px");
        }
        let width = |c: &str, s: &str| drawn.iter().find(|b| b.0 == c && b.1 == s).unwrap().2;
        // The gap between bot and person shows: the human bar is clearly longer.
        assert!(width("whatsapp", "human") > width("whatsapp", "any") + 100.0);
        // Value labels at the bars' ends, tooltips, and the missing bar said in words.
        // A bot answering at once (median 0 s) still gets a bar.
        for label in [">5s<", ">3.0m<", ">4.1h<", ">0s<"] {
            assert!(svg.contains(label), "{label} in {svg}");
        }
        assert!(svg.contains("<title>whatsapp, any reply: 5s</title>") && svg.contains("<title>email tip</title>"));
        assert!(svg.contains("first human reply: no reply"));
        // Ticks are durations.
        assert!(svg.contains(">1m<") && svg.contains(">1h<"), "{svg}");
    }

    #[test]
    fn percent_bars_use_a_linear_axis_from_zero() {
        let series =
            [Bars { name: "within SLA", key: "within_sla", color: GREEN, values: vec![Some(80.0), Some(40.0)] }];
        let svg = hbars("service", "SL", "%", &cats(&["a", "b"]), &series, Unit::Percent, "-");
        let drawn = bars(&svg);
        assert!((drawn[0].2 / drawn[1].2 - 2.0).abs() < 0.01, "{drawn:?}");
        assert!(svg.contains(">80%<") && svg.contains(">100%<"));
    }

    #[test]
    fn stacked_shares_draw_a_single_channel() {
        // plotters drew nothing for one category (the Twitter export has no channel column).
        let svg = stacked_shares(
            "fcr",
            "FCR",
            "%",
            &cats(&["(none)"]),
            &[("first", GREEN), ("reopened", RED), ("open", GREY)],
            &[vec![3, 1, 0]],
        );
        assert!(
            svg.contains("data-part=\"first\"")
                && svg.contains("data-part=\"reopened\"")
                && !svg.contains("data-part=\"open\""),
            "{svg}"
        );
        assert!(
            svg.contains("<title>(none): reopened, 1 of 4 resolved (25.0%)</title>") && svg.contains(">75%<"),
            "{svg}"
        );
        let none = stacked_shares("fcr", "FCR", "%", &cats(&["email"]), &[("first", GREEN)], &[vec![0]]);
        assert!(none.contains("none resolved"));
    }

    #[test]
    fn heatmap_has_a_colour_scale_in_counts_and_names_its_zone() {
        let mut cells = [[0u64; 24]; 7];
        cells[0][9] = 50;
        cells[4][14] = 20;
        let svg = heatmap(&cells, "Asia/Jakarta, UTC+07");
        assert!(
            svg.contains("Mon") && svg.contains("(Asia/Jakarta, UTC+07)") && svg.contains("hour of day, Asia/Jakarta")
        );
        assert!(svg.contains("data-legend=\"heatmap\" data-max=\"50\""), "{svg}");
        assert_eq!(heat_legend_steps(50), vec![0, 10, 20, 30, 40, 50]);
        assert_eq!(heat_legend_steps(2), vec![0, 1, 2], "no repeated steps");
        // The legend's darkest swatch is the busiest cell's colour; its label is the count.
        assert_eq!(heat_colour(50, 50), BLUE);
        assert_eq!(heat_colour(0, 50), RGBColor(255, 255, 255));
        assert!(svg.matches("class=\"swatch\"").count() == 6 && svg.contains(">50</text>"));
        assert!(svg.contains("<title>Mon 09:00-09:59 (Asia/Jakarta, UTC+07): 50 customer messages</title>"));
        assert!(svg.contains(&format!("fill=\"{}\" class=\"cell\" data-count=\"20\"", hex(heat_colour(20, 50)))));
    }

    #[test]
    fn the_time_zone_is_named_with_its_offset() {
        let row = |us: i64| ConversationRow { created_at_us: us, ..Default::default() };
        let jan = 1_767_225_600_000_000; // 2026-01-01 UTC
        let jul = jan + 181 * 86_400_000_000;
        assert_eq!(zone_label("Asia/Jakarta", &[row(jan), row(jul)]), "Asia/Jakarta, UTC+07");
        assert_eq!(zone_label("Europe/Berlin", &[row(jan), row(jul)]), "Europe/Berlin, UTC+01 / +02");
        assert_eq!(zone_label("UTC", &[row(jan)]), "UTC");
    }

    #[test]
    fn box_plots_use_the_tables_median_and_keep_whiskers_inside_the_axis() {
        let mut v = vec![600.0, 900.0, 1200.0, 1500.0, 1800.0, 2400.0, 200_000.0];
        let b = box_stats(&mut v).unwrap();
        let mut same = v.clone();
        assert_eq!(Some(b.median), crate::aggregate::distribution(&mut same).median);
        // Tukey whiskers end at data points within 1.5 IQR; 200,000 s is beyond them.
        assert_eq!((b.whisker_lo, b.whisker_hi, b.outliers.clone()), (600.0, 2400.0, vec![200_000.0]));
        // A wide spread whose lower fence is negative (plotters drew that whisker off the axis).
        let rows: Vec<ConversationRow> = [30.0, 60.0, 7200.0, 86_400.0, 90_000.0, 400_000.0, 30.0, 20.0]
            .iter()
            .enumerate()
            .map(|(i, s)| ConversationRow {
                reading: crate::row::ModelReading {
                    intent: Some(if i < 4 { "refund" } else { "billing" }.into()),
                    ..Default::default()
                },
                resolution_s: Some(*s),
                ..Default::default()
            })
            .chain([ConversationRow {
                reading: crate::row::ModelReading { intent: Some("refund".into()), ..Default::default() },
                ..Default::default()
            }])
            .collect();
        let boxes = intent_boxes(&rows);
        assert_eq!(
            boxes.iter().map(|b| (b.0.as_str(), b.1.n)).collect::<Vec<_>>(),
            vec![("billing", 4), ("refund", 4)],
            "slowest first; n = resolved"
        );
        let svg = intent_boxplots(&boxes);
        assert!(svg.contains(">refund (n=4)<") && svg.contains("data-n=\"4\""));
        let re = regex::Regex::new(r#"<line x1="([^"]+)" y1="[^"]+" x2="([^"]+)" y2="[^"]+" stroke="[^"]+" stroke-width="[^"]+" class="whisker""#).unwrap();
        let xs: Vec<f64> =
            re.captures_iter(&svg).flat_map(|c| [c[1].parse::<f64>().unwrap(), c[2].parse().unwrap()]).collect();
        assert_eq!(xs.len(), 16, "{svg}");
        assert!(xs.iter().all(|x| (210.0..=736.0).contains(x)), "{xs:?}");
        // Strictly inside: the axis has room beyond the furthest whisker on both sides.
        assert!(xs.iter().all(|x| *x > 211.0 && *x < 735.0), "{xs:?}");
    }
}
