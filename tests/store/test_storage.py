"""The storage layer offline: URI parsing, no silent local fallback, missing extras, options.

gs:// and hf:// have no server here: what runs offline is tested (parsing, the missing-extra
error when gcsfs is absent, hf:// refused as an output, HfFileSystem built from options).
Listing and reading a real bucket or Hub dataset is not tested.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from curate.errors import ConfigError
from curate.pipeline.settings import RunSettings
from curate.store.layout import WorkStore
from curate.store.storage import Storage, nest_options, parse, parse_option, with_suffix
from tests.conftest import SAMPLE
from tests.in_process import curate


@pytest.mark.parametrize("text,scheme,path", [
    ("s3://bucket/a/b", "s3", "bucket/a/b"),
    ("S3://bucket/a/", "s3", "bucket/a"),
    ("gs://bucket/x.parquet", "gs", "bucket/x.parquet"),
    ("hf://datasets/owner/name/data", "hf", "datasets/owner/name/data"),
    ("memory://x/y", "memory", "/x/y"),
])
def test_uris_parse_to_scheme_and_path(text: str, scheme: str, path: str) -> None:
    loc = parse(text)
    assert (loc.scheme, loc.path) == (scheme, path)
    assert parse(loc.uri) == loc


def test_local_paths_and_file_uris_are_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert parse("rel/dir").path == str(tmp_path / "rel" / "dir")
    assert parse(f"file://{tmp_path}/a").path == str(tmp_path / "a")
    assert parse("a:b").is_local  # a colon in a local name that is no scheme's


@pytest.mark.parametrize("text,message", [
    ("s3:/bucket/out", "looks like a s3:// URI but is not one"),
    ("s3//bucket/out", "looks like a s3:// URI but is not one"),
    ("gs:bucket", "looks like a gs:// URI but is not one"),
    ("ftp://host/x", "unsupported storage scheme 'ftp://'"),
    ("s3://", "names no bucket"),
])
def test_strings_that_are_not_uris_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse(text)


def test_storage_options_parse_and_nest() -> None:
    assert parse_option("anon=true") == ("anon", True)
    assert parse_option("endpoint_url=http://127.0.0.1:9000") == ("endpoint_url", "http://127.0.0.1:9000")
    assert parse_option("max_concurrency=4") == ("max_concurrency", 4)
    assert nest_options({"client_kwargs.region_name": "eu-west-1", "anon": False}) == \
        {"client_kwargs": {"region_name": "eu-west-1"}, "anon": False}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_option("novalue")


def test_storage_options_are_settings_but_never_fingerprinted() -> None:
    s = RunSettings.resolve({"storage_options": {"key": "AKIA", "secret": "s3cr3t"}}, storage_options={"secret": "x"},
                            scratch="/tmp/s")
    assert s.storage_options == {"key": "AKIA", "secret": "x"}  # the CLI/API overrides key by key
    assert s.storage.options == s.storage_options and s.storage.scratch == "/tmp/s"
    assert "storage_options" not in s.fingerprint() and "scratch" not in s.fingerprint()
    assert "s3cr3t" not in str(s.fingerprint()) and "AKIA" not in str(s.fingerprint())


def test_a_missing_extra_names_it() -> None:
    try:
        import gcsfs  # noqa: F401
        pytest.skip("environment: gcsfs is installed here")
    except ImportError:
        pass
    with pytest.raises(ConfigError, match=r"gs:// needs gcsfs: pip install 'curate\[gcs\]'"):
        WorkStore.open("gs://bucket/out")


def test_hf_is_read_only_and_its_filesystem_is_huggingface_hub() -> None:
    pytest.importorskip("huggingface_hub")
    from huggingface_hub import HfFileSystem

    with pytest.raises(ConfigError, match="read only"):
        WorkStore.open("hf://datasets/owner/name/out")
    raw = Storage({"token": False}).files("hf").raw  # built offline; nothing fetched
    assert isinstance(raw, HfFileSystem)


def test_with_suffix_on_paths_and_uris() -> None:
    assert with_suffix("s3://b/models/quality.bin", ".json") == "s3://b/models/quality.json"
    assert with_suffix("/m/lid.176.ftz", ".json") == "/m/lid.176.json"


@pytest.mark.parametrize("output,message", [
    ("s3:/bucket/out", "looks like a s3:// URI"),
    ("s3//bucket/out", "looks like a s3:// URI"),
    ("ftp://host/out", "unsupported storage scheme"),
    ("hf://datasets/o/n", "read only"),
])
def test_cli_refuses_a_bad_output_uri_with_one_line_and_writes_nothing(output: str, message: str,
                                                                       tmp_path: Path) -> None:
    pipe = tmp_path / "p.yaml"
    pipe.write_text("stages:\n  - stage: normalize\n")
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    r = curate("run", str(pipe), "--input", str(SAMPLE), "--output", output, "--quiet", cwd=cwd)
    assert r.returncode == 2, r.stderr
    assert message in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert list(cwd.iterdir()) == []  # no local directory named 's3:' (the old silent fallback)


def test_cli_storage_option_needs_key_value(tmp_path: Path) -> None:
    pipe = tmp_path / "p.yaml"
    pipe.write_text("stages:\n  - stage: normalize\n")
    r = curate("run", str(pipe), "--input", str(SAMPLE), "--output", str(tmp_path / "o"), "--storage-option",
               "oops")
    assert r.returncode == 2 and "KEY=VALUE" in r.stderr
