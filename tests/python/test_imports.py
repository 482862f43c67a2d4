"""Import converters (scripts/import_twitter_care.py, scripts/import/*.py) on small invented
fixtures in tests/fixtures/exports/: exact rows, roles, UTC times, ids and counts. With
CONVOQA_BIN set (a convoqa binary), each result is also analysed with --no-model and the run's
manifest must account for every row.

Run: python -m pytest tests/python/test_imports.py
"""

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta as td, timezone
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "exports"
SHARED = ROOT.parent / "shared" / "data" / "conversations" / "twitter-customer-care"
sys.path.insert(0, str(ROOT / "scripts"))
import import_twitter_care as twitter  # noqa: E402


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def run(script, *args):
    return subprocess.run([sys.executable, str(ROOT / script), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def rows(path):
    return pq.read_table(path).to_pylist()


def convoqa_analyze(tmp_path, messages, config=None, conversations=None):
    """Runs `$CONVOQA_BIN analyze --no-model --quiet`; checks exit 0 and that the manifest accounts
    for every input row. Returns the manifest."""
    binary = os.environ.get("CONVOQA_BIN")
    if not binary:
        pytest.skip("CONVOQA_BIN not set")
    out = tmp_path / "analyzed"
    cmd = [binary, "analyze", "--messages", str(messages), "--out", str(out), "--no-model", "--quiet"]
    if config:
        cmd += ["--config", str(config)]
    if conversations:
        cmd += ["--conversations", str(conversations)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, f"convoqa exit {r.returncode}: {r.stderr}"
    manifest = json.loads((out / "run_manifest.json").read_text())
    acc = manifest["rows"]["messages"]
    n = pq.read_metadata(messages).num_rows
    assert acc["rows_in"] == n
    assert acc["rows_in"] == (acc["rows_used"] + acc["rows_quarantined"] + acc["duplicates_dropped"]
                              + acc["rows_other_shards"] + acc["rows_other_days"])
    manifest["_out"] = out
    return manifest


# ---------------------------------------------------------------- Twitter customer care (IBM)

@pytest.mark.parametrize("text,seconds", [
    ("01:26:55.0", 5215),
    ("00:00:07", 7),
    ("6-01:08:11", 6 * 86400 + 4091),
    ("-06:30:21", -23421),
    ("-06:30:21.", -23421),
    ("-00:12:03", -723),
    ("-00:12:03.", -723),
    ("-1-02:00:00", -(86400 + 7200)),
    ("26:00:00.5", 93600.5),
])
def test_twitter_parse_duration(text, seconds):
    assert twitter.parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "1:2", "6-01", "--00:12:03", "01:61:00", "abc", "01:02:03:04"])
def test_twitter_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        twitter.parse_duration(text)


def test_twitter_snowflake_time():
    assert twitter.snowflake_time("1366316025246650369") == utc(2021, 3, 1, 9, 15)
    assert twitter.snowflake_time("900001") is None
    assert twitter.snowflake_time("not-a-number") is None


TWITTER_FIXTURE = FIXTURES / "twitter_care_rows.json"


def test_twitter_fixture_rows(tmp_path):
    out = tmp_path / "twitter.parquet"
    r = run("scripts/import_twitter_care.py", TWITTER_FIXTURE, out)
    assert r.returncode == 0, r.stderr
    got = [(x["session_id"], x["posted_at"], x["author_role"], x["handle"], x["company"], x["tweet_id"])
           for x in rows(out)]
    assert got == [
        ("fxA1", utc(2021, 3, 1, 9, 15, 0), "client", "pat_traveller", "AcmeAirHelp", "1366316025246650369"),
        ("fxA1", utc(2021, 3, 1, 9, 20, 30), "agent", "pat_traveller", "AcmeAirHelp", "1366317409366970369"),
        ("fxA1", utc(2021, 3, 1, 9, 41, 7), "client1", "pat_traveller", "AcmeAirHelp", "1366322597721018369"),
        # verified snowflakes, duration agrees: the reply's tweet time
        ("fxA1", utc(2021, 3, 1, 10, 2, 44), "agent", "pat_traveller", "AcmeAirHelp", "1366328037733306369"),
        ("fxB2", utc(2021, 3, 2, 8, 0, 0), "client", "sam_k", "ExampleTelcoCare", "900001"),
        # days part: 2-03:04:05 after the start
        ("fxB2", utc(2021, 3, 4, 11, 4, 5), "agent", "sam_k", "ExampleTelcoCare", "900002"),
        ("fxC3", utc(2021, 3, 5, 12, 0, 0), "client", "lee_m", "ExampleTelcoCare", "900010"),
        ("fxC3", utc(2021, 3, 5, 12, 5, 0), "client", "lee_m", "ExampleTelcoCare", "900011"),
        # -00:12:03, no snowflake to go by: kept as recorded, before the dialog start
        ("fxC3", utc(2021, 3, 5, 11, 47, 57), "agent", "lee_m", "ExampleTelcoCare", "900012"),
        ("fxD4", utc(2021, 3, 3, 22, 40, 10), "client", "jo_b", "ShopExampleHelp", "1367243427804090369"),
        # -06:30:21 is 13 days 06:30:21 with the day count cut off: the tweet ID's time
        ("fxD4", utc(2021, 3, 17, 5, 10, 31), "agent", "jo_b", "ShopExampleHelp", "1372052704850874369"),
    ]
    assert [x["tweet"][:16] for x in rows(out)][1] == "@pat_traveller S"
    assert pq.read_schema(out).field("posted_at").type.tz == "UTC"
    err = r.stderr.splitlines()
    assert "import_twitter_care: 4 dialogs, 11 messages" in err
    assert "import_twitter_care: durations: 1 with a day part, 2 negative" in err
    assert ("import_twitter_care: final replies (tweet-id): 2 at their tweet ID's time, "
            "2 at conversationDateTime + duration as recorded") in err
    assert ("import_twitter_care: recorded duration disagrees with the tweet ID's time: 1 "
            "(1 of them only by a lost day count)") in err
    assert ("import_twitter_care: final reply before the dialog start: 1 (kept as recorded, "
            "e.g. fxC3 (-00:12:03.)); before the dialog's last tweet: 0") in err


def test_twitter_fixture_duration_mode(tmp_path):
    out = tmp_path / "twitter.parquet"
    r = run("scripts/import_twitter_care.py", TWITTER_FIXTURE, out, "--reply-time", "duration")
    assert r.returncode == 0, r.stderr
    replies = {x["session_id"]: x["posted_at"] for x in rows(out) if x["tweet_id"] in
               ("1366328037733306369", "900002", "900012", "1372052704850874369")}
    assert replies == {
        "fxA1": utc(2021, 3, 1, 10, 2, 44),
        "fxB2": utc(2021, 3, 4, 11, 4, 5),
        "fxC3": utc(2021, 3, 5, 11, 47, 57),
        "fxD4": utc(2021, 3, 3, 16, 9, 49),  # 22:40:10 - 06:30:21: the sign covers the hours too
    }
    assert "final reply before the dialog start: 2 (kept as recorded" in r.stderr


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d[2]["dialogHeader"].update(duration="12 minutes"),
     "dialog 2 (sessionID fxC3): dialogHeader.duration: not a duration"),
    (lambda d: d[1]["dialogHeader"].pop("conversationDateTime"),
     "dialog 1 (sessionID fxB2): dialogHeader: missing field 'conversationDateTime'"),
    (lambda d: d[0]["dialogContent"][1].pop("agent"),
     "dialog 0 (sessionID fxA1): dialogContent[1]: no author field"),
    (lambda d: d[3].pop("agentURL"), "dialog 3 (sessionID fxD4): missing field 'agentURL'"),
])
def test_twitter_malformed(tmp_path, mutate, message):
    data = json.loads(TWITTER_FIXTURE.read_text())
    mutate(data)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    r = run("scripts/import_twitter_care.py", bad, tmp_path / "x.parquet")
    assert r.returncode == 2
    assert f"{bad}: {message}" in r.stderr
    assert not (tmp_path / "x.parquet").exists()


