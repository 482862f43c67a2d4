"""Converts a WhatsApp Business (Cloud API) webhook log, as a BSP or the business's own webhook
receiver keeps it, into convoqa's messages table (OUT_DIR/messages.parquet).

Usage: whatsapp_cloud.py IN_PATH OUT_DIR [--gap-hours 24]

IN_PATH is a JSON-lines file, or a directory whose *.jsonl files are read in name order. Each
line is one of:
  - a Meta webhook payload as delivered ({"object": "whatsapp_business_account", "entry": [...]})
    or wrapped by the logger as {"payload": <webhook>, ...}. Its entry[].changes[] with field
    "messages" carry value.messages[] (the customers' messages: from, id, timestamp, type, text.body
    and the other types) and value.statuses[] (what happened to the business's messages: id,
    status sent/delivered/read/failed, timestamp, recipient_id); field "smb_message_echoes" carries
    value.message_echoes[] (messages the business sent from the WhatsApp Business app).
  - an outbound record: the business's own message as the BSP logged the send, since Meta sends
    no webhook for it: {"direction": "outbound", "phone_number_id": ..., "logged_at": unix or ISO,
    "sender": {"role": "agent"|"bot", "id": ...}, "auto_reply": bool, "request": <the POST
    /<phone_number_id>/messages body>, "response": <its reply: contacts[].wa_id, messages[].id>}.
    logged_at, sender and auto_reply are optional: without logged_at the message's first "sent"
    status gives its time; the role defaults to agent.

Conversations. WhatsApp has none: a customer's chat with a business number is one endless thread.
A thread is the customer's wa_id with the business's phone_number_id, and it is cut into
conversations wherever two consecutive messages (either side) are more than --gap-hours apart
(24 by default, WhatsApp's customer-service window). conversation_id is
"wa:<phone_number_id>:<wa_id>:<first message time, YYYYMMDDTHHMMSSZ>", stable when later log lines
are appended. --gap-hours 0 leaves one conversation per thread ("wa:<phone_number_id>:<wa_id>"),
for convoqa's own session_gap_hours to cut.

Dropped on purpose, and counted on stderr: outbound messages whose status became "failed" (the
customer never saw them), reactions, and request_welcome events. Kept for convoqa to judge:
a webhook delivered twice (same message id: convoqa drops the copy and counts it)."""

import json
import sys
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import MESSAGES, InputError, cli, get, iso_time, unix_time, write  # noqa: E402

MEDIA = ("image", "video", "document", "sticker", "audio")
SKIPPED = ("reaction", "request_welcome")


def message_text(msg, at):
    """The text a customer or business message carries; None for media without a caption,
    locations, contacts, orders and unsupported types."""
    kind = get(msg, "type", at, str)
    body = msg.get(kind) if isinstance(msg.get(kind), dict) else {}
    if kind == "text":
        return get(get(msg, "text", at, dict), "body", f"{at}: text", str)
    if kind in MEDIA:
        return body.get("caption")
    if kind == "button":
        return body.get("text")
    if kind == "interactive":
        for reply in ("button_reply", "list_reply"):
            if isinstance(body.get(reply), dict):
                return body[reply].get("title")
        return (body.get("body") or {}).get("text")  # an outbound interactive message
    if kind == "template":
        return f"[template {body.get('name', '?')}]"
    if kind == "system":
        return body.get("body")
    return None


def read_lines(in_path):
    files = sorted(in_path.glob("*.jsonl")) if in_path.is_dir() else [in_path]
    if not files:
        raise InputError(f"{in_path}: no *.jsonl files")
    for f in files:
        try:
            lines = f.read_text(encoding="utf-8").splitlines()
        except OSError as e:
            raise InputError(f"{f}: cannot read: {e.strerror}") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                yield f"{f}: line {n}", json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(f"{f}: line {n}: not JSON: {e.msg}") from None


def parse_time(value, at):
    return unix_time(value, at) if isinstance(value, (int, float)) or str(value).isdigit() else iso_time(value, at)


