"""Agreement of curate's heuristic rule sets with datatrove's filters on real text.

Input: a corpus from bench/real_corpus.py (JSONL, Parquet and WARC read by curate's own reader,
then curate's ``normalize``), the same normalized texts given to both sides. Per rule set:

- **decision**: datatrove's filter (``filter(Document)``, default parameters) keeps or rejects
  each document; ours keeps it when ``<set>_reject`` is empty;
- **per rule**: each rule's pass/fail on its own, ours from our signal column, datatrove's from
  the same quantity computed with datatrove's own building blocks (``split_into_words``,
  ``PUNCTUATION_SET``, ``find_duplicates``, ``find_top_duplicate``, ``find_all_duplicate``,
  ``get_n_grams``) by the formula of its filter's source (datatrove/pipeline/filters/*.py), and
  the share of documents whose signal values agree within 1e-6 (both undefined counts as agreeing).
  C4's three document rules are datatrove's C4QualityFilter with the other two switched off.

Also the CPU seconds of both sides on the same texts (one process: the per-core speed).

Run: ``python bench/real_agreement.py --corpus bench/.cache/real-corpus [--docs N]``; prints
Markdown. ``--speed-only`` times both sides and nothing else (``--datatrove-cpu S`` reuses a
datatrove figure measured earlier on the same texts instead of re-running its ~3 CPU minutes);
``--profile`` adds where our time goes, part by part (:func:`profile`).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import md_table  # noqa: E402
from quality import BATCH_ROWS, SETS, datatrove_filters, run_datatrove, run_ours  # noqa: E402

from curate.stages.heuristics.text import TextBatch  # noqa: E402

# Our (set, rule) -> the signal our rule tests and the reference function computing it.
GOPHER_STOP_WORDS = ("the", "be", "to", "of", "and", "that", "have", "with")


def load_normalized(corpus: Path, limit: int | None, stride: int = 1) -> Any:
    """The corpus read by curate (all three formats) and normalized: a table with id and text
    (every `stride`-th document by id, then the first `limit`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.api import Pipeline

    out = corpus.parent / (corpus.name + "-normalized")
    Pipeline.from_stages([("normalize", {})]).run(str(corpus), str(out), overwrite=True)

    parts = [f for f in sorted(out.rglob("*.parquet"))
             if not any(p.startswith(("_", ".")) for p in f.relative_to(out).parts)]
    table = pa.concat_tables(pq.read_table(f, columns=["id", "text"]) for f in parts)
    table = table.sort_by("id")
    table = table.take(list(range(0, table.num_rows, stride))) if stride > 1 else table
    return table.slice(0, limit) if limit else table


def reference_signals(texts: list[str]) -> dict[str, dict[str, list[float]]]:
    """datatrove's quantities per document, from its own helpers and its filters' formulas."""
    from datatrove.pipeline.filters.gopher_repetition_filter import (
        find_all_duplicate,
        find_duplicates,
        find_top_duplicate,
        get_n_grams,
    )
    from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION, split_into_words

    nan = float("nan")
    out: dict[str, dict[str, list[float]]] = {s: {} for s in SETS}

    def put(rule_set: str, name: str, value: float) -> None:
        out[rule_set].setdefault(name, []).append(value)

    stops = set(GOPHER_STOP_WORDS)
    terminal = tuple(TERMINAL_PUNCTUATION)
    for text in texts:
        words = split_into_words(text)
        n = len(words)
        non_symbol = [w for w in words if any(ch not in PUNCTUATION_SET for ch in w)]
        lines = text.splitlines()
        put("gopher_quality", "word_count", len(non_symbol))
        put("gopher_quality", "mean_word_length", float(np.mean([len(w) for w in non_symbol])) if non_symbol else nan)
        put("gopher_quality", "hash_ratio", text.count("#") / n if n else nan)
        put("gopher_quality", "ellipsis_ratio", (text.count("...") + text.count("…")) / n if n else nan)
        put("gopher_quality", "bullet_lines_ratio",
            sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines) if lines else nan)
        put("gopher_quality", "ellipsis_lines_ratio",
            sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines) if lines else nan)
        put("gopher_quality", "alpha_words_ratio", sum(any(c.isalpha() for c in w) for w in words) / n if n else nan)
        put("gopher_quality", "stop_words", len(stops & set(words)))
        chars = len(text)
        paragraphs = re.split(r"\n{2,}", text.strip())
        dup_n, dup_chars = find_duplicates(paragraphs)
        put("gopher_repetition", "dup_para_frac", dup_n / len(paragraphs) if chars else nan)
        put("gopher_repetition", "dup_para_char_frac", dup_chars / chars if chars else nan)
        rep_lines = re.split("\n+", text)
        dup_n, dup_chars = find_duplicates(rep_lines)
        put("gopher_repetition", "dup_line_frac", dup_n / len(rep_lines) if chars else nan)
        put("gopher_repetition", "dup_line_char_frac", dup_chars / chars if chars else nan)
        for k in (2, 3, 4):
            grams = get_n_grams(words, k)
            put("gopher_repetition", f"top_{k}gram_char_frac", find_top_duplicate(grams) / chars if grams else 0.0)
        for k in range(5, 11):
            put("gopher_repetition", f"dup_{k}gram_char_frac", find_all_duplicate(words, k) / chars if chars else nan)
        fw_lines = [line for line in text.split("\n") if line.strip() != ""]
        m = len(fw_lines)
        put("fineweb", "lines", m)
        put("fineweb", "line_punct_ratio", sum(line.endswith(terminal) for line in fw_lines) / m if m else nan)
        put("fineweb", "short_line_ratio", sum(len(line) <= 30 for line in fw_lines) / m if m else nan)
        flat = len(text.replace("\n", ""))
        put("fineweb", "dup_line_char_ratio", find_duplicates(fw_lines)[1] / flat if m and flat else nan)
        put("fineweb", "list_ratio", text.count("\n") / n if n else nan)
    return out


