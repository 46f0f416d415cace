"""Loading a Hugging Face ``tokenizer.json`` with one clear error for a file that is not one."""

from __future__ import annotations

from typing import Any

from curate.errors import ConfigError, import_extra


def load_tokenizer_file(path: str, shown: str | None = None) -> Any:
    """The ``tokenizers.Tokenizer`` in `path`; ConfigError naming the file (`shown`, e.g. the URI a
    local copy came from, else `path`) when it is not a readable tokenizer.json: the library raises
    a bare Exception for a truncated or malformed file."""
    tokenizers = import_extra("tokenizers", "tokens", f"the tokenizer {shown or path}")

    try:
        return tokenizers.Tokenizer.from_file(path)
    except Exception as exc:  # noqa: BLE001 - tokenizers raises Exception itself
        raise ConfigError(f"tokenizer file {shown or path} is not a readable tokenizer.json: {exc}") from None
