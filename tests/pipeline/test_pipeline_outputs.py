"""Every pipeline in pipelines/ on the bundled sample gives the committed output, byte for byte.

For each Parquet file a run writes (kept shards and rejected rows, not the work store), the test
compares the row count, the ids in order and a digest of every column (its type and values) with
tests/expected/pipeline_outputs.json. A change meant to be invisible in the output (a faster
runner, a copy pass saved) must leave this test passing; a change that alters the output on
purpose regenerates the file with

    CURATE_UPDATE_EXPECTED=1 python -m pytest tests/pipeline/test_pipeline_outputs.py

and the diff of the JSON file shows which columns of which files moved. The default pipeline
runs with the small demo models the `default_pipeline` fixture trains (fastText training is
single-threaded and reproducible).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.store import layout
from tests.conftest import PIPELINES, SAMPLE, with_models

EXPECTED = Path(__file__).resolve().parents[1] / "expected" / "pipeline_outputs.json"
UPDATE = os.environ.get("CURATE_UPDATE_EXPECTED") == "1"


def _digest(values: object) -> str:
    return hashlib.sha256(repr(values).encode("utf-8")).hexdigest()[:16]


def output_digest(out: Path) -> dict[str, dict]:
    """{relative path: {rows, ids, columns: {name: [type, digest]}}} of every output Parquet file."""
    files = {}
    for path in sorted(out.rglob("*.parquet")):
        rel = path.relative_to(out).as_posix()
        if rel.startswith(f"{layout.WORK}/"):
            continue
        table = pq.read_table(path)
        files[rel] = {
            "rows": table.num_rows,
            "ids": _digest(table.column("id").to_pylist()),
            "columns": {name: [str(col.type), _digest(col.to_pylist())]
                        for name, col in zip(table.column_names, table.columns)},
        }
    return files


def _differences(expected: dict, actual: dict) -> list[str]:
    out = [f"{f}: missing" for f in expected if f not in actual]
    out += [f"{f}: not expected" for f in actual if f not in expected]
    for f in sorted(set(expected) & set(actual)):
        e, a = expected[f], actual[f]
        if e["rows"] != a["rows"] or e["ids"] != a["ids"]:
            out.append(f"{f}: rows {e['rows']} -> {a['rows']}, ids {'same' if e['ids'] == a['ids'] else 'differ'}")
        for col in sorted(set(e["columns"]) | set(a["columns"])):
            if e["columns"].get(col) != a["columns"].get(col):
                out.append(f"{f}: column {col} {e['columns'].get(col)} -> {a['columns'].get(col)}")
    return out


@pytest.mark.parametrize("name", sorted(p.stem for p in PIPELINES.glob("*.yaml")))
def test_pipeline_output_matches_the_committed_expectation(name: str, default_pipeline: Path,
                                                           tmp_path: Path) -> None:
    yaml_path = with_models(PIPELINES / f"{name}.yaml", default_pipeline.parent)
    out = tmp_path / "out"
    Pipeline.from_yaml(yaml_path).run(SAMPLE, out, workers=1, overwrite=True)
    actual = output_digest(out)
    assert actual and all(f["rows"] > 0 for f in actual.values())
    expected = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    if UPDATE:
        expected[name] = actual
        EXPECTED.parent.mkdir(parents=True, exist_ok=True)
        EXPECTED.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
        return
    assert name in expected, f"no expectation for pipelines/{name}.yaml: run with CURATE_UPDATE_EXPECTED=1"
    problems = _differences(expected[name], actual)
    assert not problems, "output changed:\n" + "\n".join(problems[:40])


def test_the_digest_sees_a_changed_value(tmp_path: Path) -> None:
    """The comparison notices one changed float in one column, and nothing else."""
    table = pa.table({"id": ["a", "b"], "score": [0.5, 0.25]})
    pq.write_table(table, tmp_path / "part-00000.parquet")
    before = output_digest(tmp_path)
    pq.write_table(table.set_column(1, "score", pa.array([0.5, 0.2500000001])), tmp_path / "part-00000.parquet")
    assert _differences(before, output_digest(tmp_path)) == [
        f"part-00000.parquet: column score {before['part-00000.parquet']['columns']['score']} -> "
        f"{output_digest(tmp_path)['part-00000.parquet']['columns']['score']}"]
