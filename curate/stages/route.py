"""route: split rows into named outputs by DuckDB SQL conditions, first match wins.

``params: {routes: {code: "domain = 'code'", long: "n_tokens > 2000"}, default: other}``: each
route is a boolean SQL expression over the batch's columns, evaluated by DuckDB on the Arrow
batch (no parser of our own). A row goes to the first route whose condition is true; rows no
route takes go to ``default``, or, without one, are rejected as ``route:unmatched``. Other stages
read an output as ``input: NAME.code``.

Each expression is parsed by DuckDB when the pipeline is built: a syntax error is a config error
naming the stage, and the columns it reads are the stage's required columns, so an unknown
column is refused before any work like any other missing column. A type error (comparing text
with a number) can only show on the first batch, and names the route.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext, reject_rows, set_column

REASON_UNMATCHED = "route:unmatched"
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")
_RESERVED = {"kept", "rejected"}
_BATCH = "batch"


def _connection() -> Any:
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET threads = 1")
    con.execute("SET enable_external_access = false")  # an expression reads the batch and nothing else
    return con


def _columns_of(ast: Any, out: set[str]) -> set[str]:
    """Column names an expression's DuckDB syntax tree refers to."""
    if isinstance(ast, dict):
        if ast.get("class") == "COLUMN_REF":
            out.add(ast["column_names"][0])
        for v in ast.values():
            _columns_of(v, out)
    elif isinstance(ast, list):
        for v in ast:
            _columns_of(v, out)
    return out


@register
class Route(MapStage):
    name = "route"
    requires = ()  # the columns the conditions name: required_columns
    produces = ()
    params = {
        "routes": Param(dict, help="output name -> DuckDB SQL boolean expression over the batch's columns; "
                                   "the first true one takes the row"),
        "default": Param(str, None, "output for rows no route takes; without it they are rejected as "
                                    f"'{REASON_UNMATCHED}'", nullable=True),
    }

    def validate(self) -> None:
        routes = self.routes
        if not routes:
            raise ConfigError("stage 'route': 'routes' names no output")
        names = [*routes, *([self.default] if self.default is not None else [])]
        for out in names:
            if not isinstance(out, str) or not _NAME.match(out) or out in _RESERVED:
                raise ConfigError(f"stage 'route': output name {out!r} must start with a letter, use letters, digits, "
                                  "'_' or '-', and not be 'kept' or 'rejected'")
        if self.default in routes:
            raise ConfigError(f"stage 'route': default '{self.default}' is also a route")
        columns: set[str] = set()
        for out, expr in routes.items():
            if not isinstance(expr, str) or not expr.strip():
                raise ConfigError(f"stage 'route': route '{out}' needs a SQL condition as a string, got {expr!r}")
            columns |= self._parse(out, expr)
        self._columns = tuple(sorted(columns))

    def _parse(self, out: str, expr: str) -> set[str]:
        """Parse one condition as DuckDB will run it; return the columns it reads."""
        con = self.cached("duckdb", _connection)
        text = con.execute("SELECT json_serialize_sql(?)", [self._sql([expr])]).fetchone()[0]
        doc = json.loads(text)
        if doc.get("error") or len(doc.get("statements", [])) != 1:
            why = doc.get("error_message", "not one SQL expression")
            raise ConfigError(f"stage 'route': route '{out}': invalid SQL condition {expr!r}: {why}")
        return _columns_of(doc["statements"][0]["node"]["select_list"], set())

    @staticmethod
    def _sql(exprs: list[str]) -> str:
        cases = " ".join(f"WHEN ({e}) THEN {i}" for i, e in enumerate(exprs))
        return f"SELECT CASE {cases} ELSE -1 END::INTEGER AS r FROM {_BATCH}"

    def required_columns(self) -> tuple[str, ...]:
        return self._columns

    def output_names(self) -> tuple[str, ...]:
        return (*self.routes, *([self.default] if self.default is not None else []))

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        con = self.cached("duckdb", _connection)
        batch = table.select(list(self._columns)) if self._columns else pa.table({"n": pa.nulls(table.num_rows)})
        con.register(_BATCH, batch)
        try:
            rel = con.sql(self._sql(list(self.routes.values())))
            which = (rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()).column("r")
        except Exception as exc:  # noqa: BLE001 - DuckDB's binder and runtime errors, named for the user
            raise ConfigError(f"stage 'route': a condition fails on {ctx.source}: {exc}") from None
        finally:
            con.unregister(_BATCH)
        names = pa.array(list(self.output_names()), pa.string())
        unmatched = pc.equal(which, -1)
        if self.default is not None:
            which = pc.if_else(unmatched, len(self.routes), which)
            table = set_column(table, schema.ROUTE, pc.take(names, which))
            return table
        table = set_column(table, schema.ROUTE, pc.take(names, pc.if_else(unmatched, None, which)))
        return reject_rows(table, unmatched, REASON_UNMATCHED)
