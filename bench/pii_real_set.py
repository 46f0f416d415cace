"""Make the labelled PII set of real text, bench/data/pii_real.jsonl (committed; rerun to regenerate).

Every record is one line or short passage of real text that a Debian machine installs (licence
notices, copyright files, changelogs, the Python manual's reStructuredText, the standard
library's sources, dpkg's log), labelled by a rule about **the structure of its source**, never
by curate's detectors:

- negatives (``label: negative``; ``type`` is the type the text resembles): the FSF's postal
  address in licence notices (a ZIP code is no phone number), FAR/DFARS clause numbers in
  licence texts, numbered section headings (``3.3.2.1. Title``) and other lines opening with a dotted number, Debian changelog headers
  (package versions), reStructuredText literal-block markers after a number (``print 42::``)
  and version directives, Python source lines with long or dotted numbers, dpkg log lines
  (timestamps and versions);
- real positives: the address in a Debian changelog trailer (`` -- Name <addr>  date``, Debian
  Policy 4.4) and in a copyright file's ``Name <addr>`` (RFC 5322 name-addr), when the domain
  is not one RFC 2606 reserves for examples;
- placed positives: a value of each type (from bench/pii_eval_set.py's generators: valid phone
  numbers per libphonenumber, Luhn-valid card numbers with issuer prefixes, mod-97-valid IBANs,
  public IPs, e-mail addresses) put into a real line in a slot its structure offers
  (``Contact: <addr>`` after a licence notice, ``from <ip>`` after a log line, ...).

A record: ``id``, ``rule`` (the structural rule that gave its label), ``source`` (the file),
``type``, ``label`` (positive or negative), ``value``, ``text`` and ``expected`` (the text after
``pii`` in replace mode: the value replaced by its placeholder; unchanged for a negative), the
schema of bench/pii_eval_set.py, so its ``score`` applies. Candidates of each rule are taken in
sorted file order, deduplicated, and sampled with a fixed seed.

    python bench/pii_real_set.py            # writes bench/data/pii_real.jsonl
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
OUT = ROOT / "bench" / "data" / "pii_real.jsonl"

from pii_eval_set import POSITIVE  # noqa: E402

from curate.text.pii import DEFAULT_PLACEHOLDERS  # noqa: E402

PER_RULE = 60  # records sampled per rule (fewer when the machine has fewer)
SEED = 30

LICENCES = Path("/usr/share/common-licenses")
DOCS = Path("/usr/share/doc")
PY_RST = Path("/usr/share/doc/python3.11/html/_sources")
STDLIB = Path(f"/usr/lib/python{sys.version_info.major}.{sys.version_info.minor}")
DPKG_LOG = Path("/var/log/dpkg.log")

# RFC 2606 / RFC 6761: names reserved for documentation and testing.
RESERVED_DOMAINS = re.compile(r"(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid|localhost|local)$", re.I)
NAME_ADDR = re.compile(r"<([A-Za-z0-9._%+\-]+@((?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,}))>")


# --------------------------------------------------------------------------- reading


def _files(root: Path, pattern: str = "*") -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob(pattern) if p.is_file() and not p.is_symlink())


def _text(path: Path) -> str | None:
    try:
        data = path.read_bytes()
        if path.name.endswith(".gz"):
            data = gzip.decompress(data)
        return data.decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile):
        return None


def _lines(paths: list[Path]) -> Iterator[tuple[Path, list[str]]]:
    for path in paths:
        text = _text(path)
        if text is not None:
            yield path, text.splitlines()


def _doc_texts() -> list[Path]:
    return [p for p in _files(DOCS) if not p.name.endswith((".html", ".htm", ".png", ".gif", ".jpg", ".svg"))]


# --------------------------------------------------------------------------- rules
# Each rule yields (source path, text, value): value is "" for a negative, else the one PII value
# in the text.


def fsf_address() -> Iterator[tuple[Path, str, str]]:
    """The FSF's postal address (Boston, MA + ZIP) in licence notices: two lines of the notice."""
    for path, lines in _lines(_files(LICENCES) + [p for p in _doc_texts() if p.name == "copyright"]):
        for i, line in enumerate(lines):
            if re.search(r"Boston,? +MA +\d{5}", line):
                yield path, "\n".join(lines[max(0, i - 1): i + 1]).strip(), ""


