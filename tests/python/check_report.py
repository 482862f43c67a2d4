"""report.html in headless Chromium: it loads with no console message at all (the page has no
script, so any message is an error or a blocked fetch), its charts are in the rendered DOM, it
references nothing outside itself, and a screenshot shows the charts (their colours are on it).

A control page with a console error and a blocked fetch must be caught, so the check can fail.

The page as a person sees it, measured in a probe copy (the same page without its CSP, plus a
script that reads the laid-out page): every channel with both medians in kpi_by_channel.parquet
has both first-response bars, each at least a few pixels on both sides, and the screenshot shows
each bar in its colour where the probe found it; the heatmap has a colour scale labelled from 0
to its busiest cell and names its time zone; no box-plot whisker leaves its chart, and each
intent's n is the table's resolved (n); the headline shows no FCR 100% / reopen 0% and no CSAT
figure without answers; the timing table calls handle_s the human reply span, with its
definition; the QA table fits the page, agent ids take one line, evidence is folded and
LONG_WAIT says how long; a Definitions section and tooltips are there; emoji render in colour
(a colour emoji font must be installed: Debian's fonts-noto-color-emoji).
A control copy of the report spoilt in each of those ways (squashed bot bars, whitened human
bars, no legend, a whisker off the chart, ...) must fail each check, and so must the
measurements less one human bar.

usage: check_report.py REPORT_HTML SCREENSHOT_PNG
"""

import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

report = Path(sys.argv[1]).resolve()
screenshot = Path(sys.argv[2]).resolve()
chromium = shutil.which("chromium") or shutil.which("chromium-browser")
if not chromium:
    sys.exit("chromium not found: scripts/test.sh installs Debian's chromium package")

failures = []


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else f": {detail}"))
    if not ok:
        failures.append(name)


def chrome(page: Path, *args):
    """Runs headless Chromium on a file; returns (stdout, console messages)."""
    with tempfile.TemporaryDirectory() as profile:
        cmd = [
            chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            "--hide-scrollbars", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
            *args, page.as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


# The detector itself: a broken page must show console messages.
with tempfile.TemporaryDirectory() as tmp:
    bad = Path(tmp) / "bad.html"
    bad.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
        "script-src 'unsafe-inline'\"></head><body><img src=\"https://example.com/x.png\">"
        "<script>console.error('control error'); notDefined();</script></body></html>"
    )
    _, bad_console = chrome(bad, "--dump-dom")
    check("control page: console errors are detected", len(bad_console) >= 2, bad_console)

dom, console = chrome(report, "--dump-dom")
check("report loads with no console message", not console, "\n".join(console))
svgs = len(re.findall(r"<svg\b", dom))
check("report renders its charts (>= 6 inline SVG)", svgs >= 6, f"{svgs} svg elements")
external = re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:|//)""", report.read_text())
check("report references nothing outside itself", not external, external[:5])
for section in ["Speed", "When customers write", "Intent and resolution time", "Satisfaction and first contact resolution", "Top QA flags", "Voice of the customer"]:
    check(f"section '{section}' is there", f">{section}</h2>" in dom)

_, console = chrome(report, "--window-size=1200,4200", f"--screenshot={screenshot}")
check("screenshot with no console message", not console, "\n".join(console))
image = Image.open(screenshot).convert("RGB")
check("screenshot size", image.size == (1200, 4200), str(image.size))
pixels = image.get_flattened_data()
colours = {
    "blue (FRT human, predicted CSAT, heatmap, box plots)": (49, 110, 180),
    "orange (FRT any reply, surveyed CSAT)": (230, 140, 40),
    "green (service level, FCR)": (70, 150, 90),
}
counts = {name: 0 for name in colours}
distinct = set()
for p in pixels:
    distinct.add(p)
    for name, rgb in colours.items():
        if p == rgb:
            counts[name] += 1
for name, n in counts.items():
    # A bar of 10 x 10 pixels at least.
    check(f"screenshot shows the {name} chart colour", n >= 100, f"{n} pixels")
check("screenshot is not blank", len(distinct) > 50, f"{len(distinct)} distinct colours")

# --- The charts as laid out and drawn: a probe measures them, the screenshot shows them. ---
ANY, HUMAN = (230, 140, 40), (49, 110, 180)
MIN_PX = 3

