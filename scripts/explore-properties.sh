#!/usr/bin/env bash
# Runs the property tests (tests/integration/properties.rs) beyond CI's fixed seed: ROUNDS random seeds of
# CASES cases each. A failure prints the seed and the minimal input; fix it, then add the input
# to `order_regressions` in tests/integration/properties.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-10}
cases=${CASES:-100}
cargo build --release --tests --quiet
for _ in $(seq "$rounds"); do
  seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
  echo "seed $seed ($cases cases)"
  PROPTEST_RNG_SEED=$seed PROPTEST_CASES=$cases cargo nextest run --release --no-fail-fast -E 'test(/^properties::/)' --status-level fail --final-status-level fail
done