def test_twitter_fixture_analyzes(tmp_path):
    out = tmp_path / "twitter.parquet"
    assert run("scripts/import_twitter_care.py", TWITTER_FIXTURE, out).returncode == 0
    m = convoqa_analyze(tmp_path, out, config=ROOT / "tests/fixtures/twitter_care.toml")
    assert m["rows"]["messages"]["rows_used"] == 11
    assert m["conversations_out"] == 4


@pytest.mark.parametrize("name", ["dev.json", "test.json"])
def test_twitter_real_export(tmp_path, name):
    """The real IBM files in the team's shared data (skipped where absent). Their texts never
    enter the repository; only counts are asserted, recounted here from the JSON."""
    src = SHARED / name
    if not src.exists():
        pytest.skip(f"{src} not found")
    data = json.loads(src.read_text())
    durations = [d["dialogHeader"]["duration"] for d in data]
    n_messages = sum(len(d["dialogContent"]) + 1 for d in data)
    n_days = sum(bool(twitter.DURATION.match(x).group(2)) for x in durations)
    n_negative = sum(x.startswith("-") for x in durations)
    if name == "dev.json":
        assert (len(data), n_messages, n_days, n_negative) == (525, 1211, 0, 22)
    out = tmp_path / "twitter.parquet"
    r = run("scripts/import_twitter_care.py", src, out)
    assert r.returncode == 0, r.stderr
    assert f"import_twitter_care: {len(data)} dialogs, {n_messages} messages" in r.stderr
    assert f"durations: {n_days} with a day part, {n_negative} negative" in r.stderr
    t = rows(out)
    assert len(t) == n_messages
    start = {d["dialogHeader"]["sessionID"]: twitter.parse_time(d["dialogHeader"]["conversationDateTime"]) for d in data}
    replies = {d["agentURL"]["tweet_ID"]: d["dialogHeader"]["sessionID"] for d in data}
    early = sum(1 for x in t if x["tweet_id"] in replies and x["posted_at"] < start[x["session_id"]])
    assert f"final reply before the dialog start: {early}" in r.stderr
    if name == "dev.json":
        assert early == 0  # every reply placed by its verified tweet ID
        assert "525 at their tweet ID's time, 0 at conversationDateTime" in r.stderr
    if os.environ.get("CONVOQA_BIN"):
        convoqa_analyze(tmp_path, out, config=ROOT / "tests/fixtures/twitter_care.toml")


