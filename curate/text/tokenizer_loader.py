"""One loader for every tokenizer a tokenized sink or the ``token_count`` stage names.

A tokenizer setting is resolved, offline, in this order:

1. a **file**: ``*.json`` is a Hugging Face ``tokenizer.json`` (the ``tokenizers`` package);
   ``*.tiktoken`` is a tiktoken BPE file (base64 token and rank per line); ``*.model`` is a
   SentencePiece model, or a tiktoken BPE file when its content is one (Llama 3 ships its
   tokenizer that way). Anything else is a ConfigError naming the file. A URI (``s3://...``) is
   copied to the scratch directory first, through the run's storage.
2. a **folder** (a Hugging Face model folder): its ``tokenizer.json``, else its
   ``tokenizer.model``, else its only ``*.tiktoken`` file.
3. a **named tiktoken encoding** (``cl100k_base``, ``o200k_base``, ...): only from the files
   already in ``TIKTOKEN_CACHE_DIR``. The tiktoken wheel ships no encodings and would download
   them; curate never does: tiktoken's file reader is replaced, for the one call, by one that
   refuses, so a cache miss is a ConfigError saying what to do.
4. a **Hugging Face Hub id** (``org/name``): its ``tokenizer.json`` or ``tokenizer.model`` from
   the local Hub cache only (``huggingface_hub.try_to_load_from_cache``, which never downloads).

The split pattern and special tokens of a tiktoken file are those of the tiktoken encoding its
file name names (``cl100k_base.tiktoken``), taken from tiktoken's own constructor for that
encoding; a file of another name gets ``cl100k_base``'s pattern (also Llama 3's) and one special
token, ``<|endoftext|>``, with the id after its last rank.

Every tokenizer encodes a batch of texts to one flat token array and the count per text, with
no special tokens added (the sinks add their own BOS / EOS). Texts are taken literally by
SentencePiece and tiktoken (``encode_ordinary``); a Hugging Face tokenizer matches its added
tokens in the text, as its own ``encode`` does.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from curate.errors import ConfigError
from curate.store import cache

if TYPE_CHECKING:
    from curate.store.storage import Storage

HF_FILE = "tokenizer.json"
MODEL_FILE = "tokenizer.model"
# the split pattern and special token of a tiktoken file whose name names no encoding
DEFAULT_TIKTOKEN_ENCODING = "cl100k_base"
DEFAULT_TIKTOKEN_SPECIAL = "<|endoftext|>"
_TIKTOKEN_LINE = re.compile(rb"^[A-Za-z0-9+/]+=* \d+$")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
_EXTRAS = {"sentencepiece": "sentencepiece", "tiktoken": "tiktoken"}


@dataclass(frozen=True)
class TokenizerSource:
    """Where a tokenizer setting resolved to: its kind (``hf``, ``sentencepiece``, ``tiktoken``),
    the local file read (None for a named tiktoken encoding) and the files whose content makes
    the tokenizer (for the resume fingerprint)."""

    setting: str
    kind: str
    path: str | None
    files: tuple[str, ...]
    encoding: str | None = None  # a named tiktoken encoding


class LoadedTokenizer:
    """A tokenizer of any kind behind one interface: ``vocab_size``, ``token_id(text)`` and
    ``encode(texts)``."""

    def __init__(self, source: TokenizerSource, vocab_size: int) -> None:
        self.source, self.vocab_size = source, vocab_size

    @property
    def name(self) -> str:
        return self.source.setting

    def token_id(self, text: str) -> int | None:
        """The id of the single token whose text is `text` (a special token or a vocabulary
        entry), or None."""
        raise NotImplementedError

    def encode_lists(self, texts: list[str]) -> list[Any]:
        """The token ids of every text, as the library returns them (one sequence per text)."""
        raise NotImplementedError

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(tokens of all texts back to back, int64; tokens per text, int64)."""
        ids = self.encode_lists(texts)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        flat = np.fromiter(itertools.chain.from_iterable(ids), dtype=np.int64, count=int(lengths.sum()))
        return flat, lengths

    def count(self, texts: list[str]) -> np.ndarray:
        """Tokens per text (int64)."""
        ids = self.encode_lists(texts)
        return np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))


class HfTokenizer(LoadedTokenizer):
    """A ``tokenizer.json`` through the ``tokenizers`` package's batch encoder."""

    def __init__(self, source: TokenizerSource) -> None:
        from curate.text.tokenizer_file import load_tokenizer_file

        self.tokenizer = load_tokenizer_file(str(source.path), source.setting)
        super().__init__(source, int(self.tokenizer.get_vocab_size(with_added_tokens=True)))

    def token_id(self, text: str) -> int | None:
        found = self.tokenizer.token_to_id(text)
        return None if found is None else int(found)

    def encode_lists(self, texts: list[str]) -> list[Any]:
        return [e.ids for e in self.tokenizer.encode_batch_fast(texts, add_special_tokens=False)]


