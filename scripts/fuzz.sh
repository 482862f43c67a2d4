#!/usr/bin/env bash
# Fuzzes the input reader and the conversation assembler for a fixed time per target
# (FUZZ_SECONDS, default 300) with cargo-fuzz (libFuzzer; needs a nightly toolchain, which rustup
# provides). Findings land in fuzz/artifacts/<target>/; each one becomes a test:
#   - parquet_messages: copy the file into tests/fixtures/fuzz/ (tests/integration/fuzz_regressions.rs runs
#     `convoqa analyze` on every file there and requires exit 0 or 2, never a crash);
#   - message_rows: `cargo +nightly fuzz fmt message_rows ARTIFACT` prints the rows; write them as
#     a test in tests/integration/bad_input.rs.
# Built with -O (release, as `cargo +nightly fuzz build -O`). Exit code 1 when a target found a crash.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(bash scripts/target-dir.sh)  # where cargo puts the binaries
seconds=${FUZZ_SECONDS:-300}
if ! cargo +nightly --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
status=0
for target in parquet_messages message_rows; do
  mkdir -p "fuzz/corpus/$target"
  if [ "$target" = parquet_messages ]; then
    # Seed with real-shaped files: a small demo set's message partitions.
    cargo build --release --quiet
    seeds=$(mktemp -d)
    "$target_dir"/release/convoqa demo-data --out "$seeds" --conversations 12 --seed 1 >/dev/null
    n=0
    for f in $(find "$seeds/messages" -name '*.parquet'); do n=$((n + 1)); cp "$f" "fuzz/corpus/$target/seed-$n.parquet"; done
    rm -rf "$seeds"
  fi
  echo "fuzzing $target for ${seconds}s"
  if ! cargo +nightly fuzz run -O "$target" "fuzz/corpus/$target" -- -max_total_time="$seconds" -rss_limit_mb=4096; then
    echo "fuzz: $target found a crash, see fuzz/artifacts/$target/"
    status=1
  fi
done
exit $status
