"""Mixture runs: one proxy run a row, its training proportions and its validation losses.

A row is ``{"name": ..., "mixture": {"web": 0.6, "code": 0.4}, "losses": {"pile_cc": 3.41, ...}}``
(``"loss": L`` instead of ``losses`` for a single target, kept under the validation name
``loss``), with optional ``params`` and ``tokens``. JSON Lines and Parquet are read as
:func:`curate.planner.runs.read_runs` reads repetition runs (any input format); a CSV names nested values with a dot:
columns ``name``, ``params``, ``tokens``, ``loss``, ``mixture.<domain>``, ``losses.<domain>``,
an empty cell being an absent value. A domain absent from a row's mixture has proportion 0.

Proportions must be finite and >= 0 and sum to 1 within ``SUM_TOLERANCE``; a row summing to
within ``NORMALISE_TOLERANCE`` of 1 is divided by its sum (one warning lists such rows); any
other sum is an error naming the file, the row and the column.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from curate.errors import ConfigError, InputError
from curate.store.storage import Storage

SUM_TOLERANCE = 1e-6  # a mixture summing to 1 within this is taken as it is
NORMALISE_TOLERANCE = 0.01  # within 1%: divided by its sum, with a warning
SINGLE_TARGET = "loss"  # the validation name of rows giving one `loss`
NESTED = ("mixture", "losses")  # CSV columns "mixture.<domain>" and "losses.<domain>"


@dataclass(frozen=True)
class MixtureRuns:
    """Runs as arrays: ``proportions[r, j]`` of training domain ``domains[j]`` and
    ``losses[r, i]`` on validation domain ``validation[i]`` (NaN where run r has none)."""

    names: tuple[str, ...]
    domains: tuple[str, ...]
    proportions: np.ndarray
    validation: tuple[str, ...]
    losses: np.ndarray
    params: np.ndarray  # NaN where a run does not say
    tokens: np.ndarray
    source: str = "runs"
    warnings: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.names)

    def take(self, index: np.ndarray | Sequence[int]) -> MixtureRuns:
        """The runs at `index` (repeats allowed: a bootstrap resample)."""
        idx = np.asarray(index, dtype=np.int64)
        return MixtureRuns(tuple(self.names[i] for i in idx), self.domains, self.proportions[idx], self.validation,
                           self.losses[idx], self.params[idx], self.tokens[idx], self.source, self.warnings)

    def fingerprint(self) -> str:
        """sha256 over names, domains and numbers: law.json records which runs it came from."""
        h = hashlib.sha256(json.dumps([self.names, self.domains, self.validation]).encode())
        for arr in (self.proportions, self.losses, self.params, self.tokens):
            h.update(np.ascontiguousarray(arr, dtype=np.float64).tobytes())
        return "sha256:" + h.hexdigest()

    def proportion_range(self) -> dict[str, list[float]]:
        """[min, max] proportion of every training domain over the runs (law.json's ``range``)."""
        return {d: [float(self.proportions[:, j].min()), float(self.proportions[:, j].max())]
                for j, d in enumerate(self.domains)}

    def aligned(self, domains: Sequence[str]) -> tuple[np.ndarray, list[str]]:
        """Proportions over `domains` (a law's training domains, in its order), and the domains of
        these runs the law does not know that some run gives a share (left out, the rest rescaled)."""
        col = {d: j for j, d in enumerate(self.domains)}
        out = np.zeros((len(self), len(domains)))
        for k, d in enumerate(domains):
            if d in col:
                out[:, k] = self.proportions[:, col[d]]
        unknown = [d for d in self.domains if d not in set(domains) and self.proportions[:, col[d]].any()]
        total = out.sum(axis=1, keepdims=True)
        return np.divide(out, total, out=np.zeros_like(out), where=total > 0), unknown


@dataclass(frozen=True)
class Target:
    """What a mixture law predicts: the weighted sum of validation losses (one weight 1: one domain)."""

    name: str
    weights: dict[str, float]

    def values(self, runs: MixtureRuns) -> np.ndarray:
        """The target loss of every run; an InputError names the first run lacking a needed loss."""
        col = {v: i for i, v in enumerate(runs.validation)}
        out = np.zeros(len(runs))
        for v, w in self.weights.items():
            if w == 0:
                continue
            x = runs.losses[:, col[v]]
            missing = np.flatnonzero(np.isnan(x))
            if missing.size:
                raise InputError(f"column '{_loss_column(v)}' is missing; target '{self.name}' needs it",
                                 file=runs.source, row=int(missing[0]))
            out += w * x
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "weights": dict(self.weights)}


def _loss_column(name: str) -> str:
    return SINGLE_TARGET if name == SINGLE_TARGET else f"losses.{name}"


