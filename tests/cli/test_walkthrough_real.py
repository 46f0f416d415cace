"""The README's "your own data in five minutes" walkthrough, run verbatim (issue 30): its shell lines
(the ``<!-- runnable: walkthrough -->`` blocks of README.md) each run with bash, in a fresh directory,
on real text every Debian machine has: the copyright files under /usr/share/doc as JSON Lines (gzip),
the Python standard library's sources as Parquet, and the HTML manuals under /usr/share/doc in a WARC
file, in the folder the README names. Every line exits 0; the web-prose rules' run flags the rule that
removes most of this code and documentation, in its summary, its _stats.json and `curate stats`;
code_docs.yaml, the pipeline for such data, keeps most of it; `--resume` of the finished run changes
nothing."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import PIPELINES, ROOT, env_with_repo, read_stats, rejected_dir
from tests.docs.markdown import blocks

N_COPYRIGHT = 120
N_SOURCES = 40
N_PAGES = 20
MAX_PAGE_BYTES = 200_000


def walkthrough() -> list[str]:
    """The shell lines of the README's walkthrough blocks, in order (comments and blank lines left out)."""
    lines = [line for b in blocks(ROOT / "README.md") if b.runnable == "walkthrough" for line in b.code.splitlines()]
    return [line for line in lines if line.strip() and not line.lstrip().startswith("#")]


def option(line: str, name: str) -> str:
    words = shlex.split(line)
    return words[words.index(name) + 1]


def _texts(paths: list[Path]) -> list[tuple[str, str]]:
    found = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            found.append((str(path), text))
    return found


def _write_warc(path: Path, pages: list[tuple[str, str]]) -> None:
    """One HTTP 200 text/html response record per page, gzip per record (as Common Crawl writes them)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with path.open("wb") as f:
        writer = WARCWriter(f, gzip=True)
        for name, html in pages:
            body = html.encode("utf-8")
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                               ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(f"http://localhost{name}", "response", payload=io.BytesIO(body),
                                                          http_headers=http))


def build_corpus(root: Path) -> None:
    """The README's folder: debian/copyright.jsonl.gz, python/stdlib.parquet, web/manuals.warc.gz."""
    pytest.importorskip("warcio", reason="the walkthrough reads a WARC file: pip install 'curate[warc]'")
    copyrights = _texts(sorted(Path("/usr/share/doc").glob("*/copyright"))[:N_COPYRIGHT])
    stdlib = Path(f"/usr/lib/python{sys.version_info.major}.{sys.version_info.minor}")
    sources = _texts(sorted(stdlib.glob("*.py"))[:N_SOURCES])
    html = [p for p in sorted(Path("/usr/share/doc").glob("*/*.html")) if p.stat().st_size < MAX_PAGE_BYTES]
    pages = _texts(html[:N_PAGES])
    if len(copyrights) < 50 or len(sources) < 20 or len(pages) < 5:
        pytest.skip("this machine has too few copyright files, standard-library sources or HTML manuals")
    for folder in ("debian", "python", "web"):
        (root / folder).mkdir(parents=True)
    with gzip.open(root / "debian" / "copyright.jsonl.gz", "wt", encoding="utf-8") as f:
        for path, text in copyrights:
            f.write(json.dumps({"id": path, "text": text, "package": Path(path).parent.name}) + "\n")
    pq.write_table(pa.table({"id": [p for p, _ in sources], "text": [t for _, t in sources]}),
                   root / "python" / "stdlib.parquet")
    _write_warc(root / "web" / "manuals.warc.gz", pages)


def shards(sink: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(sink.glob("part-*"))}


@pytest.mark.slow
def test_the_readme_walkthrough_runs_verbatim_on_real_text(tmp_path: Path) -> None:
    lines = walkthrough()
    runs = [line for line in lines if line.startswith("curate run ")]
    web_line = next(line for line in runs if "pipelines/web_rules.yaml" in line)
    docs_line = next(line for line in runs if "pipelines/code_docs.yaml" in line and "--resume" not in line)
    assert any("--resume" in line for line in runs) and any(line.startswith("curate stats ") for line in lines)
    assert any(line.startswith("curate report ") for line in lines)
    build_corpus(tmp_path / option(web_line, "--input"))
    (tmp_path / "pipelines").symlink_to(PIPELINES)
    env = env_with_repo()
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])  # curate, python

    results, after_docs = {}, None
    for line in lines:
        r = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"README walkthrough: {line}\n{r.stderr[-3000:]}"
        results[line] = r
        if line == docs_line:
            after_docs = shards(tmp_path / option(docs_line, "--output") / "curated")

    # the web rules: the rule that removes most of this text is flagged, with its top reason and an example
    web = tmp_path / option(web_line, "--output")
    stats = read_stats(web)
    assert stats["docs_in"] > N_COPYRIGHT  # all three files were read
    flagged = {f["stage"]: f for f in stats["heavy_removals"]}
    assert "filter" in flagged, stats["heavy_removals"]
    removal = flagged["filter"]
    assert removal["share"] > 0.5 and removal["top_reason"].count(":") == 1  # a rule: set:rule
    by_stage = {s["stage"]: s for s in stats["stages"]}
    assert removal["removed"] == by_stage["filter"]["rejected_total"]
    assert removal["top_reason_removed"] == max(by_stage["filter"]["rejected"].values())
    warning = next(w for w in results[web_line].stderr.splitlines() if w.startswith("warning: stage 'filter'"))
    assert removal["top_reason"] in warning and removal["example_id"] in warning
    # the example named is one the rule really rejected: it is under the rejected rows with that reason
    rejected = pa.concat_tables(pq.read_table(p, columns=["id", "reject_reason"])
                                for p in sorted(rejected_dir(web).rglob("*.parquet")))
    reasons = dict(zip(rejected.column("id").to_pylist(), rejected.column("reject_reason").to_pylist()))
    assert reasons[removal["example_id"]] == removal["top_reason"]
    stats_line = next(line for line in lines if line.startswith("curate stats "))
    assert option_free_target(stats_line) == option(web_line, "--output")
    assert warning in results[stats_line].stdout.splitlines()

    # the pipeline for code and documentation keeps most of it, and flags no rule
    docs = tmp_path / option(docs_line, "--output")
    kept = read_stats(docs)
    assert kept["docs_out"] > 0.5 * kept["docs_in"] > 0 and stats["docs_out"] < kept["docs_out"]
    assert "filter" not in {f["stage"] for f in kept["heavy_removals"]}
    report_line = next(line for line in lines if line.startswith("curate report "))
    assert (tmp_path / option_free_target(report_line) / "_curate" / "report.html").is_file()
    # the reads with other tools saw the sinks: a count and the rejected reasons
    reads = [results[line].stdout for line in lines if line.startswith("python -c")]
    assert str(kept["docs_out"]) in "".join(reads) and removal["top_reason"] in "".join(reads)
    # --resume of the finished run: exit 0 (above), the same shards
    assert shards(docs / "curated") == after_docs and after_docs


def option_free_target(line: str) -> str:
    """The first argument of a verb that is not an option (`curate stats out/web` -> out/web)."""
    return next(w for w in shlex.split(line)[2:] if not w.startswith("-"))
