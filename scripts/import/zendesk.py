"""Converts a Zendesk Support export (tickets and their comments, as the REST API returns them)
into convoqa's OUT_DIR/messages.parquet and OUT_DIR/conversations.parquet.

Usage: zendesk.py IN_DIR OUT_DIR

IN_DIR holds:
  tickets.json          GET /api/v2/incremental/tickets/cursor.json (or /api/v2/tickets.json): one
                        response ({"tickets": [...]}), a list of them (one per page), or a plain
                        list of tickets. Side-loads are used where present: users and groups
                        (include=users,groups) and metric_sets (include=metric_sets).
  comments/<id>.json    GET /api/v2/tickets/<id>/comments.json for each ticket: one response
                        ({"comments": [...]}), a list of them, or a plain list; include=users
                        side-loads the authors.
  users.json            optional: GET /api/v2/users.json responses, for the authors' roles.

One ticket is one conversation (conversation_id = the ticket id), one comment is one message.
Roles: a private comment (public false) is an internal note -> system; otherwise the author's
role when a user list gives it (end-user -> customer; agent, admin -> agent with agent_id = the
author id); without it the ticket's requester -> customer and anyone else -> agent (counted on
stderr: a CC'd end-user would be taken for an agent, so export the users).

Tickets: requester_id as customer_id, via.channel (see CHANNELS), status (new, open -> open;
pending, hold -> pending; solved -> resolved; closed -> closed), created_at, metric_set.solved_at
as resolved_at where side-loaded, satisfaction_rating.score as csat_score (good -> 5, bad -> 1;
offered and unoffered are no answer; a number is taken as it is), and the group's name (its id
when groups are not side-loaded) as team. A ticket the incremental export returns twice is taken
at its latest updated_at."""

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (CONVERSATIONS, MESSAGES, InputError, cli, get, iso_time, load_json,  # noqa: E402
                     opt_id, pages, write)

CHANNELS = {
    "email": "email", "web": "web_form", "mobile": "web_form", "api": "api",
    "chat": "live_chat", "native_messaging": "live_chat",
    "whatsapp": "whatsapp", "instagram_dm": "instagram", "facebook": "facebook", "twitter": "twitter",
    "voice": "voice", "sms": "sms", "line": "line", "wechat": "wechat", "telegram": "telegram",
}
STATUSES = {"new": "open", "open": "open", "pending": "pending", "hold": "pending",
            "solved": "resolved", "closed": "closed"}
SCORES = {"good": 5.0, "bad": 1.0, "offered": None, "unoffered": None}
CUSTOMER_ROLES = ("end-user",)
AGENT_ROLES = ("agent", "admin")


def sideload(data, key):
    """The side-loaded records of `key` across one response or a list of responses."""
    items = data if isinstance(data, list) else [data]
    return [r for item in items if isinstance(item, dict) for r in (item.get(key) or [])]


def csat(rating, at):
    if not isinstance(rating, dict) or rating.get("score") is None:
        return None
    score = rating["score"]
    if isinstance(score, (int, float)) and not isinstance(score, bool) and 1 <= score <= 5:
        return float(score)
    if score not in SCORES:
        raise InputError(f"{at}: satisfaction_rating.score must be good, bad, offered, unoffered or 1-5, "
                         f"got {score!r}")
    return SCORES[score]


