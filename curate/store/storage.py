"""Where data lives: one filesystem layer for every path curate reads or writes.

A location is a local path, ``file://PATH``, ``s3://BUCKET/KEY`` (AWS or any S3-compatible store:
MinIO, R2, Ceph), ``gs://BUCKET/KEY``, ``hf://datasets/OWNER/NAME/PATH`` (Hugging Face, read
only) or ``memory://PATH`` (fsspec's per-process in-memory filesystem, for tests and embedded
use). Which library serves which scheme, and why:

- local paths and ``file://``: pyarrow's native ``LocalFileSystem`` (rename and syncfs work).
- ``s3://``: s3fs, wrapped in ``pyarrow.fs.PyFileSystem``. pyarrow's native ``S3FileSystem``
  reads as fast, but tested against an S3 API server it (1) completes a multipart upload when a
  writer fails half-way (its stream has no abort), so a failed shard would appear whole under its
  final name, and (2) has no conditional PUT (``If-None-Match: *``), which the run's lease uses
  to create its object exclusively. s3fs files can be discarded (the multipart upload is
  aborted) and created exclusively (mode ``xb``), and take the same ``storage_options`` names as
  gcsfs and the rest of the fsspec world (datatrove, NeMo Curator, pandas).
- ``gs://``: gcsfs; ``hf://``: huggingface_hub's ``HfFileSystem``; ``memory://``: fsspec. All
  through ``PyFileSystem``: pyarrow has no native filesystem for them that curate could use.

Options (``--storage-option KEY=VALUE``, YAML ``settings: {storage_options: {...}}``, API
``storage_options=``) are passed to the fsspec filesystem of every remote scheme as keyword
arguments; a dotted key makes a nested one (``client_kwargs.region_name=eu-west-1``). The S3
endpoint also comes from ``AWS_ENDPOINT_URL``. Credentials come from each library's usual places
(environment, ``~/.aws``, ``gcloud`` credentials, ``HF_TOKEN``); options travel to workers with the
unit of work but are never written to any output, manifest or fingerprint.

On the local disk and in memory a file is written under a temporary name and renamed. Object
stores have no rename: a file is written under its final name in one upload (one PUT, or a
multipart upload completed only when the writer succeeds and aborted when it fails), so it is
visible whole or not at all.
"""

from __future__ import annotations

import os
import re
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from curate.errors import ConfigError
from curate.store.files import Files

LOCAL = "file"
REMOTE_SCHEMES = ("s3", "gs", "hf", "memory")
READ_ONLY = ("hf",)
# scheme -> (module that serves it, the extra that installs it); memory:// needs only fsspec
EXTRAS = {"s3": ("s3fs", "s3"), "gs": ("gcsfs", "gcs"), "hf": ("huggingface_hub", "hf")}
ENDPOINT_ENV = "AWS_ENDPOINT_URL"
# Read-ahead of remote files. s3fs reads 50 MB blocks by default, so every Parquet footer or
# column chunk would fetch 50 MB; Parquet reads ask for exact byte ranges, JSONL reads stream.
BLOCK_BYTES = 8 << 20
# an object's content tag, by store: S3 (and compatibles) ETag, GCS md5Hash / crc32c, Hub blob id
CONTENT_TAGS = ("ETag", "etag", "md5Hash", "crc32c", "blob_id")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.S)
_KNOWN = (LOCAL, *REMOTE_SCHEMES)


@dataclass(frozen=True)
class Location:
    """A parsed location: its scheme (``file`` for local paths) and its path inside the scheme's
    filesystem (an absolute local path; ``bucket/key`` on s3 and gs)."""

    scheme: str
    path: str

    @property
    def is_local(self) -> bool:
        return self.scheme == LOCAL

    @property
    def uri(self) -> str:
        return self.path if self.is_local else f"{self.scheme}://{self.path.lstrip('/')}"

    def child(self, rel: str) -> Location:
        return Location(self.scheme, f"{self.path.rstrip('/')}/{rel}")


