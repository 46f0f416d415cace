"""pii: find e-mail addresses, IP addresses, phone, card and IBAN numbers; replace, count or reject.

Detection is in :mod:`curate.text.pii` (RE2 candidates over the whole batch, then validators
with checksums, country metadata and the words around each candidate). Every mode adds one
count column per type (``pii_email``, ...; null for types not searched) and counts the matches
per type in the stage stats (``pii:<type>``):

- ``replace`` (default): each match becomes its type's placeholder (``<EMAIL>``, ...).
- ``annotate``: the text is unchanged.
- ``reject``: documents with more than ``max_per_type`` matches of some type are rejected as
  ``pii:<type>`` (the first such type in the order email, iban, credit_card, ip, phone); the
  text of the others is unchanged.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pyarrow as pa

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, reject_rows, set_column
from curate.store.storage import Storage
from curate.text import pii
from curate.text.regex_matches import find_all

MODES = ("replace", "annotate", "reject")
_EXCEPTION_KEYS = {"private_ips": bool, "examples": bool, "domains": list, "values": list}


def count_column(pii_type: str) -> str:
    """Name of the column counting matches of `pii_type` in each document."""
    return f"pii_{pii_type}"


@register
class Pii(MapStage):
    name = "pii"
    params = {
        "types": Param(list, None, f"types to find, of {', '.join(pii.TYPES)} (default: all)", nullable=True),
        "mode": Param(str, "replace", "replace matches by placeholders, annotate (count only) or reject documents",
                      choices=MODES),
        "placeholders": Param(dict, {}, "placeholder per type, overriding <EMAIL>, <IP>, <PHONE>, "
                                        "<CREDIT_CARD>, <IBAN>"),
        "max_per_type": Param(int, 0, "reject mode: reject documents with more matches than this of a type", min=0),
        "exceptions": Param(dict, {}, "what is kept: private_ips (true), examples (true), domains ([]), values ([])"),
    }
    requires = (schema.ID, schema.TEXT)
    produces: ClassVar[tuple[str, ...]] = tuple(count_column(t) for t in pii.TYPES)

    def validate(self) -> None:
        types = self.types if self.types is not None else list(pii.TYPES)
        unknown = [t for t in types if t not in pii.TYPES]
        if unknown or not types:
            raise ConfigError(f"stage 'pii': 'types' must be a non-empty list of {', '.join(pii.TYPES)}; "
                              f"got {self.types!r}")
        bad = [t for t in self.placeholders if t not in pii.TYPES or not isinstance(self.placeholders[t], str)]
        if bad:
            raise ConfigError(f"stage 'pii': 'placeholders' maps a type of {', '.join(pii.TYPES)} to a string; "
                              f"bad entries: {bad}")
        for key, value in self.exceptions.items():
            if key not in _EXCEPTION_KEYS:
                raise ConfigError(f"stage 'pii': unknown key '{key}' in 'exceptions' (known: "
                                  f"{', '.join(_EXCEPTION_KEYS)})")
            if not isinstance(value, _EXCEPTION_KEYS[key]) or (
                    isinstance(value, list) and not all(isinstance(v, str) for v in value)):
                raise ConfigError(f"stage 'pii': 'exceptions.{key}' must be a "
                                  f"{'boolean' if _EXCEPTION_KEYS[key] is bool else 'list of strings'}, got {value!r}")

    def check(self, storage: Storage) -> None:
        pii.require_libraries()

    def _settings(self) -> tuple[list[str], dict[str, str], pii.Exceptions]:
        types = [t for t in pii.TYPES if self.types is None or t in self.types]
        placeholders = {**pii.DEFAULT_PLACEHOLDERS, **self.placeholders}
        exc: dict[str, Any] = self.exceptions
        exceptions = pii.Exceptions(
            private_ips=exc.get("private_ips", True), examples=exc.get("examples", True),
            domains=tuple(exc.get("domains", ())),
            values=frozenset(exc.get("values", ())) | frozenset(pii.compact(exc.get("values", ()))))
        return types, placeholders, exceptions

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        types, placeholders, exceptions = self._settings()
        text = table.column(schema.TEXT).combine_chunks()
        # replacing only removes matches, so the rows found now hold every later pass's matches
        rows = pii.candidate_rows(text, [d for t in types for d in pii.DETECTORS[t]])
        counts: dict[str, np.ndarray] = {}
        for pii_type in types:
            counts[pii_type] = np.zeros(len(text), dtype=np.int32)
            for detector in pii.DETECTORS[pii_type]:
                matches = find_all(text, detector.pattern, rows)
                if not len(matches.match_index):
                    continue
                found = detector.validate(matches, exceptions)
                counts[pii_type] += matches.count_per_row(found, len(text))
                # later detectors search the text with earlier matches replaced, in every mode
                text = matches.replace(text, found, placeholders[pii_type])
            ctx.count(f"pii:{pii_type}", int(counts[pii_type].sum()))
        if self.mode == "replace":
            table = set_column(table, schema.TEXT, text)
        for pii_type in pii.TYPES:
            column = (pa.array(counts[pii_type], pa.int32()) if pii_type in counts
                      else pa.nulls(table.num_rows, pa.int32()))
            table = set_column(table, count_column(pii_type), column)
        if self.mode == "reject":
            for pii_type in types:
                table = reject_rows(table, counts[pii_type] > self.max_per_type, f"pii:{pii_type}")
        return table
