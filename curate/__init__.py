"""curate: turn raw text shards into an LLM pretraining corpus worth its compute."""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_API = ("Pipeline", "run", "dedup", "classify", "train_classifier", "plan", "calibrate", "predict", "sample",
        "generate_sample_data")
__all__ = [*_API, "__version__"]


def __getattr__(name: str) -> Any:
    # The API is imported lazily so that `import curate.stages...` in a worker stays light.
    if name in _API:
        from curate import api

        return getattr(api, name)
    raise AttributeError(f"module 'curate' has no attribute {name!r}")
