"""Converts a Chatwoot export, as its application API returns it, into convoqa's
OUT_DIR/messages.parquet and OUT_DIR/conversations.parquet.

Usage: chatwoot.py IN_DIR OUT_DIR

IN_DIR holds:
  conversations.json          GET /api/v1/accounts/{account_id}/conversations: one response
                              ({"data": {"meta": ..., "payload": [...]}}), a list of them (one per
                              page), or a plain list of conversation objects.
  messages.json               GET .../conversations/{id}/messages: one response ({"meta": ...,
                              "payload": [...]}), a list of them, or a plain list of messages. Each
                              message names its conversation_id.
  csat_survey_responses.json  optional: GET /api/v1/accounts/{account_id}/csat_survey_responses.

Roles: message_type 0 (incoming) -> customer; 1 (outgoing) -> agent when the sender is a user
(agent_id = its id), bot when it is an agent_bot (or a Captain assistant), agent without an id
when there is no sender (sent from the channel's own app); a private outgoing message is an
internal note -> system; 2 (activity: assigned, resolved, ...) -> system; 3 (template: greeting,
out-of-office, CSAT survey, e-mail collect) -> bot with is_auto_reply = true. The API's string
forms ("incoming", ...) are read too.

Conversations: id (the display id the messages use), meta.sender.id as customer_id, meta.channel
(Channel::Whatsapp -> whatsapp, see CHANNELS), status (open, resolved, pending; snoozed ->
pending), created_at, meta.team.name as team, and csat_score from csat_survey_responses.json, or
else from the rating a customer submitted on an input_csat message. Chatwoot has no resolution
time: convoqa takes the last message (the "resolved" activity message) for resolved ones."""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (CONVERSATIONS, MESSAGES, InputError, cli, get, load_json, opt_id,  # noqa: E402
                     pages, unix_time, write)

CHANNELS = {
    "Channel::Whatsapp": "whatsapp",
    "Channel::WebWidget": "live_chat",
    "Channel::Email": "email",
    "Channel::FacebookPage": "facebook",
    "Channel::Instagram": "instagram",
    "Channel::TwitterProfile": "twitter",
    "Channel::TwilioSms": "sms",
    "Channel::Sms": "sms",
    "Channel::Telegram": "telegram",
    "Channel::Line": "line",
    "Channel::Api": "api",
    "Channel::Tiktok": "tiktok",
}
STATUSES = {"open": "open", "resolved": "resolved", "pending": "pending", "snoozed": "pending"}
MESSAGE_TYPES = {0: "incoming", 1: "outgoing", 2: "activity", 3: "template",
                 "incoming": "incoming", "outgoing": "outgoing", "activity": "activity", "template": "template"}
BOT_SENDERS = ("agent_bot", "captain_assistant")


def channel_of(channel_type):
    if channel_type is None:
        return None
    return CHANNELS.get(channel_type, channel_type.split("::")[-1].lower())


