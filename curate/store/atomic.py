"""Atomic writes of files outside a run's OUTPUT (models and their cards, law.json, plots): every
file becomes visible under its final name only when complete, on the local disk (a temporary
sibling renamed into place) and at a URI (written to a local temporary file, then uploaded in
one piece, see :class:`curate.store.files.Upload`). Run data goes through the work store
(curate.store.layout)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from curate.store.files import json_default, temp_name
from curate.store.layout import WorkStore
from curate.store.storage import Storage, parse

COPY_BYTES = 8 << 20  # bytes read from the local file per write to the upload


def writable(path: str | Path, storage: Storage | None = None) -> WorkStore:
    """The store `path` is written to, with `storage` (default: the environment's options): a bad
    URI, a missing extra or a read-only scheme (hf://) is a ConfigError now, before the work whose
    result goes there."""
    return WorkStore.open(parse(path).uri, storage)


@contextmanager
def atomic_path(path: str | Path, storage: Storage | None = None) -> Iterator[Path]:
    """Yield a local temporary path to write (tools such as fastText and matplotlib write only
    local files); on success it becomes `path`, a local path or a URI (uploaded with `storage`,
    default the environment's options); on failure it is removed and nothing appears under
    `path`."""
    loc = parse(path)
    if loc.is_local:
        target = Path(loc.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(temp_name(str(target)))
        try:
            yield tmp
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()
        return
    store = writable(path, storage)
    with tempfile.TemporaryDirectory(prefix="curate-upload-", dir=store.storage.scratch_dir()) as tmp_dir:
        tmp = Path(tmp_dir) / loc.path.rsplit("/", 1)[-1]
        yield tmp
        with tmp.open("rb") as src, store.files.output(loc.path) as out:
            shutil.copyfileobj(src, out, COPY_BYTES)


def write_json(path: str | Path, data: Any, storage: Storage | None = None) -> None:
    """Write `data` as indented JSON, atomically (a URI with `storage`)."""
    with atomic_path(path, storage) as tmp:
        tmp.write_text(json.dumps(data, indent=2, default=json_default) + "\n", encoding="utf-8")