def far_clause() -> Iterator[tuple[Path, str, str]]:
    """FAR / DFARS clause numbers (48 CFR 52.227-x, 252.227-x) in licence texts."""
    for path, lines in _lines(_doc_texts() + _files(LICENCES)):
        for line in lines:
            if re.search(r"\b(?:252|52)\.227-\d{4}\b", line):
                yield path, line.strip(), ""


def numbered_heading() -> Iterator[tuple[Path, str, str]]:
    """Lines of documentation that start with a number of three or more dotted parts of one or
    two digits: numbered headings (``3.3.2.1. Title``) and versions opening a sentence
    (``1.9.0 and later.``)."""
    for path, lines in _lines(_doc_texts() + _files(PY_RST)):
        for line in lines:
            if re.match(r"^\s*\d{1,2}(?:\.\d{1,2}){2,}\.?\s+[A-Za-z]", line):
                yield path, line.strip(), ""


def changelog_header() -> Iterator[tuple[Path, str, str]]:
    """The first line of a Debian changelog (Debian Policy 4.4): package, version, distribution."""
    for path in [p for p in _files(DOCS, "changelog.Debian.gz")]:
        text = _text(path)
        if text and text.strip():
            yield path, text.splitlines()[0].strip(), ""


def rst_numbers() -> Iterator[tuple[Path, str, str]]:
    """reStructuredText lines with a number before a literal-block marker (``print 42::``) or a
    version directive (``.. versionadded:: 3.11``)."""
    for path, lines in _lines(_files(PY_RST)):
        for line in lines:
            if re.search(r"\d::\s*$", line) or re.match(r"\s*\.\. version(?:added|changed)::\s*\d", line):
                yield path, line.strip(), ""


def python_numbers() -> Iterator[tuple[Path, str, str]]:
    """Standard-library source lines with a run of 7+ digits or a number of three or more dotted
    parts (constants, versions, OIDs), and no IPv4 dotted quad (those are another rule's)."""
    for path, lines in _lines([p for p in _files(STDLIB, "*.py") if "site-packages" not in p.parts]):
        for line in lines:
            if re.search(r"\d{7,}|\b\d+(?:\.\d+){2,}\b", line) and not _dotted_quads(line):
                yield path, line.strip(), ""


def dpkg_log() -> Iterator[tuple[Path, str, str]]:
    """dpkg's log lines: a timestamp, an action, a package and its versions."""
    for path, lines in _lines([DPKG_LOG] if DPKG_LOG.is_file() else []):
        for line in lines:
            yield path, line.strip(), ""


def changelog_trailer() -> Iterator[tuple[Path, str, str]]:
    """The trailer of a Debian changelog entry, `` -- Name <addr>  date`` (Debian Policy 4.4)."""
    for path in _files(DOCS, "changelog.Debian.gz"):
        for line in (_text(path) or "").splitlines():
            if line.startswith(" -- "):
                value = _one_address(line)
                if value:
                    yield path, line.strip(), value


def copyright_name_addr() -> Iterator[tuple[Path, str, str]]:
    """``Name <addr>`` in a copyright file (RFC 5322 name-addr) on a line with one address."""
    for path, lines in _lines([p for p in _doc_texts() if p.name == "copyright"]):
        for line in lines:
            value = _one_address(line)
            if value and "copyright" in line.lower():
                yield path, line.strip(), value


def _one_address(line: str) -> str:
    found = NAME_ADDR.findall(line)
    if len(found) != 1 or "@" in NAME_ADDR.sub("", line):
        return ""
    addr, domain = found[0]
    return "" if RESERVED_DOMAINS.search(domain) else addr


def _dotted_quads(line: str) -> list[str]:
    return re.findall(r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])", line)


