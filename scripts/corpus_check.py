"""Checks corpus files against data/corpus/README.md's format and prints each file's mix.

Usage: corpus_check.py [FILE.jsonl ...]   (default: every file in data/corpus/conversations)
Exit 1 on the first file with a format error (the message names the file, line and field)."""

import collections
import datetime
import glob
import json
import os
import sys

INTENTS = {"order_status", "delivery_problem", "refund_return", "payment_billing", "cancellation", "account_access",
           "product_inquiry", "promo_voucher", "technical_issue", "complaint_service", "other"}
CHANNELS = {"whatsapp", "instagram", "livechat", "email"}
ROLES = {"customer", "agent", "bot", "system"}
SENTIMENTS = {"negative", "neutral", "positive"}
LANGS = {"id", "en", "mixed"}
STATUSES = {"resolved", "closed", "open", "pending"}


def fail(path, line, msg):
    print(f"{path}:{line}: {msg}", file=sys.stderr)
    sys.exit(1)


def check(path):
    ids, rows = set(), []
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            if not raw.strip():
                continue
            try:
                c = json.loads(raw)
            except json.JSONDecodeError as e:
                fail(path, n, f"not JSON: {e}")
            for key in ["conversation_id", "business", "channel", "language", "customer_id", "created_at", "status",
                        "intent", "solved", "reopens", "expect_low_csat", "csat_score", "messages"]:
                if key not in c:
                    fail(path, n, f"missing field {key}")
            cid = c["conversation_id"]
            if cid in ids:
                fail(path, n, f"duplicate conversation_id {cid}")
            ids.add(cid)
            if c["channel"] not in CHANNELS: fail(path, n, f"channel {c['channel']!r} not in {sorted(CHANNELS)}")
            if c["language"] not in LANGS: fail(path, n, f"language {c['language']!r} not in {sorted(LANGS)}")
            if c["status"] not in STATUSES: fail(path, n, f"status {c['status']!r} not in {sorted(STATUSES)}")
            if c["intent"] not in INTENTS: fail(path, n, f"intent {c['intent']!r} not in the taxonomy")
            if not isinstance(c["solved"], bool): fail(path, n, "solved must be true/false")
            if not isinstance(c["expect_low_csat"], bool): fail(path, n, "expect_low_csat must be true/false")
            s = c["csat_score"]
            if s is not None:
                if s not in (1, 2, 3, 4, 5): fail(path, n, "csat_score must be 1-5 or null")
                if (s <= 3) != c["expect_low_csat"]: fail(path, n, "csat_score 1-3 exactly when expect_low_csat")
            if c["reopens"] is not None and c["reopens"] not in ids:
                fail(path, n, f"reopens {c['reopens']!r} is not an earlier conversation in this file")
            try:
                datetime.datetime.fromisoformat(c["created_at"])
            except ValueError:
                fail(path, n, "created_at must be ISO-8601 with offset")
            if c["channel"] == "email" and not c.get("subject"): fail(path, n, "e-mail conversations need a subject")
            last_t, n_cust = -1, 0
            for i, m in enumerate(c["messages"]):
                if m.get("role") not in ROLES: fail(path, n, f"message {i}: role {m.get('role')!r}")
                if not isinstance(m.get("t"), (int, float)) or m["t"] < last_t: fail(path, n, f"message {i}: t must be non-decreasing seconds")
                last_t = m["t"]
                if not isinstance(m.get("text"), str) or not m["text"].strip(): fail(path, n, f"message {i}: empty text")
                if m["role"] == "customer":
                    n_cust += 1
                    if m.get("sentiment") not in SENTIMENTS: fail(path, n, f"message {i}: customer message needs sentiment")
                elif "sentiment" in m:
                    fail(path, n, f"message {i}: only customer messages carry sentiment")
                if m["role"] == "agent" and not m.get("agent_id"): fail(path, n, f"message {i}: agent message needs agent_id")
            if n_cust == 0: fail(path, n, "no customer message")
            rows.append(c)
    return rows


def main():
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "data", "corpus", "conversations", "*.jsonl")))
    for path in files:
        rows = check(path)
        msgs = [m for c in rows for m in c["messages"] if m["role"] == "customer"]
        print(f"{os.path.basename(path)}: {len(rows)} conversations, {len(msgs)} customer messages")
        for key in ["channel", "language", "intent", "status"]:
            print(f"  {key}: {dict(collections.Counter(c[key] for c in rows).most_common())}")
        print(f"  sentiment: {dict(collections.Counter(m['sentiment'] for m in msgs).most_common())}")
        print(f"  solved {sum(c['solved'] for c in rows)}, reopens {sum(c['reopens'] is not None for c in rows)}, "
              f"expect_low_csat {sum(c['expect_low_csat'] for c in rows)}, surveyed {sum(c['csat_score'] is not None for c in rows)}")


main()
