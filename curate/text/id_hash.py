"""Seeded hashes of document ids: the deterministic "random" order and splits of curate.

A document's draw depends only on its id and the seed, never on which task or batch it was read
in, so train/valid splits and random pruning are the same for any number of workers or shards.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from curate.lean_imports import import_numba
from curate.text.words import utf8_buffers, xxh64

numba = import_numba()  # without numba's SciPy probes (curate/lean_imports.py)


@numba.njit(cache=True)
def _hash_all(data, offsets, seed, out):  # pragma: no cover - numba
    for d in range(len(offsets) - 1):
        out[d] = xxh64(data, offsets[d], offsets[d + 1], seed)


def id_hashes(ids: pa.Array | pa.ChunkedArray, seed: int) -> np.ndarray:
    """XXH64 of each id's UTF-8 bytes with `seed` (equals ``xxhash.xxh64_intdigest(id, seed)``)."""
    if not pa.types.is_string(ids.type) and not pa.types.is_large_string(ids.type):
        ids = ids.cast(pa.string())
    data, offsets = utf8_buffers(ids, lower=False)
    out = np.empty(len(offsets) - 1, dtype=np.uint64)
    _hash_all(data, offsets, np.uint64(seed % 2**64), out)
    return out


def id_uniforms(ids: pa.Array | pa.ChunkedArray, seed: int) -> np.ndarray:
    """A uniform draw in [0, 1) per id (the top 53 bits of its seeded hash)."""
    return (id_hashes(ids, seed) >> np.uint64(11)).astype(np.float64) * 2.0**-53


KERNELS = (_hash_all,)  # for the run's warm-up (curate.kernels)
