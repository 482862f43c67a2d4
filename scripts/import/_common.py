"""Shared pieces of the export converters in this folder: input errors that name the file, the
record and the field; time parsing to UTC; and convoqa's input tables (`convoqa schema`) written
with convoqa's own column names, so they analyse without a [columns] mapping."""

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MESSAGES = pa.schema([
    ("conversation_id", pa.string()),
    ("sent_at", pa.timestamp("us", tz="UTC")),
    ("sender_role", pa.string()),
    ("text", pa.string()),
    ("customer_id", pa.string()),
    ("channel", pa.string()),
    ("agent_id", pa.string()),
    ("message_id", pa.string()),
    ("is_auto_reply", pa.bool_()),
])

CONVERSATIONS = pa.schema([
    ("conversation_id", pa.string()),
    ("customer_id", pa.string()),
    ("channel", pa.string()),
    ("status", pa.string()),
    ("created_at", pa.timestamp("us", tz="UTC")),
    ("resolved_at", pa.timestamp("us", tz="UTC")),
    ("csat_score", pa.float64()),
    ("team", pa.string()),
])


class InputError(Exception):
    """Malformed input. The message names the file, the record and the field."""


def where(path, record=None, field=None):
    s = str(path)
    if record is not None:
        s += f": {record}"
    if field is not None:
        s += f": {field}"
    return s


def get(obj, key, at, types=None):
    """obj[key], required (not missing, not null), optionally of the given type(s)."""
    if not isinstance(obj, dict):
        raise InputError(f"{at}: expected an object, got {type(obj).__name__}")
    if key not in obj or obj[key] is None:
        raise InputError(f"{at}: missing field {key!r}")
    value = obj[key]
    if types is not None and (not isinstance(value, types) or isinstance(value, bool) and bool not in _tuple(types)):
        raise InputError(f"{at}: field {key!r} must be {_names(types)}, got {json.dumps(value)[:60]}")
    return value


def _tuple(types):
    return types if isinstance(types, tuple) else (types,)


def _names(types):
    return " or ".join({str: "a string", int: "an integer", float: "a number", list: "a list",
                        dict: "an object", bool: "a boolean"}.get(t, t.__name__) for t in _tuple(types))


def opt_id(value):
    """An id as a string (JSON ids are integers or strings); None stays None."""
    return None if value is None else str(value)


def unix_time(value, at):
    """Unix seconds (an integer, a float or a digit string) -> aware UTC datetime."""
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value)
        if seconds != seconds or not 0 < seconds < 1e11:
            raise ValueError
    except (TypeError, ValueError):
        raise InputError(f"{at}: not unix seconds: {json.dumps(value)[:60]}") from None
    return datetime.fromtimestamp(seconds, timezone.utc)


def iso_time(value, at):
    """ISO-8601 with an offset or Z -> aware UTC datetime. A time without a zone is refused: an
    export's API times all carry one, and guessing would shift every row."""
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        raise InputError(f"{at}: not an ISO-8601 time: {json.dumps(value)[:60]}") from None
    if t.tzinfo is None:
        raise InputError(f"{at}: time without a zone: {value!r}")
    return t.astimezone(timezone.utc)


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: line {e.lineno}: not JSON: {e.msg}") from None


def pages(data, key, path):
    """(label, record) for the records of an API list response, of a list of such responses (one
    per page), or of a plain list of records. `key` is the response's list field, e.g. "tickets"
    or "payload" (Chatwoot's conversation list nests it as data.payload). The label says where the
    record sits: "payload[3]", "response 2: payload[0]" or "item 5"."""
    single = isinstance(data, dict)
    if single:
        data = [data]
    if not isinstance(data, list):
        raise InputError(f"{path}: expected a JSON object or list, got {type(data).__name__}")
    out = []
    for p, item in enumerate(data):
        page = "" if single else f"response {p}: "
        if isinstance(item, dict) and isinstance(item.get(key), list):
            out.extend((f"{page}{key}[{i}]", r) for i, r in enumerate(item[key]))
        elif isinstance(item, dict) and isinstance(item.get("data"), dict) and isinstance(item["data"].get(key), list):
            out.extend((f"{page}data.{key}[{i}]", r) for i, r in enumerate(item["data"][key]))
        elif isinstance(item, dict) and not single and key not in item and "data" not in item:
            out.append((f"item {p}", item))  # a plain record
        else:
            raise InputError(f"{path}: {'' if single else f'item {p}: '}expected a response with a {key!r} "
                             f"list, or a list of responses or records")
    return out


def write(rows, schema, path):
    cols = {name: [r.get(name) for r in rows] for name in schema.names}
    pq.write_table(pa.table(cols, schema=schema), path)


def cli(name, doc, convert, extra_args=None):
    """`name in_path out_dir [...]`: runs convert(in_path, out_dir, args) -> summary lines, prints
    them on stderr; malformed input exits 2 with the error."""
    ap = argparse.ArgumentParser(prog=name, description=doc.split("\n\n")[0])
    ap.add_argument("in_path")
    ap.add_argument("out_dir")
    if extra_args:
        extra_args(ap)
    args = ap.parse_args()
    out = Path(args.out_dir)
    try:
        lines = convert(Path(args.in_path), out, args)
    except InputError as e:
        print(f"{name}: error: {e}", file=sys.stderr)
        return 2
    for line in lines:
        print(f"{name}: {line}", file=sys.stderr)
    return 0
