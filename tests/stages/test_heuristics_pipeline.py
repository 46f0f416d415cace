"""The heuristic stages in real pipelines: composite = separate stages, sample-data behaviour by
quality tier, the runner's accounting through `filter`, and agreement with datatrove."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import schema
from curate.api import Pipeline
from curate.pipeline.registry import get_stage_class
from curate.stages.heuristics.composite import RULE_SETS
from tests.conftest import SAMPLE, data_dir, rejected_dir
from tests.heuristics_util import ctx


@pytest.fixture(scope="module")
def sample() -> pa.Table:
    return pa.concat_tables(pq.read_table(f) for f in sorted(SAMPLE.glob("*.parquet")))


@pytest.fixture(scope="module")
def scored(sample) -> pa.Table:
    return get_stage_class("heuristics")().process(sample, ctx())


def test_composite_equals_the_separate_stages(sample, scored):
    part = sample.slice(0, 300)
    separate = part
    for name in RULE_SETS:
        separate = get_stage_class(name)().process(separate, ctx())
    assert separate.equals(scored.slice(0, 300))


def test_composite_passes_parameters_to_each_set(sample):
    stage = get_stage_class("heuristics")(sets=["c4"], c4={"min_sentences": 1000})
    out = stage.process(sample.slice(0, 50), ctx())
    assert set(out.column("c4_reject").to_pylist()) == {"sentences"}
    assert "gopher_quality_reject" not in out.column_names


def test_composite_rejects_unknown_sets_and_stray_parameters():
    from curate.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown rule set"):
        get_stage_class("heuristics")(sets=["gopher"])
    with pytest.raises(ConfigError, match="not in 'sets'"):
        get_stage_class("heuristics")(sets=["c4"], fineweb={"max_list_ratio": 0.5})
    with pytest.raises(ConfigError, match="stage 'c4'"):
        get_stage_class("heuristics")(c4={"min_sentence": 3})


def test_batches_give_the_same_values_as_the_whole(sample, scored):
    stage = get_stage_class("heuristics")()
    part = sample.slice(0, 600)
    pieces = pa.concat_tables(stage.process(part.slice(i, 97), ctx()) for i in range(0, 600, 97))
    assert pieces.equals(scored.slice(0, 600))


def _reject_share(scored: pa.Table, sets: tuple[str, ...]) -> dict[str, float]:
    """Per true quality tier: share of documents that at least one of `sets` rejects."""
    tiers = scored.column(schema.TRUE_QUALITY).to_pylist()
    cols = [scored.column(schema.reject_column(n)).to_pylist() for n in sets]
    total, rejected = Counter(tiers), Counter()
    for i, tier in enumerate(tiers):
        rejected[tier] += any(c[i] != "" for c in cols)
    return {t: rejected[t] / total[t] for t in total}


def test_sample_data_high_quality_passes_and_spam_is_rejected(scored):
    for name in RULE_SETS:  # each set alone keeps nearly all high-quality documents
        assert _reject_share(scored, (name,))["high"] <= 0.05, name
    share = _reject_share(scored, RULE_SETS)
    assert share["high"] <= 0.05
    assert share["spam"] >= 0.95
    assert share["high"] < share["medium"] < share["low"]


def test_pipeline_run_routes_rejects_with_their_reasons(tmp_path: Path, sample_dir: Path):
    out = tmp_path / "out"
    result = Pipeline.from_stages([("heuristics", {}), ("filter", {})]).run(
        sample_dir, out, workers=1, overwrite=True, keep_rejected=True)
    stages = {s["stage"]: s for s in result.stages}
    f = stages["filter"]
    assert f["docs_in"] == f["docs_out"] + f["rejected_total"]
    assert f["rejected_total"] > 0
    assert all(":" in r and r.split(":")[0] in RULE_SETS for r in f["rejected"])
    kept = pa.concat_tables(pq.read_table(p) for p in sorted(data_dir(out).glob("part-*.parquet")))
    assert kept.num_rows == f["docs_out"]
    assert set(kept.column("gopher_quality_reject").to_pylist()) == {""}
    rejected = pa.concat_tables(pq.read_table(p) for p in sorted(rejected_dir(out).rglob("*.parquet")))
    assert rejected.num_rows == f["rejected_total"]
    first = rejected.column(schema.REJECT_REASON).to_pylist()[0]
    set_name, rule = first.split(":")
    assert rejected.column(schema.reject_column(set_name)).to_pylist()[0] == rule


# ----------------------------------------------------------------------------- datatrove


def _datatrove():
    pytest.importorskip("datatrove")
    pytest.importorskip("regex")
    pytest.importorskip("spacy")
    from datatrove.utils.word_tokenizers import WordTokenizer

    from curate.stages.heuristics.text import TextBatch

    class OurTokens(WordTokenizer):
        """datatrove word tokenizer that returns our tokens: isolates the rule logic."""

        def __init__(self):
            super().__init__("en")

        def word_tokenize(self, text):
            return TextBatch(pa.array([text])).token_strings()[0]

        def sent_tokenize(self, text):
            raise NotImplementedError

        def span_tokenize(self, text):
            raise NotImplementedError

    return OurTokens()


def test_same_tokens_give_datatrove_gopher_decisions(sample):
    from datatrove.data import Document

    tokens = _datatrove()
    from datatrove.pipeline.filters import GopherQualityFilter, GopherRepetitionFilter

    part = sample.slice(0, 400)
    ours = {n: get_stage_class(n)().process(part, ctx()).column(schema.reject_column(n)).to_pylist()
            for n in ("gopher_quality", "gopher_repetition")}
    flt = {"gopher_quality": GopherQualityFilter(language=tokens),
           "gopher_repetition": GopherRepetitionFilter(language=tokens)}
    texts = part.column(schema.TEXT).to_pylist()
    for name, f in flt.items():
        theirs = [f.filter(Document(text=t, id=str(i))) for i, t in enumerate(texts)]
        same = [(o == "") == (r is True) for o, r in zip(ours[name], theirs)]
        # only differences: stop words are case-insensitive here (datatrove: case-sensitive)
        assert sum(same) / len(same) >= 0.99, name
