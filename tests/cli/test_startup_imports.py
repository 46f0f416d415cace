"""Start-up (issue 34): a command imports only what it uses. Not timed: the modules a fresh
process holds after the command are read from its sys.modules (bench/startup.py times them)."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.cli import SUMMARIES, VERBS
from tests.conftest import ROOT, env_with_repo

NEVER = ("pandas", "scipy", "matplotlib")

# runs `curate ARGS` in this process, then writes the top-level packages it imported to OUT
_CHILD = """
import json, sys
out, args = sys.argv[1], sys.argv[2:]
from curate.cli import main
try:
    main(args)
except SystemExit as exc:
    code = exc.code
with open(out, "w") as fh:
    json.dump({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}, fh)
"""


def imported_by(tmp_path: Path, *args: str) -> set[str]:
    """The top-level packages a fresh process has imported after `curate ARGS` (which must exit 0)."""
    out = tmp_path / "modules.json"
    r = subprocess.run([sys.executable, "-c", _CHILD, str(out), *args], cwd=ROOT, env=env_with_repo(),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    found = json.loads(out.read_text())
    assert found["code"] == 0, r.stderr
    return set(found["modules"])


def test_import_cli_imports_no_heavy_package(tmp_path: Path) -> None:
    code = "import json, sys, curate.cli; print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env_with_repo(), capture_output=True, text=True,
                       check=True)
    modules = set(json.loads(r.stdout))
    assert not modules & {*NEVER, "pyarrow", "numba", "duckdb"}


def test_help_imports_no_verb(tmp_path: Path) -> None:
    modules = imported_by(tmp_path, "--help")
    assert not modules & {*NEVER, "pyarrow", "numba", "duckdb"}


def test_one_document_dedup_imports_no_pandas_scipy_matplotlib(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    text = "The committee met on Tuesday to review the budget for the coming year, and agreed on it."
    pq.write_table(pa.table({"id": ["doc-0"], "text": [text]}), src / "part-0.parquet")
    modules = imported_by(tmp_path, "dedup", "--input", str(src), "--output", str(tmp_path / "out"), "--workers", "1",
                          "--quiet")
    assert "numba" in modules and "pyarrow" in modules  # it did run the kernels and read the table
    assert not modules & set(NEVER)
    assert pq.read_table(tmp_path / "out" / "data").num_rows == 1


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_summary_is_the_first_sentence_of_the_verbs_help(verb: str) -> None:
    """`curate --help` lists SUMMARIES instead of importing every verb: each must stay the first
    sentence of its command's own help."""
    module, _, attr = VERBS[verb].partition(":")
    command = getattr(importlib.import_module(module), attr)
    paragraph = re.sub(r"\s+", " ", command.help.split("\n\n")[0]).strip()
    assert paragraph.startswith(SUMMARIES[verb])
    rest = paragraph[len(SUMMARIES[verb]):]
    assert rest == "" or rest.startswith(" ")


def test_pyarrow_converts_pandas_objects_after_the_probe_was_answered() -> None:
    """In a process where the CLI answered pyarrow's pandas probe, importing pandas later restores
    pyarrow's pandas integration (curate/lean_imports.py)."""
    code = """
import sys
from curate.lean_imports import answer_pandas_probe
import pyarrow as pa
answer_pandas_probe()
pa.array([1, 2]); pa.scalar(1)
assert "pandas" not in sys.modules
import pandas as pd
assert pa.array(pd.Series([1.0, float("nan")])).null_count == 1
assert pa.table(pd.DataFrame({"a": [1, 2]})).num_rows == 2
assert pa.table({"a": [1]}).to_pandas()["a"].tolist() == [1]
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env_with_repo(), capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr


def test_numba_linear_algebra_still_works_after_import_numba() -> None:
    """numba imported by curate (SciPy hidden from its BLAS probe) still compiles np.dot, which
    imports SciPy's BLAS itself when it compiles."""
    code = """
import sys
import numpy as np
from curate.lean_imports import import_numba
numba = import_numba()
assert "scipy" not in sys.modules
@numba.njit
def product(a, b):
    return np.dot(a, b)
assert product(np.eye(2), np.full((2, 2), 3.0)).tolist() == [[3.0, 3.0], [3.0, 3.0]]
assert "scipy.linalg" in sys.modules
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env_with_repo(), capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
