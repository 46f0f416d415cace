"""The MODULES tables of the built-in packages (curate.registry: a lookup imports one module)
name exactly the modules that register each built-in class, as a full discovery finds them."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

from curate.executors.base import EXECUTORS
from curate.pipeline.registry import STAGES
from curate.sinks.sink_format import SINK_FORMATS
from tests.conftest import ROOT, env_with_repo


@pytest.mark.parametrize("registry", [STAGES, SINK_FORMATS, EXECUTORS], ids=lambda r: r.kind)
def test_modules_table_matches_discovery(registry) -> None:
    registry._discover()
    found = {name: cls.__module__ for name, cls in registry._classes.items()
             if cls.__module__.startswith(registry.package + ".")}
    assert importlib.import_module(registry.package).MODULES == found


def test_lookup_imports_only_the_named_module() -> None:
    code = ("import json, sys\nfrom curate.pipeline.registry import get_stage_class\n"
            "from curate.sinks.sink_format import SINK_FORMATS\n"
            "assert get_stage_class('minhash_dedup').name == 'minhash_dedup'\n"
            "assert SINK_FORMATS.get('parquet').name == 'parquet'\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith(('curate.stages.', 'curate.sinks.formats.')))))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env_with_repo(), capture_output=True, text=True,
                         check=True).stdout
    loaded = json.loads(out)
    assert "curate.stages.dedup.minhash" in loaded and "curate.sinks.formats.parquet" in loaded
    assert "curate.stages.classify" not in loaded and "curate.sinks.formats.megatron" not in loaded