def c4_rule_decisions(ids: list[str], texts: list[str]) -> dict[str, list[bool]]:
    """datatrove's C4 document rules one at a time: True where that rule rejects."""
    from datatrove.pipeline.filters import C4QualityFilter

    variants = {
        "lorem_ipsum": C4QualityFilter(filter_curly_bracket=False, min_num_sentences=-1),
        "curly_bracket": C4QualityFilter(filter_lorem_ipsum=False, min_num_sentences=-1),
        "sentences": C4QualityFilter(filter_lorem_ipsum=False, filter_curly_bracket=False),
    }
    return {rule: [r != "" for r in run_datatrove(flt, ids, texts)] for rule, flt in variants.items()}


def c4_sentence_counts(texts: list[str]) -> list[float]:
    """datatrove's C4 sentence count per document: its sentence splitter (spaCy's English
    sentencizer) over each line its C4QualityFilter keeps, summed; NaN for a document it rejects
    for lorem ipsum or a curly bracket before counting (ours does not count those lines either)."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import C4QualityFilter
    from datatrove.utils.text import split_into_sentences

    lines_only = C4QualityFilter(min_num_sentences=-1)
    out = []
    for text in texts:
        doc = Document(text=text, id="")
        if lines_only.filter(doc) is not True:
            out.append(float("nan"))
            continue
        out.append(float(sum(len(split_into_sentences(line)) for line in doc.text.split("\n") if line)))
    return out


def _same(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        return both_nan | (np.abs(a - b) <= 1e-6)


class Reference:
    """datatrove's side, computed once: each filter's decisions and CPU seconds, the reference
    signals and C4's rule-by-rule decisions."""

    def __init__(self, ids: list[str], texts: list[str]) -> None:
        filters = datatrove_filters()
        run_datatrove(filters["gopher_quality"], ids[:8], texts[:8])  # load spaCy outside the timing
        self.decisions: dict[str, list[str]] = {}
        self.seconds = 0.0
        for rule_set in SETS:
            t0 = time.process_time()
            self.decisions[rule_set] = run_datatrove(filters[rule_set], ids, texts)
            self.seconds += time.process_time() - t0
        self.signals = reference_signals(texts)
        self.c4 = c4_rule_decisions(ids, texts)
        self.c4_sentences = np.array(c4_sentence_counts(texts), dtype=np.float64)


