"""A separate package adds an input format and an executor through entry points only
(tests/plugins/curate_toy; docs/architecture.md, "Extension points"): pip-installed into a folder
of its own, `curate formats` and `curate executors` list them, and runs use them. The executor is
the worked example of docs/architecture.md: a thread pool in one file that gives the local
executor's output byte for byte."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import CURATE, ROOT, SAMPLE, env_with_repo, read_stats, shard_ids

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "curate_toy"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of a `curate` that sees the plugin: pip-installed (no index, no build
    isolation: nothing is downloaded) into a folder on PYTHONPATH. Built from a copy: setuptools
    builds in the source folder, where another build (a parallel test worker, an earlier
    interrupted run) would leave its `build/` in the way."""
    import shutil

    site, source = tmp_path_factory.mktemp("site"), tmp_path_factory.mktemp("plugin") / PLUGIN.name
    shutil.copytree(PLUGIN, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--no-build-isolation", "--target", str(site), str(source)], check=True, capture_output=True)
    env = env_with_repo()
    env["PYTHONPATH"] = f"{site}{os.pathsep}{env['PYTHONPATH']}"
    return env


def curate(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CURATE, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_the_verbs_list_the_plugin_and_the_built_ins(plugin_env: dict[str, str]) -> None:
    formats = {f["name"]: f for f in json.loads(curate(plugin_env, "formats", "--json").stdout)}
    assert formats["lines"]["input"] and not formats["lines"]["sink"] and formats["lines"]["suffixes"] == [".lines"]
    for name, roles in {"parquet": (True, True), "jsonl": (True, True), "csv": (True, False),
                        "hf_arrow": (True, False), "warc": (True, False), "megatron": (False, True),
                        "datatrove": (False, True)}.items():
        assert (formats[name]["input"], formats[name]["sink"]) == roles
    assert set(formats["jsonl"]["aliases"]) == {"jsonl.gz", "jsonl.zst"}
    executors = {e["name"]: e for e in json.loads(curate(plugin_env, "executors", "--json").stdout)}
    assert executors["threads"]["available"] and executors["threads"]["options"] == {
        "prefix": "name prefix of the pool's threads"}
    assert {"local", "ray"} <= set(executors)
    text = curate(plugin_env, "formats")
    assert text.returncode == 0 and any(line.startswith("lines ") and "input" in line for line in text.stdout.splitlines())


def test_without_the_plugin_its_names_are_unknown(tmp_path: Path) -> None:
    proc = curate(env_with_repo(), "run", str(ROOT / "pipelines" / "foundation.yaml"), "--input", str(SAMPLE),
                  "--output", str(tmp_path / "out"), "--executor", "threads")
    assert proc.returncode == 2
    assert "unknown executor 'threads' (known: local, ray)" in proc.stderr.strip().splitlines()[-1]


def test_a_run_reads_the_plugins_format_on_the_plugins_executor(plugin_env: dict[str, str], tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    (src / "a.lines").write_text("first document about rivers and lakes\n\nsecond one, on mountains\n"
                                 "first document about rivers and lakes\n", encoding="utf-8")
    (src / "b.lines").write_text("a third document\n", encoding="utf-8")
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("stages:\n  - stage: normalize\n  - stage: exact_dedup\n", encoding="utf-8")
    outs = {}
    for executor in ("local", "threads"):
        out = tmp_path / executor
        proc = curate(plugin_env, "run", str(pipeline), "--input", str(src),
                      "--output", str(out), "--executor", executor, "--workers", "2", "--keep-rejected",
                      *(["--executor-option", "prefix=toy"] if executor == "threads" else []))
        assert proc.returncode == 0, proc.stderr
        outs[executor] = out
    assert shard_ids(outs["local"]) == shard_ids(outs["threads"]) == [["a.lines:0", "a.lines:2"], ["b.lines:0"]]
    stats = read_stats(outs["threads"])
    assert stats["docs_in"] == 4 and stats["errors"] == 0
    bad = curate(plugin_env, "run", str(pipeline), "--input", str(src),
                 "--output", str(tmp_path / "bad"), "--executor", "threads", "--executor-option", "speed=9")
    assert bad.returncode == 2 and "executor 'threads' has no option speed (its options: prefix)" in bad.stderr


@pytest.mark.slow
def test_the_thread_executor_gives_the_default_pipelines_output_byte_for_byte(
        plugin_env: dict[str, str], default_pipeline: Path, tmp_path: Path) -> None:
    outs = {}
    for executor in ("local", "threads"):
        out = tmp_path / executor
        proc = curate(plugin_env, "run", str(default_pipeline), "--input", str(SAMPLE), "--output", str(out),
                      "--executor", executor, "--workers", "2", "--quiet")
        assert proc.returncode == 0, proc.stderr
        outs[executor] = out
    for sink in ("curated", "mixture"):
        files = sorted(p.relative_to(outs["local"]) for p in (outs["local"] / sink).rglob("*") if p.is_file())
        assert files and all((outs["local"] / f).read_bytes() == (outs["threads"] / f).read_bytes() for f in files)
