"""Sink formats in a run: `outputs:` entries with a format write trainer-ready shards; a
tokenized mixture's documents, decoded, are the sampler's output texts in order, on both
executors; token counts per sink reach the run's stats."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from tokenizers import Tokenizer

from curate.api import Pipeline
from curate.errors import ConfigError
from curate.sinks.indexed import read_datatrove, read_megatron
from curate.store.layout import WorkStore
from tests.conftest import read_output, write_parquet

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sinks"
TOKENIZER = FIXTURES / "tokenizer.json"


def _input(root: Path) -> Path:
    texts = [json.loads(line)["text"] for line in (FIXTURES / "corpus.jsonl").read_text().splitlines()]
    for f in range(3):
        part = list(range(f, len(texts), 3))
        write_parquet(root / f"in-{f}.parquet", {"id": [f"d{i:03d}" for i in part], "text": [texts[i] for i in part],
                                               "quality_score": [(i * 37 % 100) / 100 for i in part]})
    return root


def _yaml(tmp_path: Path) -> Path:
    path = tmp_path / "p.yaml"
    path.write_text(f"""
name: trainer
stages:
  - stage: token_count
  - stage: quality_buckets
    params: {{names: [high, low], quantiles: [0.5], utility: {{high: 2.0, low: 1.0}}}}
  - stage: sample
    params: {{compute: 1.0e9}}
  - stage: select
    params: {{keep: [quality_bucket, epoch_index]}}
outputs:
  curated: quality_buckets
  mixture: select
  mixture_jsonl: {{from: select, format: jsonl.zst}}
  megatron: {{from: sample, format: megatron, tokenizer: {TOKENIZER}, eos: true}}
  datatrove: {{from: sample, format: datatrove, tokenizer: {TOKENIZER}}}
""")
    return path


def _decoded(docs) -> list[str]:  # noqa: ANN001
    tok = Tokenizer.from_file(str(TOKENIZER))
    return [tok.decode(d.tolist(), skip_special_tokens=True) for d in docs]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    base = tmp_path_factory.mktemp("trainer")
    src = _input(base / "in")
    out = base / "local"
    stats = Pipeline.from_yaml(_yaml(base)).run(src, out, workers=2).stats
    return base, out, stats


def test_a_tokenized_mixture_decodes_to_the_samplers_texts_in_order(trained) -> None:
    _, out, stats = trained
    mixture = read_output(out, "mixture")
    assert mixture.column_names == ["id", "text", "quality_bucket", "epoch_index"]  # select kept what it named
    files = WorkStore.open(out).files
    for t in range(stats["tasks"]):
        shard = pq.read_table(out / "mixture" / f"part-{t:05d}.parquet").column("text").to_pylist()
        meg = read_megatron(files, str(out / "megatron" / f"part-{t:05d}"))
        dt = read_datatrove(files, str(out / "datatrove" / f"part-{t:05d}.ds"))
        assert _decoded(meg[i] for i in range(len(meg))) == shard
        assert _decoded(dt[i] for i in range(len(dt))) == shard
    assert len(set(mixture.column("id").to_pylist())) < mixture.num_rows  # repeats included


def test_sinks_count_docs_and_tokens(trained) -> None:
    import datasets

    _, out, stats = trained
    sinks = stats["sinks"]
    n = read_output(out, "mixture").num_rows
    assert sinks["mixture"]["docs"] == sinks["megatron"]["docs"] == sinks["datatrove"]["docs"] == n
    assert sinks["megatron"]["tokens"] == sinks["datatrove"]["tokens"] > n  # every document + EOS
    assert sinks["megatron"]["format"] == "megatron" and sinks["curated"]["format"] == "parquet"
    jsonl = datasets.load_dataset("json", data_files=sorted(str(p) for p in (out / "mixture_jsonl").iterdir()),
                                  split="train")
    assert jsonl["id"] == read_output(out, "mixture").column("id").to_pylist()


@pytest.mark.ray
def test_tokenized_sinks_on_ray_are_the_local_bytes(trained, local_ray) -> None:
    base, out, _ = trained
    Pipeline.from_yaml(_yaml(base)).run(base / "in", base / "ray", workers=2, executor="ray")
    for sink in ("megatron", "datatrove", "mixture_jsonl"):
        local = sorted(p.name for p in (out / sink).iterdir())
        assert local == sorted(p.name for p in (base / "ray" / sink).iterdir())
        for name in local:
            assert (out / sink / name).read_bytes() == (base / "ray" / sink / name).read_bytes(), name


def test_a_tokenized_sink_needs_text_and_its_tokenizer(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="format 'megatron' needs column 'text'.*'slim' removes it"):
        Pipeline("p", input_columns=[]).add("select", name="slim", drop=["text"]).output(
            "tok", {"from": "slim", "format": "megatron", "tokenizer": str(TOKENIZER)})  # checked as it is built
    p = Pipeline("p").add("normalize").output("tok", {"from": "normalize", "format": "datatrove",
                                                       "tokenizer": str(tmp_path / "missing.json")})
    with pytest.raises(ConfigError, match="tokenizer file not found"):
        p.run(_input(tmp_path / "in"), tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()
