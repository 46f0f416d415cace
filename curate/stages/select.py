"""select: keep only the columns a trainer or the next tool wants.

``keep:`` names the columns to keep (exact names or shell-style globs such as ``quality_*``),
``drop:`` the columns to remove; with both, ``drop`` applies to what ``keep`` left. ``id`` and
``text`` stay unless ``drop`` names them exactly (a glob never removes them), and rows rejected
by an earlier stage keep their reason. A column ``keep`` names exactly must exist (a typo is a
config error, not a silently missing column); globs may match nothing. The column check of a
pipeline knows which columns select removes, so a later stage that needs one is refused before
any work.
"""

from __future__ import annotations

import fnmatch

import pyarrow as pa

from curate import schema
from curate.errors import ConfigError
from curate.pipeline.registry import register
from curate.pipeline.stage import MapStage, Param, TaskContext

_GLOB_CHARS = set("*?[")
ALWAYS_KEPT = (schema.ID, schema.TEXT)


def _is_glob(pattern: str) -> bool:
    return bool(_GLOB_CHARS & set(pattern))


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in patterns)


@register
class Select(MapStage):
    name = "select"
    requires = ()
    produces = ()
    params = {
        "keep": Param(list, None, "columns to keep (names or globs); id and text are kept unless drop names them", nullable=True),
        "drop": Param(list, None, "columns to remove (names or globs); id and text only when named exactly",
                      nullable=True),
    }

    def validate(self) -> None:
        if self.keep is None and self.drop is None:
            raise ConfigError("stage 'select': give 'keep', 'drop' or both")
        for key in ("keep", "drop"):
            values = self.config[key] or []
            if not all(isinstance(v, str) and v for v in values):
                raise ConfigError(f"stage 'select': '{key}' must be a list of column names or globs")

    def required_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.keep or () if not _is_glob(c))

    def selected(self, names: list[str]) -> list[str]:
        """The columns of `names` that select keeps, in their order."""
        drop_exact = {c for c in self.drop or () if not _is_glob(c)}

        def kept(name: str) -> bool:
            if name == schema.REJECT_REASON:
                return True
            if name in ALWAYS_KEPT:
                return name not in drop_exact
            if self.keep is not None and not _matches(name, self.keep):
                return False
            return self.drop is None or not _matches(name, self.drop)

        return [n for n in names if kept(n)]

    def output_columns(self, available: set[str]) -> set[str]:
        return set(self.selected(sorted(available)))

    def process(self, table: pa.Table, ctx: TaskContext) -> pa.Table:
        return table.select(self.selected(table.column_names))
