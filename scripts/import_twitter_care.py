"""Converts IBM's Twitter customer-care conversations (dev.json, test.json) into a convoqa messages
table, keeping the export's own role labels (client, client1, agent) so the config mapping
(tests/fixtures/twitter_care.toml) is exercised.

Usage: import_twitter_care.py IN_JSON OUT_PARQUET [--reply-time {tweet-id,duration}]

The layout: a JSON list of dialogs, each with a dialogHeader (sessionID, company,
conversationDateTime, duration, messageCount), dialogContent (the tweets: client / client1 /
agent handle, datetime, message, tweet_ID) and agentURL (the company's final reply: tweet_ID,
url_utterance, no timestamp of its own).

Durations are parsed as `[-][D-]HH:MM:SS[.f]`: the sign applies to the whole duration
(`-00:12:03` is minus 12 min 3 s, not plus) and `D-` is a day count (`6-01:08:11`).

Where the final reply goes in time. The header duration is not a trustworthy clock: in dev.json
the reply's own tweet ID (a Twitter snowflake, whose top bits are its posting time in ms) shows
that 77 positive durations dropped a whole number of days (1-9), and every one of the 22 negative
durations is a reply posted 10 or more days after the dialog start with its day count cut off, so
that "-12:14:20." is really 13 days 12:14:20. So by default (--reply-time tweet-id) the reply is
placed at the time its tweet ID encodes, but only in dialogs whose own tweets prove that the IDs
are snowflakes (every dialogContent tweet_ID decodes to its datetime within a second, as all 686
in dev.json do). Elsewhere (invented or non-snowflake IDs, or --reply-time duration) the reply is
placed at conversationDateTime + duration exactly as recorded, even when that is before the
dialog start: clamping would invent a time, and convoqa's manifest warns about a conversation
that opens with a reply or runs backwards, so the row is kept and counted on stderr rather than
hidden or moved.

A summary goes to stderr: dialogs, messages, durations with a day part, negative durations, how
the replies were placed, how many disagree with the recorded duration and how many land before
the dialog start or before its last tweet. Malformed input stops with exit 2 and a message naming
the file, the dialog and the field."""

import argparse
import json
import re
import sys
from datetime import datetime, timedelta, timezone

import pyarrow as pa
import pyarrow.parquet as pq

ROLES = ("client", "client1", "agent")
DURATION = re.compile(r"^(-)?(?:(\d+)-)?(\d+):(\d{1,2}):(\d{1,2}(?:\.\d*)?)$")
TWITTER_EPOCH_MS = 1288834974657  # 2010-11-04T01:42:54.657Z, the snowflake epoch
SNOWFLAKE_START = datetime(2010, 11, 4, tzinfo=timezone.utc)


class InputError(Exception):
    pass


def parse_duration(text):
    """`[-][D-]HH:MM:SS[.f]` -> timedelta. The sign applies to the whole duration."""
    m = DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"not a duration [-][D-]HH:MM:SS[.f]: {text!r}")
    sign, days, hours, minutes, seconds = m.groups()
    if int(minutes) >= 60 or float(seconds) >= 60:
        raise ValueError(f"minutes and seconds must be below 60: {text!r}")
    value = timedelta(days=int(days or 0), hours=int(hours), minutes=int(minutes), seconds=float(seconds))
    return -value if sign else value


def snowflake_time(tweet_id):
    """The posting time a Twitter snowflake ID encodes, or None if it cannot be one."""
    try:
        n = int(str(tweet_id))
    except ValueError:
        return None
    if n < (1 << 22):
        return None
    t = datetime.fromtimestamp(((n >> 22) + TWITTER_EPOCH_MS) / 1000, timezone.utc)
    return t if SNOWFLAKE_START < t < datetime.now(timezone.utc) + timedelta(days=1) else None


def parse_time(text):
    if not isinstance(text, str):
        raise ValueError(f"not an ISO-8601 string: {text!r}")
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        raise ValueError(f"no time zone: {text!r}")
    return t.astimezone(timezone.utc)


def field(obj, key, where):
    if not isinstance(obj, dict) or key not in obj or obj[key] is None:
        raise InputError(f"{where}: missing field {key!r}")
    return obj[key]


