"""Helpers for the hostile-input tests: run the CLI in-process, read back what a run accounted for."""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from curate.cli import main
from curate.store import layout
from tests.conftest import data_dir, read_stats

PIPELINE = "name: hostile\nstages:\n  - stage: normalize\n"


@dataclass
class Outcome:
    code: int
    stderr: str
    out: Path

    @property
    def stats(self) -> dict:
        return read_stats(self.out)

    @property
    def errors(self) -> list[dict]:
        path = self.out / layout.ERRORS
        return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []

    def kept_ids(self) -> list[str]:
        """Every id written, read with DuckDB (so the shards must be readable by another tool)."""
        glob = str(data_dir(self.out) / "part-*.parquet")
        return [r[0] for r in duckdb.sql(f"SELECT id FROM read_parquet('{glob}')").fetchall()]

    def error_line(self) -> str:
        lines = [x for x in self.stderr.splitlines() if x.startswith("error:")]
        assert len(lines) == 1, self.stderr
        return lines[0]


def run(tmp: Path, src: Path, policy: str, *flags: str) -> Outcome:
    """`curate run` on `src` with `--on-error policy`, in this process; returns exit code and stderr."""
    pipe = tmp / "hostile.yaml"
    pipe.write_text(PIPELINE)
    out = tmp / f"out-{policy}-{len(list(tmp.glob('out-*')))}"
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exit_:
        main(["run", str(pipe), "--input", str(src), "--output", str(out), "--workers", "1", "--quiet",
              "--on-error", policy, *flags])
    return Outcome(int(exit_.value.code or 0), err.getvalue(), out)


def check_accounting(o: Outcome, good_ids: list[str], rows_in: int) -> None:
    """Exit 0, every undamaged row's id kept exactly once, and rows in = kept + rejected + errored."""
    assert o.code == 0, o.stderr
    kept = o.kept_ids()
    assert sorted(kept) == sorted(good_ids)
    assert len(kept) == len(set(kept))
    if not o.stats["stages"]:  # nothing at all was read
        assert rows_in == 0 and not o.errors
        return
    read = o.stats["stages"][0]
    assert read["stage"] == "read" and read["docs_in"] == rows_in
    for s in o.stats["stages"]:
        assert s["docs_in"] == s["docs_out"] + s["rejected_total"] + s["errored"], s
    row_errors = [e for e in o.errors if e["row"] is not None]
    assert read["errored"] == len(row_errors)
    assert o.stats["errors"] == len(o.errors)


def jsonl(path: Path, rows: list, raw: dict[int, bytes] | None = None) -> Path:
    """Write `rows` (dicts) as JSONL, replacing line i with raw bytes `raw[i]`."""
    raw = raw or {}
    lines = [raw.get(i, json.dumps(r).encode()) for i, r in enumerate(rows)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def docs(prefix: str, n: int) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": f"document {prefix} number {i}"} for i in range(n)]