class SentencePieceTokenizer(LoadedTokenizer):
    """A SentencePiece ``.model`` (one thread per worker: curate runs one worker per core)."""

    def __init__(self, source: TokenizerSource) -> None:
        spm = _import("sentencepiece", source.setting)
        try:
            self.processor = spm.SentencePieceProcessor(model_file=str(source.path))
        except (RuntimeError, OSError) as exc:
            raise ConfigError(f"tokenizer file {source.setting} is not a readable SentencePiece model: "
                              f"{str(exc).strip()}") from None
        super().__init__(source, int(self.processor.get_piece_size()))

    def token_id(self, text: str) -> int | None:
        found = int(self.processor.piece_to_id(text))
        return found if self.processor.id_to_piece(found) == text else None

    def encode_lists(self, texts: list[str]) -> list[Any]:
        return self.processor.encode(texts, out_type=int, num_threads=1)


class TiktokenTokenizer(LoadedTokenizer):
    """A tiktoken encoding (from a BPE file, or a named one from ``TIKTOKEN_CACHE_DIR``)."""

    def __init__(self, source: TokenizerSource) -> None:
        self.encoding = (_named_tiktoken(source) if source.encoding else _tiktoken_file(source))
        super().__init__(source, int(self.encoding.n_vocab))

    def token_id(self, text: str) -> int | None:
        if text in self.encoding.special_tokens_set:  # a special token before a vocabulary entry of that text
            return int(self.encoding.encode(text, allowed_special={text})[0])
        try:
            return int(self.encoding.encode_single_token(text))
        except KeyError:
            return None

    def encode_lists(self, texts: list[str]) -> list[Any]:
        """uint32 arrays straight from tiktoken's token buffer (no Python list per text); with no
        special token allowed or refused, the text is taken literally, as ``encode_ordinary`` does."""
        encode = self.encoding.encode_to_numpy
        return [encode(t, allowed_special=set(), disallowed_special=()) for t in texts]

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        arrays = self.encode_lists(texts)
        lengths = np.fromiter(map(len, arrays), dtype=np.int64, count=len(arrays))
        flat = np.concatenate(arrays).astype(np.int64) if arrays else np.zeros(0, dtype=np.int64)
        return flat, lengths


_LOADERS = {"hf": HfTokenizer, "sentencepiece": SentencePieceTokenizer, "tiktoken": TiktokenTokenizer}


def load_tokenizer(setting: str, storage: Storage | None = None) -> LoadedTokenizer:
    """The tokenizer `setting` names (see the module docstring), loaded once per process and run;
    ConfigError (exit 2) naming the setting when it cannot be had offline."""
    source = resolve(setting, storage)
    return cache.cached(("tokenizer", source), lambda: _LOADERS[source.kind](source))


def resolve(setting: str, storage: Storage | None = None) -> TokenizerSource:
    """Where `setting` points, without loading it (ConfigError when nowhere)."""
    if "://" in setting and not setting.startswith("file://"):
        from curate.store.storage import Storage

        local = (storage or Storage()).stage_file(setting, "tokenizer file")
        return _file_source(setting, local)
    path = Path(setting.removeprefix("file://"))
    if path.is_file():
        return _file_source(setting, path)
    if path.is_dir():
        return _folder_source(setting, path)
    if _is_tiktoken_name(setting):
        return TokenizerSource(setting, "tiktoken", None, (), encoding=setting)
    if _HUB_ID.match(setting) and "/" in setting:
        cached = _hub_cached(setting)
        if cached is not None:
            return _file_source(setting, cached)
        raise ConfigError(f"tokenizer file not found: {setting} (not a file or folder, and no tokenizer.json or "
                          f"tokenizer.model of Hub model {setting} in the local Hugging Face cache; curate never "
                          f"downloads: run `huggingface-cli download {setting} tokenizer.json` first)")
    raise ConfigError(f"tokenizer file not found: {setting}")


def _file_source(setting: str, path: Path) -> TokenizerSource:
    name = path.name.lower()
    if name.endswith(".json"):
        kind = "hf"
    elif name.endswith(".tiktoken"):
        kind = "tiktoken"
    elif name.endswith(".model"):
        kind = "tiktoken" if _looks_like_tiktoken(path) else "sentencepiece"
    else:
        raise ConfigError(f"tokenizer file {setting}: not a tokenizer curate reads (a tokenizer.json, a "
                          f"SentencePiece .model, a .tiktoken file, or a model folder holding one)")
    return TokenizerSource(setting, kind, str(path), (str(path),))


def _folder_source(setting: str, folder: Path) -> TokenizerSource:
    for candidate in (folder / HF_FILE, folder / MODEL_FILE):
        if candidate.is_file():
            return _file_source(setting, candidate)
    tiktoken_files = sorted(folder.glob("*.tiktoken"))
    if len(tiktoken_files) == 1:
        return _file_source(setting, tiktoken_files[0])
    raise ConfigError(f"tokenizer folder {setting} holds no {HF_FILE}, {MODEL_FILE} or single .tiktoken file")