PROBE = """<script>
(() => {
  const box = e => { const r = e.getBoundingClientRect(); return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height}; };
  const all = (root, sel) => root ? [...root.querySelectorAll(sel)] : [];
  const frt = document.querySelector('svg[data-chart=frt]');
  const heat = document.querySelector('svg[data-chart=heatmap]');
  const legend = heat && heat.querySelector('[data-legend=heatmap]');
  const boxplot = document.querySelector('svg[data-chart=boxplot]');
  const out = {
    frt: frt && box(frt),
    categories: all(frt, 'g.category').map(g => g.dataset.category),
    bars: all(frt, 'rect.bar').map(r => Object.assign(box(r), {channel: r.dataset.category, series: r.dataset.series})),
    missing: all(frt, 'g.missing').map(g => [g.dataset.category, g.dataset.series]),
    heatmap: heat && box(heat),
    heat_caption: heat ? heat.querySelector(':scope > text').textContent : '',
    cells: all(heat, 'rect.cell').map(r => +r.dataset.count),
    legend: legend && box(legend),
    swatches: all(legend, 'rect.swatch').map(box),
    legend_labels: all(legend, 'text').map(t => t.textContent),
    boxplot: boxplot && box(boxplot),
    whiskers: all(boxplot, '.whisker').map(box),
    // Per QA row: how many lines the agent id takes, the evidence cell's height and what it shows folded.
    qa: [...document.querySelectorAll('table.qa tr')].slice(1).map(tr => {
      const lines = td => { const r = document.createRange(); r.selectNodeContents(td); return [...r.getClientRects()].filter(x => x.width > 0).length; };
      const ev = tr.querySelector('td.ev');
      const summary = ev && ev.querySelector('summary');
      return {agent_lines: lines(tr.children[2]), agent: tr.children[2].textContent, ev_height: ev ? ev.getBoundingClientRect().height : 0,
              ev_shown: summary ? summary.textContent : (ev ? ev.textContent : ''), ev_full: ev ? ev.textContent : ''};
    }),
    kpis: all(document, '.kpi').map(k => ({label: k.querySelector('.l').textContent, value: k.querySelector('.v').textContent, note: k.querySelector('.n').textContent})),
    boxes: all(boxplot, 'g.box').map(g => [g.dataset.intent, +g.dataset.n]),
    intent_rows: (() => {
      const t = [...document.querySelectorAll('table')].find(t => /resolved \(n\)/.test(t.rows[0].textContent));
      if (!t) return null;
      const heads = [...t.rows[0].cells].map(c => c.textContent);
      const at = heads.indexOf('resolved (n)');
      return [...t.rows].slice(1).map(r => [r.cells[0].textContent, +r.cells[at].textContent]);
    })(),
    timings: all(document, 'table.timings tr').slice(1).map(r => [r.cells[0].textContent, r.cells[r.cells.length - 1].textContent]),
    qa_table: document.querySelector('table.qa') && box(document.querySelector('table.qa')),
    body: box(document.body),
    glossary: all(document, 'dl.glossary dt').length,
    tooltips: all(document, 'abbr[title]').length + all(document, 'svg title').length,
  };
  document.documentElement.setAttribute('data-probe', JSON.stringify(out));
})();
</script>"""


