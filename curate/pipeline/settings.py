"""Run settings, declared once: the YAML ``settings:`` keys, the CLI flags, the keyword arguments
of :meth:`curate.Pipeline.run` and the resume fingerprint all come from :class:`RunSettings`.

Precedence: an explicit CLI flag or API argument, then the pipeline's ``settings:``, then the
default here.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

from curate.errors import ConfigError
from curate.io import read as reader
from curate.store.storage import Storage

ERROR_POLICIES = ("fail", "skip")
DEFAULT_MAX_DOC_BYTES = 16 << 20


def _setting(default: Any, help: str, *, flag: bool = False, choices: tuple[str, ...] | None = None,
             min: int | None = None, cli: bool = True, fingerprint: bool = True) -> Any:
    return field(default=default, metadata={"help": help, "flag": flag, "choices": choices, "min": min,
                                            "cli": cli, "fingerprint": fingerprint})


@dataclass(frozen=True)
class RunSettings:
    """Run-wide options. Every field is a YAML setting, a CLI flag (``--name-with-dashes``; a
    mapping is ``--singular-name KEY=VALUE``, repeatable) and a :meth:`Pipeline.run` keyword.
    All but where data is read and written from (storage options: credentials; the scratch
    directory: a property of the node) are part of the resume fingerprint."""

    seed: int = _setting(0, "Seed for every random choice.")
    keep_rejected: bool = _setting(False, "Write rejected rows (with reject_reason) under OUTPUT/_curate/rejected/.",
                                   flag=True)
    on_error: str = _setting("fail", "Bad input: fail (exit 2 naming file and row) or skip (listed in "
                             "_curate/errors.jsonl).", choices=ERROR_POLICIES)
    max_errors: int | None = _setting(None, "With --on-error skip: fail when more than this many errors.", min=0)
    max_doc_bytes: int = _setting(DEFAULT_MAX_DOC_BYTES, "Documents larger than this are rejected as too_large.",
                                  min=1)
    batch_rows: int = _setting(reader.DEFAULT_BATCH_ROWS, "Rows per Arrow batch through the stages.", min=1,
                               cli=False)
    target_task_bytes: int = _setting(reader.DEFAULT_TARGET_TASK_BYTES, "Split Parquet files into tasks of "
                                      "about this many bytes (whole row groups).", min=1, cli=False)
    strict_inputs: bool = _setting(False, "Files of unknown type under --input: exit 2 instead of one warning.",
                                   flag=True)
    id_column: str = _setting("id", "Input column holding the document id; 'auto' makes ids from file and row "
                              "(PATH:ROW); a dotted path (metadata.id) reads a struct column's field.")
    text_column: str = _setting("text", "Input column holding the text; a dotted path (doc.body) reads a struct "
                                "column's field.")
    csv_delimiter: str | None = _setting(None, "Field delimiter of CSV/TSV inputs (one character); default ',' "
                                         "for .csv, tab for .tsv.")
    split: str | None = _setting(None, "Of a Hugging Face DatasetDict saved to disk, read only this split "
                                 "(default: every split, named in a `split` column).")
    attributes: str | None = _setting(None, "Of a dolma dataset (documents/ beside attributes/), merge only these "
                                      "attribute sets as columns, comma-separated folder names under attributes/ "
                                      "(default: every set there).")
    clean_work: bool = _setting(False, "After _SUCCESS, remove OUTPUT/_curate/work (the intermediate passes; a later "
                                "--resume then recomputes everything).", flag=True, fingerprint=False)
    storage_options: dict[str, Any] | None = _setting(None, "Option of the s3/gs/hf filesystems (fsspec "
                                                      "keyword arguments), KEY=VALUE, repeatable; e.g. "
                                                      "endpoint_url=http://minio:9000.", fingerprint=False)
    scratch: str | None = _setting(None, "Local directory for files a step needs on local disk when data is "
                                   "remote (DuckDB spill, copies of CSV/WARC inputs); default the system temp "
                                   "directory of the node running the step.", fingerprint=False)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            choices, low = f.metadata["choices"], f.metadata["min"]
            if choices and value not in choices:
                raise ConfigError(f"--{_dashed(f.name)} must be one of {', '.join(choices)}, got '{value}'")
            if low is not None and value is not None and value < low:
                raise ConfigError(f"--{_dashed(f.name)} must be >= {low}, got {value}")

    @functools.cached_property
    def storage(self) -> Storage:
        """How this run opens locations (the options and the scratch directory)."""
        return Storage(dict(self.storage_options or {}), self.scratch)

    @property
    def columns(self) -> reader.ColumnMap:
        attributes = tuple(a.strip() for a in self.attributes.split(",") if a.strip()) if self.attributes else None
        return reader.ColumnMap(self.id_column, self.text_column, self.csv_delimiter, self.max_doc_bytes,
                                self.split, attributes)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    @classmethod
    def check_yaml(cls, settings: Any, source: str | None) -> dict[str, Any]:
        """Validate a pipeline's ``settings:`` mapping (names and types) and return it."""
        where = source or "pipeline"
        if not isinstance(settings, dict):
            raise ConfigError(f"{where}: 'settings' must be a mapping")
        types = {f.name: _value_type(f) for f in dataclasses.fields(cls)}
        for key, value in settings.items():
            if key not in types:
                raise ConfigError(f"{where}: unknown setting '{key}' (known: {', '.join(sorted(types))})")
            expected = types[key]
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise ConfigError(f"{where}: setting '{key}' expects {expected.__name__}, got {value!r}")
        return dict(settings)

    @classmethod
    def resolve(cls, pipeline_settings: dict[str, Any] | None = None, **overrides: Any) -> RunSettings:
        """Settings from explicit `overrides` (None means not given), then the pipeline's, then defaults."""
        unknown = sorted(set(overrides) - set(cls.names()))
        if unknown:
            raise ConfigError(f"unknown run option(s) {', '.join(unknown)} (known: {', '.join(cls.names())})")
        values = dict(pipeline_settings or {})
        given = {k: v for k, v in overrides.items() if v is not None}
        if given.get("storage_options") is not None and values.get("storage_options"):
            given["storage_options"] = {**values["storage_options"], **given["storage_options"]}  # key by key
        values.update(given)
        return cls(**values)

    def fingerprint(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata["fingerprint"]}


