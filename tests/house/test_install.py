"""Building curate prints no warnings (issue 30, item 4): setuptools deprecated `license` as a
TOML table in favour of PEP 639's SPDX string and printed its warning on every install."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


def test_the_licence_is_an_spdx_string() -> None:
    assert re.search(r'^license = "Apache-2.0"$', (ROOT / "pyproject.toml").read_text(), re.MULTILINE)


@pytest.mark.slow
def test_building_the_wheel_prints_no_setuptools_warning(tmp_path: Path) -> None:
    # The venv's own setuptools (no build isolation: no network), verbose so the backend's output shows.
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v",
                           "--wheel-dir", str(tmp_path), str(ROOT)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    output = proc.stdout + proc.stderr
    assert list(tmp_path.glob("curate-*.whl"))
    warnings = [line for line in output.splitlines() if re.search(r"\w*(Deprecation|User)?Warning\b", line)]
    assert warnings == []
