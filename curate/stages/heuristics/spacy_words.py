"""Word tokens as spaCy's English tokenizer makes them (the tokenizer datatrove's Gopher, FineWeb
and C4 filters use: ``spacy.blank("en")``), in one compiled pass over a batch's UTF-8 bytes.

The algorithm is spaCy's (documented at https://spacy.io/usage/linguistic-features#how-tokenizer-works),
written here for numba: the text is cut into chunks at whitespace; a chunk that is a special
case (a tokenizer exception: ``don't`` -> ``do n't``, ``Inc.``, ``and/or``, ``e.g.``) becomes
its tokens; otherwise prefixes are cut from its start and suffixes from its end, in turns, until
neither applies or what is left is a special case; what is left is one token if it is a special
case or looks like a URL (spaCy's URL_MATCH pattern, without its IP-address branch), else it is
split at infixes (``...``, symbols, ``-`` between letters, ``.`` between a lower-case and an
upper-case letter, ``,`` between letters, ``: < > = /`` after a letter or digit and before a
letter, ``+ - * ^`` between digits). Whitespace tokens are dropped, as datatrove's
``strip_strings`` does.

The data (character classes, prefix, suffix and infix characters, currency and unit lists,
the 1,343 special cases and datatrove's punctuation set) is in spacy_en.json, written from
spaCy's and datatrove's own tables by bench/spacy_tables.py. Not replicated: spaCy's second
pass that merges special cases spanning several affix tokens (emoticons such as ``:-)``
inside a longer chunk), and URL_MATCH's IP-address branch; docs/heuristics.md has the
measured agreement.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from curate.stages.heuristics import kernels as _k
from curate.text.table_cache import cached_table

TABLES = Path(__file__).with_name("spacy_en.json")

# Bits of the per-code-point class table.
C_ALPHA = 1  # spaCy ALPHA
C_LOWER = 2  # spaCy ALPHA_LOWER
C_UPPER = 4  # spaCy ALPHA_UPPER
C_QUOTE = 8  # spaCy CONCAT_QUOTES
C_ICON = 16  # spaCy's "other symbols" (prefix, suffix and infix)
C_DOT_AFTER = 32  # a "." after one of these is a suffix
C_PREFIX = 64  # one-character prefixes
C_SUFFIX = 128  # one-character suffixes (no condition)
C_ISALPHA = 256  # str.isalpha: a token with one is "alphabetic" for Gopher
C_SYMBOL = 512  # datatrove PUNCTUATION_SET: a token of these only is a symbol
C_SPACE = 1024  # str.isspace: separates chunks
C_WORD = 2048  # regex \w (str.isalnum or "_"): URL scheme characters
C_URL = 4096  # [A-Za-z0-9\u00a1-\uffff]: URL host label characters
C_UDIGIT = 8192  # regex \d (Unicode decimal digits): URL port
C_SPECIAL_FIRST = 16384  # first code point of a special case: others need no lookup
C_CURRENCY_FIRST = 32768  # first code point of a currency symbol of 2+ characters (a prefix)


@functools.cache
def tables() -> dict:
    return json.loads(TABLES.read_text(encoding="utf-8"))


def _build_classes() -> np.ndarray:
    t = tables()
    out = np.zeros(0x110000, dtype=np.uint16)

    def ranges(key: str, bit: int) -> None:
        for lo, hi in t[key]:
            out[lo : hi + 1] |= bit

    def chars(values, bit: int) -> None:
        for v in values:
            if len(v) == 1:
                out[ord(v)] |= bit

    ranges("alpha", C_ALPHA)
    ranges("alpha_lower", C_LOWER)
    ranges("alpha_upper", C_UPPER)
    ranges("quotes", C_QUOTE)
    ranges("icons", C_ICON | C_PREFIX | C_SUFFIX)
    ranges("dot_suffix_after", C_DOT_AFTER)
    chars(["§", "%", "=", "—", "–"] + t["punct"] + t["quotes_list"] + t["currency"], C_PREFIX)
    chars(t["punct"] + t["quotes_list"] + ["…", "—", "–"], C_SUFFIX)
    chars(t["punctuation_set"], C_SYMBOL)
    chars([s[0] for s, _, _ in t["specials"]], C_SPECIAL_FIRST)
    chars([c[0] for c in t["currency"] if len(c) > 1], C_CURRENCY_FIRST)
    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        if ch.isalpha():
            out[cp] |= C_ISALPHA
        if ch.isspace():
            out[cp] |= C_SPACE
        if ch.isalnum() or ch == "_":
            out[cp] |= C_WORD
        if ch.isdecimal():
            out[cp] |= C_UDIGIT
    out[ord("A") : ord("Z") + 1] |= C_URL
    out[ord("a") : ord("z") + 1] |= C_URL
    out[ord("0") : ord("9") + 1] |= C_URL
    out[0xA1:0x10000] |= C_URL
    return out


@functools.cache
def classes() -> np.ndarray:
    """Class bits (C_*) of every code point."""
    return cached_table("spacy_en_classes", _build_classes)


def _strings(values: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Flat code points and offsets of a list of strings."""
    offsets = np.zeros(len(values) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(v) for v in values])
    flat = np.array([ord(c) for v in values for c in v], dtype=np.int32)
    return flat, offsets


