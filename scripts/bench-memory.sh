#!/usr/bin/env bash
# Bounded memory: `analyze` with the model over a generated input of more than 5 million
# messages (520,000 demo conversations), in one pass and with --partitions N (RUNS runs each,
# medians); prints wall seconds, messages per second and peak RSS (/usr/bin/time %M).
# Usage: scripts/bench-memory.sh [RUNS] [PARTITIONS]
# Note: the demo's texts come from templates, so the encoder runs on few distinct texts; this
# measures the pipeline's memory and cost per message, not the encoder's (BENCHMARKS.md has that).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(bash scripts/target-dir.sh)  # where cargo puts the binaries
runs=${1:-3}
partitions=${2:-100}
bash scripts/fetch-model.sh >/dev/null
cargo build --release --quiet --bin convoqa
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$target_dir"/release/convoqa demo-data --out "$work/d" --conversations 520000 --seed 7
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-22s %10s %12s %14s %12s\n' run rows "median s" "messages/s" "peak RSS MB"
for mode in one-pass partitioned; do
  extra=(); [ "$mode" = partitioned ] && extra=(--partitions "$partitions")
  walls=(); rss=()
  for _ in $(seq "$runs"); do
    rm -rf "$work/out"
    line=$( { /usr/bin/time -f "%e %M" "$target_dir"/release/convoqa analyze --messages "$work/d/messages" \
      --conversations "$work/d/conversations.parquet" --out "$work/out" -q "${extra[@]}"; } 2>&1 | tail -1)
    walls+=("${line%% *}"); rss+=("$(( ${line##* } / 1024 ))")
  done
  rows=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['rows']['messages']['rows_in'])" "$work/out/run_manifest.json")
  med=$(printf '%s\n' "${walls[@]}" | median)
  peak=$(printf '%s\n' "${rss[@]}" | median)
  label=$mode; [ "$mode" = partitioned ] && label="--partitions $partitions"
  printf '%-22s %10s %12s %14.0f %12s\n' "$label" "$rows" "$med" "$(python3 -c "print($rows / max($med, 0.001))")" "$peak"
done
