"""url_filter: reject documents by their URL: block lists, banned words, soft-banned-word counts.

Rules, in this order, each naming its rejection reason:

- ``url_filter:blocklist``: the URL's host is a listed domain or a subdomain of one, or the URL
  itself is listed. Domains are matched at and below the host's registered domain (the
  bundled Public Suffix List decides what is registrable, offline; see
  :mod:`curate.text.domains`), so a listed public suffix such as ``co.uk`` is ignored rather
  than blocking a whole country.
- ``url_filter:banned_word``: a word of the URL (split at every non-alphanumeric character,
  lower-cased) is a banned word.
- ``url_filter:soft_banned_words``: at least ``soft_word_threshold`` different soft-banned
  words are in the URL.

An allowlist (domains or URLs, matched the same way) wins over every rule. The rules follow
datatrove's ``URLFilter`` and the FineWeb recipe (Penedo et al. 2024, "The FineWeb Datasets",
section 3.3, URL filtering); no word list is shipped: they are the user's files. Rows whose URL
is null or empty are kept and counted (``url_filter:no_url``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, reject_rows
from curate.store.storage import Storage
from curate.text import domains

REASON_BLOCKLIST = "url_filter:blocklist"
REASON_BANNED_WORD = "url_filter:banned_word"
REASON_SOFT_BANNED = "url_filter:soft_banned_words"
_UT1_FILES = ("domains", "urls")  # the files of one category folder of the UT1 blacklists


@dataclass(frozen=True)
class UrlList:
    """Listed domains (matched with their subdomains) and listed URLs (matched exactly)."""

    domains: domains.HashedSet
    urls: domains.HashedSet

    def matches(self, host: pa.Array, url_key: pa.Array) -> np.ndarray:
        return self.domains.contains_domain_of(host) | self.urls.contains(url_key)


def hosts_and_keys(urls: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Each URL's host (lower-cased, without user, port or trailing dot; "" if none) and the key
    URLs are compared by in lists: host, path and query, without scheme, user, port, fragment
    or trailing slash (``https://WWW.a.com:443/x/#f`` -> ``www.a.com/x``). One regex pass."""
    parts = pc.extract_regex(urls, domains.HOST_PATTERN + r"(?::\d*)?(?P<rest>[^#]*)")
    host = pc.utf8_rtrim(pc.utf8_lower(pc.fill_null(pc.struct_field(parts, [0]), "")), characters=".")
    key = pc.binary_join_element_wise(host, pc.fill_null(pc.struct_field(parts, [1]), ""), "")
    return host, pc.utf8_rtrim(key, characters="/")


def read_url_list(files: list[Path]) -> UrlList:
    """Entries of the files, one a line (``#`` comments and blank lines skipped): an entry with a
    ``/`` is a URL, any other a domain. Domains that are public suffixes are dropped."""
    entries: list[str] = []
    for path in files:
        with path.open(encoding="utf-8", errors="replace") as fh:
            entries.extend(s for line in fh if (s := line.strip()) and not s.startswith("#"))
    arr = pa.array(entries, pa.string())
    is_url = pc.match_substring(arr, "/")
    names = pc.utf8_lower(pc.utf8_trim(pc.filter(arr, pc.invert(is_url)), characters="."))
    names = pc.replace_substring_regex(names, r"^\*\.", "")
    names = pc.filter(names, pc.invert(domains.is_public_suffix(names)))
    return UrlList(domains=domains.HashedSet(names), urls=domains.HashedSet(hosts_and_keys(pc.filter(arr, is_url))[1]))


def read_words(path: Path) -> pa.Array:
    """A word list, one a line, normalised as URL words are (lower case, alphanumerics only)."""
    with path.open(encoding="utf-8", errors="replace") as fh:
        words = [w for line in fh if (w := "".join(c for c in line.lower() if c.isascii() and c.isalnum()))
                 and not line.lstrip().startswith("#")]
    return pa.array(sorted(set(words)), pa.string())