@functools.cache
def lookup() -> tuple[np.ndarray, ...]:
    """The numba-side tables: currency and unit strings, and the special-case hash table
    (keys, entry index, code points and token lengths of each special, and the token lengths
    of its affix pattern when spaCy's matcher merges it); last, the longest special case and
    the longest currency or unit (in code points), which bound the lookups."""
    t = tables()
    currency = _strings([c for c in t["currency"]])
    units = _strings(list(t["units"]))
    specials = t["specials"]
    sp_cps, sp_offsets = _strings([s for s, _, _ in specials])
    lengths = [n for _, ns, _ in specials for n in ns]
    sp_tok = np.zeros(len(specials) + 1, dtype=np.int64)
    sp_tok[1:] = np.cumsum([len(ns) for _, ns, _ in specials])
    patterns = [n for _, _, ps in specials for n in ps]
    sp_pat = np.zeros(len(specials) + 1, dtype=np.int64)
    sp_pat[1:] = np.cumsum([len(ps) for _, _, ps in specials])
    size = 1
    while size < 4 * len(specials):
        size *= 2
    keys = np.zeros(size, dtype=np.uint64)
    index = np.full(size, -1, dtype=np.int64)
    for i in range(len(specials)):
        h = _hash_cps(sp_cps, sp_offsets[i], sp_offsets[i + 1])
        slot = int(h & np.uint64(size - 1))
        while index[slot] != -1:
            slot = (slot + 1) & (size - 1)
        keys[slot] = h
        index[slot] = i
    longest_special = int(np.diff(sp_offsets).max())
    longest_unit = int(max(np.diff(currency[1]).max(), np.diff(units[1]).max()))
    return (currency[0], currency[1], units[0], units[1], keys, index, sp_cps, sp_offsets,
            np.array(lengths, dtype=np.int64), sp_tok, np.array(patterns, dtype=np.int64), sp_pat,
            np.int64(longest_special), np.int64(longest_unit))


# --------------------------------------------------------------------------- helpers (numba)


def _hash_cps(cps, a, b):
    h = np.uint64(0xCBF29CE484222325)
    for i in range(a, b):
        h = (h ^ np.uint64(cps[i])) * np.uint64(0x100000001B3)
    return h


def _special(cps, a, b, cls, tabs):
    """Index of the special case equal to cps[a:b], or -1 (no hashing unless the first code point
    starts a special case and the span is no longer than the longest)."""
    keys, index, sp_cps, sp_offsets, longest = tabs[4], tabs[5], tabs[6], tabs[7], tabs[12]
    if b <= a or b - a > longest or not (cls[cps[a]] & 16384):
        return -1
    h = _hash_cps(cps, a, b)
    mask = keys.shape[0] - 1
    slot = np.int64(h & np.uint64(mask))
    while index[slot] != -1:
        if keys[slot] == h:
            k = index[slot]
            s0 = sp_offsets[k]
            if sp_offsets[k + 1] - s0 == b - a:
                same = True
                for i in range(b - a):
                    if sp_cps[s0 + i] != cps[a + i]:
                        same = False
                        break
                if same:
                    return k
        slot = (slot + 1) & mask
    return -1


