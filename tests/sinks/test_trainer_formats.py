"""The trainer formats (litdata, mds, numpy tokens, hf) against golden files their own libraries
wrote (tests/fixtures/sinks/formats/, made by `make compat`: tests/compat/make_format_fixtures.py),
byte for byte, for a 1,000-entry BPE (uint16) and a 70,000-entry vocabulary (int32 / uint32), over
three tasks of which the middle one is empty. The libraries' readers run in `make compat`
(tests/compat/read_back_formats.py); `datasets.load_from_disk` also runs here."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from curate.errors import ConfigError
from curate.sinks import SinkSpec
from tests.compat.formats import FORMATS, cases, expected_tokens
from tests.compat.write_formats import write_all


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("formats")
    write_all(out)
    return out


CASES = ("bpe", "words")


@pytest.mark.parametrize("case", CASES)
def test_litdata_chunks_and_index_match_litdatas_writer(written: Path, case: str) -> None:
    golden, ours = FORMATS / case / "litdata", written / case / "litdata"
    # litdata names a chunk after its writer's rank (task); curate after its task
    for task in (0, 2):
        assert (ours / f"part-{task:05d}.bin").read_bytes() == (golden / f"chunk-{task}-0.bin").read_bytes()
    assert not (ours / "part-00001.bin").exists()
    index, ref = json.loads((ours / "index.json").read_text()), json.loads((golden / "index.json").read_text())
    ref.pop("updated_at", None)
    for chunk in ref["chunks"]:
        rank = int(chunk["filename"].split("-")[1])
        chunk["filename"] = f"part-{rank:05d}.bin"
    assert index == ref


@pytest.mark.parametrize("case", CASES)
def test_mds_shards_and_index_match_mdswriter(written: Path, case: str) -> None:
    golden, ours = FORMATS / case / "mds", written / case / "mds"
    for task in (0, 2):
        assert (ours / f"part-{task:05d}.mds").read_bytes() == (golden / f"task{task}" / "shard.00000.mds").read_bytes()
    assert not (ours / "part-00001.mds").exists()
    index, ref = json.loads((ours / "index.json").read_text()), json.loads((golden / "index.json").read_text())
    for shard in ref["shards"]:  # merge_index names each shard by its writer's folder
        task = int(shard["raw_data"]["basename"].split("/")[0].removeprefix("task"))
        shard["raw_data"]["basename"] = f"part-{task:05d}.mds"
    assert index == ref


@pytest.mark.parametrize("case", CASES)
def test_numpy_tokens_match_nanogpts_memmap_writer(written: Path, case: str, tmp_path: Path) -> None:
    golden, ours = FORMATS / case / "numpy", written / case / "numpy"
    tokenizer, tasks = cases(tmp_path)[case]
    meta = json.loads((ours / "metadata.json").read_text())
    assert meta["dtype"] == ("uint16" if case == "bpe" else "uint32") and meta["byte_order"] == "little"
    assert [f["file"] for f in meta["files"]] == ["part-00000.npy", "part-00002.npy"]
    for task in (0, 2):
        assert (ours / f"part-{task:05d}.npy").read_bytes() == (golden / f"task{task}.bin").read_bytes()
        with gzip.open(ours / f"part-{task:05d}.csv.gz", "rt", newline="") as fh:
            spans = list(csv.reader(fh))
        docs = expected_tokens(tokenizer, tasks[task])
        ends = [sum(len(d) for d in docs[:i + 1]) for i in range(len(docs))]
        assert spans == [[str(e - len(d)), str(e), r["id"]] for e, d, r in zip(ends, docs, tasks[task])]
    assert not (ours / "part-00001.npy").exists() and not (ours / "part-00001.csv.gz").exists()


def test_hf_shards_match_save_to_disk_and_load_from_disk_reads_them(written: Path, tmp_path: Path) -> None:
    import datasets

    golden, ours = FORMATS / "bpe" / "hf", written / "bpe" / "hf"
    for task in (0, 2):  # save_to_disk writes no file for an empty dataset; curate an empty stream (read below)
        assert (ours / f"part-{task:05d}.arrow").read_bytes() == \
            (golden / f"task{task}" / "data-00000-of-00001.arrow").read_bytes()
    assert (ours / "dataset_info.json").read_bytes() == (golden / "task0" / "dataset_info.json").read_bytes()
    state, ref = json.loads((ours / "state.json").read_text()), json.loads((golden / "task0" / "state.json").read_text())
    assert {k: v for k, v in state.items() if k not in ("_data_files", "_fingerprint")} == \
        {k: v for k, v in ref.items() if k not in ("_data_files", "_fingerprint")}
    assert state["_data_files"] == [{"filename": f"part-{t:05d}.arrow"} for t in range(3)]
    _, tasks = cases(tmp_path)["bpe"]
    assert datasets.load_from_disk(str(ours)).to_list() == [r for rows in tasks for r in rows]


def test_finish_is_repeatable_and_options_are_checked(written: Path, tmp_path: Path) -> None:
    from curate.store.layout import WorkStore

    tokenizer, _ = cases(tmp_path)["bpe"]
    for fmt, index in (("litdata", "index.json"), ("mds", "index.json"), ("numpy", "metadata.json")):
        spec = SinkSpec.from_config(fmt, {"from": "x", "format": fmt, "tokenizer": str(tokenizer)})
        before = (written / "bpe" / fmt / index).read_bytes()
        store = WorkStore.open(str(written / "bpe"))
        spec.finish(store.files, f"{store.root}/{fmt}", 3)  # a resumed run finishes again
        if fmt != "numpy":  # numpy's metadata names the tokenizer as given, here another temporary path
            assert (written / "bpe" / fmt / index).read_bytes() == before
    with pytest.raises(ConfigError, match="format 'mds' needs 'tokenizer:'"):
        SinkSpec.from_config("m", {"from": "x", "format": "mds"})
    with pytest.raises(ConfigError, match="unknown key"):
        SinkSpec.from_config("h", {"from": "x", "format": "hf", "tokenizer": "t.json"})
