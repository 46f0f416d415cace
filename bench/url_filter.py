"""url_filter next to datatrove's URLFilter: agreement on generated URLs and speed per core.

The URLs are generated (seeded): registered domains under several public suffixes (``com``,
``co.uk``, ``com.au``, ...), with and without subdomains, paths of words some of which are
banned or soft-banned, some in capitals. The block list holds registered domains, subdomains,
a public suffix (``co.uk``) and full URLs; both filters get the same lists (datatrove's as
``extra_domains``/``extra_urls``/``banned_words``/``soft_banned_words`` with its bundled lists
off). datatrove's ``tldextract`` is made offline the same way as ours: ``TLDExtract(
suffix_list_urls=(), cache_dir=None)``, the snapshot in the package.

Reasons compared: datatrove's domain/subdomain/url -> ``blocklist``, hard_blacklisted ->
``banned_word``, soft_blacklisted -> ``soft_banned_words``. Disagreements are put in classes
by the documented differences. Speed: CPU seconds (Arrow single-threaded).

Run: ``python bench/url_filter.py --scale small|full``; prints Markdown on stdout.
"""

from __future__ import annotations

import random
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import md_table, scale_arg  # noqa: E402
from quality import BATCH_ROWS, run_ours, timed  # noqa: E402

SCALES = {"small": 5_000, "full": 50_000}
SUFFIXES = ["com", "org", "net", "de", "fr", "co.uk", "org.uk", "com.au", "io", "info"]
WORDS = ["news", "blog", "shop", "travel", "recipes", "sport", "video", "photos", "forum", "wiki", "music",
         "games", "home", "garden", "cars", "jobs"]
BANNED = ["porn", "xxx", "warez"]
SOFT = ["sex", "cam", "girls", "hot", "live", "adult"]
REASONS = {"domain": "url_filter:blocklist", "subdomain": "url_filter:blocklist", "url": "url_filter:blocklist",
           "hard_blacklisted": "url_filter:banned_word", "soft_blacklisted": "url_filter:soft_banned_words"}


def make_urls(n: int, seed: int = 7) -> tuple[list[str], dict[str, list[str]]]:
    """(URLs, lists): the URLs and the block list entries and word lists they are filtered with."""
    rng = random.Random(seed)
    names = [f"{rng.choice(WORDS)}{rng.choice(WORDS)}{i}" for i in range(400)]
    registered = [f"{name}.{rng.choice(SUFFIXES)}" for name in names]
    subdomains = ["", "", "www.", "m.", "blog.", "shop.eu.", "a.b.c.", "old.blog."]
    urls = []
    for _ in range(n):
        host = rng.choice(subdomains) + rng.choice(registered)
        path = "/".join(rng.choice(WORDS + BANNED[:1] + SOFT[:3]) if rng.random() < 0.8 else rng.choice(WORDS)
                        for _ in range(rng.randint(0, 3)))
        if rng.random() < 0.05:
            path = path.upper()
        url = f"{rng.choice(['http', 'https'])}://{host}/{path}"
        urls.append(url + (f"?id={rng.randint(1, 99)}" if rng.random() < 0.2 else ""))
    blocked = rng.sample(registered, 40) + ["www." + d for d in rng.sample(registered, 20)]
    blocked += ["blog." + d for d in rng.sample(registered, 10)] + ["co.uk"]
    blocked_urls = rng.sample(urls, 50)
    return urls, {"domains": blocked, "urls": blocked_urls, "banned": BANNED, "soft": SOFT}


def datatrove_filter(lists: dict[str, list[str]]) -> Any:
    from datatrove.pipeline.filters import URLFilter
    from tldextract import TLDExtract

    flt = URLFilter(extra_domains=lists["domains"], extra_urls=lists["urls"], banned_words=lists["banned"],
                    soft_banned_words=lists["soft"], soft_word_threshold=2, use_integrated_lists=False)
    flt.tldextractor = TLDExtract(suffix_list_urls=(), cache_dir=None)  # the bundled snapshot only
    return flt


def run_datatrove(flt: Any, urls: list[str]) -> list[str | None]:
    from datatrove.data import Document

    out: list[str | None] = []
    for i, url in enumerate(urls):
        res = flt.filter(Document(text="", id=str(i), metadata={"url": url}))
        out.append(None if res is True else REASONS[res[1]])
    return out


def classify(url: str, ours: str | None, theirs: str | None, lists: dict[str, list[str]]) -> str:
    import pyarrow as pa

    from curate.stages.url_filter import hosts_and_keys

    host = hosts_and_keys(pa.array([url]))[0].to_pylist()[0]
    if ours == "url_filter:blocklist" and any(host.endswith("." + d) for d in lists["domains"] if d.count(".") > 1):
        return "curate only: a subdomain of a listed subdomain (datatrove matches listed subdomains exactly)"
    if theirs is None and ours in ("url_filter:banned_word", "url_filter:soft_banned_words") and url != url.lower():
        return "curate only: a word in capitals (curate lower-cases URL words)"
    if ours == "url_filter:blocklist" and theirs is None and url not in lists["urls"]:
        return "curate only: a listed URL with another scheme, case or trailing slash (curate compares normalised URLs)"
    return f"other ({ours} vs {theirs})"


def main() -> None:
    import pyarrow as pa

    pa.set_cpu_count(1)
    urls, lists = make_urls(SCALES[scale_arg()])
    tmp = Path(tempfile.mkdtemp(prefix="curate-url-bench-"))
    files = {}
    for name, key in (("blocklist", None), ("banned_words", "banned"), ("soft_banned_words", "soft")):
        path = tmp / f"{name}.txt"
        entries = lists["domains"] + lists["urls"] if key is None else lists[key]
        path.write_text("\n".join(entries) + "\n")
        files[name] = str(path)
    table = pa.table({"id": [str(i) for i in range(len(urls))], "url": urls})
    flt = datatrove_filter(lists)
    t_dt, theirs = timed(lambda: run_datatrove(flt, urls), 2)
    t_ours, out = timed(lambda: run_ours("url_filter", table, {**files, "soft_word_threshold": 2}), 3)
    ours = out.column("reject_reason").to_pylist()
    same = sum(a == b for a, b in zip(ours, theirs))
    same_decision = sum((a is None) == (b is None) for a, b in zip(ours, theirs))
    classes = Counter(classify(u, a, b, lists) for u, a, b in zip(urls, ours, theirs) if a != b)
    rejected = Counter(r for r in ours if r)
    rows = [["same decision (keep / reject)", same_decision, f"{same_decision / len(urls):.4f}"],
            ["same decision and reason", same, f"{same / len(urls):.4f}"]]
    rows += [[c, n, f"{n / len(urls):.4f}"] for c, n in classes.most_common()]
    speed = [["datatrove URLFilter", f"{t_dt:.3f}", f"{len(urls) / t_dt:,.0f}", "1.0"],
             ["curate url_filter", f"{t_ours:.3f}", f"{len(urls) / t_ours:,.0f}", f"{t_dt / t_ours:.1f}"]]
    print(f"### url_filter next to datatrove URLFilter ({len(urls):,} URLs, batches of {BATCH_ROWS} rows)\n\n"
          f"Rejected by curate: {dict(rejected)}\n\n"
          + md_table(["URLs", "count", "share"], rows) + "\n\n"
          + md_table(["implementation", "CPU s", "URLs/CPU-s", "speed-up"], speed))


if __name__ == "__main__":
    main()
