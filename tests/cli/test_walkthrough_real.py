"""The "run it on your own data" walkthrough on real text every Debian machine has (issue 30): the
copyright files under /usr/share/doc as JSON Lines (gzip) and the Python standard library's
sources as Parquet. The web-text rules of the default pipeline (its cleaning, heuristics and
dedup; not its classifiers, whose demo models are trained on generated text, nor its sampler,
whose budget is sized for sample_data/) exit 0 and the summary flags the rule that removes most
of this code and documentation; code_docs.yaml, the pipeline for such data, keeps most of it."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import PIPELINES, ROOT, env_with_repo, read_stats, rejected_dir

N_COPYRIGHT = 120
N_SOURCES = 40
WEB_RULES = """
name: web_rules
settings:
  keep_rejected: true
stages:
  - stage: normalize
  - stage: token_count
  - stage: heuristics
  - stage: filter
  - stage: exact_dedup
  - stage: minhash_dedup
"""


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


@pytest.fixture(scope="module")
def own_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """JSONL.gz of copyright files (id, text, package) and Parquet of standard-library modules."""
    copyrights = _texts(sorted(Path("/usr/share/doc").glob("*/copyright"))[:N_COPYRIGHT])
    stdlib = Path(f"/usr/lib/python{sys.version_info.major}.{sys.version_info.minor}")
    sources = _texts(sorted(stdlib.glob("*.py"))[:N_SOURCES])
    if len(copyrights) < 50 or len(sources) < 20:
        pytest.skip("this machine has too few copyright files or standard-library sources")
    root = tmp_path_factory.mktemp("own") / "corpus"
    root.mkdir()
    with gzip.open(root / "copyright.jsonl.gz", "wt", encoding="utf-8") as f:
        for path, text in copyrights:
            f.write(json.dumps({"id": path, "text": text, "package": Path(path).parent.name}) + "\n")
    pq.write_table(pa.table({"id": [p for p, _ in sources], "text": [t for _, t in sources]}),
                   root / "stdlib.parquet")
    return root


def curate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "curate.cli", *args], cwd=ROOT, env=env_with_repo(),
                          capture_output=True, text=True, timeout=900)


def _warnings(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("warning: stage ")]


@pytest.mark.slow
def test_walkthrough_on_real_text_flags_the_rule_that_removes_most(own_data: Path, tmp_path: Path) -> None:
    pipeline = tmp_path / "web_rules.yaml"
    pipeline.write_text(WEB_RULES)
    out = tmp_path / "web"
    r = curate("run", str(pipeline), "--input", str(own_data), "--output", str(out), "--workers", "2")
    assert r.returncode == 0, r.stderr
    stats = read_stats(out)
    flagged = {f["stage"]: f for f in stats["heavy_removals"]}
    assert "filter" in flagged, stats["heavy_removals"]
    removal = flagged["filter"]
    assert removal["share"] > 0.5 and removal["top_reason"].count(":") == 1  # a rule: set:rule
    by_stage = {s["stage"]: s for s in stats["stages"]}
    assert removal["removed"] == by_stage["filter"]["rejected_total"]
    assert removal["top_reason_removed"] == max(by_stage["filter"]["rejected"].values())
    assert removal["example_id"].startswith(("/usr/share/doc/", "/usr/lib/python"))
    line = next(w for w in _warnings(r.stderr) if "'filter'" in w)
    assert removal["top_reason"] in line and removal["example_id"] in line
    # the example named is one the rule really rejected: it is under the rejected rows with that reason
    rejected = pa.concat_tables(pq.read_table(p, columns=["id", "reject_reason"])
                                for p in sorted(rejected_dir(out).rglob("*.parquet")))
    reasons = dict(zip(rejected.column("id").to_pylist(), rejected.column("reject_reason").to_pylist()))
    assert reasons[removal["example_id"]] == removal["top_reason"]
    shown = curate("stats", str(out))
    assert shown.returncode == 0 and line in shown.stdout.splitlines()

    docs = tmp_path / "code_docs"
    r = curate("run", str(PIPELINES / "code_docs.yaml"), "--input", str(own_data), "--output", str(docs),
               "--workers", "2")
    assert r.returncode == 0, r.stderr
    kept = read_stats(docs)
    assert kept["docs_out"] > 0.5 * kept["docs_in"] > 0 and stats["docs_out"] < kept["docs_out"]
    assert "filter" not in {f["stage"] for f in kept["heavy_removals"]}