def probe(page_html: str):
    """Lays the page out in Chromium at the screenshot's window size; returns what PROBE measured."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "probe.html"
        # The probe needs a script, which the report's CSP forbids: the copy drops the CSP only.
        body = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", page_html)
        copy.write_text(body.replace("</body>", PROBE + "</body>"))
        dumped, _ = chrome(copy, "--window-size=1200,4200", "--dump-dom")
    found = re.search(r'data-probe="([^"]*)"', dumped)
    return json.loads(html.unescape(found.group(1))) if found else None


def channels_with_both_medians(report_dir: Path):
    """Channels whose any-reply and human medians are both known, from kpi_by_channel.parquet
    (not from the page): each of them must have both bars. None when the table is not there."""
    table = report_dir / "kpi_by_channel.parquet"
    if not table.exists():
        return None
    import pyarrow.parquet as pq

    rows = pq.read_table(table, columns=["channel", "frt_total_median_s", "frt_human_median_s"]).to_pylist()
    return [r["channel"] if r["channel"] is not None else "(none)" for r in rows
            if r["frt_total_median_s"] is not None and r["frt_human_median_s"] is not None]


def frt_dom_problems(m, expected_channels):
    """Both FRT bars per channel, each visible; a bar may only be absent where the page says so."""
    if not m or not m["frt"]:
        return ["no FRT chart (svg[data-chart=frt]) on the page"]
    problems = []
    channels = expected_channels if expected_channels is not None else m["categories"]
    missing = {tuple(x) for x in m["missing"]}
    for channel in channels:
        for series in ("any", "human"):
            bars = [b for b in m["bars"] if b["channel"] == channel and b["series"] == series]
            if not bars:
                if expected_channels is not None or (channel, series) not in missing:
                    problems.append(f"{channel}: no {series} bar")
                continue
            b = bars[0]
            if b["w"] < MIN_PX or b["h"] < MIN_PX:
                problems.append(f"{channel}: {series} bar is {b['w']:.1f} x {b['h']:.1f} px")
    if not channels:
        problems.append("the FRT chart has no channel")
    return problems


def near(p, rgb, tol=3):
    return all(abs(a - b) <= tol for a, b in zip(p, rgb))


def frt_pixel_problems(m, image):
    """Each bar's own colour fills its box in the screenshot, and both colours are in the chart."""
    if not m or not m["frt"]:
        return ["no FRT chart"]
    problems = []
    colour = {"any": ANY, "human": HUMAN}
    for b in m["bars"]:
        # The inside of the box, one pixel in from anti-aliased edges.
        x0, y0 = int(b["x"]) + 1, int(b["y"]) + 1
        x1, y1 = int(b["x"] + b["w"]) - 1, int(b["y"] + b["h"]) - 1
        if x1 - x0 < 1 or y1 - y0 < 1 or y1 > image.size[1] or x1 > image.size[0]:
            problems.append(f"{b['channel']} {b['series']}: no pixels to look at ({b['w']:.1f} x {b['h']:.1f} px at y {b['y']:.0f})")
            continue
        region = image.crop((x0, y0, x1, y1))
        pixels = list(region.get_flattened_data() if hasattr(region, "get_flattened_data") else region.getdata())
        share = sum(near(p, colour[b["series"]]) for p in pixels) / len(pixels)
        if share < 0.8:
            problems.append(f"{b['channel']} {b['series']}: {share:.0%} of its box shows its colour")
    f = m["frt"]
    chart = image.crop((int(f["x"]), int(f["y"]), int(f["x"] + f["w"]), int(f["y"] + f["h"])))
    pixels = list(chart.get_flattened_data() if hasattr(chart, "get_flattened_data") else chart.getdata())
    for name, rgb in (("any reply (orange)", ANY), ("human (blue)", HUMAN)):
        n = sum(near(p, rgb) for p in pixels)
        if n < 30:
            problems.append(f"the FRT chart region shows {n} {name} pixels")
    return problems


def heatmap_problems(m):
    """A colour scale under the heatmap, visible, labelled in counts from 0 to the busiest cell;
    the caption names the time zone the hours are in."""
    if not m or not m["heatmap"]:
        return ["no heatmap (svg[data-chart=heatmap])"]
    problems = []
    if not m["legend"]:
        return ["the heatmap has no colour scale legend ([data-legend=heatmap])"]
    visible = [s for s in m["swatches"] if s["w"] >= MIN_PX and s["h"] >= MIN_PX]
    if len(visible) < 3:
        problems.append(f"{len(visible)} visible legend swatches")
    numbers = [int(t) for t in m["legend_labels"] if t.strip().isdigit()]
    busiest = max(m["cells"], default=0)
    if len(m["cells"]) != 168:
        problems.append(f"{len(m['cells'])} heatmap cells, not 7 x 24")
    if not numbers or min(numbers) != 0 or max(numbers) != busiest:
        problems.append(f"legend counts {numbers} do not run from 0 to the busiest cell's {busiest}")
    if not re.search(r"\(\S[^)]*\)$", m["heat_caption"]) or "hour" not in m["heat_caption"]:
        problems.append(f"the heatmap caption names no time zone: {m['heat_caption']!r}")
    return problems


