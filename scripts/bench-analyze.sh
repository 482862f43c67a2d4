#!/usr/bin/env bash
# The whole analyze run with the model, on real-looking text: the 4,000 lines of the bench corpus
# become the customer messages of 1,000 WhatsApp conversations (4 customer turns each, every one
# answered by an agent: 8,000 rows). Prints wall seconds and peak RSS of RUNS runs, the median,
# and the run manifest's stage timings. Usage: scripts/bench-analyze.sh [CORPUS] [RUNS] [CONFIG]
# (CONFIG: a config file analyze runs with, e.g. one naming a team intent head; default: none.)
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(bash scripts/target-dir.sh)  # where cargo puts the binaries
corpus=${1:-../shared/bench/corpus.txt}
runs=${2:-3}
config_args=()
[ -n "${3:-}" ] && config_args=(--config "$3")
bash scripts/fetch-model.sh >/dev/null
cargo build --release --quiet --bin convoqa
venv=.venv
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-test.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$venv/bin/python" - "$corpus" "$work/messages.parquet" <<'PY'
import datetime as dt, sys
import pyarrow as pa, pyarrow.parquet as pq
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
cols = {k: [] for k in ["conversation_id", "sent_at", "sender_role", "text", "customer_id", "channel", "agent_id", "message_id"]}
t0 = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
for i, line in enumerate(lines):
    c = i // 4
    t = t0 + dt.timedelta(minutes=10 * c + 2 * (i % 4))
    for role, text, after_s in [("customer", line, 0), ("agent", "Baik kak, kami cek dulu ya", 50)]:
        cols["conversation_id"].append(f"c{c:05d}"); cols["sent_at"].append(t + dt.timedelta(seconds=after_s))
        cols["sender_role"].append(role); cols["text"].append(text); cols["customer_id"].append(f"u{c % 700:04d}")
        cols["channel"].append("whatsapp"); cols["agent_id"].append("agt-a" if role == "agent" else None)
        cols["message_id"].append(f"m{len(cols['message_id'])}")
pq.write_table(pa.table(cols), sys.argv[2])
PY
times=()
for _ in $(seq "$runs"); do
  rm -rf "$work/out"
  line=$( { /usr/bin/time -f "%e %M" "$target_dir"/release/convoqa analyze --messages "$work/messages.parquet" --out "$work/out" "${config_args[@]}" -q; } 2>&1 | tail -1)
  echo "run: ${line%% *} s wall, peak RSS $(( ${line##* } / 1024 )) MB"
  times+=("${line%% *}")
done
printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print "median: " a[int((NR+1)/2)] " s"}'
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print('stages:', m['stage_seconds']); print('model:', m['model'])" "$work/out/run_manifest.json"