def convert(path, reply_time="tweet-id"):
    """Returns (columns dict, stats dict)."""
    try:
        with open(path, encoding="utf-8") as f:
            dialogs = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: cannot read JSON: {e}") from e
    if not isinstance(dialogs, list):
        raise InputError(f"{path}: expected a JSON list of dialogs, got {type(dialogs).__name__}")

    cols = {k: [] for k in ["session_id", "posted_at", "author_role", "tweet", "handle", "company", "tweet_id"]}
    stats = dict(dialogs=0, messages=0, days=0, negative=0, by_tweet_id=0, by_duration=0,
                 disagree=0, lost_days=0, before_start=0, before_last=0, examples=[])
    for i, dialog in enumerate(dialogs):
        sid = dialog.get("dialogHeader", {}).get("sessionID") if isinstance(dialog, dict) else None
        where = f"{path}: dialog {i}" + (f" (sessionID {sid})" if sid else "")
        head = field(dialog, "dialogHeader", where)
        sid = field(head, "sessionID", f"{where}: dialogHeader")
        company = field(head, "company", f"{where}: dialogHeader")
        try:
            start = parse_time(field(head, "conversationDateTime", f"{where}: dialogHeader"))
        except ValueError as e:
            raise InputError(f"{where}: dialogHeader.conversationDateTime: {e}") from e
        raw_duration = field(head, "duration", f"{where}: dialogHeader")
        try:
            duration = parse_duration(raw_duration)
        except ValueError as e:
            raise InputError(f"{where}: dialogHeader.duration: {e}") from e
        stats["days"] += bool(DURATION.match(raw_duration.strip()).group(2))
        stats["negative"] += duration < timedelta(0)

        content = field(dialog, "dialogContent", where)
        if not isinstance(content, list) or not content:
            raise InputError(f"{where}: dialogContent must be a non-empty list")
        verified = True  # every tweet of the dialog decodes to its own datetime
        last = None
        handle = None
        for j, msg in enumerate(content):
            mwhere = f"{where}: dialogContent[{j}]"
            role = next((k for k in ROLES if isinstance(msg, dict) and k in msg), None)
            if role is None:
                raise InputError(f"{mwhere}: no author field (one of {', '.join(ROLES)})")
            try:
                sent = parse_time(field(msg, "datetime", mwhere))
            except ValueError as e:
                raise InputError(f"{mwhere}: datetime: {e}") from e
            tid = str(field(msg, "tweet_ID", mwhere))
            decoded = snowflake_time(tid)
            verified = verified and decoded is not None and abs((decoded - sent).total_seconds()) < 1.0
            last = sent if last is None else max(last, sent)
            if role != "agent" and handle is None:
                handle = msg[role]
            cols["session_id"].append(sid)
            cols["posted_at"].append(sent)
            cols["author_role"].append(role)
            cols["tweet"].append(field(msg, "message", mwhere))
            cols["company"].append(company)
            cols["tweet_id"].append(tid)

        reply = field(dialog, "agentURL", where)
        rid = str(field(reply, "tweet_ID", f"{where}: agentURL"))
        by_duration = start + duration
        decoded = snowflake_time(rid)
        if reply_time == "tweet-id" and verified and decoded is not None:
            end = decoded
            stats["by_tweet_id"] += 1
            if abs((decoded - by_duration).total_seconds()) >= 2:
                stats["disagree"] += 1
                # The day count lost: |duration| is the true delay less a whole number of days.
                rest = ((decoded - start) - abs(duration)).total_seconds() / 86400
                stats["lost_days"] += round(rest) >= 1 and abs(rest - round(rest)) * 86400 < 2
        else:
            end = by_duration
            stats["by_duration"] += 1
        if end < start:
            stats["before_start"] += 1
            if len(stats["examples"]) < 3:
                stats["examples"].append(f"{sid} ({raw_duration})")
        elif end < last:
            stats["before_last"] += 1
        cols["session_id"].append(sid)
        cols["posted_at"].append(end)
        cols["author_role"].append("agent")
        cols["tweet"].append(field(reply, "url_utterance", f"{where}: agentURL"))
        cols["company"].append(company)
        cols["tweet_id"].append(rid)
        # The customer is the first client handle of the session.
        cols["handle"].extend([handle] * (len(content) + 1))
        stats["dialogs"] += 1
        stats["messages"] += len(content) + 1
    return cols, stats


SCHEMA = pa.schema([
    ("session_id", pa.string()),
    ("posted_at", pa.timestamp("us", tz="UTC")),
    ("author_role", pa.string()),
    ("tweet", pa.string()),
    ("handle", pa.string()),
    ("company", pa.string()),
    ("tweet_id", pa.string()),
])


def summary(stats, reply_time):
    s = stats
    lines = [
        f"{s['dialogs']} dialogs, {s['messages']} messages",
        f"durations: {s['days']} with a day part, {s['negative']} negative",
        f"final replies ({reply_time}): {s['by_tweet_id']} at their tweet ID's time, "
        f"{s['by_duration']} at conversationDateTime + duration as recorded",
    ]
    if s["by_tweet_id"]:
        lines.append(f"recorded duration disagrees with the tweet ID's time: {s['disagree']} "
                     f"({s['lost_days']} of them only by a lost day count)")
    lines.append(f"final reply before the dialog start: {s['before_start']}"
                 + (f" (kept as recorded, e.g. {', '.join(s['examples'])})" if s["before_start"] else "")
                 + f"; before the dialog's last tweet: {s['before_last']}")
    return "\n".join("import_twitter_care: " + l for l in lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("in_json")
    ap.add_argument("out_parquet")
    ap.add_argument("--reply-time", choices=["tweet-id", "duration"], default="tweet-id",
                    help="where the final reply goes: its tweet ID's time where the dialog's IDs "
                         "are verified snowflakes (default), or always start + duration as recorded")
    args = ap.parse_args(argv)
    try:
        cols, stats = convert(args.in_json, args.reply_time)
    except InputError as e:
        print(f"import_twitter_care: error: {e}", file=sys.stderr)
        return 2
    pq.write_table(pa.table(cols, schema=SCHEMA), args.out_parquet)
    print(summary(stats, args.reply_time), file=sys.stderr)
    print(f"{stats['messages']} messages in {stats['dialogs']} sessions -> {args.out_parquet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
