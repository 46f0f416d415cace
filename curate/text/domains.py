"""Domain names over Arrow arrays: parent domains, hashed domain lists, the Public Suffix List.

The Public Suffix List (publicsuffix.org, Mozilla Public License 2.0) is the snapshot bundled
in the ``tldextract`` wheel, read through ``TLDExtract(suffix_list_urls=(), cache_dir=None)``:
no URL to fetch and no cache directory, so nothing touches the network or the disk beyond the
package itself. Only the ICANN section is used (as ``tldextract`` does by default): under it
``foo.blogspot.com`` belongs to the registered domain ``blogspot.com``.
"""

from __future__ import annotations

import functools
import types
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import import_extra
from curate.text.utf8 import string_buffers

# The host of a URL: scheme (optional, so `example.com/path` works too), user info, then the host.
HOST_PATTERN = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?(?://)?(?:[^/?#@\s]*@)?(?P<host>\[[^\]/]*\]|[^/?#:\s]*)"
_IPV4 = r"^\d{1,3}(?:\.\d{1,3}){3}$"


@dataclass(frozen=True)
class SuffixRules:
    """The Public Suffix List split by rule kind (see publicsuffix.org/list 'Format')."""

    exact: pa.Array  # `co.uk`
    wildcard_parents: pa.Array  # `*.kh` is stored as `kh`: every child of kh is a suffix
    exceptions: pa.Array  # `!www.ck` is stored as `www.ck`: not a suffix despite `*.ck`
    top_level: frozenset[str]  # single-label suffixes (`com`, `de`, `xn--p1ai`)


def require_suffix_list(extra: str = "url", needed_for: str = "the Public Suffix List (url_filter, pii)") -> types.ModuleType:
    """tldextract, which bundles the Public Suffix List snapshot; MissingExtra naming `extra` when
    it is not installed."""
    return import_extra("tldextract", extra, needed_for)


@functools.cache
def suffix_rules() -> SuffixRules:
    """The bundled Public Suffix List, loaded once per process without network access."""
    tldextract = require_suffix_list()

    rules = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True).tlds
    rules = sorted({_ascii(r) for r in rules})
    exact = [r for r in rules if not r.startswith(("*.", "!"))]
    top = frozenset(r for r in exact if "." not in r)
    return SuffixRules(
        exact=pa.array(exact, pa.string()),
        wildcard_parents=pa.array([r[2:] for r in rules if r.startswith("*.")], pa.string()),
        exceptions=pa.array([r[1:] for r in rules if r.startswith("!")], pa.string()),
        top_level=top,
    )


def _ascii(rule: str) -> str:
    """A PSL rule with Unicode labels in their punycode (``xn--``) form, as they appear in URLs."""
    prefix = "!" if rule.startswith("!") else ""
    labels = rule.removeprefix("!").split(".")
    try:
        return prefix + ".".join(lab if lab.isascii() else lab.encode("idna").decode("ascii") for lab in labels)
    except UnicodeError:
        return rule


def parent(domains: pa.Array) -> pa.Array:
    """Each domain without its first label (``a.b.com`` -> ``b.com``, ``com`` -> ``""``)."""
    return pc.replace_substring_regex(domains, r"^[^.]*(?:\.|$)", "", max_replacements=1)


def is_ipv4(domains: pa.Array) -> pa.Array:
    return pc.match_substring_regex(domains, _IPV4)


def is_public_suffix(domains: pa.Array) -> pa.Array:
    """Whether each domain is itself a public suffix (``co.uk``, ``com``), by the PSL's rules."""
    rules = suffix_rules()
    exact = pc.is_in(domains, value_set=rules.exact)
    wild = pc.and_(pc.is_in(parent(domains), value_set=rules.wildcard_parents),
                   pc.invert(pc.is_in(domains, value_set=rules.exceptions)))
    return pc.or_(exact, pc.and_(wild, pc.match_substring(domains, ".")))


class HashedSet:
    """A set of strings kept as sorted 64-bit hashes, for membership tests over whole batches
    without rebuilding a hash table per call (block lists run to millions of entries).

    Collisions: with n listed strings and m looked up, about n*m / 2**64 false matches (for a
    10-million-entry list and a billion URLs, 5e-4 in all).
    """

    def __init__(self, values: pa.Array) -> None:
        data, offsets = string_buffers(pc.fill_null(values, ""))
        self.hashes = np.unique(_kernels().full_hashes(data, offsets))

    def __len__(self) -> int:
        return len(self.hashes)

    def contains(self, values: pa.Array) -> np.ndarray:
        data, offsets = string_buffers(values)
        return self._has(_kernels().full_hashes(data, offsets))

    def _has(self, hashes: np.ndarray) -> np.ndarray:
        if not len(self.hashes):
            return np.zeros(len(hashes), dtype=bool)
        i = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        return self.hashes[i] == hashes

    def contains_domain_of(self, host: pa.Array) -> np.ndarray:
        """Whether each host, or a parent domain of it (``b.com`` for ``a.b.com``), is in the set.

        IPv4 hosts match only whole. Public-suffix entries must have been left out by the caller
        (see :func:`is_public_suffix`), so a match is at or below the host's registered domain.
        """
        data, offsets = string_buffers(host)
        row, hashes = _kernels().suffix_hashes(data, offsets)
        hit = self._has(hashes)
        whole = np.zeros(len(host), dtype=bool)
        whole[row[hit]] = True
        ipv4 = pc.fill_null(is_ipv4(host), False).to_numpy(zero_copy_only=False)
        if ipv4.any():
            whole[ipv4] = self.contains(host.filter(pa.array(ipv4)))
        return whole


# Both kernels hash a string's bytes from its end (FNV-1a, then splitmix64), so the hash of
# every suffix that starts after a dot comes out on the way: one pass per host.
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


def _mix(x):
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def _full_hashes(data, offsets):
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for i in range(n):
        h = _FNV_OFFSET
        for p in range(offsets[i + 1] - 1, offsets[i] - 1, -1):
            h = (h ^ np.uint64(data[p])) * _FNV_PRIME
        out[i] = _mix(h)
    return out


def _suffix_hashes(data, offsets):
    n = offsets.shape[0] - 1
    total = 0
    for i in range(n):
        if offsets[i + 1] > offsets[i]:
            total += 1
        for p in range(offsets[i], offsets[i + 1]):
            if data[p] == 46:
                total += 1
    rows = np.empty(total, dtype=np.int64)
    out = np.empty(total, dtype=np.uint64)
    k = 0
    for i in range(n):
        h = _FNV_OFFSET
        for p in range(offsets[i + 1] - 1, offsets[i] - 1, -1):
            if data[p] == 46 and p + 1 < offsets[i + 1]:  # the suffix after this dot
                rows[k] = i
                out[k] = _mix(h)
                k += 1
            h = (h ^ np.uint64(data[p])) * _FNV_PRIME
        if offsets[i + 1] > offsets[i]:
            rows[k] = i
            out[k] = _mix(h)
            k += 1
    return rows[:k], out[:k]


@functools.lru_cache(maxsize=1)
def _kernels() -> types.SimpleNamespace:
    from curate.lean_imports import import_numba

    numba = import_numba()

    g = globals()
    if not isinstance(g["_mix"], numba.core.dispatcher.Dispatcher):
        g["_mix"] = numba.njit(cache=True, inline="always")(g["_mix"])
    return types.SimpleNamespace(full_hashes=numba.njit(cache=True)(_full_hashes),
                                 suffix_hashes=numba.njit(cache=True)(_suffix_hashes))