def convert(in_dir, out_dir, args):
    conv_path = in_dir / "conversations.json"
    msg_path = in_dir / "messages.json"
    csat_path = in_dir / "csat_survey_responses.json"
    n = Counter()

    conversations = {}
    for label, c in pages(load_json(conv_path), "payload", conv_path):
        at = f"{conv_path}: {label}"
        cid = str(get(c, "id", at, (int, str)))
        at = f"{conv_path}: {label} (conversation {cid})"
        if cid in conversations:
            raise InputError(f"{at}: id repeated (two accounts in one export? convert each account apart)")
        meta = get(c, "meta", at, dict)
        status = get(c, "status", at, str)
        if status not in STATUSES:
            raise InputError(f"{at}: status must be one of {', '.join(STATUSES)}, got {status!r}")
        sender = meta.get("sender") or {}
        conversations[cid] = dict(
            conversation_id=cid,
            customer_id=opt_id(sender.get("id")),
            channel=channel_of(meta.get("channel")),
            status=STATUSES[status],
            created_at=unix_time(get(c, "created_at", at), f"{at}: created_at"),
            resolved_at=None,
            csat_score=None,
            team=(meta.get("team") or {}).get("name"))

    messages = []
    chat_ratings = {}
    for label, m in pages(load_json(msg_path), "payload", msg_path):
        at = f"{msg_path}: {label}"
        mid = str(get(m, "id", at, (int, str)))
        at = f"{msg_path}: {label} (message {mid})"
        cid = str(get(m, "conversation_id", at, (int, str)))
        conv = conversations.get(cid)
        if conv is None:
            n["messages of conversations not in conversations.json"] += 1
        mtype = MESSAGE_TYPES.get(get(m, "message_type", at, (int, str)))
        if mtype is None:
            raise InputError(f"{at}: message_type must be 0-3 (incoming, outgoing, activity, template), "
                             f"got {m['message_type']!r}")
        sender = m.get("sender") or {}
        sender_type = sender.get("type")
        agent_id, auto = None, False
        if mtype == "incoming":
            role = "customer"
        elif mtype == "activity":
            role = "system"
        elif mtype == "template":
            role, auto = "bot", True
        elif m.get("private"):
            role = "system"
            n["private notes"] += 1
        elif sender_type == "user":
            role, agent_id = "agent", opt_id(sender.get("id"))
        elif sender_type in BOT_SENDERS:
            role = "bot"
        elif not sender:
            role = "agent"
            n["outgoing without a sender (agent, no agent_id)"] += 1
        else:
            raise InputError(f"{at}: sender.type {sender_type!r} on an outgoing message (expected user or agent_bot)")
        customer = conv["customer_id"] if conv else (
            opt_id(sender.get("id")) if mtype == "incoming" and sender_type in (None, "contact") else None)
        rating = (((m.get("content_attributes") or {}).get("submitted_values") or {})
                  .get("csat_survey_response") or {}).get("rating")
        if m.get("content_type") == "input_csat" and rating is not None:
            chat_ratings[cid] = float(rating)
        messages.append(dict(
            conversation_id=cid,
            sent_at=unix_time(get(m, "created_at", at), f"{at}: created_at"),
            sender_role=role,
            text=m.get("content"),
            customer_id=customer,
            channel=conv and conv["channel"],
            agent_id=agent_id,
            message_id=mid,
            is_auto_reply=auto))
        n[role] += 1

    surveys = {}
    if csat_path.exists():
        for label, s in pages(load_json(csat_path), "payload", csat_path):
            at = f"{csat_path}: {label}"
            rating = get(s, "rating", at, (int, float))
            if not 1 <= rating <= 5:
                raise InputError(f"{at}: rating must be 1-5, got {rating}")
            surveys[str(get(s, "conversation_id", at, (int, str)))] = float(rating)
    for cid, conv in conversations.items():
        conv["csat_score"] = surveys.get(cid, chat_ratings.get(cid))
        n["csat from surveys" if cid in surveys else "csat from input_csat messages" if cid in chat_ratings
          else "no csat"] += 1

    out_dir.mkdir(parents=True, exist_ok=True)
    write(messages, MESSAGES, out_dir / "messages.parquet")
    write(list(conversations.values()), CONVERSATIONS, out_dir / "conversations.parquet")
    roles = ", ".join(f"{n[r]} {r}" for r in ("customer", "agent", "bot", "system"))
    lines = [f"{len(messages)} messages ({roles}), {len(conversations)} conversations -> {out_dir}",
             f"csat: {n['csat from surveys']} from surveys, {n['csat from input_csat messages']} from "
             f"input_csat messages, {n['no csat']} without"]
    other = [f"{v} {k}" for k, v in sorted(n.items())
             if k not in ("customer", "agent", "bot", "system") and not k.startswith(("csat", "no csat"))]
    if other:
        lines.append(", ".join(other))
    return lines


if __name__ == "__main__":
    sys.exit(cli("chatwoot", __doc__, convert))
