#!/usr/bin/env bash
# The cost curve: `analyze` with the model on demo data at 1x, 10x and 100x the committed
# sample's size (300 / 3,000 / 30,000 conversations), RUNS runs each; prints rows, median wall
# seconds, messages per second and peak RSS. Usage: scripts/bench-scale.sh [RUNS]
# Note: the demo's texts come from templates (a few hundred distinct texts), and convoqa embeds each
# distinct text once, so this curve is the pipeline's cost; the encoder's own cost per distinct
# text is measured by `convoqa bench` and scripts/bench-analyze.sh (real, distinct texts).
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(bash scripts/target-dir.sh)  # where cargo puts the binaries
runs=${1:-3}
bash scripts/fetch-model.sh >/dev/null
cargo build --release --quiet --bin convoqa
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-6s %12s %10s %12s %14s %12s\n' scale conversations rows "median s" "messages/s" "peak RSS MB"
for scale in 1 10 100; do
  n=$((300 * scale))
  "$target_dir"/release/convoqa demo-data --out "$work/d$scale" --conversations "$n" --seed 7 >/dev/null
  walls=(); rss=()
  for _ in $(seq "$runs"); do
    rm -rf "$work/out"
    line=$( { /usr/bin/time -f "%e %M" "$target_dir"/release/convoqa analyze --messages "$work/d$scale/messages" \
      --conversations "$work/d$scale/conversations.parquet" --out "$work/out" -q; } 2>&1 | tail -1)
    walls+=("${line%% *}"); rss+=("$(( ${line##* } / 1024 ))")
  done
  rows=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['rows']['messages']['rows_in'])" "$work/out/run_manifest.json")
  med=$(printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  peak=$(printf '%s\n' "${rss[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  printf '%-6s %12s %10s %12s %14.0f %12s\n' "${scale}x" "$n" "$rows" "$med" "$(python3 -c "print($rows / max($med, 0.001))")" "$peak"
done
