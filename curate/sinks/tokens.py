"""Batch tokenization for the tokenized sinks: any tokenizer curate's one loader reads
(:mod:`curate.text.tokenizer_loader`: a ``tokenizer.json``, a model folder, a Hub id in the
local cache, a SentencePiece ``.model``, a tiktoken file or cached encoding), loaded once per
worker process, with optional BOS / EOS tokens.

Documents are encoded without the tokenizer's own special tokens (``add_special_tokens=False``
for a Hugging Face tokenizer); the sink adds exactly the BOS / EOS tokens it is configured with,
so the same tokenizer gives the same tokens whatever template its file carries.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError
from curate.sinks.sink_format import SinkFormat
from curate.text.tokenizer_loader import LoadedTokenizer, load_tokenizer, resolve

if TYPE_CHECKING:
    from curate.sinks.spec import SinkSpec
    from curate.store.storage import Storage

# The end / beginning of document token texts of common tokenizer families, tried in order when
# a sink says `eos: true` / `bos: true`: GPT-2 and its descendants (<|endoftext|>), Llama 3
# (<|end_of_text|>, <|begin_of_text|>), SentencePiece models such as Llama 2 and T5 (</s>, <s>),
# Gemma (<eos>, <bos>).
EOS_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<eos>")
BOS_NAMES = ("<|begin_of_text|>", "<s>", "<bos>")


def special_token(tokenizer: LoadedTokenizer, setting: bool | str, names: tuple[str, ...], what: str, where: str) -> int | None:
    """The id of the token a sink's ``eos:`` / ``bos:`` setting names: None for false, the first
    of `names` the vocabulary has for true, or the token with that exact text."""
    if setting is False:
        return None
    candidates = names if setting is True else (str(setting),)
    for name in candidates:
        token_id = tokenizer.token_id(name)
        if token_id is not None:
            return token_id
    if setting is True:
        raise ConfigError(f"{where}: the tokenizer has none of the usual {what} tokens ({', '.join(names)}); "
                          f"name it, e.g. {what}: \"<|endoftext|>\"")
    raise ConfigError(f"{where}: the tokenizer has no token {setting!r} ({what})")


@dataclass
class TokenEncoder:
    """Encodes a text column into one flat token array plus the token count of every document."""

    tokenizer: LoadedTokenizer
    eos_id: int | None
    bos_id: int | None

    @classmethod
    def open(cls, setting: str, eos: bool | str, bos: bool | str, where: str) -> TokenEncoder:
        try:
            tok = load_tokenizer(setting)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        return cls(tok, special_token(tok, eos, EOS_NAMES, "eos", where),
                   special_token(tok, bos, BOS_NAMES, "bos", where))

    @property
    def vocab_size(self) -> int:
        """Vocabulary size including added tokens (what megatron-core and datatrove size tokens by)."""
        return self.tokenizer.vocab_size

    def encode(self, text: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
        """(tokens of all documents back to back, int64; tokens per document, int64)."""
        flat, body = self.tokenizer.encode(pc.fill_null(text, "").to_pylist())
        extra = (self.bos_id is not None) + (self.eos_id is not None)
        if not extra:
            return flat, body
        lengths = body + extra
        ends = np.cumsum(lengths)
        out = np.empty(int(ends[-1]) if len(ends) else 0, dtype=np.int64)
        is_body = np.ones(len(out), dtype=bool)
        if self.bos_id is not None:
            out[ends - lengths] = self.bos_id
            is_body[ends - lengths] = False
        if self.eos_id is not None:
            out[ends - 1] = self.eos_id
            is_body[ends - 1] = False
        out[is_body] = flat
        return out, lengths


class TokenizedFormat(SinkFormat):
    """What the tokenized sink formats share: a ``tokenizer`` (anything the loader reads) and the
    ``eos`` / ``bos`` tokens added around every document; the writer reads the ``text`` column."""

    options = {"tokenizer": (str,), "eos": (bool, str), "bos": (bool, str)}
    defaults = {"eos": True, "bos": False}
    required = ("tokenizer",)

    def check_values(self, where: str, options: dict[str, Any]) -> None:
        for key in ("eos", "bos"):
            if isinstance(options.get(key), str) and not options[key]:
                raise ConfigError(f"{where}: '{key}' must be true, false or a token's text, not empty")

    def check(self, spec: SinkSpec, storage: Storage) -> None:
        """The tokenizer loads and has the configured BOS / EOS tokens."""
        self.encoder(spec)

    def required_columns(self, spec: SinkSpec) -> tuple[str, ...]:
        return (schema.TEXT,)

    def dependency_files(self, spec: SinkSpec) -> list[str]:
        try:
            return list(resolve(spec.options["tokenizer"]).files)
        except ConfigError:
            return []  # check() reports it

    def encoder(self, spec: SinkSpec) -> TokenEncoder:
        return TokenEncoder.open(spec.options["tokenizer"], spec.options["eos"], spec.options["bos"], spec.where)
