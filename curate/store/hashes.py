"""Content hashes of input and stage files, for the resume fingerprint."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from curate.store.storage import Storage, content_key, parse

_HASHES: dict[tuple[str, int, int], str] = {}
HASH_CHUNK = 8 << 20


def content_hash(path: str | Path, storage: Storage) -> str:
    """What identifies a file's content, for the resume fingerprint. A local file (or one on a
    store that keeps no content tag, as memory://): xxh3-128 of every byte, streamed, cached per
    (location, size, mtime) in this process, so one run hashes each file once; footers or
    statistics would not do, as an edited data page leaves them unchanged. An object on a store:
    the store's content tag and size (S3 ETag, GCS md5Hash, the Hub's blob id), so that a remote
    corpus is not read twice. Any change of content changes the tag; the same bytes uploaded
    in other part sizes get another multipart ETag, which makes a resume refuse (never mix)."""
    return _hash_and_key((path, storage))[0]


def prime_hashes(paths: list[str], storage: Storage, ordered_map: Callable[[Callable, list], list[Any]]) -> None:
    """Compute the content hashes of `paths` with `ordered_map` (an executor's ``map``: its
    workers read the files, in parallel, instead of this process reading every input byte) and
    keep them in this process's cache, so that :func:`content_hash` here costs one stat per
    unchanged file afterwards."""
    for digest, key in ordered_map(_hash_and_key, [(p, storage) for p in dict.fromkeys(paths)]):
        if key is not None:
            _HASHES[key] = digest


def _hash_and_key(item: tuple[str | Path, Storage]) -> tuple[str, tuple[str, int, int] | None]:
    """(content hash, the key it is cached under: None for a store's content tag)."""
    import xxhash

    path, storage = item
    loc = parse(path)
    if not loc.is_local:
        tag = storage.content_tag(loc)
        if tag is not None:
            return tag, None
    if loc.is_local:
        st = os.stat(loc.path)
        key = (loc.path, st.st_size, st.st_mtime_ns)
    else:
        key = content_key(storage, loc.uri)
    if key not in _HASHES:
        h = xxhash.xxh3_128()
        with storage.open_input_stream(loc) as fh:
            while chunk := fh.read(HASH_CHUNK):
                h.update(chunk)
        _HASHES[key] = h.hexdigest()
    return _HASHES[key], key
