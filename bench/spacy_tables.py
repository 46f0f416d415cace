"""Write curate/stages/heuristics/spacy_en.json: the data behind curate's spaCy-compatible word
tokenizer, read from spaCy's English defaults and datatrove (both in the ``bench`` extra).

The tokenizer algorithm is curate's own (kernels._spacy_tokenize); what comes from the two
projects is data, cited in the file: spaCy's character classes (spacy/lang/char_classes.py:
ALPHA, ALPHA_LOWER, ALPHA_UPPER, the icon symbols, the currency and unit lists, the
punctuation and quote lists of the prefix, suffix and infix rules in spacy/lang/punctuation.py
and spacy/lang/en/punctuation.py), its English tokenizer exceptions
(spacy/lang/en/tokenizer_exceptions.py with spacy/lang/tokenizer_exceptions.py: each special
string, the lengths of the tokens it becomes, and, for one with a prefix, suffix or infix in it,
the lengths of the tokens the affix rules alone give, which spaCy's special-case matcher merges), and datatrove's PUNCTUATION_SET
(datatrove/utils/text.py: what makes a token a "symbol" for the Gopher filter).
tests/stages/test_spacy_tokenizer.py checks that the committed file equals what the installed
spaCy and datatrove give.

    python bench/spacy_tables.py
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "curate" / "stages" / "heuristics" / "spacy_en.json"
ORTH = 65  # spacy.symbols.ORTH


def _ranges(pattern: str) -> list[list[int]]:
    """The code points a one-character regex class matches, as [first, last] ranges."""
    rx = re.compile(pattern)
    out: list[list[int]] = []
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if rx.fullmatch(chr(cp)):
            if out and out[-1][1] == cp - 1:
                out[-1][1] = cp
            else:
                out.append([cp, cp])
    return out


def tables() -> dict:
    import spacy
    import spacy.lang.char_classes as cc
    from datatrove.utils.text import PUNCTUATION_SET
    from spacy.tokenizer import Tokenizer

    nlp = spacy.blank("en")
    tok = nlp.tokenizer
    plain = Tokenizer(nlp.vocab, rules={}, prefix_search=tok.prefix_search, suffix_search=tok.suffix_search,
                      infix_finditer=tok.infix_finditer, url_match=tok.url_match)
    specials = []
    for string, pieces in sorted(nlp.tokenizer.rules.items()):
        lengths = [len(p[ORTH]) for p in pieces]
        if string.strip() and sum(lengths) == len(string):
            # a special with a prefix, suffix or infix in it is also merged after tokenizing
            # (spaCy's special-case matcher), where the affix rules alone give these tokens
            affixed = bool(tok.prefix_search(string) or tok.suffix_search(string)
                           or list(tok.infix_finditer(string)))
            pattern = [len(t.text) for t in plain(string)] if affixed else []
            specials.append([string, lengths, pattern])
    return {
        "_source": "spaCy " + spacy.__version__ + " English defaults (spacy/lang/char_classes.py, "
                   "spacy/lang/punctuation.py, spacy/lang/en/punctuation.py, spacy/lang/en/tokenizer_exceptions.py, "
                   "spacy/lang/tokenizer_exceptions.py) and datatrove PUNCTUATION_SET (datatrove/utils/text.py); "
                   "written by bench/spacy_tables.py",
        "alpha": _ranges(f"[{cc.ALPHA}]"),
        "alpha_lower": _ranges(f"[{cc.ALPHA_LOWER}]"),
        "alpha_upper": _ranges(f"[{cc.ALPHA_UPPER}]"),
        "icons": _ranges(f"[{cc.ICONS}]"),
        "quotes": _ranges(f"[{cc.CONCAT_QUOTES}]"),
        # the look-behind class of the suffix rule for "." after a lower-case letter, digit, ...
        "dot_suffix_after": _ranges(r"[0-9{al}{e}{p}(?:{q})]".format(
            al=cc.ALPHA_LOWER, e=r"%²\-\+", q=cc.CONCAT_QUOTES, p=cc.PUNCT)),
        "punct": [re.sub(r"\\(.)", r"\1", p) for p in cc.LIST_PUNCT],
        "quotes_list": [re.sub(r"\\(.)", r"\1", q) for q in cc.LIST_QUOTES if q],
        "currency": [re.sub(r"\\(.)", r"\1", c) for c in cc.LIST_CURRENCY],
        "units": list(cc.LIST_UNITS),
        "hyphens": list(cc.LIST_HYPHENS),
        "specials": specials,
        "punctuation_set": sorted(PUNCTUATION_SET),
    }


def main() -> None:
    OUT.write_text(json.dumps(tables(), ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size:,} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
