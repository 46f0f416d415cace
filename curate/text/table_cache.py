"""An on-disk cache for lookup tables that are slow to build in Python (per-code-point classes).

Building a table of 1.1 million Unicode code points from :mod:`unicodedata` costs 0.05-0.3 s,
paid by the driver and again by every worker process of every run. The table depends only on
the code that builds it and on Python's Unicode database, so it is saved as ``.npy`` next to
numba's cache (``NUMBA_CACHE_DIR``, else the module's ``__pycache__``), keyed by the Unicode
version and a hash of the building module's source, and loaded by later processes in about a
millisecond. A directory that cannot be written only means the table is built each time.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import unicodedata
from collections.abc import Callable
from pathlib import Path

import numpy as np


def _cache_dir(module_file: Path) -> Path:
    root = os.environ.get("NUMBA_CACHE_DIR")
    return Path(root) / "curate-tables" if root else module_file.parent / "__pycache__"


def cached_table(name: str, build: Callable[[], np.ndarray]) -> np.ndarray:
    """`build()`'s array, from the disk cache when the module defining `build` is unchanged."""
    module_file = Path(sys.modules[build.__module__].__file__ or "")
    try:
        source = hashlib.sha1(module_file.read_bytes()).hexdigest()[:16]
    except OSError:
        return build()
    path = _cache_dir(module_file) / f"{module_file.stem}.{name}-{unicodedata.unidata_version}-{source}.npy"
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        pass
    table = build()
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, table, allow_pickle=False)
        os.replace(tmp, path)  # atomic: a concurrent reader sees no file or the whole file
    except OSError:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return table
