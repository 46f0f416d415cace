"""curate.text.table_cache: a lookup table is built once, then loaded from disk by later processes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from curate.text.table_cache import cached_table

BUILDS: list[int] = []


def _build() -> np.ndarray:
    BUILDS.append(1)
    return np.arange(1000, dtype=np.uint8)


def test_built_once_then_loaded_from_the_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    BUILDS.clear()
    first = cached_table("demo", _build)
    second = cached_table("demo", _build)
    assert BUILDS == [1] and np.array_equal(first, second) and second.dtype == np.uint8
    saved = list((tmp_path / "curate-tables").glob("test_table_cache.demo-*.npy"))
    assert len(saved) == 1 and not list((tmp_path / "curate-tables").glob("*.tmp"))


def test_a_directory_that_cannot_be_written_only_costs_a_rebuild(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker))
    BUILDS.clear()
    assert np.array_equal(cached_table("demo", _build), np.arange(1000, dtype=np.uint8))
    assert np.array_equal(cached_table("demo", _build), np.arange(1000, dtype=np.uint8))
    assert BUILDS == [1, 1]


def test_the_real_tables_match_their_builders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from curate.stages.heuristics import kernels
    from curate.text import words

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    for module in (kernels, words):
        assert np.array_equal(cached_table("char_classes", module._build_char_classes), module._build_char_classes())
        assert np.array_equal(cached_table("char_classes", module._build_char_classes), module.char_classes())
