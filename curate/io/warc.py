"""Common Crawl WARC and WET files through ``warcio``, HTML turned into text by ``resiliparse``.

One document per ``response`` record (WARC) or ``conversion`` record (WET, text already
extracted by Common Crawl); the other record types (``request``, ``metadata``, ``warcinfo``,
``revisit``, ``resource``) describe a crawl, not documents, and are passed over. Columns: ``id`` (the WARC-Record-ID),
``text``, ``url`` (WARC-Target-URI), ``date`` (WARC-Date, ISO 8601 as written), ``content_type``
(the HTTP Content-Type of a response, the WARC one of a conversion record) and ``http_status``.
A response that is not HTTP 200, or whose content is not HTML, has no text and is rejected with
``warc:http_status`` / ``warc:not_html`` (counted like any rejection, never silently dropped).
Records are cut from the file by :mod:`curate.io.warc_records`, which checks each against its
Content-Length and gzip member: a truncated or lying record is a row error naming its byte offset
(``truncated_record`` / ``damaged_record``), the records around it read whole.

HTML extraction is resiliparse's ``extract_plain_text`` with ``main_content=True`` (its
boilerplate removal: navigation, footers, cookie banners), comment sections left out (as
trafilatura does for FineWeb), formatting preserved (one line per block, so line-based rules such
as C4's and FineWeb's see lines), alt texts, links, form fields and noscript content left out. The page's encoding comes from its Content-Type charset,
else resiliparse's detector. Why resiliparse and not trafilatura: ``bench/html_extract.py``
measures both on the same pages (BENCHMARKS.md).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from curate import schema
from curate.io import warc_records
from curate.io.conform import RowError

REASON_HTTP_STATUS = "warc:http_status"
REASON_NOT_HTML = "warc:not_html"
REASON_NO_TEXT = "warc:unparseable_html"
HTML_TYPES = ("text/html", "application/xhtml+xml")
DOCUMENT_RECORDS = ("response", "conversion")
BATCH_RECORDS = 1000

SCHEMA = pa.schema([("id", pa.string()), ("text", pa.string()), ("url", pa.string()), ("date", pa.string()),
                    ("content_type", pa.string()), ("http_status", pa.int32()), (schema.READ_REASON, pa.string())])


def file_schema(path: Path) -> pa.Schema:
    """The same columns for every WARC/WET file."""
    return SCHEMA


def html_to_text(body: bytes, content_type: str | None) -> str:
    """Main-content plain text of an HTML page (see the module docstring)."""
    from resiliparse.extract.html2text import extract_plain_text
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding
    from resiliparse.parse.html import HTMLTree

    charset = _charset(content_type) or detect_encoding(body)
    tree = HTMLTree.parse(bytes_to_str(body, charset))
    return extract_plain_text(tree, preserve_formatting=True, main_content=True, comments=False, alt_texts=False,
                              links=False, form_fields=False, noscript=False)


def _charset(content_type: str | None) -> str | None:
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def _document(record) -> dict:
    """One document row from a response or conversion record."""
    headers = record.rec_headers
    row = {"id": headers.get_header("WARC-Record-ID"), "url": headers.get_header("WARC-Target-URI"),
           "date": headers.get_header("WARC-Date"), "text": None, "http_status": None, schema.READ_REASON: None}
    if record.rec_type == "conversion":  # WET: Common Crawl's extracted text
        row["content_type"] = headers.get_header("Content-Type")
        row["text"] = record.content_stream().read().decode("utf-8", errors="replace")
        return row
    content_type = record.http_headers.get_header("Content-Type") if record.http_headers else None
    status = record.http_headers.get_statuscode() if record.http_headers else None
    row["content_type"] = content_type
    row["http_status"] = int(status) if status and str(status).isdigit() else None
    if row["http_status"] != 200:
        row[schema.READ_REASON] = REASON_HTTP_STATUS
    elif _media_type(content_type) not in HTML_TYPES:
        row[schema.READ_REASON] = REASON_NOT_HTML
    else:
        text = html_to_text(record.content_stream().read(), content_type)
        row["text"] = text
        if not text.strip():
            row[schema.READ_REASON] = REASON_NO_TEXT
    return row


def batches(path: Path, names: list[str], on_row_error: RowError) -> Iterator[tuple[pa.Table, np.ndarray]]:
    """(table of the `names` columns, row number of each document) per batch of records, plain
    and per-record gzip files alike. Rows are numbered over document records and damaged records
    in file order; a damaged record (:mod:`curate.io.warc_records`) is passed to
    `on_row_error(row, reason, message)` with its byte offset, as JSON Lines passes a bad line."""
    from warcio.exceptions import ArchiveLoadFailed
    from warcio.recordloader import ArcWarcRecordLoader
    from warcio.statusandheaders import StatusAndHeadersParserException

    wanted = pa.schema([f for f in SCHEMA if f.name in names])
    loader = ArcWarcRecordLoader(verify_http=False)
    rows: list[dict] = []
    numbers: list[int] = []
    row = 0
    for found in warc_records.records(path, lambda rec_type: rec_type in DOCUMENT_RECORDS):
        if isinstance(found, warc_records.Record) and found.raw is None:
            continue
        if isinstance(found, warc_records.Record):
            try:
                rows.append(_document(loader.parse_record_stream(io.BytesIO(found.raw), known_format="warc")))
                numbers.append(row)
            except (StatusAndHeadersParserException, ArchiveLoadFailed, ValueError, EOFError) as exc:
                on_row_error(row, warc_records.DAMAGED, f"record at byte offset {found.offset}: unparseable ({exc})")
        else:
            on_row_error(row, found.reason, f"record at byte offset {found.offset}: {found.message}")
        row += 1
        if len(rows) >= BATCH_RECORDS:
            yield pa.Table.from_pylist(rows, schema=wanted), np.array(numbers, dtype=np.int64)
            rows, numbers = [], []
    if rows:
        yield pa.Table.from_pylist(rows, schema=wanted), np.array(numbers, dtype=np.int64)
