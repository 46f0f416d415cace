"""Proxy-run results for calibration: read a table of runs (JSONL, Parquet, ...) into arrays, one
row a training run.

A row is a single-pool run ``{"params": N, "tokens": D, "unique_tokens": U, "loss": L}`` or a
mixture run ``{"params": N, "buckets": {"high": {"tokens": D_i, "unique_tokens": U_i}, ...},
"loss": L}``, with optional ``name``, ``seed`` and ``weight`` (default 1). A single-pool run is
training on the reference data (pool name ``""``): the data that utility 1 refers to.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curate.errors import InputError
from curate.store.storage import Storage

REFERENCE_POOL = ""  # the pool of single-pool runs


@dataclass(frozen=True)
class Runs:
    """Proxy runs as arrays: ``tokens[r, j]`` / ``unique[r, j]`` for run r and pool ``pools[j]``."""

    names: tuple[str, ...]
    seeds: tuple[int | None, ...]
    params: np.ndarray
    loss: np.ndarray
    weight: np.ndarray
    pools: tuple[str, ...]
    tokens: np.ndarray
    unique: np.ndarray

    def __len__(self) -> int:
        return len(self.names)

    @property
    def total_tokens(self) -> np.ndarray:
        return self.tokens.sum(axis=1)

    @property
    def compute(self) -> np.ndarray:
        """C = 6 N D per run (Kaplan et al. 2020)."""
        return 6.0 * self.params * self.total_tokens

    @property
    def epochs(self) -> np.ndarray:
        """Epochs per run and pool (0 where the run has no tokens of the pool)."""
        return np.divide(self.tokens, self.unique, out=np.zeros_like(self.tokens), where=self.unique > 0)

    def take(self, index: np.ndarray | Sequence[int]) -> Runs:
        """The runs at `index` (repeats allowed: a bootstrap resample)."""
        idx = np.asarray(index, dtype=np.int64)
        return Runs(
            names=tuple(self.names[i] for i in idx),
            seeds=tuple(self.seeds[i] for i in idx),
            params=self.params[idx],
            loss=self.loss[idx],
            weight=self.weight[idx],
            pools=self.pools,
            tokens=self.tokens[idx],
            unique=self.unique[idx],
        )

    def fingerprint(self) -> str:
        """sha256 over the runs' names, numbers and pools: law.json records which runs it came from."""
        h = hashlib.sha256()
        h.update(json.dumps([self.names, self.pools]).encode())
        for arr in (self.params, self.loss, self.weight, self.tokens, self.unique):
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        return "sha256:" + h.hexdigest()

    def fit_range(self) -> dict[str, Any]:
        """min/max of N, D and epochs seen, overall and per pool (law.json's ``range``)."""
        present = self.unique > 0
        epochs = self.epochs
        per_pool = {}
        for j, pool in enumerate(self.pools):
            m = present[:, j] & (self.tokens[:, j] > 0)
            if m.any():
                per_pool[pool] = {"tokens": _span(self.tokens[m, j]), "epochs": _span(epochs[m, j])}
        return {
            "params": _span(self.params),
            "tokens": _span(self.total_tokens),
            "epochs": _span(epochs[present & (self.tokens > 0)]),
            "buckets": per_pool,
        }


def _span(x: np.ndarray) -> list[float]:
    return [float(x.min()), float(x.max())] if x.size else [math.nan, math.nan]


def read_runs(path: str | Path, storage: Storage | None = None) -> Runs:
    """Read proxy runs from any input format curate reads (``.jsonl``, ``.parquet``, CSV ...), a
    local path or a URI read with `storage` (default: the environment's options); errors name
    file and row."""
    from curate.io.tables import read_rows

    source = str(path)
    return runs_from_rows(read_rows(source, storage or Storage()), source)


def runs_from_rows(rows: Sequence[Mapping[str, Any]], source: str = "runs", need_loss: bool = True) -> Runs:
    """Validate rows (dicts as described in the module docstring) into :class:`Runs`; without
    `need_loss` (runs to predict) a row's ``loss`` may be absent (NaN)."""
    if not rows:
        raise InputError("no runs", file=source)
    parsed: list[tuple[str, int | None, float, float, float, dict[str, tuple[float, float]]]] = []
    for r, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError("expected an object", file=source, row=r)
        params = _positive(row, "params", "", source, r)
        loss = _positive(row, "loss", "", source, r) if need_loss or row.get("loss") is not None else math.nan
        weight = 1.0 if row.get("weight") is None else _positive(row, "weight", "", source, r)
        buckets = row.get("buckets")
        if buckets is not None and row.get("tokens") is not None:
            raise InputError("give either 'tokens'/'unique_tokens' (single pool) or 'buckets', not both",
                             file=source, row=r)
        if buckets is None:
            pools = {REFERENCE_POOL: (_positive(row, "tokens", "", source, r),
                                      _positive(row, "unique_tokens", "", source, r))}
        else:
            if not isinstance(buckets, Mapping) or not buckets:
                raise InputError("column 'buckets' must be a non-empty object {name: {tokens, unique_tokens}}",
                                 file=source, row=r)
            pools = {}
            for name, b in buckets.items():
                if not isinstance(b, Mapping) or not name:
                    raise InputError(f"column 'buckets': '{name}' must be an object with tokens and unique_tokens",
                                     file=source, row=r)
                inner = f"buckets.{name}."
                pools[str(name)] = (_positive(b, "tokens", inner, source, r, zero_ok=True),
                                    _positive(b, "unique_tokens", inner, source, r))
            if not sum(t for t, _ in pools.values()) > 0:
                raise InputError("column 'buckets': the run has no tokens", file=source, row=r)
        name = row.get("name")
        seed = row.get("seed")
        parsed.append((str(name) if name is not None else f"run{r}", None if seed is None else int(seed),
                       params, loss, weight, pools))
    pool_names = sorted({p for *_, pools in parsed for p in pools})
    col = {p: j for j, p in enumerate(pool_names)}
    tokens = np.zeros((len(parsed), len(pool_names)))
    unique = np.zeros_like(tokens)
    for r, (*_, pools) in enumerate(parsed):
        for p, (t, u) in pools.items():
            tokens[r, col[p]], unique[r, col[p]] = t, u
    return Runs(
        names=tuple(p[0] for p in parsed),
        seeds=tuple(p[1] for p in parsed),
        params=np.array([p[2] for p in parsed]),
        loss=np.array([p[3] for p in parsed]),
        weight=np.array([p[4] for p in parsed]),
        pools=tuple(pool_names),
        tokens=tokens,
        unique=unique,
    )


def _positive(obj: Mapping[str, Any], key: str, prefix: str, source: str, row: int, zero_ok: bool = False) -> float:
    """obj[key] as a finite positive float; the error names the column (``prefix + key``) and row."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"column '{prefix}{key}' must be a number, got {value!r}", file=source, row=row)
    value = float(value)
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
        bound = ">= 0" if zero_ok else "> 0"
        raise InputError(f"column '{prefix}{key}' must be a finite number {bound}, got {value}", file=source, row=row)
    return value
