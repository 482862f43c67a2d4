#!/usr/bin/env bash
# Prints cargo's target directory for this project (CARGO_TARGET_DIR or a [build] target-dir may
# move it away from ./target). Use: convoqa="$(bash scripts/target-dir.sh)/release/convoqa"
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
