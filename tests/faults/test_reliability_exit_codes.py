"""Exit codes (issue 35, finding 9): faults a user can cause are exit 2 with one line naming the
file, option or column, never exit 1 "internal error"; SIGTERM stops a run like Ctrl-C (exit 143,
a message, the lease released, --resume continues); a killed run leaves no temporary plan file."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.cli.common import storage_error
from curate.store.layout import LEASE
from tests.conftest import (
    ROOT,
    SAMPLE,
    data_dir,
    env_with_repo,
    read_errors,
    shard_ids,
    tmpfs,
    work_dir,
    write_parquet,
)
from tests.hostile import run
from tests.stages_for_tests import KILLABLE_PIPELINE

SIMPLE = "name: simple\nstages:\n  - stage: normalize\n"


def curate(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env or env_with_repo(),
                          capture_output=True, text=True, timeout=timeout)


def _error_line(r: subprocess.CompletedProcess) -> str:
    """The one stderr line of a refused run (and nothing that says internal error)."""
    assert r.returncode == 2, r.stderr
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    lines = [x for x in r.stderr.splitlines() if x.startswith("error:")]
    assert len(lines) == 1, r.stderr
    return lines[0]


def _simple(tmp: Path) -> str:
    pipe = tmp / "simple.yaml"
    pipe.write_text(SIMPLE)
    return str(pipe)


def _docs(path: Path, n: int = 5, **extra: list) -> Path:
    return write_parquet(path, {"id": [f"{path.stem}-{i}" for i in range(n)],
                                "text": [f"document {i} has some words" for i in range(n)], **extra})


# --------------------------------------------------------------------------- bad input, exit 2
def test_a_file_name_that_is_not_utf8_is_named_not_an_internal_error(tmp_path: Path) -> None:
    src = tmp_path / "in"
    _docs(src / "good.parquet")
    _docs(tmp_path / "tmp.parquet")
    os.rename(tmp_path / "tmp.parquet", os.path.join(os.fsencode(src), b"bad\xff.parquet"))
    line = _error_line(curate("run", _simple(tmp_path), "--input", str(src), "--output", str(tmp_path / "o1")))
    assert line == r"error: bad\xff.parquet: the name is not valid UTF-8: rename it"
    skipped = curate("run", _simple(tmp_path), "--input", str(src), "--output", str(tmp_path / "o2"),
                     "--on-error", "skip")
    assert skipped.returncode == 0, skipped.stderr
    errors = read_errors(tmp_path / "o2")
    assert errors == [{"file": r"bad\xff.parquet", "row": None, "reason": "bad_file_name",
                       "message": "the name is not valid UTF-8: rename it"}]
    assert sorted(pq.read_table(tmp_path / "o2").column("id").to_pylist()) == [f"good-{i}" for i in range(5)]
    os.unlink(src / "good.parquet")  # nothing readable left: the reason stays in the message
    line = _error_line(curate("run", _simple(tmp_path), "--input", str(src), "--output", str(tmp_path / "o3"),
                              "--on-error", "skip"))
    assert line.startswith(f"error: {src}: no input shards (") and line.endswith(
        r"found: bad\xff.parquet: the name is not valid UTF-8: rename it")


def test_the_id_and_text_columns_must_differ(tmp_path: Path) -> None:
    _docs(tmp_path / "in" / "a.parquet")
    line = _error_line(curate("run", _simple(tmp_path), "--input", str(tmp_path / "in"), "--output",
                              str(tmp_path / "out"), "--id-column", "text"))
    assert line.startswith("error: --id-column and --text-column both name column 'text'")


@pytest.mark.parametrize("delimiter", [";;", "", '"', "\n"])
def test_a_csv_delimiter_must_be_one_character(tmp_path: Path, delimiter: str) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.csv").write_text("id,text\na,some words here\n")
    line = _error_line(curate("run", _simple(tmp_path), "--input", str(tmp_path / "in"), "--output",
                              str(tmp_path / "out"), "--csv-delimiter", delimiter))
    assert line == ("error: --csv-delimiter must be one character other than a quote or a line end, got "
                    f"{delimiter!r}")


def test_a_malformed_tokenizer_json_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"version": "1.0", "model": {"type": "BPE", "vocab": ')
    _docs(tmp_path / "in" / "a.parquet")
    stage = tmp_path / "stage.yaml"
    stage.write_text(f"name: t\nstages:\n  - stage: token_count\n    params: {{method: tokenizer, tokenizer: {bad}}}\n")
    sink = tmp_path / "sink.yaml"
    sink.write_text(f"name: t\nstages:\n  - stage: normalize\noutputs:\n  tokens: {{from: normalize, format: megatron, "
                    f"tokenizer: {bad}}}\n")
    for i, pipe in enumerate((stage, sink)):
        line = _error_line(curate("run", str(pipe), "--input", str(tmp_path / "in"), "--output", str(tmp_path / f"o{i}")))
        assert f"tokenizer file {bad} is not a readable tokenizer.json: EOF while parsing" in line, line


def test_an_unsupervised_fasttext_model_is_refused_by_classify(tmp_path: Path) -> None:
    fasttext = pytest.importorskip("fasttext")
    words = "the of and to in is was for on that with as by at from this".split()
    corpus = tmp_path / "words.txt"
    corpus.write_text("\n".join(" ".join(words[(i * 7 + j) % len(words)] for j in range(12)) for i in range(200)))
    model = tmp_path / "vectors.bin"
    fasttext.train_unsupervised(str(corpus), model="skipgram", dim=8, epoch=1, minCount=1, thread=1).save_model(
        str(model))
    _docs(tmp_path / "in" / "a.parquet")
    line = _error_line(curate("classify", "--model", str(model), "--column", "q", "--input", str(tmp_path / "in"),
                              "--output", str(tmp_path / "out")))
    assert line.endswith(f"model {model} is an unsupervised fastText model (skipgram word vectors), not a "
                         "supervised classifier")


def test_an_integer_reject_reason_column_is_data(tmp_path: Path) -> None:
    _docs(tmp_path / "in" / "a.parquet", reject_reason=pa.array(range(5)))
    done = run(tmp_path, tmp_path / "in", "fail")
    assert done.code == 0, done.stderr
    table = pq.read_table(data_dir(done.out) / "part-00000.parquet")
    assert table.column("orig_reject_reason").to_pylist() == list(range(5))


def test_no_readable_input_shard_keeps_the_reason_under_skip(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.jsonl.gz").write_bytes(b"\x1f\x8b\x08 not gzip at all")
    (tmp_path / "in" / "b.jsonl.gz").write_bytes(b"\x1f\x8b\x08 nor this")
    skipped = run(tmp_path, tmp_path / "in", "skip")
    assert skipped.code == 2
    assert skipped.error_line() == (f"error: {tmp_path / 'in'}: no readable input shard: a.jsonl.gz: unreadable "
                                    "JSONL file: zlib inflate failed: unknown header flags set (and 1 more)")


# --------------------------------------------------------------------------- a full disk in DuckDB
def test_duckdb_io_errors_on_a_full_disk_are_storage_errors() -> None:
    """The translation, also of the exception as it arrives from a worker process (pickled, as
    ``_duckdb.IOException``); other DuckDB errors stay internal."""
    duckdb = pytest.importorskip("duckdb")
    message = ('IO Error: Could not write file "/out/_curate/work/edges/band-001.parquet.tmp": No space left on device')
    for exc in (duckdb.IOException(message), pickle.loads(pickle.dumps(duckdb.IOException(message)))):
        assert storage_error(exc) == f"{message} (free some space, then --resume continues)"
    assert storage_error(duckdb.IOException("IO Error: Cannot open file: bad format")) is None
    assert storage_error(duckdb.BinderException("Binder Error: No space left on device")) is None


@pytest.fixture()
def small_tmpfs(tmp_path: Path):
    with tmpfs(tmp_path / "disk", "16m") as mnt:
        yield mnt


def test_a_full_disk_in_the_minhash_combine_is_exit_2_and_resume_recovers(tmp_path: Path, small_tmpfs: Path) -> None:
    """Reproduced: the map pass finishes (the run is killed right after its last task), the disk
    is then filled to its last page, and --resume starts the combine, whose DuckDB band COPY
    fails with IOException: exit 2 naming the file, and after freeing space --resume finishes."""
    out = small_tmpfs / "out"
    # 4 shards: 4 tasks of the `_ids` pass, then 4 of the map pass; killed after the 8th
    env = {**env_with_repo(), "CURATE_FAULT": "task_done:8", "CURATE_FAULT_DIR": str(tmp_path)}
    args = ("dedup", "--input", str(SAMPLE), "--output", str(out), "--workers", "2", "--quiet")
    killed = subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env, capture_output=True,
                            start_new_session=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert len(list((work_dir(out) / "units").glob("*/done/*.json"))) == 8  # both passes done, no combine yet
    filler = small_tmpfs / "filler"
    stat = os.statvfs(small_tmpfs)
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 4096))
    full = curate(*args, "--resume")
    line = _error_line(full)
    assert line.startswith("error: IO Error: ") and "No space left on device" in line, line  # DuckDB's
    assert "band-" in line and line.endswith("(free some space, then --resume continues)")
    assert not (out / LEASE).exists()
    filler.unlink()
    assert curate(*args, "--resume").returncode == 0
    clean = tmp_path / "clean"
    assert curate("dedup", "--input", str(SAMPLE), "--output", str(clean), "--quiet").returncode == 0
    assert shard_ids(out) == shard_ids(clean)


# --------------------------------------------------------------------------- SIGTERM, temporary files
def _start(tmp: Path, workers: int, env: dict | None = None) -> tuple[subprocess.Popen, Path, Path]:
    """A run of the killable pipeline, returned once its first task is done."""
    pipe = tmp / "killable.yaml"
    pipe.write_text(KILLABLE_PIPELINE)
    out = tmp / "out"
    proc = subprocess.Popen([sys.executable, "-m", "curate.cli", "run", str(pipe), "--input", str(SAMPLE),
                             "--output", str(out), "--workers", str(workers), "--quiet"], cwd=ROOT,
                            env=env or env_with_repo(), stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while not list((work_dir(out)).glob("units/read/done/*.json")) and time.time() < deadline:
        time.sleep(0.05)
    return proc, out, pipe


@pytest.mark.parametrize("group", [False, True], ids=["driver", "process-group"])
def test_sigterm_stops_like_ctrl_c(tmp_path: Path, group: bool) -> None:
    """It used to be exit 143 with no message and the lease left behind."""
    proc, out, pipe = _start(tmp_path, workers=2)
    assert (out / LEASE).exists()
    if group:
        os.killpg(proc.pid, signal.SIGTERM)  # a scheduler stopping the whole job
    else:
        os.kill(proc.pid, signal.SIGTERM)  # `docker stop`, systemd: the main process
    assert proc.wait(timeout=120) == 143
    err = proc.stderr.read()
    assert "terminated (SIGTERM); finished work is kept: run the same command with --resume to continue" in err
    assert "Traceback" not in err and "internal error" not in err
    assert not (out / LEASE).exists() and not (out / "_SUCCESS").exists()
    again = curate("run", str(pipe), "--input", str(SAMPLE), "--output", str(out), "--workers", "2", "--resume")
    assert again.returncode == 0, again.stderr


def test_a_killed_run_leaves_no_shared_plan_file(tmp_path: Path) -> None:
    """The local executor's plan file has no name (Linux): SIGKILL of the whole run at its second
    finished task, with workers holding it open, leaves nothing in the temporary directory."""
    if not Path(f"/proc/{os.getpid()}/fd").is_dir():
        pytest.skip("no /proc: the plan file is a named file removed when the call ends")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = {**env_with_repo(), "TMPDIR": str(tmpdir), "CURATE_FAULT": "task_done:2", "CURATE_FAULT_DIR": str(tmp_path)}
    pipe = tmp_path / "simple.yaml"
    pipe.write_text(SIMPLE)
    killed = subprocess.run([sys.executable, "-m", "curate.cli", "run", str(pipe), "--input", str(SAMPLE),
                             "--output", str(tmp_path / "out"), "--workers", "2", "--quiet"], cwd=ROOT, env=env,
                            capture_output=True, start_new_session=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL
    assert (tmp_path / "fault-task_done.count").read_text() == ".."
    assert sorted(p.name for p in tmpdir.iterdir() if p.name.startswith("curate-shared-")) == []
    done = curate("run", str(pipe), "--input", str(SAMPLE), "--output", str(tmp_path / "again"), "--workers", "2",
                  env={**env_with_repo(), "TMPDIR": str(tmpdir)})
    assert done.returncode == 0, done.stderr
    assert not [p for p in tmpdir.iterdir() if p.name.startswith("curate-shared-")]
