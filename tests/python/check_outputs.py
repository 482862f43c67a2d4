"""Reads a convoqa output directory back with pyarrow, DuckDB and Polars, checks the types, and
recomputes the KPIs independently (SQL over the per-conversation and per-message tables, numpy for
quantiles). Usage: check_outputs.py OUT_DIR. Prints 'N passed, N failed'; exits 1 on any failure."""

import json
import math
import sys
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

out = Path(sys.argv[1])
passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def same(a, b, tol=1e-6):
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (b is None or (isinstance(b, float) and math.isnan(b)))
    return abs(float(a) - float(b)) <= tol * max(1.0, abs(float(b)))


TABLES = ["conversations", "messages", "kpi_overall", "kpi_by_channel", "kpi_by_agent", "kpi_by_team", "kpi_by_day", "kpi_by_intent", "intent_resolution", "qa_review", "voc_backlog", "heatmap_hourly", "quarantine"]
UTC_US = pa.timestamp("us", tz="UTC")

# 1. Types, read by pyarrow.
for t in TABLES:
    schema = pq.read_schema(out / f"{t}.parquet")
    for field in schema:
        n = field.name
        if n.endswith("_s") or n.endswith("_rate") or n.endswith("_pct") or n in ("nps", "ces_mean", "csat_score", "nps_score", "ces_score"):
            check(f"{t}.{n} is float64", field.type == pa.float64(), str(field.type))
        elif n.endswith("_at"):
            check(f"{t}.{n} is timestamp[us, UTC]", field.type == UTC_US, str(field.type))
        elif n in ("conversations", "messages", "customer_messages") or n.endswith("_conversations") or n.endswith("_responses"):
            check(f"{t}.{n} is an integer", pa.types.is_integer(field.type), str(field.type))
    if t == "kpi_by_day":
        check("kpi_by_day.day is a date", schema.field("day").type == pa.date32())

# 2. Polars reads every file with the same types.
for t in TABLES:
    df = pl.read_parquet(out / f"{t}.parquet")
    check(f"polars reads {t}", df.height >= 0)
conv_pl = pl.read_parquet(out / "conversations.parquet")
check("polars sees created_at as Datetime(us, UTC)", conv_pl.schema["created_at"] == pl.Datetime("us", "UTC"), str(conv_pl.schema["created_at"]))

# 3. DuckDB: recompute the overall and per-channel KPIs from conversations.parquet.
con = duckdb.connect()
con.execute(f"CREATE VIEW c AS SELECT * FROM read_parquet('{out / 'conversations.parquet'}')")
con.execute(f"CREATE VIEW m AS SELECT * FROM read_parquet('{out / 'messages.parquet'}', file_row_number = true)")
overall = pq.read_table(out / "kpi_overall.parquet").to_pylist()[0]

timings = ["frt_total", "frt_human", "frt_handover", "avg_response", "resolution", "handle"]
select = ", ".join(
    f"avg({t}_s) AS {t}_mean_s, quantile_cont({t}_s, 0.5) AS {t}_median_s, quantile_cont({t}_s, 0.9) AS {t}_p90_s" for t in timings
)
rates = """
  count(*) AS conversations, sum(messages) AS messages, sum(customer_messages) AS customer_messages,
  count(*) FILTER (fcr) * 1.0 / nullif(count(fcr), 0) AS fcr_rate,
  count(*) FILTER (reopened) * 1.0 / nullif(count(reopened), 0) AS reopen_rate,
  count(*) FILTER (handed_over) * 1.0 / nullif(count(*) FILTER (had_bot), 0) AS handover_rate,
  count(*) FILTER (bot_contained) * 1.0 / nullif(count(*) FILTER (had_bot), 0) AS bot_containment_rate,
  count(*) FILTER (csat_score >= 4) * 100.0 / nullif(count(csat_score), 0) AS csat_pct,
  count(csat_score) AS csat_responses,
  count(*) FILTER (csat_score <= 3) * 100.0 / nullif(count(csat_score), 0) AS low_csat_pct,
  avg(low_csat_risk) * 100.0 AS predicted_low_csat_pct,
  (count(*) FILTER (nps_score >= 9) - count(*) FILTER (nps_score <= 6)) * 100.0 / nullif(count(nps_score), 0) AS nps,
  avg(ces_score) AS ces_mean,
  count(*) FILTER (within_sla) * 100.0 / nullif(count(within_sla), 0) AS service_level_pct,
  count(*) FILTER (unanswered) AS unanswered_conversations,
  count(*) FILTER (resolved AND NOT fcr_mature) AS fcr_immature_conversations
"""
cur = con.execute(f"SELECT {select}, {rates} FROM c")
cols = [d[0] for d in cur.description]
recomputed = dict(zip(cols, cur.fetchone()))
for k, v in recomputed.items():
    check(f"kpi_overall.{k} = DuckDB", same(overall[k], v), f"convoqa {overall[k]} vs duckdb {v}")

