"""Quality benchmarks: heuristic rule sets against datatrove's filters on the same documents.

Heuristics section: throughput in MB of text per second on one core (one process, Arrow
single-threaded) of our ``gopher_quality`` stage next to datatrove's GopherQualityFilter, and
of all four of our rule sets (the composite ``heuristics`` stage) next to datatrove's four
filters run one after the other; then the share of documents on which each of our keep/reject
decisions agrees with datatrove's, and the disagreements by (our rule, datatrove's reason).
Targets (issue 4): gopher_quality >= 3x datatrove, Gopher agreement >= 0.95.

Run: ``python bench/quality.py --scale small|full``; prints Markdown on stdout.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import best_of, corpus, md_table, scale_arg  # noqa: E402

SCALES = {"small": 2_000, "full": 20_000}
BATCH_ROWS = 4096
SETS = ("gopher_quality", "gopher_repetition", "c4", "fineweb")


def load_texts(n_docs: int) -> Any:
    """The generated corpus (seed 1) as one Arrow table with columns id and text."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = corpus(n_docs)
    return pa.concat_tables(pq.read_table(f, columns=["id", "text"]) for f in sorted(path.glob("*.parquet")))


# --------------------------------------------------------------------------- ours


def run_ours(stage_name: str, table: Any, params: dict | None = None) -> Any:
    """Run one of our stages over `table` in batches of BATCH_ROWS rows; return the output table."""
    import pyarrow as pa

    from curate.pipeline.registry import get_stage_class
    from curate.pipeline.stage import TaskContext

    stage = get_stage_class(stage_name)(**(params or {}))
    ctx = TaskContext(task_index=0, n_tasks=1, source="bench", seed=0, work_dir=Path("."), output_dir=Path("."))
    out = [stage.process(table.slice(i, BATCH_ROWS), ctx) for i in range(0, table.num_rows, BATCH_ROWS)]
    return pa.concat_tables(out)


# --------------------------------------------------------------------------- datatrove

# datatrove reason -> our rule (gopher_quality)
GOPHER_REASONS = {
    "gopher_short_doc": "word_count",
    "gopher_long_doc": "word_count",
    "gopher_below_avg_threshold": "mean_word_length",
    "gopher_above_avg_threshold": "mean_word_length",
    "gopher_too_many_hashes": "hash_ratio",
    "gopher_too_many_ellipsis": "ellipsis_ratio",
    "gopher_too_many_bullets": "bullet_lines_ratio",
    "gopher_too_many_end_ellipsis": "ellipsis_lines_ratio",
    "gopher_below_alpha_threshold": "alpha_words_ratio",
    "gopher_enough_stop_words": "stop_words",
}


def datatrove_filters() -> dict[str, Any]:
    """datatrove's filters for our four rule sets, with their default parameters."""
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return {
        "gopher_quality": GopherQualityFilter(),
        "gopher_repetition": GopherRepetitionFilter(),
        "c4": C4QualityFilter(),
        "fineweb": FineWebQualityFilter(),
    }


def run_datatrove(flt: Any, ids: list[str], texts: list[str]) -> list[str]:
    """Reason per document ("" = kept), calling the filter's own `filter` method on fresh Documents."""
    from datatrove.data import Document

    out = []
    for i, text in zip(ids, texts):
        res = flt.filter(Document(text=text, id=i))  # C4 rewrites doc.text: a fresh Document each time
        out.append("" if res is True else (res[1] if isinstance(res, tuple) else "rejected"))
    return out


# --------------------------------------------------------------------------- section


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    result: list[Any] = []

    def call() -> None:
        result[:] = [fn()]

    return best_of(call, repeat), result[0]


def heuristics_section(scale: str) -> str:
    import pyarrow as pa
    import pyarrow.compute as pc

    from curate import schema

    pa.set_cpu_count(1)
    table = load_texts(SCALES[scale])
    ids = table.column(schema.ID).to_pylist()
    texts = table.column(schema.TEXT).to_pylist()
    mb = pc.sum(pc.binary_length(table.column(schema.TEXT))).as_py() / 1e6
    run_ours("heuristics", table.slice(0, 64))  # compile / load the numba kernels outside the timing
    dt_filters = datatrove_filters()
    run_datatrove(dt_filters["gopher_quality"], ids[:8], texts[:8])  # load spaCy outside the timing
    repeat = 3 if scale == "small" else 2

    t_ours_gq, ours_gq = timed(lambda: run_ours("gopher_quality", table), repeat)
    t_dt_gq, dt_gq = timed(lambda: run_datatrove(dt_filters["gopher_quality"], ids, texts), 1)
    t_ours_all, ours_all = timed(lambda: run_ours("heuristics", table), repeat)
    dt_all: dict[str, list[str]] = {"gopher_quality": dt_gq}
    t_dt_all = t_dt_gq
    for name in SETS[1:]:
        t0 = time.perf_counter()
        dt_all[name] = run_datatrove(dt_filters[name], ids, texts)
        t_dt_all += time.perf_counter() - t0

    rows = [
        ["gopher_quality", f"{mb / t_ours_gq:.1f}", f"{mb / t_dt_gq:.2f}", f"{t_dt_gq / t_ours_gq:.1f}x"],
        ["all four rule sets", f"{mb / t_ours_all:.1f}", f"{mb / t_dt_all:.2f}", f"{t_dt_all / t_ours_all:.1f}x"],
    ]
    parts = [
        "### Heuristic quality signals vs datatrove",
        "",
        f"{len(ids):,} generated documents ({mb:.1f} MB of text), one process, one core; ours in batches "
        f"of {BATCH_ROWS} rows (best of {repeat}), datatrove's filters on one Document at a time.",
        "",
        md_table(["rule set", "ours MB/s", "datatrove MB/s", "speed-up"], rows),
        "",
    ]

    agree_rows = []
    for name in SETS:
        ours = ours_gq.column(schema.reject_column(name)).to_pylist() if name == "gopher_quality" else \
            ours_all.column(schema.reject_column(name)).to_pylist()
        theirs = dt_all[name]
        same = sum((a == "") == (b == "") for a, b in zip(ours, theirs))
        agree_rows.append([name, f"{same / len(ids):.4f}", sum(a != "" for a in ours), sum(b != "" for b in theirs)])
    parts += ["Keep/reject agreement with datatrove (share of documents with the same decision):", "",
              md_table(["rule set", "agreement", "rejected by ours", "rejected by datatrove"], agree_rows), ""]

    ours = ours_gq.column(schema.reject_column("gopher_quality")).to_pylist()
    diff = Counter((a or "keep", b or "keep") for a, b in zip(ours, dt_gq) if (a == "") != (b == ""))
    if diff:
        parts += ["Gopher quality disagreements (our rule, datatrove's reason):", "",
                  md_table(["ours", "datatrove", "documents"], [[a, b, n] for (a, b), n in diff.most_common(10)]), ""]
    return "\n".join(parts)


def main() -> None:
    scale = scale_arg()
    print(heuristics_section(scale))


if __name__ == "__main__":
    main()
