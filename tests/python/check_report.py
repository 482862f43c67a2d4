"""report.html in headless Chromium: it loads with no console message at all (the page has no
script, so any message is an error or a blocked fetch), its charts are in the rendered DOM, it
references nothing outside itself, and a screenshot shows the charts (their colours are on it).

A control page with a console error and a blocked fetch must be caught, so the check can fail.

usage: check_report.py REPORT_HTML SCREENSHOT_PNG
"""

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

print(f"check_report: {'FAILED ' + str(len(failures)) if failures else 'all passed'}; screenshot {screenshot}")
sys.exit(1 if failures else 0)
