"""The pii stage: accuracy on the committed labelled set, look-alikes kept, the three modes,
exceptions, config errors, and whole runs over Parquet on the local and the Ray executor."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.pii_eval_set import OUT as EVAL_SET
from bench.pii_eval_set import load, make, score
from curate import schema
from curate.api import Pipeline
from curate.errors import ConfigError
from curate.pipeline.stage import TaskContext
from curate.stages.pii import Pii, count_column
from curate.text.pii import TYPES
from tests.conftest import read_output, write_parquet


def _ctx(tmp_path: Path) -> TaskContext:
    return TaskContext(task_index=0, n_tasks=1, source="test", seed=0)


def _run(texts: list[str], tmp_path: Path, **params) -> tuple[pa.Table, TaskContext]:
    ctx = _ctx(tmp_path)
    table = pa.table({"id": [f"d{i}" for i in range(len(texts))], "text": texts})
    return Pii(**params).process(table, ctx), ctx


def _counts(out: pa.Table) -> dict[str, list[int | None]]:
    return {t: out.column(count_column(t)).to_pylist() for t in TYPES}


def test_precision_and_recall_on_the_labelled_set_are_at_least_098_per_type(tmp_path: Path) -> None:
    records = load()
    for pii_type in TYPES:
        mine = [r for r in records if r["type"] == pii_type]
        assert sum(r["label"] == "positive" for r in mine) >= 50
        assert sum(r["label"] == "near_miss" for r in mine) >= 50
    out, ctx = _run([r["text"] for r in records], tmp_path)
    result = score(records, out.column("text").to_pylist(), _counts(out))
    for pii_type, s in result.items():
        assert s["precision"] >= 0.98 and s["recall"] >= 0.98, (pii_type, s)
    # the stage stats count every replacement, per type
    assert {k: int(v) for k, v in ctx.counters.items()} == {f"pii:{t}": result[t]["tp"] + result[t]["fp"] for t in TYPES}


def test_the_committed_set_is_what_the_generator_makes() -> None:
    assert load() == [json.loads(json.dumps(r)) for r in make()]
    assert EVAL_SET.exists()


LOOK_ALIKES = [
    "Upgrade to version 1.2.3.4 today; v2.0.1.7 is old.",
    "See section 4.2.1.3 and § 1.1.2.1 of the spec.",
    "OID 1.3.6.1.4.1.311 and 1.2.3.4.5 are not addresses.",
    "Dates: 2023-10-12, 12.10.2023, 10/12/2023 and 12 10 2023.",
    "ISBN 978-3-16-148410-0 and ISBN 0-306-40615-2, ISBN 9783161484100.",
    "uuid 123e4567-e89b-12d3-a456-426614174000 in the log",
    "Order no. 112-4567890-1234567 and order #4539148803436467 shipped; tracking 1Z999AA10123456784.",
    "Mail root@localhost or icon@2x.png or bob@example.com; npm i lodash@4.17.21.",
    "Card 4539 1488 0343 6468 fails Luhn; 4111 1111 1111 1111 is a test card.",
    "IBAN DE00 3704 0044 0532 0130 00 fails mod-97; DE89 3704 0044 0532 0130 00 is the specimen.",
    "Private 10.0.0.1, 192.168.1.1, 127.0.0.1, fe80::1 and ::1, documentation 192.0.2.7 and 2001:db8::5.",
    "std::vector<int> v; Foo::bar(); dead::beef; 12:30:45; MAC 00:1a:2b:3c:4d:5e",
    "Fictional: (212) 555-0123 and 020 7946 0123 and 07700 900456.",
]


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_are_kept(text: str, tmp_path: Path) -> None:
    out, _ = _run([text], tmp_path)
    assert out.column("text").to_pylist() == [text]
    assert all(c == [0] for c in _counts(out).values()), _counts(out)


def test_replace_annotate_and_reject_modes(tmp_path: Path) -> None:
    texts = ["Write to jane.roe@gmail.com or call +44 20 3123 4567.",
             "Two mails: a.b@web.de, c.d@web.de.",
             "Nothing personal here."]
    replaced, _ = _run(texts, tmp_path)
    assert replaced.column("text").to_pylist() == [
        "Write to <EMAIL> or call <PHONE>.", "Two mails: <EMAIL>, <EMAIL>.", "Nothing personal here."]
    assert _counts(replaced)["email"] == [1, 2, 0] and _counts(replaced)["phone"] == [1, 0, 0]
    assert schema.REJECT_REASON not in replaced.column_names

    annotated, _ = _run(texts, tmp_path, mode="annotate")
    assert annotated.column("text").to_pylist() == texts
    assert _counts(annotated) == _counts(replaced)

    rejected, _ = _run(texts, tmp_path, mode="reject", max_per_type=1)
    assert rejected.column("text").to_pylist() == texts
    assert rejected.column(schema.REJECT_REASON).to_pylist() == [None, "pii:email", None]
    strict, _ = _run(texts, tmp_path, mode="reject")
    assert strict.column(schema.REJECT_REASON).to_pylist() == ["pii:email", "pii:email", None]


def test_types_and_placeholders(tmp_path: Path) -> None:
    text = "Mail x.y@gmail.com from 8.8.8.8, card 4539 1488 0343 6467."
    out, ctx = _run([text], tmp_path, types=["ip", "credit_card"], placeholders={"ip": "[ip]"})
    assert out.column("text").to_pylist() == ["Mail x.y@gmail.com from [ip], card <CREDIT_CARD>."]
    counts = _counts(out)
    assert counts["email"] == [None] and counts["ip"] == [1] and counts["credit_card"] == [1]
    assert set(ctx.counters) == {"pii:ip", "pii:credit_card"}


def test_exceptions_are_configurable(tmp_path: Path) -> None:
    text = "From 192.168.1.1 mail bob@example.com, card 4111 1111 1111 1111, boss@acme.com, ops@corp.acme.com"
    default, _ = _run([text], tmp_path)
    assert default.column("text").to_pylist() == [
        "From 192.168.1.1 mail bob@example.com, card 4111 1111 1111 1111, <EMAIL>, <EMAIL>"]
    none_kept, _ = _run([text], tmp_path, exceptions={"private_ips": False, "examples": False})
    assert none_kept.column("text").to_pylist() == ["From <IP> mail <EMAIL>, card <CREDIT_CARD>, <EMAIL>, <EMAIL>"]
    own, _ = _run([text], tmp_path, exceptions={"domains": ["acme.com"], "values": ["4111-1111-1111-1111"]})
    assert own.column("text").to_pylist() == [text]


@pytest.mark.parametrize("params, message", [
    ({"types": ["email", "ssn"]}, "'types'"),
    ({"types": []}, "'types'"),
    ({"mode": "mask"}, "'mode'"),
    ({"placeholders": {"phone_number": "<P>"}}, "'placeholders'"),
    ({"exceptions": {"private": True}}, "unknown key 'private'"),
    ({"exceptions": {"domains": "example.com"}}, "'exceptions.domains' must be a list of strings"),
])
def test_bad_config_is_a_clear_error(params: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Pii(**params)


@settings(derandomize=True, deadline=None, max_examples=60)
@given(st.lists(st.text(max_size=80), min_size=1, max_size=8))
def test_annotate_never_changes_text_and_every_row_is_kept(texts: list[str]) -> None:
    ctx = TaskContext(task_index=0, n_tasks=1, source="t", seed=0)
    table = pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    annotated = Pii(mode="annotate").process(table, ctx)
    assert annotated.column("text").to_pylist() == texts
    replaced = Pii().process(table, ctx)
    assert replaced.num_rows == len(texts)
    for i, (before, after) in enumerate(zip(texts, replaced.column("text").to_pylist())):
        if not any(annotated.column(count_column(t))[i].as_py() for t in TYPES):
            assert after == before




@pytest.mark.parametrize("executor", ["local", pytest.param("ray", marks=pytest.mark.ray)])
def test_a_run_over_parquet_replaces_and_counts_on_both_executors(executor: str, tmp_path: Path,
                                                                  request: pytest.FixtureRequest) -> None:
    if executor == "ray":
        request.getfixturevalue("local_ray")
    records = load()
    for shard in range(3):
        part = records[shard::3]
        write_parquet(tmp_path / "in" / f"shard-{shard}.parquet",
                      {"id": [r["id"] for r in part], "text": [r["text"] for r in part]}, row_group_size=50)
    pipe = Pipeline.from_stages([("pii", {})])
    result = pipe.run(tmp_path / "in", tmp_path / "out", workers=2, executor=executor, batch_rows=64)
    out = read_output(tmp_path / "out")
    assert out.num_rows == len(records)
    by_id = dict(zip(out.column("id").to_pylist(), out.column("text").to_pylist()))
    expected = {r["id"]: r["expected"] for r in records}
    wrong = [i for i in expected if by_id[i] != expected[i]]
    assert len(wrong) <= 0.02 * len(records), wrong[:5]
    stage = next(s for s in result.stages if s["stage"] == "pii")
    assert stage["counters"]["pii:email"] == sum(out.column("pii_email").to_pylist()) >= 80
    assert stage["docs_out"] == len(records)


_PIECES = st.one_of(st.sampled_from(sorted({r["value"] for r in load() if r["value"]})),
                    st.text(alphabet="0123456789abcdefxyzABC.:@-+/() \n", max_size=12))


@settings(derandomize=True, deadline=None, max_examples=150)
@given(st.lists(st.lists(_PIECES, max_size=6).map("".join), min_size=1, max_size=12))
def test_the_candidate_pass_skips_only_documents_without_pii(texts: list[str]) -> None:
    """Each detector finds the same PII in the rows of the combined pre-pass as over every row."""
    import numpy as np

    from curate.text.pii import DETECTORS, Exceptions, candidate_rows
    from curate.text.regex_matches import find_all

    column = pa.array(texts, pa.string())
    rows = candidate_rows(column, [d for ds in DETECTORS.values() for d in ds])

    def found(rows: np.ndarray | None, d) -> list[tuple[int, str]]:
        m = find_all(column, d.pattern, rows)
        ok = d.validate(m, Exceptions()) if len(m.match_index) else np.zeros(0, bool)
        return [(int(m.rows[r]), t) for r, t, k in zip(m.match_row, m.text.to_pylist(), ok) if k]

    for detectors in DETECTORS.values():
        for d in detectors:
            assert found(rows, d) == found(None, d), d.name