def _looks_like_tiktoken(path: Path) -> bool:
    with open(path, "rb") as fh:
        first = fh.readline(4096).rstrip(b"\r\n")
    return bool(_TIKTOKEN_LINE.match(first))


def _hub_cached(repo_id: str) -> Path | None:
    """The tokenizer file of a Hub model already in the local cache, or None (never downloads)."""
    from huggingface_hub import try_to_load_from_cache

    for filename in (HF_FILE, MODEL_FILE):
        found = try_to_load_from_cache(repo_id, filename)
        if isinstance(found, str):
            return Path(found)
    return None


def _import(module: str, setting: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(f"tokenizer {setting} needs the {module} package: pip install "
                          f"'curate[tokenize]'") from None


def _is_tiktoken_name(setting: str) -> bool:
    if "/" in setting or "." in setting:
        return False
    try:
        import tiktoken
    except ImportError:
        return False
    return setting in tiktoken.list_encoding_names()


def _refuse_download(blobpath: str) -> bytes:
    raise FileNotFoundError(blobpath)


def _named_tiktoken(source: TokenizerSource) -> Any:
    """A named encoding from ``TIKTOKEN_CACHE_DIR`` only: tiktoken's downloader is replaced by
    one that refuses for the duration of the call."""
    import os
    from unittest import mock

    tiktoken = _import("tiktoken", source.setting)
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR")
    hint = (f"the tiktoken wheel ships no encodings and curate never downloads: set TIKTOKEN_CACHE_DIR to a folder "
            f"that holds {source.setting} (tiktoken fills it on a machine with a network), or give the path of a "
            f".tiktoken file")
    if not cache_dir or not Path(cache_dir).is_dir():
        raise ConfigError(f"tokenizer {source.setting}: TIKTOKEN_CACHE_DIR is not set to an existing folder; {hint}")
    try:
        with mock.patch("tiktoken.load.read_file", _refuse_download):
            return tiktoken.get_encoding(source.setting)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"tokenizer {source.setting}: not in TIKTOKEN_CACHE_DIR ({cache_dir}) or damaged "
                          f"({type(exc).__name__}); {hint}") from None


def read_tiktoken_ranks(path: str, shown: str) -> dict[bytes, int]:
    """The mergeable ranks of a tiktoken BPE file (``base64-token rank`` per line); ConfigError
    naming the file and line for anything else."""
    ranks: dict[bytes, int] = {}
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                token, rank = line.split()
                ranks[base64.b64decode(token, validate=True)] = int(rank)
            except (ValueError, binascii.Error):
                raise ConfigError(f"tokenizer file {shown}, line {number}: not a tiktoken BPE line "
                                  f"(base64 token, space, rank)") from None
    if not ranks:
        raise ConfigError(f"tokenizer file {shown}: empty tiktoken BPE file")
    return ranks


def _tiktoken_file(source: TokenizerSource) -> Any:
    """An encoding from a BPE file, with the pattern and special tokens of the encoding its file
    name names (tiktoken's own constructor, fed this file's ranks), else of cl100k_base with
    ``<|endoftext|>`` after the last rank."""
    tiktoken = _import("tiktoken", source.setting)
    ranks = read_tiktoken_ranks(str(source.path), source.setting)
    stem = Path(str(source.path)).name.split(".")[0]
    named = stem in tiktoken.list_encoding_names()  # also fills tiktoken's registry of constructors
    constructor = tiktoken.registry.ENCODING_CONSTRUCTORS[stem if named else DEFAULT_TIKTOKEN_ENCODING]
    try:
        params = _call_constructor(constructor, ranks)
    except FileNotFoundError:  # gpt2's constructor reads two data-gym files, not one BPE file
        raise ConfigError(f"tokenizer file {source.setting}: encoding {stem} is not made from one .tiktoken file; "
                          f"name the file after another encoding (r50k_base has gpt2's ranks)") from None
    if not named:
        params["special_tokens"] = {DEFAULT_TIKTOKEN_SPECIAL: max(ranks.values()) + 1}
    params["name"] = source.setting
    params.pop("explicit_n_vocab", None)  # the size of tiktoken's own file, not of this one
    return tiktoken.Encoding(**params)


def _call_constructor(constructor: Any, ranks: dict[bytes, int]) -> dict[str, Any]:
    """Call a tiktoken constructor with its rank loader answering `ranks` (it binds the loader
    in its own module, so that module's name is replaced) and tiktoken's downloader refusing."""
    import sys
    from unittest import mock

    module = sys.modules[constructor.__module__]
    with mock.patch("tiktoken.load.read_file", _refuse_download), \
            mock.patch.object(module, "load_tiktoken_bpe", lambda *a, **k: ranks, create=True):
        return dict(constructor())
