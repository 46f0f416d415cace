"""The first run compiles a pipeline's numba kernels once, in the driver, and the pool's workers load
them from numba's cache (curate/kernels.py). Checked through the CLI with a fresh
NUMBA_CACHE_DIR and numba's own cache log (NUMBA_DEBUG_CACHE), which every process writes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE, env_with_repo, shard_ids


def dedup(cache: Path, out: Path) -> list[str]:
    """`curate dedup` with 2 workers; its stdout + stderr lines (every process's, in order)."""
    env = env_with_repo() | {"NUMBA_CACHE_DIR": str(cache), "NUMBA_DEBUG_CACHE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "curate.cli", "dedup", "--input", str(SAMPLE), "--output", str(out),
                           "--overwrite", "--workers", "2"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout.splitlines()


@pytest.mark.slow
def test_first_run_compiles_in_the_driver_and_workers_load_the_cache(tmp_path: Path) -> None:
    cache = tmp_path / "numba-cache"
    first = dedup(cache, tmp_path / "first")
    compiling = [i for i, line in enumerate(first) if line.startswith("compiling numba kernels")]
    pass1 = next(i for i, line in enumerate(first) if line.startswith("pass 1/"))
    saved = [i for i, line in enumerate(first) if line.startswith("[cache] data saved")]
    loaded = [i for i, line in enumerate(first) if line.startswith("[cache] data loaded")]
    # only the pipeline's kernels (minhash, not the heuristics), said once, before the first pass
    assert len(compiling) == 1 and first[compiling[0]].startswith("compiling numba kernels for minhash_dedup (")
    assert saved and all(compiling[0] < i < pass1 for i in saved)  # every compile happened in the driver
    assert len([i for i in loaded if i > pass1]) >= 2  # both workers loaded the signature kernel

    second = dedup(cache, tmp_path / "second")
    assert not any(line.startswith(("compiling numba kernels", "[cache] data saved")) for line in second)
    assert shard_ids(tmp_path / "first") == shard_ids(tmp_path / "second")


def test_the_composite_heuristics_stage_warms_up_its_rule_sets_kernels() -> None:
    """`heuristics` runs the rule sets' kernels, so it declares them too: without it, a pipeline
    using the composite (pipelines/default.yaml) compiled them in every worker at once."""
    from curate.pipeline.registry import get_stage_class

    composite = get_stage_class("heuristics")()
    single = get_stage_class("gopher_quality")()
    assert composite.kernels() and set(composite.kernels()) == set(single.kernels())
