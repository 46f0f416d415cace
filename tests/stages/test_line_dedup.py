"""line_dedup through the runner: a boilerplate footer in many documents is removed everywhere
while the rest of each document stays; counts are corpus-wide across tasks and equal a plain
Python count; paragraphs; documents left too short are rejected with their text."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from curate.api import Pipeline
from curate.pipeline.registry import get_stage_class
from curate.sample_pages import c4_pages, sentence
from tests.conftest import read_output, rejected_dir, write_parquet


def _run(tmp_path: Path, shards: list[list[str]], **params) -> tuple[dict, dict]:
    for s, texts in enumerate(shards):
        write_parquet(tmp_path / "in" / f"s{s}.parquet", {"id": [f"s{s}-{i}" for i in range(len(texts))],
                                                        "text": texts})
    out = tmp_path / "out"
    Pipeline.from_stages([("line_dedup", params)]).run(tmp_path / "in", out, workers=2, keep_rejected=True,
                                                        overwrite=True)
    kept = {r["id"]: r for r in read_output(out).to_pylist()}
    rej = rejected_dir(out, "line_dedup")
    rejected = {r["id"]: r for r in pq.read_table(rej).to_pylist()} if rej.exists() else {}
    return kept, rejected


def test_a_footer_in_many_documents_is_removed_everywhere_and_the_rest_stays(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    footers = ["Copyright 2023 Example Media. All rights reserved.", "copyright 2024 example media -- all rights reserved",
               "  COPYRIGHT 1999 Exámple Media, all rights reserved!  "]  # one line after normalisation
    bodies = [[" ".join(sentence(rng, 9) for _ in range(2)) for _ in range(3)] for _ in range(60)]
    texts = ["\n".join(b + [footers[i % 3]]) for i, b in enumerate(bodies)]
    texts[5] = "\n".join([footers[0]] + bodies[5])  # the footer at the top
    kept, rejected = _run(tmp_path, [texts[:30], texts[30:]])
    assert not rejected and len(kept) == 60
    assert set(kept["s0-0"]) == {"id", "text", *get_stage_class("line_dedup").produces}
    for i, body in enumerate(bodies):
        row = kept[f"s{i // 30}-{i % 30}"]
        assert row["text"] == "\n".join(body)
        assert row["line_dedup_units_removed"] == 1
        assert row["line_dedup_bytes_removed"] == len(texts[i].encode()) - len(row["text"].encode())


def _normalize(unit: str) -> str:
    text = "".join(c for c in unicodedata.normalize("NFD", unit.lower()) if not unicodedata.category(c).startswith("M"))
    text = re.sub("[0-9]", "0", text)
    text = "".join(c for c in text if not unicodedata.category(c).startswith("P"))
    return " ".join(text.split())


def _reference(texts: list[str], sep: str, max_count: int) -> list[str]:
    """The rule written plainly: count normalised units over the corpus, drop the frequent ones."""
    counts = Counter(n for t in texts for u in t.split(sep) if (n := _normalize(u)))
    return [sep.join(u for u in t.split(sep) if counts[_normalize(u)] <= max_count or not _normalize(u))
            for t in texts]


def test_units_removed_equal_a_plain_python_count_across_tasks(tmp_path: Path) -> None:
    pages = [p.replace("\r\n", "\n").replace("\u2028", "\n") for p in c4_pages(300, seed=1)]
    for unit, sep, max_count in (("line", "\n", 1), ("line", "\n", 4), ("paragraph", "\n\n", 1)):
        kept, rejected = _run(tmp_path, [pages[:100], pages[100:220], pages[220:]], unit=unit,
                              max_count=max_count, min_chars_after=0)
        want = _reference(pages, sep, max_count)
        ids = [f"s0-{i}" for i in range(100)] + [f"s1-{i}" for i in range(120)] + [f"s2-{i}" for i in range(80)]
        assert not rejected
        assert [kept[i]["text"] for i in ids] == want
        assert sum(kept[i]["line_dedup_units_removed"] > 0 for i in ids) > 50


def test_documents_left_too_short_are_rejected_with_their_text(tmp_path: Path) -> None:
    nav = "Home | About | Contact"
    texts = [f"{nav}\nA long and unique line of real content stands here.", f"{nav}\nShort.", nav, "Unique."]
    kept, rejected = _run(tmp_path, [texts], min_chars_after=10)
    assert set(kept) == {"s0-0", "s0-3"} and kept["s0-0"]["text"].startswith("A long")
    assert kept["s0-3"]["line_dedup_units_removed"] == 0
    assert {k: r["reject_reason"] for k, r in rejected.items()} == {"s0-1": "line_dedup:too_short",
                                                                   "s0-2": "line_dedup:too_short"}
    assert rejected["s0-1"]["text"] == texts[1] and rejected["s0-1"]["line_dedup_units_removed"] == 1


def test_blank_lines_are_never_counted(tmp_path: Path) -> None:
    texts = ["First unique line.\n\n\nSecond unique line.", "Third line.\n\n...\nFourth line."]
    kept, _ = _run(tmp_path, [texts])
    assert [kept[f"s0-{i}"]["text"] for i in range(2)] == texts

