"""Sink formats: each written by curate's writers and read back by its ecosystem's reader
(pyarrow and `datasets` for Parquet and JSON Lines; the golden files of megatron-core's and
datatrove's own writers for the tokenized formats, byte for byte)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from curate.errors import ConfigError
from curate.sinks import SinkSpec
from curate.sinks.indexed import read_datatrove, read_megatron
from curate.store.layout import WorkStore
from curate.store.storage import Storage

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sinks"
TOKENIZER = FIXTURES / "tokenizer.json"
EOS = "<|endoftext|>"


def corpus() -> pa.Table:
    rows = [json.loads(line) for line in (FIXTURES / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    return pa.Table.from_pylist(rows)


def write(spec: SinkSpec, table: pa.Table, root: str, task: int = 0, batch: int = 7) -> tuple[WorkStore, dict]:
    """Write `table` as task `task`'s shard of `spec`, in batches of `batch` rows."""
    store = WorkStore.open(root)
    writer = spec.open(store.files, f"{store.root}/{spec.name}", task)
    for start in range(0, table.num_rows, batch):
        writer.write(table.slice(start, batch))
    return store, writer.close(table.schema)


@pytest.fixture(params=["local", "memory"])
def root(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return str(tmp_path / "out") if request.param == "local" else f"memory://sinks-{tmp_path.name}/out"


# ----------------------------------------------------------------------------- tokenized: golden files
def test_megatron_shard_is_byte_identical_to_megatron_cores_writer(root: str) -> None:
    spec = SinkSpec.from_config("tok", {"from": "mix", "format": "megatron", "tokenizer": str(TOKENIZER)})
    table = corpus()
    store, counts = write(spec, table, root)
    prefix = f"{store.root}/tok/part-00000"
    assert store.files.read_bytes(prefix + ".bin") == (FIXTURES / "megatron" / "corpus.bin").read_bytes()
    assert store.files.read_bytes(prefix + ".idx") == (FIXTURES / "megatron" / "corpus.idx").read_bytes()
    shard = read_megatron(store.files, prefix)
    tok = Tokenizer.from_file(str(TOKENIZER))
    eos = tok.token_to_id(EOS)
    assert len(shard) == table.num_rows
    assert all(shard[i][-1] == eos for i in range(len(shard)))
    assert [tok.decode(shard[i][:-1].tolist()) for i in range(len(shard))] == table.column("text").to_pylist()
    assert counts == {"docs": table.num_rows, "tokens": len(shard.tokens), "shards": 1,
                      "bytes": sum(store.files.fs.get_file_info(p).size for p in spec.shard_files(f"{store.root}/tok", 0))}


def test_datatrove_shard_is_byte_identical_to_document_tokenizer(root: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES)  # the fixture names its tokenizer "tokenizer.json" in .ds.metadata
    spec = SinkSpec.from_config("tok", {"from": "mix", "format": "datatrove", "tokenizer": "tokenizer.json"})
    table = corpus()
    store, counts = write(spec, table, root, batch=5)
    golden = FIXTURES / "datatrove" / "00000_unshuffled.ds"
    path = f"{store.root}/tok/part-00000.ds"
    for suffix in ("", ".index", ".metadata"):
        assert store.files.read_bytes(path + suffix) == Path(str(golden) + suffix).read_bytes(), suffix
    shard = read_datatrove(store.files, path)
    tok = Tokenizer.from_file(str(TOKENIZER))
    assert [tok.decode(shard[i][:-1].tolist()) for i in range(len(shard))] == table.column("text").to_pylist()
    assert counts["docs"] == table.num_rows and counts["tokens"] == len(shard.tokens)


# ----------------------------------------------------------------------------- tokenized: options, edges
def _words_tokenizer(tmp_path: Path, n: int) -> Path:
    """A word-level tokenizer of `n` entries (w0 .. w{n-3}, [UNK], <|endoftext|>)."""
    vocab = {f"w{i}": i for i in range(n - 2)}
    vocab["[UNK]"], vocab[EOS] = n - 2, n - 1
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    path = tmp_path / f"words{n}.json"
    tok.save(str(path))
    return path


@pytest.mark.parametrize(("vocab", "megatron", "datatrove"), [(65499, "<u2", "<u2"), (65500, "<i4", "<u2"),
                                                               (65536, "<i4", "<u2"), (65537, "<i4", "<u4")])
def test_token_width_follows_the_vocabulary_size_as_each_framework_chooses(tmp_path: Path, vocab: int, megatron: str,
                                                                           datatrove: str) -> None:
    path = _words_tokenizer(tmp_path, vocab)
    table = pa.table({"id": ["a", "b"], "text": [f"w0 w{vocab - 3}", "w1"]})
    expected = [[0, vocab - 3, vocab - 1], [1, vocab - 1]]
    m = SinkSpec.from_config("m", {"from": "x", "format": "megatron", "tokenizer": str(path)})
    store, _ = write(m, table, str(tmp_path / "out"))
    assert len(store.files.read_bytes(f"{store.root}/m/part-00000.bin")) == 5 * np.dtype(megatron).itemsize
    shard = read_megatron(store.files, f"{store.root}/m/part-00000")
    assert [shard[i].tolist() for i in range(2)] == expected
    d = SinkSpec.from_config("d", {"from": "x", "format": "datatrove", "tokenizer": str(path)})
    store, _ = write(d, table, str(tmp_path / "out"))
    data = store.files.read_bytes(f"{store.root}/d/part-00000.ds")
    assert np.frombuffer(data, datatrove).tolist() == [t for doc in expected for t in doc]
    assert store.files.read_bytes(f"{store.root}/d/part-00000.ds.metadata").decode().split("\n")[0] == \
        f"{path}|{np.dtype(datatrove).itemsize}"


def test_bos_eos_options_and_documents_without_tokens(tmp_path: Path) -> None:
    path = _words_tokenizer(tmp_path, 10)
    table = pa.table({"id": ["a", "b", "c"], "text": ["w1 w2", "", "w3"]})
    # no eos: the empty document has no tokens; megatron gives it no sequence, datatrove an empty range
    spec = SinkSpec.from_config("m", {"from": "x", "format": "megatron", "tokenizer": str(path), "eos": False})
    store, counts = write(spec, table, str(tmp_path / "o1"))
    shard = read_megatron(store.files, f"{store.root}/m/part-00000")
    assert [shard[i].tolist() for i in range(3)] == [[1, 2], [], [3]] and counts["tokens"] == 3
    idx = store.files.read_bytes(f"{store.root}/m/part-00000.idx")
    assert np.frombuffer(idx, "<u8", 2, 18).tolist() == [2, 4]  # 2 sequences, 4 document-index entries
    spec = SinkSpec.from_config("d", {"from": "x", "format": "datatrove", "tokenizer": str(path), "eos": False})
    store, _ = write(spec, table, str(tmp_path / "o1"))
    shard = read_datatrove(store.files, f"{store.root}/d/part-00000.ds")
    assert [shard[i].tolist() for i in range(3)] == [[1, 2], [], [3]]
    # a named token as bos, and eos: true finding <|endoftext|>
    spec = SinkSpec.from_config("b", {"from": "x", "format": "megatron", "tokenizer": str(path), "bos": "w7"})
    store, _ = write(spec, table, str(tmp_path / "o2"))
    shard = read_megatron(store.files, f"{store.root}/b/part-00000")
    assert [shard[i].tolist() for i in range(3)] == [[7, 1, 2, 9], [7, 9], [7, 3, 9]]


def test_tokenizer_problems_are_config_errors_naming_the_sink(tmp_path: Path) -> None:
    spec = SinkSpec.from_config("train", {"from": "x", "format": "megatron", "tokenizer": str(tmp_path / "no.json")}, 7)
    with pytest.raises(ConfigError, match=r"outputs: sink 'train' \(line 7\): tokenizer file not found"):
        spec.check(Storage())
    plain = Tokenizer(models.WordLevel({"a": 0, "[UNK]": 1}, unk_token="[UNK]"))
    plain.save(str(tmp_path / "plain.json"))
    spec = SinkSpec.from_config("train", {"from": "x", "format": "datatrove", "tokenizer": str(tmp_path / "plain.json")})
    with pytest.raises(ConfigError, match="sink 'train': the tokenizer has none of the usual eos tokens"):
        spec.check(Storage())
    spec = SinkSpec.from_config("train", {"from": "x", "format": "datatrove", "tokenizer": str(tmp_path / "plain.json"),
                                          "eos": "<end>"})
    with pytest.raises(ConfigError, match="sink 'train': the tokenizer has no token '<end>'"):
        spec.check(Storage())
    assert spec.dependency_files() == [str(tmp_path / "plain.json")] and spec.required_columns() == ("text",)
    assert SinkSpec.from_config("p", {"from": "x", "__line__": 12}).where == "outputs: sink 'p' (line 12)"
    assert SinkSpec.from_config("p", "x").required_columns() == () and SinkSpec.from_config("p", "x").dependency_files() == []


# ----------------------------------------------------------------------------- parquet and json lines
def test_plain_entry_is_zstd_parquet_and_options_are_honoured(root: str, tmp_path: Path) -> None:
    table = corpus()
    spec = SinkSpec.from_config("mix", "sample")
    assert (spec.source, spec.format, spec.describe()) == ("sample", "parquet", {
        "from": "sample", "format": "parquet", "compression": "zstd", "row_group_rows": 65536})
    store, counts = write(spec, table, root)
    path = f"{store.root}/mix/part-00000.parquet"
    meta = store.files.parquet_file(path).metadata
    assert meta.row_group(0).column(0).compression == "ZSTD" and counts["docs"] == table.num_rows
    assert store.files.read_table(path).equals(table)
    spec = SinkSpec.from_config("g", {"from": "s", "compression": "gzip", "row_group_rows": 10})
    store, _ = write(spec, table, root, task=3)
    meta = store.files.parquet_file(f"{store.root}/g/part-00003.parquet").metadata
    assert meta.num_row_groups == 7 and meta.row_group(0).column(0).compression == "GZIP"
    if root.startswith("memory://"):
        return
    import datasets

    ds = datasets.load_dataset("parquet", data_files=f"{store.root}/g/part-00003.parquet", split="train",
                               cache_dir=str(tmp_path / "hf"))
    assert ds["text"] == table.column("text").to_pylist()


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz", "jsonl.zst"])
def test_jsonl_formats_read_back_with_pyarrow_and_datasets(fmt: str, root: str, tmp_path: Path) -> None:
    import pyarrow.json as pj

    table = corpus().append_column("score", pa.array([i / 3 for i in range(corpus().num_rows)]))
    spec = SinkSpec.from_config("train", {"from": "s", "format": fmt})
    store, counts = write(spec, table, root)
    path = f"{store.root}/train/part-00000.{fmt}"
    assert spec.shard_files(f"{store.root}/train", 0) == [path]
    codec = {"jsonl": None, "jsonl.gz": "gzip", "jsonl.zst": "zstd"}[fmt]
    raw = store.files.fs.open_input_stream(path, compression=codec)
    assert pj.read_json(raw).equals(table)
    assert counts == {"docs": table.num_rows, "bytes": store.files.fs.get_file_info(path).size, "shards": 1}
    if root.startswith("memory://"):
        return
    if fmt == "jsonl.gz":
        assert gzip.decompress(Path(path).read_bytes()).decode("utf-8").count("\n") == table.num_rows
    import datasets

    ds = datasets.load_dataset("json", data_files=path, split="train", cache_dir=str(tmp_path / "hf"))
    assert ds["text"] == table.column("text").to_pylist() and ds["id"] == table.column("id").to_pylist()


def test_jsonl_writes_non_json_types_as_strings(tmp_path: Path) -> None:
    import datetime as dt

    table = pa.table({"id": ["a"], "text": ["ü"], "when": pa.array([dt.datetime(2024, 1, 2, 3, 4)], pa.timestamp("us")),
                      "raw": [b"\x00\x01"]})
    store, _ = write(SinkSpec.from_config("j", {"from": "s", "format": "jsonl"}), table, str(tmp_path / "o"))
    line = (Path(store.root) / "j" / "part-00000.jsonl").read_text(encoding="utf-8")
    assert json.loads(line) == {"id": "a", "text": "ü", "when": "2024-01-02T03:04:00", "raw": "AAE="}
    assert "ü" in line  # UTF-8, not \u escapes


# ----------------------------------------------------------------------------- empty, abort, config
@pytest.mark.parametrize("fmt", ["parquet", "jsonl.zst", "megatron", "datatrove"])
def test_a_task_without_rows_yields_a_readable_parquet_shard_and_no_file_elsewhere(fmt: str, root: str) -> None:
    """A zero-row Parquet shard has the schema and no row group (``datasets`` reads it: see
    tests/sinks/test_readers.py); JSON Lines and the tokenized formats have no valid empty file
    (an empty ``.bin`` cannot be memory-mapped), so the task writes none."""
    value = {"from": "s", "format": fmt, **({"tokenizer": str(TOKENIZER)} if fmt in ("megatron", "datatrove") else {})}
    spec = SinkSpec.from_config("s", value)
    store = WorkStore.open(root)
    writer = spec.open(store.files, f"{store.root}/s", 2)
    counts = writer.close(pa.schema([("id", pa.string()), ("text", pa.string())]))
    assert counts["docs"] == 0 and counts.get("tokens", 0) == 0
    if fmt == "parquet":
        assert counts["shards"] == 1
        shard = store.files.parquet_file(f"{store.root}/s/part-00002.parquet")
        assert shard.schema_arrow.names == ["id", "text"] and shard.metadata.num_row_groups == 0
    else:
        assert counts["shards"] == 0 and counts["bytes"] == 0
        assert not any(store.files.exists(p) for p in spec.shard_files(f"{store.root}/s", 2))


@pytest.mark.parametrize("fmt", ["megatron", "datatrove"])
def test_documents_without_tokens_write_no_token_files(fmt: str, tmp_path: Path) -> None:
    spec = SinkSpec.from_config("s", {"from": "s", "format": fmt, "tokenizer": str(TOKENIZER), "eos": False})
    table = pa.table({"id": ["a", "b"], "text": ["", None]})
    store, counts = write(spec, table, str(tmp_path / "o"))
    assert counts == {"docs": 2, "bytes": 0, "shards": 0, "tokens": 0}
    assert not (tmp_path / "o" / "s").exists() or not list((tmp_path / "o" / "s").iterdir())


def test_jsonl_writes_floats_that_are_not_finite_as_null(tmp_path: Path) -> None:
    import polars as pl

    nan, inf = float("nan"), float("inf")
    table = pa.table({"id": ["a", "b"], "text": ["x", "y"], "score": [nan, 0.5],
                      "many": pa.array([[1.0, -inf], None], pa.list_(pa.float32())),
                      "nested": [{"v": inf, "w": "k"}, None]})
    store, _ = write(SinkSpec.from_config("j", {"from": "s", "format": "jsonl"}), table, str(tmp_path / "o"))
    path = Path(store.root) / "j" / "part-00000.jsonl"

    def strict(name: str) -> None:
        raise ValueError(f"{name} is not JSON")

    rows = [json.loads(line, parse_constant=strict) for line in path.read_text().splitlines()]
    assert rows == [{"id": "a", "text": "x", "score": None, "many": [1.0, None], "nested": {"v": None, "w": "k"}},
                    {"id": "b", "text": "y", "score": 0.5, "many": None, "nested": None}]
    frame = pl.read_ndjson(path)  # Polars refuses NaN / Infinity literals
    assert frame["score"].to_list() == [None, 0.5]


@pytest.mark.parametrize("fmt", ["parquet", "jsonl.gz", "megatron", "datatrove"])
def test_abort_leaves_nothing(fmt: str, root: str) -> None:
    value = {"from": "s", "format": fmt, **({"tokenizer": str(TOKENIZER)} if fmt in ("megatron", "datatrove") else {})}
    spec = SinkSpec.from_config("s", value)
    store = WorkStore.open(root)
    writer = spec.open(store.files, f"{store.root}/s", 0)
    writer.write(corpus())
    writer.abort()
    assert store.files.listdir(f"{store.root}/s") == []


@pytest.mark.parametrize(("value", "message"), [
    (["a"], "sink 'x': expects a node name or a mapping"),
    ({"format": "jsonl"}, "sink 'x': needs 'from: NODE'"),
    ({"from": "a", "format": "csv"}, "sink 'x': unknown format 'csv' \\(known: datatrove, hf, jsonl, jsonl.gz, jsonl.zst, litdata, mds, megatron, numpy, parquet"),
    ({"from": "a", "format": "jsonl", "compression": "zstd"}, "unknown key\\(s\\) compression for format 'jsonl'"),
    ({"from": "a", "format": "megatron"}, "format 'megatron' needs 'tokenizer:'"),
    ({"from": "a", "format": "megatron", "tokenizer": "t.json", "eos": 1}, "'eos' expects true/false or str"),
    ({"from": "a", "compression": "xz"}, "'compression' must be one of zstd"),
    ({"from": "a", "row_group_rows": 0}, "'row_group_rows' must be >= 1"),
    ({"from": "a", "row_group_rows": True}, "'row_group_rows' expects int"),
])
def test_bad_entries_are_config_errors_naming_the_sink(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SinkSpec.from_config("x", value)


def test_parquet_reader_sees_no_temporary_files(tmp_path: Path) -> None:
    spec = SinkSpec.from_config("s", "n")
    store = WorkStore.open(tmp_path / "o")
    writer = spec.open(store.files, f"{store.root}/s", 0)
    writer.write(corpus())
    assert not list((tmp_path / "o" / "s").glob("part-*"))  # only a hidden temporary so far
    writer.close(corpus().schema)
    assert [p.name for p in (tmp_path / "o" / "s").iterdir()] == ["part-00000.parquet"]
    assert pq.read_table(tmp_path / "o" / "s" / "part-00000.parquet").num_rows == corpus().num_rows


# ----------------------------------------------------------------------------- a planned mixture
def test_a_sampled_mixture_becomes_megatron_shards_in_the_samplers_order(tmp_path: Path) -> None:
    """What a sink does in a run: task i's kept rows, in order, become shard i (here the shards
    of a finished sampler run are fed through the writer as the run would)."""
    from curate.api import Pipeline
    from tests.conftest import SAMPLE, data_dir

    src = pq.read_table(sorted(SAMPLE.glob("*.parquet"))[0], columns=["id", "text"])
    scores = pa.array([(i * 37 % 100) / 100 for i in range(src.num_rows)], pa.float64())
    (tmp_path / "in").mkdir()
    for k in range(2):
        half = src.slice(k * 250, 250)
        pq.write_table(half.append_column("quality_score", scores.slice(k * 250, 250)), tmp_path / "in" / f"{k}.parquet")
    Pipeline.from_stages([("token_count", {}), ("quality_buckets", {"names": ["high", "low"], "quantiles": [0.5]}),
                          ("sample", {"compute": 1.0e11})]).run(tmp_path / "in", tmp_path / "mix", workers=2)
    shards = sorted(data_dir(tmp_path / "mix").glob("part-*.parquet"))
    spec = SinkSpec.from_config("train", {"from": "sample", "format": "megatron", "tokenizer": str(TOKENIZER)})
    store = WorkStore.open(tmp_path / "mix")
    tok = Tokenizer.from_file(str(TOKENIZER))
    total_docs = 0
    for task, shard in enumerate(shards):
        texts = pq.read_table(shard).column("text").to_pylist()
        writer = spec.open(store.files, f"{store.root}/train", task)
        for batch in pq.ParquetFile(shard).iter_batches(batch_size=64):
            writer.write(pa.Table.from_batches([batch]))
        counts = writer.close(pq.read_schema(shard))
        got = read_megatron(store.files, f"{store.root}/train/part-{task:05d}")
        assert [tok.decode(got[i][:-1].tolist()) for i in range(len(got))] == texts
        assert counts["docs"] == len(texts)
        total_docs += len(texts)
    ids = [i for shard in shards for i in pq.read_table(shard, columns=["id"]).column("id").to_pylist()]
    assert total_docs == len(ids) > len(set(ids))  # the sampler's repeats are written too


def test_a_spec_travels_to_workers(tmp_path: Path) -> None:
    """Specs are pickled to worker processes (local pool, Ray) and open their writers there."""
    import pickle

    spec = pickle.loads(pickle.dumps(SinkSpec.from_config("t", {"from": "x", "format": "megatron",
                                                                "tokenizer": str(TOKENIZER)})))
    store, counts = write(spec, corpus(), str(tmp_path / "o"))
    assert store.files.read_bytes(f"{store.root}/t/part-00000.bin") == (FIXTURES / "megatron" / "corpus.bin").read_bytes()
