"""The url_filter stage: block lists (file and UT1 folder) by registered domain and subdomain,
URL entries, allowlist, banned and soft-banned words, config errors, the offline Public Suffix
List, and whole runs over Parquet on the local and the Ray executor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from curate import schema
from curate.api import Pipeline
from curate.errors import ConfigError
from curate.pipeline.stage import TaskContext
from curate.stages.url_filter import UrlFilter, hosts_and_keys
from curate.store.storage import Storage
from curate.text import domains
from tests.conftest import ROOT, read_output, write_parquet


def _ctx(tmp_path: Path) -> TaskContext:
    return TaskContext(task_index=0, n_tasks=1, source="test", seed=0)


def _file(path: Path, lines: list[str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def _reasons(stage: UrlFilter, urls: list[str | None], tmp_path: Path, column: str = "url") -> tuple[list, dict]:
    stage.check(Storage())
    ctx = _ctx(tmp_path)
    table = pa.table({"id": [str(i) for i in range(len(urls))], column: pa.array(urls, pa.string())})
    out = stage.process(table, ctx)
    assert out.num_rows == len(urls)
    reasons = (out.column(schema.REJECT_REASON).to_pylist() if schema.REJECT_REASON in out.column_names
               else [None] * len(urls))
    return reasons, ctx.counters


@pytest.fixture()
def ut1(tmp_path: Path) -> Path:
    root = tmp_path / "blacklists"
    _file(root / "adult" / "domains", ["# adult sites", "badsite.com", "sub.evil.co.uk", "co.uk", "*.wild.org",
                                        "Shouty.NET."])
    _file(root / "adult" / "urls", ["good.com/bad/page"])
    _file(root / "gambling" / "domains", ["casino.net"])
    (root / "README").write_text("not a category")
    return root


def test_ut1_folder_blocks_registered_domains_subdomains_and_urls(ut1: Path, tmp_path: Path) -> None:
    stage = UrlFilter(blocklist=str(ut1), categories=["adult"])
    urls = {
        "https://badsite.com/x": "url_filter:blocklist",
        "http://WWW.BadSite.com:8080/": "url_filter:blocklist",  # subdomain, case, port
        "https://user@deep.www.badsite.com/?q=1": "url_filter:blocklist",
        "https://notbadsite.com/": None,  # a different registered domain sharing a suffix
        "https://badsite.com.evil-mirror.org/": None,
        "https://a.sub.evil.co.uk/": "url_filter:blocklist",
        "https://evil.co.uk/": None,  # the parent of a listed subdomain is not listed
        "https://bbc.co.uk/news": None,  # `co.uk` is a public suffix: that entry is ignored
        "https://good.com/bad/page/#top": "url_filter:blocklist",
        "http://good.com/bad/page2": None,
        "https://x.wild.org/": "url_filter:blocklist",
        "https://shouty.net/a": "url_filter:blocklist",
        "https://casino.net/": None,  # category not chosen
        "": None,
        None: None,
    }
    reasons, counters = _reasons(stage, list(urls), tmp_path)
    assert reasons == list(urls.values())
    assert counters["url_filter:no_url"] == 2


def test_allowlist_wins_and_words_reject(tmp_path: Path) -> None:
    stage = UrlFilter(blocklist=_file(tmp_path / "block.txt", ["badsite.com"]),
                      allowlist=_file(tmp_path / "allow.txt", ["ok.badsite.com", "news.com/porn-free-zone"]),
                      banned_words=_file(tmp_path / "banned.txt", ["porn", "XXX"]),
                      soft_banned_words=_file(tmp_path / "soft.txt", ["sex", "cam", "girls"]))
    urls = {
        "https://badsite.com/": "url_filter:blocklist",
        "https://ok.badsite.com/porn": None,  # allowlisted domain: no rule applies
        "https://news.com/porn-free-zone": None,  # allowlisted URL
        "https://news.com/porn-stars": "url_filter:banned_word",
        "https://news.com/XXX/video": "url_filter:banned_word",
        "https://news.com/pornography": None,  # whole words only
        "https://news.com/Sex-Cam": "url_filter:soft_banned_words",
        "https://news.com/sex/sex/sex": None,  # one soft word, three times
        "https://badsite.com/porn": "url_filter:blocklist",  # the first rule names the reason
    }
    reasons, counters = _reasons(stage, list(urls), tmp_path)
    assert reasons == list(urls.values())
    assert counters["url_filter:allowlisted"] == 2


def test_soft_word_threshold_and_url_column(tmp_path: Path) -> None:
    soft = _file(tmp_path / "soft.txt", ["sex", "cam", "girls"])
    stage = UrlFilter(soft_banned_words=soft, soft_word_threshold=3, url_column="link")
    reasons, _ = _reasons(stage, ["https://a.com/sex-cam", "https://a.com/sex-cam-girls"], tmp_path, column="link")
    assert reasons == [None, "url_filter:soft_banned_words"]
    assert stage.required_columns() == (schema.ID, "link")


def test_missing_url_column_is_a_config_error(tmp_path: Path) -> None:
    stage = UrlFilter(banned_words=_file(tmp_path / "banned.txt", ["porn"]))
    with pytest.raises(ConfigError, match="no column 'url'.*set url_column"):
        stage.process(pa.table({"id": ["a"], "text": ["x"]}), _ctx(tmp_path))


def test_bad_config_is_a_clear_error(ut1: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="nothing to filter by"):
        UrlFilter()
    with pytest.raises(ConfigError, match="choose 'categories' from: adult, gambling"):
        UrlFilter(blocklist=str(ut1)).check(Storage())
    with pytest.raises(ConfigError, match=r"unknown categories \['porn'\].*available: adult, gambling"):
        UrlFilter(blocklist=str(ut1), categories=["porn"]).check(Storage())
    with pytest.raises(ConfigError, match="needs a UT1 folder"):
        UrlFilter(blocklist=_file(tmp_path / "b.txt", ["a.com"]), categories=["adult"]).check(Storage())
    with pytest.raises(ConfigError, match="banned_words '.*missing.txt' does not exist"):
        UrlFilter(banned_words=str(tmp_path / "missing.txt")).check(Storage())


def test_hosts_keys_and_public_suffixes() -> None:
    hosts, keys = hosts_and_keys(pa.array(["HTTPS://User:pw@WWW.A.com.:443/x/?q=1#frag", "a.com/x/", "ftp://[::1]/y",
                                           None, ""]))
    assert hosts.to_pylist() == ["www.a.com", "a.com", "[::1]", "", ""]
    assert keys.to_pylist() == ["www.a.com/x/?q=1", "a.com/x", "[::1]/y", "", ""]
    names = ["co.uk", "com", "example.com", "foo.kh", "www.ck", "x.ck", "blogspot.com", "xn--p1ai"]
    assert domains.is_public_suffix(pa.array(names)).to_pylist() == [True, True, False, True, False, True, False, True]


def test_the_public_suffix_list_is_read_without_network_or_cache(tmp_path: Path) -> None:
    """In a fresh interpreter whose sockets all fail and whose HOME is empty, the stages load the
    bundled list, and nothing is written to a cache directory."""
    code = """
