"""dolma datasets: ``documents/`` beside ``attributes/<set>/``, read as documents plus attributes.

A dolma dataset root (dolma's ``docs/data-format.md``) holds the documents under ``documents/``
and, for each attribute set a tagger wrote, a file under ``attributes/<set>/`` at the same path as
the documents file it describes, one line per document in the same order:
``{"id": ..., "attributes": {"<set>__<tagger>__<name>": [[start, end, score], ...]}}``.

curate reads such a root as its documents: the attribute files are not read as inputs of their
own, and each documents file gets every attribute of its attribute files as a column (named as
in the file, the span lists as dolma writes them). ``--attributes NAME[,NAME]`` merges only those
sets (a chosen set without a file for a documents file is an error naming the missing file);
without it every set under ``attributes/`` that has a file for the documents file is merged. An
attribute line whose id is not the document's of the same line is an error naming the file and
row. An attribute file is read whole (ids and spans, small beside the documents).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from curate.errors import InputError
from curate.io.conform import ColumnMap
from curate.store.storage import Storage

DOCUMENTS, ATTRIBUTES = "documents", "attributes"


def _split(path: str, folder: str) -> tuple[str, str] | None:
    """(dataset root, path below `folder`/) of a file under ROOT/`folder`/, else None."""
    marker = f"/{folder}/"
    at = path.rfind(marker)
    return None if at < 0 else (path[:at], path[at + len(marker):])


def is_attribute_file(path: str, storage: Storage) -> bool:
    """Whether `path` is an attribute file of a dolma root (ROOT/attributes/SET/... beside ROOT/documents/)."""
    found = _split(path, ATTRIBUTES)
    return found is not None and "/" in found[1] and storage.exists(f"{found[0]}/{DOCUMENTS}")


def attribute_files(path: str, columns: ColumnMap, storage: Storage) -> list[str]:
    """The attribute files merged into documents file `path` (none outside a dolma root)."""
    found = _split(path, DOCUMENTS)
    if found is None or not storage.exists(f"{found[0]}/{ATTRIBUTES}"):
        return []
    root, rel = found
    if columns.attributes is not None:
        chosen = [f"{root}/{ATTRIBUTES}/{name}/{rel}" for name in columns.attributes]
        for file in chosen:
            if not storage.exists(file):
                raise InputError(f"--attributes: no attribute file {file} for this documents file", file=path)
        return chosen
    sets = sorted({rel_set.split("/", 1)[0] for rel_set, _ in storage.walk(_location(f"{root}/{ATTRIBUTES}"))})
    return [f for f in (f"{root}/{ATTRIBUTES}/{name}/{rel}" for name in sets) if storage.exists(f)]


def _location(path: str):  # noqa: ANN202 - a curate.store.storage.Location
    from curate.store.storage import parse

    return parse(path)


def read_attributes(file: str, storage: Storage) -> pa.Table:
    """An attribute file as a table: ``id`` and one column per attribute."""
    import pyarrow.json as pajson

    from curate.io.compressed import open_input

    with open_input(file, storage) as stream:
        table = pajson.read_json(stream)
    attrs = table.column(ATTRIBUTES).combine_chunks() if ATTRIBUTES in table.column_names else None
    out = {"id": table.column("id")}
    if attrs is not None:
        for i, field in enumerate(attrs.type):
            out[field.name] = attrs.field(i)
    return pa.table(out)


def attribute_schema(files: list[str], storage: Storage) -> list[pa.Field]:
    """The attribute columns of these files, in file order then name order."""
    fields: dict[str, pa.Field] = {}
    for file in files:
        for field in read_attributes(file, storage).schema:
            if field.name != "id":
                fields.setdefault(field.name, field)
    return list(fields.values())


def merge(table: pa.Table, rows: pa.Array, attributes: list[tuple[str, pa.Table]], id_column: str | None,
          fields: list[pa.Field]) -> pa.Table:
    """`table` (rows `rows` of its documents file) with the attribute columns `fields` (as the
    run's schema types them) taken from the same rows of each attribute file; an id that differs
    from the document's (`id_column`, None: ids made by curate, not compared) is an InputError
    naming the file and row."""
    index = pc.cast(rows, pa.int64())
    for file, attrs in attributes:
        if len(index) and pc.max(index).as_py() >= attrs.num_rows:
            raise InputError(f"attribute file {file} has {attrs.num_rows} lines, fewer than the documents",
                             row=int(pc.max(index).as_py()))
        taken = attrs.take(index)
        if id_column is not None and id_column in table.column_names:
            same = pc.equal(pc.cast(taken.column("id"), pa.string()), pc.cast(table.column(id_column), pa.string()))
            bad = pc.index(pc.fill_null(same, False), False).as_py()
            if bad >= 0:
                raise InputError(f"attribute file {file}: id {taken.column('id')[bad].as_py()!r} on the line of "
                                 f"document {table.column(id_column)[bad].as_py()!r}", row=int(index[bad].as_py()))
        for field in fields:
            if field.name in taken.column_names:
                column = taken.column(field.name)
                if not column.type.equals(field.type):
                    column = pc.cast(column, field.type)
                at = table.column_names.index(field.name)
                table = table.set_column(at, field, column)
    return table