def timed_ours(table: Any, params: dict[str, Any]) -> tuple[float, Any]:
    """(CPU seconds, output) of our `heuristics` stage (all four rule sets) over `table`."""
    run_ours("heuristics", table.slice(0, 64), params)  # compile the numba kernels outside the timing
    t0 = time.process_time()
    out = run_ours("heuristics", table, params)
    return time.process_time() - t0, out


def profile(table: Any, params: dict[str, Any], repeat: int = 3) -> str:
    """Where the `heuristics` stage's CPU time goes, on the same batches: the shared views (the
    spaCy-exact tokenizer kernel, the "\\n" lines, ``str.splitlines`` lines), each rule set's
    ``measure`` with those views already built, and the whole stage (best of `repeat`)."""
    import pyarrow.compute as pc

    from curate import schema
    from curate.pipeline.registry import get_stage_class
    from curate.stages.heuristics import spacy_words
    from curate.text.utf8 import string_buffers

    batches = [table.slice(i, BATCH_ROWS).column(schema.TEXT) for i in range(0, table.num_rows, BATCH_ROWS)]
    views = [TextBatch(text) for text in batches]
    stages = {s: get_stage_class(s)(**params.get(s, {})) for s in SETS}
    parts: list[tuple[str, Any]] = [
        ("tokenizer kernel (spacy_words.tokenize)",
         lambda: [spacy_words.tokenize(*string_buffers(v.text)) for v in views]),
        ("lines (split on \\n)", lambda: [TextBatch(t).lines for t in batches]),
        ("splitlines (str.splitlines lines)", lambda: [TextBatch(t).splitlines for t in batches]),
    ]
    for v in views:  # build the shared views once, so each rule set is timed on its own work
        _ = v.tokens, v.lines, v.splitlines
    for name, stage in stages.items():
        parts.append((f"{name}: measure (views built)", lambda stage=stage: [stage.measure(v) for v in views]))
    parts.append(("whole `heuristics` stage", lambda: run_ours("heuristics", table, params)))
    mb = sum(pc.sum(pc.binary_length(t)).as_py() or 0 for t in batches) / 1e6
    rows = []
    for label, fn in parts:
        seconds = min(_cpu(fn) for _ in range(repeat))
        rows.append([label, f"{seconds:.3f}", f"{mb / seconds:.1f}" if seconds else ""])
    return md_table(["part", f"CPU s (best of {repeat})", "MB/s"], rows)


def _cpu(fn: Any) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def agreement(ours: Any, ref: Reference, params: dict[str, Any]) -> str:
    from curate import schema
    from curate.pipeline.registry import get_stage_class

    rows = []
    for rule_set in SETS:
        stage = get_stage_class(rule_set)(**params.get(rule_set, {}))
        theirs = ref.decisions[rule_set]
        mine = ours.column(schema.reject_column(rule_set)).to_pylist()
        same = np.mean([(a == "") == (b == "") for a, b in zip(mine, theirs)])
        rows.append([rule_set, "**decision**", f"{same:.4f}", "", sum(a != "" for a in mine), sum(b != "" for b in theirs)])
        for rule in stage.rules:
            values = np.asarray(ours.column(schema.signal_column(rule_set, rule.signal)).to_numpy(zero_copy_only=False),
                                dtype=np.float64)
            our_fail = rule.fails(values, stage.config)
            if rule_set == "c4":
                if rule.name not in ref.c4:
                    continue
                their_fail = np.array(ref.c4[rule.name])
                value_share = ""
                if rule.signal == "sentences":  # over the documents both count (see c4_sentence_counts)
                    counted = ~np.isnan(ref.c4_sentences)
                    value_share = f"{np.mean(_same(values[counted], ref.c4_sentences[counted])):.4f}"
            else:
                ref_values = np.array(ref.signals[rule_set][rule.signal], dtype=np.float64)
                their_fail = rule.fails(ref_values, stage.config)
                value_share = f"{np.mean(_same(values, ref_values)):.4f}"
            rows.append([rule_set, rule.name, f"{np.mean(our_fail == their_fail):.4f}", value_share,
                         int(our_fail.sum()), int(their_fail.sum())])
    return md_table(["rule set", "rule", "decision agreement", "signal within 1e-6", "fail (ours)",
                     "fail (datatrove)"], rows)


