"""curate: turn raw text shards into an LLM pretraining corpus worth its compute."""

from __future__ import annotations

import logging
from typing import Any

__version__ = "0.1.0"
# What runs say goes to the "curate" logger; an application decides where it goes (a library
# prints nothing by itself). The CLI sends it to stderr (curate.cli.common.log_to_stderr).
logging.getLogger("curate").addHandler(logging.NullHandler())

_API = ("Pipeline", "run", "dedup", "classify", "train_classifier", "plan", "calibrate", "predict", "sample",
        "report", "generate_sample_data")
__all__ = [*_API, "__version__"]


def __getattr__(name: str) -> Any:
    # The API is imported lazily so that `import curate.stages...` in a worker stays light.
    if name in _API:
        from curate import api

        return getattr(api, name)
    raise AttributeError(f"module 'curate' has no attribute {name!r}")
