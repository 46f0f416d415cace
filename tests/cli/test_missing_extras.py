"""Every optional extra, missing, is one stderr line naming ``pip install 'curate[EXTRA]'`` and
exit 2 (issue 30 item 4: a missing warcio was exit 1 with a traceback).

A module is made missing the way an uninstalled one is: a meta-path finder (in a
``sitecustomize`` on PYTHONPATH, so worker processes get it too) raises ModuleNotFoundError for
it and its submodules, as Python's import system does for a module it cannot find."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.conftest import ROOT, env_with_repo, write_parquet
from tests.house.test_extras import EXTRA_MODULES
from tests.planner.test_mixture_fit import planted_rows
from tests.tokenizer_files import train_bpe, train_sentencepiece, write_tiktoken
from tests.warc_pages import write_warc

HIDE = '''
import os, sys

HIDDEN = set(os.environ["HIDE_MODULES"].split(","))


class _Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in HIDDEN:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Missing())
'''

FOUNDATION = str(ROOT / "pipelines" / "foundation.yaml")


def _warc_run(tmp: Path, workers: str) -> list[str]:
    (tmp / "in").mkdir()
    for i in range(int(workers)):  # two files, two tasks: a pool of worker processes reads them
        write_warc(tmp / "in" / f"pages-{i}.warc.gz", 3, seed=i)
    return ["run", FOUNDATION, "--input", str(tmp / "in"), "--output", str(tmp / "out"), "--workers", workers]


def _gbm_fit(tmp: Path) -> list[str]:
    runs = tmp / "runs.jsonl"
    runs.write_text("".join(json.dumps(r) + "\n" for r in planted_rows(40, 0)))
    return ["calibrate", str(runs), "--fit", "mixture", "--target", "web_val", "--model", "gbm", "--output",
            str(tmp / "law.json")]


def _spacy_sentences(tmp: Path) -> list[str]:
    pipeline = tmp / "c4.yaml"
    pipeline.write_text("stages:\n  - stage: c4\n    params: {sentence_splitter: spacy}\n")
    return ["run", str(pipeline), "--input", str(tmp), "--output", "/nonexistent-output-never-made"]


def _sink_run(tmp: Path, sink: str) -> list[str]:
    """A run whose only output is the sink `sink` (YAML flow mapping entries), over one small Parquet file."""
    write_parquet(tmp / "in" / "docs.parquet", {"id": ["a", "b"], "text": ["one document", "another document"]})
    pipeline = tmp / "sink.yaml"
    pipeline.write_text(f"stages:\n  - stage: normalize\noutputs:\n  out: {{from: normalize, {sink}}}\n")
    return ["run", str(pipeline), "--input", str(tmp / "in"), "--output", str(tmp / "out")]


def _sentencepiece_sink(tmp: Path) -> list[str]:
    model = train_sentencepiece(tmp / "spm.model")
    return _sink_run(tmp, f"format: numpy, tokenizer: {model}")


def _tiktoken_sink(tmp: Path) -> list[str]:
    encoding = tmp / "bpe.tiktoken"
    write_tiktoken(train_bpe(tmp / "bpe.json"), encoding)
    return _sink_run(tmp, f"format: numpy, tokenizer: {encoding}")


def _run_on(uri: str, *extra: str) -> list[str]:
    return ["run", FOUNDATION, "--input", uri, "--output", "/nonexistent-output-never-made", *extra]


# (module made missing, the extra that installs it, the command that needs it)
CASES = [
    ("warcio", "warc", lambda tmp: _warc_run(tmp, "1")),
    ("warcio", "warc", lambda tmp: _warc_run(tmp, "2")),  # imported in a worker process
    ("resiliparse", "warc", lambda tmp: _warc_run(tmp, "1")),
    ("lightgbm", "mixture", _gbm_fit),
    ("ray", "ray", lambda tmp: _run_on(str(tmp), "--executor", "ray")),
    ("s3fs", "s3", lambda tmp: _run_on("s3://bucket/corpus/")),
    ("gcsfs", "gcs", lambda tmp: _run_on("gs://bucket/corpus/")),
    ("huggingface_hub", "hf", lambda tmp: _run_on("hf://datasets/someone/corpus")),
    ("spacy", "spacy", _spacy_sentences),
    ("sentencepiece", "tokenize", _sentencepiece_sink),
    ("tiktoken", "tokenize", _tiktoken_sink),
    ("datasets", "datasets", lambda tmp: _sink_run(tmp, "format: hf")),
]


# distributions whose module has another name
MODULE_OF = {"fasttext_community": "fasttext", "python_stdnum": "stdnum"}


def user_extras() -> dict[str, set[str]]:
    """Each extra a user installs (not the test suite's or the benchmarks', nor the ones that only
    gather other extras: demo, all) -> the modules of its distributions."""
    extras: dict[str, set[str]] = {}
    for requirement in metadata.requires("curate") or []:
        found = re.search(r"""extra\s*==\s*["']([^"']+)["']""", requirement)
        name = _normal(re.match(r"[A-Za-z0-9_.-]+", requirement).group())
        if found and found.group(1) not in ("test", "bench") and name != "curate":
            extras.setdefault(found.group(1), set()).add(MODULE_OF.get(name, name))
    return extras


def _normal(distribution: str) -> str:
    return distribution.lower().replace("-", "_")


def test_every_module_of_every_extra_is_covered() -> None:
    """Every module of every extra is made missing here or in tests/house/test_extras.py (the
    extras of the core install: pii, url, classify, plot, tokens)."""
    covered: dict[str, set[str]] = {}
    for module, extra, _ in CASES:
        covered.setdefault(extra, set()).add(module)
    extras = user_extras()
    for extra, modules in extras.items():
        covered.setdefault(extra, set()).update(modules & set(EXTRA_MODULES))
    assert covered == extras


@pytest.mark.parametrize(("module", "extra", "command"), CASES, ids=[f"{m}-{i}" for i, (m, _, _) in enumerate(CASES)])
def test_a_missing_extra_is_one_line_and_exit_2(tmp_path: Path, module: str, extra: str, command) -> None:
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "sitecustomize.py").write_text(HIDE)
    env = env_with_repo()
    env["PYTHONPATH"] = str(tmp_path / "site") + ":" + env["PYTHONPATH"]
    env["HIDE_MODULES"] = module
    r = subprocess.run([sys.executable, "-m", "curate.cli", *command(tmp_path)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and f"pip install 'curate[{extra}]'" in errors[0], r.stderr
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
