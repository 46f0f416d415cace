"""Write two curate runs for `make spark-check` (run with curate's environment): one without
``outputs:`` (the sink ``data/``) and one with a named Parquet sink, each over three tasks of which
the middle one keeps no row (a zero-row shard). OUT/expected.json maps each sink folder to its ids,
in shard order, for spark_read.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from curate.api import Pipeline
from tests.conftest import read_output, write_parquet


def main(out: str) -> int:
    root = Path(out).absolute()
    src = root / "in"
    for f, words in enumerate((12, 1, 12)):
        write_parquet(src / f"s{f}.parquet", {"id": [f"d{f}-{i}" for i in range(4)],
                                              "text": [" ".join(["word"] * (words + i)) for i in range(4)]})
    Pipeline("p").add("length_filter", min_words=5).run(src, root / "plain", workers=1, keep_rejected=True)
    Pipeline("p").add("length_filter", min_words=5).output("kept", "length_filter").run(src, root / "named", workers=1)
    expected = {str(root / run / sink): read_output(root / run, sink).column("id").to_pylist()
                for run, sink in (("plain", "data"), ("named", "kept"))}
    (root / "expected.json").write_text(json.dumps(expected))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
