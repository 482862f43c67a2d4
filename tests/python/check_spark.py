"""The Spark job (scripts/spark_job.py, pyspark in local mode) against the single-process run over
the same input: the same per-conversation rows, the same enriched messages, the same quarantined
rows and the same KPI tables.

Usage: check_spark.py CONVOQA_BIN WORK_DIR MESSAGES_FILE... [--no-model]
Floats are compared with a tolerance of 1e-5 (sentiment and intent confidence depend on which
messages share an encoder batch, in the last f32 bits); everything else must be equal. Prints
'N passed, N failed'; exits 1 on any failure."""

import json
import math
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

args = [a for a in sys.argv[1:] if a != "--no-model"]
no_model = "--no-model" in sys.argv
convoqa, work, inputs = args[0], Path(args[1]), args[2:]
root = Path(__file__).resolve().parents[2]
passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name} {detail}")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout[-3000:], r.stderr[-6000:])
        sys.exit(f"failed ({r.returncode}): {' '.join(cmd)}")
    return r


flags = ["--no-model"] if no_model else []
single = work / "single"
run([convoqa, "analyze", "--messages", *inputs, "--out", str(single), "--quiet", *flags])
manifest = json.loads((single / "run_manifest.json").read_text())
as_of = manifest["as_of"]

spark = work / "spark"
run([sys.executable, str(root / "scripts/spark_job.py"), "--messages", *inputs, "--out", str(spark),
     "--convoqa", convoqa, "--as-of", as_of, "--partitions", "3", *flags])


def table(path):
    # Spark's part files, or one file; the column order of the single run's table.
    return ds.dataset(str(path), format="parquet", exclude_invalid_files=False).to_table()


def same_rows(name, expected, got, keys):
    check(f"{name}: row count", expected.num_rows == got.num_rows, f"{expected.num_rows} vs {got.num_rows}")
    missing = [c for c in expected.column_names if c not in got.column_names]
    check(f"{name}: columns", not missing, f"missing {missing}")
    if missing or expected.num_rows != got.num_rows:
        return
    got = got.select(expected.column_names)
    if keys:
        order = [(k, "ascending") for k in keys]
        expected, got = expected.sort_by(order), got.sort_by(order)
    for col in expected.column_names:
        a, b = expected[col], got[col]
        if pa.types.is_floating(a.type):
            a, b = a.to_pylist(), b.to_pylist()
            bad = [i for i, (x, y) in enumerate(zip(a, b))
                   if (x is None) != (y is None) or (x is not None and not (math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-5) or (math.isnan(x) and math.isnan(y))))]
            check(f"{name}.{col}", not bad, f"{len(bad)} rows differ, e.g. {a[bad[0]]} vs {b[bad[0]]}" if bad else "")
        else:
            # Spark writes counts as int64 and may normalise timestamp zones: compare values.
            if a.type != b.type:
                b = b.cast(a.type)
            check(f"{name}.{col}", a.equals(b), f"{a.type}: first difference at row {next((i for i, (x, y) in enumerate(zip(a.to_pylist(), b.to_pylist())) if x != y), '?')}")


same_rows("conversations", pq.read_table(single / "conversations.parquet"), pq.read_table(spark / "kpis/conversations.parquet"), ["conversation_id"])
same_rows("messages", pq.read_table(single / "messages.parquet"), table(spark / "messages"), ["conversation_id", "message_id"])
quarantine_single = pq.read_table(single / "quarantine.parquet")
quarantine_spark = table(spark / "quarantine") if (spark / "quarantine").exists() else None
check("quarantine: same reasons",
      quarantine_spark is not None and sorted(quarantine_single["reason"].to_pylist()) == sorted(quarantine_spark["reason"].to_pylist()))
for kpi in ["kpi_overall", "kpi_by_channel", "kpi_by_agent", "kpi_by_team", "kpi_by_day", "kpi_by_intent", "intent_resolution", "heatmap_hourly"]:
    expected = pq.read_table(single / f"{kpi}.parquet")
    got = pq.read_table(spark / f"kpis/{kpi}.parquet")
    if no_model:
        # Without the model nothing depends on batching: the files are byte-identical.
        check(f"{kpi}: byte-identical", (single / f"{kpi}.parquet").read_bytes() == (spark / f"kpis/{kpi}.parquet").read_bytes())
    same_rows(kpi, expected, got, [])  # both written by convoqa in its own row order

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
