#!/usr/bin/env python3
"""convoqa on Apache Spark: the model and the per-conversation features run on the executors,
one partition of customers at a time, through `convoqa stream` (Arrow IPC in and out) inside
mapInArrow; the KPI tables are then computed by `convoqa kpis --rescore` over the
per-conversation rows, which are small (see docs/spark.md for when they stop being).

    spark-submit scripts/spark_job.py --messages s3://.../messages --out s3://.../convoqa \\
        --convoqa /opt/convoqa/bin/convoqa --kpis-out /data/convoqa/kpis

Writes OUT/conversations, OUT/messages and OUT/quarantine as Parquet (Spark part files), checks
that every input row is accounted for, then (unless --no-kpis) runs `convoqa kpis` on the driver
into --kpis-out (a local path: the KPI step runs on one machine). The convoqa binary, its model
files (models/) and the config must be at the same paths on every executor.
"""

import argparse
import os
import subprocess
import sys
import threading
import tomllib

import pyarrow as pa
import pyarrow.ipc as ipc
from pyspark.sql import SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema, to_arrow_schema
from pyspark import StorageLevel

# The stream's record types and the directories they are written to.
TABLES = {"conversation": "conversations", "message": "messages", "quarantine": "quarantine"}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--messages", nargs="+", required=True, help="Parquet messages: files or directories Spark can read")
    p.add_argument("--out", required=True, help="where the enriched tables are written (any Spark path)")
    p.add_argument("--convoqa", default="convoqa", help="the convoqa binary, at this path on every executor")
    p.add_argument("--config", help="convoqa TOML config (column names, model paths), same path on every executor")
    p.add_argument("--as-of", help="RFC 3339 moment to judge at; default: the latest sent_at of rows with a conversation_id")
    p.add_argument("--no-model", action="store_true", help="KPIs only, no sentiment or intent")
    p.add_argument("--partitions", type=int, default=0, help="number of customer partitions (default: Spark's default parallelism)")
    p.add_argument("--kpis-out", help="local directory for `convoqa kpis` (default: OUT/kpis when OUT is local)")
    p.add_argument("--no-kpis", action="store_true", help="stop after the enriched tables")
    return p.parse_args()


def column_names(config_path):
    """convoqa's logical message columns -> the export's names, from the config's [columns.messages]."""
    names = {"conversation_id": "conversation_id", "customer_id": "customer_id", "sent_at": "sent_at"}
    if config_path:
        with open(config_path, "rb") as f:
            configured = tomllib.load(f).get("columns", {}).get("messages", {})
        names.update({k: v for k, v in configured.items() if k in names})
    return names


def convoqa_command(args, as_of):
    cmd = [args.convoqa, "stream", "--as-of", as_of]
    if args.config:
        cmd += ["--config", args.config]
    if args.no_model:
        cmd.append("--no-model")
    return cmd


def run_convoqa(cmd, schema, batches):
    """Feeds `batches` to `convoqa stream` and yields its output batches, unsigned integers cast
    to int64 (Spark has no unsigned types). A failure raises with convoqa's own message, which
    says what was wrong and how to fix it."""
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    errors = []

    def feed():
        try:
            with ipc.new_stream(proc.stdin, schema) as writer:
                for b in batches:
                    writer.write_batch(b)
        except BrokenPipeError:
            pass  # convoqa stopped reading: its exit code and stderr say why
        except Exception as e:  # noqa: BLE001 - reported below with convoqa's stderr
            errors.append(e)
        finally:
            proc.stdin.close()

    stderr = []
    feeder = threading.Thread(target=feed)
    reader = threading.Thread(target=lambda: stderr.append(proc.stderr.read()))
    feeder.start()
    reader.start()
    out = []
    try:
        for batch in ipc.open_stream(proc.stdout):
            out.append(signed(batch))
    except pa.ArrowInvalid:
        pass  # no stream: convoqa failed before writing; reported below
    feeder.join()
    reader.join()
    code = proc.wait()
    if code != 0 or errors:
        raise RuntimeError(f"convoqa stream exited {code}: {b''.join(stderr).decode(errors='replace')} {errors}")
    return out