def _is09(cp):
    return cp >= 48 and cp <= 57


def _equals(cps, a, b, flat, f0, f1):
    if f1 - f0 != b - a:
        return False
    for i in range(b - a):
        if cps[a + i] != flat[f0 + i]:
            return False
    return True


def _dot_run(cps, i, e):
    """Length of the run of "." starting at i (before e)."""
    j = i
    while j < e and cps[j] == 46:
        j += 1
    return j - i


def _prefix(cps, s, e, cls, cur, cur_off):
    """Length of the prefix at cps[s:e] (0: none)."""
    c = cps[s]
    if cls[c] & 64:
        return 1
    if c == 43 and (s + 1 >= e or not _is09(cps[s + 1])):  # \+(?![0-9])
        return 1
    if c == 46:
        n = _dot_run(cps, s, e)
        return n if n >= 2 else 0
    if cls[c] & 32768:
        for k in range(cur_off.shape[0] - 1):
            n = cur_off[k + 1] - cur_off[k]
            if n > 1 and s + n <= e and _equals(cps, s, s + n, cur, cur_off[k], cur_off[k + 1]):
                return n
    return 0


def _suffix(cps, s, e, cls, cur, cur_off, units, unit_off, longest_unit):
    """Length of the suffix of cps[s:e] (0: none): the leftmost start of any suffix rule."""
    best = e
    last = cps[e - 1]
    if cls[last] & 128:
        best = e - 1
    if last == 46:
        # a run of 2+ dots; else "." after a lower-case letter, digit, quote...; after two
        # upper-case letters; after a degree sign and F, C or K
        j = e
        while j > s and cps[j - 1] == 46:
            j -= 1
        if e - j >= 2:
            best = min(best, j)
        p = e - 1
        if p - 1 >= s and (cls[cps[p - 1]] & 32):
            best = min(best, p)
        if p - 2 >= s and (cls[cps[p - 1]] & 4) and (cls[cps[p - 2]] & 4):
            best = min(best, p)
        if p - 2 >= s and cps[p - 2] == 0xB0 and (cps[p - 1] == 70 or cps[p - 1] == 102 or cps[p - 1] == 67
                                                     or cps[p - 1] == 99 or cps[p - 1] == 75 or cps[p - 1] == 107):
            best = min(best, p)
    if e - 2 >= s and last == 0x2026 and cps[e - 2] == 0x2026:
        best = min(best, e - 2)
    if e - 2 >= s and (last == 115 or last == 83) and (cps[e - 2] == 39 or cps[e - 2] == 0x2019):
        best = min(best, e - 2)  # 's 'S ’s ’S
    if last == 43 and e - 2 >= s and _is09(cps[e - 2]):
        best = min(best, e - 1)
    # currencies and units follow a digit: look them up only if one stands close enough to the end
    digit = False
    for p in range(max(s, e - longest_unit - 1), e - 1):
        if _is09(cps[p]):
            digit = True
    if not digit:
        return e - best
    for flat, off in ((cur, cur_off), (units, unit_off)):
        for k in range(off.shape[0] - 1):
            n = off[k + 1] - off[k]
            p = e - n
            if p - 1 >= s and p < best and _is09(cps[p - 1]) and _equals(cps, p, e, flat, off[k], off[k + 1]):
                best = p
    return e - best


def _hyphen_at(cps, i, e, cls):
    """Length of the hyphen alternative (- – — -- --- —— ~) at i followed by a letter, or 0."""
    c = cps[i]
    if c == 45:
        if i + 1 < e and (cls[cps[i + 1]] & 1):
            return 1
        if i + 2 < e and cps[i + 1] == 45 and (cls[cps[i + 2]] & 1):
            return 2
        if i + 3 < e and cps[i + 1] == 45 and cps[i + 2] == 45 and (cls[cps[i + 3]] & 1):
            return 3
        return 0
    if c == 0x2013 or c == 126:
        return 1 if i + 1 < e and (cls[cps[i + 1]] & 1) else 0
    if c == 0x2014:
        if i + 1 < e and (cls[cps[i + 1]] & 1):
            return 1
        if i + 2 < e and cps[i + 1] == 0x2014 and (cls[cps[i + 2]] & 1):
            return 2
    return 0


