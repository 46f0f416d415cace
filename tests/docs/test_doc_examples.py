"""The examples of README.md and docs/*.md run as written (issue 30, item 5).

- Every ```python block runs as a script in a fresh directory that holds what a checkout has
  (sample_data/, pipelines/) and the demo models (what `make models` makes). A block whose first line
  is ``# not run by the tests: <reason>`` is skipped, with the reason.
- Every ```yaml block that is a whole pipeline (a mapping with `stages:`) builds: stage names,
  parameters, the graph and its sinks are checked as `curate run` checks them before any work.
- The README's walkthrough (its ``<!-- runnable: walkthrough -->`` blocks) runs in
  tests/cli/test_walkthrough_real.py, on real text."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from curate import Pipeline
from tests.conftest import PIPELINES, ROOT, SAMPLE, env_with_repo
from tests.docs.markdown import Block, blocks, pages

SKIP = "# not run by the tests:"
ALL = [b for page in pages() for b in blocks(page)]
PYTHON = [b for b in ALL if b.info == "python"]
RUN = [b for b in PYTHON if not b.code.startswith(SKIP)]


def is_pipeline(block: Block) -> bool:
    """A YAML block that is a whole pipeline (fragments, with `...` for what they leave out, are not)."""
    try:
        doc = yaml.safe_load(block.code)
    except yaml.YAMLError:
        return False
    return isinstance(doc, dict) and "stages" in doc


PIPELINE_YAML = [b for b in ALL if b.info == "yaml" and is_pipeline(b)]


def test_the_readme_starts_with_the_two_commands_for_a_fresh_machine() -> None:
    first = blocks(ROOT / "README.md")[0]
    commands = [line.split("#")[0].strip() for line in first.code.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"]
    assert len((ROOT / "README.md").read_text(encoding="utf-8").splitlines()) < 300


def test_the_pages_have_examples_and_say_why_any_is_not_run() -> None:
    assert len(RUN) >= 6 and len(PIPELINE_YAML) >= 3
    assert any(b.path.name == "README.md" for b in RUN)
    for block in PYTHON:
        first = block.code.splitlines()[0]
        if first.startswith(SKIP):
            assert len(first) > len(SKIP) + 10, block.where  # a real reason


@pytest.mark.parametrize("block", PIPELINE_YAML, ids=[b.where for b in PIPELINE_YAML])
def test_pipeline_yaml_example_builds(block: Block, tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yaml"
    path.write_text(block.code, encoding="utf-8")
    assert Pipeline.from_yaml(path).graph is not None, block.where


@pytest.mark.slow
@pytest.mark.parametrize("block", RUN, ids=[b.where for b in RUN])
def test_python_example_runs_as_a_script(block: Block, default_pipeline: Path, tmp_path: Path) -> None:
    (tmp_path / "sample_data").symlink_to(SAMPLE)
    (tmp_path / "pipelines").symlink_to(PIPELINES)
    (tmp_path / "models").symlink_to(default_pipeline.parent)  # quality.bin, domain.bin, lid.bin
    script = tmp_path / "example.py"
    script.write_text(block.code, encoding="utf-8")
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env_with_repo(), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"{block.where}:\n{r.stderr[-3000:]}"