def signed(batch):
    cols, fields = [], []
    for field, col in zip(batch.schema, batch.columns):
        if pa.types.is_unsigned_integer(field.type):
            field = field.with_type(pa.int64())
            col = col.cast(pa.int64())
        fields.append(field)
        cols.append(col)
    return pa.RecordBatch.from_arrays(cols, schema=pa.schema(fields))


def main():
    args = parse_args()
    # Local mode: the Python workers are this interpreter (with pyarrow); on a cluster the
    # submitter sets PYSPARK_PYTHON to the executors' environment.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.appName("convoqa")
        .config("spark.sql.session.timeZone", "UTC")
        # Parquet timestamps as INT64 microseconds (not the legacy INT96), as convoqa writes them.
        .config("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")
        .getOrCreate()
    )
    names = column_names(args.config)
    messages = spark.read.parquet(*args.messages)
    rows_in = messages.count()

    conv, cust, sent = F.col(names["conversation_id"]), F.col(names["customer_id"]), F.col(names["sent_at"])
    if args.as_of:
        as_of = args.as_of
    else:
        # Formatted in Spark (session time zone UTC): collected datetimes would be local time.
        latest = F.date_format(F.max(sent.cast("timestamp")), "yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'")
        as_of = messages.where(conv.isNotNull() & (F.trim(conv) != "")).agg(latest).first()[0]
        if as_of is None:
            sys.exit("no message has a conversation_id and a readable sent_at: pass --as-of")
    print(f"convoqa on Spark: {rows_in} message rows, as_of {as_of}", file=sys.stderr)

    # The partition key is a conversation's customer (its first non-null customer_id), else the
    # conversation itself, as `analyze --shard`: a customer's conversations meet in one partition,
    # so reopens are linked, and a conversation is never split.
    key = F.coalesce(F.first(cust, ignorenulls=True).over(Window.partitionBy(conv)), conv)
    parts = args.partitions or spark.sparkContext.defaultParallelism
    keyed = messages.withColumn("_convoqa_key", key).repartition(parts, "_convoqa_key").drop("_convoqa_key")

    # The output schema, from convoqa itself: an empty stream of the input's schema.
    input_schema = to_arrow_schema(keyed.schema, timezone="UTC")
    cmd = convoqa_command(args, as_of)
    empty = run_convoqa(cmd, input_schema, [])
    out_schema = empty[0].schema if empty else None
    if out_schema is None:
        raise RuntimeError("convoqa stream wrote no schema for an empty input")
    spark_schema = from_arrow_schema(out_schema)

    def per_partition(batches):
        batches = [b for b in batches if b.num_rows]
        if not batches:
            return
        # The batches' own schema: Spark may hand over large or view string types.
        yield from run_convoqa(cmd, batches[0].schema, batches)

    enriched = keyed.mapInArrow(per_partition, spark_schema).persist(StorageLevel.DISK_ONLY)

    # Every input row is used, quarantined or dropped as a duplicate, in some partition.
    acc = enriched.where(F.col("record") == "accounting").agg(
        *[F.sum(c).alias(c) for c in ("rows_in", "rows_used", "rows_quarantined", "duplicates_dropped")]
    ).first()
    if acc["rows_in"] != rows_in or acc["rows_used"] + acc["rows_quarantined"] + acc["duplicates_dropped"] != rows_in:
        raise RuntimeError(f"row accounting failed: input {rows_in}, convoqa {acc.asDict()}")

    owners = {f.name: set((f.metadata or {}).get(b"convoqa_tables", b"").decode().split(",")) for f in out_schema}
    for table, directory in TABLES.items():
        cols = [c for c in out_schema.names if c != "record" and table in owners[c]]
        (enriched.where(F.col("record") == table).select(*cols)
         .write.mode("overwrite").parquet(os.path.join(args.out, directory)))
    print(
        f"rows: {rows_in} in, {acc['rows_used']} used, {acc['rows_quarantined']} quarantined, "
        f"{acc['duplicates_dropped']} duplicates dropped",
        file=sys.stderr,
    )
    enriched.unpersist()
    spark.stop()

    if args.no_kpis:
        return
    kpis_out = args.kpis_out or os.path.join(args.out, "kpis")
    cmd = [args.convoqa, "kpis", "--conversations", os.path.join(args.out, "conversations"),
           "--messages", os.path.join(args.out, "messages"), "--out", kpis_out, "--rescore"]
    if args.config:
        cmd += ["--config", args.config]
    subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
