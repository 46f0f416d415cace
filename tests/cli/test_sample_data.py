"""The synthetic corpus generator: determinism, planted duplicates, labels, formats, languages."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq
import pytest

from curate import schema
from curate.errors import ConfigError
from curate.sample_data import DOMAINS, LANGUAGES, QUALITIES, generate, language_samples

N = 600


def _read_dir(path: Path, pattern: str = "shard-*.parquet") -> pa.Table:
    files = sorted(path.glob(pattern))
    return pa.concat_tables(pq.read_table(f) for f in files)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict, list[dict]]:
    out = tmp_path_factory.mktemp("corpus")
    summary = generate(out, n_docs=N, seed=7, n_shards=4)
    return out, summary, _read_dir(out).to_pylist()


def _word_edit_distance(a: list[str], b: list[str]) -> int:
    """Word-level Levenshtein distance, one numpy pass per row of the DP table."""
    vocab = {w: i for i, w in enumerate(set(a) | set(b))}
    x = np.array([vocab[w] for w in a])
    y = np.array([vocab[w] for w in b])
    cols = np.arange(len(y) + 1)
    prev = cols.copy()
    for i in range(1, len(x) + 1):
        # substitution/match from prev[j-1], deletion from prev[j]; insertion (cur[j-1] + 1) is
        # folded in with a running minimum of cur[k] - k.
        tmp = np.empty_like(prev)
        tmp[0] = i
        tmp[1:] = np.minimum(prev[1:] + 1, prev[:-1] + (x[i - 1] != y))
        prev = np.minimum.accumulate(tmp - cols) + cols
    return int(prev[-1])


def test_edit_distance_helper():
    assert _word_edit_distance("a b c d".split(), "a b c d".split()) == 0
    assert _word_edit_distance("a b c d".split(), "a x c d".split()) == 1
    assert _word_edit_distance("a b c d".split(), "a c d".split()) == 1
    assert _word_edit_distance("a b c d".split(), "a b n c d".split()) == 1
    assert _word_edit_distance("a b c".split(), "x y".split()) == 3


def test_same_arguments_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    sa = generate(a, n_docs=300, seed=3, n_shards=3)
    sb = generate(b, n_docs=300, seed=3, n_shards=3)
    generate(c, n_docs=300, seed=4, n_shards=3)
    assert sa == sb
    names = sorted(p.name for p in a.iterdir())
    assert names == ["shard-00000.parquet", "shard-00001.parquet", "shard-00002.parquet"]
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes()
    assert _read_dir(a).column(schema.TEXT) != _read_dir(c).column(schema.TEXT)


def test_shard_count_only_splits_the_sequence(tmp_path):
    # Documents are generated in a global order independent of n_shards.
    generate(tmp_path / "one", n_docs=200, seed=5, n_shards=1)
    generate(tmp_path / "five", n_docs=200, seed=5, n_shards=5)
    one, five = _read_dir(tmp_path / "one"), _read_dir(tmp_path / "five")
    assert one.equals(five)
    assert [pq.read_metadata(f).num_rows for f in sorted((tmp_path / "five").iterdir())] == [40] * 5


def test_columns_ids_and_labels(corpus):
    out, summary, rows = corpus
    table = _read_dir(out)
    assert table.column_names == [
        schema.ID, schema.TEXT, schema.URL, schema.TRUE_DOMAIN, schema.TRUE_QUALITY,
        schema.TRUE_DUP_GROUP, schema.TRUE_DUP_KIND, schema.TRUE_EDIT_RATE,
    ]
    ids = [r[schema.ID] for r in rows]
    assert len(ids) == N == len(set(ids))
    assert ids[0] == "doc-0000001" and ids[-1] == f"doc-{N:07d}"
    assert all(r[schema.TEXT] for r in rows)
    assert all(r[schema.URL].startswith("https://") for r in rows)
    domains = Counter(r[schema.TRUE_DOMAIN] for r in rows)
    qualities = Counter(r[schema.TRUE_QUALITY] for r in rows)
    assert set(domains) == set(DOMAINS) and set(qualities) == set(QUALITIES)
    assert summary["domains"] == {d: domains[d] for d in DOMAINS}
    assert summary["qualities"] == {q: qualities[q] for q in QUALITIES}
    # Proportions close to the documented 30/30/25/15 mix.
    for q, p in zip(QUALITIES, (0.30, 0.30, 0.25, 0.15), strict=True):
        assert abs(qualities[q] / N - p) < 0.02


def test_planted_duplicate_counts_match_summary(corpus):
    _, summary, rows = corpus
    kinds = Counter(r[schema.TRUE_DUP_KIND] for r in rows)
    assert kinds["exact"] == summary["exact_copies"] == round(0.05 * N)
    assert kinds["near"] == summary["near_copies"] == round(0.08 * N)
    groups = {r[schema.TRUE_DUP_GROUP] for r in rows if r[schema.TRUE_DUP_GROUP] is not None}
    assert len(groups) == summary["dup_groups"] == kinds["original"]
    assert all(re.fullmatch(r"g\d{6}", g) for g in groups)
    for r in rows:  # group and kind are both set or both null; edit rate only on near copies
        assert (r[schema.TRUE_DUP_GROUP] is None) == (r[schema.TRUE_DUP_KIND] is None)
        assert (r[schema.TRUE_EDIT_RATE] is not None) == (r[schema.TRUE_DUP_KIND] == "near")


def _groups(rows: list[dict]) -> dict[str, list[tuple[int, dict]]]:
    out: dict[str, list[tuple[int, dict]]] = {}
    for i, r in enumerate(rows):
        if r[schema.TRUE_DUP_GROUP] is not None:
            out.setdefault(r[schema.TRUE_DUP_GROUP], []).append((i, r))
    return out


def test_copies_follow_their_original_and_inherit_labels(corpus):
    _, _, rows = corpus
    for members in _groups(rows).values():
        (first_pos, original), *copies = members
        assert original[schema.TRUE_DUP_KIND] == "original"  # the original comes first
        assert copies, "an original without copies"
        for _, c in copies:
            assert c[schema.TRUE_DUP_KIND] in ("exact", "near")
            assert c[schema.TRUE_DOMAIN] == original[schema.TRUE_DOMAIN]
            assert c[schema.TRUE_QUALITY] == original[schema.TRUE_QUALITY]
            if c[schema.TRUE_DUP_KIND] == "exact":
                assert c[schema.TEXT] == original[schema.TEXT]
                assert c[schema.ID] != original[schema.ID]
            else:
                assert c[schema.TEXT] != original[schema.TEXT]


def test_copies_are_scattered(corpus):
    _, _, rows = corpus
    shard_of = lambda pos: pos * 4 // N  # noqa: E731 - shards are equal slices of the sequence
    gaps, other_shard, n = [], 0, 0
    for members in _groups(rows).values():
        (p0, _), *copies = members
        for p, _ in copies:
            gaps.append(p - p0)
            other_shard += shard_of(p) != shard_of(p0)
            n += 1
    assert sum(g == 1 for g in gaps) / n < 0.1
    assert np.median(gaps) > N / 10
    assert other_shard / n > 0.3


def test_near_copies_edit_fraction_matches_truth(corpus):
    _, _, rows = corpus
    checked = 0
    for members in _groups(rows).values():
        (_, original), *copies = members
        orig_words = original[schema.TEXT].split()
        for _, c in copies:
            if c[schema.TRUE_DUP_KIND] != "near":
                continue
            assert len(orig_words) >= 150  # long enough for MinHash
            rate = c[schema.TRUE_EDIT_RATE]
            assert 0.004 <= rate <= 0.101
            measured = _word_edit_distance(orig_words, c[schema.TEXT].split()) / len(orig_words)
            assert abs(measured - rate) <= 1.0 / len(orig_words) + 1e-9, (c[schema.ID], measured, rate)
            checked += 1
    assert checked == round(0.08 * N)


def test_edit_rates_spread_over_range(tmp_path):
    generate(tmp_path, n_docs=1000, seed=2, n_shards=1, exact_dup_rate=0.0, near_dup_rate=0.2)
    rates = [r for r in _read_dir(tmp_path).column(schema.TRUE_EDIT_RATE).to_pylist() if r is not None]
    assert len(rates) == 200
    assert min(rates) < 0.015 and max(rates) > 0.09
    assert 0.04 < float(np.median(rates)) < 0.065


def test_tiers_look_like_their_label(corpus):
    _, _, rows = corpus
    by_q: dict[str, list[str]] = {}
    for r in rows:
        by_q.setdefault(r[schema.TRUE_QUALITY], []).append(r[schema.TEXT])
    high_words = [len(t.split()) for t in by_q["high"]]
    assert min(high_words) >= 150 and max(high_words) <= 800
    # high: paragraphs of full sentences; every line ends with terminal punctuation
    assert all(line.rstrip()[-1] in ".?" for t in by_q["high"] for line in t.split("\n") if line)
    assert all("\n\n" in t for t in by_q["high"] if len(t.split()) > 300)
    low_text = "\n".join(by_q["low"]).lower()
    assert "cookies" in low_text and "javascript" in low_text and "privacy policy" in low_text
    spam = by_q["spam"]
    assert sum(any(sym in t for sym in ("$$$", "!!!", "###")) for t in spam) > len(spam) / 4
    assert sum(any(line.isupper() for line in t.split("\n")) for t in spam) > len(spam) / 2
    # average type/token ratio orders the tiers: varied vocabulary in high, repetition in spam
    ttr = {q: np.mean([len(set(t.split())) / len(t.split()) for t in texts if len(t.split()) >= 50])
           for q, texts in by_q.items()}
    assert ttr["spam"] < ttr["low"] and ttr["spam"] < ttr["high"]


def test_realism_extras_non_latin_and_very_short(tmp_path):
    summary = generate(tmp_path, n_docs=3000, seed=1, n_shards=2)
    rows = _read_dir(tmp_path).to_pylist()
    cyrillic = [r for r in rows if re.search(r"[\u0400-\u04ff]{3}", r[schema.TEXT])]
    han = [r for r in rows if re.search(r"[\u4e00-\u9fff]{5}", r[schema.TEXT])]
    short = [r for r in rows if len(r[schema.TEXT].split()) <= 10 and r[schema.TEXT] not in {x[schema.TEXT] for x in han}]
    assert cyrillic and han
    assert len(cyrillic) + len(han) == summary["non_latin"]
    assert len(short) >= summary["very_short"] > 0


def test_heuristics_test_bed():
    """Gopher's rules (via datatrove's reference implementation) pass high and reject spam/low."""
    filters = pytest.importorskip("datatrove.pipeline.filters")
    from datatrove.data import Document

    rules = [filters.GopherQualityFilter(), filters.GopherRepetitionFilter()]
    table = language_free_corpus()
    passed: dict[str, list[bool]] = {}
    for r in table:
        ok = True
        for rule in rules:
            res = rule.filter(Document(text=r[schema.TEXT], id=r[schema.ID]))
            ok = ok and (res is True or (isinstance(res, tuple) and res[0]))
        passed.setdefault(r[schema.TRUE_QUALITY], []).append(ok)
    rate = {q: float(np.mean(v)) for q, v in passed.items()}
    assert rate["high"] >= 0.95
    assert rate["medium"] >= 0.8
    assert rate["low"] <= 0.5
    assert rate["spam"] <= 0.05


def language_free_corpus() -> list[dict]:
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        generate(d, n_docs=400, seed=11, n_shards=1)
        rows = _read_dir(Path(d)).to_pylist()
    return [r for r in rows if not re.search(r"[\u0400-\u04ff\u4e00-\u9fff]", r[schema.TEXT])]


def test_domains_are_learnable_by_fasttext(tmp_path):
    fasttext = pytest.importorskip("fasttext")
    generate(tmp_path / "c", n_docs=1200, seed=4, n_shards=1, exact_dup_rate=0.0, near_dup_rate=0.0)
    rows = [r for r in _read_dir(tmp_path / "c").to_pylist() if r[schema.TRUE_QUALITY] in ("high", "medium")]
    train, test = rows[: len(rows) * 3 // 4], rows[len(rows) * 3 // 4 :]
    path = tmp_path / "train.txt"
    path.write_text("".join(f"__label__{r[schema.TRUE_DOMAIN]} {' '.join(r[schema.TEXT].split())}\n" for r in train))
    model = fasttext.train_supervised(str(path), epoch=10, lr=0.5, dim=16, thread=1, seed=0, verbose=0)
    labels, _ = model.predict([" ".join(r[schema.TEXT].split()) for r in test])
    acc = np.mean([lab[0] == f"__label__{r[schema.TRUE_DOMAIN]}" for lab, r in zip(labels, test, strict=True)])
    assert acc > 0.9


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz"])
def test_jsonl_output_matches_parquet(tmp_path, fmt):
    generate(tmp_path / "pq", n_docs=120, seed=9, n_shards=2)
    summary = generate(tmp_path / "js", n_docs=120, seed=9, n_shards=2, fmt=fmt)
    assert summary["files"] == [f"shard-00000.{fmt}", f"shard-00001.{fmt}"]
    files = sorted((tmp_path / "js").iterdir())
    assert [f.name for f in files] == summary["files"]
    js = pa.concat_tables(pajson.read_json(f) for f in files).to_pylist()
    assert js == _read_dir(tmp_path / "pq").to_pylist()
    again = generate(tmp_path / "js2", n_docs=120, seed=9, n_shards=2, fmt=fmt)
    assert again == summary
    assert all((tmp_path / "js" / n).read_bytes() == (tmp_path / "js2" / n).read_bytes() for n in summary["files"])


def test_row_group_size(tmp_path):
    generate(tmp_path, n_docs=250, seed=0, n_shards=2, row_group_size=40)
    for f in sorted(tmp_path.iterdir()):
        md = pq.read_metadata(f)
        sizes = [md.row_group(i).num_rows for i in range(md.num_row_groups)]
        assert sizes == [40, 40, 40, 5]
        assert md.row_group(0).column(0).compression == "ZSTD"


def test_more_shards_than_docs_and_no_temp_files(tmp_path):
    generate(tmp_path, n_docs=3, seed=0, n_shards=5, exact_dup_rate=0.0, near_dup_rate=0.0)
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == [f"shard-{i:05d}.parquet" for i in range(5)]  # nothing hidden left
    assert sum(pq.read_metadata(f).num_rows for f in files) == 3


def test_reference_kind(tmp_path):
    summary = generate(tmp_path, n_docs=200, seed=0, n_shards=2, kind="reference")
    rows = _read_dir(tmp_path).to_pylist()
    assert summary["kind"] == "reference"
    assert {r[schema.TRUE_QUALITY] for r in rows} == {"high"}
    assert {r[schema.TRUE_DOMAIN] for r in rows} == set(DOMAINS)
    for r in rows:
        assert len(r[schema.TEXT].split()) >= 150
        assert all(line[-1] in ".?" for line in r[schema.TEXT].split("\n") if line)
    text = " ".join(r[schema.TEXT] for r in rows)
    assert "refers to" in text and "consists" in text  # encyclopedic templates


def test_bad_arguments(tmp_path):
    with pytest.raises(ConfigError, match="fmt"):
        generate(tmp_path, n_docs=10, fmt="csv")
    with pytest.raises(ConfigError, match="kind"):
        generate(tmp_path, n_docs=10, kind="books")
    with pytest.raises(ConfigError, match="n_docs"):
        generate(tmp_path, n_docs=0)
    with pytest.raises(ConfigError, match="too high"):
        generate(tmp_path, n_docs=100, exact_dup_rate=0.5, near_dup_rate=0.45)
    with pytest.raises(ConfigError, match="near_dup_rate"):
        generate(tmp_path, n_docs=100, near_dup_rate=1.5)


def test_language_samples():
    table = language_samples(50, seed=0)
    assert table.column_names == [schema.TEXT, schema.TRUE_LANGUAGE]
    assert Counter(table.column(schema.TRUE_LANGUAGE).to_pylist()) == {lang: 50 for lang in LANGUAGES}
    assert table.equals(language_samples(50, seed=0))
    assert not table.equals(language_samples(50, seed=1))
    rows = table.to_pylist()
    for r in rows:
        text, lang = r[schema.TEXT], r[schema.TRUE_LANGUAGE]
        if lang == "zh":
            assert " " not in text and re.search(r"[\u4e00-\u9fff]", text) and text.endswith("。")
        elif lang == "ru":
            assert re.search(r"[\u0400-\u04ff]", text) and not re.search(r"[a-z]", text)
        else:
            assert re.fullmatch(r"[^\u0400-\u04ff\u4e00-\u9fff]+", text) and text[-1] in ".?"
    german = " ".join(r[schema.TEXT] for r in rows if r[schema.TRUE_LANGUAGE] == "de").split()
    assert {"und", "der", "die", "das", "ist", "nicht"} <= set(german)


def test_language_samples_train_a_language_id_model(tmp_path):
    fasttext = pytest.importorskip("fasttext")
    train, test = language_samples(150, seed=0).to_pylist(), language_samples(40, seed=1).to_pylist()
    path = tmp_path / "lid.txt"
    path.write_text("".join(f"__label__{r[schema.TRUE_LANGUAGE]} {r[schema.TEXT]}\n" for r in train))
    model = fasttext.train_supervised(str(path), epoch=15, lr=0.5, dim=16, minn=2, maxn=4, thread=1, seed=0, verbose=0)
    labels, _ = model.predict([r[schema.TEXT] for r in test])
    acc = np.mean([lab[0] == f"__label__{r[schema.TRUE_LANGUAGE]}" for lab, r in zip(labels, test, strict=True)])
    assert acc > 0.95
