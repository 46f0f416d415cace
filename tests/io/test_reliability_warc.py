"""Damaged WARC and WET files (issue 35, finding 4): a truncated or lying record is a row error
naming the file and the record's byte offset, through the reader's usual error path, and never a
silently shortened or glued document. Files are written by warcio and then damaged byte-wise."""

from __future__ import annotations

import gzip
import re
import zlib
from pathlib import Path

import pytest

from curate.io import warc
from tests.hostile import run

pytest.importorskip("warcio")
pytest.importorskip("resiliparse")
from tests.warc_pages import write_warc, write_wet  # noqa: E402

TEXTS = {f"https://site.example/{i}": f"Extracted text of page {i}. A whole sentence ends here." for i in range(5)}


def _wet(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_wet(path, TEXTS)
    return path.read_bytes()


def _record_offsets(data: bytes) -> list[int]:
    """Byte offset of every record of a plain WARC file (the warcinfo record first)."""
    return [m.start() for m in re.finditer(rb"WARC/1\.[01]\r\n", data)]


def _member_offsets(data: bytes) -> list[int]:
    """Byte offset of every gzip member of a per-record gzip WARC file."""
    offsets, pos = [], 0
    while pos < len(data):
        offsets.append(pos)
        d = zlib.decompressobj(31)
        d.decompress(data[pos:])
        pos = len(data) - len(d.unused_data)
    return offsets


def _read(path: Path) -> tuple[dict[str, str], list[tuple[int, str, str]]]:
    """url -> text of the documents read, and the row errors (row, reason, message)."""
    errors: list[tuple[int, str, str]] = []
    texts = {}
    for table, _ in warc.batches(path, ["url", "text"], lambda *e: errors.append(e)):
        texts.update(zip(table.column("url").to_pylist(), table.column("text").to_pylist()))
    return texts, errors


def _with_length(data: bytes, url: str, delta: int) -> bytes:
    """`data` with the Content-Length of `url`'s record changed by `delta` (a lying header)."""
    at = data.index(f"WARC-Target-URI: {url}".encode())
    start = data.rindex(b"WARC/1.", 0, at)
    m = re.compile(rb"Content-Length: (\d+)").search(data, start)
    return data[:m.start(1)] + str(int(m.group(1)) + delta).encode() + data[m.end(1):]


# --------------------------------------------------------------------------- the reported faults
def test_truncated_plain_warc_is_an_error_not_a_half_sentence(tmp_path: Path) -> None:
    data = _wet(tmp_path / "in" / "crawl.warc")
    ids = _ids(tmp_path / "in" / "crawl.warc")
    cut = len(data) - 30  # inside the last record's block: the old reader kept "Extracted text of page 4. A w"
    (tmp_path / "in" / "crawl.warc").write_bytes(data[:cut])
    last = _record_offsets(data)[-1]
    block_start = data.index(b"\r\n\r\n", last) + 4
    texts, errors = _read(tmp_path / "in" / "crawl.warc")
    assert texts == {u: t for u, t in TEXTS.items() if not u.endswith("/4")}
    assert errors == [(4, "truncated_record", f"record at byte offset {last}: the file ends {cut - block_start} "
                       f"bytes into a block of Content-Length {len(TEXTS['https://site.example/4'])}")]

    failed = run(tmp_path, tmp_path / "in", "fail")
    assert failed.code == 2
    assert failed.error_line() == f"error: crawl.warc row 4: {errors[0][2]}"
    skipped = run(tmp_path, tmp_path / "in", "skip")
    assert skipped.code == 0, skipped.stderr
    assert [(e["file"], e["row"], e["reason"]) for e in skipped.errors] == [("crawl.warc", 4, "truncated_record")]
    assert f"byte offset {last}" in skipped.errors[0]["message"]
    assert sorted(skipped.kept_ids()) == sorted(ids[:4])


def _ids(path: Path) -> list[str]:
    """The document ids (WARC-Record-IDs) of a sound file, in order."""
    return [i for table, _ in warc.batches(path, ["id"], pytest.fail) for i in table.column("id").to_pylist()]


@pytest.mark.parametrize("cut_from_end", [30, 4, 1])
def test_truncated_warc_gz_reports_its_last_record(tmp_path: Path, cut_from_end: int) -> None:
    """Cut inside the deflate data (30), or only in the gzip trailer (4: CRC and size; 1): the old
    reader kept 4 of 5 records, or all 5 unchecked, with 0 errors."""
    path = tmp_path / "in" / "crawl.warc.gz"
    data = _wet(path)
    last = _member_offsets(data)[-1]
    path.write_bytes(data[:-cut_from_end])
    texts, errors = _read(path)
    assert texts == {u: t for u, t in TEXTS.items() if not u.endswith("/4")}
    assert [(row, reason) for row, reason, _ in errors] == [(4, "truncated_record")]
    assert errors[0][2].startswith(f"record at byte offset {last}: ")

    skipped = run(tmp_path, tmp_path / "in", "skip")
    assert skipped.code == 0, skipped.stderr
    assert [(e["file"], e["row"], e["reason"]) for e in skipped.errors] == [("crawl.warc.gz", 4, "truncated_record")]
    read = skipped.stats["stages"][0]
    assert (read["docs_in"], read["docs_out"], read["errored"]) == (5, 4, 1)


@pytest.mark.parametrize("name", ["crawl.warc", "crawl.warc.gz"])
@pytest.mark.parametrize("delta", [200, 7, -5])
def test_lying_content_length_is_an_error_and_its_neighbours_are_whole(tmp_path: Path, name: str,
                                                                       delta: int) -> None:
    """A Content-Length too large (the old reader glued the next records' pages under this URL and
    lost two) or too small: that record is the error, every other record is read whole."""
    path = tmp_path / "in" / name
    plain = _wet(tmp_path / "plain" / "crawl.warc")
    lying = _with_length(plain, "https://site.example/2", delta)
    if name.endswith(".gz"):  # recompress record by record, the lying header inside its member
        offsets = _record_offsets(lying) + [len(lying)]
        lying = b"".join(gzip.compress(lying[a:b]) for a, b in zip(offsets, offsets[1:]))
        where = _member_offsets(lying)[3]
    else:
        where = _record_offsets(lying)[3]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lying)
    texts, errors = _read(path)
    assert texts == {u: t for u, t in TEXTS.items() if not u.endswith("/2")}
    assert len(errors) == 1 and errors[0][0] == 2
    assert errors[0][2].startswith(f"record at byte offset {where}: ")
    assert errors[0][1] == ("truncated_record" if delta > 0 and name.endswith(".gz") else "damaged_record")

    failed = run(tmp_path, tmp_path / "in", "fail")
    assert failed.code == 2
    assert failed.error_line().startswith(f"error: {name} row 2: record at byte offset {where}: ")


