"""The trainer sink formats (litdata, mds, numpy, hf) in a real run: every task writes its shard
(none for a task that keeps no rows, where the format allows none), and the run's end writes each
sink's index over the tasks' shards; a resumed run leaves them as they were. The shards' bytes are
checked against the libraries' own writers in tests/sinks/test_trainer_formats.py."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

from curate.api import Pipeline
from tests.conftest import sink_dirs, write_parquet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sinks"
TOKENIZER = FIXTURES / "tokenizer.json"
FORMATS = ("litdata", "mds", "numpy", "hf")


def _input(root: Path) -> tuple[Path, list[dict]]:
    """Three files (three tasks): long documents, only short ones (all filtered out), long ones."""
    texts = [json.loads(line)["text"] for line in (FIXTURES / "corpus.jsonl").read_text().splitlines()]
    long = [t for t in texts if len(t) >= 200]
    files = [[(f"a{i}", t) for i, t in enumerate(long[:10])], [("short-0", "tiny"), ("short-1", "also tiny")],
             [(f"c{i}", t) for i, t in enumerate(long[10:25])]]
    for f, rows in enumerate(files):
        write_parquet(root / f"in-{f}.parquet", {"id": [r[0] for r in rows], "text": [r[1] for r in rows]})
    return root, [{"id": i, "text": t} for rows in files for i, t in rows if len(t) >= 200]


def _yaml(path: Path) -> Path:
    sinks = "\n".join(f"  {fmt}: {{from: long, format: {fmt}{'' if fmt == 'hf' else f', tokenizer: {TOKENIZER}'}}}"
                      for fmt in FORMATS)
    path.write_text(f"name: trainer-formats\nstages:\n  - stage: length_filter\n    name: long\n"
                    f"    params: {{min_chars: 200}}\noutputs:\n{sinks}\n")
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[dict], dict]:
    base = tmp_path_factory.mktemp("trainer-formats")
    src, kept = _input(base / "in")
    out = base / "out"
    stats = Pipeline.from_yaml(_yaml(base / "p.yaml")).run(src, out, workers=2).stats
    assert stats["tasks"] == 3
    return base, out, kept, stats


def _tokens(rows: list[dict]) -> list[list[int]]:
    tok = Tokenizer.from_file(str(TOKENIZER))
    eos = tok.token_to_id("<|endoftext|>")
    return [tok.encode(r["text"], add_special_tokens=False).ids + [eos] for r in rows]


def test_every_sink_indexes_the_tasks_that_kept_rows(run) -> None:
    _, out, kept, stats = run
    docs = _tokens(kept)
    n_tokens = sum(map(len, docs))
    for fmt in FORMATS:
        assert stats["sinks"][fmt]["docs"] == len(kept), fmt
    for fmt in ("litdata", "mds", "numpy"):
        assert stats["sinks"][fmt]["tokens"] == n_tokens, fmt
    litdata = json.loads((sink_dirs(out)["litdata"] / "index.json").read_text())
    assert [c["filename"] for c in litdata["chunks"]] == ["part-00000.bin", "part-00002.bin"]
    assert [c["chunk_size"] for c in litdata["chunks"]] == [10, 15] and sum(c["dim"] for c in litdata["chunks"]) == n_tokens
    mds = json.loads((sink_dirs(out)["mds"] / "index.json").read_text())
    assert [s["raw_data"]["basename"] for s in mds["shards"]] == ["part-00000.mds", "part-00002.mds"]
    assert [s["samples"] for s in mds["shards"]] == [10, 15]
    meta = json.loads((sink_dirs(out)["numpy"] / "metadata.json").read_text())
    assert [f["file"] for f in meta["files"]] == ["part-00000.npy", "part-00002.npy"]
    assert not (sink_dirs(out)["litdata"] / "part-00001.bin").exists() and not (sink_dirs(out)["numpy"] / "part-00001.npy").exists()


def test_numpy_shards_hold_every_document_in_order(run) -> None:
    _, out, kept, _ = run
    meta = json.loads((sink_dirs(out)["numpy"] / "metadata.json").read_text())
    got, ids = [], []
    for f in meta["files"]:
        data = np.memmap(sink_dirs(out)["numpy"] / f["file"], dtype=np.dtype(meta["dtype"]), mode="r")
        with gzip.open(sink_dirs(out)["numpy"] / f["file"].replace(".npy", ".csv.gz"), "rt", newline="") as fh:
            for start, end, doc_id in csv.reader(fh):
                got.append(data[int(start):int(end)].tolist())
                ids.append(doc_id)
    assert got == _tokens(kept) and ids == [r["id"] for r in kept]


def test_hf_sink_loads_with_load_from_disk(run) -> None:
    import datasets

    _, out, kept, _ = run
    assert datasets.load_from_disk(str(sink_dirs(out)["hf"])).to_list() == kept


def test_a_resumed_run_leaves_the_indexes_as_they_were(run) -> None:
    base, out, _, _ = run
    index_files = [sink_dirs(out)["litdata"] / "index.json", sink_dirs(out)["mds"] / "index.json", sink_dirs(out)["numpy"] / "metadata.json",
                   sink_dirs(out)["hf"] / "state.json", sink_dirs(out)["hf"] / "dataset_info.json"]
    before = [p.read_bytes() for p in index_files]
    Pipeline.from_yaml(base / "p.yaml").run(base / "in", out, workers=2, resume=True)
    assert [p.read_bytes() for p in index_files] == before
