"""The type-promotion lattice: which joins exist, and that joining is order-free."""

from __future__ import annotations

import pyarrow as pa
import pytest

from curate.io import lattice

S = pa.struct
JOINS = [
    (pa.null(), pa.string(), pa.string()),
    (pa.int32(), pa.int64(), pa.int64()),
    (pa.uint32(), pa.int8(), pa.int64()),
    (pa.uint64(), pa.int64(), None),
    (pa.int64(), pa.float64(), pa.float64()),
    (pa.float32(), pa.float64(), pa.float64()),
    (pa.string(), pa.large_string(), pa.large_string()),
    (pa.int64(), pa.string(), None),
    (pa.bool_(), pa.int64(), None),
    (pa.float64(), pa.string(), None),
    (S([("a", pa.int64())]), S([("b", pa.string())]), S([("a", pa.int64()), ("b", pa.string())])),
    (S([("a", pa.int64())]), S([("a", pa.float64())]), S([("a", pa.float64())])),
    (S([("a", pa.int64())]), S([("a", pa.string())]), None),
    (pa.list_(pa.null()), pa.list_(pa.int64()), pa.list_(pa.int64())),
    (pa.list_(pa.int64()), pa.list_(pa.string()), None),
    (pa.list_(pa.int64()), pa.int64(), None),
]


@pytest.mark.parametrize(("a", "b", "joined"), JOINS)
def test_join(a: pa.DataType, b: pa.DataType, joined: pa.DataType | None) -> None:
    assert lattice.join(a, b) == joined
    back = lattice.join(b, a)
    assert (back is None) == (joined is None)
    if joined is not None and not pa.types.is_struct(joined):  # struct field order follows the first
        assert back == joined


def test_integer_ids_join_strings_only_when_asked() -> None:
    assert lattice.join(pa.int64(), pa.string()) is None
    assert lattice.join(pa.int64(), pa.string(), int_to_string=True) == pa.string()


def test_normalize_reads_dictionaries_and_json_timestamps_as_values() -> None:
    assert lattice.normalize(pa.dictionary(pa.int8(), pa.string())) == pa.string()
    nested = S([("when", pa.timestamp("s")), ("tags", pa.list_(pa.dictionary(pa.int32(), pa.string())))])
    assert lattice.normalize_json(nested) == S([("when", pa.string()), ("tags", pa.list_(pa.string()))])


def test_conflict_path_names_the_nested_field() -> None:
    a = S([("meta", S([("score", pa.int64())]))])
    b = S([("meta", S([("score", pa.string())]))])
    assert lattice.conflict_path(a, b, "x") == "x.meta.score"
