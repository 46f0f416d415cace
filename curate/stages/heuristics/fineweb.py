"""fineweb: the FineWeb quality filter (Penedo et al. 2024, "The FineWeb Datasets", Sec. 3.3;
defaults of datatrove's FineWebQualityFilter, datatrove/pipeline/filters/fineweb_quality_filter.py).

Lines are the document split on "\\n" with blank lines dropped. Signals: the fraction of
lines ending in terminal punctuation, the fraction of short lines, the characters of lines
repeating an earlier line over the characters that are not newlines, and newlines per word
token (the "list ratio").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.pipeline.registry import register
from curate.pipeline.stage import Param
from curate.stages.heuristics.base import HeuristicStage, Rule, threshold
from curate.stages.heuristics.text import TextBatch, as_numpy, ratio

# Unicode's Sentence_Terminal characters as code point ranges: the set datatrove uses as
# FineWeb's default stop characters (datatrove/utils/text.py, TERMINAL_PUNCTUATION).
SENTENCE_TERMINALS = (
    (0x21, 0x21), (0x2E, 0x2E), (0x3F, 0x3F), (0x589, 0x589), (0x61D, 0x61F), (0x6D4, 0x6D4),
    (0x700, 0x702), (0x7F9, 0x7F9), (0x837, 0x837), (0x839, 0x839), (0x83D, 0x83E), (0x964, 0x965),
    (0x104A, 0x104B), (0x1362, 0x1362), (0x1367, 0x1368), (0x166E, 0x166E), (0x1735, 0x1736),
    (0x17D4, 0x17D6), (0x17D9, 0x17DA), (0x1803, 0x1803), (0x1809, 0x1809), (0x1944, 0x1945),
    (0x1AA8, 0x1AAB), (0x1B5A, 0x1B5B), (0x1B5E, 0x1B5F), (0x1B7D, 0x1B7E), (0x1C3B, 0x1C3C),
    (0x1C7E, 0x1C7F), (0x203C, 0x203D), (0x2047, 0x2049), (0x2E2E, 0x2E2E), (0x2E3C, 0x2E3C),
    (0x2E53, 0x2E54), (0x3002, 0x3002), (0xA4FF, 0xA4FF), (0xA60E, 0xA60F), (0xA6F3, 0xA6F3),
    (0xA6F7, 0xA6F7), (0xA876, 0xA877), (0xA8CE, 0xA8CF), (0xA92F, 0xA92F), (0xA9C8, 0xA9C9),
    (0xAA5D, 0xAA5F), (0xAAF0, 0xAAF1), (0xABEB, 0xABEB), (0xFE52, 0xFE52), (0xFE56, 0xFE57),
    (0xFF01, 0xFF01), (0xFF0E, 0xFF0E), (0xFF1F, 0xFF1F), (0xFF61, 0xFF61), (0x10A56, 0x10A57),
    (0x10F55, 0x10F59), (0x10F86, 0x10F89), (0x11047, 0x11048), (0x110BE, 0x110C1),
    (0x11141, 0x11143), (0x111C5, 0x111C6), (0x111CD, 0x111CD), (0x111DE, 0x111DF),
    (0x11238, 0x11239), (0x1123B, 0x1123C), (0x112A9, 0x112A9), (0x1144B, 0x1144C),
    (0x115C2, 0x115C3), (0x115C9, 0x115D7), (0x11641, 0x11642), (0x1173C, 0x1173E),
    (0x11944, 0x11944), (0x11946, 0x11946), (0x11A42, 0x11A43), (0x11A9B, 0x11A9C),
    (0x11C41, 0x11C42), (0x11EF7, 0x11EF8), (0x11F43, 0x11F44), (0x16A6E, 0x16A6F),
    (0x16AF5, 0x16AF5), (0x16B37, 0x16B38), (0x16B44, 0x16B44), (0x16E98, 0x16E98),
    (0x1BC9F, 0x1BC9F), (0x1DA88, 0x1DA88),
)


def ends_with_any(chars: str | None) -> str:
    """RE2 pattern: the string ends with one of `chars` (None: a Unicode sentence terminal)."""
    if chars is None:
        ranges = SENTENCE_TERMINALS
    else:
        ranges = tuple((ord(c), ord(c)) for c in sorted(set(chars)))
    body = "".join(rf"\x{{{a:x}}}" if a == b else rf"\x{{{a:x}}}-\x{{{b:x}}}" for a, b in ranges)
    return f"[{body}]$"


class _LinePunctRule(Rule):
    """FineWeb's line punctuation rule: ratio below the minimum fails, except a ratio of exactly
    0 when ``line_punct_exclude_zero`` is set (datatrove's option for unpunctuated scripts)."""

    def fails(self, values: np.ndarray, config: dict[str, Any]) -> np.ndarray:
        out = super().fails(values, config)
        if config["line_punct_exclude_zero"]:
            out &= values != 0
        return out


@register
class FineWeb(HeuristicStage):
    """FineWeb's quality filter: line punctuation, short lines, duplicated line characters, list-like text (Penedo et al. 2024)."""

    name = "fineweb"
    params = {
        # Defaults: datatrove FineWebQualityFilter, as used to build FineWeb (Penedo et al. 2024).
        "min_lines": threshold(1, "fewest non-blank lines (reason 'empty')", int, min=0),
        "min_line_punct_ratio": threshold(0.12, "smallest fraction of lines ending in terminal punctuation", min=0, max=1),
        "line_punct_exclude_zero": Param(bool, False, "do not reject documents with no punctuated line at all"),
        "stop_chars": Param(str, None, "characters that end a sentence (default: Unicode sentence terminals)",
                            nullable=True),
        "max_short_line_ratio": threshold(0.67, "largest fraction of short lines", min=0, max=1),
        "short_line_length": Param(int, 30, "a line of at most this many characters is short", min=0),
        "max_dup_line_char_ratio": threshold(0.01, "largest fraction of characters in repeated lines", min=0),
        "max_list_ratio": threshold(0.3, "most newlines per word", min=0),
    }
    signals = {
        "lines": pa.int64(),
        "line_punct_ratio": pa.float64(),
        "short_line_ratio": pa.float64(),
        "dup_line_char_ratio": pa.float64(),
        "list_ratio": pa.float64(),
    }
    rules = (
        Rule("empty", "lines", "min_lines"),
        _LinePunctRule("line_punct_ratio", "line_punct_ratio", "min_line_punct_ratio"),
        Rule("short_line_ratio", "short_line_ratio", max_param="max_short_line_ratio"),
        Rule("dup_line_char_ratio", "dup_line_char_ratio", max_param="max_dup_line_char_ratio"),
        Rule("list_ratio", "list_ratio", max_param="max_list_ratio"),
    )

    def measure(self, batch: TextBatch) -> dict[str, np.ndarray]:
        all_lines = batch.lines
        blank = pc.or_(pc.equal(pc.utf8_length(all_lines.values), 0), pc.utf8_is_space(all_lines.values))
        lines = all_lines.select(~as_numpy(blank))
        n_lines = lines.per_doc()
        lengths = lines.lengths()
        punct = pc.match_substring_regex(lines.values, ends_with_any(self.stop_chars))
        dup = lines.duplicates()
        newlines = batch.count("\n")
        return {
            "lines": n_lines,
            "line_punct_ratio": ratio(lines.sum(punct), n_lines),
            "short_line_ratio": ratio(lines.sum(lengths <= self.short_line_length), n_lines),
            "dup_line_char_ratio": ratio(lines.sum(np.where(dup, lengths, 0)), batch.chars - newlines),
            "list_ratio": ratio(newlines, batch.tokens.per_doc()),
        }