def resolve_target(spec: str | Mapping[str, float] | None, runs: MixtureRuns,
                   storage: Storage | None = None) -> Target:
    """`spec`: a validation domain (a key of ``losses``), a weights.json file or mapping
    ``{domain: weight}`` (Ye et al. 2024 weigh validation domains so), or None when the runs have
    exactly one validation domain. A ConfigError names the keys the runs offer."""
    keys = ", ".join(runs.validation)
    if spec is None:
        if len(runs.validation) == 1:
            return Target(runs.validation[0], {runs.validation[0]: 1.0})
        raise ConfigError(f"{runs.source}: give --target, one of the validation domains ({keys}) or a weights.json")
    if isinstance(spec, str) and spec in runs.validation:
        return Target(spec, {spec: 1.0})
    if isinstance(spec, Mapping):
        weights, name = dict(spec), "weighted"
    elif str(spec).endswith(".json"):
        try:
            weights = json.loads((storage or Storage()).read_text(str(spec)))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot read target weights JSON: {exc}", file=str(spec)) from None
        name = Path(str(spec)).stem
    else:
        raise ConfigError(f"--target '{spec}' is not a validation domain of {runs.source} (its keys: {keys}) "
                          "nor a weights .json file")
    if not isinstance(weights, Mapping) or not weights:
        raise ConfigError(f"{spec}: target weights must be a non-empty object {{validation domain: weight}}")
    unknown = sorted(set(weights) - set(runs.validation))
    if unknown:
        raise ConfigError(f"{spec}: weights name {', '.join(unknown)}, not validation domains of {runs.source} "
                          f"(its keys: {keys})")
    for k, w in weights.items():
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise ConfigError(f"{spec}: weight of '{k}' must be a finite number >= 0, got {w!r}")
    if not sum(weights.values()) > 0:
        raise ConfigError(f"{spec}: the weights are all 0")
    return Target(name, {str(k): float(w) for k, w in weights.items()})


# ---------------------------------------------------------------------------------------------
# Reading


def read_mixture_runs(path: str | Path, need_losses: bool = True, storage: Storage | None = None) -> MixtureRuns:
    """Read mixture runs from any input format curate reads (``.csv`` with dotted columns,
    ``.parquet``, JSON Lines, ...), a local path or a URI read with `storage` (default: the
    environment's options); without `need_losses` (runs to predict) rows may lack ``losses``."""
    from curate.io.input_format import format_of
    from curate.io.tables import read_rows

    source = str(path)
    rows = read_rows(source, storage or Storage())
    fmt = format_of(source)
    if fmt is not None and fmt.name == "csv":  # flat columns, every value text
        rows = [_nested(row) for row in rows]
    return mixture_runs_from_rows(rows, source, need_losses=need_losses)


def _nested(flat: Mapping[str, Any]) -> dict[str, Any]:
    """A CSV row with ``mixture.<domain>`` / ``losses.<domain>`` columns nested back into objects,
    its numbers parsed (curate reads every CSV column as text; a value that is no number stays
    text, and the row's check names it)."""
    row: dict[str, Any] = {}
    for key, value in flat.items():
        if value is None or value == "":
            continue
        if key != "name":
            value = _parsed(value)
        prefix, dot, inner = key.partition(".")
        if dot and prefix in NESTED:
            row.setdefault(prefix, {})[inner] = value
        else:
            row[key] = value
    return row


def _parsed(value: Any) -> Any:
    try:
        return float(value) if isinstance(value, str) else value
    except ValueError:
        return value


def mixture_runs_from_rows(rows: Sequence[Any], source: str = "runs", need_losses: bool = True) -> MixtureRuns:
    """Validate rows (dicts as the module docstring describes) into :class:`MixtureRuns`."""
    if not rows:
        raise InputError("no runs", file=source)
    parsed = []
    normalised: list[int] = []
    seen: dict[str, int] = {}
    for r, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError("expected an object", file=source, row=r)
        name = row.get("name")
        if not isinstance(name, str) or not name:
            raise InputError(f"column 'name' must be a non-empty string, got {name!r}", file=source, row=r)
        if name in seen:
            raise InputError(f"column 'name': '{name}' is also the name of row {seen[name]}", file=source, row=r)
        seen[name] = r
        mixture, was_normalised = _mixture(row.get("mixture"), source, r)
        if was_normalised:
            normalised.append(r)
        losses = _losses(row, source, r, need_losses)
        parsed.append((name, mixture, losses, _optional(row, "params", source, r), _optional(row, "tokens", source, r)))
    domains = tuple(sorted({d for _, m, *_ in parsed for d in m}))
    validation = tuple(sorted({v for _, _, losses, *_ in parsed for v in losses}))
    dcol = {d: j for j, d in enumerate(domains)}
    vcol = {v: i for i, v in enumerate(validation)}
    proportions = np.zeros((len(parsed), len(domains)))
    losses = np.full((len(parsed), len(validation)), np.nan)
    for r, (_, mixture, row_losses, *_) in enumerate(parsed):
        for d, p in mixture.items():
            proportions[r, dcol[d]] = p
        for v, x in row_losses.items():
            losses[r, vcol[v]] = x
    warnings = ()
    if normalised:
        shown = ", ".join(str(r) for r in normalised[:5]) + (", ..." if len(normalised) > 5 else "")
        warnings = (f"{source}: {len(normalised)} mixture(s) summed to within {NORMALISE_TOLERANCE:.0%} of 1 but "
                    f"not within {SUM_TOLERANCE:g}; divided by their sum (rows {shown})",)
    return MixtureRuns(
        names=tuple(p[0] for p in parsed), domains=domains, proportions=proportions, validation=validation,
        losses=losses, params=np.array([p[3] for p in parsed]), tokens=np.array([p[4] for p in parsed]),
        source=source, warnings=warnings,
    )


