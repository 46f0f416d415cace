"""A global stage whose input is the run's input reads the input files again in its apply pass
instead of a copy in the work folder (Parquet and uncompressed JSON Lines, local or both ends remote):
same output, same accounting, same errors, and a file that changed between the passes is refused."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from curate.api import Pipeline
from curate.errors import InputError
from curate.pipeline import input_rows, runner
from curate.store import layout
from tests.conftest import work_dir, write_parquet

PIPE = [("exact_dedup", {}), ("length_filter", {"min_chars": 12})]


def _corpus(root: Path, fmt: str = "parquet") -> Path:
    """Two shards (one with several small row groups, split into tasks): exact copies, empty and
    whitespace texts, a null id and a duplicate id (errors under --on-error skip)."""
    ids, texts = [], []
    for i in range(300):
        ids.append(None if i == 17 else "d0005" if i == 40 else f"d{i:04d}")
        texts.append("" if i % 31 == 0 else "   " if i % 37 == 0 else
                     f"copy {i % 4}" if i % 6 == 0 else f"document number {i} " + "word " * (i % 9))
    if fmt == "parquet":
        write_parquet(root / "a.parquet", {"id": ids[:200], "text": texts[:200]}, row_group_size=25)
        write_parquet(root / "b.parquet", {"id": ids[200:], "text": texts[200:]})
        return root
    root.mkdir(parents=True)
    for name, sl in (("a", slice(0, 200)), ("b", slice(200, None))):
        lines = "".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in zip(ids[sl], texts[sl], strict=True))
        if fmt == "csv":
            pa_csv.write_csv(pa.table({"id": ids[sl], "text": texts[sl]}), root / f"{name}.csv")
        elif fmt == "jsonl.gz":
            (root / f"{name}.{fmt}").write_bytes(gzip.compress(lines.encode()))
        else:
            (root / f"{name}.{fmt}").write_text(lines)
    return root


def _run(inp: Path | str, out: Path | str, stages=PIPE) -> dict:
    result = Pipeline.from_stages(stages).run(inp, out, workers=1, overwrite=True, keep_rejected=True,
                                              on_error="skip", target_task_bytes=2_000)
    return result.stats


def _tables(out: Path) -> dict[str, object]:
    return {str(p.relative_to(out)): pq.read_table(p) for p in sorted(out.rglob("*.parquet"))
            if not p.relative_to(out).as_posix().startswith(f"{layout.WORK}/")}


@pytest.mark.parametrize("fmt", ["parquet", "jsonl"])
def test_reading_the_input_again_equals_reading_a_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       fmt: str) -> None:
    inp = _corpus(tmp_path / "in", fmt)
    again = _run(inp, tmp_path / "again")
    assert not (work_dir(tmp_path / "again") / "streams" / "read").exists()  # no copy of the input
    with monkeypatch.context() as m:
        m.setattr(runner, "rereads_input", lambda tasks, output_is_local: False)
        copied = _run(inp, tmp_path / "copied")
    assert (work_dir(tmp_path / "copied") / "streams" / "read").is_dir()
    assert again["tasks"] == copied["tasks"] >= 2
    if fmt == "parquet":
        assert again["tasks"] > 2  # several tasks: row groups of a.parquet are split
    for s in again["stages"] + copied["stages"]:
        s.pop("seconds")
    assert again["stages"] == copied["stages"]
    read = next(s for s in again["stages"] if s["stage"] == "read")
    assert read["errored"] == 2 and read["docs_in"] == 300  # counted once, not once per pass
    assert (tmp_path / "again" / layout.ERRORS).read_text() == (tmp_path / "copied" / layout.ERRORS).read_text()
    got, want = _tables(tmp_path / "again"), _tables(tmp_path / "copied")
    assert got.keys() == want.keys() and any(k.startswith(f"{layout.REJECTED}/exact_dedup") for k in got)
    for name in want:
        assert got[name].equals(want[name]), name


@pytest.mark.parametrize("fmt", ["csv", "jsonl.gz"])
def test_csv_and_compressed_jsonl_inputs_keep_their_copy(tmp_path: Path, fmt: str) -> None:
    _run(_corpus(tmp_path / "in", fmt), tmp_path / "out")
    assert len(list((work_dir(tmp_path / "out") / "streams" / "read").glob("part-*.parquet"))) == 2


def test_on_s3_the_input_is_read_again_only_when_the_output_is_remote_too(s3_bucket: str, tmp_path: Path) -> None:
    import s3fs

    fs = s3fs.S3FileSystem()
    local = _corpus(tmp_path / "in")
    for p in sorted(local.iterdir()):
        fs.put_file(str(p), f"{s3_bucket}/in/{p.name}")
    src = f"s3://{s3_bucket}/in"
    _run(local, tmp_path / "local")
    _run(src, f"s3://{s3_bucket}/out")
    assert not fs.exists(f"{s3_bucket}/out/{layout.WORK}/streams/read")
    _run(src, tmp_path / "to-local")
    assert (work_dir(tmp_path / "to-local") / "streams" / "read").is_dir()
    want = _tables(tmp_path / "local")
    for name in want:
        assert pq.read_table(fs.open(f"{s3_bucket}/out/{name}", "rb")).equals(want[name]), name
        assert _tables(tmp_path / "to-local")[name].equals(want[name]), name


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
