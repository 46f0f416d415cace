"""One pass over a run's rejected rows and Parquet sinks: what each reason removed (documents,
bytes, tokens), a few examples per reason, the sizes of near-duplicate clusters, and a sample
of every signal column for the histograms.

Totals per reason are exact: every rejected row is read (its reason, its text's length in UTF-8
bytes, its ``n_tokens``). The histograms use a sample of at most `max_rows` documents, chosen
by a seeded hash of the id, so that a document is in or out of the sample wherever it appears;
every document counts once, however many sinks or copies hold it (the sampler writes repeats),
and a rejected document counts as rejected. Near-duplicate clusters are read from the rows the
MinHash stage rejected: each carries its cluster's id (the kept document's), so a cluster's size
is one plus the rows rejected under its id, the same clusters the stage's summary counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.run_report.run_files import RunFiles
from curate.run_report.signals import Signals
from curate.text.id_hash import id_hashes

EXAMPLE_CHARS = 600  # characters of an example document shown
BATCH_ROWS = 8192
_MAX_HASH = 2**64 - 1


@dataclass
class Example:
    """A rejected document as the page shows it: the start of its text and, for a rule's
    rejection, the value of the signal the rule bounds."""

    id: str
    text: str
    chars: int
    column: str | None = None  # the signal column the rule bounds
    value: float | None = None


@dataclass
class ReasonTotal:
    """What one reason of one node removed; bytes and tokens are None where unknown (no
    ``_curate/rejected/`` rows, or no ``n_tokens`` column)."""

    node: str
    reason: str
    docs: int
    bytes: int | None = None
    tokens: int | None = None
    examples: list[Example] = field(default_factory=list)
    counted: bool = False  # docs counted from the rows, not taken from the stats


@dataclass
class SignalSample:
    """Sampled documents: each one's reject reason ("" when kept) and its signal values (NaN
    where undefined or not measured)."""

    fraction: float
    reasons: list[np.ndarray] = field(default_factory=list)
    values: dict[str, list[np.ndarray]] = field(default_factory=dict)  # in the order first seen
    integer: dict[str, bool] = field(default_factory=dict)  # whether a column holds integers
    rows: int = 0

    def add(self, reasons: np.ndarray, columns: dict[str, np.ndarray]) -> None:
        n = len(reasons)
        for name in columns:
            if name not in self.values:
                self.values[name] = [np.full(self.rows, np.nan)]
        for name, parts in self.values.items():
            parts.append(columns.get(name, np.full(n, np.nan)))
        self.reasons.append(reasons)
        self.rows += n

    def reason_array(self) -> np.ndarray:
        return np.concatenate(self.reasons) if self.reasons else np.array([], dtype=object)

    def column(self, name: str) -> np.ndarray:
        return np.concatenate(self.values[name]) if self.values.get(name) else np.array([])


@dataclass
class Scan:
    totals: list[ReasonTotal]
    clusters: dict[str, Counter]  # node -> {cluster size: clusters}
    sample: SignalSample


def scan_run(run: RunFiles, signals: Signals, max_rows: int, examples: int) -> Scan:
    """Read the run's rejected rows and sinks once (see the module docstring)."""
    totals = {(s["stage"], reason): ReasonTotal(s["stage"], reason, int(n))
              for s in run.stages for reason, n in (s.get("rejected") or {}).items()}
    expected = sum(t.docs for t in totals.values()) + sum(int(s.get("docs", 0)) for s in run.sinks.values())
    sampler = _Sampler(min(1.0, max_rows / expected) if expected else 1.0, int(run.stats.get("seed") or 0))
    members: dict[str, Counter] = {}
    for stage in run.stages:
        node = stage["stage"]
        shards = run.rejected_shards(node)
        if not shards:
            continue
        for reason_total in (t for t in totals.values() if t.node == node):
            reason_total.bytes, reason_total.tokens = 0, 0
        for path in shards:
            for batch in _batches(run, path, signals, with_text=True):
                _count(batch, node, totals, signals, examples, members)
                sampler.take(batch, batch.column(schema.REJECT_REASON).to_numpy(zero_copy_only=False), signals)
    for name in run.sinks:
        for path in run.sink_shards(name):
            for batch in _batches(run, path, signals, with_text=False):
                sampler.take(batch, np.full(batch.num_rows, "", dtype=object), signals)
    clusters = {node: Counter(count + 1 for count in removed.values()) for node, removed in members.items()}
    return Scan(list(totals.values()), clusters, sampler.sample)