def _as_mapping(value: Any) -> Any:
    """A Parquet struct (absent fields read as None) or map (a list of key-value pairs) as a dict
    without the absent entries; anything else unchanged."""
    if isinstance(value, list) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)
    if isinstance(value, Mapping):
        return {k: v for k, v in value.items() if v is not None}
    return value


def _mixture(value: Any, source: str, row: int) -> tuple[dict[str, float], bool]:
    """A row's proportions, checked; (proportions, whether they were divided by their sum)."""
    value = _as_mapping(value)
    if not isinstance(value, Mapping) or not value:
        raise InputError("column 'mixture' must be a non-empty object {domain: proportion}", file=source, row=row)
    out = {}
    for d, p in value.items():
        if not isinstance(d, str) or not d:
            raise InputError(f"column 'mixture': domain names must be non-empty strings, got {d!r}",
                             file=source, row=row)
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not math.isfinite(p) or p < 0:
            raise InputError(f"column 'mixture.{d}' must be a finite number >= 0, got {p!r}", file=source, row=row)
        out[d] = float(p)
    total = math.fsum(out.values())
    if abs(total - 1.0) <= SUM_TOLERANCE:
        return out, False
    if abs(total - 1.0) <= NORMALISE_TOLERANCE:
        return {d: p / total for d, p in out.items()}, True
    raise InputError(f"column 'mixture': proportions sum to {total:.6g}, not 1 (within {NORMALISE_TOLERANCE:.0%})",
                     file=source, row=row)


def _losses(row: Mapping[str, Any], source: str, r: int, need: bool) -> dict[str, float]:
    losses, loss = _as_mapping(row.get("losses")), row.get("loss")
    if losses is not None and loss is not None:
        raise InputError("give either 'losses' (one per validation domain) or 'loss', not both", file=source, row=r)
    if loss is not None:
        return {SINGLE_TARGET: _number(loss, SINGLE_TARGET, source, r)}
    if losses is None:
        if need:
            raise InputError("column 'losses' (or 'loss') is required: the validation losses of the run",
                             file=source, row=r)
        return {}
    if not isinstance(losses, Mapping) or not losses:
        raise InputError("column 'losses' must be a non-empty object {validation domain: loss}", file=source, row=r)
    return {str(v): _number(x, f"losses.{v}", source, r) for v, x in losses.items()}


def _number(value: Any, column: str, source: str, row: int) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise InputError(f"column '{column}' must be a finite number > 0, got {value!r}", file=source, row=row)
    return float(value)


def _optional(row: Mapping[str, Any], key: str, source: str, r: int) -> float:
    value = row.get(key)
    return math.nan if value is None else _number(value, key, source, r)


def write_rows(rows: Sequence[Mapping[str, Any]], path: str | Path, storage: Storage | None = None) -> None:
    """Write mixture-run rows as ``.csv`` (nested values under dotted columns, as read back by
    :func:`read_mixture_runs`) or JSON Lines (any other name), atomically; a local path or a URI
    (written with `storage`, default the environment's options)."""
    from curate.store.atomic import atomic_path

    with atomic_path(path, storage) as tmp:
        if not str(path).lower().endswith(".csv"):
            tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
            return
        import pyarrow as pa
        import pyarrow.csv as pacsv

        flat = [{f"{k}.{inner}" if k in NESTED else k: v
                 for k, value in r.items() for inner, v in (value.items() if k in NESTED else [(None, value)])}
                for r in rows]
        columns = list(dict.fromkeys(c for r in flat for c in r))
        pacsv.write_csv(pa.table({c: [r.get(c) for r in flat] for c in columns}), str(tmp))
