#!/usr/bin/env bash
# The sentiment head on real customer-service messages instead of the reviews and social posts it
# was trained on: the first customer tweet of 120 dialogs of IBM's Twitter customer-care set
# (English; ../shared/data), labelled by us (data/eval/twitter_care_sentiment.tsv, which holds
# only indices and labels). Prints `convoqa eval`'s accuracy, macro-F1 and confusion matrix.
# Skips with a message where ../shared/data is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
target_dir=$(bash scripts/target-dir.sh)  # where cargo puts the binaries
src=../shared/data/conversations/twitter-customer-care/dev.json
if [ ! -f "$src" ]; then
  echo "skipped: $src not found (the shared data sits beside the project on the team's machines)"
  exit 0
fi
bash scripts/fetch-model.sh >/dev/null
cargo build --release --quiet --bin convoqa
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 - "$src" data/eval/twitter_care_sentiment.tsv "$tmp/chat.tsv" <<'PY'
import json, re, sys
dialogs = json.load(open(sys.argv[1], encoding="utf-8"))
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[2], encoding="utf-8") if not l.startswith("#")][1:]
with open(sys.argv[3], "w", encoding="utf-8") as out:
    for index, label in rows:
        text = re.sub(r"\s+", " ", dialogs[int(index)]["dialogContent"][0]["message"]).strip()
        out.write(f"{text}\t{label}\n")
print(f"{len(rows)} labelled customer messages", file=sys.stderr)
PY
"$target_dir"/release/convoqa eval --head models/heads/sentiment --data "$tmp/chat.tsv"
