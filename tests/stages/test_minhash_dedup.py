"""minhash_dedup end to end through the real runner: planted near duplicates, keep rule,
annotate-only, determinism, short / empty / non-Latin text, --verify, exact dedup counts."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import schema
from curate.api import Pipeline
from curate.errors import ConfigError
from curate.io.read import discover
from curate.stages.dedup.lsh import choose_bands
from curate.text.minhash import jaccard_of_sorted_sets, shingle_sets
from tests.conftest import read_output, rejected_dir, shard_ids, write_parquet

WORDS = np.array([f"tok{i}" for i in range(20000)])


def _doc(rng: np.random.Generator, n: int = 200) -> list[str]:
    return list(rng.choice(WORDS, size=n))


def _edit(rng: np.random.Generator, words: list[str], n_edits: int) -> list[str]:
    out = list(words)
    for i in rng.choice(len(out), size=n_edits, replace=False):
        out[i] = str(rng.choice(WORDS))
    return out


def _dedup(src: Path, out: Path, workers: int = 1, **params) -> Path:
    Pipeline.from_stages([("minhash_dedup", params)]).run(src, out, workers=workers, keep_rejected=True,
                                                          overwrite=True)
    return out


def _rejected(out: Path) -> pa.Table:
    return pq.read_table(rejected_dir(out, "minhash_dedup"))


def _true_jaccard(texts: list[str], pairs: list[tuple[int, int]]) -> np.ndarray:
    values, offsets = shingle_sets(pa.array(texts), 5)
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])

    def gather(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lengths = offsets[idx + 1] - offsets[idx]
        offs = np.r_[0, np.cumsum(lengths)]
        return np.concatenate([values[offsets[i] : offsets[i + 1]] for i in idx]), offs

    return jaccard_of_sorted_sets(*gather(a), *gather(b))


def test_planted_near_duplicates_found_and_unique_documents_kept(sample_dir: Path, tmp_path: Path) -> None:
    out = _dedup(sample_dir, tmp_path / "out")
    rows = []
    for path, _ in discover(sample_dir):
        rows += pq.read_table(path, columns=["id", "text", "true_dup_group", "true_dup_kind"]).to_pylist()
    kept = set(read_output(out).column(schema.ID).to_pylist())
    rejected = _rejected(out)
    removed = set(rejected.column(schema.ID).to_pylist())
    assert len(kept) + len(removed) == len(rows) and kept.isdisjoint(removed)
    assert set(rejected.column(schema.REJECT_REASON).to_pylist()) == {schema.REASON_NEAR_DUPLICATE}

    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        if r["true_dup_group"] is not None:
            groups[r["true_dup_group"]].append(i)
    pairs = [(m[x], m[y]) for m in groups.values() for x in range(len(m)) for y in range(x + 1, len(m))]
    jac = _true_jaccard([r["text"] for r in rows], pairs)
    found = np.array([not (rows[a]["id"] in kept and rows[b]["id"] in kept) for a, b in pairs])
    assert (jac >= 0.9).sum() > 50 and (jac >= 0.8).sum() > (jac >= 0.9).sum()
    assert found[jac >= 0.9].all()
    assert found[jac >= 0.8].mean() >= 0.95
    # documents outside the planted groups have no near duplicate: all of them are kept
    unique = {r["id"] for r in rows if r["true_dup_group"] is None}
    assert unique <= kept
    # every removed document points at a kept document of its own planted group
    group_of = {r["id"]: r["true_dup_group"] for r in rows}
    for doc_id, cluster_id in zip(rejected.column(schema.ID).to_pylist(),
                                  rejected.column(schema.DUP_CLUSTER_ID).to_pylist(), strict=True):
        assert cluster_id in kept and group_of[cluster_id] == group_of[doc_id]


def test_annotate_only_writes_every_document_with_its_cluster(sample_dir: Path, tmp_path: Path) -> None:
    removed_run = _dedup(sample_dir, tmp_path / "removed")
    out = _dedup(sample_dir, tmp_path / "annotated", annotate_only=True)
    table = read_output(out)
    assert table.num_rows == 2000 and not (rejected_dir(out)).exists()
    ids = table.column(schema.ID).to_pylist()
    clusters = table.column(schema.DUP_CLUSTER_ID).to_pylist()
    counts = table.column(schema.DUP_COUNT).to_pylist()
    members: dict[str, list[str]] = defaultdict(list)
    for doc_id, cluster in zip(ids, clusters, strict=True):
        members[cluster].append(doc_id)
    keepers = {c for c, m in members.items() if len(m) > 1}
    assert keepers and all(c in m for c, m in members.items())  # the keeper is in its own cluster
    for doc_id, cluster, count in zip(ids, clusters, counts, strict=True):
        # the keeper stands for its whole cluster, every other member for itself only
        assert count == (len(members[cluster]) if doc_id == cluster else 1)
    # the same decisions as a removing run: the kept ids are exactly the cluster keepers + singletons
    assert set(read_output(removed_run).column(schema.ID).to_pylist()) == set(members)


def test_same_output_for_one_and_two_workers_and_two_runs(sample_dir: Path, tmp_path: Path) -> None:
    runs = [_dedup(sample_dir, tmp_path / f"run{i}", workers=w, verify=True) for i, w in enumerate((1, 2, 1))]
    first = read_output(runs[0])
    for out in runs[1:]:
        assert shard_ids(out) == shard_ids(runs[0])
        assert read_output(out).equals(first)
        assert _rejected(out).sort_by("id").equals(_rejected(runs[0]).sort_by("id"))


def test_small_batches_give_the_same_result(sample_dir: Path, tmp_path: Path) -> None:
    a = _dedup(sample_dir, tmp_path / "a")
    b = tmp_path / "b"
    Pipeline.from_stages(["minhash_dedup"]).run(sample_dir, b, workers=1, keep_rejected=True, batch_rows=37)
    assert read_output(a).equals(read_output(b))


def _cluster_input(tmp_path: Path, texts: list[str], ids: list[str], **extra) -> Path:
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": ids, "text": texts, **extra})
    return src


def test_keep_rule_highest_quality_then_longest_then_smallest_id(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    base = _doc(rng)
    longer = " ".join(base + ["extra"])
    texts = [" ".join(base), longer, " ".join(base)]
    # 1) quality decides, even against a longer text
    src = _cluster_input(tmp_path / "q", texts, ["a", "b", "c"], quality_score=[0.2, 0.5, 0.9])
    out = _dedup(src, tmp_path / "q_out")
    assert read_output(out).column(schema.ID).to_pylist() == ["c"]
    # null quality counts as the lowest
    src = _cluster_input(tmp_path / "qn", texts, ["a", "b", "c"], quality_score=[0.1, None, None])
    assert read_output(_dedup(src, tmp_path / "qn_out")).column(schema.ID).to_pylist() == ["a"]
    # 2) no quality column: the longest text
    src = _cluster_input(tmp_path / "len", texts, ["a", "b", "c"])
    kept = read_output(_dedup(src, tmp_path / "len_out"))
    assert kept.column(schema.ID).to_pylist() == ["b"]
    assert kept.column(schema.DUP_COUNT).to_pylist() == [3]
    assert kept.column(schema.DUP_CLUSTER_ID).to_pylist() == ["b"]
    # 3) equal length and quality: the smallest id, whatever the input order
    src = _cluster_input(tmp_path / "id", [texts[0]] * 3, ["m", "k", "z"], quality_score=[0.5, 0.5, 0.5])
    out = _dedup(src, tmp_path / "id_out")
    assert read_output(out).column(schema.ID).to_pylist() == ["k"]
    assert sorted(_rejected(out).column(schema.DUP_CLUSTER_ID).to_pylist()) == ["k", "k"]


def test_documents_shorter_than_n_words(tmp_path: Path) -> None:
    texts = ["Hello world", "hello WORLD", "hello world again", "again hello world", "one"]
    src = _cluster_input(tmp_path, texts, ["a", "b", "c", "d", "e"])
    out = _dedup(src, tmp_path / "out")
    # the whole word sequence is the one shingle: only the first two are the same document
    assert read_output(out).column(schema.ID).to_pylist() == ["a", "c", "d", "e"]
    assert _rejected(out).column(schema.DUP_CLUSTER_ID).to_pylist() == ["a"]


def test_empty_punctuation_only_and_non_latin_text(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    zh = "".join(rng.choice(list("的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家"), 400))
    zh_near = zh[:200] + "猫" + zh[201:]
    zh_other = "".join(rng.choice(list("天地玄黄宇宙洪荒日月盈昃辰宿列张寒来暑往秋收冬藏闰余成岁律吕调阳云腾致雨露结为霜金生丽水玉出昆冈"), 400))
    ru = " ".join(rng.choice(["привет", "мир", "дом", "кошка", "собака", "солнце", "река", "лес", "город", "книга"], 300))
    ru_near = ru.replace("книга", "тетрадь", 1)
    th = "".join(rng.choice(list("กขคงจฉชซญดตถทนบปผพฟมยรลวศสหอ"), 300))
    texts = ["", "   ", "!!! ??? ...", "--- *** ---", zh, zh_near, zh_other, ru, ru_near, th, th]
    ids = [f"d{i:02d}" for i in range(len(texts))]
    src = _cluster_input(tmp_path, texts, ids)
    out = _dedup(src, tmp_path / "out")
    kept = read_output(out).column(schema.ID).to_pylist()
    removed = {}
    for stage in ("read", "minhash_dedup"):
        part = pq.read_table(rejected_dir(out, stage))
        removed.update(zip(part.column(schema.ID).to_pylist(), part.column(schema.REJECT_REASON).to_pylist()))
    # empty texts are rejected by the reader; texts without words are never near duplicates
    assert removed["d00"] == schema.REASON_EMPTY_TEXT and removed["d01"] == schema.REASON_EMPTY_TEXT
    assert {"d02", "d03"} <= set(kept)
    # one edited character in 400 Chinese characters, one word in 300 Russian ones: duplicates
    near = {k for k, v in removed.items() if v == schema.REASON_NEAR_DUPLICATE}
    assert len(near) == 3 and "d10" in near  # the identical Thai texts: the smaller id stays
    assert len(near & {"d04", "d05"}) == 1 and len(near & {"d07", "d08"}) == 1
    assert {"d06", "d09"} <= set(kept)  # different Chinese text, the Thai keeper


def test_signature_check_and_verify_remove_lsh_false_positives(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    base = _doc(rng, 400)
    similar = _edit(rng, base, 20)  # J around 0.6
    copy = _edit(rng, base, 1)  # J around 0.98
    texts = [" ".join(base), " ".join(similar), " ".join(copy)]
    jac = _true_jaccard(texts, [(0, 1), (0, 2)])
    assert 0.5 < jac[0] < 0.7 and jac[1] > 0.95
    src = _cluster_input(tmp_path, texts, ["a", "b", "c"])
    # 56 bands of 2 rows make the J ~ 0.6 pair a candidate with probability ~1
    loose = _dedup(src, tmp_path / "loose", bands=56, rows=2, signature_check=False)
    assert read_output(loose).num_rows == 1
    for params, check in (({}, "signature"), ({"verify": True}, "exact")):
        out = tmp_path / check
        result = Pipeline.from_stages([("minhash_dedup", {"bands": 56, "rows": 2, **params})]).run(
            src, out, workers=1, keep_rejected=True)
        kept = read_output(out).column(schema.ID).to_pylist()
        assert len(kept) == 2 and "b" in kept  # the J ~ 0.6 document stands alone
        summary = next(s for s in result.stages if s["stage"] == "minhash_dedup")["summary"]
        assert summary["pair_check"] == check
        assert summary["candidate_pairs"] == 2 and summary["pairs_kept"] == 1


def test_exact_dedup_counts_are_summed(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    base = " ".join(_doc(rng))
    near = base + " postscript"
    texts = [base, base, base, near, near, " ".join(_doc(rng))]
    src = _cluster_input(tmp_path, texts, ["a", "b", "c", "d", "e", "f"])
    out = tmp_path / "out"
    Pipeline.from_stages(["exact_dedup", "minhash_dedup"]).run(src, out, workers=1, keep_rejected=True)
    kept = read_output(out)
    assert kept.column(schema.ID).to_pylist() == ["d", "f"]  # "d" is the longer text
    assert kept.column(schema.DUP_COUNT).to_pylist() == [5, 1]
    near_rejected = _rejected(out)
    assert near_rejected.column(schema.ID).to_pylist() == ["a"]
    assert near_rejected.column(schema.DUP_COUNT).to_pylist() == [3]  # it stood for its 3 exact copies


def test_band_choice_and_parameter_errors() -> None:
    best = choose_bands(0.8, 112)
    assert (best.bands, best.rows) == (14, 8) and best.p_detect >= 0.9
    assert abs(best.s_curve_threshold - (1 / 14) ** (1 / 8)) < 1e-12
    assert (choose_bands(0.8, 112, bands=16).rows, choose_bands(0.8, 112, rows=4).bands) == (7, 28)
    with pytest.raises(ConfigError, match="bands"):
        Pipeline.from_stages([("minhash_dedup", {"bands": 20, "rows": 8})])
    with pytest.raises(ConfigError, match="threshold"):
        Pipeline.from_stages([("minhash_dedup", {"threshold": 1.5})])


def test_empty_shard_and_shard_without_duplicates(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    base = " ".join(_doc(rng))
    src = tmp_path / "in"
    write_parquet(src / "a.parquet", {"id": pa.array([], pa.string()), "text": pa.array([], pa.string())})
    write_parquet(src / "b.parquet", {"id": ["b1", "b2"], "text": [base, base + " tail"]})
    write_parquet(src / "c.parquet", {"id": ["c1"], "text": [" ".join(_doc(rng))]})
    out = _dedup(src, tmp_path / "out")
    assert shard_ids(out) == [[], ["b2"], ["c1"]]
    assert read_output(out).column(schema.DUP_COUNT).to_pylist() == [2, 1]