# ---------------------------------------------------------------- WhatsApp Cloud API webhook log

WA_FIXTURE = FIXTURES / "whatsapp_cloud.jsonl"
WA_A1 = "wa:109900000000001:6281234500001:20260101T090000Z"
WA_A2 = "wa:109900000000001:6281234500001:20260103T090000Z"
WA_B1 = "wa:109900000000001:6281234500002:20260102T080000Z"


def test_whatsapp_fixture_rows(tmp_path):
    r = run("scripts/import/whatsapp_cloud.py", WA_FIXTURE, tmp_path)
    assert r.returncode == 0, r.stderr
    got = [(x["conversation_id"], x["sent_at"], x["sender_role"], x["agent_id"], x["message_id"],
            x["is_auto_reply"], x["text"]) for x in rows(tmp_path / "messages.parquet")]
    assert got == [
        (WA_A1, utc(2026, 1, 1, 9, 0, 0), "customer", None, "wamid.IN1", False, "Halo, pesanan saya #A1001 belum sampai"),
        # the webhook delivered twice: both kept, convoqa drops the copy
        (WA_A1, utc(2026, 1, 1, 9, 0, 0), "customer", None, "wamid.IN1", False, "Halo, pesanan saya #A1001 belum sampai"),
        (WA_A1, utc(2026, 1, 1, 9, 0, 5), "bot", None, "wamid.OUT1", True,
         "Terima kasih telah menghubungi kami, agen kami akan segera membalas."),
        # no logged_at: the time of its "sent" status
        (WA_A1, utc(2026, 1, 1, 9, 5, 0), "agent", "agent-7", "wamid.OUT2", False,
         "Halo Kak Rina, paket #A1001 sedang di gudang transit dan tiba besok."),
        (WA_A1, utc(2026, 1, 1, 9, 6, 40), "customer", None, "wamid.IN2", False, None),  # image, no caption
        # 48 h later: a new conversation of the same thread
        (WA_A2, utc(2026, 1, 3, 9, 0, 0), "customer", None, "wamid.IN3", False, "Sudah sampai"),
        (WA_A2, utc(2026, 1, 3, 9, 1, 40), "agent", None, "wamid.ECHO1", False, "Syukurlah, terima kasih Kak!"),
        (WA_B1, utc(2026, 1, 2, 8, 0, 0), "customer", None, "wamid.IN4", False, "Bisa ganti alamat pengiriman?"),
        (WA_B1, utc(2026, 1, 2, 8, 4, 0), "agent", "agent-3", "wamid.OUT4", False, "Bisa Kak, mohon kirim alamat barunya."),
    ]
    t = rows(tmp_path / "messages.parquet")
    assert {x["channel"] for x in t} == {"whatsapp"}
    assert [x["customer_id"] for x in t] == ["6281234500001"] * 7 + ["6281234500002"] * 2
    assert r.stderr.splitlines() == [
        f"whatsapp_cloud: 9 messages in 3 conversations (2 customer threads, cut at 24 h gaps) -> {tmp_path / 'messages.parquet'}",
        "whatsapp_cloud: read: 5 inbound, 4 outbound logged, 1 echoes, 6 statuses",
        "whatsapp_cloud: dropped: 1 failed outbound, 1 reactions, 0 request_welcome; 1 statuses name a message not in the log",
    ]
    assert not (tmp_path / "conversations.parquet").exists()


