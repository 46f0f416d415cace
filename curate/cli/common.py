"""Shared CLI plumbing: error handling with the exit-code contract, JSON output, warnings."""

from __future__ import annotations

import json
import logging
import signal
import sys
import traceback
from typing import TYPE_CHECKING, Any

import click

from curate.errors import CurateError, printable

if TYPE_CHECKING:
    from curate.store.storage import Storage


class _LineFormatter(logging.Formatter):
    """A log record as the CLI prints it: the message, warnings prefixed with ``warning:``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return f"warning: {message}" if record.levelno >= logging.WARNING else message


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (as click.echo(err=True)
    does), so that a caller redirecting stderr around a verb gets its log lines too; the lines
    go through ``tqdm.write`` on a terminal, so a progress bar there is not torn."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(_LineFormatter())

    @property
    def stream(self) -> Any:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass

    def emit(self, record: logging.LogRecord) -> None:
        """One line, written around the progress bars (tqdm clears and redraws them)."""
        from tqdm import tqdm

        try:
            if sys.stderr.isatty():
                tqdm.write(self.format(record), file=sys.stderr)
            else:
                super().emit(record)
        except Exception:  # noqa: BLE001 - logging's own policy: report, never raise
            self.handleError(record)


def log_to_stderr(quiet: bool = False) -> None:
    """Send the ``curate`` logger's records to stderr, one line each (nothing with `quiet`)."""
    logger = logging.getLogger("curate")
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        logger.addHandler(_StderrHandler())
    logger.setLevel(logging.CRITICAL if quiet else logging.INFO)


class Terminated(KeyboardInterrupt):
    """SIGTERM (a scheduler's or a container's stop), raised in the main thread like Ctrl-C's
    KeyboardInterrupt so that the same cleanup runs: pending work cancelled, workers stopped, the
    output's lease released."""


def _stopping(signum: int, frame: Any) -> None:
    """Ctrl-C or SIGTERM: say so at once, then stop the way Ctrl-C does (the executor tells its
    workers to stop, their partial files are removed, the lease is released)."""
    sys.stderr.write("stopping..." + (" (SIGTERM)" if signum == signal.SIGTERM else "") + "\n")
    sys.stderr.flush()
    raise Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