# Placed positives: (rule, source rule, pii type, slot template). {line} is a real line of the
# source rule, {x} the placed value.
PLACED = (
    ("placed:licence-contact", fsf_address, "email", "{line}\nContact the maintainer at {x} for questions."),
    ("placed:licence-phone", fsf_address, "phone", "{line}\nPhone: {x}"),
    ("placed:licence-donation-iban", fsf_address, "iban", "{line}\nDonations: IBAN {x}"),
    ("placed:log-client-ip", dpkg_log, "ip", "{line} (requested from {x})"),
    ("placed:log-card", dpkg_log, "credit_card", "{line} payment card {x} charged"),
    ("placed:heading-phone", numbered_heading, "phone", "{line}\nCall the help desk on {x} before you upgrade."),
    ("placed:heading-email", numbered_heading, "email", "{line}\nReport problems in this section to {x}."),
    ("placed:changelog-ip", changelog_header, "ip", "{line}\n  * Block abuse from {x} in the default config."),
    ("placed:rst-iban", rst_numbers, "iban", "{line}\n   Pay the invoice to {x} by Friday."),
    ("placed:rst-card", rst_numbers, "credit_card", "{line}\n   The card on file is {x}."),
    ("placed:python-ip", python_numbers, "ip", '{line}  # was "{x}" in production'),
    ("placed:python-phone", python_numbers, "phone", "{line}  # on-call: {x}"),
    ("placed:python-email", python_numbers, "email", "{line}  # owner: {x}"),
)

NEGATIVE = (
    ("fsf-postal-address", fsf_address, "phone"),
    ("far-dfars-clause", far_clause, "phone"),
    ("dotted-number-at-line-start", numbered_heading, "ip"),
    ("debian-changelog-header", changelog_header, "ip"),
    ("rst-number-before-literal-or-version", rst_numbers, "ip"),
    ("python-long-or-dotted-number", python_numbers, "phone"),
    ("dpkg-log-line", dpkg_log, "phone"),
)
REAL_POSITIVE = (
    ("debian-changelog-trailer:name-addr", changelog_trailer, "email"),
    ("debian-copyright:name-addr", copyright_name_addr, "email"),
)


def _sample(rule: Callable[[], Iterator[tuple[Path, str, str]]], rng: random.Random, n: int
            ) -> list[tuple[Path, str, str]]:
    seen: dict[str, tuple[Path, str, str]] = {}
    for path, text, value in rule():
        if text and text not in seen and len(text) <= 600:
            seen[text] = (path, text, value)
    found = list(seen.values())
    return rng.sample(found, min(n, len(found)))


def make(seed: int = SEED, per_rule: int = PER_RULE) -> list[dict]:
    rng = random.Random(seed)
    records: list[dict] = []

    def add(rule: str, path: Path, pii_type: str, text: str, value: str) -> None:
        label = "positive" if value else "negative"
        expected = text.replace(value, DEFAULT_PLACEHOLDERS[pii_type], 1) if value else text
        records.append({"rule": rule, "source": str(path), "type": pii_type, "label": label, "value": value,
                        "text": text, "expected": expected})

    cache: dict[str, list[tuple[Path, str, str]]] = {}

    def lines_of(rule: Callable) -> list[tuple[Path, str, str]]:
        if rule.__name__ not in cache:
            cache[rule.__name__] = _sample(rule, random.Random(f"{seed}:{rule.__name__}"), 4 * per_rule)
        return cache[rule.__name__]

    for name, rule, pii_type in NEGATIVE + REAL_POSITIVE:
        for path, text, value in lines_of(rule)[:per_rule]:
            add(name, path, pii_type, text, value)
    for name, rule, pii_type, template in PLACED:
        pool = lines_of(rule)
        for path, line, _ in rng.sample(pool, min(per_rule // 2, len(pool))):
            value = POSITIVE[pii_type](rng)
            text = template.format(line=line, x=value)
            if text.count(value) == 1:
                add(name, path, pii_type, text, value)
    for i, rec in enumerate(records):
        rec["id"] = f"real-{i:04d}"
    return records


def sha256(path: Path = OUT) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(path: Path = OUT) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def main() -> None:
    records = make()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for rec in records:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {OUT}: {len(records)} records, sha256 {sha256()}")


if __name__ == "__main__":
    main()
