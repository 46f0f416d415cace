"""Read curate's Parquet sinks with Apache Spark (run in the throwaway environment of `make
spark-check`, with pyspark and a Java 17 runtime): ``spark.read.parquet(SINK)`` gives exactly the
sink's rows, the zero-row shard of an empty task included (each shard is also read alone)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pyspark.sql import SparkSession


def main(out: str) -> int:
    expected = json.loads((Path(out) / "expected.json").read_text())
    spark = (SparkSession.builder.master("local[1]").appName("curate-spark-check")
             .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "1").getOrCreate())
    try:
        for sink, ids in expected.items():
            shards = sorted(p.name for p in Path(sink).iterdir())
            frame = spark.read.parquet(sink)
            got = sorted(row["id"] for row in frame.select("id").collect())
            assert got == sorted(ids), (sink, got, ids)
            assert frame.columns[:2] == ["id", "text"], frame.columns
            for shard in shards:  # each shard on its own, the empty one too
                spark.read.parquet(f"{sink}/{shard}").count()
            print(f"spark read {sink}: {len(got)} rows from {len(shards)} shards")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