def whisker_problems(m):
    if not m or not m["boxplot"]:
        return []  # a run with the model off has no intents
    c = m["boxplot"]
    out = [w for w in m["whiskers"] if w["x"] < c["x"] or w["x"] + w["w"] > c["x"] + c["w"] or w["y"] < c["y"] or w["y"] + w["h"] > c["y"] + c["h"]]
    return [f"{len(out)} whisker(s) reach past the box plot's edge"] if out else []


def qa_problems(m):
    if not m or not m["qa"] or not m["qa_table"]:
        return ["no QA rows (table.qa)"]
    problems = []
    t, body = m["qa_table"], m["body"]
    if t["x"] + t["w"] > body["x"] + body["w"] + 1:
        problems.append(f"the QA table overflows the page: {t['w']:.0f} px wide in a {body['w']:.0f} px page")
    for i, row in enumerate(m["qa"], 1):
        if row["agent_lines"] > 1:
            problems.append(f"row {i}: agent {row['agent']!r} wraps onto {row['agent_lines']} lines")
        if len(row["ev_shown"]) > 100:
            problems.append(f"row {i}: {len(row['ev_shown'])} characters of evidence shown unfolded")
        if row["ev_height"] > 120:
            problems.append(f"row {i}: evidence cell {row['ev_height']:.0f} px high")
        if "LONG_WAIT" in row["ev_full"] and "LONG_WAIT (waited " not in row["ev_full"]:
            problems.append(f"row {i}: LONG_WAIT quoted without its wait")
    return problems


def emoji_problems(page_html: str):
    """Renders emoji at 40 px under the report's own style sheet: a colour emoji font gives
    coloured pixels; none (or a text font's black-and-white glyphs) does not. (Debian's package
    of a colour emoji font: fonts-noto-color-emoji.)"""
    style = re.search(r"<style>(.*?)</style>", page_html, flags=re.S)
    if not style or "Emoji" not in style.group(1):
        return ["no emoji font in the page's style sheet"]
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "emoji.html"
        page.write_text(f"<!DOCTYPE html><meta charset=utf-8><style>{style.group(1)}</style><body style='margin:0;max-width:none;background:#fff'>"
                        "<p style='font-size:40px;margin:10px'>&#x1F621; &#x2B50; &#x1F64F;</p>")
        shot = Path(tmp) / "emoji.png"
        chrome(page, "--window-size=400,200", f"--screenshot={shot}")
        pixels = Image.open(shot).convert("RGB").get_flattened_data()
    # All three in colour: about 3 x 900 coloured pixels; a black-and-white angry face loses ~900.
    coloured = sum(1 for p in pixels if max(p) - min(p) > 80)
    return [] if coloured >= 2000 else [f"{coloured} coloured pixels: emoji render as boxes or in black and white (a colour emoji font: Debian's fonts-noto-color-emoji)"]


def intent_n_problems(m):
    """The box plot's n per intent is the table's resolved (n)."""
    if not m or not m["boxes"]:
        return []  # no intents: the model was off
    if m["intent_rows"] is None:
        return ["no intent table with a 'resolved (n)' column"]
    table = dict(m["intent_rows"])
    return [f"{intent}: box plot n={n}, table {table.get(intent)}" for intent, n in m["boxes"] if table.get(intent) != n]


def headline_problems(m):
    """No perfect score made of missing data: FCR 100% with reopen 0% means no customer came back
    ('no returns observed'); a CSAT figure needs survey answers ('no survey data')."""
    tiles = {k["label"]: k for k in m["kpis"]} if m else {}
    problems = []
    if "FCR" not in tiles or "reopen rate" not in tiles or "CSAT" not in tiles:
        return [f"headline tiles missing: {sorted(tiles)}"]
    if tiles["reopen rate"]["value"].strip() in ("0.0%", "0%") or tiles["FCR"]["value"].strip() in ("100.0%", "100%"):
        problems.append(f"FCR {tiles['FCR']['value']} / reopen {tiles['reopen rate']['value']}: shown as a perfect score")
    if tiles["CSAT"]["note"].startswith("0 answers") and tiles["CSAT"]["value"] != "no survey data":
        problems.append(f"CSAT shows {tiles['CSAT']['value']!r} with 0 answers")
    return problems


