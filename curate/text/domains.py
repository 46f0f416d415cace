"""Domain names over Arrow arrays: hosts of URLs, parent domains, and the Public Suffix List.

The Public Suffix List (publicsuffix.org, Mozilla Public License 2.0) is the snapshot bundled
in the ``tldextract`` wheel, read through ``TLDExtract(suffix_list_urls=(), cache_dir=None)``:
no URL to fetch and no cache directory, so nothing touches the network or the disk beyond the
package itself. Only the ICANN section is used (as ``tldextract`` does by default): under it
``foo.blogspot.com`` belongs to the registered domain ``blogspot.com``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

# scheme (optional, so `example.com/path` works too), user info, then the host
HOST_PATTERN = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*:)?(?://)?(?:[^/?#@\s]*@)?(?P<host>\[[^\]/]*\]|[^/?#:\s]*)"
_IPV4 = r"^\d{1,3}(?:\.\d{1,3}){3}$"


@dataclass(frozen=True)
class SuffixRules:
    """The Public Suffix List split by rule kind (see publicsuffix.org/list 'Format')."""

    exact: pa.Array  # `co.uk`
    wildcard_parents: pa.Array  # `*.kh` is stored as `kh`: every child of kh is a suffix
    exceptions: pa.Array  # `!www.ck` is stored as `www.ck`: not a suffix despite `*.ck`
    top_level: frozenset[str]  # single-label suffixes (`com`, `de`, `xn--p1ai`)


@functools.cache
def suffix_rules() -> SuffixRules:
    """The bundled Public Suffix List, loaded once per process without network access."""
    import tldextract

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


def hosts(urls: pa.Array) -> pa.Array:
    """The lower-cased host of every URL (no port, user or trailing dot); "" if there is none."""
    host = pc.struct_field(pc.extract_regex(urls, HOST_PATTERN), [0])
    host = pc.utf8_lower(pc.fill_null(host, ""))
    return pc.utf8_rtrim(host, characters=".")


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


def matches_domain_list(host: pa.Array, listed: pa.Array) -> pa.Array:
    """Whether each host is in `listed` or is a subdomain of a listed domain.

    IPv4 hosts match only exactly. Listed domains that are public suffixes must have been
    removed by the caller (see :func:`is_public_suffix`), so a match is always at or below the
    host's registered domain.
    """
    found = pc.is_in(host, value_set=listed)
    level = pc.if_else(is_ipv4(host), pa.scalar("", pa.string()), parent(host))
    while pc.any(pc.not_equal(level, "")).as_py():
        found = pc.or_(found, pc.is_in(level, value_set=listed))
        level = parent(level)
    return found