import socket
def refuse(*a, **k):
    raise OSError("network access attempted")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import pyarrow as pa
from curate.text import domains
from curate.stages.pii import Pii
from curate.pipeline.stage import TaskContext
from pathlib import Path
assert len(domains.suffix_rules().exact) > 5000
assert domains.is_public_suffix(pa.array(["co.uk"])).to_pylist() == [True]
ctx = TaskContext(0, 1, "t", 0)
out = Pii().process(pa.table({"id": ["a"], "text": ["mail anna@web.de"]}), ctx)
assert out.column("text").to_pylist() == ["mail <EMAIL>"]
print("offline ok")
"""
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin",
           "XDG_CACHE_HOME": str(home / ".cache"), "TLDEXTRACT_CACHE": str(home / "tldextract")}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "offline ok" in proc.stdout
    assert list(home.iterdir()) == []




@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=pytest.mark.ray)])
def test_a_run_over_parquet_rejects_with_reasons_on_both_executors(executor: str, ut1: Path, tmp_path: Path,
                                                                   request: pytest.FixtureRequest) -> None:
    if executor == "ray":
        request.getfixturevalue("local_ray")
    hosts = ["badsite.com", "www.badsite.com", "news.org", "casino.net", "blog.example.org"]
    n = 300
    urls = [f"https://{hosts[i % len(hosts)]}/page/{i}" + ("/porn" if i % 7 == 0 else "") for i in range(n)]
    for shard in range(3):
        write_parquet(tmp_path / "in" / f"shard-{shard}.parquet",
                      {"id": [f"d{i}" for i in range(shard, n, 3)], "text": [f"doc {i}" for i in range(shard, n, 3)],
                       "url": urls[shard::3]})
    pipe = Pipeline.from_stages([("url_filter", {"blocklist": str(ut1), "categories": ["adult", "gambling"],
                                                 "banned_words": _file(tmp_path / "banned.txt", ["porn"])})])
    result = pipe.run(tmp_path / "in", tmp_path / "out", workers=2, executor=executor, keep_rejected=True)
    kept = read_output(tmp_path / "out")
    expect_blocked = sum(1 for u in urls if "badsite.com" in u or "casino.net" in u)
    expect_banned = sum(1 for u in urls if u.endswith("/porn") and "badsite" not in u and "casino" not in u)
    assert kept.num_rows == n - expect_blocked - expect_banned
    stage = next(s for s in result.stages if s["stage"] == "url_filter")
    assert stage["rejected"] == {"url_filter:blocklist": expect_blocked, "url_filter:banned_word": expect_banned}
    assert not any("badsite" in u or "casino" in u or u.endswith("/porn") for u in kept.column("url").to_pylist())