def timing_problems(m):
    """handle_s is shown as the human reply span with its definition, never as 'handle time'."""
    rows = dict(m["timings"]) if m else {}
    if any("handle time" == label.strip().lower() for label in rows):
        return ["a timing row is called 'handle time'"]
    span = rows.get("human reply span")
    if span is None:
        return [f"no 'human reply span' row in the timing table: {sorted(rows)}"]
    if "Not average handle time" not in span or "had only one" not in span:
        return [f"the human reply span's definition or single-reply count is missing: {span!r}"]
    return []


def sabotaged(page_html: str) -> str:
    """The control: bot bars squashed to a hairline, human bars whitened, the heatmap legend
    dropped, a whisker pushed off the chart, and the QA table and definitions spoilt."""
    page = re.sub(r'width="[0-9.]+"( height="[0-9.]+" fill="#[0-9A-F]{6}" class="bar" data-category="[^"]*" data-series="any")', r'width="0.4"\1', page_html)
    page = re.sub(r'(<rect [^>]*fill=")#[0-9A-F]{6}(" class="bar" data-category="[^"]*" data-series="human")', r"\1#FFFFFF\2", page)
    page = re.sub(r'<g class="legend" data-legend="heatmap".*?</g>', "", page, flags=re.S)
    # QA: a long agent id allowed to wrap, evidence unfolded, LONG_WAIT without its wait.
    page = re.sub(r"(<table class=qa>.*?</tr><tr><td>1</td><td class=nw>[^<]*</td>)<td class=nw>[^<]*</td>",
                  r"\1<td>agent-with-a-very-long-identifier-0042-north-team-second-shift</td>", page, count=1, flags=re.S)
    page = re.sub(r"<details><summary>.*?</summary>(.*?)</details>", r"\1", page, flags=re.S)
    page = page.replace("<table class=qa>", "<table class=qa style='min-width:1400px'>")
    page = re.sub(r"LONG_WAIT \(waited [^)]*\)", "LONG_WAIT", page)
    qa_table = re.search(r"<table class=qa[^>]*>.*?</table>", page, flags=re.S)
    if qa_table and "LONG_WAIT" not in qa_table.group(0):
        # The models put no LONG_WAIT among the listed rows: quote one, without its wait, so the
        # control still runs.
        page = page.replace("<td class=ev>", "<td class=ev>LONG_WAIT; ", 1)
    # The box plot's n and the table's disagree; perfect FCR and a CSAT without answers; handle time.
    page = re.sub(r'(<g class="box" data-intent="[^"]*" data-n=")(\d+)', lambda g: g.group(1) + str(int(g.group(2)) + 7), page, count=1)
    page = re.sub(r"<div class=v[^>]*>[^<]*</div><div class=l>FCR</div>", "<div class=v>100.0%</div><div class=l>FCR</div>", page)
    page = re.sub(r"<div class=v[^>]*>[^<]*</div><div class=l>reopen rate</div>", "<div class=v>0.0%</div><div class=l>reopen rate</div>", page)
    page = re.sub(r"<div class=v[^>]*>[^<]*</div><div class=l>CSAT</div><div class=n>[^<]*</div>", "<div class=v>-</div><div class=l>CSAT</div><div class=n>0 answers</div>", page)
    page = page.replace("<td class=nw>human reply span</td>", "<td class=nw>handle time</td>")
    # No definitions: no glossary, no tooltips.
    page = re.sub(r"<dl class=glossary>.*?</dl>", "", page, flags=re.S)
    page = re.sub(r'<abbr title="[^"]*">', "<abbr>", page)
    page = re.sub(r"<title>[^<]*</title>", "", page)
    page = re.sub(r'(<line x1=")[0-9.]+(" y1="[0-9.]+" x2="[0-9.]+" y2="[0-9.]+" stroke="[^"]+" stroke-width="[^"]+" class="whisker")', r"\g<1>-40\2", page, count=1)
    return page