def _infix_at(cps, i, s, e, cls):
    """Length of the infix match at i in cps[s:e] (0: none), alternatives in spaCy's order."""
    c = cps[i]
    if c == 46:
        n = _dot_run(cps, i, e)
        if n >= 2:
            return n
    if c == 0x2026 or (cls[c] & 16):
        return 1
    if i - 1 < s or i + 1 >= e:
        return 0
    before = cps[i - 1]
    after = cps[i + 1]
    if (c == 43 or c == 45 or c == 42 or c == 94) and _is09(before) and (_is09(after) or after == 45):
        return 1
    if c == 46 and (cls[before] & 10) and (cls[after] & 12):
        return 1
    if c == 44 and (cls[before] & 1) and (cls[after] & 1):
        return 1
    if (cls[before] & 1) or _is09(before):
        n = _hyphen_at(cps, i, e, cls)
        if n:
            return n
        if (c == 58 or c == 60 or c == 62 or c == 61 or c == 47) and (cls[after] & 1):
            return 1
    return 0


def _url_host(cps, h, e, cls):
    """Whether cps[h:e] is host (labels + lower-case TLD), optional :port, optional path."""
    # labels: runs of URL characters, "_" and "-", each ending in a URL character and a "."
    i = h
    n_labels = 0
    while True:
        j = i
        while j < e and ((cls[cps[j]] & 4096) or cps[j] == 95 or cps[j] == 45):
            j += 1
        if j == i or j >= e or cps[j] != 46 or j - i > 64:
            break
        if not (cls[cps[i]] & 4096) or not (cls[cps[j - 1]] & 4096):
            break
        n_labels += 1
        # try the TLD after this dot
        t = j + 1
        k = t
        while k < e and (cls[cps[k]] & 2):
            k += 1
        if 2 <= k - t <= 63 and _url_rest(cps, k, e, cls):
            return True
        i = j + 1
    return False


def _url_rest(cps, k, e, cls):
    """(:port)? ([/?#] anything)? then the end."""
    if k == e:
        return True
    if cps[k] == 58:
        d = k + 1
        while d < e and (cls[cps[d]] & 8192):
            d += 1
        if 2 <= d - k - 1 <= 5 and (d == e or cps[d] == 47 or cps[d] == 63 or cps[d] == 35):
            return True
        return False
    return cps[k] == 47 or cps[k] == 63 or cps[k] == 35


def _url(cps, s, e, cls):
    """spaCy's URL_MATCH (without its IP-address branch) on cps[s:e]."""
    if e - s < 4:
        return False
    dot = False  # every branch needs a host, and a host has a "." before its top-level domain
    for i in range(s, e):
        if cps[i] == 46:
            dot = True
            break
    if not dot:
        return False
    if _url_host(cps, s, e, cls):
        return True
    # scheme: 2+ of [\w+-.] then "://"
    i = s
    while i < e and ((cls[cps[i]] & 2048) or cps[i] == 43 or cps[i] == 45 or cps[i] == 46):
        i += 1
    if i - s >= 2 and i + 3 <= e and cps[i] == 58 and cps[i + 1] == 47 and cps[i + 2] == 47:
        if _url_host(cps, i + 3, e, cls):
            return True
    # user information ending at an "@"
    for a in range(s + 1, e):
        if cps[a] == 64 and _url_host(cps, a + 1, e, cls):
            return True
    return False


def _push_special(k, a, cuts, n_cuts, sp_len, sp_tok):
    for j in range(sp_tok[k], sp_tok[k + 1]):
        a += sp_len[j]
        cuts[n_cuts] = a
        n_cuts += 1
    return n_cuts


