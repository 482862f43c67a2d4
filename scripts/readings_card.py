"""Renders the readings' measured figures (convoqa eval-readings --json outputs) as Markdown
tables for the heads' cards: accuracy, macro-F1, per-class F1, confusion matrices, by language
and by channel.

Usage: readings_card.py sentiment|intent EVAL_JSON [EVAL_JSON ...]   (prints Markdown)"""

import json
import sys


def table(title, m):
    labels = m["labels"]
    out = [f"**{title}**: n = {m['n']}, accuracy {m['accuracy']:.3f}, macro-F1 **{m['macro_f1']:.3f}**", ""]
    out.append("| true \\ predicted | " + " | ".join(labels) + " | F1 |")
    out.append("|---" * (len(labels) + 2) + "|")
    f1 = dict((k, v) for k, v in m["per_class_f1"])
    for label, row in zip(labels, m["confusion"]):
        if sum(row) == 0 and all(r[labels.index(label)] == 0 for r in m["confusion"]):
            continue
        out.append(f"| {label} | " + " | ".join(str(x) for x in row) + f" | {f1[label]:.3f} |")
    return out + [""]


def groups(title, g, key):
    rows = [f"| {title} | n | accuracy | macro-F1 |", "|---|---|---|---|"]
    for name, m in g.items():
        rows.append(f"| {name} | {m['n']} | {m['accuracy']:.3f} | {m['macro_f1']:.3f} |")
    return rows + [""]


def main():
    task = sys.argv[1]
    for path in sys.argv[2:]:
        r = json.load(open(path))
        c = r["corpus"]
        print(f"### corpus {c['split']} split ({c['conversations']} conversations; `{path.split('/')[-1]}`)\n")
        if task == "sentiment":
            print("\n".join(table("customer-message sentiment (context rules, then the head and its lexical reader)", c["sentiment"])))
            print(f"Decided by context rules: {c['rule_decided']} messages, {c['rule_agreeing']} as labelled.\n")
            print("\n".join(groups("language", c["sentiment_by_language"], "macro_f1")))
            print("\n".join(groups("channel", c["sentiment_by_channel"], "macro_f1")))
        else:
            print("\n".join(table("conversation intent", c["intent"])))
            print(f"`other` share: predicted {c['other_share_predicted']:.3f}, true {c['other_share_true']:.3f}.\n")
            print("\n".join(groups("language", c["intent_by_language"], "accuracy")))
            print("\n".join(groups("channel", c["intent_by_channel"], "accuracy")))
        t = r.get("twitter")
        # The real tweets' dev dialogs (data/tweets) carry sentiment labels only.
        if t and (task == "sentiment" or "intent" in t):
            which = ("test (dialogs 0-359, data/eval labels)" if c["split"] == "test"
                     else "dev split (dialogs 360-524, data/tweets labels)")
            print(f"### real Twitter customer-care {which}: {t['dialogs']} dialogs\n")
            print("\n".join(table("message sentiment" if task == "sentiment" else "dialog intent (dialogs whose need fits the taxonomy)",
                                  t["sentiment"] if task == "sentiment" else t["intent"])))


main()
