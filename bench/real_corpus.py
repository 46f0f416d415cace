"""Build a corpus of real text from what Debian packages install, in the three input formats.

Four kinds of document, each kind in the fixed order of :func:`spread`, the next document always
taken from the kind with the fewest bytes so far (so each gets about a quarter), until
``--target-bytes``:

- ``doc``: plain-text documentation under /usr/share/doc (copyright files, READMEs, NEWS,
  changelogs, .txt/.md/.rst; gzip-compressed files decompressed), one document per file;
- ``man``: English man pages (/usr/share/man/man*/) rendered to plain text by groff
  (``groff -k -t -mandoc -Tutf8 -P-cbou``, 78 columns, no hyphenation);
- ``html``: HTML pages under /usr/share/doc (e.g. the Python manual of ``python3.11-doc``), kept
  as HTML;
- ``source``: the Python standard library's ``.py`` files, the reStructuredText sources of the
  Python manual when ``python3.11-doc`` is installed, and Go's standard library when
  ``golang-1.19-src`` is.

Written under ``--out``: ``jsonl/part-NNNNN.jsonl.gz`` (doc and man), ``parquet/part-NNNNN.parquet``
(source) and ``warc/part-NNNNN.warc.gz`` (html, WARC/1.0 ``response`` records with an HTTP 200
header, ``WARC-Target-URI: https://debian-doc.invalid/usr/share/doc/...``), each row or record with ``id``,
``text``, ``kind``, ``path`` and ``package`` (the Debian package that installed the file), and
``_MANIFEST.json``: documents and bytes per kind, every package the corpus draws on with its
version, the packages this script installed, and the corpus sha256.

Deterministic: files are walked in sorted order, then put in a fixed pseudo-random order (the
SHA-1 of each path), symlinks skipped, gzip and WARC timestamps fixed
(gzip mtime 0, WARC-Date = the file's mtime, record ids are UUID-5 of the path), so the same
installed packages give byte-identical files and the same sha256. The sha256 is over the
documents in output order (kind, id and text or HTML bytes of each), so it does not depend on
compression or Parquet library versions. When ``--out`` already holds a _MANIFEST.json with
another sha256, the change is printed (installed packages were upgraded or added): it is a
report, not a failure. Bytes counted toward the target are UTF-8 text bytes (HTML bytes for
``html``).

``--install`` lets the script ``apt-get install`` documentation packages (DOC_PACKAGES, in that
order) until the files on disk are estimated to hold 1.5x the target; the machine needs Debian's
package registry (run ``apt-get update`` first) and root. Without it, the corpus is what is
installed already, and a target larger than that is reported and capped.

Time on the development machine (2 cores, shared): about 2 minutes for 10^8 bytes (man
rendering dominates: ~10 ms of groff per page); ``--target-bytes 1e9 --install`` installs
python3.11-doc, perl-doc, postgresql-doc-15, git-doc, golang-1.19-src, openjdk-17-doc and
rust-doc (about 1.1 GB on disk, a few minutes of download) and takes roughly 15-25 minutes
end to end with ``--workers 2``, most of it rendering the ~20,000 man pages and gzip-writing
the output.

    python bench/real_corpus.py --out bench/.cache/real-corpus --target-bytes 2e7
    python bench/real_corpus.py --out /data/real-1g --target-bytes 1e9 --install
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

KINDS = ("doc", "man", "html", "source")
FORMAT_OF = {"doc": "jsonl", "man": "jsonl", "html": "warc", "source": "parquet"}

DOC_ROOT = Path("/usr/share/doc")
MAN_ROOT = Path("/usr/share/man")
# Standard libraries whose sources are real code: Python's (always there on Debian) and Go's
# (golang-1.19-src). Third-party packages (site-packages, dist-packages) are left out.
SOURCE_ROOTS = ((Path(f"/usr/lib/python{sys.version_info.major}.{sys.version_info.minor}"), ".py"),
                (Path("/usr/share/go-1.19/src"), ".go"))
SKIP_SOURCE_DIRS = {"site-packages", "dist-packages", "__pycache__"}

# Documentation packages to install, in order, when --install is given and the target needs more.
DOC_PACKAGES = ("python3.11-doc", "perl-doc", "postgresql-doc-15", "git-doc", "debian-reference-en",
                "sqlite3-doc", "golang-1.19-src", "openjdk-17-doc", "rust-doc", "debian-handbook")

# Suffixes of files under /usr/share/doc that are not text (images, archives, fonts, objects).
BINARY_SUFFIXES = {".png", ".gif", ".jpg", ".jpeg", ".svg", ".ico", ".pdf", ".ps", ".eps", ".dvi",
                   ".zip", ".bz2", ".xz", ".tar", ".tgz", ".woff", ".woff2", ".ttf", ".otf", ".eot",
                   ".so", ".o", ".a", ".pyc", ".mo", ".db", ".bin", ".jar", ".class", ".wasm", ".js",
                   ".css", ".map", ".inv", ".pickle", ".doctree", ".json"}
HTML_SUFFIXES = (".html", ".htm")
# WARC-Target-URI of a page: this host (RFC 2606's reserved .invalid: it never resolves) plus the
# file's path. warcio parses HTTP headers only for http(s) URIs, so file:// would lose them.
WARC_URI_BASE = "https://debian-doc.invalid"
MIN_CHARS = 64  # shorter files (one-line stubs, "see /usr/share/common-licenses") are skipped
SHARD_BYTES = 64_000_000
MAN_CHUNK = 64  # man pages rendered per batch of the thread pool


@dataclass
class Document:
    kind: str
    path: str
    text: str | None = None  # doc, man, source
    html: bytes | None = None  # html
    mtime: float = 0.0

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.path}"

    def size(self) -> int:
        return len(self.html) if self.html is not None else len(self.text.encode("utf-8"))


@dataclass
class Manifest:
    target_bytes: int
    docs: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    bytes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    packages: dict[str, str] = field(default_factory=dict)
    installed_now: list[str] = field(default_factory=list)
    sha256: str = ""
    files: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- finding files


def _walk(root: Path, skip_dirs: Iterable[str] = ()) -> Iterator[Path]:
    """Regular files under `root` in sorted order, symlinks (files and directories) skipped."""
    skip = set(skip_dirs)
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in skip and not os.path.islink(os.path.join(dirpath, d)))
        for name in sorted(filenames):
            path = Path(dirpath, name)
            if not path.is_symlink() and path.is_file():
                yield path


def _is_rst_source(path: Path) -> bool:
    return "/_sources/" in str(path) and path.name.endswith((".rst.txt", ".txt"))


def spread(paths: Iterable[Path]) -> list[Path]:
    """A fixed order that mixes packages: sorted by the SHA-1 of the path (so a small target
    samples across all of them, and adding a package only inserts its own files)."""
    return sorted(paths, key=lambda p: hashlib.sha1(str(p).encode()).hexdigest())


def candidates(kind: str) -> list[Path]:
    """Files of one kind, in the fixed order of :func:`spread`."""
    return spread(_candidates(kind))


def _candidates(kind: str) -> list[Path]:
    if kind == "doc":
        return [p for p in _walk(DOC_ROOT) if not p.name.endswith(HTML_SUFFIXES) and not _is_rst_source(p)
                and _plain_suffix(p) not in BINARY_SUFFIXES]
    if kind == "man":
        return [p for d in sorted(MAN_ROOT.glob("man[0-9]*")) for p in _walk(d)]
    if kind == "html":
        return [p for p in _walk(DOC_ROOT) if p.name.endswith(HTML_SUFFIXES)]
    if kind == "source":
        rst = [p for p in _walk(DOC_ROOT) if _is_rst_source(p)]
        code = [p for root, suffix in SOURCE_ROOTS for p in _walk(root, SKIP_SOURCE_DIRS) if p.name.endswith(suffix)]
        return rst + code
    raise ValueError(f"unknown kind {kind!r}")


def _plain_suffix(path: Path) -> str:
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    return os.path.splitext(name)[1].lower()


def estimated_bytes(paths: Iterable[Path]) -> int:
    """Rough text bytes of files: gzip files count 4x their size (typical ratio for text)."""
    return sum(p.stat().st_size * (4 if p.name.endswith(".gz") else 1) for p in paths)


# --------------------------------------------------------------------------- reading files


def _raw(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if path.name.endswith(".gz") else data


def _decode_text(data: bytes) -> str | None:
    """UTF-8 text without NUL bytes, or None (binary or another encoding)."""
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_text(kind: str, path: Path) -> Document | None:
    """A doc or source file as a Document, or None when it is binary, not UTF-8 or too short."""
    try:
        text = _decode_text(_raw(path))
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if text is None or len(text.strip()) < MIN_CHARS:
        return None
    return Document(kind, str(path), text=text, mtime=path.stat().st_mtime)


def read_html(path: Path) -> Document | None:
    data = path.read_bytes()
    if len(data) < MIN_CHARS or b"\x00" in data:
        return None
    return Document("html", str(path), html=data, mtime=path.stat().st_mtime)


GROFF = ["groff", "-k", "-t", "-mandoc", "-Tutf8", "-P-cbou", "-rLL=78n", "-rLT=78n", "-rHY=0"]


def render_man(path: Path) -> Document | None:
    """A man page rendered to plain text by groff, or None (a `.so` redirect, or groff failed)."""
    try:
        source = _raw(path)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    if source.lstrip().startswith(b".so ") and source.count(b"\n") <= 2:
        return None
    env = {**os.environ, "LC_ALL": "C.UTF-8", "MANWIDTH": "78"}
    try:
        done = subprocess.run(GROFF, input=source, capture_output=True, env=env, timeout=60, check=False)
    except subprocess.TimeoutExpired:
        return None
    text = _decode_text(done.stdout)
    if done.returncode != 0 or text is None or len(text.strip()) < MIN_CHARS:
        return None
    return Document("man", str(path), text=text, mtime=path.stat().st_mtime)


def documents(kind: str, paths: list[Path], workers: int) -> Iterator[Document]:
    """The readable documents of `paths`, in order (man pages rendered `workers` at a time)."""
    if kind == "man":
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            for i in range(0, len(paths), MAN_CHUNK):
                for doc in pool.map(render_man, paths[i : i + MAN_CHUNK]):
                    if doc is not None:
                        yield doc
        return
    for path in paths:
        doc = read_html(path) if kind == "html" else read_text(kind, path)
        if doc is not None:
            yield doc


def balanced(streams: dict[str, Iterator[Document]], target: int) -> Iterator[Document]:
    """Documents until `target` bytes, each next one from the kind with the fewest bytes so far
    (ties in KINDS order), so every kind gets about the same share; a kind that runs out drops out."""
    sizes = {k: 0 for k in KINDS if k in streams}
    while sizes and sum(sizes.values()) < target:
        kind = min(sizes, key=lambda k: (sizes[k], KINDS.index(k)))
        doc = next(streams[kind], None)
        if doc is None:
            del sizes[kind]
            continue
        sizes[kind] += doc.size()
        yield doc


# --------------------------------------------------------------------------- packages


def package_owners() -> dict[str, str]:
    """Path -> Debian package that installed it (dpkg's file lists)."""
    owners: dict[str, str] = {}
    for lst in sorted(Path("/var/lib/dpkg/info").glob("*.list")):
        pkg = lst.name[: -len(".list")].split(":")[0]
        for line in lst.read_text(errors="replace").splitlines():
            owners.setdefault(line, pkg)
    return owners


def package_versions() -> dict[str, str]:
    out = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Status}\n"],
                         capture_output=True, text=True, check=True).stdout
    return {p: v for p, v, status in (line.split(" ", 2) for line in out.splitlines()) if status == "installed"}