def run_cli(group: click.Group, argv: list[str]) -> None:
    """Run the click group; user errors print one line and exit 2, internal errors exit 1,
    Ctrl-C exits 130 and SIGTERM 143, both after the run's cleanup."""
    log_to_stderr()
    previous = {sig: signal.signal(sig, _stopping) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        _run(group, argv)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _run(group: click.Group, argv: list[str]) -> None:
    try:
        group.main(args=argv, prog_name="curate", standalone_mode=False)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C into Abort
        if isinstance(exc.__context__, KeyboardInterrupt):
            _interrupted(exc.__context__)
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:  # usage errors: click's own formatting, exit 2
        exc.show()
        sys.exit(2)
    except KeyboardInterrupt as exc:
        _interrupted(exc)
    except CurateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except ImportError as exc:
        extra = missing_extra(exc)
        if extra is None:
            raise_internal(exc, argv)
        click.echo(f"error: {extra[0]} is not installed: pip install 'curate[{extra[1]}]'", err=True)
        sys.exit(2)
    except Exception as exc:  # noqa: BLE001 - the contract: internal failure = exit 1
        storage = storage_error(exc)
        if storage is None:
            raise_internal(exc, argv)
        click.echo(f"error: {storage}", err=True)
        sys.exit(2)
    sys.exit(0)


def _interrupted(exc: KeyboardInterrupt) -> None:
    if isinstance(exc, Terminated):
        click.echo("terminated (SIGTERM); finished work is kept: run the same command with --resume to continue",
                   err=True)
        sys.exit(128 + signal.SIGTERM)
    click.echo("interrupted; finished work is kept: run the same command with --resume to continue", err=True)
    sys.exit(130)


# extras for development (the test suite, the benchmarks) are not what a user is told to install
_DEV_EXTRAS = ("test", "bench")


def missing_extra(exc: ImportError) -> tuple[str, str] | None:
    """(module, extra) when `exc` is a module of one of curate's optional extras that is not
    installed (wherever it was imported: here or in a worker), from the extras curate's own
    package metadata declares; None for any other import failure (a bug)."""
    import re
    from importlib import metadata

    module = (exc.name or "").split(".")[0]
    if not module:
        return None
    try:
        requirements = metadata.requires("curate") or []
    except metadata.PackageNotFoundError:
        return None
    for requirement in requirements:
        name = re.match(r"[A-Za-z0-9_.-]+", requirement)
        extra = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        if name and extra and extra.group(1) not in _DEV_EXTRAS and \
                name.group().lower().replace("-", "_").replace(".", "_") == module.lower():
            return module, extra.group(1)
    return None


def raise_internal(exc: BaseException, argv: list[str]) -> None:
    """Report an internal error (a bug): one line, a traceback with CURATE_DEBUG=1; exit 1."""
    if _env_debug():
        traceback.print_exception(exc)
    click.echo(f"internal error: {type(exc).__name__}: {exc} (set CURATE_DEBUG=1 for a traceback)", err=True)
    sys.exit(1)


# what the environment refuses (errno names), as opposed to bugs
_ENVIRONMENT_ERRNOS = {"EACCES", "EPERM", "ENOSPC", "EDQUOT", "EROFS", "ENOTDIR", "EISDIR", "EEXIST", "ENAMETOOLONG",
                       "EMFILE", "ENFILE"}
_ENVIRONMENT_WORDS = ("Permission denied", "No space left", "Read-only file system", "Not a directory",
                      "Is a directory", "Disk quota", "File name too long", "File exists")


def storage_error(exc: BaseException) -> str | None:
    """One line naming the path for an error the environment caused, else None.

    Python's own OSErrors carry errno and the file name; pyarrow's carry only a message that
    names the path, and so do DuckDB's IOExceptions (a spill or COPY on a full disk: "IO Error:
    Could not write file ...: No space left on device"), matched here by the system's wording of
    the same errnos."""
    import errno

    if isinstance(exc, OSError):
        name = errno.errorcode.get(exc.errno or 0, "")
        if name in _ENVIRONMENT_ERRNOS:
            where = exc.filename if exc.filename is not None else "a file of the run"
            hint = " (free some space, then --resume continues)" if name in ("ENOSPC", "EDQUOT") else ""
            return f"cannot write or read {where}: {exc.strerror or exc}{hint}"
    elif not _is_duckdb_io_error(exc):
        return None
    text = str(exc)
    if any(w in text for w in _ENVIRONMENT_WORDS):
        hint = " (free some space, then --resume continues)" if "space" in text or "quota" in text else ""
        return printable(f"{text}{hint}")
    return None


def _is_duckdb_io_error(exc: BaseException) -> bool:
    """Whether `exc` is DuckDB's IOException; one raised in a worker arrives unpickled as
    ``_duckdb.IOException`` without ``duckdb`` itself imported here. Neither imported: not DuckDB's."""
    return any(isinstance(exc, getattr(sys.modules.get(name), "IOException", ())) for name in ("duckdb", "_duckdb"))


def _env_debug() -> bool:
    import os

    return os.environ.get("CURATE_DEBUG", "") not in ("", "0")


def cli_storage() -> Storage:
    """The storage the running verb opens files with: its ``--storage-option`` values, else the
    environment's options (AWS_ENDPOINT_URL, credentials)."""
    from curate.pipeline.settings import STORAGE_META
    from curate.store.storage import Storage

    ctx = click.get_current_context(silent=True)
    found = ctx.find_root().meta.get(STORAGE_META) if ctx is not None else None
    return found if found is not None else Storage()


def write_plot(draw: Any, path: str) -> None:
    """Draw a plot into `path` (a local path or a URI, written atomically with the verb's storage):
    `draw` gets a local file to write."""
    from curate.store.atomic import atomic_path

    with atomic_path(path, cli_storage()) as tmp:
        draw(tmp)
    click.echo(f"wrote {path}", err=True)


def storage_option(f: Any) -> Any:
    """``--storage-option KEY=VALUE`` (repeatable) for a verb that names files outside a run
    (calibrate, plan, stats, train-classifier): the options open every file the verb names, from
    its argument checks on (the option is eager)."""
    def use(ctx: click.Context, param: click.Parameter, items: tuple[str, ...]) -> None:
        from curate.pipeline.settings import storage_options_callback

        storage_options_callback(ctx, param, items)

    return click.option("--storage-option", multiple=True, metavar="KEY=VALUE", is_eager=True, expose_value=False,
                        callback=use, help="Option of the s3/gs/hf filesystems (fsspec keyword arguments), "
                        "repeatable; e.g. endpoint_url=http://minio:9000.")(f)


class StoredPath(click.ParamType):
    """A local path or a URI (s3://, gs://, hf://) that must exist: a file, or with `dir_okay` also
    a directory or prefix. A missing one is one line naming it, exit 2 (click.Path(exists=True)
    knows only local paths). Checked with the command's storage options (curate.store.storage.active)."""

    name = "path"

    def __init__(self, dir_okay: bool = False) -> None:
        self.dir_okay = dir_okay

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        import pyarrow.fs as pafs

        from curate.errors import InputError
        from curate.store.storage import parse

        text = str(value)
        kind = cli_storage().info(parse(text)).type
        if kind == pafs.FileType.Directory and not self.dir_okay:
            raise InputError("is a directory, not a file", file=text)
        if kind not in (pafs.FileType.File, pafs.FileType.Directory):
            raise InputError("no such file" + (" or directory" if self.dir_okay else ""), file=text)
        return text


def read_json(path: str, what: str) -> Any:
    """A JSON file (a local path or a URI, read with the command's storage options); an
    unreadable one is an InputError naming it."""
    from curate.errors import InputError


    try:
        return json.loads(cli_storage().read_text(path))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {what} JSON: {exc}", file=str(path)) from None


def run_file(path: str, name: str) -> str:
    """`path` itself, or, for a run's OUTPUT directory (local, or a prefix at a URI), the one
    `name` a stage of it wrote under its metadata folder (``_curate/meta/<node>/``, or ``_meta/``
    in a run of the layout before version 2: buckets.json, plan.json); an error lists them when
    there are several."""
    import pyarrow.fs as pafs

    from curate.errors import InputError
    from curate.store.layout import META, meta_candidates
    from curate.store.storage import parse

    storage = cli_storage()
    root = parse(path)
    if storage.info(root).type != pafs.FileType.Directory:
        return path
    metas = [root.child(rel) for rel in meta_candidates()]
    meta = next((m for m in metas if storage.info(m).type == pafs.FileType.Directory), None)
    listed = storage.walk(meta) if meta is not None else ()
    found = sorted(meta.child(rel).uri for rel, _ in listed if rel.count("/") == 1 and rel.endswith(f"/{name}"))
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"no {name} under {META}/ (not a curate output, or no stage of it wrote one)", file=path)
    raise InputError(f"several stages wrote {name}: {', '.join(found)}; give one of them", file=path)


def echo_json(data: Any) -> None:
    """Print `data` as the only thing on stdout (warnings go to stderr)."""
    from curate.store.files import json_default  # pyarrow: only for a verb that prints JSON

    click.echo(json.dumps(data, indent=2, sort_keys=False, default=json_default))




def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)