def main() -> None:
    import pyarrow as pa

    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parent / ".cache" / "real-corpus")
    parser.add_argument("--docs", type=int, default=None, help="first N documents by id (default: all)")
    parser.add_argument("--stride", type=int, default=1, help="every K-th document by id (a sample of all kinds)")
    parser.add_argument("--speed-only", action="store_true", help="time both sides, skip the agreement tables")
    parser.add_argument("--datatrove-cpu", type=float, default=None,
                        help="with --speed-only: datatrove's CPU seconds measured earlier on the same texts")
    parser.add_argument("--profile", action="store_true", help="also print where our time goes")
    args = parser.parse_args()
    pa.set_cpu_count(1)
    table = load_normalized(args.corpus, args.docs, args.stride)
    ids = table.column("id").to_pylist()
    texts = table.column("text").to_pylist()
    mb = sum(len(t.encode()) for t in texts) / 1e6
    matching = {"gopher_quality": {"stop_words_match_case": True}}
    heading = f"({table.num_rows:,} documents, {mb:.1f} MB, batches of {BATCH_ROWS})"
    if args.speed_only:
        seconds, _ = timed_ours(table, matching)
        if args.datatrove_cpu is None:
            theirs, measured = datatrove_seconds(ids, texts), "measured now"
        else:
            theirs, measured = args.datatrove_cpu, "measured earlier, --datatrove-cpu"
        print(f"### Heuristics speed on real text {heading}\n")
        print(speed_line(mb, seconds, theirs) + f" (datatrove {measured}).")
    else:
        ref = Reference(ids, texts)
        print(f"### Heuristics agreement with datatrove on real text {heading}\n")
        seconds, ours = timed_ours(table, matching)
        print("With `stop_words_match_case: true` (datatrove's case-sensitive stop words):\n")
        print(agreement(ours, ref, matching))
        print("\nDefault (`stop_words_match_case: false`): only the stop_words rule and the decisions differ:\n")
        print(agreement(run_ours("heuristics", table), ref, {}))
        print("\n" + speed_line(mb, seconds, ref.seconds) + ".")
    if args.profile:
        print("\nWhere our time goes (one process, the same batches):\n")
        print(profile(table, matching))


def datatrove_seconds(ids: list[str], texts: list[str]) -> float:
    """CPU seconds of datatrove's four filters one after the other over the texts (spaCy loaded first)."""
    filters = datatrove_filters()
    run_datatrove(filters["gopher_quality"], ids[:8], texts[:8])
    t0 = time.process_time()
    for rule_set in SETS:
        run_datatrove(filters[rule_set], ids, texts)
    return time.process_time() - t0


def speed_line(mb: float, ours: float, theirs: float) -> str:
    return (f"Speed, one process, CPU seconds: ours (`heuristics`, all four rule sets) {ours:.2f} s "
            f"({mb / ours:.1f} MB/s), datatrove's four filters one after the other {theirs:.1f} s "
            f"({mb / theirs:.2f} MB/s): {theirs / ours:.0f}x per core")


if __name__ == "__main__":
    main()
