"""The CLI contract: --version, --help with defaults for every verb, one-line errors, exit codes.

--version and --help are click's output of the entry point and run in process (tests/in_process.py);
runs, whose workers write to the real stdout and stderr, run as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from curate import __version__
from curate.cli import VERBS
from tests.conftest import ROOT, env_with_repo, read_stats, write_parquet
from tests.in_process import curate as curate_in_process


def curate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env_with_repo(),
                          capture_output=True, text=True, timeout=300)


def test_version() -> None:
    r = curate_in_process("--version")
    assert r.returncode == 0 and __version__ in r.stdout


@pytest.mark.parametrize("verb", sorted(VERBS))
def test_every_verb_has_help_with_defaults(verb: str) -> None:
    r = curate_in_process(verb, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage: curate " + verb in r.stdout
    assert "--help" in r.stdout


def test_run_help_shows_defaults() -> None:
    out = " ".join(curate_in_process("run", "--help").stdout.split())  # unwrap click's columns
    assert "[default: local]" in out and "--on-error" in out and "(the CPUs this process may use)" in out
    assert "[default: (fail)]" in out


def test_run_prints_summary_and_stats_verb_reads_it(sample_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    r = curate("run", str(ROOT / "pipelines" / "foundation.yaml"), "--input", str(sample_dir), "--output", str(out),
               "--workers", "2")
    assert r.returncode == 0, r.stderr
    docs_out = read_stats(out)["docs_out"]
    assert "exact_dedup" in r.stderr and f"sink data (exact_dedup, parquet): {docs_out:,} documents in" in r.stderr
    s = curate("stats", str(out))
    assert s.returncode == 0 and "exact_dedup" in s.stdout and "docs in" in s.stdout
    j = curate("stats", str(out), "--json")
    assert json.loads(j.stdout)["stages"][0]["stage"] == "read"


def test_json_output_is_pure_json(sample_dir: Path, tmp_path: Path) -> None:
    r = curate("run", str(ROOT / "pipelines" / "foundation.yaml"), "--input", str(sample_dir), "--output",
               str(tmp_path / "o"), "--json", "--workers", "1")
    assert r.returncode == 0
    assert json.loads(r.stdout)["docs_in"] == 2000


def test_bad_config_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("stages:\n  - stage: length_filter\n    params: {min_chars: -5}\n")
    write_parquet(tmp_path / "in" / "a.parquet", {"id": ["a"], "text": ["x"]})
    r = curate("run", str(bad), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "line 2" in r.stderr and "min_chars" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_input_names_file_and_exits_2(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "broken.parquet").write_bytes(b"this is not parquet at all")
    r = curate("run", str(ROOT / "pipelines" / "foundation.yaml"), "--input", str(src), "--output",
               str(tmp_path / "out"))
    assert r.returncode == 2 and "broken.parquet" in r.stderr and "Traceback" not in r.stderr


def test_internal_failure_exits_1(tmp_path: Path) -> None:
    pipe = tmp_path / "p.yaml"
    pipe.write_text("stages:\n  - stage: tests.stages_for_tests:DropsRows\n")
    write_parquet(tmp_path / "in" / "a.parquet", {"id": ["a", "b"], "text": ["x y", "z w"]})
    r = curate("run", str(pipe), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"), "--workers", "1")
    assert r.returncode == 1 and "internal error" in r.stderr and "AccountingError" in r.stderr


def test_sample_data_verb_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert curate("sample-data", "--docs", "200", "--seed", "3", "--shards", "2", "--out", str(a)).returncode == 0
    assert curate("sample-data", "--docs", "200", "--seed", "3", "--shards", "2", "--out", str(b)).returncode == 0
    files = sorted(p.name for p in a.iterdir())
    assert files and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
