"""JSON Lines specifics the generic reader needs: dolma's ``.json.gz`` shards are JSON Lines
despite the name, so a ``.json`` file is read as one object per line; a file holding one JSON
array instead is refused up front, naming it, with the conversion to run."""

from __future__ import annotations

from pathlib import Path

from curate.errors import InputError
from curate.io.compressed import open_input
from curate.store.storage import Storage

_PEEK = 4096
_BLANK = b" \t\r\n\xef\xbb\xbf"  # whitespace and a UTF-8 byte-order mark


def check_json_lines(path: str | Path, rel: str, storage: Storage | None = None) -> None:
    """InputError when the file's first non-blank character opens a JSON array."""
    try:
        with open_input(path, storage) as stream:
            head = stream.read(_PEEK)
    except OSError:
        return  # unreadable: the reader reports it with its own message
    if head.lstrip(_BLANK)[:1] == b"[":
        raise InputError("holds one JSON array, not JSON Lines (one object per line, as in dolma's .json.gz "
                         "shards): convert it first, e.g. with jq -c '.[]' FILE > FILE.jsonl", file=rel)