def _value_type(f: dataclasses.Field) -> type:
    """The Python type of a setting's values (its annotation without ``| None``)."""
    name = str(f.type).split("|")[0].strip()
    return dict if name.startswith("dict") else {"int": int, "str": str, "bool": bool}[name]


def _dashed(name: str) -> str:
    return name.replace("_", "-")


def cli_options() -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """(flag declaration, click keyword arguments) for every setting the CLI exposes."""
    import click

    out = []
    for f in dataclasses.fields(RunSettings):
        if not f.metadata["cli"]:
            continue
        meta, dashed = f.metadata, _dashed(f.name)
        # None: a flag not given leaves the pipeline's setting (then this default) in force
        shown = "none" if f.default is None else ("on" if f.default else "off") if meta["flag"] else f.default
        kwargs: dict[str, Any] = {"default": None, "help": meta["help"] + " Overrides the pipeline's setting.",
                                  "show_default": str(shown)}
        if meta["flag"]:
            decl = f"--{dashed}/--no-{dashed}"
            if f.name == "keep_rejected":
                decl = "--keep-rejected/--drop-rejected"
            elif f.name == "clean_work":
                decl = "--clean-work/--keep-work"
        elif _value_type(f) is dict:
            decl = f"--{dashed.rstrip('s')}"
            # the one mapping setting, storage_options
            kwargs.update(multiple=True, metavar="KEY=VALUE", callback=storage_options_callback, is_eager=True,
                          show_default="none")
            out.append(((decl, f.name), kwargs))
            continue
        else:
            decl = f"--{dashed}"
            if meta["choices"]:
                kwargs["type"] = click.Choice(list(meta["choices"]))
            elif _value_type(f) is str:
                kwargs["type"] = str
            else:
                kwargs["type"] = click.IntRange(min=meta["min"]) if meta["min"] is not None else int
        out.append(((decl,), kwargs))
    return out


STORAGE_META = "curate.storage"  # the click context's meta key of a verb's storage


def storage_options_callback(ctx: Any, param: Any, items: tuple[str, ...]) -> dict[str, Any] | None:
    """``--storage-option KEY=VALUE`` items as a mapping (None if not given). The option is eager:
    the verb's storage (``ctx.meta[STORAGE_META]``) is made from them at once, so that its own
    checks of the files it names (``sample --plan s3://...``) use them too."""
    import click

    from curate.store.storage import parse_option

    try:
        options = dict(parse_option(i) for i in items) or None
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    ctx.meta[STORAGE_META] = Storage(options or {})
    return options
