"""Resource bombs (issue 35, finding 8): a pipeline YAML whose aliases expand to billions of values
is refused (exit 2 naming the file) before anything walks it; a JSON Lines line over the read limit
is a ``too_large`` row error under both error policies, read in time linear in the file and
without being held in memory."""

from __future__ import annotations

import json
import subprocess
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from curate.io import jsonl_lines
from curate.pipeline import yaml_limits
from tests.conftest import CURATE, write_parquet
from tests.hostile import docs, jsonl, run


# --------------------------------------------------------------------------- YAML
def _laughs(levels: int, width: int = 10) -> str:
    """Anchors a0..a{levels}: each a list of `width` aliases of the one before (width^levels values)."""
    lines = ['a0: &a0 ["lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "\n".join(lines)


def _bomb(levels: int = 9, width: int = 10) -> str:
    """One flow list holding the anchors: its last element stands for width^levels values."""
    items = ['&a0 ["lol"]'] + [f"&a{i} [{','.join([f'*a{i - 1}'] * width)}]" for i in range(1, levels + 1)]
    return "[" + ", ".join(items) + "]"


BOMBS = {
    "input_columns": "name: bomb\ninput_columns: {bomb}\nstages:\n  - stage: normalize\n",
    "params": "name: bomb\nstages:\n  - stage: normalize\n    params: {{form: {bomb}}}\n",
    "outputs": "name: bomb\nstages:\n  - stage: normalize\noutputs: {{out: {bomb}}}\n",
}


def _curate(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    # the timeout only keeps a regression from hanging the suite; nothing is asserted on time
    return subprocess.run([*CURATE, *args], capture_output=True, text=True, timeout=300, cwd=tmp)


@pytest.mark.parametrize("where", sorted(BOMBS))
def test_billion_laughs_pipeline_is_refused_naming_the_file(tmp_path: Path, where: str) -> None:
    """~500 bytes describing 10^9 values, under input_columns, params or outputs: the loader used to
    hang with growing memory."""
    pipe = tmp_path / "bomb.yaml"
    pipe.write_text(BOMBS[where].format(bomb=_bomb()))
    assert len(pipe.read_bytes()) < 600
    write_parquet(tmp_path / "in" / "a.parquet", {"id": ["a"], "text": ["some text"]})
    done = _curate(tmp_path, "run", str(pipe), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    line = BOMBS[where].splitlines().index(next(x for x in BOMBS[where].splitlines() if "{bomb}" in x)) + 1
    assert done.stderr.strip().splitlines() == [
        f"error: {pipe}: invalid YAML: line {line}: aliases expand the document to more than "
        f"{yaml_limits.MAX_VALUES:,} values"]


def test_recursive_alias_and_deep_nesting_are_refused(tmp_path: Path) -> None:
    write_parquet(tmp_path / "in" / "a.parquet", {"id": ["a"], "text": ["some text"]})
    cases = {
        "loop.yaml": ("name: loop\ninput_columns: &x [a, *x]\nstages:\n  - stage: normalize\n",
                      "an alias refers to the value that contains it"),
        "deep.yaml": ("name: deep\ninput_columns: " + "[" * 5000 + "]" * 5000 + "\nstages:\n  - stage: normalize\n",
                      f"nested deeper than {yaml_limits.MAX_DEPTH} levels"),
        "deepish.yaml": ("name: deep\ninput_columns: " + "[" * 100 + "]" * 100 + "\nstages:\n  - stage: normalize\n",
                         f"nested deeper than {yaml_limits.MAX_DEPTH} levels"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        done = _curate(tmp_path, "run", str(tmp_path / name), "--input", str(tmp_path / "in"),
                       "--output", str(tmp_path / f"out-{name}"))
        lines = done.stderr.strip().splitlines()
        assert done.returncode == 2 and len(lines) == 1, done.stderr
        assert lines[0].startswith(f"error: {tmp_path / name}: invalid YAML: ") and message in lines[0], lines


def test_expansion_is_counted_without_expanding() -> None:
    """The check counts the values an expansion would make (exactly), visiting each node once."""
    for levels, width in ((3, 10), (5, 3)):
        node = yaml.compose(_laughs(levels, width))
        yaml_limits.check_expansion(node)  # within the limit
        data = yaml.safe_load(_laughs(levels, width))

        def count(v):
            return 1 + (sum(count(x) for x in v) if isinstance(v, list) else 0)

        values = 1 + sum(1 + count(v) for v in data.values())  # the top mapping, its keys and values
        yaml_limits.check_expansion(node, max_values=values)
        with pytest.raises(yaml_limits.YamlLimitError, match="aliases expand"):
            yaml_limits.check_expansion(node, max_values=values - 1)


def test_small_aliases_still_work(tmp_path: Path) -> None:
    pipe = tmp_path / "anchors.yaml"
    pipe.write_text("name: anchors\nstages:\n  - stage: length_filter\n    params: &lim {min_words: 2}\n"
                    "  - stage: length_filter\n    params: *lim\n")
    write_parquet(tmp_path / "in" / "a.parquet", {"id": ["a", "b"], "text": ["two words", "one"]})
    done = _curate(tmp_path, "run", str(pipe), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                   "--quiet")
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- JSON Lines
def test_line_over_the_read_limit_is_a_too_large_row_error(tmp_path: Path) -> None:
    """--max-doc-bytes 100 sets the limit to 6 x 100 + 1 MiB; a 2 MiB line is a row error (no
    OverflowError, no exit 1, under skip too), the lines around it read, their rows numbered as before."""
    limit = jsonl_lines.line_limit(100)
    assert limit == 600 + (1 << 20)
    rows = docs("d", 6)
    big = json.dumps({"id": "big", "text": "x" * (2 << 20)}).encode()
    jsonl(tmp_path / "in" / "a.jsonl", rows, raw={2: big, 4: b"{broken"})
    failed = run(tmp_path, tmp_path / "in", "fail", "--max-doc-bytes", "100")
    assert failed.code == 2
    assert failed.error_line() == (f"error: a.jsonl row 2: a line of {len(big):,} bytes, longer than the read limit "
                                   f"of {limit:,} bytes (it follows --max-doc-bytes): not parsed")
    skipped = run(tmp_path, tmp_path / "in", "skip", "--max-doc-bytes", "100")
    assert skipped.code == 0, skipped.stderr
    assert [(e["row"], e["reason"]) for e in skipped.errors] == [(2, "too_large"), (4, "invalid_json")]
    assert sorted(skipped.kept_ids()) == sorted(r["id"] for i, r in enumerate(rows) if i not in (2, 4))
    read = skipped.stats["stages"][0]
    assert (read["docs_in"], read["errored"]) == (6, 2)


def test_a_long_line_under_the_limit_is_read_and_its_document_rejected_as_before(tmp_path: Path) -> None:
    rows = docs("d", 3)
    # 200 KB of UTF-8 text, over --max-doc-bytes; escaped as \u00e9 a line of 600 KB, under the read limit
    rows[1]["text"] = "é" * 100_000
    jsonl(tmp_path / "in" / "a.jsonl", rows)
    done = run(tmp_path, tmp_path / "in", "fail", "--max-doc-bytes", "100000", "--keep-rejected")
    assert done.code == 0, done.stderr
    assert done.stats["stages"][0]["rejected"] == {"too_large": 1}


def _blocks(data: bytes, block: int, limit: int) -> tuple[list, jsonl_lines.LineBlocks]:
    lines = jsonl_lines.LineBlocks(pa.BufferReader(data), block, limit)
    return [x if isinstance(x, jsonl_lines.LongLine) else bytes(x) for x in lines], lines


def test_lines_are_cut_exactly_and_each_byte_copied_at_most_once() -> None:
    """Counting work: a 4 MiB line read 4 KiB at a time (1,024 blocks) is copied once, where
    appending each block to the line so far copies it 512 times over (2 GiB)."""
    line = b'{"id": "a", "text": "' + b"y" * (4 << 20) + b'"}'
    data = b'{"id": "0"}\n' + line + b'\n{"id": "b"}\n\n{"id": "c"}'
    got, blocks = _blocks(data, 4096, 8 << 20)
    assert b"\n".join(got) == data  # every byte in order, each line whole in one block
    assert all(line in g or b"y" * 100 not in g for g in got)
    assert blocks.copied <= len(data)
    for block in (1, 3, 7, 64):  # cut at every position
        small = b'{"a": 1}\n\n  \n{"bb": 22}\n{"c": 3}'
        got, blocks = _blocks(small, block, 1 << 20)
        assert b"\n".join(got) == small and blocks.copied <= len(small)


def test_a_line_past_the_limit_is_never_held(tmp_path: Path) -> None:
    """A 64 MiB line with a 64 KiB limit: reported with its length, the lines around it kept, and
    the reader's peak memory about one block and the limit, not the line."""
    path = tmp_path / "long.jsonl"
    with open(path, "wb") as fh:
        fh.write(b'{"id": "a"}\n{"id": "long", "text": "')
        for _ in range(64):
            fh.write(b"z" * (1 << 20))
        fh.write(b'"}\n   ' + b" " * (1 << 20) + b'\n{"id": "b"}\n')
    long_bytes = len(b'{"id": "long", "text": "') + (64 << 20) + 2
    tracemalloc.start()
    try:
        with pa.input_stream(str(path)) as stream:
            got = [x if isinstance(x, jsonl_lines.LongLine) else bytes(x)
                   for x in jsonl_lines.LineBlocks(stream, 1 << 16, 1 << 16)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert got[0] == b'{"id": "a"}'
    assert got[1] == jsonl_lines.LongLine(long_bytes)
    # the blank line of 1 MiB spaces is past the limit too, but blank: no row, as a short blank line
    assert [g for g in got[2:] if g.strip()] == [b'{"id": "b"}']
    assert peak < 4 << 20, peak


def test_limit_is_capped_below_arrows_block_size() -> None:
    assert jsonl_lines.line_limit(16 << 20) == 6 * (16 << 20) + (1 << 20)
    assert jsonl_lines.line_limit(1 << 40) == jsonl_lines.MAX_LINE_BYTES
    assert jsonl_lines.MAX_LINE_BYTES + (16 << 20) < (1 << 31) - 1
