"""Checks convoqa on a real export: IBM's Twitter customer-care dialogs, read through the config
mapping (tests/fixtures/twitter_care.toml). Usage: check_real_export.py IMPORTED_PARQUET OUT_DIR."""

import json
import sys
from pathlib import Path

import duckdb

src, out = sys.argv[1], Path(sys.argv[2])
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    passed += ok
    failed += not ok
    if not ok:
        print(f"FAIL {name} {detail}")


con = duckdb.connect()
rows_in = con.execute(f"SELECT count(*) FROM '{src}'").fetchone()[0]
sessions = con.execute(f"SELECT count(DISTINCT session_id) FROM '{src}'").fetchone()[0]
m = json.loads((out / "run_manifest.json").read_text())
acc = m["rows"]["messages"]
check("every row read", acc["rows_in"] == rows_in, f"{acc['rows_in']} vs {rows_in}")
check("accounting holds", acc["rows_in"] == acc["rows_used"] + acc["rows_quarantined"] + acc["duplicates_dropped"])
# The export repeats some tweets under a second session id: those rows, and only those, are
# quarantined as conflicting duplicates, each naming a tweet that is kept elsewhere.
q = con.execute(f"SELECT reason, message_id, conversation_id FROM '{out / 'quarantine.parquet'}'").fetchall()
check("only duplicate-id conflicts are quarantined", all(r[0] == "duplicate_message_id_conflict" for r in q), str(q[:3]))
kept_elsewhere = con.execute(f"""
  SELECT count(*) FROM '{out / 'quarantine.parquet'}' q JOIN '{out / 'messages.parquet'}' k
  ON k.message_id = q.message_id AND k.conversation_id <> q.conversation_id""").fetchone()[0]
check("each conflicting tweet is kept under another session", kept_elsewhere == len(q), f"{kept_elsewhere} of {len(q)}")
n_conv = con.execute(f"SELECT count(*) FROM '{out / 'conversations.parquet'}'").fetchone()[0]
emptied = con.execute(f"""
  SELECT count(*) FROM (SELECT DISTINCT session_id FROM '{src}') s
  WHERE s.session_id NOT IN (SELECT conversation_id FROM '{out / 'messages.parquet'}')""").fetchone()[0]
check("one conversation per session with a usable message", n_conv == sessions - emptied, f"{n_conv} vs {sessions} - {emptied}")
bad = con.execute(f"SELECT count(*) FROM '{out / 'conversations.parquet'}' WHERE frt_total_s < 0 OR frt_human_s < 0 OR customer_id IS NULL").fetchone()[0]
check("no negative FRT, every conversation has its customer", bad == 0, str(bad))
answered = con.execute(f"SELECT count(frt_human_s) * 1.0 / count(*) FROM '{out / 'conversations.parquet'}'").fetchone()[0]
check("most real dialogs got a company reply", answered > 0.9, str(answered))
print(f"check_real_export: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