def _chunk(cps, s0, e0, cls, tabs, cuts, pre, suf):
    """Token boundaries of the chunk cps[s0:e0]: writes token end positions into `cuts`,
    returns their number."""
    cur, cur_off, units, unit_off = tabs[0], tabs[1], tabs[2], tabs[3]
    sp_len, sp_tok, longest_unit = tabs[8], tabs[9], tabs[13]
    n_cuts = 0
    k = _special(cps, s0, e0, cls, tabs)
    if k >= 0:
        return _push_special(k, s0, cuts, 0, sp_len, sp_tok)
    s = s0
    e = e0
    n_pre = 0
    n_suf = 0
    last = -1
    while e > s and e - s != last:
        if _special(cps, s, e, cls, tabs) >= 0:
            break
        last = e - s
        p = _prefix(cps, s, e, cls, cur, cur_off)
        if p and e - s - p > 0 and _special(cps, s + p, e, cls, tabs) >= 0:
            pre[n_pre] = s + p
            n_pre += 1
            s += p
            break
        q = _suffix(cps, s + p, e, cls, cur, cur_off, units, unit_off, longest_unit) if s + p < e else 0
        if q and e - q - s > 0 and _special(cps, s, e - q, cls, tabs) >= 0:
            suf[n_suf] = e
            n_suf += 1
            e -= q
            break
        if p and q and p + q <= e - s:
            pre[n_pre] = s + p
            n_pre += 1
            suf[n_suf] = e
            n_suf += 1
            s += p
            e -= q
        elif p:
            pre[n_pre] = s + p
            n_pre += 1
            s += p
        elif q:
            suf[n_suf] = e
            n_suf += 1
            e -= q
        if _special(cps, s, e, cls, tabs) >= 0:
            break
    for i in range(n_pre):
        cuts[n_cuts] = pre[i]
        n_cuts += 1
    if e > s:
        k = _special(cps, s, e, cls, tabs)
        if k >= 0:
            n_cuts = _push_special(k, s, cuts, n_cuts, sp_len, sp_tok)
        elif _url(cps, s, e, cls):
            cuts[n_cuts] = e
            n_cuts += 1
        else:
            start = s
            i = s
            while i < e:
                n = _infix_at(cps, i, s, e, cls)
                if n == 0:
                    i += 1
                    continue
                if i != s:
                    if i != start:
                        cuts[n_cuts] = i
                        n_cuts += 1
                    cuts[n_cuts] = i + n
                    n_cuts += 1
                    start = i + n
                i += n
            if start < e:
                cuts[n_cuts] = e
                n_cuts += 1
    for i in range(n_suf - 1, -1, -1):
        cuts[n_cuts] = suf[i]
        n_cuts += 1
    if n_cuts > 1:
        n_cuts = _merge_specials(cps, s0, cuts, n_cuts, cls, tabs)
    return n_cuts


MAX_PATTERN = 8  # tokens in the longest affix pattern of a special case


def _pattern_match(cps, s0, cuts, i, j, cls, tabs):
    """The special case that tokens i..j-1 of a chunk spell, cut as its affix pattern, if merging
    them changes anything; else -1 (-2: none from here on, the span is longer than any special)."""
    sp_tok, sp_pat, sp_pat_off, longest = tabs[9], tabs[10], tabs[11], tabs[12]
    a = s0 if i == 0 else cuts[i - 1]
    b = cuts[j - 1]
    if b - a > longest:
        return -2
    k = _special(cps, a, b, cls, tabs)
    if k < 0 or sp_pat_off[k + 1] - sp_pat_off[k] != j - i:
        return -1
    pos = a
    for q in range(j - i):
        pos += sp_pat[sp_pat_off[k] + q]
        if pos != cuts[i + q]:
            return -1
    if j - i == 1 and sp_tok[k + 1] - sp_tok[k] == 1:  # 1 token -> itself: no-op
        return -1
    return k


def _any_pattern_match(cps, s0, cuts, n_cuts, cls, tabs):
    for i in range(n_cuts):
        for j in range(i + 1, min(n_cuts, i + MAX_PATTERN) + 1):
            k = _pattern_match(cps, s0, cuts, i, j, cls, tabs)
            if k == -2:
                break
            if k >= 0:
                return True
    return False


