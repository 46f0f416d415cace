"""quality_buckets: put every document in a named quality bucket and write ``buckets.json``.

Buckets come from a score column (``quality_score`` by default), best first, either by fixed
``thresholds`` or by corpus-wide ``quantiles``. Place the stage after the last stage that drops
rows (dedup, prune): its counts are then exactly the documents the sampler will see.

- thresholds ``[t0, t1, ...]`` (strictly descending, one fewer than the names): bucket 0 holds
  score >= t0, bucket 1 holds t1 <= score < t0, ..., the last bucket the rest.
- quantiles ``[q0, q1, ...]`` (descending levels in [0, 1)): the same rule with cut values
  t_i = the exact q_i-quantile of the corpus's scores: with the non-null scores sorted ascending
  s_0 <= ... <= s_{n-1}, t_i = s_j with j = ceil(q_i * n) (clipped to n - 1), so about a
  (1 - q_i) share of the documents lies at or above it (documents tied with a cut all go up).
  Exact, not sketched: summarize keeps only (score, n_tokens) per document, and combine holds
  them in memory, 16 bytes per document (100 M documents: 1.6 GB).
- A null score (a document the classifier could not score) goes to the last bucket.

``buckets.json`` (the planner's input) lists per bucket the documents, the unique tokens
(``n_tokens`` summed), the mean score and the ``utility`` (per bucket, default 1.0).

``by: domain`` (any column naming each document's domain, e.g. the domain classifier's) makes
one bucket per (domain, quality) pair, named ``<domain>/<quality>`` and carrying its ``domain``
and ``quality``: what ``curate mixtures`` and the mixture planner read. Quantile cuts are then
taken within each domain (each domain's best third is its ``high``: a quality classifier's scores
need not be comparable across domains), thresholds are the same in every domain, and a null
domain counts as the domain ``unknown``.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import CombineContext, GlobalStage, Param, TaskContext, set_column

_SCORE, _TOKENS, _DOMAIN = "score", "tokens", "domain"
_STATE = "cuts"
NULL_DOMAIN = "unknown"  # the domain of documents whose `by` column is null


def scores_of(table: pa.Table, column: str, stage: str, hint: str) -> np.ndarray:
    """A numeric column as float64 with NaN for null; ConfigError naming the column if absent."""
    if column not in table.column_names:
        raise ConfigError(f"stage '{stage}': column '{column}' not found (have: {', '.join(table.column_names)}); {hint}")
    col = table.column(column)
    if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
        raise ConfigError(f"stage '{stage}': column '{column}' must be numeric, found {col.type}")
    return pc.fill_null(col.cast(pa.float64()), math.nan).to_numpy(zero_copy_only=False)


def quantile_cuts(scores: np.ndarray, levels: list[float]) -> list[float]:
    """Exact cut values: for each level q, the sorted non-null score at index ceil(q * n)."""
    s = np.sort(scores[~np.isnan(scores)])
    n = len(s)
    if n == 0:
        return [math.inf] * len(levels)  # no scored document: every document in the last bucket
    # -1e-9: q * n computed as 7.000000000000001 must still give index 7.
    return [float(s[min(n - 1, max(0, math.ceil(q * n - 1e-9)))]) for q in levels]


def assign(scores: np.ndarray, cuts: list[float]) -> np.ndarray:
    """Bucket index per score (0 = best): the number of cuts above the score; NaN -> last bucket."""
    asc = np.asarray(cuts[::-1], dtype=np.float64)
    idx = len(asc) - np.searchsorted(asc, scores, side="right")
    idx[np.isnan(scores)] = len(cuts)
    return idx.astype(np.int64)


@register
class QualityBuckets(GlobalStage):
    name = "quality_buckets"
    produces = (schema.QUALITY_BUCKET,)
    params = {
        "score_column": Param(str, schema.QUALITY_SCORE, "numeric column to bucket by"),
        "names": Param(list, ["high", "medium", "low"], "bucket names, best first"),
        "thresholds": Param(list, None, "descending score lower bounds, one per bucket except the last",
                            nullable=True),
        "quantiles": Param(list, None, "descending quantile levels in [0, 1), one per bucket except the last; "
                           "default (when no thresholds): equal-sized buckets", nullable=True),
        "utility": Param((dict, list, float), None, "utility per bucket: {name: value}, a list in bucket "
                         "order, or one number for all (default 1.0)", nullable=True),
        "tokens_column": Param(str, schema.N_TOKENS, "token-count column summed into unique_tokens"),
        "by": Param(str, None, "column naming each document's domain (e.g. domain): one bucket per (domain, quality) "
                    "pair, named <domain>/<quality>, quantile cuts within each domain", nullable=True),
        "output": Param(str, "buckets.json", "file written under the output directory (in _curate/meta/<node>/)",
                        output_file=True),
    }

    def required_columns(self) -> tuple[str, ...]:
        return (schema.ID, schema.TEXT, self.score_column, self.tokens_column, *((self.by,) if self.by else ()))

    def validate(self) -> None:
        names = self.names
        if not names or not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
            raise ConfigError("stage 'quality_buckets': 'names' must be distinct non-empty strings")
        if self.thresholds is not None and self.quantiles is not None:
            raise ConfigError("stage 'quality_buckets': give 'thresholds' or 'quantiles', not both")
        k = len(names)
        cuts = self.thresholds if self.thresholds is not None else self.quantiles
        if cuts is not None:
            what = "thresholds" if self.thresholds is not None else "quantiles"
            if len(cuts) != k - 1 or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in cuts):
                raise ConfigError(f"stage 'quality_buckets': '{what}' needs {k - 1} numbers (one fewer than names)")
            if any(a <= b for a, b in zip(cuts, cuts[1:])):
                raise ConfigError(f"stage 'quality_buckets': '{what}' must be strictly descending (best bucket first)")
            if what == "quantiles" and not all(0 <= q < 1 for q in cuts):
                raise ConfigError("stage 'quality_buckets': quantile levels must be in [0, 1)")
        self.utilities()  # validates

    def levels(self) -> list[float]:
        """The quantile levels in use (explicit, or equal-sized buckets)."""
        if self.quantiles is not None:
            return [float(q) for q in self.quantiles]
        k = len(self.names)
        return [(k - 1 - i) / k for i in range(k - 1)]

    def utilities(self) -> list[float]:
        """Utility of each bucket, in bucket order."""
        names, u = self.names, self.utility
        if u is None:
            values = [1.0] * len(names)
        elif isinstance(u, float):
            values = [u] * len(names)
        elif isinstance(u, list):
            if len(u) != len(names):
                raise ConfigError(f"stage 'quality_buckets': 'utility' list needs {len(names)} values, got {len(u)}")
            values = u
        else:
            unknown = sorted(set(u) - set(names))
            if unknown:
                raise ConfigError(f"stage 'quality_buckets': 'utility' names unknown bucket(s) {', '.join(unknown)}")
            values = [u.get(n, 1.0) for n in names]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0 for v in values):
            raise ConfigError("stage 'quality_buckets': utilities must be numbers >= 0")
        return [float(v) for v in values]

    # ---- summarize / combine / apply ----------------------------------------------------
    def _scores(self, table: pa.Table) -> np.ndarray:
        return scores_of(table, self.score_column, self.name,
                         "add a classify stage (column: quality, label: hq) before it, or set score_column")

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        scores = self._scores(table)
        if self.tokens_column not in table.column_names:
            raise ConfigError(f"stage 'quality_buckets': column '{self.tokens_column}' not found; add the "
                              "token_count stage before it (buckets.json counts unique tokens)")
        tokens = pc.fill_null(table.column(self.tokens_column), 0).cast(pa.int64())
        cols = {_SCORE: pa.array(scores, pa.float64()), _TOKENS: tokens}
        if self.by is not None:
            cols[_DOMAIN] = self._domains(table)
        return pa.table(cols)

    def _domains(self, table: pa.Table) -> pa.Array | pa.ChunkedArray:
        """The `by` column as strings, null as :data:`NULL_DOMAIN`."""
        if self.by not in table.column_names:
            raise ConfigError(f"stage 'quality_buckets': 'by' column '{self.by}' not found (have: "
                              f"{', '.join(table.column_names)}); classify the domain first (e.g. a classify stage "
                              "with column: domain)")
        return pc.fill_null(table.column(self.by).cast(pa.string()), NULL_DOMAIN)

    def combine(self, ctx: CombineContext) -> None:
        parts = [pq.read_table(p) for p in ctx.partials]
        parts = [t for t in parts if t.num_rows]
        scores = np.concatenate([t.column(_SCORE).to_numpy() for t in parts]) if parts else np.zeros(0)
        tokens = (np.concatenate([t.column(_TOKENS).to_numpy() for t in parts]) if parts
                  else np.zeros(0, dtype=np.int64))
        method = "thresholds" if self.thresholds is not None else "quantiles"
        if self.by is None:
            cuts = self._cuts(scores)
            buckets = self._buckets(scores, tokens, cuts)
            state: dict = {"cuts": cuts}
            shown_cuts: object = _shown(cuts)
        else:
            domain = (pa.chunked_array([t.column(_DOMAIN) for t in parts], pa.string()).to_numpy(zero_copy_only=False)
                      if parts else np.zeros(0, dtype=object))
            per_domain = {d: self._cuts(scores[domain == d]) for d in sorted(set(domain.tolist()))}
            buckets = []
            for d, cuts in per_domain.items():
                mine = domain == d
                buckets += [{"name": f"{d}/{b['name']}", "domain": d, "quality": b["name"], **_without_name(b)}
                            for b in self._buckets(scores[mine], tokens[mine], cuts)]
            state = {"by_domain": per_domain}
            shown_cuts = ([_shown(c) for c in per_domain.values()][0] if method == "thresholds" and per_domain
                          else {d: _shown(c) for d, c in per_domain.items()})
        scored = ~np.isnan(scores)
        doc = {
            "score_column": self.score_column,
            "method": method,
            **({"quantiles": self.levels()} if method == "quantiles" else {}),
            **({"by": self.by} if self.by is not None else {}),
            "cuts": shown_cuts,
            "docs": int(len(scores)),
            "unscored_docs": int((~scored).sum()),
            "buckets": buckets,
        }
        ctx.store.write_json(_STATE, state)
        ctx.store.write_meta(self.output, doc)
        ctx.summary.update({"cuts": doc["cuts"], "docs": {b["name"]: b["docs"] for b in buckets},
                            "unique_tokens": {b["name"]: b["unique_tokens"] for b in buckets}})

    def _cuts(self, scores: np.ndarray) -> list[float]:
        if self.thresholds is not None:
            return [float(t) for t in self.thresholds]
        return quantile_cuts(scores, self.levels())

    def _buckets(self, scores: np.ndarray, tokens: np.ndarray, cuts: list[float]) -> list[dict]:
        """buckets.json's entry per quality bucket of these documents."""
        k = len(self.names)
        idx = assign(scores, cuts)
        docs = np.bincount(idx, minlength=k)
        tok = np.zeros(k, dtype=np.int64)
        np.add.at(tok, idx, tokens)
        scored = ~np.isnan(scores)
        score_sum = np.bincount(idx[scored], weights=scores[scored], minlength=k)
        scored_n = np.bincount(idx[scored], minlength=k)
        utilities = self.utilities()
        return [{
            "name": name,
            "docs": int(docs[i]),
            "unique_tokens": int(tok[i]),
            "mean_score": float(score_sum[i] / scored_n[i]) if scored_n[i] else None,
            "utility": utilities[i],
            "min_score": cuts[i] if i < len(cuts) and math.isfinite(cuts[i]) else None,
        } for i, name in enumerate(self.names)]

    def apply(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        assert ctx.store is not None
        state = ctx.store.read_json(_STATE)
        scores = self._scores(table)
        if self.by is None:
            names = pa.array(self.names, pa.string())
            return set_column(table, schema.QUALITY_BUCKET, names.take(pa.array(assign(scores, state["cuts"]))))
        domain = self._domains(table).to_numpy(zero_copy_only=False)
        out = np.empty(table.num_rows, dtype=object)
        for d, cuts in state["by_domain"].items():
            mine = domain == d
            out[mine] = [f"{d}/{self.names[i]}" for i in assign(scores[mine], cuts)]
        return set_column(table, schema.QUALITY_BUCKET, pa.array(out, pa.string()))


def _shown(cuts: list[float]) -> list[float | None]:
    """Cut values as buckets.json shows them (an infinite cut, no scored document, as null)."""
    return [c if math.isfinite(c) else None for c in cuts]


def _without_name(bucket: dict) -> dict:
    return {k: v for k, v in bucket.items() if k != "name"}
