"""The corpus guideline's agreement check: 50 conversations labelled twice, independently.

  corpus_agreement.py sample   writes agreement/sample.jsonl: 50 conversations (a fixed hash
                               sample over all businesses) with every label removed, for the
                               second annotator
  corpus_agreement.py report   compares agreement/second_labels.jsonl with the corpus labels and
                               writes agreement/REPORT.md (raw agreement and Cohen's kappa)
"""

import collections
import glob
import hashlib
import json
import os
import sys

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "corpus")
agree = os.path.join(root, "agreement")
LABEL_KEYS = ["intent", "solved", "reopens", "expect_low_csat", "csat_score", "status"]


def corpus():
    for path in sorted(glob.glob(os.path.join(root, "conversations", "*.jsonl"))):
        for line in open(path, encoding="utf-8"):
            if line.strip():
                yield json.loads(line)


def sample_ids():
    ranked = sorted(corpus(), key=lambda c: hashlib.sha256(c["conversation_id"].encode()).hexdigest())
    return {c["conversation_id"] for c in ranked[:50]}


def kappa(pairs):
    n = len(pairs)
    if n == 0:
        return float("nan"), float("nan")
    po = sum(a == b for a, b in pairs) / n
    ca, cb = collections.Counter(a for a, _ in pairs), collections.Counter(b for _, b in pairs)
    pe = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    return po, (po - pe) / (1 - pe) if pe < 1 else 1.0


def main():
    os.makedirs(agree, exist_ok=True)
    if sys.argv[1:] == ["sample"]:
        ids = sample_ids()
        with open(os.path.join(agree, "sample.jsonl"), "w", encoding="utf-8") as f:
            for c in corpus():
                if c["conversation_id"] in ids:
                    c = {k: v for k, v in c.items() if k not in LABEL_KEYS}
                    c["messages"] = [{k: v for k, v in m.items() if k != "sentiment"} for m in c["messages"]]
                    f.write(json.dumps(c, ensure_ascii=False) + "\n")
        print(f"{len(ids)} conversations -> {agree}/sample.jsonl")
        return
    first = {c["conversation_id"]: c for c in corpus()}
    second = [json.loads(l) for l in open(os.path.join(agree, "second_labels.jsonl"), encoding="utf-8") if l.strip()]
    rows = {"sentiment (customer messages)": [], "intent": [], "solved": [], "expect_low_csat": []}
    for s in second:
        c = first[s["conversation_id"]]
        cust = [m for m in c["messages"] if m["role"] == "customer"]
        if len(cust) != len(s["sentiments"]):
            sys.exit(f"{s['conversation_id']}: {len(s['sentiments'])} sentiments for {len(cust)} customer messages")
        rows["sentiment (customer messages)"] += [(m["sentiment"], b) for m, b in zip(cust, s["sentiments"])]
        for key in ["intent", "solved", "expect_low_csat"]:
            rows[key].append((c[key], s[key]))
    lines = ["# Agreement of two independent labellings of 50 corpus conversations", "",
             f"The sample: the 50 conversations whose sha256(conversation_id) sorts first (`scripts/corpus_agreement.py sample`),",
             "labelled a second time from the guideline alone, without the first labels (`second_labels.jsonl`).",
             "`scripts/corpus_agreement.py report` writes this file.", "",
             "| label | items | raw agreement | Cohen's kappa |", "|---|---|---|---|"]
    for key, pairs in rows.items():
        po, k = kappa(pairs)
        lines.append(f"| {key} | {len(pairs)} | {po:.3f} | {k:.3f} |")
    sent = rows["sentiment (customer messages)"]
    conf = collections.Counter(sent)
    labels = ["negative", "neutral", "positive"]
    lines += ["", "Sentiment, first labelling (rows) against second (columns):", "", "| | " + " | ".join(labels) + " |", "|---|---|---|---|"]
    for a in labels:
        lines.append(f"| {a} | " + " | ".join(str(conf[(a, b)]) for b in labels) + " |")
    ic = collections.Counter((a, b) for a, b in rows["intent"] if a != b)
    lines += ["", "Intent disagreements (first -> second): " + ", ".join(f"{a} -> {b} ({n})" for (a, b), n in ic.most_common())]
    open(os.path.join(agree, "REPORT.md"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


main()
