"""The corpus guideline's agreement check: 50 conversations labelled twice, independently.

  corpus_agreement.py sample         writes agreement/sample.jsonl: 50 conversations (a fixed hash
                                     sample over the first 16 businesses) with every label removed,
                                     for the second annotator
  corpus_agreement.py sample testN   the same for the N-th test split (N >= 2; written later by
                                     other writers): 40 conversations, 10 per business ->
                                     agreement/sample_testN.jsonl. A retired split is named in
                                     RETIRED; the current one is what businesses.toml marks test
  corpus_agreement.py report         compares agreement/second_labels.jsonl (and
                                     every second_labels_testN.jsonl) with the corpus labels and writes
                                     agreement/REPORT.md (raw agreement and Cohen's kappa)
"""

import collections
import glob
import hashlib
import json
import os
import sys
import tomllib

root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "corpus")
agree = os.path.join(root, "agreement")
LABEL_KEYS = ["intent", "solved", "reopens", "expect_low_csat", "csat_score", "status"]


def corpus():
    for path in sorted(glob.glob(os.path.join(root, "conversations", "*.jsonl"))):
        for line in open(path, encoding="utf-8"):
            if line.strip():
                yield json.loads(line)


FIRST_GENERATION = {"belanjain", "kainara", "sayurkilat", "cicilaja", "dompetku", "sinyalnusa", "kirimcepat",
                    "terbangindo", "gadgethub", "makanyuk", "banksejahtera", "glowlab", "netrumah", "pasarkita",
                    "apotekku", "jalanjalan"}


# The test splits scored once and then retired into train, by number (stop that scored them).
RETIRED = {
    2: ["lindungi", "tontonplus", "rumahkayu", "belajarpintar"],  # stop 18
    3: ["tiketria", "gasskredit", "sehatin", "anabul"],  # stop 19
    4: ["kosnyaman", "tukarkoin", "rodaempat", "bersihin"],  # stop 20
    5: ["gymfit", "bengkelpro", "airjernih", "busnusa"],  # stop 20
    6: ["kopikita", "emaskita", "cetakin", "umrahku"],  # stop 21
    7: ["bioskopku", "kamerapintar", "kapalnusa", "danakita"],  # stop 22
    8: ["kacamataku", "kasirpintar", "galonku", "kerjain"],  # stops 23 and 24
}
ORDINAL = {2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth", 7: "seventh", 8: "eighth", 9: "ninth",
           10: "tenth", 11: "eleventh", 12: "twelfth"}


def test_businesses():
    """The current test split: the businesses data/corpus/businesses.toml marks as test."""
    with open(os.path.join(root, "businesses.toml"), "rb") as f:
        return [b["id"] for b in tomllib.load(f)["business"] if b["split"] == "test"]


def ranked(convs):
    return sorted(convs, key=lambda c: hashlib.sha256(c["conversation_id"].encode()).hexdigest())


def sample_ids(name):
    # "testN": a retired split by its number, else the current one (businesses.toml).
    if name.startswith("test"):
        businesses = RETIRED.get(int(name[4:])) or test_businesses()
        return {c["conversation_id"] for b in businesses for c in ranked(c for c in corpus() if c["business"] == b)[:10]}
    return {c["conversation_id"] for c in ranked(c for c in corpus() if c["business"] in FIRST_GENERATION)[:50]}


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
    if sys.argv[1:2] == ["sample"]:
        name = sys.argv[2] if len(sys.argv) > 2 else ""
        ids = sample_ids(name)
        out = f"sample_{name}.jsonl" if name else "sample.jsonl"
        with open(os.path.join(agree, out), "w", encoding="utf-8") as f:
            for c in corpus():
                if c["conversation_id"] in ids:
                    c = {k: v for k, v in c.items() if k not in LABEL_KEYS}
                    c["messages"] = [{k: v for k, v in m.items() if k != "sentiment"} for m in c["messages"]]
                    f.write(json.dumps(c, ensure_ascii=False) + "\n")
        print(f"{len(ids)} conversations -> {agree}/{out}")
        return
    first = {c["conversation_id"]: c for c in corpus()}
    lines = []
    splits = [("", "50 corpus conversations", "the 50 conversations of the first 16 businesses whose sha256(conversation_id) sorts first (`scripts/corpus_agreement.py sample`)")]
    for n, word in ORDINAL.items():
        splits.append((f"_test{n}", f"40 conversations of the {word} test split", f"the 10 conversations of each {word}-test-split business whose sha256(conversation_id) sorts first (`scripts/corpus_agreement.py sample test{n}`)"))
    for name, title, how in splits:
        path = os.path.join(agree, f"second_labels{name}.jsonl")
        if os.path.exists(path):
            lines += section(first, path, title, how)
    open(os.path.join(agree, "REPORT.md"), "w").write("\n".join(lines))
    print("\n".join(lines))


def section(first, path, title, how):
    second = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    rows = {"sentiment (customer messages)": [], "intent": [], "solved": [], "expect_low_csat": []}
    for s in second:
        c = first[s["conversation_id"]]
        cust = [m for m in c["messages"] if m["role"] == "customer"]
        if len(cust) != len(s["sentiments"]):
            sys.exit(f"{s['conversation_id']}: {len(s['sentiments'])} sentiments for {len(cust)} customer messages")
        rows["sentiment (customer messages)"] += [(m["sentiment"], b) for m, b in zip(cust, s["sentiments"])]
        for key in ["intent", "solved", "expect_low_csat"]:
            rows[key].append((c[key], s[key]))
    lines = [f"# Agreement of two independent labellings of {title}", "",
             f"The sample: {how},",
             f"labelled a second time from the guideline alone, without the first labels (`{os.path.basename(path)}`).",
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
    lines += ["", "Intent disagreements (first -> second): " + ", ".join(f"{a} -> {b} ({n})" for (a, b), n in ic.most_common()), ""]
    return lines


main()