def distinct_words_per_row(urls: pa.Array, words: pa.Array) -> np.ndarray:
    """For each URL, how many different words of `words` it contains as whole URL words."""
    split = pc.split_pattern_regex(pc.utf8_lower(urls), r"[^a-z0-9]+")
    index = pc.index_in(pc.list_flatten(split), value_set=words)
    parent = pc.list_parent_indices(split).to_numpy()
    found = index.is_valid().to_numpy(zero_copy_only=False)
    pairs = np.unique(parent[found] * len(words) + index.to_numpy(zero_copy_only=False)[found].astype(np.int64))
    return np.bincount(pairs // len(words), minlength=len(urls))


@register
class UrlFilter(MapStage):
    name = "url_filter"
    params = {
        "url_column": Param(str, schema.URL, "the column holding each document's URL"),
        "blocklist": Param(str, None, "file of domains or URLs, one a line, or a folder in the UT1 blacklist "
                                      "layout (<category>/domains, <category>/urls)", nullable=True, path=True),
        "categories": Param(list, None, "UT1 folder: the categories to block (required with a folder)",
                            nullable=True),
        "allowlist": Param(str, None, "file of domains or URLs never rejected (wins over every rule)", path=True,
                           nullable=True),
        "banned_words": Param(str, None, "file of words, one a line: a URL containing one is rejected", path=True,
                              nullable=True),
        "soft_banned_words": Param(str, None, "file of words: a URL with soft_word_threshold of them is rejected", path=True,
                                   nullable=True),
        "soft_word_threshold": Param(int, 2, "different soft-banned words needed to reject a URL", min=1),
    }
    requires = (schema.ID, schema.URL)
    produces: ClassVar[tuple[str, ...]] = ()

    def required_columns(self) -> tuple[str, ...]:
        """The id and the configured URL column (``url`` unless ``url_column`` renames it)."""
        return (schema.ID, self.url_column)

    def validate(self) -> None:
        if not (self.blocklist or self.banned_words or self.soft_banned_words):
            raise ConfigError("stage 'url_filter': nothing to filter by; set blocklist, banned_words or "
                              "soft_banned_words")
        if self.categories is not None and (not self.categories or not all(isinstance(c, str) and c
                                                                             for c in self.categories)):
            raise ConfigError("stage 'url_filter': 'categories' must be a non-empty list of UT1 category names")

    def check(self, storage: Storage) -> None:
        domains.require_suffix_list("url", "stage 'url_filter'")
        for key in ("allowlist", "banned_words", "soft_banned_words"):
            path = self.config[key]
            if path is not None and not storage.file_exists(path):
                raise ConfigError(f"stage 'url_filter': {key} '{path}' does not exist")
        self._blocklist_files(storage)

    def dependency_files(self, storage: Storage) -> list[str]:
        lists = [self.config[k] for k in ("allowlist", "banned_words", "soft_banned_words") if self.config[k]]
        return self._blocklist_files(storage) + lists

    def _blocklist_files(self, storage: Storage) -> list[str]:
        """The block-list file, or the list files of the chosen categories of a UT1 folder (local
        paths or URIs)."""
        if self.blocklist is None:
            return []
        root = self.blocklist
        listed = storage.stage_tree(root, "stage 'url_filter': blocklist")
        if [rel for rel, _ in listed] == [""]:  # one file
            if self.categories is not None:
                raise ConfigError(f"stage 'url_filter': 'categories' needs a UT1 folder as blocklist, "
                                  f"but '{root}' is a file")
            return [listed[0][1]]
        lists = {rel: loc for rel, loc in listed if rel.count("/") == 1 and rel.split("/")[1] in _UT1_FILES}
        available = sorted({rel.split("/")[0] for rel in lists})
        if self.categories is None:
            raise ConfigError(f"stage 'url_filter': blocklist '{root}' is a UT1 folder; choose 'categories' "
                              f"from: {', '.join(available) or 'none found'}")
        unknown = [c for c in self.categories if c not in available]
        if unknown:
            raise ConfigError(f"stage 'url_filter': unknown categories {unknown} in '{root}' "
                              f"(available: {', '.join(available) or 'none'})")
        return [lists[f"{c}/{f}"] for c in self.categories for f in _UT1_FILES if f"{c}/{f}" in lists]

    def _lists(self, storage: Storage) -> tuple[UrlList | None, UrlList | None, pa.Array | None, pa.Array | None]:
        def load() -> tuple[UrlList | None, UrlList | None, pa.Array | None, pa.Array | None]:
            files = self._blocklist_files(storage)
            local = storage.stage_file
            return (read_url_list([local(f, "blocklist") for f in files]) if files else None,
                    read_url_list([local(self.allowlist, "allowlist")]) if self.allowlist else None,
                    read_words(local(self.banned_words, "banned_words")) if self.banned_words else None,
                    read_words(local(self.soft_banned_words, "soft_banned_words")) if self.soft_banned_words else None)
        return self.cached("lists", load)

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        if self.url_column not in table.column_names:
            raise ConfigError(f"stage 'url_filter': the input has no column '{self.url_column}' "
                              f"(columns: {', '.join(table.column_names)}); set url_column")
        blocklist, allowlist, banned, soft = self._lists(ctx.storage)
        urls = pc.fill_null(table.column(self.url_column).combine_chunks().cast(pa.string()), "")
        present = pc.not_equal(urls, "")
        ctx.count("url_filter:no_url", table.num_rows - pc.sum(present).as_py() if table.num_rows else 0)
        host, key = hosts_and_keys(urls)
        candidate = present.to_numpy(zero_copy_only=False)
        if allowlist is not None:
            allowed = candidate & allowlist.matches(host, key)
            ctx.count("url_filter:allowlisted", int(allowed.sum()))
            candidate &= ~allowed
        if blocklist is not None:
            table = reject_rows(table, pa.array(candidate & blocklist.matches(host, key)), REASON_BLOCKLIST)
        if banned is not None:
            hit = distinct_words_per_row(urls, banned) > 0
            table = reject_rows(table, pa.array(candidate & hit), REASON_BANNED_WORD)
        if soft is not None:
            hit = distinct_words_per_row(urls, soft) >= self.soft_word_threshold
            table = reject_rows(table, pa.array(candidate & hit), REASON_SOFT_BANNED)
        return table
