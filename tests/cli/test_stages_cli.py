"""`curate stages`: every registered stage listed from the registry; one stage's parameters in full."""

from __future__ import annotations

import json

from curate.pipeline.catalog import describe_stage, list_stages
from curate.pipeline.registry import get_stage_class, stage_names
from curate.pipeline.stage import MapStage
from tests.in_process import curate


def test_listing_names_every_registered_stage_once_with_kind_and_one_line() -> None:
    r = curate("stages")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert [line.split()[0] for line in lines] == stage_names()
    by_name = {line.split()[0]: line.split()[1] for line in lines}
    assert by_name["length_filter"] == "map" and by_name["exact_dedup"] == "global"
    assert by_name["sample"] == "reshaping"
    assert all(len(line.split()) > 2 for line in lines)  # every stage has a summary


def test_json_listing_matches_the_registry() -> None:
    r = curate("stages", "--json")
    listed = json.loads(r.stdout)
    assert [s["name"] for s in listed] == stage_names()
    for s in listed:
        cls = get_stage_class(s["name"])
        assert s["kind"] == cls.kind
        assert s["summary"] and "\n" not in s["summary"]


def test_one_stage_shows_params_types_defaults_and_columns() -> None:
    r = curate("stages", "length_filter")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.startswith("length_filter (map stage): reject documents outside")
    assert "min_chars: int, default 0, min 0" in out
    assert "max_chars: int | null, default null, min 1" in out
    assert "reject documents with fewer characters" in out
    assert "reads columns: id, text" in out
    assert "adds columns: " in out


def test_required_param_and_choices_are_shown() -> None:
    info = describe_stage("classify")
    model = next(p for p in info["params"] if p["name"] == "model")
    assert model["required"] and "default" not in model
    out = curate("stages", "classify").stdout
    assert "model: str, required" in out


def test_every_parameter_of_every_stage_is_described() -> None:
    for s in list_stages():
        info = describe_stage(s["name"])
        assert [p["name"] for p in info["params"]] == list(get_stage_class(s["name"]).params)
        json.dumps(info)  # plain data throughout


class Undeclared(MapStage):
    """A custom stage that says nothing about what it adds."""

    name = "undeclared"


class Declared(MapStage):
    """A custom stage that declares its columns."""

    name = "declared"
    requires = ("text",)
    produces = ("shout",)


def test_declared_columns_are_shown_and_undeclared_ones_said_not_guessed() -> None:
    out = curate("stages", "tests.cli.test_stages_cli:Declared").stdout
    assert "declared (map stage): A custom stage that declares its columns." in out
    assert "parameters: none" in out and "reads columns: text" in out and "adds columns: shout" in out
    out = curate("stages", "tests.cli.test_stages_cli:Undeclared").stdout
    assert "adds columns: not declared" in out


def test_unknown_stage_is_exit_2_listing_the_known() -> None:
    r = curate("stages", "no_such_stage")
    assert r.returncode == 2
    assert "unknown stage 'no_such_stage'" in r.stderr and "length_filter" in r.stderr
