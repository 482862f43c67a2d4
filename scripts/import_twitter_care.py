"""Converts IBM's Twitter customer-care conversations (dev.json) into a convoqa messages table,
keeping the export's own role labels (client, client1, agent) so the config mapping is exercised.

The final company reply of each dialog (agentURL.url_utterance) carries no timestamp; it is placed
at conversationDateTime + duration from the dialog header, which is when the dialog ended.

Usage: import_twitter_care.py DEV_JSON OUT_PARQUET"""

import json
import sys
from datetime import datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq


def parse_duration(text):
    h, m, s = text.split(":")
    return timedelta(hours=int(h), minutes=int(m), seconds=float(s))


rows = {k: [] for k in ["session_id", "posted_at", "author_role", "tweet", "handle", "company", "tweet_id"]}
for dialog in json.load(open(sys.argv[1])):
    head = dialog["dialogHeader"]
    for msg in dialog["dialogContent"]:
        role = next(k for k in ("client", "client1", "agent") if k in msg)
        rows["session_id"].append(head["sessionID"])
        rows["posted_at"].append(msg["datetime"])
        rows["author_role"].append(role)
        rows["tweet"].append(msg["message"])
        rows["handle"].append(msg[role] if role != "agent" else None)
        rows["company"].append(head["company"])
        rows["tweet_id"].append(msg["tweet_ID"])
    reply = dialog["agentURL"]
    start = datetime.fromisoformat(head["conversationDateTime"].replace("Z", "+00:00"))
    end = start + parse_duration(head["duration"])
    rows["session_id"].append(head["sessionID"])
    rows["posted_at"].append(end.isoformat().replace("+00:00", "Z"))
    rows["author_role"].append("agent")
    rows["tweet"].append(reply["url_utterance"])
    rows["handle"].append(None)
    rows["company"].append(head["company"])
    rows["tweet_id"].append(reply["tweet_ID"])

# The customer is the first client handle of each session.
first_handle = {}
for sid, handle in zip(rows["session_id"], rows["handle"]):
    if handle and sid not in first_handle:
        first_handle[sid] = handle
rows["handle"] = [first_handle.get(sid) for sid in rows["session_id"]]
pq.write_table(pa.table(rows), sys.argv[2])
print(f"{len(rows['session_id'])} messages in {len(first_handle)} sessions -> {sys.argv[2]}")
