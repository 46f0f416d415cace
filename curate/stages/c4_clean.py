"""c4_clean: edit documents as C4 did: remove the lines C4 removes, reject the pages C4 drops.

The ``c4`` rule set only measures; this stage applies the same line pass (c4_lines.py, after
TFDS ``c4_utils.clean_page`` as mirrored by datatrove's ``C4QualityFilter``) to the text. Lines
are split as Python's ``str.splitlines`` splits them (datatrove's default ``split_paragraph``),
each kept line is the stripped line with its citation marks removed, and the kept lines are
joined with "\\n" and stripped. A page is rejected (``c4_clean:<why>``, the original text kept)
for "lorem ipsum" or "{" on a surviving line (whichever line comes first), fewer than
``min_sentences`` sentences in the kept lines (counted with the approximation of c4_lines.py;
C4 uses a trained sentence splitter), nothing left, or, with ``bad_words`` (a UTF-8 file, one
word or phrase a line), any listed word in the cleaned text: C4's "List of Dirty, Naughty,
Obscene or Otherwise Bad Words" rule, matched as datatrove's ``C4BadWordsFilter`` does, between
non-word characters of the lowercased text. No list ships with curate and none is downloaded.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import Param, TaskContext, reject_rows, set_column
from curate.stages.heuristics.base import TextKernelStage
from curate.stages.heuristics.c4_lines import LINE_PARAMS, C4Lines, judge_lines
from curate.stages.heuristics.text import Segments, TextBatch, as_numpy, split
from curate.store.storage import Storage

# The line boundaries of Python's str.splitlines (datatrove splits pages with it).
_LINE_BREAK = "\r\n|[\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]"
# RE2 has no Unicode \W; a "word" character is a letter, digit or underscore, as in Python's re.
_NON_WORD = r"[^\pL\pN_]"


@register
class C4Clean(TextKernelStage):
    name = "c4_clean"
    params = {
        **LINE_PARAMS,
        "bad_words": Param(str, None, "UTF-8 file of words/phrases (one a line) that reject a page", nullable=True, path=True),
    }
    produces: ClassVar[tuple[str, ...]] = (schema.C4_LINES_REMOVED,)

    def check(self, storage: Storage) -> None:
        self.bad_words_pattern(storage)

    def dependency_files(self, storage: Storage) -> list[str]:
        return [self.bad_words] if self.bad_words is not None else []

    def bad_words_pattern(self, storage: Storage) -> str | None:
        """The RE2 pattern matching any listed bad word in lowercased text (read once per process)."""
        if self.bad_words is None:
            return None
        return self.cached("bad_words", lambda: _bad_words_pattern(
            storage.stage_file(self.bad_words, "stage 'c4_clean': bad_words file")))

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        text = TextBatch(table.column(schema.TEXT)).text
        pieces = split(text, _LINE_BREAK, regex=True)
        lines = Segments(pc.utf8_trim_whitespace(pieces.values), pieces.offsets, pieces.parent)
        c4 = judge_lines(lines, self.config)
        cleaned = _kept_text(c4).cast(text.type)
        blank = as_numpy(pc.equal(pc.utf8_length(lines.values), 0)).astype(bool)
        removed = lines.sum(~c4.kept & ~blank).astype(np.int64)

        reasons = self._page_reasons(c4, cleaned, ctx.storage)
        rejected = reasons != ""
        table = set_column(table, schema.TEXT, pc.if_else(pa.array(rejected), text, cleaned))
        table = set_column(table, schema.C4_LINES_REMOVED, pa.array(np.where(rejected, 0, removed)))
        ctx.count("c4_clean:lines_removed", int(removed[~rejected].sum()))
        full = np.array(["c4_clean:" + r if r else "" for r in reasons], dtype=object)
        return reject_rows(table, pa.array(rejected), pa.array(full, pa.string()))

    def _page_reasons(self, c4: C4Lines, cleaned: pa.Array, storage: Storage) -> np.ndarray:
        """Why each page is dropped ("" if kept), in the order C4 checks."""
        n = c4.lines.n_docs
        reasons = np.full(n, "", dtype=object)
        first_lorem = _first_line(c4.lines, c4.lorem) if self.reject_lorem_ipsum else _never(n)
        first_curly = _first_line(c4.lines, c4.curly) if self.reject_curly_bracket else _never(n)
        found = np.minimum(first_lorem, first_curly) < np.iinfo(np.int64).max
        reasons[found] = np.where(first_lorem <= first_curly, "lorem_ipsum", "curly_bracket")[found]
        if self.min_sentences is not None:
            sentences = c4.lines.sum(np.where(c4.kept, c4.sentences, 0))
            reasons[(reasons == "") & (sentences < self.min_sentences)] = "too_few_sentences"
        empty = as_numpy(pc.equal(pc.utf8_length(cleaned), 0)).astype(bool)
        reasons[(reasons == "") & empty] = "empty"
        pattern = self.bad_words_pattern(storage)
        if pattern is not None:
            bad = as_numpy(pc.match_substring_regex(pc.utf8_lower(cleaned), pattern)).astype(bool)
            reasons[(reasons == "") & bad] = "bad_words"
        return reasons


def _kept_text(c4: C4Lines) -> pa.Array:
    """Each document's kept lines (citation marks removed) joined with "\\n", stripped."""
    kept = c4.lines.select(c4.kept)
    values = c4.clean.filter(pa.array(c4.kept))
    lists = pa.ListArray.from_arrays(pa.array(kept.offsets, pa.int32() if len(values) < 2**31 else pa.int64()),
                                     values)
    return pc.utf8_trim_whitespace(pc.binary_join(lists, pa.scalar("\n", values.type)))


def _first_line(lines: Segments, mask: np.ndarray) -> np.ndarray:
    """Index (within the batch) of each document's first line where `mask` holds, else int64 max."""
    out = _never(lines.n_docs)
    (idx,) = np.nonzero(mask)
    np.minimum.at(out, lines.parent[idx], idx)
    return out


def _never(n: int) -> np.ndarray:
    return np.full(n, np.iinfo(np.int64).max, dtype=np.int64)


def _bad_words_pattern(path: Path) -> str:
    """RE2 pattern for the words of `path`: any of them between non-word characters or the ends."""
    try:
        words = {w.strip().lower() for w in path.read_text(encoding="utf-8").splitlines()}
    except FileNotFoundError:
        raise ConfigError(f"stage 'c4_clean': bad_words file not found: {path}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"stage 'c4_clean': bad_words file {path} is not UTF-8: {exc}") from None
    words.discard("")
    if not words:
        raise ConfigError(f"stage 'c4_clean': bad_words file {path} lists no words")
    alternatives = "|".join(re.escape(w) for w in sorted(words))
    return f"(?:{_NON_WORD}|^)(?:{alternatives})(?:{_NON_WORD}|$)"
