"""The one tokenizer loader (curate.text.tokenizer_loader): every kind of tokenizer gives the
tokens its own library gives, offline, and anything else is a ConfigError naming it (exit 2)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from curate.errors import ConfigError
from curate.sinks import SinkSpec
from curate.store.layout import WorkStore
from curate.store.storage import Storage
from curate.text.tokenizer_loader import load_tokenizer, resolve
from tests.conftest import CURATE, ROOT, write_parquet
from tests.tokenizer_files import EOS, TEXTS, train_bpe, train_sentencepiece, write_tiktoken

SAMPLE = TEXTS[:5] + ["", "x", "<|endoftext|> in the text"]


@pytest.fixture(scope="module")
def toks(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("toks")
    bpe = train_bpe(d / "bpe" / "tokenizer.json")
    return {"bpe": bpe, "sp": train_sentencepiece(d / "sp" / "spm.model"),
            "tiktoken": d / "tt" / "small.tiktoken", "ranks": write_tiktoken(bpe, d / "tt" / "small.tiktoken"),
            "dir": d}


def _flat(ids: list[list[int]]) -> tuple[list[int], list[int]]:
    return [t for doc in ids for t in doc], [len(doc) for doc in ids]


def _check(tok, expected: list[list[int]]) -> None:
    flat, lengths = tok.encode(SAMPLE)
    assert (flat.tolist(), lengths.tolist()) == _flat(expected)
    assert tok.count(SAMPLE).tolist() == [len(e) for e in expected]
    assert flat.dtype == np.int64 and lengths.dtype == np.int64


def test_tokenizer_json_file_and_model_folder(toks: dict) -> None:
    from tokenizers import Tokenizer

    ref = Tokenizer.from_file(str(toks["bpe"]))
    expected = [e.ids for e in ref.encode_batch(SAMPLE, add_special_tokens=False)]
    for setting in (str(toks["bpe"]), str(toks["bpe"].parent)):
        tok = load_tokenizer(setting)
        assert resolve(setting).kind == "hf" and resolve(setting).files == (str(toks["bpe"]),)
        _check(tok, expected)
        assert tok.vocab_size == ref.get_vocab_size(with_added_tokens=True) and tok.token_id(EOS) == ref.token_to_id(EOS)
        assert tok.token_id("no such token") is None


def test_sentencepiece_model_file_and_folder(toks: dict, tmp_path: Path) -> None:
    import sentencepiece as spm

    ref = spm.SentencePieceProcessor(model_file=str(toks["sp"]))
    expected = [ref.encode(t) for t in SAMPLE]
    tok = load_tokenizer(str(toks["sp"]))
    assert resolve(str(toks["sp"])).kind == "sentencepiece"
    _check(tok, expected)
    assert tok.vocab_size == ref.get_piece_size() == 300
    assert tok.token_id("</s>") == ref.eos_id() and tok.token_id("<s>") == ref.bos_id()
    assert tok.token_id("<|endoftext|>") is None  # piece_to_id answers <unk>'s id; the loader says None
    folder = tmp_path / "llama2-like"
    folder.mkdir()
    (folder / "tokenizer.model").write_bytes(toks["sp"].read_bytes())
    assert resolve(str(folder)).kind == "sentencepiece"
    _check(load_tokenizer(str(folder)), expected)


def _tiktoken_reference(ranks: dict[bytes, int], special: dict[str, int], pattern_of: str):
    """tiktoken's Encoding with these ranks, the split pattern tiktoken's own constructor of
    `pattern_of` gives (its rank file swapped for ours) and these special tokens."""
    from unittest import mock

    import tiktoken
    from tiktoken_ext import openai_public

    with mock.patch.object(openai_public, "load_tiktoken_bpe", lambda *a, **k: ranks):
        pattern = getattr(openai_public, pattern_of)()["pat_str"]
    return tiktoken.Encoding("reference", pat_str=pattern, mergeable_ranks=ranks, special_tokens=special)


def test_tiktoken_file_by_path(toks: dict, tmp_path: Path) -> None:
    ranks = toks["ranks"]
    ref = _tiktoken_reference(ranks, {EOS: len(ranks)}, "cl100k_base")
    expected = [ref.encode_ordinary(t) for t in SAMPLE]
    tok = load_tokenizer(str(toks["tiktoken"]))
    assert resolve(str(toks["tiktoken"])).kind == "tiktoken"
    _check(tok, expected)
    assert tok.token_id(EOS) == len(ranks) and tok.vocab_size == len(ranks) + 1
    word = next(t for t in ranks if len(t) > 2 and t.isalpha())
    assert tok.token_id(word.decode()) == ranks[word] == ref.encode_single_token(word)
    # Llama 3 ships its tiktoken ranks as tokenizer.model: recognised by content
    folder = tmp_path / "llama3-like"
    folder.mkdir()
    (folder / "tokenizer.model").write_bytes(toks["tiktoken"].read_bytes())
    assert resolve(str(folder)).kind == "tiktoken"
    _check(load_tokenizer(str(folder)), expected)
    # a file named after an encoding gets that encoding's pattern and special tokens
    named = tmp_path / "r50k_base.tiktoken"
    named.write_bytes(toks["tiktoken"].read_bytes())
    r50k = load_tokenizer(str(named))
    assert r50k.token_id(EOS) == 50256
    ref50 = _tiktoken_reference(ranks, {EOS: 50256}, "r50k_base")
    assert r50k.encode(SAMPLE)[0].tolist() == _flat([ref50.encode_ordinary(t) for t in SAMPLE])[0]


def test_hub_id_resolves_from_the_local_cache_only(toks: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import huggingface_hub.constants as hub_constants

    cache = tmp_path / "hub"
    monkeypatch.setattr(hub_constants, "HF_HUB_CACHE", str(cache))
    with pytest.raises(ConfigError, match="no tokenizer.json or tokenizer.model of Hub model acme/tiny-lm in the local "
                                          "Hugging Face cache; curate never downloads"):
        resolve("acme/tiny-lm")
    # the cache's own layout: models--ORG--NAME/refs/main names the snapshot holding the files
    repo = cache / "models--acme--tiny-lm"
    snapshot = repo / "snapshots" / ("a" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "tokenizer.json").write_bytes(toks["bpe"].read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    source = resolve("acme/tiny-lm")
    assert source.kind == "hf" and source.files == (str(snapshot / "tokenizer.json"),)
    from tokenizers import Tokenizer

    ref = Tokenizer.from_file(str(toks["bpe"]))
    _check(load_tokenizer("acme/tiny-lm"), [e.ids for e in ref.encode_batch(SAMPLE, add_special_tokens=False)])


def test_named_tiktoken_encoding_needs_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    with pytest.raises(ConfigError, match="cl100k_base: TIKTOKEN_CACHE_DIR is not set to an existing folder; the "
                                          "tiktoken wheel ships no encodings and curate never downloads"):
        load_tokenizer("cl100k_base")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))  # an empty cache: no download is tried
    with pytest.raises(ConfigError, match=r"cl100k_base: not in TIKTOKEN_CACHE_DIR .* or damaged"):
        load_tokenizer("cl100k_base")


def test_named_tiktoken_encoding_from_the_cache(toks: dict, tmp_path: Path) -> None:
    """A tiktoken plugin encoding whose file tiktoken's cache holds (tiktoken names a cached file
    by the SHA-1 of its URL) loads without any download; run in a child process, since tiktoken
    finds its plugins once per process."""
    plugin = tmp_path / "plugin" / "tiktoken_ext"
    plugin.mkdir(parents=True)
    url = "https://example.invalid/curate_small.tiktoken"
    (plugin / "curate_small.py").write_text(
        "from tiktoken.load import load_tiktoken_bpe\n"
        f"def curate_small():\n    ranks = load_tiktoken_bpe({url!r})\n"
        "    return {'name': 'curate_small', 'pat_str': r\"\\S+|\\s+\", 'mergeable_ranks': ranks,\n"
        "            'special_tokens': {'<|endoftext|>': len(ranks)}}\n"
        "ENCODING_CONSTRUCTORS = {'curate_small': curate_small}\n")
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(toks["tiktoken"].read_bytes())
    code = ("import json; from curate.text.tokenizer_loader import load_tokenizer\n"
            "t = load_tokenizer('curate_small'); print(json.dumps([t.vocab_size, t.token_id('<|endoftext|>'), "
            "t.encode(['hello world'])[1].tolist()]))")
    env = {**os.environ, "TIKTOKEN_CACHE_DIR": str(cache), "PYTHONPATH": f"{tmp_path / 'plugin'}{os.pathsep}{ROOT}"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    n = len(toks["ranks"])
    vocab, eos, lengths = json.loads(out.stdout)
    assert (vocab, eos) == (n + 1, n) and lengths[0] > 0
    (cache / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"")  # a damaged cache entry: refused, no download
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "not in TIKTOKEN_CACHE_DIR" in bad.stderr


@pytest.mark.parametrize(("name", "content", "message"), [
    ("vocab.txt", b"hello\n", "not a tokenizer curate reads"),
    ("broken.json", b"{\"not\": 1}", "is not a readable tokenizer.json"),
    ("broken.model", b"\x00\x01garbage", "is not a readable SentencePiece model"),
    ("broken.tiktoken", b"aGVsbG8= 0\nnot base64!! 1\n", "line 2: not a tiktoken BPE line"),
])
def test_anything_else_is_a_config_error_naming_the_file(tmp_path: Path, name: str, content: bytes,
                                                         message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=f"{path}.*{message}|{message}"):
        load_tokenizer(str(path))
    with pytest.raises(ConfigError, match=f"tokenizer folder {tmp_path / 'empty'} holds no tokenizer.json"):
        (tmp_path / "empty").mkdir(exist_ok=True)
        resolve(str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="tokenizer file not found: ./nope/tok.json"):
        resolve("./nope/tok.json")


def test_sinks_take_every_kind_and_add_eos(toks: dict, tmp_path: Path) -> None:
    """A megatron sink with a SentencePiece model finds ``</s>`` for eos: true; with a tiktoken
    file ``<|endoftext|>``; every document is its library's tokens plus the EOS."""
    import sentencepiece as spm

    table = pa.table({"id": [f"d{i}" for i in range(len(SAMPLE))], "text": SAMPLE})
    ref = spm.SentencePieceProcessor(model_file=str(toks["sp"]))
    from curate.sinks.indexed import read_megatron

    for setting, expected, eos in [
        (str(toks["sp"]), [ref.encode(t) for t in SAMPLE], ref.eos_id()),
        (str(toks["tiktoken"]), [_tiktoken_reference(toks["ranks"], {EOS: len(toks["ranks"])},
                                                     "cl100k_base").encode_ordinary(t) for t in SAMPLE],
         len(toks["ranks"])),
    ]:
        spec = SinkSpec.from_config("m", {"from": "x", "format": "megatron", "tokenizer": setting})
        spec.check(Storage())
        assert spec.dependency_files() == [str(Path(setting))]
        store = WorkStore.open(str(tmp_path / Path(setting).suffix.strip(".")))
        writer = spec.open(store.files, f"{store.root}/m", 0)
        writer.write(table)
        writer.close(table.schema)
        shard = read_megatron(store.files, f"{store.root}/m/part-00000")
        assert [shard[i].tolist() for i in range(len(shard))] == [e + [eos] for e in expected]


