"""curate embedded where users run it (issue 31, item 5): progress bars advanced per batch and per
combine job, from worker processes too; stage classes defined in ``__main__`` (a script, or code with
no file at all, as in a notebook) with several workers; the local executor inside a daemonic
process; the default worker count under ``taskset``."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from curate.api import Pipeline
from curate.pipeline.progress import COMBINE_JOB, Progress
from tests.conftest import ROOT, env_with_repo, read_output, write_parquet


def _input(tmp_path: Path, files: int = 2, rows: int = 300) -> Path:
    src = tmp_path / "in"
    for f in range(files):
        write_parquet(src / f"s{f}.parquet", {"id": [f"d{f}-{i}" for i in range(rows)],
                                              "text": [f"document {f} number {i} " * (1 + i % 7) for i in range(rows)]})
    return src


class Recorder(Progress):
    """A Progress that remembers what reached it, in order."""

    def __init__(self) -> None:
        super().__init__(io.StringIO(), interval=0, live=True)
        self.events: list[tuple] = []  # (batch, task, rows, bar after) or (task, task, bar before)

    def batch(self, task: int, rows: int) -> None:
        super().batch(task, rows)
        self.events.append(("batch", task, rows, self.bar.n))

    def advance(self, report: dict) -> None:
        self.events.append(("task", report["task"], self.bar.n))
        super().advance(report)


def test_the_run_bar_moves_per_batch_from_worker_processes(tmp_path: Path) -> None:
    progress = Recorder()
    Pipeline("p").add("length_filter", min_words=3).add("minhash_dedup").run(
        _input(tmp_path), tmp_path / "out", workers=2, batch_rows=50, progress=progress)
    batches = [e for e in progress.events if e[0] == "batch" and e[1] != COMBINE_JOB]
    # 300 rows in batches of 50: six reports per task and pass (read, minhash apply), from the workers
    assert len(batches) == 2 * 2 * 6 and {e[1] for e in batches} == {0, 1} and {e[2] for e in batches} == {50}
    # the combine's fan-out (LSH bands) reported each job's end
    jobs = [e[2] for e in progress.events if e[0] == "batch" and e[1] == COMBINE_JOB]
    assert len(jobs) > 1
    assert progress.bar is None  # closed at the end of the run
    shown = progress.stream.getvalue()
    assert "combine minhash_dedup" in shown and "100%" in shown


def test_a_task_in_flight_moves_the_bar_by_its_share_of_rows() -> None:
    """Whole-run total: passes x input bytes; a running task is credited rows done / rows held
    (known from an earlier report of the task), capped below its size until it ends."""
    from curate.io.read import Task

    progress = Progress(io.StringIO(), interval=0, live=False)
    tasks = [Task(index=i, path=f"/s{i}", rel=f"s{i}", fmt="parquet", nbytes=1000) for i in range(2)]
    progress.start_run(2, tasks)
    assert progress.bar.total == 4000
    progress.start("read", [(None, "read", 0), (None, "read", 1)], tasks)
    progress.batch(0, 50)
    assert progress.bar.n == 0  # no task finished yet: rows held unknown
    progress.advance({"task": 1, "stats": [{"docs_in": 100}]})
    assert progress.bar.n == 1000 + 500  # task 0's rows held estimated from task 1: 100 per 1000 bytes
    progress.batch(0, 25)
    assert progress.bar.n == 1000 + 750
    progress.advance({"task": 0, "stats": [{"docs_in": 100}]})
    progress.finish()
    progress.start("apply", [(None, "apply", 0), (None, "apply", 1)], tasks)
    progress.batch(1, 500)  # more than it holds: capped until its report
    assert progress.bar.n == 2000 + 990
    progress.close()
    lines = progress.stream.getvalue().splitlines()  # not a terminal: plain lines, no carriage returns
    assert lines[-1].startswith("progress: apply:") and "2.99k/4.00k" in lines[-1] and "\r" not in progress.stream.getvalue()


def test_the_default_worker_count_is_the_cpus_the_process_may_use() -> None:
    code = "from curate.executors.local import LocalExecutor; print(LocalExecutor().workers)"
    for cpus, expected in (("0", "1"), ("0,1", "2")):
        proc = subprocess.run(["taskset", "-c", cpus, sys.executable, "-c", code], cwd=ROOT, env=env_with_repo(),
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == expected


def test_inside_a_daemonic_process_tasks_run_in_process_with_a_warning(tmp_path: Path) -> None:
    src = _input(tmp_path)
    script = tmp_path / "daemon.py"
    script.write_text(textwrap.dedent(f"""
        import logging, multiprocessing

        def job(out):
            from curate.api import Pipeline
            records = []
            handler = logging.Handler()
            handler.emit = records.append
            logging.getLogger("curate").addHandler(handler)
            assert multiprocessing.current_process().daemon
            result = Pipeline("p").add("length_filter", min_words=3).run({str(src)!r}, out, workers=2)
            return result.stats["docs_out"], [r.getMessage() for r in records if r.levelname == "WARNING"]

        if __name__ == "__main__":
            with multiprocessing.get_context("spawn").Pool(1) as pool:  # pool workers are daemonic
                docs, warnings = pool.apply(job, ({str(tmp_path / "out")!r},))
            print(docs)
            print(warnings[0])
    """))
    proc = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env_with_repo(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    docs, warning = proc.stdout.strip().splitlines()
    assert int(docs) == read_output(tmp_path / "out").num_rows > 0
    assert "daemonic" in warning and "in this process" in warning


STAGE = """
import pyarrow.compute as pc
from curate.api import Pipeline
from curate.pipeline.stage import MapStage, Param, reject_rows


class DropOdd(MapStage):
    name = "drop_odd"
    params = {"suffix": Param(str, "1", "reject ids ending with this")}

    def process(self, table, ctx):
        return reject_rows(table, pc.ends_with(table["id"], self.suffix), "drop_odd:match")
"""


@pytest.mark.parametrize("how", ["script", "no file (a notebook)"])
def test_a_stage_class_defined_in_main_runs_on_several_workers(how: str, tmp_path: Path) -> None:
    src = _input(tmp_path, rows=20)
    out = tmp_path / "out"
    main = (f"{STAGE}\nif __name__ == '__main__':\n"
            f"    r = Pipeline('p').add(DropOdd).run({str(src)!r}, {str(out)!r}, workers=2)\n"
            f"    print(r.stats['docs_out'])\n")
    if how == "script":
        (tmp_path / "mine.py").write_text(main)
        cmd, stdin = [sys.executable, str(tmp_path / "mine.py")], None
    else:  # no file for the spawned workers to import __main__ from: the class travels by value
        cmd, stdin = [sys.executable, "-c", main], None
    proc = subprocess.run(cmd, input=stdin, cwd=tmp_path, env=env_with_repo(), capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    ids = read_output(out).column("id").to_pylist()
    assert int(proc.stdout.strip()) == len(ids) == 36 and not any(i.endswith("1") for i in ids)
