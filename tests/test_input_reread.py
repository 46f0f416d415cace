"""A global stage whose input is the run's input reads the input files again in its apply pass
instead of a copy under _work/ (local Parquet): same output, same accounting, same errors, and a
file that changed between the passes is refused."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.errors import InputError
from curate.pipeline import input_rows, runner
from tests.conftest import write_parquet

PIPE = [("exact_dedup", {}), ("length_filter", {"min_chars": 12})]


def _corpus(root: Path) -> Path:
    """Two shards (one with several small row groups, split into tasks): exact copies, empty and
    whitespace texts, a null id and a duplicate id (errors under --on-error skip)."""
    ids, texts = [], []
    for i in range(300):
        ids.append(None if i == 17 else "d0005" if i == 40 else f"d{i:04d}")
        texts.append("" if i % 31 == 0 else "   " if i % 37 == 0 else
                     f"copy {i % 4}" if i % 6 == 0 else f"document number {i} " + "word " * (i % 9))
    write_parquet(root / "a.parquet", {"id": ids[:200], "text": texts[:200]}, row_group_size=25)
    write_parquet(root / "b.parquet", {"id": ids[200:], "text": texts[200:]})
    return root


def _run(inp: Path, out: Path, stages=PIPE) -> dict:
    Pipeline.from_stages(stages).run(inp, out, workers=1, overwrite=True, keep_rejected=True, on_error="skip",
                                     target_task_bytes=2_000)
    return json.loads((out / "_stats.json").read_text())


def _tables(out: Path) -> dict[str, object]:
    return {str(p.relative_to(out)): pq.read_table(p) for p in sorted(out.rglob("*.parquet"))
            if not p.relative_to(out).parts[0].startswith("_work")}


def test_reading_the_input_again_equals_reading_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inp = _corpus(tmp_path / "in")
    again = _run(inp, tmp_path / "again")
    assert not (tmp_path / "again" / "_work" / "streams" / "read").exists()  # no copy of the input
    with monkeypatch.context() as m:
        m.setattr(runner, "rereads_input", lambda tasks: False)
        copied = _run(inp, tmp_path / "copied")
    assert (tmp_path / "copied" / "_work" / "streams" / "read").is_dir()
    assert again["tasks"] == copied["tasks"] > 2  # several tasks: row groups of a.parquet are split
    for s in again["stages"] + copied["stages"]:
        s.pop("seconds")
    assert again["stages"] == copied["stages"]
    read = next(s for s in again["stages"] if s["stage"] == "read")
    assert read["errored"] == 2 and read["docs_in"] == 300  # counted once, not once per pass
    assert (tmp_path / "again" / "_errors.jsonl").read_text() == (tmp_path / "copied" / "_errors.jsonl").read_text()
    got, want = _tables(tmp_path / "again"), _tables(tmp_path / "copied")
    assert got.keys() == want.keys() and any(k.startswith("_rejected/exact_dedup") for k in got)
    for name in want:
        assert got[name].equals(want[name]), name


def test_jsonl_input_keeps_its_copy(tmp_path: Path) -> None:
    inp = tmp_path / "in"
    inp.mkdir()
    lines = [json.dumps({"id": f"d{i}", "text": f"copy {i % 3}"}) for i in range(30)]
    (inp / "a.jsonl").write_text("\n".join(lines) + "\n")
    _run(inp, tmp_path / "out", [("exact_dedup", {})])
    assert list((tmp_path / "out" / "_work" / "streams" / "read").glob("part-*.parquet"))


def _rewriting(inp: Path) -> list:
    return [("tests.stages_for_tests:RewritesInput", {"path": str(inp / "b.parquet"), "keep": 10})]


def test_an_input_changed_between_the_passes_is_refused(tmp_path: Path) -> None:
    inp = _corpus(tmp_path / "in")
    with pytest.raises(InputError, match="changed during the run") as exc:
        _run(inp, tmp_path / "out", _rewriting(inp))
    assert exc.value.file == "b.parquet"
    assert not (tmp_path / "out" / "_SUCCESS").exists()


def test_a_changed_input_the_store_does_not_show_is_refused_by_its_row_count(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Second guard: where size and modification time do not show the change (a filesystem with
    coarse times, a store that reports the old object), the rows read again must still be as many
    as the first pass kept."""
    inp = _corpus(tmp_path / "in")
    first: dict[str, tuple] = {}

    def stale_key(storage, path):  # what a store reporting the old object would say
        return first.setdefault(path, real_key(storage, path))

    real_key = input_rows.content_key
    monkeypatch.setattr(input_rows, "content_key", stale_key)
    with pytest.raises(InputError, match=r"first pass kept 94 rows of b\.parquet.*, reading it again gave 10"):
        _run(inp, tmp_path / "out", _rewriting(inp))


def test_the_users_input_is_read_not_touched(tmp_path: Path) -> None:
    inp = _corpus(tmp_path / "in")
    before = {p.name: p.read_bytes() for p in inp.iterdir()}
    _run(inp, tmp_path / "out")
    assert {p.name: p.read_bytes() for p in inp.iterdir()} == before
