"""VOC theme purity against the corpus's theme labels (data/corpus/labels/themes).

Usage:
  convoqa corpus-export --split dev --out d
  convoqa analyze --messages d/messages.parquet --conversations d/conversations.parquet --out o
  python3 scripts/eval_voc.py o/voc_backlog.parquet data/corpus/labels/themes [--split S]

With --split, only the labels of that split's businesses (data/corpus/businesses.toml) count:
run analyze on the whole corpus (`corpus-export --split all`), pick settings by `--split dev`
and score `--split test` once.

Purity: each theme's most common label (a conversation labelled null counts as "no problem"),
summed over themes, over the conversations in themes. Also: themes, their sizes, how many
labelled conversations with a problem ended in the long tail, and the top themes' titles.
"""
import collections
import glob
import json
import os
import sys

import tomllib

import pyarrow.parquet as pq


def main() -> None:
    voc_path, labels_dir = sys.argv[1], sys.argv[2]
    only = None
    if sys.argv[3:4] == ["--split"]:
        toml_path = os.path.join(labels_dir, "..", "..", "businesses.toml")
        with open(toml_path, "rb") as f:
            only = {b["id"] for b in tomllib.load(f)["business"] if b["split"] == sys.argv[4]}
    labels = {}
    for path in glob.glob(os.path.join(labels_dir, "*.jsonl")):
        if only is not None and os.path.basename(path)[: -len(".jsonl")] not in only:
            continue
        for line in open(path, encoding="utf-8"):
            if line.strip():
                row = json.loads(line)
                labels[row["conversation_id"]] = row["theme"] or "(no problem)"
    voc = pq.read_table(voc_path).to_pylist()
    themed, agree, sizes = 0, 0, []
    seen = set()
    for item in voc:
        ids = [i for i in item["conversation_ids"].split(",") if i]
        got = [labels[i] for i in ids if i in labels]
        if not got:
            continue
        top = collections.Counter(got).most_common(1)[0][1]
        themed += len(got)
        agree += top
        sizes.append(len(got))
        seen.update(ids)
    problems = [i for i, t in labels.items() if t != "(no problem)"]
    print(json.dumps({
        "themes": len(sizes),
        "smallest_theme": min(sizes) if sizes else None,
        "conversations_in_themes": themed,
        "purity": round(agree / themed, 3) if themed else None,
        "labelled_problems_in_themes": sum(1 for i in problems if i in seen),
        "labelled_problems": len(problems),
        "top_titles": [(v["rank"], v["intent"], v["conversations"], v["title"]) for v in voc[:10]],
    }, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