def install_until(target: int) -> list[str]:
    """apt-get install DOC_PACKAGES in order until the files on disk hold ~1.5x `target`."""
    installed = package_versions()
    done: list[str] = []
    for pkg in DOC_PACKAGES:
        have = sum(estimated_bytes(candidates(k)) for k in KINDS)
        if have >= 1.5 * target:
            break
        if pkg in installed:
            continue
        print(f"installing {pkg} ({have / 1e6:.0f} MB available, target {target / 1e6:.0f} MB)", file=sys.stderr)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", pkg], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdout=subprocess.DEVNULL)
        done.append(pkg)
    return done


# --------------------------------------------------------------------------- writers


class ShardWriter:
    """Writes one format's documents into part-NNNNN files of about SHARD_BYTES each."""

    def __init__(self, out: Path, fmt: str, shard_bytes: int):
        self.dir = out / fmt
        self.dir.mkdir(parents=True, exist_ok=True)
        self.fmt = fmt
        self.shard_bytes = shard_bytes
        self.rows: list[tuple[Document, str]] = []
        self.pending = 0
        self.index = 0
        self.written: list[Path] = []

    def add(self, doc: Document, package: str) -> None:
        self.rows.append((doc, package))
        self.pending += doc.size()
        if self.pending >= self.shard_bytes:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        suffix = {"jsonl": "jsonl.gz", "parquet": "parquet", "warc": "warc.gz"}[self.fmt]
        path = self.dir / f"part-{self.index:05d}.{suffix}"
        getattr(self, f"_write_{self.fmt}")(path)
        self.written.append(path)
        self.index += 1
        self.rows, self.pending = [], 0

    def _write_jsonl(self, path: Path) -> None:
        with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
            for doc, package in self.rows:
                row = {"id": doc.id, "text": doc.text, "kind": doc.kind, "path": doc.path, "package": package}
                gz.write(json.dumps(row, ensure_ascii=False).encode("utf-8") + b"\n")

    def _write_parquet(self, path: Path) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        cols = {"id": [d.id for d, _ in self.rows], "text": [d.text for d, _ in self.rows],
                "kind": [d.kind for d, _ in self.rows], "path": [d.path for d, _ in self.rows],
                "package": [p for _, p in self.rows]}
        pq.write_table(pa.table(cols), path, compression="zstd")

    def _write_warc(self, path: Path) -> None:
        from warcio.statusandheaders import StatusAndHeaders
        from warcio.warcwriter import WARCWriter

        with open(path, "wb") as fh:
            writer = WARCWriter(fh, gzip=True)
            for doc, package in self.rows:
                uri = f"{WARC_URI_BASE}{doc.path}"
                date = dt.datetime.fromtimestamp(int(doc.mtime), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"),
                                                   ("Content-Length", str(len(doc.html)))], protocol="HTTP/1.1")
                record = writer.create_warc_record(
                    uri, "response", payload=io.BytesIO(doc.html), http_headers=http,
                    warc_headers_dict={"WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, uri)}>",
                                       "WARC-Date": date, "WARC-Package": package})
                writer.write_record(record)


