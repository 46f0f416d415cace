"""sample: write a plan (epochs per quality bucket) out as one globally ordered training mixture.

A mixture plan (``curate plan --law mixture.json``: buckets per (domain, quality) pair) is
written the same way; its phases are written one after the other (curate.stages.sample_phases),
and the summary gives tokens per domain, quality bucket and phase.

summarize keeps, per document, only a seeded hash of its id, its bucket, tokens, score, dup count
and where it lives (task, row). combine plans (or reads a plan.json), decides how many copies of
each document to write and in which global position, and writes the state; apply_task (a
*reshaping* global stage) builds output shard i from the rows destined to it, gathered from every
task's input. The text is never loaded in one place.

- Copies: a bucket with e epochs gets floor(e) full passes plus a fractional pass over the
  highest-scored documents (``fraction_by: score``) or a seeded random choice (``random``), so
  written tokens = e x the bucket's actual tokens, within half its largest document.
- Repeats are spaced: each bucket's stream lists pass after pass; within a pass documents are
  shuffled only inside a few fixed blocks, so two copies of a document are always more than half
  a pass of that bucket apart.
- Spreading: every copy gets the key (tokens of its bucket's stream before it + half its own) /
  (the stream's tokens); the output is all copies sorted by key, so each bucket's token share is
  the same in every part of the output.
- Output shard i (one per input task) is the i-th contiguous slice of that order; rows carry
  ``epoch_index`` (0-based pass).
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curate import schema
from curate.errors import ConfigError, InputError, MissingExtra
from curate.pipeline.registry import register
from curate.pipeline.stage import (
    CombineContext,
    Param,
    ReshapingStage,
    Stage,
    TaskContext,
    set_column,
)
from curate.stages.sample_phases import BucketInfo, mixture_report, phase_fractions, phase_of_copies
from curate.store.state import StageStore
from curate.store.storage import Storage

# partial (per document) and state (per copy) columns: internal to this stage
_HASH, _BUCKET, _TOKENS, _SCORE, _DUP, _TASK, _ROW = "h", "bucket", "tokens", "score", "dup", "task", "row"
_DEST, _POS, _EPOCH = "dest", "pos", "epoch"
_POS_COLUMN = "__sample_pos"  # carried through the scatter files, dropped before output
_DESTS_KEY = b"curate.sample.dests"

REASON_NOT_SAMPLED = "not_sampled"  # in a planned bucket, but its fractional pass left it out
REASON_NOT_IN_PLAN = "bucket_not_in_plan"  # null bucket, or a bucket the plan does not name

_OUT_BATCH_ROWS = 65536
_GOLDEN64 = 0x9E3779B97F4A7C15


def _mix(h: np.ndarray, salt: int) -> np.ndarray:
    """SplitMix64 finaliser of h + salt * golden ratio (Steele, Lea & Flood 2014): a seeded shuffle key."""
    z = h + np.uint64((salt * _GOLDEN64) % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


# ------------------------------------------------------------------------------------------
# The mixture: pure numpy, no I/O


def copies_per_doc(tokens: np.ndarray, epochs: np.ndarray, priority: np.ndarray, hashes: np.ndarray) -> np.ndarray:
    """Copies of each document of one bucket: floor(e_d) plus one for the best-priority documents.

    The extra copies go, largest fractional part first, then highest `priority`, until the
    bucket's written tokens are as close as one document allows to sum_d e_d * tokens_d.
    """
    base = np.floor(epochs).astype(np.int64)
    frac = epochs - base
    remainder = float((epochs * tokens).sum() - (base * tokens).sum())
    copies = base.copy()
    candidates = np.flatnonzero(frac > 0)
    if remainder <= 0 or candidates.size == 0:
        return copies
    prio = np.where(np.isnan(priority[candidates]), -np.inf, priority[candidates])
    order = candidates[np.lexsort((hashes[candidates], -prio, -frac[candidates]))]
    cum = np.cumsum(tokens[order], dtype=np.float64)
    k = int(np.searchsorted(cum, remainder, side="right"))  # cum[:k] <= remainder
    if k < order.size:
        before = float(cum[k - 1]) if k > 0 else 0.0
        if cum[k] - remainder < remainder - before:
            k += 1
    copies[order[:k]] += 1
    return copies


def bucket_stream(copies: np.ndarray, hashes: np.ndarray, salt: int) -> tuple[np.ndarray, np.ndarray]:
    """One bucket's copies in stream order: (document index, pass index) arrays.

    Documents are ranked once (more copies first, then by hash), so the documents of pass p
    are a prefix of that ranking, of length n_p. The ranking is cut into blocks at every
    floor(n_p / 2) and n_p; each pass lists its prefix with every block shuffled anew. A document
    keeps its block in every pass, so its copies in passes p and p + 1 are more than n_p / 2
    documents apart (block lengths stay within half a pass).
    """
    if copies.size == 0 or copies.max() <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
    rank = np.lexsort((hashes, -copies))
    ranked = copies[rank]
    passes = int(ranked[0])
    n = np.searchsorted(-ranked, -np.arange(passes), side="left")  # docs with more than p copies
    cuts = np.unique(np.concatenate([[0], n // 2, n]))
    docs, epochs = [], []
    for p in range(passes):
        members = rank[: n[p]]
        block = np.searchsorted(cuts, np.arange(n[p]), side="right")
        order = np.lexsort((_mix(hashes[members], salt * 1_000_003 + p + 1), block))
        docs.append(members[order])
        epochs.append(np.full(n[p], p, dtype=np.int32))
    return np.concatenate(docs), np.concatenate(epochs)


def interleave(streams: list[np.ndarray], tokens: np.ndarray) -> np.ndarray:
    """Merge per-bucket streams (arrays of document indices) into one order spreading each evenly.

    A copy's key is the share of its bucket's tokens written before its middle; sorting all
    copies by key (ties: bucket, then position) gives every bucket the same token share in every
    stretch of the output. Returns, per output position, (stream index, position in stream).
    """
    keys, which, where = [], [], []
    for b, docs in enumerate(streams):
        if docs.size == 0:
            continue
        tk = tokens[docs].astype(np.float64)
        total = tk.sum()
        key = (np.cumsum(tk) - tk / 2) / total if total > 0 else (np.arange(docs.size) + 0.5) / docs.size
        keys.append(key)
        which.append(np.full(docs.size, b, dtype=np.int32))
        where.append(np.arange(docs.size, dtype=np.int64))
    if not keys:
        return np.zeros((0, 2), dtype=np.int64)
    key, b, pos = np.concatenate(keys), np.concatenate(which), np.concatenate(where)
    order = np.lexsort((pos, b, key))
    return np.stack([b[order], pos[order]], axis=1)


def interleave_phases(streams: list[np.ndarray], phases: list[np.ndarray], tokens: np.ndarray,
                      n_phases: int) -> tuple[np.ndarray, np.ndarray]:
    """Phase after phase, each phase's copies of every bucket spread evenly (:func:`interleave`).

    `phases[b]` gives the phase of every copy of stream b. Returns, per output position, (stream
    index, position in stream), and the phase of every output position."""
    orders, phase_rows = [], []
    for p in range(n_phases):
        picks = [np.flatnonzero(ph == p) for ph in phases]
        sub = interleave([s[i] for s, i in zip(streams, picks, strict=True)], tokens)
        if not sub.size:
            continue
        offsets = np.concatenate([[0], np.cumsum([i.size for i in picks])]).astype(np.int64)
        flat = np.concatenate(picks).astype(np.int64)
        orders.append(np.stack([sub[:, 0], flat[offsets[sub[:, 0]] + sub[:, 1]]], axis=1))
        phase_rows.append(np.full(len(sub), p, dtype=np.int32))
    if not orders:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int32)
    return np.concatenate(orders), np.concatenate(phase_rows)


def min_repeat_gap(docs: np.ndarray, epochs: np.ndarray, pass_sizes: np.ndarray) -> float | None:
    """Smallest distance between consecutive copies of a document in a stream, in passes."""
    if docs.size == 0:
        return None
    order = np.lexsort((epochs, docs))
    d, e = docs[order], epochs[order]
    pos = order.astype(np.float64)  # position in the stream of each sorted entry
    same = d[1:] == d[:-1]
    if not same.any():
        return None
    gaps = (pos[1:] - pos[:-1])[same] / pass_sizes[e[:-1][same]]
    return float(gaps.min())


# ------------------------------------------------------------------------------------------
# Scatter / gather: module-level so executors can pickle them


def scatter_source(args: tuple[StageStore, int]) -> int:
    """Write one input task's copies into a state file with one row group per destination shard.

    `args` = (the sampler's store, source task). Reads the task's input once; destinations are
    listed in the file's metadata (``curate.sample.dests``).
    """
    store, task = args
    state = store.read_task(task, "src", cache=False)
    src = store.read_input(task)
    dests = state.column(_DEST).to_numpy()
    bounds = np.flatnonzero(np.diff(dests)) + 1
    starts = np.concatenate([[0], bounds]) if dests.size else np.zeros(0, dtype=np.int64)
    ends = np.concatenate([bounds, [dests.size]]) if dests.size else np.zeros(0, dtype=np.int64)
    rows = state.column(_ROW).to_numpy()
    epochs = state.column(_EPOCH)
    pos = state.column(_POS)
    out_schema = _with_copy_columns(src.schema).with_metadata({_DESTS_KEY: json.dumps([int(dests[s]) for s in starts])})
    with store.files.output(store.task_path(task, "scatter")) as out:
        with pq.ParquetWriter(out, out_schema, compression="zstd") as writer:
            for s, e in zip(starts, ends, strict=True):
                part = _copy_rows(src, rows[s:e], epochs.slice(s, e - s), pos.slice(s, e - s))
                writer.write_table(part.cast(out_schema), row_group_size=max(1, part.num_rows))
    return int(dests.size)


def _with_copy_columns(s: pa.Schema) -> pa.Schema:
    for name, typ in ((schema.EPOCH_INDEX, pa.int32()), (_POS_COLUMN, pa.int64())):
        if name in s.names:
            s = s.remove(s.get_field_index(name))
        s = s.append(pa.field(name, typ))
    return s


def _copy_rows(src: pa.Table, rows: np.ndarray, epochs: pa.Array | pa.ChunkedArray,
               pos: pa.Array | pa.ChunkedArray) -> pa.Table:
    part = src.take(pa.array(rows, pa.int64()))
    part = set_column(part, schema.EPOCH_INDEX, epochs)
    return set_column(part, _POS_COLUMN, pos)


# ------------------------------------------------------------------------------------------


@register
class Sample(ReshapingStage):
    name = "sample"
    used_key = "docs_sampled"
    requires = (schema.ID, schema.TEXT, schema.QUALITY_BUCKET)  # + tokens_column, score_column: required_columns
    produces = (schema.EPOCH_INDEX,)
    optional = (schema.DUP_COUNT,)  # upsample_by_dup_count
    params = {
        "plan": Param((str, dict), None, "plan.json to materialize (from `curate plan --json`; or the plan itself, "
                      "a mapping); else give compute", path=True, nullable=True),
        "compute": Param((float, str), None, "compute budget in FLOPs: plan here from buckets.json "
                         "(C = 6 N D)", nullable=True),
        "buckets": Param(str, None, "buckets.json for planning; default: the one quality_buckets wrote in the "
                         "output directory", nullable=True, path=True),
        "n_params": Param((float, str), None, "fix the model size N when planning (default: searched)",
                          nullable=True),
        "max_epochs": Param(float, None, "at most this many epochs of any bucket when planning", nullable=True,
                            min=0.0),
        "law": Param(str, "datablations", "loss law for planning: datablations, chinchilla or a law.json from "
                     "`curate calibrate`; a mixture law.json plans domain shares (buckets by domain and quality)"),
        "phases": Param(list, None, "phases of the run, written in order: [{until: 0.85}, {until: 1.0, upsample: "
                        "{high: 3}}] or proportions per phase; default: the plan's own phases, else one",
                        nullable=True),
        "fraction_by": Param(str, "score", "which documents the fractional pass takes: the highest-scored or "
                             "a seeded random choice", choices=("score", "random")),
        "score_column": Param(str, schema.QUALITY_SCORE, "score column for fraction_by: score"),
        "tokens_column": Param(str, schema.N_TOKENS, "token-count column"),
        "upsample_by_dup_count": Param(bool, False, "give documents duplicated widely on the web more copies: "
                                       "weight dup_count (the copies dedup merged), same tokens per bucket"),
        "plot": Param(bool, True, "also write plan.png next to plan.json"),
        "output": Param(str, "plan.json", "name of the plan file written in the output directory (in "
                        "_meta/<node>/)", output_file=True),
    }

    def required_columns(self) -> tuple[str, ...]:
        cols = [schema.ID, schema.TEXT, schema.QUALITY_BUCKET, self.tokens_column]
        if self.fraction_by == "score":
            cols.append(self.score_column)
        if self.upsample_by_dup_count:
            cols.append(schema.DUP_COUNT)
        return tuple(cols)

    def validate(self) -> None:
        for key in ("compute", "n_params"):
            value = self.config[key]
            if isinstance(value, str):
                try:
                    value = float(value)
                except ValueError:
                    raise ConfigError(f"stage 'sample': parameter '{key}' must be a number, got {value!r}") from None
                self.config[key] = value
            if value is not None and not (value > 0 and math.isfinite(value)):
                raise ConfigError(f"stage 'sample': parameter '{key}' must be a positive number, got {value}")
        if (self.plan is None) == (self.compute is None):
            raise ConfigError("stage 'sample': give either 'plan' (a plan.json) or 'compute' (plan from buckets.json)")
        if self.plan is not None and any(self.config[k] is not None for k in ("buckets", "n_params", "max_epochs")):
            raise ConfigError("stage 'sample': 'buckets', 'n_params' and 'max_epochs' only apply with 'compute'")
        if self.phases is not None:
            from curate.planner.phases import parse_phases

            parse_phases(self.phases, "stage 'sample': phases")

    def dependency_files(self, storage: Storage) -> list[str]:
        from curate.planner import LAWS

        # a law.json from `curate calibrate`; a law's name is no file (and probing it as one would
        # read the working directory, which a driver on object storage need not have)
        law_file = [self.law] if self.law not in LAWS and storage.file_exists(self.law) else []
        return [p for p in (self.plan, self.buckets) if isinstance(p, str)] + law_file

    def check_upstream(self, upstream: list[Stage]) -> None:
        if self.plan is None and self.buckets is None and not any(s.name == "quality_buckets" for s in upstream):
            raise ConfigError("stage 'sample' plans from the buckets of a quality_buckets stage upstream, and there "
                              "is none: add one before it, or give 'buckets' (or a ready 'plan')")

    def check(self, storage: Storage) -> None:
        if isinstance(self.plan, str):
            _read_json(self.plan, "plan", storage)
        elif self.plan is None:
            _planning_law(self.law, storage)  # an unknown name or unreadable law.json fails before the run starts

    # ---- summarize ---------------------------------------------------------------------
    def kernels(self) -> list[Any]:
        from curate.text import id_hash

        return list(id_hash.KERNELS)

    def warm_up(self, sample: pa.Table) -> None:
        from curate.text.id_hash import id_hashes

        id_hashes(sample.column(schema.ID), 0)

    def summarize(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        from curate.text.id_hash import id_hashes

        for col, hint in ((schema.QUALITY_BUCKET, "add the quality_buckets stage before sample"),
                          (self.tokens_column, "add the token_count stage before sample")):
            if col not in table.column_names:
                raise ConfigError(f"stage 'sample': column '{col}' not found in {ctx.source}; {hint}")
        n = table.num_rows
        if self.fraction_by == "score" and n:
            from curate.stages.buckets import scores_of

            score = scores_of(table, self.score_column, self.name, "set score_column, or fraction_by: random")
        else:
            score = np.full(n, math.nan)
        dup = (pc.fill_null(table.column(schema.DUP_COUNT), 1).cast(pa.int64())
               if self.upsample_by_dup_count and schema.DUP_COUNT in table.column_names else pa.array(np.ones(n, np.int64)))
        if self.upsample_by_dup_count and n and schema.DUP_COUNT not in table.column_names:
            raise ConfigError(f"stage 'sample': upsample_by_dup_count needs column '{schema.DUP_COUNT}' (run a dedup "
                              "stage first)")
        return pa.table({
            _HASH: pa.array(id_hashes(table.column(schema.ID), ctx.seed), pa.uint64()),
            _BUCKET: table.column(schema.QUALITY_BUCKET).cast(pa.string()),
            _TOKENS: pc.fill_null(table.column(self.tokens_column), 0).cast(pa.int64()),
            _SCORE: pa.array(score, pa.float64()),
            _DUP: dup,
            _TASK: pa.array(np.full(n, ctx.task_index, np.int32)),
            _ROW: pa.array(np.arange(ctx.row_offset, ctx.row_offset + n, dtype=np.int64)),
        })

    # ---- combine -----------------------------------------------------------------------
    def _resolve_plan(self, ctx: CombineContext) -> Any:
        from curate.planner import Plan, buckets_for_law, plan

        storage = ctx.store.storage
        if isinstance(self.plan, dict):
            return Plan.from_dict(self.plan)
        if self.plan is not None:
            return Plan.from_dict(_read_json(self.plan, "plan", storage))
        if self.buckets is not None:
            where, doc = self.buckets, _read_json(self.buckets, "buckets", storage)
        else:
            where, doc = ctx.store.read_upstream_meta("buckets.json")
            if doc is None:
                raise ConfigError(f"stage 'sample': no quality_buckets stage upstream wrote buckets.json ({where}); "
                                  "put quality_buckets before sample, or give 'buckets' (or a ready 'plan')")
        law = _planning_law(self.law, storage)
        if getattr(law, "kind", None) == "mixture":
            from curate.planner.mixture.plan import plan_mixture

            return plan_mixture(law, doc, self.compute, params=self.n_params, max_epochs=self.max_epochs,
                                phases=self.phases, seed=ctx.seed, storage=storage)
        buckets, law = buckets_for_law(doc, law, str(where))
        planned = plan(buckets, self.compute, params=self.n_params, max_epochs=self.max_epochs, law=law)
        if self.phases is None:
            return planned
        from curate.planner.phases import parse_phases, with_phases

        return with_phases(planned, parse_phases(self.phases, "stage 'sample': phases"))

    def combine(self, ctx: CombineContext) -> None:
        the_plan = self._resolve_plan(ctx)
        ctx.store.write_meta(self.output, the_plan.to_dict())
        if self.plot and the_plan.buckets and the_plan.params > 0:
            from curate.planner.mixture.report import plot_mixture_plan
            from curate.planner.report import plot_plan

            png = io.BytesIO()
            try:
                (plot_mixture_plan if the_plan.extra.get("kind") == "mixture" else plot_plan)(the_plan, png)
            except MissingExtra as exc:  # the plot is a picture of plan.json: the run goes on without it
                ctx.logger.warning("sample: %s.png not written: %s", Path(self.output).stem, exc)
            else:
                ctx.store.write_meta(Path(self.output).stem + ".png", png.getvalue())
        for w in the_plan.warnings:
            ctx.logger.warning("sample: plan warning: %s", w)

        docs = _read_partials(ctx.partials)
        n_docs = docs[_HASH].size
        names = [b.name for b in the_plan.buckets]
        code = pc.fill_null(pc.index_in(docs[_BUCKET], value_set=pa.array(names, pa.string())), -1)
        code = code.to_numpy().astype(np.int64) if n_docs else np.zeros(0, dtype=np.int64)
        tokens, hashes = docs[_TOKENS], docs[_HASH]
        priority = docs[_SCORE] if self.fraction_by == "score" else np.zeros(n_docs)

        copies = np.zeros(n_docs, dtype=np.int64)
        streams: list[np.ndarray] = []
        stream_epochs: list[np.ndarray] = []
        per_bucket: dict[str, dict[str, Any]] = {}
        for b, bp in enumerate(the_plan.buckets):
            members = np.flatnonzero(code == b)
            t = tokens[members].astype(np.float64)
            epochs = np.full(members.size, bp.epochs)
            if self.upsample_by_dup_count and members.size:
                # One copy per copy the dedup stages merged, as deduplicating each crawl on its own keeps a
                # document once per crawl it appears in, which trained better models than deduplicating
                # across crawls (Penedo et al. 2024, "The FineWeb Datasets", arXiv:2406.17557,
                # deduplication: "more deduplication is not always better"); see docs/planner.md.
                weight = np.maximum(docs[_DUP][members], 1).astype(np.float64)
                total = float(t.sum())
                weighted = float((weight * t).sum())
                epochs = bp.epochs * weight * (total / weighted) if weighted > 0 else epochs
            c = copies_per_doc(t, epochs, priority[members], hashes[members])
            copies[members] = c
            local, ep = bucket_stream(c, hashes[members], ctx.seed)
            streams.append(members[local])
            stream_epochs.append(ep)
            pass_sizes = np.bincount(ep, minlength=int(c.max()) if c.size else 0)
            planned = bp.epochs * float(t.sum())
            written = float((c * t).sum())
            per_bucket[bp.name] = {
                "docs": int(members.size),
                "tokens": int(t.sum()),
                "plan_unique_tokens": bp.unique_tokens,
                "epochs": bp.epochs,
                "planned_tokens": planned,
                "written_tokens": written,
                "relative_error": (written - planned) / planned if planned > 0 else 0.0,
                "largest_doc_tokens": int(t.max()) if t.size else 0,
                "docs_sampled": int((c > 0).sum()),
                "copies": int(c.sum()),
                "min_repeat_gap_passes": min_repeat_gap(local, ep, pass_sizes),
            }

        infos = [BucketInfo(bp.name, bp.domain, bp.quality, per_bucket[bp.name]["planned_tokens"])
                 for bp in the_plan.buckets]
        phases = phase_fractions(infos, the_plan.extra.get("phases"), self.phases, "stage 'sample'")
        stream_phases = [phase_of_copies(tokens[s], phases.fractions[b]) for b, s in enumerate(streams)]
        # (bucket, position in its stream) per output row, phase after phase
        order, out_phase = interleave_phases(streams, stream_phases, tokens, len(phases.until))
        offsets = np.concatenate([[0], np.cumsum([s.size for s in streams])]).astype(np.int64)
        flat_docs = np.concatenate(streams) if streams else np.zeros(0, dtype=np.int64)
        flat_epochs = np.concatenate(stream_epochs) if stream_epochs else np.zeros(0, dtype=np.int32)
        flat = offsets[order[:, 0]] + order[:, 1] if order.size else np.zeros(0, dtype=np.int64)
        out_docs, out_epochs = flat_docs[flat], flat_epochs[flat]
        n_out = out_docs.size
        dest = (np.arange(n_out, dtype=np.int64) * ctx.n_tasks // max(n_out, 1)).astype(np.int32)
        self._write_state(ctx, docs, out_docs, out_epochs, dest)

        self._write_unsampled(ctx, docs, code, copies)
        unplanned = int((code < 0).sum())
        not_sampled = int(((code >= 0) & (copies == 0)).sum())
        unknown = sorted(x for x in pc.unique(docs[_BUCKET].filter(pa.array(code < 0))).to_pylist() if x is not None)
        if unknown:
            ctx.logger.warning("sample: bucket(s) %s not in the plan: their documents are not sampled", ", ".join(unknown))
        plan_doc = the_plan.to_dict()
        ctx.summary.update({
            "plan": {"file": self.output, **{k: plan_doc[k] for k in ("law", "compute", "params", "tokens",
                                                                        "predicted_loss", "warnings")}},
            "docs_in": int(n_docs),
            "docs_sampled": int((copies > 0).sum()),
            "rows_out": int(n_out),
            "not_sampled": {REASON_NOT_SAMPLED: not_sampled, REASON_NOT_IN_PLAN: unplanned},
            "buckets": per_bucket,
            "planned_tokens": float(sum(v["planned_tokens"] for v in per_bucket.values())),
            "written_tokens": float(sum(v["written_tokens"] for v in per_bucket.values())),
            **mixture_report(infos, phases, order[:, 0] if order.size else np.zeros(0, np.int64),
                             tokens[out_docs], out_phase),
        })
        if n_docs != int((copies > 0).sum()) + not_sampled + unplanned:  # pragma: no cover - invariant
            raise AssertionError("sample: documents lost in accounting")

    def _write_unsampled(self, ctx: CombineContext, docs: dict[str, Any], code: np.ndarray,
                         copies: np.ndarray) -> None:
        """Per source task: the rows that get no copy and why; its apply_task rejects them."""
        for j in range(ctx.n_tasks):
            mine = np.flatnonzero((docs[_TASK] == j) & (copies == 0)) if code.size else np.zeros(0, np.int64)
            reasons = np.where(code[mine] < 0, REASON_NOT_IN_PLAN, REASON_NOT_SAMPLED)
            ctx.store.write_task(j, pa.table({
                _ROW: pa.array(docs[_ROW][mine], pa.int64()),
                schema.REJECT_REASON: pa.array(reasons.tolist(), pa.string()),
            }), kind="unsampled")

    def _write_state(self, ctx: CombineContext, docs: dict[str, Any], out_docs: np.ndarray,
                     out_epochs: np.ndarray, dest: np.ndarray) -> None:
        """Per source task: the copies it supplies, in output order, then scattered by destination
        (one parallel pass that reads each input task once)."""
        src_task = docs[_TASK][out_docs]
        pos = np.arange(out_docs.size, dtype=np.int64)
        by_src = np.argsort(src_task, kind="stable")
        bounds = np.searchsorted(src_task[by_src], np.arange(ctx.n_tasks + 1))
        for j in range(ctx.n_tasks):
            sel = by_src[bounds[j]: bounds[j + 1]]
            ctx.store.write_task(j, pa.table({
                _ROW: pa.array(docs[_ROW][out_docs[sel]], pa.int64()),
                _DEST: pa.array(dest[sel], pa.int32()),
                _POS: pa.array(pos[sel], pa.int64()),
                _EPOCH: pa.array(out_epochs[sel], pa.int32()),
            }), kind="src")
        ctx.map(scatter_source, [(ctx.store, j) for j in range(ctx.n_tasks)])

    # ---- apply -------------------------------------------------------------------------
    def apply_task(self, ctx: TaskContext) -> Iterator[pa.Table]:
        """Rows of output shard ``ctx.task_index``: its slice of the global order, with epoch_index."""
        assert ctx.store is not None
        parts = self._gather(ctx, ctx.store)
        if not parts:  # an empty shard, with the columns of the others
            src_schema = ctx.store.input_schema(ctx.task_index)
            out_schema = _with_copy_columns(src_schema)
            yield out_schema.remove(out_schema.get_field_index(_POS_COLUMN)).empty_table()
        else:
            table = pa.concat_tables(parts, promote_options="permissive")
            table = table.take(pc.sort_indices(table.column(_POS_COLUMN))).drop_columns([_POS_COLUMN])
            self._count_written(table, ctx)
            for start in range(0, table.num_rows, _OUT_BATCH_ROWS):
                yield table.slice(start, _OUT_BATCH_ROWS)
        yield from self._unsampled_rows(ctx, ctx.store)

    def _unsampled_rows(self, ctx: TaskContext, store: StageStore) -> Iterator[pa.Table]:
        """This task's documents that get no copy, marked with a reject_reason (the runner routes
        them to _curate/rejected/ and counts them), so that no document disappears silently."""
        state = store.read_task(ctx.task_index, "unsampled", cache=False)
        if state is None or state.num_rows == 0:
            return
        rows = ctx.read_input(ctx.task_index).take(pa.array(state.column(_ROW).to_numpy()))
        yield rows.append_column(schema.REJECT_REASON, state.column(schema.REJECT_REASON))

    def _count_written(self, table: pa.Table, ctx: TaskContext) -> None:
        if table.num_rows == 0 or self.tokens_column not in table.column_names:
            return
        grouped = table.group_by(schema.QUALITY_BUCKET).aggregate([(self.tokens_column, "sum")])
        for name, total in zip(grouped.column(schema.QUALITY_BUCKET).to_pylist(),
                               grouped.column(f"{self.tokens_column}_sum").to_pylist(), strict=True):
            ctx.count(f"tokens_written:{name}", int(total or 0))

    def _gather(self, ctx: TaskContext, store: StageStore) -> list[pa.Table]:
        """This shard's row group from every source task's scatter file."""
        parts = []
        for j in range(ctx.n_tasks):
            pf = store.files.parquet_file(store.task_path(j, "scatter"))
            dests = json.loads(pf.schema_arrow.metadata[_DESTS_KEY])
            if ctx.task_index in dests:
                parts.append(pf.read_row_group(dests.index(ctx.task_index)))
        return parts


def _planning_law(law: str, storage: Storage) -> Any:
    """The law to plan with: a built-in name, a repetition law.json, or a mixture law.json."""
    from curate.planner import resolve_law
    from curate.planner.laws import LAWS

    if law not in LAWS and storage.file_exists(law):
        from curate.planner.lawfile import read_law

        found = read_law(law, storage)
        if getattr(found, "kind", None) == "mixture":
            return found
    return resolve_law(law, storage)


def _read_json(path: str | Path, what: str, storage: Storage) -> Any:
    """A plan or buckets file (a local path or a URI, read with the run's storage options)."""
    try:
        return json.loads(storage.stage_file(path, f"stage 'sample': {what} file").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"stage 'sample': {what} file {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {what} JSON: {exc}", file=str(path)) from None


def _read_partials(paths: list[Path]) -> dict[str, Any]:
    """Every document's partial row, as numpy arrays (the bucket names as one Arrow array)."""
    tables = [pq.read_table(p) for p in paths]
    tables = [t for t in tables if t.num_rows]
    cols = {_HASH: np.uint64, _TOKENS: np.int64, _SCORE: np.float64, _DUP: np.int64, _TASK: np.int32, _ROW: np.int64}
    out: dict[str, np.ndarray] = {}
    for name, dtype in cols.items():
        out[name] = (np.concatenate([t.column(name).to_numpy() for t in tables]).astype(dtype, copy=False)
                     if tables else np.zeros(0, dtype=dtype))
    out[_BUCKET] = pa.chunked_array([t.column(_BUCKET) for t in tables], pa.string()).combine_chunks()
    return out
