"""decontaminate: find documents that share word n-grams with benchmark texts, and reject or mark them.

The rule is GPT-3's (Brown et al. 2020, "Language Models are Few-Shot Learners", App. C): a
document is contaminated by a benchmark if it shares an n-gram of ``ngram`` words (13 there; 8 in
later work, e.g. the Llama 2 and dolma decontamination) with one of the benchmark's texts. Text
is normalised as curate's word segmentation defines words (curate/text/words.py): lowercased,
a word is a run of letters, digits or combining marks, and every other character (punctuation,
symbols, whitespace, line breaks) only separates words. So case, punctuation and line breaks
do not hide a copied passage. A text shorter than ``ngram`` words has a single n-gram, its whole
word sequence (as in MinHash shingling), so a short benchmark item matches only a document of
exactly those words.

The index holds each benchmark's distinct n-grams as a sorted array of 64-bit hashes (8 bytes an
n-gram; built once per process, see :meth:`Stage.cached`); the corpus streams past it, so memory
is bounded by the benchmarks, not the corpus. A corpus n-gram falsely matches a benchmark of S
n-grams with probability S / 2^64: 10^11 corpus n-grams against 10^7 benchmark n-grams expect
0.05 false matches in all.

A document counts as contaminated by a benchmark when they share at least ``min_overlap``
distinct n-grams. It is reported with the benchmark it shares most with (ties: the first one
listed): ``contamination_benchmark`` (null when none reaches ``min_overlap``) and
``contamination_ngrams`` (that count). ``mode: reject`` rejects it as ``decontaminate:<name>``;
``mode: annotate`` only adds the columns.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError, InputError
from curate.io.input_format import format_of
from curate.io.tables import read_table
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, reject_rows, set_column
from curate.store.storage import Storage

_TEXT = ".txt"


@dataclass(frozen=True)
class BenchmarkIndex:
    """Sorted distinct n-gram hashes of each benchmark, in the order the benchmarks are listed."""

    names: tuple[str, ...]
    ngrams: tuple[np.ndarray, ...]

    def shared(self, values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
        """Distinct n-grams each document shares with each benchmark: int64 (documents x benchmarks).

        `values`/`offsets` are each document's distinct n-gram hashes (:func:`shingle_sets`).
        """
        n_docs = len(offsets) - 1
        parent = np.repeat(np.arange(n_docs), np.diff(offsets))
        out = np.zeros((n_docs, len(self.names)), dtype=np.int64)
        for b, index in enumerate(self.ngrams):
            if len(index) == 0:
                continue
            pos = np.minimum(np.searchsorted(index, values), len(index) - 1)
            out[:, b] = np.bincount(parent, weights=index[pos] == values, minlength=n_docs)[:n_docs]
        return out


@register
class Decontaminate(MapStage):
    name = "decontaminate"
    params = {
        "benchmarks": Param(dict, help="benchmark name -> file or directory (.txt files, and files of any input "
                            "format: JSONL, Parquet, CSV, ...)"),
        "text_column": Param(str, "text", "column holding the benchmark text in files of an input format"),
        "ngram": Param(int, 13, "words per n-gram (GPT-3 used 13; 8 in later work)", min=1),
        "min_overlap": Param(int, 1, "distinct shared n-grams before a document counts as contaminated", min=1),
        "mode": Param(str, "reject", "reject contaminated documents, or only annotate them",
                      choices=("reject", "annotate")),
    }
    produces: ClassVar[tuple[str, ...]] = (schema.CONTAMINATION_BENCHMARK, schema.CONTAMINATION_NGRAMS)

    def validate(self) -> None:
        if not self.benchmarks:
            raise ConfigError("stage 'decontaminate': 'benchmarks' lists no benchmark")
        for name, path in self.benchmarks.items():
            if not isinstance(name, str) or not name or not isinstance(path, str) or not path:
                raise ConfigError(f"stage 'decontaminate': benchmark {name!r}: expected a name and a path, "
                                  f"got {path!r}")

    def check(self, storage: Storage) -> None:
        self.index(storage)

    def dependency_files(self, storage: Storage) -> list[str]:
        return [f for name, path in self.benchmarks.items() for f in benchmark_files(name, path, storage)]

    def index(self, storage: Storage) -> BenchmarkIndex:
        """The benchmark n-gram index, built once per process."""
        return self.cached("index", lambda: self._build_index(storage))

    def _build_index(self, storage: Storage) -> BenchmarkIndex:
        from curate.text.minhash import shingle_sets  # numba: imported when the stage runs

        arrays = []
        for name, path in self.benchmarks.items():
            parts = [shingle_sets(texts, self.ngram)[0]
                     for texts in benchmark_texts(name, path, self.text_column, storage)]
            arrays.append(np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.uint64))
        return BenchmarkIndex(tuple(self.benchmarks), tuple(arrays))

    def kernels(self) -> list[Any]:
        from curate.text import minhash

        return list(minhash.SHINGLE_KERNELS)

    def warm_up(self, sample: pa.Table) -> None:
        from curate.text.minhash import shingle_sets

        shingle_sets(sample.column(schema.TEXT), self.ngram)

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        from curate.text.minhash import shingle_sets

        index = self.index(ctx.storage)
        values, offsets = shingle_sets(table.column(schema.TEXT), self.ngram)
        shared = index.shared(values, offsets)
        best = shared.argmax(axis=1) if shared.size else np.zeros(table.num_rows, dtype=np.int64)
        count = shared[np.arange(table.num_rows), best] if shared.size else np.zeros(table.num_rows, np.int64)
        hit = count >= self.min_overlap
        names = np.array(index.names, dtype=object)[best]
        benchmark = pa.array(np.where(hit, names, None), pa.string())
        for name, n in zip(*np.unique(names[hit], return_counts=True)):
            ctx.count(f"contaminated:{name}", int(n))
        table = set_column(table, schema.CONTAMINATION_BENCHMARK, benchmark)
        table = set_column(table, schema.CONTAMINATION_NGRAMS, pa.array(count, pa.int64()))
        if self.mode == "annotate":
            return table
        return reject_rows(table, pa.array(hit), pc.binary_join_element_wise("decontaminate:", benchmark, ""))


def benchmark_files(name: str, path: str, storage: Storage) -> list[str]:
    """The readable files of one benchmark (local paths or URIs): `path` is a file, or a directory
    (local, or a prefix at a URI) searched recursively, names starting with ``.`` or ``_`` skipped."""
    where = f"stage 'decontaminate': benchmark '{name}'"
    files = [loc for rel, loc in storage.stage_tree(path, where)
             if not rel or not rel.rsplit("/", 1)[-1].startswith((".", "_"))]
    readable = [f for f in files if f.lower().endswith(_TEXT) or format_of(f) is not None]
    if not readable:
        raise ConfigError(f"{where}: no .txt file and no file of an input format (JSONL, Parquet, ...) in {path}")
    return readable


def benchmark_texts(name: str, path: str, text_column: str, storage: Storage) -> Iterator[pa.Array]:
    """The texts of one benchmark, file by file."""
    for file in benchmark_files(name, path, storage):
        yield _read_texts(name, file, text_column, storage)


def _read_texts(name: str, file: str, text_column: str, storage: Storage) -> pa.Array:
    where = f"stage 'decontaminate': benchmark '{name}': {file}"
    if file.lower().endswith(_TEXT):
        try:
            return pa.array([storage.stage_file(file, where).read_text(encoding="utf-8")], pa.string())
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{where}: not UTF-8 ({exc})") from None
    try:
        table = read_table(file, storage)
    except InputError as exc:
        raise ConfigError(f"stage 'decontaminate': benchmark '{name}': {exc}") from None
    if text_column not in table.column_names:
        raise ConfigError(f"{where}: no column '{text_column}' (have: {', '.join(table.column_names)}); "
                          "set text_column")
    texts = table.column(text_column)
    if not schema.is_string_type(texts.type):
        raise ConfigError(f"{where}: column '{text_column}' holds {texts.type}, not text")
    return texts.combine_chunks().drop_null()
