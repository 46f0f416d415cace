"""Where a plan's buckets come from: buckets, a buckets.json document, or its path or URI.

``curate plan --buckets``, ``curate.plan`` and ``curate.planner.plan`` all accept a buckets.json
given as a local path or a URI (read with the given storage, by default the environment's options).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, Union

from curate.errors import InputError
from curate.planner.budget import Bucket, buckets_for_law
from curate.planner.lawfile import CalibratedLaw, resolve_law
from curate.planner.laws import Law
from curate.store.storage import Storage

BucketsSource = Union[Sequence[Bucket], Mapping[str, Any], str, "os.PathLike[str]"]


def read_buckets_json(path: str | os.PathLike[str], storage: Storage | None = None) -> Any:
    """The buckets.json document at a local path or a URI (read with `storage`, default the
    environment's options); an unreadable one is an InputError naming it."""
    try:
        return json.loads((storage or Storage()).read_text(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read buckets JSON: {exc}", file=str(path)) from None


def load_buckets(source: BucketsSource, law: str | Law | CalibratedLaw,
                 storage: Storage | None = None) -> tuple[list[Bucket], Law | CalibratedLaw]:
    """(buckets, resolved law) from buckets, a buckets.json document, or a buckets.json path or URI.

    A document or file is checked against a calibrated law's bucket definition, as the CLI does.
    Files (a buckets.json, a law.json) at URIs are read with `storage`."""
    law = resolve_law(law, storage)
    if isinstance(source, (str, os.PathLike)):
        return buckets_for_law(read_buckets_json(source, storage), law, str(source))
    if isinstance(source, Mapping):
        return buckets_for_law(source, law, "buckets")
    return list(source), law
