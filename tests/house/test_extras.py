"""A core-only install (issue 31, item 7): read, dedup, heuristics, filter, buckets, plan and sample
run without the extras; every verb or stage that needs one exits 2 with one line naming it
(``pip install 'curate[X]'``). The extras' modules are made missing in a subprocess with
``sys.modules[name] = None`` (an import of it then raises ImportError), as tests/clusters/test_ray.py
does for Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.conftest import ROOT, SAMPLE, read_stats

# every module an extra brings (pyproject.toml: pii, url, classify, plot, tokens)
EXTRA_MODULES = ("phonenumbers", "stdnum", "tldextract", "fasttext", "matplotlib", "tokenizers")
TOKENIZER = ROOT / "tests" / "fixtures" / "sinks" / "tokenizer.json"


def core_only(args: list[str]) -> subprocess.CompletedProcess:
    """`curate ARGS` in a process where no extra's module can be imported."""
    code = (f"import sys\nfor name in {EXTRA_MODULES!r}:\n    sys.modules[name] = None\n"
            f"from curate.cli import main\nmain({args!r})")
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)


def _one_line_naming(proc: subprocess.CompletedProcess, extra: str) -> str:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(f"pip install 'curate[{extra}]'"), proc.stderr
    return lines[0]


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two shards of the sample data with a quality score (what quality_buckets ranks)."""
    src = tmp_path_factory.mktemp("extras") / "in"
    src.mkdir()
    table = pq.read_table(sorted(SAMPLE.glob("*.parquet"))[0], columns=["id", "text", "url"])
    scores = pa.array([(i * 37 % 100) / 100 for i in range(table.num_rows)], pa.float64())
    table = table.append_column("quality_score", scores)
    for k in range(2):
        pq.write_table(table.slice(k * 250, 250), src / f"{k}.parquet")
    return src


def _pipeline(tmp_path: Path, body: str) -> str:
    path = tmp_path / "p.yaml"
    path.write_text(f"name: p\n{body}")
    return str(path)


def test_the_core_runs_dedup_heuristics_filter_buckets_and_sample_and_skips_the_plot(scored: Path, tmp_path: Path) -> None:
    yaml = _pipeline(tmp_path, """stages:
  - stage: normalize
  - stage: token_count
  - stage: heuristics
  - stage: filter
  - stage: exact_dedup
  - stage: minhash_dedup
  - stage: quality_buckets
    params: {names: [high, low], quantiles: [0.5]}
  - stage: sample
    params: {compute: 1.0e11}
""")
    out = tmp_path / "out"
    proc = core_only(["run", yaml, "--input", str(scored), "--output", str(out), "--workers", "1"])
    assert proc.returncode == 0, proc.stderr
    assert "plan.png not written" in proc.stderr and "pip install 'curate[plot]'" in proc.stderr
    assert read_stats(out)["docs_out"] > 0
    assert (out / "_curate" / "meta" / "sample" / "plan.json").exists()
    assert not (out / "_curate" / "meta" / "sample" / "plan.png").exists()
    # asking for the plot itself is the user's to fix
    line = _one_line_naming(core_only(["plan", "--from-plan", str(out), "--plot", str(tmp_path / "p.png")]), "plot")
    assert "matplotlib" in line
    assert core_only(["plan", "--from-plan", str(out)]).returncode == 0


def test_pii_names_its_extra_before_any_work(scored: Path, tmp_path: Path) -> None:
    yaml = _pipeline(tmp_path, "stages:\n  - stage: pii\n")
    out = tmp_path / "out"
    line = _one_line_naming(core_only(["run", yaml, "--input", str(scored), "--output", str(out), "--workers", "1"]), "pii")
    assert "stage 'pii'" in line
    assert not (out / "data").exists()


def test_url_filter_names_its_extra(scored: Path, tmp_path: Path) -> None:
    (tmp_path / "words.txt").write_text("casino\n")
    yaml = _pipeline(tmp_path, f"stages:\n  - stage: url_filter\n    params: {{banned_words: {tmp_path / 'words.txt'}}}\n")
    line = _one_line_naming(core_only(["run", yaml, "--input", str(scored), "--output", str(tmp_path / "out"),
                                       "--workers", "1"]), "url")
    assert "stage 'url_filter'" in line


def test_classify_names_its_extra(scored: Path, tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"\0" * 64)
    _one_line_naming(core_only(["classify", "--input", str(scored), "--output", str(tmp_path / "out"),
                                "--model", str(model), "--column", "q", "--workers", "1"]), "classify")
    _one_line_naming(core_only(["train-classifier", "--input", str(scored), "--output", str(tmp_path / "m.bin"),
                                "--label-column", "url"]), "classify")


def test_a_tokenized_sink_names_its_extra(scored: Path, tmp_path: Path) -> None:
    yaml = _pipeline(tmp_path, f"""stages:
  - stage: passthrough
outputs:
  train: {{from: passthrough, format: megatron, tokenizer: {TOKENIZER}}}
""")
    line = _one_line_naming(core_only(["run", yaml, "--input", str(scored), "--output", str(tmp_path / "out"),
                                       "--workers", "1"]), "tokens")
    assert "tokenizer.json" in line
