"""The README's Python examples run as written, each as a script in a fresh directory that holds
what a checkout has (sample_data/, pipelines/) and the demo models (what `make models` makes).

A block whose first line is ``# not run by the tests: <reason>`` is skipped, with the reason."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PIPELINES, ROOT, SAMPLE, env_with_repo

SKIP = "# not run by the tests:"


def python_blocks(path: Path) -> list[tuple[int, str]]:
    """(line, code) of every ```python block of a Markdown file."""
    text = path.read_text(encoding="utf-8")
    return [(text[: m.start()].count("\n") + 2, m.group(1)) for m in re.finditer(r"```python\n(.*?)```", text, re.S)]


BLOCKS = python_blocks(ROOT / "README.md")


def test_the_readme_has_examples_and_says_why_any_is_not_run() -> None:
    assert len(BLOCKS) >= 3
    for _, code in BLOCKS:
        first = code.splitlines()[0]
        if first.startswith(SKIP):
            assert len(first) > len(SKIP) + 10  # a real reason


@pytest.mark.slow
@pytest.mark.parametrize("line,code", [b for b in BLOCKS if not b[1].startswith(SKIP)],
                         ids=[f"README.md:{b[0]}" for b in BLOCKS if not b[1].startswith(SKIP)])
def test_readme_example_runs_as_a_script(line: int, code: str, default_pipeline: Path, tmp_path: Path) -> None:
    (tmp_path / "sample_data").symlink_to(SAMPLE)
    (tmp_path / "pipelines").symlink_to(PIPELINES)
    (tmp_path / "models").symlink_to(default_pipeline.parent)  # quality.bin, domain.bin, lid.bin
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env_with_repo(), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, f"README.md line {line}:\n{r.stderr[-3000:]}"