by_channel = {r["channel"]: r for r in pq.read_table(out / "kpi_by_channel.parquet").to_pylist()}
cur = con.execute(f"SELECT channel, {select}, {rates} FROM c GROUP BY channel")
cols = [d[0] for d in cur.description]
for row in cur.fetchall():
    rec = dict(zip(cols, row))
    mine = by_channel[rec["channel"]]
    for k, v in rec.items():
        if k != "channel":
            check(f"kpi_by_channel[{rec['channel']}].{k}", same(mine[k], v), f"{mine[k]} vs {v}")

# numpy's default percentile is the definition for median and p90.
frt = con.execute("SELECT frt_human_s FROM c WHERE frt_human_s IS NOT NULL").fetchnumpy()["frt_human_s"]
check("frt_human median = numpy", same(overall["frt_human_median_s"], float(np.percentile(frt, 50))))
check("frt_human p90 = numpy", same(overall["frt_human_p90_s"], float(np.percentile(frt, 90))))

# 4. Per-conversation FRT recomputed from messages.parquet in SQL.
frt_sql = """
WITH firsts AS (
  SELECT conversation_id, min(file_row_number) FILTER (sender_role = 'customer') AS c0 FROM m GROUP BY conversation_id
), t0 AS (
  SELECT f.conversation_id, f.c0, m.sent_at AS t0 FROM firsts f JOIN m ON m.file_row_number = f.c0
), replies AS (
  SELECT t0.conversation_id,
    min(m.file_row_number) FILTER (m.sender_role IN ('agent', 'bot')) AS r_any,
    min(m.file_row_number) FILTER (m.sender_role = 'agent' AND NOT m.is_auto_reply) AS r_human
  FROM t0 JOIN m ON m.conversation_id = t0.conversation_id AND m.file_row_number > t0.c0
  GROUP BY t0.conversation_id
)
SELECT t0.conversation_id,
  epoch_us(a.sent_at - t0.t0) / 1e6 AS frt_total_s,
  epoch_us(h.sent_at - t0.t0) / 1e6 AS frt_human_s
FROM t0 LEFT JOIN replies r USING (conversation_id)
LEFT JOIN m a ON a.file_row_number = r.r_any
LEFT JOIN m h ON h.file_row_number = r.r_human
"""
con.execute(f"CREATE TABLE frt AS {frt_sql}")
mismatch = con.execute("""
  SELECT count(*) FROM c JOIN frt USING (conversation_id)
  WHERE coalesce(c.frt_total_s, -1) <> coalesce(frt.frt_total_s, -1) OR coalesce(c.frt_human_s, -1) <> coalesce(frt.frt_human_s, -1)
""").fetchone()[0]
n_frt = con.execute("SELECT count(*) FROM frt").fetchone()[0]
check("per-conversation frt_total_s and frt_human_s = SQL over messages", mismatch == 0 and n_frt > 0, f"{mismatch} of {n_frt} differ")