def test_a_gzip_file_compressed_whole_is_refused_not_read_as_one_record(tmp_path: Path) -> None:
    plain = _wet(tmp_path / "plain" / "crawl.warc")
    path = tmp_path / "crawl.warc.gz"
    path.write_bytes(gzip.compress(plain))
    texts, errors = _read(path)
    assert texts == {}
    assert [(row, reason) for row, reason, _ in errors] == [(0, "damaged_record")]
    assert "more than one record" in errors[0][2] and "byte offset 0" in errors[0][2]


def test_garbage_between_records_is_one_error_and_reading_goes_on(tmp_path: Path) -> None:
    plain = _wet(tmp_path / "plain" / "crawl.warc")
    third = _record_offsets(plain)[3]
    path = tmp_path / "crawl.warc"
    path.write_bytes(plain[:third] + b"\x00garbage that is no record\r\n\r\n" + plain[third:])
    texts, errors = _read(path)
    assert texts == TEXTS
    assert [(row, reason) for row, reason, _ in errors] == [(2, "damaged_record")]
    assert f"byte offset {third}: no WARC record here" in errors[0][2]


# --------------------------------------------------------------------------- sound files stay sound
@pytest.mark.parametrize("name", ["crawl.warc", "crawl.warc.gz"])
def test_sound_files_read_whole_with_no_errors(tmp_path: Path, name: str) -> None:
    _wet(tmp_path / name)
    assert _read(tmp_path / name) == (TEXTS, [])
    truth = write_warc(tmp_path / f"pages-{name}", n_pages=6)
    texts, errors = _read(tmp_path / f"pages-{name}")
    assert errors == [] and set(truth) <= set(texts)


def test_blank_lines_between_records_are_not_damage(tmp_path: Path) -> None:
    plain = _wet(tmp_path / "plain" / "crawl.warc")
    offsets = _record_offsets(plain) + [len(plain)]
    path = tmp_path / "crawl.warc"
    path.write_bytes(b"\r\n".join(plain[a:b] for a, b in zip(offsets, offsets[1:])))
    assert _read(path) == (TEXTS, [])