def _merge_specials(cps, s0, cuts, n_cuts, cls, tabs):
    """spaCy's special-case matcher within one chunk: a run of tokens that spells a special
    case, cut exactly as that special's affix pattern, becomes the special's tokens. Overlaps
    are resolved as spaCy does (longest first, then the earlier start; a match is kept if its
    first and last tokens are still free)."""
    if not _any_pattern_match(cps, s0, cuts, n_cuts, cls, tabs):
        return n_cuts  # the common case, without allocating
    sp_len, sp_tok = tabs[8], tabs[9]
    starts = np.empty(n_cuts * MAX_PATTERN, dtype=np.int64)
    ends = np.empty(n_cuts * MAX_PATTERN, dtype=np.int64)
    found = np.empty(n_cuts * MAX_PATTERN, dtype=np.int64)
    n_match = 0
    for i in range(n_cuts):
        for j in range(i + 1, min(n_cuts, i + MAX_PATTERN) + 1):
            k = _pattern_match(cps, s0, cuts, i, j, cls, tabs)
            if k == -2:
                break
            if k < 0:
                continue
            # like spaCy's PhraseMatcher, one special's matches do not overlap each other
            clash = False
            for r in range(n_match):
                if found[r] == k and ends[r] > i:
                    clash = True
            if not clash:
                starts[n_match] = i
                ends[n_match] = j
                found[n_match] = k
                n_match += 1
    if n_match == 0:
        return n_cuts
    # keep: longest first, then the earlier start first
    order = np.argsort((ends[:n_match] - starts[:n_match]) * (n_cuts + 1) + (n_cuts - starts[:n_match]))
    seen = np.zeros(n_cuts, dtype=np.bool_)
    keep = np.zeros(n_cuts, dtype=np.int64) - 1  # token index -> end of a kept match starting there
    for r in range(n_match - 1, -1, -1):
        m = order[r]
        i = starts[m]
        j = ends[m]
        if not seen[i] and not seen[j - 1]:
            keep[i] = j
        for q in range(i, j):
            seen[q] = True
    out = np.empty(n_cuts + 8 * MAX_PATTERN, dtype=np.int64)
    n = 0
    i = 0
    while i < n_cuts:
        if keep[i] >= 0:
            a = s0 if i == 0 else cuts[i - 1]
            k = _special(cps, a, cuts[keep[i] - 1], cls, tabs)
            n = _push_special(k, a, out, n, sp_len, sp_tok)
            i = keep[i]
        else:
            out[n] = cuts[i]
            n += 1
            i += 1
    cuts[:n] = out[:n]
    return n


def _ascii_letter(cp):
    return (cp >= 65 and cp <= 90) or (cp >= 97 and cp <= 122)


def _plain_chunk(cps, n, n_letters, cls, tabs, cuts):
    """Token ends of the commonest chunks without spaCy's loop (0: not such a chunk): ASCII letters
    (one token), and ASCII letters then one of ``, ; :`` (two), unless a special case is involved.

    Why this is spaCy's result: no prefix rule matches an ASCII letter (prefixes are punctuation,
    quotes, currency symbols, icons, ``+``, ``..``); suffix rules need a non-letter (punctuation,
    quotes, ``'s``, a "." or a unit after a digit...), and ``, ; :`` are one-character suffixes; no
    infix rule matches without a non-letter in the middle; a URL needs a "."; and the special-case
    matcher of the second pass only joins tokens that spell a special case.
    tests/stages/test_spacy_tokenizer.py checks these facts on the tables and compares with spaCy.
    """
    if n_letters == n:
        if _special(cps, 0, n, cls, tabs) >= 0:
            return 0
        cuts[0] = n
        return 1
    if n_letters == n - 1 and n_letters > 0 and (cps[n - 1] == 44 or cps[n - 1] == 59 or cps[n - 1] == 58):
        if (_special(cps, 0, n, cls, tabs) >= 0 or _special(cps, 0, n - 1, cls, tabs) >= 0
                or _special(cps, n - 1, n, cls, tabs) >= 0):
            return 0
        cuts[0] = n - 1
        cuts[1] = n
        return 2
    return 0


def _longest_chunk(data, offsets, cls):
    """Code points of the longest whitespace-free run of any document."""
    longest = 0
    for d in range(offsets.shape[0] - 1):
        p = offsets[d]
        end = offsets[d + 1]
        n = 0
        while p < end:
            cp, nb = _k._decode(data, p, end)
            n = 0 if cls[cp] & 1024 else n + 1
            longest = max(longest, n)
            p += nb
    return longest