# --------------------------------------------------------------------------- build


def build(out: Path, target: int, workers: int = 2, install: bool = False, shard_bytes: int = SHARD_BYTES,
          kinds: Iterable[str] = KINDS) -> Manifest:
    """Build the corpus under `out` (replacing earlier part files) and return its manifest."""
    manifest = Manifest(target_bytes=target)
    if install:
        manifest.installed_now = install_until(target)
    kinds = [k for k in KINDS if k in set(kinds)]
    paths = {k: candidates(k) for k in kinds}
    available = sum(estimated_bytes(p) for p in paths.values())
    if available < target:
        print(f"note: about {available / 1e6:.0f} MB of text is installed, short of the "
              f"{target / 1e6:.0f} MB target; pass --install to add documentation packages", file=sys.stderr)
    for fmt in set(FORMAT_OF.values()):
        for old in (out / fmt).glob("part-*"):
            old.unlink()
    owners = package_owners()
    versions = package_versions()
    writers = {fmt: ShardWriter(out, fmt, shard_bytes) for fmt in sorted({FORMAT_OF[k] for k in kinds})}
    digest = hashlib.sha256()
    streams = {k: documents(k, paths[k], workers) for k in kinds}
    for doc in balanced(streams, target):
        package = owners.get(doc.path, "")
        if package:
            manifest.packages[package] = versions.get(package, "")
        writers[FORMAT_OF[doc.kind]].add(doc, package)
        manifest.docs[doc.kind] += 1
        manifest.bytes[doc.kind] += doc.size()
        body = doc.html if doc.html is not None else doc.text.encode("utf-8")
        digest.update(f"{doc.kind}\x1f{doc.id}\x1f".encode() + body + b"\x1e")
    for w in writers.values():
        w.flush()
    manifest.sha256 = digest.hexdigest()
    manifest.packages = dict(sorted(manifest.packages.items()))
    manifest.files = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
                      for w in writers.values() for p in w.written}
    return manifest