def test_whatsapp_gap_hours(tmp_path):
    r = run("scripts/import/whatsapp_cloud.py", WA_FIXTURE, tmp_path, "--gap-hours", "0")
    assert r.returncode == 0, r.stderr
    ids = [x["conversation_id"] for x in rows(tmp_path / "messages.parquet")]
    assert ids == ["wa:109900000000001:6281234500001"] * 7 + ["wa:109900000000001:6281234500002"] * 2
    r = run("scripts/import/whatsapp_cloud.py", WA_FIXTURE, tmp_path, "--gap-hours", "72")
    assert len(set(x["conversation_id"] for x in rows(tmp_path / "messages.parquet"))) == 2


def test_whatsapp_directory_input(tmp_path):
    lines = WA_FIXTURE.read_text().splitlines(keepends=True)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "2026-01-01.jsonl").write_text("".join(lines[:8]))
    (tmp_path / "in" / "2026-01-02.jsonl").write_text("".join(lines[8:]))
    r = run("scripts/import/whatsapp_cloud.py", tmp_path / "in", tmp_path / "out")
    assert r.returncode == 0, r.stderr
    assert len(rows(tmp_path / "out" / "messages.parquet")) == 9


@pytest.mark.parametrize("line,mutate,message", [
    (0, lambda o: o["entry"][0]["changes"][0]["value"]["messages"][0].pop("timestamp"),
     "line 1: entry[0].changes[0].value.messages[0]: missing field 'timestamp'"),
    (0, lambda o: o["entry"][0]["changes"][0]["value"]["messages"][0].update(timestamp="yesterday"),
     "line 1: entry[0].changes[0].value.messages[0]: timestamp: not unix seconds: \"yesterday\""),
    (3, lambda o: o["response"].update(messages=[]), "line 4: response: 'messages' is empty"),
    (1, lambda o: o.update(sender={"role": "robot"}), "line 2: sender.role must be agent, bot or system"),
    (2, lambda o: o.pop("object"), "line 3: neither a webhook payload"),
])
def test_whatsapp_malformed(tmp_path, line, mutate, message):
    lines = [json.loads(x) for x in WA_FIXTURE.read_text().splitlines()]
    mutate(lines[line])
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(json.dumps(x) + "\n" for x in lines))
    r = run("scripts/import/whatsapp_cloud.py", bad, tmp_path / "out")
    assert r.returncode == 2
    assert f"whatsapp_cloud: error: {bad}: {message}" in r.stderr
    assert not (tmp_path / "out").exists()


