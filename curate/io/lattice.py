"""The one type-promotion lattice for input columns, within a file and across files.

Allowed promotions (the join of two types), nothing else:

- null joins anything (a column null so far takes the other type);
- integers widen to the wider signed integer (unsigned up to 32 bits fit in int64; uint64 with a
  signed integer is a conflict);
- an integer and a float give float64, two floats the wider float (integers beyond 2**53 lose
  precision, as in every JSON reader that keeps numbers as doubles);
- string and large_string give large_string (likewise binary), a dictionary of strings is its
  value type;
- structs join field by field (a field missing on one side is null there), lists join their
  element types.

Everything else is a conflict: int and string, bool and int, a number and an object. No type is
ever promoted to string, except the id column, whose integers become strings (ids are compared as
strings everywhere, for JSONL as for Parquet).
"""

from __future__ import annotations

import pyarrow as pa

_WIDTH = {pa.int8(): 8, pa.int16(): 16, pa.int32(): 32, pa.int64(): 64,
          pa.uint8(): 8, pa.uint16(): 16, pa.uint32(): 32, pa.uint64(): 64}
_SIGNED = {8: pa.int8(), 16: pa.int16(), 32: pa.int32(), 64: pa.int64()}


def _map_type(t: pa.DataType, leaf) -> pa.DataType:
    """`t` with `leaf` applied to every non-nested type inside it."""
    if pa.types.is_struct(t):
        return pa.struct([t.field(i).with_type(_map_type(t.field(i).type, leaf)) for i in range(t.num_fields)])
    if pa.types.is_large_list(t):
        return pa.large_list(t.value_field.with_type(_map_type(t.value_type, leaf)))
    if pa.types.is_list(t):
        return pa.list_(t.value_field.with_type(_map_type(t.value_type, leaf)))
    return leaf(t)


def normalize(t: pa.DataType) -> pa.DataType:
    """A file's column type as the lattice sees it: dictionaries (pandas `category`) are their values."""
    return _map_type(t, lambda x: x.value_type if pa.types.is_dictionary(x) else x)


def normalize_json(t: pa.DataType) -> pa.DataType:
    """A type Arrow inferred from JSON: JSON has no timestamps, so strings Arrow parsed as
    timestamps stay strings (a column of dates and words is then one string column)."""
    return _map_type(normalize(t), lambda x: pa.string() if pa.types.is_timestamp(x) else x)


def join(a: pa.DataType, b: pa.DataType, int_to_string: bool = False) -> pa.DataType | None:
    """The least type both `a` and `b` promote to, or None for a conflict (see the module doc).
    `int_to_string` admits integer -> string (the id column)."""
    if a == b:
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if int_to_string and ((pa.types.is_integer(a) and _is_stringy(b)) or (pa.types.is_integer(b) and _is_stringy(a))):
        return pa.string()
    if pa.types.is_integer(a) and pa.types.is_integer(b):
        return _join_ints(a, b)
    if _is_number(a) and _is_number(b):
        if pa.types.is_integer(a) or pa.types.is_integer(b):
            return pa.float64()
        return a if a.bit_width >= b.bit_width else b
    if _is_stringy(a) and _is_stringy(b):
        return pa.large_string() if pa.types.is_large_string(a) or pa.types.is_large_string(b) else pa.string()
    if _is_bytes(a) and _is_bytes(b):
        return pa.large_binary() if pa.types.is_large_binary(a) or pa.types.is_large_binary(b) else pa.binary()
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        return _join_structs(a, b)
    if _is_list(a) and _is_list(b):
        value = join(a.value_type, b.value_type)
        if value is None:
            return None
        large = pa.types.is_large_list(a) or pa.types.is_large_list(b)
        return pa.large_list(value) if large else pa.list_(value)
    return None


def _join_ints(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    signed_a, signed_b = pa.types.is_signed_integer(a), pa.types.is_signed_integer(b)
    if signed_a == signed_b:
        return a if _WIDTH[a] >= _WIDTH[b] else b
    unsigned = b if signed_a else a
    signed = a if signed_a else b
    if _WIDTH[unsigned] == 64:
        return None
    return _SIGNED[max(_WIDTH[signed], 2 * _WIDTH[unsigned])]


def _join_structs(a: pa.StructType, b: pa.StructType) -> pa.DataType | None:
    fields = {a.field(i).name: a.field(i).type for i in range(a.num_fields)}
    for i in range(b.num_fields):
        f = b.field(i)
        if f.name in fields:
            joined = join(fields[f.name], f.type)
            if joined is None:
                return None
            fields[f.name] = joined
        else:
            fields[f.name] = f.type
    return pa.struct(list(fields.items()))


def conflict_path(a: pa.DataType, b: pa.DataType, name: str) -> str:
    """The dotted path of the first place where `a` and `b` do not join (for messages)."""
    if pa.types.is_struct(a) and pa.types.is_struct(b):
        names = {b.field(i).name: b.field(i).type for i in range(b.num_fields)}
        for i in range(a.num_fields):
            f = a.field(i)
            if f.name in names and join(f.type, names[f.name]) is None:
                return conflict_path(f.type, names[f.name], f"{name}.{f.name}")
    if _is_list(a) and _is_list(b) and join(a.value_type, b.value_type) is None:
        return conflict_path(a.value_type, b.value_type, f"{name}[]")
    return name


def _is_number(t: pa.DataType) -> bool:
    return pa.types.is_integer(t) or pa.types.is_floating(t)


def _is_stringy(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


def _is_bytes(t: pa.DataType) -> bool:
    return pa.types.is_binary(t) or pa.types.is_large_binary(t)


def _is_list(t: pa.DataType) -> bool:
    return pa.types.is_list(t) or pa.types.is_large_list(t)