page_html = report.read_text()
expected = channels_with_both_medians(report.parent)
check("kpi_by_channel.parquet beside the report gives the channels", expected is not None and len(expected) > 0, str(expected))
m = probe(page_html)
check("the probe measured the laid-out page", m is not None)
problems = frt_dom_problems(m, expected)
check("FRT chart: both bars for every channel, each at least 3 px", not problems, problems)
problems = frt_pixel_problems(m, image)
check("screenshot: every FRT bar shows its colour where it is laid out", not problems, problems)
problems = heatmap_problems(m)
check("heatmap: a colour scale from 0 to the busiest cell, the time zone named", not problems, problems)
problems = whisker_problems(m)
check("box plot: no whisker past the chart's edge", not problems, problems)
problems = intent_n_problems(m)
check("box plot: each intent's n is the table's resolved (n)", not problems, problems)
problems = headline_problems(m)
check("headline: no perfect FCR / reopen or CSAT made of missing data", not problems, problems)
problems = timing_problems(m)
check("timing table: handle_s as the human reply span, its definition and single-reply count", not problems, problems)
problems = qa_problems(m)
check("QA table: within the page, agent ids on one line, evidence folded to a short line, LONG_WAIT with its wait", not problems, problems)
check("a Definitions section and tooltips (abbr titles, SVG titles)", bool(m) and m["glossary"] >= 20 and m["tooltips"] >= 50,
      m and (m["glossary"], m["tooltips"]))
problems = emoji_problems(page_html)
check("emoji in customer text render in colour, not as boxes", not problems, problems)

# The control must fail every one of those checks.
with tempfile.TemporaryDirectory() as tmp:
    bad_page = sabotaged(page_html)
    bad = Path(tmp) / "bad_report.html"
    bad.write_text(bad_page)
    bad_m = probe(bad_page)
    bad_shot = Path(tmp) / "bad.png"
    chrome(bad, "--window-size=1200,4200", f"--screenshot={bad_shot}")
    bad_image = Image.open(bad_shot).convert("RGB")
    dom_bad = frt_dom_problems(bad_m, expected)
    check("control: squashed bot bars are caught", any("any bar is" in p for p in dom_bad), dom_bad)
    # A bar that is not drawn at all: the good page's measurements less one human bar.
    gone = dict(m, bars=[b for b in m["bars"] if b["series"] != "human" or b["channel"] != m["bars"][0]["channel"]]) if m and m["bars"] else m
    check("control: a missing human bar is caught", any("no human bar" in p for p in frt_dom_problems(gone, expected)), frt_dom_problems(gone, expected))
    pixel_bad = frt_pixel_problems(bad_m, bad_image)
    check("control: whitened human bars are caught in the screenshot", any("human:" in p for p in pixel_bad), pixel_bad)
    check("control: a heatmap without a legend is caught", bool(heatmap_problems(bad_m)), heatmap_problems(bad_m))
    if m and m["boxplot"]:
        check("control: a whisker off the chart is caught", bool(whisker_problems(bad_m)), whisker_problems(bad_m))
    if m and m["boxes"]:
        check("control: a box plot n unlike the table's is caught", bool(intent_n_problems(bad_m)), intent_n_problems(bad_m))
    check("control: FCR 100% / reopen 0% and a CSAT without answers are caught", len(headline_problems(bad_m)) == 2, headline_problems(bad_m))
    check("control: a 'handle time' row is caught", bool(timing_problems(bad_m)), timing_problems(bad_m))
    qa_bad = qa_problems(bad_m)
    for what, needle in (("a wrapping agent id", "wraps onto"), ("unfolded evidence", "shown unfolded"), ("LONG_WAIT without its wait", "without its wait"),
                         ("a QA table wider than the page", "overflows the page")):
        check(f"control: {what} is caught", any(needle in p for p in qa_bad), qa_bad)
    check("control: a page without definitions or tooltips is caught", bool(bad_m) and bad_m["glossary"] < 20 and bad_m["tooltips"] < 50,
          bad_m and (bad_m["glossary"], bad_m["tooltips"]))
    # The stack this page had before: DejaVu Sans's black-and-white emoji win over the colour font.
    no_emoji_font = re.sub(r"<style>.*?</style>", '<style>body{font-family:system-ui,"DejaVu Sans","Noto Color Emoji",sans-serif}</style>', page_html, count=1, flags=re.S)
    check("control: a font stack without an emoji font is caught", bool(emoji_problems(no_emoji_font)))

print(f"check_report: {'FAILED ' + str(len(failures)) if failures else 'all passed'}; screenshot {screenshot}")
sys.exit(1 if failures else 0)