def parse(text: str | os.PathLike) -> Location:
    """Parse a local path or a URI. Unknown schemes and strings that look like a URI but are not
    one (``s3:/bucket``, ``s3//bucket``, ``s3:bucket``) are a ConfigError, never a local path."""
    raw = os.fspath(text)
    match = _SCHEME.match(raw)
    if match:
        scheme, rest = match.group(1).lower(), match.group(2)
        if scheme not in _KNOWN:
            raise ConfigError(f"unsupported storage scheme '{scheme}://' in '{raw}' (supported: local paths, "
                              f"{', '.join(s + '://' for s in _KNOWN)})")
        if scheme == LOCAL:
            return Location(LOCAL, str(Path(rest).absolute()))
        if scheme != "memory" and not rest.strip("/"):
            raise ConfigError(f"'{raw}' names no bucket or repository")
        return Location(scheme, rest.strip("/") if scheme != "memory" else "/" + rest.strip("/"))
    head = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*)(:/?(?!/)|//)", raw)
    if head and head.group(1).lower() in _KNOWN:
        raise ConfigError(f"'{raw}' looks like a {head.group(1)}:// URI but is not one (write "
                          f"{head.group(1).lower()}://BUCKET/PATH)")
    return Location(LOCAL, str(Path(raw).absolute()))


def parse_option(item: str, flag: str = "--storage-option") -> tuple[str, Any]:
    """``KEY=VALUE`` of a repeatable option (`flag`): the value parsed as a YAML scalar (true, 3, text)."""
    import yaml

    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(f"{flag} expects KEY=VALUE, got '{item}'")
    try:
        parsed = yaml.safe_load(value) if value else ""
    except yaml.YAMLError:
        parsed = value
    return key.strip(), parsed if isinstance(parsed, (str, int, float, bool)) or parsed is None else value


def nest_options(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted keys as nested mappings: ``{"client_kwargs.region_name": "x"}`` -> nested dict."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise ConfigError(f"storage option '{key}' conflicts with '{p}'")
        node[parts[-1]] = value
    return out


def _fsspec_filesystem(scheme: str, options: dict[str, Any]) -> Any:
    """The fsspec filesystem of a remote scheme, or a one-line ConfigError naming the extra."""
    if scheme in EXTRAS:
        module, extra = EXTRAS[scheme]
        try:
            __import__(module)
        except ImportError:
            raise ConfigError(f"{scheme}:// needs {module}: pip install 'curate[{extra}]'") from None
    import fsspec

    kwargs = nest_options(options)
    if scheme == "s3":
        if "endpoint_url" not in kwargs and os.environ.get(ENDPOINT_ENV):
            kwargs["endpoint_url"] = os.environ[ENDPOINT_ENV]
        kwargs.setdefault("default_block_size", BLOCK_BYTES)
    if scheme in ("s3", "gs"):
        # other processes (workers) write the store: a cached listing would hide their files
        kwargs.setdefault("use_listings_cache", False)
    if scheme == "memory":
        kwargs = {}
    try:
        return fsspec.filesystem(scheme, **kwargs)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad storage options for {scheme}://: {exc}") from None


@dataclass
class Storage:
    """Opens locations with this run's storage options; picklable (workers get it with their work).

    `scratch` is the local directory for files a tool needs on local disk (DuckDB, CSV and WARC
    readers); None means the system temp directory of whichever node runs the step.
    """

    options: dict[str, Any] = field(default_factory=dict)
    scratch: str | None = None
    _files: dict[str, Files] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {"options": self.options, "scratch": self.scratch, "_files": {}}

    def files(self, scheme: str) -> Files:
        """The whole-file operations of `scheme`'s filesystem (pyarrow's, wrapping fsspec's for
        remote schemes), made once per process."""
        if scheme not in self._files:
            if scheme == LOCAL:
                self._files[scheme] = Files(pafs.LocalFileSystem(), is_local=True)
            else:
                raw = _fsspec_filesystem(scheme, self.options)
                self._files[scheme] = Files(pafs.PyFileSystem(pafs.FSSpecHandler(raw)), is_local=False, raw=raw)
        return self._files[scheme]

    def arrow_fs(self, loc: Location) -> pafs.FileSystem:
        return self.files(loc.scheme).fs

    def check(self, *locations: str | os.PathLike | None) -> None:
        """Parse every location and load its filesystem now: a bad URI or a missing extra is one
        line before any work."""
        for text in locations:
            if text is not None:
                self.files(parse(text).scheme)

    def scratch_dir(self, *parts: str) -> Path:
        base = Path(self.scratch) if self.scratch else Path(tempfile.gettempdir())
        return base.joinpath(*parts)

    # ---- reading -------------------------------------------------------------------------
    def info(self, loc: Location) -> pafs.FileInfo:
        return self.arrow_fs(loc).get_file_info(loc.path)

    def open_input_file(self, loc: Location) -> pa.NativeFile:
        """A random-access file (Parquet reads fetch only the byte ranges they need)."""
        return self.arrow_fs(loc).open_input_file(loc.path)

    def open_input_stream(self, loc: Location) -> pa.NativeFile:
        """The file's bytes as they are stored (pyarrow would decompress ``.gz`` by default)."""
        return self.arrow_fs(loc).open_input_stream(loc.path, compression=None)

    def read_bytes(self, text: str | os.PathLike) -> bytes:
        loc = parse(text)
        return self.files(loc.scheme).read_bytes(loc.path)

    def read_text(self, text: str | os.PathLike) -> str:
        return self.read_bytes(text).decode("utf-8")

    def exists(self, text: str | os.PathLike) -> bool:
        loc = parse(text)
        return self.files(loc.scheme).exists(loc.path)

    def local_file(self, text: str | os.PathLike) -> Path:
        """A real local file with the content of `text`: the file itself on the local disk, else a
        copy in the scratch directory (one per location, size and modification time)."""
        loc = parse(text)
        if loc.is_local:
            return Path(loc.path)
        info = self.info(loc)
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(f"{loc.uri} does not exist")
        tag = uuid.uuid5(uuid.NAMESPACE_URL, f"{loc.uri}\0{info.size}\0{info.mtime_ns}").hex[:16]
        dest = self.scratch_dir("curate-inputs", tag, loc.path.rsplit("/", 1)[-1])
        return self.files(loc.scheme).local_copy(loc.path, dest)

    def content_tag(self, loc: Location) -> str | None:
        """The store's own tag of an object's content with its size (S3 ETag, GCS md5Hash/crc32c,
        the Hub's blob id), or None where the store keeps none (memory://, local files)."""
        if loc.is_local:
            return None
        info = self.files(loc.scheme).raw.info(loc.path)
        for key in CONTENT_TAGS:
            if info.get(key):
                return f"{key}:{str(info[key]).strip(chr(34))}:{info.get('size')}"
        return None

    def walk(self, loc: Location) -> Iterator[tuple[str, int]]:
        """(path relative to `loc`, size) of every file under a directory or remote prefix, in no set order."""
        fs = self.arrow_fs(loc)
        base = loc.path.rstrip("/")
        for info in fs.get_file_info(pafs.FileSelector(base, recursive=True)):
            if info.type == pafs.FileType.File:
                yield info.path[len(base):].lstrip("/"), info.size

    # ---- files stages read (models, tokenizers, plans, word lists, benchmark sets) -------------
    def file_exists(self, path: str | os.PathLike) -> bool:
        """Whether a stage file exists (a local file, or an object at a URI)."""
        loc = parse(path)
        if loc.is_local:
            return Path(loc.path).is_file()
        try:
            return self.info(loc).type == pafs.FileType.File
        except OSError:
            return False

    def stage_file(self, path: str | os.PathLike, what: str = "file") -> Path:
        """A local file with the content of a stage file: the path itself, or a copy of a URI in
        the scratch directory of this node (made once per object version); a missing one is a
        ConfigError naming it."""
        try:
            return self.local_file(path)
        except FileNotFoundError:
            raise ConfigError(f"{what} not found: {path}") from None

    def stage_tree(self, path: str | os.PathLike, what: str = "file") -> list[tuple[str, str]]:
        """The files of a stage input that may be one file or a directory (a benchmark set, a UT1
        block-list folder), listed without copying anything: ``[("", path)]`` for a file, else
        (path relative to the directory with ``/`` separators, location) of every file under it,
        recursively, sorted by relative path. A directory is a local one or a prefix at a URI
        (listed through the store); the locations are local paths as given or URIs, so a
        fingerprint names them as the user did, and :meth:`stage_file` makes a local copy of
        whichever is read."""
        loc = parse(path)
        if loc.is_local:
            raw = os.fspath(path)
            root = Path(loc.path if "://" in raw else raw)  # file:// URIs; other paths as given
            if root.is_file():
                return [("", str(root))]
            if root.is_dir():
                return sorted((p.relative_to(root).as_posix(), str(p)) for p in root.rglob("*") if p.is_file())
        else:
            kind = self.info(loc).type
            if kind == pafs.FileType.File:
                return [("", loc.uri)]
            if kind == pafs.FileType.Directory:
                return sorted((rel, loc.child(rel).uri) for rel, _ in self.walk(loc))
        raise ConfigError(f"{what}: no such file or directory: {path}")


def content_key(storage: Storage, text: str) -> tuple[str, int, int]:
    """(uri, size, mtime) of a location, the key under which its content hash is cached."""
    loc = parse(text)
    info = storage.info(loc)
    if info.type != pafs.FileType.File:
        raise FileNotFoundError(f"{loc.uri} does not exist")
    return loc.uri, info.size or 0, info.mtime_ns or 0


def with_suffix(path: str | os.PathLike, suffix: str) -> str:
    """`path` (local or a URI) with its last suffix replaced, as Path.with_suffix does."""
    text = os.fspath(path)
    head, sep, name = text.rpartition("/")
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return f"{head}{sep}{stem}{suffix}"
