"""The WARC reader's cost of checking every record's framing (issue 35): curate's reader
(curate.io.warc, records cut by curate.io.warc_records) against warcio's ArchiveIterator reading
the same files unchecked (what curate did before: same document rows, no Content-Length, record
end or gzip member checks). CPU and wall seconds on one core, best of 3, for a Common Crawl-like
WET file (gzip per record and plain) and a WARC of HTML pages (text extraction included).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, scale_arg  # noqa: E402

sys.path.insert(0, str(ROOT))
from curate.io import warc  # noqa: E402
from tests.warc_pages import write_warc, write_wet  # noqa: E402


def unchecked(path: Path) -> int:
    """The peer: warcio's iterator over the file, one row per document record, no framing checks."""
    from warcio.archiveiterator import ArchiveIterator

    with open(path, "rb") as fh:
        return sum(1 for r in ArchiveIterator(fh) if r.rec_type in warc.DOCUMENT_RECORDS and warc._document(r))


def checked(path: Path) -> int:
    def refuse(row: int, reason: str, message: str) -> None:
        raise AssertionError(f"row {row}: {message}")

    return sum(t.num_rows for t, _ in warc.batches(path, ["id", "text", "url"], refuse))


def best(fn, path: Path) -> tuple[float, float, int]:
    runs = []
    for _ in range(3):
        c0, w0 = time.process_time(), time.perf_counter()
        n = fn(path)
        runs.append((time.process_time() - c0, time.perf_counter() - w0, n))
    return min(runs)


def main() -> None:
    n_wet, n_pages = (20_000, 600) if scale_arg() == "small" else (100_000, 3000)
    texts = {f"https://site.example/{i}": "Some extracted text of a page. " * 60 + str(i) for i in range(n_wet)}
    with tempfile.TemporaryDirectory() as tmp:
        files = {"WET, gzip per record": Path(tmp) / "a.warc.wet.gz", "WET, plain": Path(tmp) / "a.wet",
                 "WARC of HTML pages, gzip": Path(tmp) / "b.warc.gz"}
        write_wet(files["WET, gzip per record"], texts)
        write_wet(files["WET, plain"], texts)
        write_warc(files["WARC of HTML pages, gzip"], n_pages)
        print("| file | records | MB | warcio unchecked: CPU s (wall) | curate checked: CPU s (wall) | CPU ratio |")
        print("|---|---|---|---|---|---|")
        for label, path in files.items():
            c0, w0, n0 = best(unchecked, path)
            c1, w1, n1 = best(checked, path)
            assert n0 == n1, (n0, n1)
            print(f"| {label} | {n1:,} | {path.stat().st_size / 1e6:.1f} | {c0:.2f} ({w0:.2f}) | {c1:.2f} ({w1:.2f}) "
                  f"| {c1 / c0:.2f} |")


if __name__ == "__main__":
    main()