def test_whatsapp_not_json(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(WA_FIXTURE.read_text().splitlines()[0] + "\n{not json\n")
    r = run("scripts/import/whatsapp_cloud.py", bad, tmp_path / "out")
    assert r.returncode == 2 and f"{bad}: line 2: not JSON" in r.stderr


def test_whatsapp_analyzes(tmp_path):
    assert run("scripts/import/whatsapp_cloud.py", WA_FIXTURE, tmp_path).returncode == 0
    m = convoqa_analyze(tmp_path, tmp_path / "messages.parquet")
    assert m["rows"]["messages"]["duplicates_dropped"] == 1
    assert m["rows"]["messages"]["rows_used"] == 8
    assert m["conversations_out"] == 3
    conv = {c["conversation_id"]: c for c in rows(m["_out"] / "conversations.parquet")}
    assert conv[WA_A1]["frt_total_s"] == 5.0  # the bot's auto-reply
    assert conv[WA_A1]["frt_human_s"] == 300.0
    assert conv[WA_B1]["frt_human_s"] == 240.0


# ---------------------------------------------------------------- Chatwoot

CW_FIXTURE = FIXTURES / "chatwoot"


def test_chatwoot_fixture_rows(tmp_path):
    r = run("scripts/import/chatwoot.py", CW_FIXTURE, tmp_path)
    assert r.returncode == 0, r.stderr
    got = [(x["conversation_id"], x["message_id"], x["sent_at"], x["sender_role"], x["agent_id"],
            x["is_auto_reply"], x["customer_id"], x["channel"]) for x in rows(tmp_path / "messages.parquet")]
    T, U, V = utc(2026, 1, 5, 9), utc(2026, 1, 6, 14), utc(2026, 1, 7, 8)
    assert got == [
        ("101", "1001", T, "customer", None, False, "501", "whatsapp"),
        ("101", "1002", T + td(seconds=2), "bot", None, True, "501", "whatsapp"),        # template: greeting
        ("101", "1003", T + td(seconds=3), "system", None, False, "501", "whatsapp"),    # activity
        ("101", "1004", T + td(minutes=4), "agent", "11", False, "501", "whatsapp"),
        ("101", "1005", T + td(minutes=6), "system", None, False, "501", "whatsapp"),    # private note
        ("101", "1006", T + td(minutes=15), "agent", "11", False, "501", "whatsapp"),
        ("101", "1007", T + td(minutes=16), "customer", None, False, "501", "whatsapp"),
        ("101", "1008", T + td(minutes=17), "system", None, False, "501", "whatsapp"),
        ("101", "1009", T + td(minutes=17, seconds=1), "bot", None, True, "501", "whatsapp"),  # CSAT survey
        ("102", "2001", U, "customer", None, False, "502", "live_chat"),
        ("102", "2002", U + td(seconds=1), "bot", None, False, "502", "live_chat"),      # agent_bot
        ("102", "2003", U + td(minutes=1), "customer", None, False, "502", "live_chat"),
        ("102", "2004", U + td(minutes=10), "agent", "12", False, "502", "live_chat"),
        ("102", "2005", U + td(minutes=30), "bot", None, True, "502", "live_chat"),
        ("103", "3001", V, "customer", None, False, "503", "email"),                    # "incoming" as a string
        ("103", "3002", V + td(minutes=30), "agent", None, False, "503", "email"),      # outgoing, no sender
    ]
    assert rows(tmp_path / "messages.parquet")[0]["text"] == "Halo, tagihan saya dobel bulan ini"
    conv = rows(tmp_path / "conversations.parquet")
    assert conv == [
        dict(conversation_id="101", customer_id="501", channel="whatsapp", status="resolved", created_at=T,
             resolved_at=None, csat_score=4.0, team="Billing"),
        dict(conversation_id="102", customer_id="502", channel="live_chat", status="pending", created_at=U,
             resolved_at=None, csat_score=2.0, team=None),  # snoozed; rating from the input_csat message
        dict(conversation_id="103", customer_id="503", channel="email", status="open", created_at=V,
             resolved_at=None, csat_score=None, team=None),
    ]
    assert r.stderr.splitlines() == [
        f"chatwoot: 16 messages (5 customer, 4 agent, 4 bot, 3 system), 3 conversations -> {tmp_path}",
        "chatwoot: csat: 1 from surveys, 1 from input_csat messages, 1 without",
        "chatwoot: 1 outgoing without a sender (agent, no agent_id), 1 private notes",
    ]


def test_chatwoot_survey_wins_over_chat_rating(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for f in CW_FIXTURE.iterdir():
        (src / f.name).write_text(f.read_text())
    (src / "csat_survey_responses.json").write_text(json.dumps([
        {"id": 1, "rating": 5, "conversation_id": 101}, {"id": 2, "rating": 1, "conversation_id": 102}]))
    assert run("scripts/import/chatwoot.py", src, tmp_path / "out").returncode == 0
    assert [c["csat_score"] for c in rows(tmp_path / "out" / "conversations.parquet")] == [5.0, 1.0, None]
    (src / "csat_survey_responses.json").unlink()
    assert run("scripts/import/chatwoot.py", src, tmp_path / "out").returncode == 0
    assert [c["csat_score"] for c in rows(tmp_path / "out" / "conversations.parquet")] == [4.0, 2.0, None]


@pytest.mark.parametrize("file,mutate,message", [
    ("messages.json", lambda d: d[0]["payload"][3].update(message_type=7),
     "messages.json: response 0: payload[3] (message 1004): message_type must be 0-3"),
    ("messages.json", lambda d: d[1]["payload"][0].pop("created_at"),
     "messages.json: response 1: payload[0] (message 2001): missing field 'created_at'"),
    ("messages.json", lambda d: d[1]["payload"][1]["sender"].update(type="robot"),
     "messages.json: response 1: payload[1] (message 2002): sender.type 'robot' on an outgoing message"),
    ("conversations.json", lambda d: d["data"]["payload"][1].update(status="archived"),
     "conversations.json: data.payload[1] (conversation 102): status must be one of open, resolved, pending, snoozed"),
    ("conversations.json", lambda d: d["data"]["payload"][2].update(id=101),
     "conversations.json: data.payload[2] (conversation 101): id repeated"),
    ("csat_survey_responses.json", lambda d: d[0].update(rating=9),
     "csat_survey_responses.json: item 0: rating must be 1-5, got 9"),
])
def test_chatwoot_malformed(tmp_path, file, mutate, message):
    src = tmp_path / "in"
    src.mkdir()
    for f in CW_FIXTURE.iterdir():
        data = json.loads(f.read_text())
        if f.name == file:
            mutate(data)
        (src / f.name).write_text(json.dumps(data))
    r = run("scripts/import/chatwoot.py", src, tmp_path / "out")
    assert r.returncode == 2
    assert f"chatwoot: error: {src}/{message}" in r.stderr
    assert not (tmp_path / "out").exists()


def test_chatwoot_missing_file(tmp_path):
    r = run("scripts/import/chatwoot.py", tmp_path, tmp_path / "out")
    assert r.returncode == 2 and f"{tmp_path}/conversations.json: cannot read" in r.stderr


def test_chatwoot_analyzes(tmp_path):
    assert run("scripts/import/chatwoot.py", CW_FIXTURE, tmp_path).returncode == 0
    m = convoqa_analyze(tmp_path, tmp_path / "messages.parquet", conversations=tmp_path / "conversations.parquet")
    assert m["rows"]["messages"]["rows_used"] == 16
    assert m["rows"]["conversations"]["rows_used"] == 3
    conv = {c["conversation_id"]: c for c in rows(m["_out"] / "conversations.parquet")}
    assert (conv["101"]["frt_total_s"], conv["101"]["frt_human_s"]) == (2.0, 240.0)
    assert (conv["102"]["had_bot"], conv["102"]["handed_over"], conv["102"]["frt_human_s"]) == (True, True, 600.0)
    assert conv["101"]["resolved_by"] == "status" and conv["103"]["resolved_at"] is None
    assert [conv[c]["csat_score"] for c in ("101", "102", "103")] == [4.0, 2.0, None]


# ---------------------------------------------------------------- Zendesk

ZD_FIXTURE = FIXTURES / "zendesk"


def copy_tree(src, dst, mutate=None):
    """Copies a fixture folder, applying mutate(relative_path, data) to the JSON files."""
    for f in src.rglob("*.json"):
        data = json.loads(f.read_text())
        rel = f.relative_to(src).as_posix()
        if mutate:
            mutate(rel, data)
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        (dst / rel).write_text(json.dumps(data))
    return dst


def test_zendesk_fixture_rows(tmp_path):
    r = run("scripts/import/zendesk.py", ZD_FIXTURE, tmp_path)
    assert r.returncode == 0, r.stderr
    got = [(x["conversation_id"], x["message_id"], x["sent_at"], x["sender_role"], x["agent_id"],
            x["customer_id"], x["channel"]) for x in rows(tmp_path / "messages.parquet")]
    assert got == [
        ("7001", "60001", utc(2026, 2, 2, 10, 0), "customer", None, "9001", "email"),
        ("7001", "60002", utc(2026, 2, 2, 10, 20), "system", None, "9001", "email"),    # private: internal note
        ("7001", "60003", utc(2026, 2, 2, 11, 5), "agent", "8001", "9001", "email"),    # +07:00 in the export
        ("7001", "60004", utc(2026, 2, 2, 15, 20), "customer", None, "9001", "email"),
        ("7003", "60008", utc(2026, 1, 20, 9, 0), "customer", None, "9004", "web_form"),
        ("7003", "60009", utc(2026, 1, 21, 9, 0), "agent", "8003", "9004", "web_form"),  # role guessed
        ("7002", "60005", utc(2026, 2, 3, 8, 0), "customer", None, "9002", "live_chat"),
        ("7002", "60006", utc(2026, 2, 3, 8, 2), "customer", None, "9002", "live_chat"),  # a CC'd end-user
        ("7002", "60007", utc(2026, 2, 3, 8, 3, 30), "agent", "8002", "9002", "live_chat"),  # an admin
    ]
    assert rows(tmp_path / "messages.parquet")[2]["text"] == "Thanks Kim, we corrected it; the new invoice is attached."
    assert rows(tmp_path / "conversations.parquet") == [
        # returned twice by the incremental export: the later (solved, rated good) version
        dict(conversation_id="7001", customer_id="9001", channel="email", status="resolved",
             created_at=utc(2026, 2, 2, 10), resolved_at=utc(2026, 2, 2, 15, 30), csat_score=5.0, team="Tier 1"),
        dict(conversation_id="7003", customer_id="9004", channel="web_form", status="closed",
             created_at=utc(2026, 1, 20, 9), resolved_at=utc(2026, 1, 21, 9, 5), csat_score=1.0, team=None),
        dict(conversation_id="7002", customer_id="9002", channel="live_chat", status="open",
             created_at=utc(2026, 2, 3, 8), resolved_at=None, csat_score=None, team="Chat"),  # "offered"
    ]
    assert r.stderr.splitlines() == [
        f"zendesk: 9 messages (5 customer, 3 agent, 1 system), 3 tickets -> {tmp_path}",
        "zendesk: csat: 2 answered, 1 without",
        "zendesk: 1 comments whose author's role was guessed (requester -> customer, else agent), "
        "1 deleted tickets skipped, 1 private comments (internal notes), 1 tickets repeated by the export (latest kept)",
    ]


def test_zendesk_without_users_guesses_by_requester(tmp_path):
    def strip_users(rel, data):
        for page in data if isinstance(data, list) else [data]:
            page.pop("users", None)
    src = copy_tree(ZD_FIXTURE, tmp_path / "in", strip_users)
    r = run("scripts/import/zendesk.py", src, tmp_path / "out")
    assert r.returncode == 0, r.stderr
    roles = {x["message_id"]: x["sender_role"] for x in rows(tmp_path / "out" / "messages.parquet")}
    assert roles["60006"] == "agent"  # the CC'd end-user, taken for an agent without the user list
    assert "9 comments whose author's role was guessed" in r.stderr


@pytest.mark.parametrize("file,mutate,message", [
    ("tickets.json", lambda d: d[1]["tickets"][0].update(status="escalated"),
     "tickets.json: response 1: tickets[0] (ticket 7002): status must be one of new, open, pending, hold, solved, closed"),
    ("tickets.json", lambda d: d[0]["tickets"][1].update(created_at="20/01/2026"),
     "tickets.json: response 0: tickets[1] (ticket 7003): created_at: not an ISO-8601 time"),
    ("tickets.json", lambda d: d[0]["tickets"][1].update(satisfaction_rating={"score": "meh"}),
     "tickets.json: response 0: tickets[1] (ticket 7003): satisfaction_rating.score must be"),
    ("comments/7003.json", lambda d: d[1]["comments"][0].pop("author_id"),
     "comments/7003.json: response 1: comments[0] (comment 60009): missing field 'author_id'"),
    ("comments/7001.json", lambda d: d["comments"][1].update(public="no"),
     "comments/7001.json: comments[1] (comment 60002): field 'public' must be a boolean"),
    ("comments/7002.json", lambda d: d["comments"][2].update(created_at="2026-02-03 08:03:30"),
     "comments/7002.json: comments[2] (comment 60007): created_at: time without a zone"),
])
def test_zendesk_malformed(tmp_path, file, mutate, message):
    src = copy_tree(ZD_FIXTURE, tmp_path / "in", lambda rel, d: mutate(d) if rel == file else None)
    r = run("scripts/import/zendesk.py", src, tmp_path / "out")
    assert r.returncode == 2
    assert f"zendesk: error: {src}/{message}" in r.stderr
    assert not (tmp_path / "out").exists()


def test_zendesk_analyzes(tmp_path):
    assert run("scripts/import/zendesk.py", ZD_FIXTURE, tmp_path).returncode == 0
    m = convoqa_analyze(tmp_path, tmp_path / "messages.parquet", conversations=tmp_path / "conversations.parquet")
    assert m["rows"]["messages"]["rows_used"] == 9
    assert m["rows"]["conversations"]["rows_used"] == 3
    conv = {c["conversation_id"]: c for c in rows(m["_out"] / "conversations.parquet")}
    assert conv["7001"]["frt_human_s"] == 3900.0  # the internal note is not a reply
    assert conv["7001"]["resolved_at"] == utc(2026, 2, 2, 15, 30)
    assert [conv[t]["primary_agent_id"] for t in ("7001", "7002", "7003")] == ["8001", "8002", "8003"]
    assert [conv[t]["csat_score"] for t in ("7001", "7002", "7003")] == [5.0, None, 1.0]