def test_token_count_stage_with_each_kind_and_exit_2_on_the_cli(toks: dict, tmp_path: Path) -> None:
    import sentencepiece as spm

    from curate.api import Pipeline

    texts = [t for t in SAMPLE if t]  # an empty text is an input error, not a document
    src = write_parquet(tmp_path / "in" / "a.parquet", {"id": [f"d{i}" for i in range(len(texts))], "text": texts})
    ref = spm.SentencePieceProcessor(model_file=str(toks["sp"]))
    out = tmp_path / "out"
    Pipeline.from_stages([("token_count", {"method": "tokenizer", "tokenizer": str(toks["sp"])})]).run(
        src.parent, out, workers=1, progress=False)
    import pyarrow.dataset as ds

    got = ds.dataset(str(out), format="parquet", exclude_invalid_files=True).to_table(columns=["id", "n_tokens"])
    counts = dict(zip(got.column("id").to_pylist(), got.column("n_tokens").to_pylist()))
    assert [counts[f"d{i}"] for i in range(len(texts))] == [len(ref.encode(t)) for t in texts]
    yaml = tmp_path / "p.yaml"
    yaml.write_text("stages:\n  - stage: token_count\n    params: {method: tokenizer, tokenizer: cl100k_base}\n")
    env = {k: v for k, v in os.environ.items() if k != "TIKTOKEN_CACHE_DIR"}
    proc = subprocess.run([*CURATE, "run", str(yaml), "--input", str(src.parent), "--output", str(tmp_path / "o2")],
                          capture_output=True, text=True, env=env, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    assert "TIKTOKEN_CACHE_DIR is not set" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