def _spacy_tokenize(data, offsets, cls, tabs):
    """spaCy-English tokens of every document (same outputs as kernels._tokenize)."""
    n_docs = offsets.shape[0] - 1
    total = offsets[n_docs] - offsets[0]
    bufs = _k._grow_tokens(
        (
            np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.uint64), np.empty(0, dtype=np.int32),
            np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64),
        ),
        max(64, total // 4),
    )
    doc_tok = np.empty(n_docs + 1, dtype=np.int64)
    doc_chars = np.empty(n_docs, dtype=np.int64)
    # scratch for one chunk, allocated once: growing arrays inside the loop made it ~7x slower
    cap = _longest_chunk(data, offsets, cls) + 1
    cps = np.empty(cap, dtype=np.int32)
    pos = np.empty(cap + 1, dtype=np.int64)
    cuts = np.empty(cap, dtype=np.int64)
    pre = np.empty(cap, dtype=np.int64)
    suf = np.empty(cap, dtype=np.int64)
    t = 0
    for d in range(n_docs):
        doc_tok[d] = t
        p = offsets[d]
        end = offsets[d + 1]
        if t + (end - p) + 1 > bufs[0].shape[0]:
            bufs = _k._grow_tokens(bufs, max(2 * bufs[0].shape[0], t + (end - p) + 1))
        n_chars = 0
        while p < end:
            cp, nb = _k._decode(data, p, end)
            if cls[cp] & 1024:
                n_chars += 1
                p += nb
                continue
            # a chunk: decode up to the next whitespace, noting how many leading ASCII letters
            n = 0
            n_letters = 0
            q = p
            while q < end:
                cp, nb = _k._decode(data, q, end)
                if cls[cp] & 1024:
                    break
                if n_letters == n and _ascii_letter(cp):
                    n_letters += 1
                cps[n] = cp
                pos[n] = q
                n += 1
                q += nb
            pos[n] = q
            n_chars += n
            n_cuts = _plain_chunk(cps, n, n_letters, cls, tabs, cuts)
            if n_cuts == 0:
                n_cuts = _chunk(cps, 0, n, cls, tabs, cuts, pre, suf)
            a = 0
            for j in range(n_cuts):
                b = cuts[j]
                alpha = False
                symbol = True
                for i in range(a, b):
                    c = cls[cps[i]]
                    if c & 256:
                        alpha = True
                    if not (c & 512):
                        symbol = False
                flags = (_k.FLAG_ALPHA if alpha else 0) | (_k.FLAG_SYMBOL if symbol else 0)
                _k._emit(bufs, t, data, pos[a], pos[b], b - a, flags)
                t += 1
                a = b
            p = q
        doc_chars[d] = n_chars
    doc_tok[n_docs] = t
    hashes, lower, lengths, flags, starts, ends = bufs
    return (hashes[:t].copy(), lower[:t].copy(), lengths[:t].copy(), flags[:t].copy(), starts[:t].copy(),
            ends[:t].copy(), doc_tok, doc_chars)


_INLINE = ("_hash_cps", "_special", "_is09", "_equals", "_dot_run", "_ascii_letter", "_plain_chunk", "_pattern_match")
_HELPERS = ("_hash_cps", "_special", "_is09", "_equals", "_dot_run", "_prefix", "_suffix", "_hyphen_at",
            "_infix_at", "_url_rest", "_url_host", "_url", "_push_special", "_pattern_match", "_any_pattern_match",
            "_merge_specials", "_chunk", "_ascii_letter", "_plain_chunk", "_longest_chunk")


@functools.lru_cache(maxsize=1)
def tokenize_kernel():
    """The compiled tokenizer (numba; helpers first so the kernel calls compiled code)."""
    _k.kernels()  # compiles kernels' helpers (_decode, _emit, _grow_tokens) used here
    # the small helpers called per chunk are inlined (a call passes the tables' references each
    # time); inlining every helper measured ~15% faster again but more than doubled compile time
    return _k.njit_namespace(globals(), _HELPERS, _INLINE, ("_spacy_tokenize",)).spacy_tokenize


def tokenize(data: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, ...]:
    """spaCy-English tokens of a batch: (hashes, lower hashes, lengths, flags, starts, ends,
    token offsets per document, characters per document)."""
    return tokenize_kernel()(data, offsets, classes(), lookup())