def convert(in_dir, out_dir, args):
    tickets_path = in_dir / "tickets.json"
    n = Counter()
    data = load_json(tickets_path)
    roles = {}
    users_path = in_dir / "users.json"
    for u in sideload(data, "users") + (sideload(load_json(users_path), "users") if users_path.exists() else []):
        if isinstance(u, dict) and u.get("id") is not None:
            roles[str(u["id"])] = u.get("role")
    groups = {str(g["id"]): g.get("name") for g in sideload(data, "groups") if isinstance(g, dict) and "id" in g}
    solved = {}
    for ms in sideload(data, "metric_sets"):
        if isinstance(ms, dict) and ms.get("ticket_id") is not None and ms.get("solved_at"):
            solved[str(ms["ticket_id"])] = ms["solved_at"]

    tickets = {}
    for label, t in pages(data, "tickets", tickets_path):
        at = f"{tickets_path}: {label}"
        tid = str(get(t, "id", at, (int, str)))
        at = f"{tickets_path}: {label} (ticket {tid})"
        updated = t.get("updated_at") or ""
        if tid in tickets:
            n["tickets repeated by the export (latest kept)"] += 1
            if updated < tickets[tid][1].get("updated_at", ""):
                continue
        tickets[tid] = (at, t)
    for tid in [tid for tid, (_, t) in tickets.items() if t.get("status") == "deleted"]:
        del tickets[tid]
        n["deleted tickets skipped"] += 1

    conversations, messages = [], []
    for tid, (at, t) in tickets.items():
        status = get(t, "status", at, str)
        if status not in STATUSES:
            raise InputError(f"{at}: status must be one of {', '.join(STATUSES)}, got {status!r}")
        requester = str(get(t, "requester_id", at, (int, str)))
        via = t.get("via") or {}
        channel = via.get("channel")
        metric = t.get("metric_set") or {}
        solved_at = metric.get("solved_at") or solved.get(tid)
        group = opt_id(t.get("group_id"))
        conversations.append(dict(
            conversation_id=tid,
            customer_id=requester,
            channel=None if channel is None else CHANNELS.get(channel, channel),
            status=STATUSES[status],
            created_at=iso_time(get(t, "created_at", at), f"{at}: created_at"),
            resolved_at=iso_time(solved_at, f"{at}: metric_set.solved_at") if solved_at else None,
            csat_score=csat(t.get("satisfaction_rating"), at),
            team=groups.get(group, group)))
        n["csat" if conversations[-1]["csat_score"] is not None else "no csat"] += 1

        path = in_dir / "comments" / f"{tid}.json"
        if not path.exists():
            n["tickets without a comments file"] += 1
            continue
        cdata = load_json(path)
        for u in sideload(cdata, "users"):
            if isinstance(u, dict) and u.get("id") is not None:
                roles[str(u["id"])] = u.get("role")
        for label, c in pages(cdata, "comments", path):
            cat = f"{path}: {label}"
            cid = str(get(c, "id", cat, (int, str)))
            cat = f"{path}: {label} (comment {cid})"
            author = str(get(c, "author_id", cat, (int, str)))
            public = get(c, "public", cat, bool)
            role_of_author = roles.get(author)
            if role_of_author is not None and role_of_author not in CUSTOMER_ROLES + AGENT_ROLES:
                raise InputError(f"{cat}: author {author} has role {role_of_author!r} (expected end-user, agent or admin)")
            if role_of_author is None:
                n["comments whose author's role was guessed (requester -> customer, else agent)"] += 1
                role_of_author = "end-user" if author == requester else "agent"
            if not public:
                role = "system"
                n["private comments (internal notes)"] += 1
            else:
                role = "customer" if role_of_author in CUSTOMER_ROLES else "agent"
            text = c.get("plain_body") if c.get("plain_body") is not None else c.get("body")
            messages.append(dict(
                conversation_id=tid,
                sent_at=iso_time(get(c, "created_at", cat), f"{cat}: created_at"),
                sender_role=role,
                text=text,
                customer_id=requester,
                channel=conversations[-1]["channel"],
                agent_id=author if role == "agent" else None,
                message_id=cid,
                is_auto_reply=False))
            n[role] += 1

    out_dir.mkdir(parents=True, exist_ok=True)
    write(messages, MESSAGES, out_dir / "messages.parquet")
    write(conversations, CONVERSATIONS, out_dir / "conversations.parquet")
    by_role = ", ".join(f"{n[r]} {r}" for r in ("customer", "agent", "system"))
    lines = [f"{len(messages)} messages ({by_role}), {len(conversations)} tickets -> {out_dir}",
             f"csat: {n['csat']} answered, {n['no csat']} without"]
    other = [f"{v} {k}" for k, v in sorted(n.items())
             if k not in ("customer", "agent", "system", "csat", "no csat")]
    if other:
        lines.append(", ".join(other))
    return lines


if __name__ == "__main__":
    sys.exit(cli("zendesk", __doc__, convert))