# 5. Heatmap: customer messages by weekday x hour (UTC here) add up to the customer messages.
heat_total = con.execute(f"SELECT sum(customer_messages) FROM read_parquet('{out / 'heatmap_hourly.parquet'}')").fetchone()[0]
cust = con.execute("SELECT count(*) FROM m WHERE sender_role = 'customer'").fetchone()[0]
check("heatmap sums to customer messages", heat_total == cust, f"{heat_total} vs {cust}")
cell = con.execute("""
  SELECT count(*) FROM m WHERE sender_role = 'customer' AND isodow(sent_at AT TIME ZONE 'UTC') = 1 AND hour(sent_at AT TIME ZONE 'UTC') = 9
""").fetchone()[0]
mine = con.execute(f"SELECT customer_messages FROM read_parquet('{out / 'heatmap_hourly.parquet'}') WHERE weekday = 1 AND hour = 9").fetchone()[0]
check("heatmap Monday 09:00 cell", cell == mine, f"{mine} vs {cell}")

# 6. intent_resolution: per-intent figures recomputed in SQL, Kruskal-Wallis with scipy.
ir = con.execute(f"SELECT * FROM read_parquet('{out / 'intent_resolution.parquet'}') ORDER BY intent").fetchall()
ir_cols = [d[0] for d in con.description]
ir_rows = [dict(zip(ir_cols, r)) for r in ir]
overall_median = con.execute("SELECT quantile_cont(resolution_s, 0.5) FROM c").fetchone()[0]
check("intent_resolution has one row per intent", len(ir_rows) == con.execute("SELECT count(DISTINCT intent) FROM c").fetchone()[0] and len(ir_rows) >= 3)
groups = []
for row in ir_rows:
    q = con.execute("""
      SELECT count(*), count(resolution_s), avg(resolution_s), quantile_cont(resolution_s, 0.5), quantile_cont(resolution_s, 0.9),
             quantile_cont(frt_human_s, 0.5), avg(fcr::int), avg(reopened::int), avg(handed_over::int) FILTER (WHERE had_bot),
             avg(ends_negative::int), 100.0 * avg((csat_score >= 4)::int)
      FROM c WHERE intent = ?""", [row["intent"]]).fetchone()
    names = ["conversations", "resolved_conversations", "resolution_mean_s", "resolution_median_s", "resolution_p90_s",
             "frt_human_median_s", "fcr_rate", "reopen_rate", "handover_rate", "ending_negative_rate", "csat_pct"]
    for name, want in zip(names, q):
        check(f"intent_resolution[{row['intent']}].{name}", same(row[name], want), f"{row[name]} vs {want}")
    ratio = None if q[3] is None else q[3] / overall_median
    check(f"intent_resolution[{row['intent']}].resolution_median_ratio", same(row["resolution_median_ratio"], ratio))
    values = [v for (v,) in con.execute("SELECT resolution_s FROM c WHERE intent = ? AND resolution_s IS NOT NULL", [row["intent"]]).fetchall()]
    if values:
        groups.append(values)
from scipy.stats import kruskal
h, p = kruskal(*groups)
n = sum(len(g) for g in groups)
first = ir_rows[0]
check("Kruskal-Wallis H = scipy", same(first["kruskal_wallis_h"], h, 1e-9), f"{first['kruskal_wallis_h']} vs {h}")
check("Kruskal-Wallis p = scipy", same(first["kruskal_wallis_p_value"], p, 1e-6) or abs(first["kruskal_wallis_p_value"] - p) < 1e-12, f"{first['kruskal_wallis_p_value']} vs {p}")
check("Kruskal-Wallis df and n", first["kruskal_wallis_df"] == len(groups) - 1 and first["kruskal_wallis_n"] == n)
check("epsilon squared = H / (n - 1)", same(first["epsilon_squared"], h / (n - 1), 1e-9))
check("the test is the same on every row", all(r["kruskal_wallis_h"] == first["kruskal_wallis_h"] for r in ir_rows))

# 7. Row accounting in the manifest.
manifest = json.loads((out / "run_manifest.json").read_text())
acc = manifest["rows"]["messages"]
check("rows_in = used + quarantined + duplicates", acc["rows_in"] == acc["rows_used"] + acc["rows_quarantined"] + acc["duplicates_dropped"])
check("messages.parquet has rows_used rows", pq.read_metadata(out / "messages.parquet").num_rows == acc["rows_used"])

print(f"check_outputs: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