def convert(in_path, out_dir, args):
    inbound, outbound, statuses = [], {}, defaultdict(list)
    n = defaultdict(int)
    for at, obj in read_lines(in_path):
        if isinstance(obj, dict) and isinstance(obj.get("payload"), dict) and "object" not in obj:
            obj = obj["payload"]
        if not isinstance(obj, dict):
            raise InputError(f"{at}: expected a JSON object")
        if obj.get("direction") == "outbound":
            rec = read_outbound(obj, at)
            outbound.setdefault(rec["message_id"], rec)
            n["outbound logged"] += 1
            continue
        if obj.get("object") != "whatsapp_business_account":
            raise InputError(f"{at}: neither a webhook payload (object 'whatsapp_business_account') "
                             f"nor an outbound record (direction 'outbound')")
        for e, entry in enumerate(get(obj, "entry", at, list)):
            for c, change in enumerate(get(entry, "changes", f"{at}: entry[{e}]", list)):
                cat = f"{at}: entry[{e}].changes[{c}]"
                value = get(change, "value", cat, dict)
                field = change.get("field", "messages")
                phone = get(get(value, "metadata", f"{cat}.value", dict), "phone_number_id",
                            f"{cat}.value.metadata", str)
                if field == "messages":
                    for i, msg in enumerate(value.get("messages") or []):
                        mat = f"{cat}.value.messages[{i}]"
                        kind = get(msg, "type", mat, str)
                        if kind in SKIPPED:
                            n[f"{kind} skipped"] += 1
                            continue
                        inbound.append(dict(
                            thread=(phone, get(msg, "from", mat, str)),
                            sent_at=unix_time(get(msg, "timestamp", mat), f"{mat}: timestamp"),
                            sender_role="system" if kind == "system" else "customer",
                            text=message_text(msg, mat),
                            message_id=get(msg, "id", mat, str)))
                        n["inbound"] += 1
                    for i, st in enumerate(value.get("statuses") or []):
                        sat = f"{cat}.value.statuses[{i}]"
                        statuses[get(st, "id", sat, str)].append(
                            (get(st, "status", sat, str), unix_time(get(st, "timestamp", sat), f"{sat}: timestamp")))
                        n["statuses"] += 1
                elif field == "smb_message_echoes":
                    for i, msg in enumerate(value.get("message_echoes") or []):
                        mat = f"{cat}.value.message_echoes[{i}]"
                        rec = dict(thread=(phone, get(msg, "to", mat, str)),
                                   sent_at=unix_time(get(msg, "timestamp", mat), f"{mat}: timestamp"),
                                   sender_role="agent", text=message_text(msg, mat),
                                   message_id=get(msg, "id", mat, str), agent_id=None, is_auto_reply=False)
                        outbound.setdefault(rec["message_id"], rec)
                        n["echoes"] += 1
                else:
                    n[f"changes of field {field} ignored"] += 1

    rows = list(inbound)
    for wamid, rec in outbound.items():
        events = statuses.get(wamid, [])
        if any(s == "failed" for s, _ in events):
            n["outbound failed"] += 1
            continue
        if rec["sent_at"] is None:
            sent = sorted(t for s, t in events if s == "sent") or sorted(t for _, t in events)
            if not sent:
                raise InputError(f"{rec['at']}: outbound message {wamid} has no logged_at and no status "
                                 f"to take its time from")
            rec["sent_at"] = sent[0]
        rows.append(rec)
    n["statuses without a logged message"] = sum(1 for w in statuses if w not in outbound)

    rows.sort(key=lambda r: (r["thread"], r["sent_at"]))
    gap = timedelta(hours=args.gap_hours)
    conv, last = None, {}
    for r in rows:
        phone, wa_id = r["thread"]
        prev = last.get(r["thread"])
        if args.gap_hours <= 0:
            conv = f"wa:{phone}:{wa_id}"
        elif prev is None or r["sent_at"] - prev[0] > gap:
            conv = f"wa:{phone}:{wa_id}:{r['sent_at']:%Y%m%dT%H%M%SZ}"
            n["conversations"] += 1
        else:
            conv = prev[1]
        last[r["thread"]] = (r["sent_at"], conv)
        r.update(conversation_id=conv, customer_id=wa_id, channel="whatsapp")
        r.setdefault("is_auto_reply", False)
    if args.gap_hours <= 0:
        n["conversations"] = len(last)

    out_dir.mkdir(parents=True, exist_ok=True)
    write(rows, MESSAGES, out_dir / "messages.parquet")
    cut = f"cut at {args.gap_hours:g} h gaps" if args.gap_hours > 0 else "not cut"
    lines = [f"{len(rows)} messages in {n['conversations']} conversations ({len(last)} customer threads, {cut}) "
             f"-> {out_dir / 'messages.parquet'}",
             f"read: {n['inbound']} inbound, {n['outbound logged']} outbound logged, {n['echoes']} echoes, "
             f"{n['statuses']} statuses",
             f"dropped: {n['outbound failed']} failed outbound, {n['reaction skipped']} reactions, "
             f"{n['request_welcome skipped']} request_welcome; {n['statuses without a logged message']} "
             f"statuses name a message not in the log"]
    ignored = {k: v for k, v in n.items() if k.startswith("changes of field")}
    if ignored:
        lines.append(", ".join(f"{v} {k}" for k, v in sorted(ignored.items())))
    return lines


def read_outbound(obj, at):
    req = get(obj, "request", at, dict)
    resp = get(obj, "response", at, dict)
    ids = get(resp, "messages", f"{at}: response", list)
    if not ids:
        raise InputError(f"{at}: response: 'messages' is empty (the send was refused?)")
    wamid = get(ids[0], "id", f"{at}: response.messages[0]", str)
    contacts = resp.get("contacts") or []
    wa_id = contacts[0].get("wa_id") if contacts and isinstance(contacts[0], dict) else None
    wa_id = wa_id or get(req, "to", f"{at}: request", str).lstrip("+").replace(" ", "")
    sender = obj.get("sender") or {}
    role = sender.get("role", "agent")
    if role not in ("agent", "bot", "system"):
        raise InputError(f"{at}: sender.role must be agent, bot or system, got {role!r}")
    logged = obj.get("logged_at")
    return dict(thread=(str(get(obj, "phone_number_id", at)), wa_id),
                sent_at=None if logged is None else parse_time(logged, f"{at}: logged_at"),
                sender_role=role, text=message_text(req, f"{at}: request"), message_id=wamid,
                agent_id=None if sender.get("id") is None else str(sender["id"]),
                is_auto_reply=bool(obj.get("auto_reply", False)), at=at)


def add_args(ap):
    ap.add_argument("--gap-hours", type=float, default=24.0,
                    help="cut a customer's thread where messages are more than this many hours "
                         "apart (0: one conversation per thread)")


if __name__ == "__main__":
    sys.exit(cli("whatsapp_cloud", __doc__, convert, add_args))