def write_manifest(out: Path, manifest: Manifest) -> str | None:
    """Write _MANIFEST.json; return the earlier sha256 when it differs from this build's."""
    path = out / "_MANIFEST.json"
    previous = None
    if path.exists():
        old = json.loads(path.read_text()).get("sha256")
        previous = old if old != manifest.sha256 else None
    body = {"target_bytes": manifest.target_bytes, "sha256": manifest.sha256, "docs": manifest.docs,
            "bytes": manifest.bytes, "installed_by_this_run": manifest.installed_now,
            "packages": manifest.packages, "files": manifest.files}
    path.write_text(json.dumps(body, indent=1) + "\n")
    return previous


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / ".cache" / "real-corpus")
    parser.add_argument("--target-bytes", type=float, default=2e7, help="stop after this many bytes of text (1e9 ok)")
    parser.add_argument("--workers", type=int, default=2, help="groff processes rendering man pages at once")
    parser.add_argument("--install", action="store_true", help="apt-get install documentation packages as needed")
    parser.add_argument("--shard-bytes", type=float, default=SHARD_BYTES)
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        print(f"error: --kinds: unknown kind(s) {', '.join(unknown)} (known: {', '.join(KINDS)})", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = build(args.out, int(args.target_bytes), args.workers, args.install, int(args.shard_bytes), kinds)
    previous = write_manifest(args.out, manifest)
    total = sum(manifest.bytes.values())
    print(f"{sum(manifest.docs.values()):,} documents, {total / 1e6:.1f} MB: "
          + ", ".join(f"{k} {manifest.docs[k]:,}" for k in KINDS) + f"; {len(manifest.packages)} packages")
    print(f"corpus sha256 {manifest.sha256}")
    if previous:
        print(f"note: the corpus sha256 changed (was {previous}): the installed packages (or this script) changed since the last build")
    return 0


if __name__ == "__main__":
    sys.exit(main())