def _batches(run: RunFiles, path: str, signals: Signals, with_text: bool) -> Iterator[pa.RecordBatch]:
    """The batches of one shard, with only the columns the report reads."""
    file_schema = run.schema(path)
    wanted = [schema.ID] + [f.name for f in file_schema if signals.is_signal(f.name, f.type)]
    if with_text:
        wanted += [schema.TEXT, schema.REJECT_REASON, schema.N_TOKENS, schema.DUP_CLUSTER_ID]
    names = [n for n in dict.fromkeys(wanted) if n in file_schema.names]
    yield from run.store.files.parquet_file(path).iter_batches(batch_size=BATCH_ROWS, columns=names)


def _count(batch: pa.RecordBatch, node: str, totals: dict[tuple[str, str], ReasonTotal], signals: Signals,
           examples: int, members: dict[str, Counter]) -> None:
    """Add one batch of a node's rejected rows to its reasons' totals, examples and clusters."""
    reasons = batch.column(schema.REJECT_REASON)
    names = batch.schema.names
    text = batch.column(schema.TEXT) if schema.TEXT in names else pa.nulls(batch.num_rows, pa.string())
    tokens = batch.column(schema.N_TOKENS) if schema.N_TOKENS in names else None
    table = pa.table({"reason": reasons, "bytes": pc.binary_length(text),
                      "tokens": tokens if tokens is not None else pa.nulls(batch.num_rows, pa.int64())})
    grouped = table.group_by("reason").aggregate([("bytes", "sum"), ("tokens", "sum"), ("reason", "count")])
    reason_of = reasons.to_numpy(zero_copy_only=False)
    for row in grouped.to_pylist():
        key = (node, str(row["reason"]))
        if key not in totals:  # a reason the stats do not name (they always do): counted from the rows
            totals[key] = ReasonTotal(node, key[1], 0, 0, 0, counted=True)
        total = totals[key]
        total.docs += int(row["reason_count"]) if total.counted else 0
        total.bytes = (total.bytes or 0) + int(row["bytes_sum"] or 0)
        total.tokens = None if tokens is None or total.tokens is None else total.tokens + int(row["tokens_sum"] or 0)
        need = examples - len(total.examples)
        if need > 0:
            total.examples += _examples(batch, np.flatnonzero(reason_of == key[1])[:need], signals.rule_column(key[1]))
    if schema.DUP_CLUSTER_ID in names:
        near = pc.equal(reasons, schema.REASON_NEAR_DUPLICATE)
        ids = pc.filter(batch.column(schema.DUP_CLUSTER_ID).cast(pa.string()), near)
        counted = members.setdefault(node, Counter())
        for item in pc.value_counts(ids).to_pylist():
            counted[item["values"]] += item["counts"]


def _examples(batch: pa.RecordBatch, rows: np.ndarray, column: str | None) -> list[Example]:
    names = batch.schema.names
    found = []
    for row in rows.tolist():
        text = batch.column(schema.TEXT)[row].as_py() if schema.TEXT in names else None
        text = text or ""
        value = batch.column(column)[row].as_py() if column and column in names else None
        found.append(Example(str(batch.column(schema.ID)[row].as_py()), text[:EXAMPLE_CHARS], len(text),
                             column if value is not None else None, value))
    return found


class _Sampler:
    """Keeps the signal values of the documents whose id hash falls in the sample, each once."""

    def __init__(self, fraction: float, seed: int) -> None:
        self.sample = SignalSample(fraction)
        self.seed = seed
        self.limit = None if fraction >= 1.0 else np.uint64(int(fraction * _MAX_HASH))
        self.seen: set[int] = set()

    def take(self, batch: pa.RecordBatch, reasons: np.ndarray, signals: Signals) -> None:
        if schema.ID not in batch.schema.names or batch.num_rows == 0:
            return
        hashes = id_hashes(batch.column(schema.ID), self.seed)
        rows = np.arange(len(hashes)) if self.limit is None else np.flatnonzero(hashes <= self.limit)
        _, first = np.unique(hashes[rows], return_index=True)
        rows = rows[np.sort(first)]
        fresh = [h not in self.seen for h in hashes[rows].tolist()]
        rows = rows[np.asarray(fresh, dtype=bool)]
        self.seen.update(hashes[rows].tolist())
        if len(rows) == 0:
            return
        take = pa.array(rows)
        fields = [(i, f) for i, f in enumerate(batch.schema) if signals.is_signal(f.name, f.type)]
        for _, f in fields:
            self.sample.integer.setdefault(f.name, pa.types.is_integer(f.type))
        columns = {f.name: _floats(batch.column(i).take(take)) for i, f in fields}
        self.sample.add(reasons[rows].astype(object), columns)


def _floats(values: pa.Array) -> np.ndarray:
    return pc.cast(values, pa.float64()).fill_null(np.nan).to_numpy(zero_copy_only=False)
