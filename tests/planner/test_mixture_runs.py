"""Reading mixture runs: JSONL, Parquet and CSV give the same runs; every check names the file,
row and column; proportions normalised within 1% with a warning; targets by name or weights."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate.errors import ConfigError, InputError
from curate.planner.mixture.runs import read_mixture_runs, resolve_target, write_rows

ROWS = [
    {"name": "a", "params": 1e6, "mixture": {"web": 0.6, "code": 0.4}, "losses": {"pile_cc": 3.4, "github": 1.9}},
    {"name": "b", "mixture": {"web": 1.0}, "losses": {"pile_cc": 3.1, "github": 2.5}},
    {"name": "c", "tokens": 1e9, "mixture": {"code": 0.7, "books": 0.3}, "losses": {"pile_cc": 3.9, "github": 1.5}},
]


def write(tmp_path, rows, suffix: str):
    path = tmp_path / f"runs{suffix}"
    if suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif suffix == ".parquet":
        keys = list(dict.fromkeys(k for r in rows for k in r))  # from_pylist takes columns from the first row
        pq.write_table(pa.Table.from_pylist([{k: r.get(k) for k in keys} for r in rows]), path)
    else:
        write_rows(rows, path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv"])
def test_formats_read_the_same_runs(tmp_path, suffix):
    runs = read_mixture_runs(write(tmp_path, ROWS, suffix))
    assert runs.names == ("a", "b", "c")
    assert runs.domains == ("books", "code", "web") and runs.validation == ("github", "pile_cc")
    np.testing.assert_allclose(runs.proportions, [[0, 0.4, 0.6], [0, 0, 1.0], [0.3, 0.7, 0]])  # absent domains 0
    np.testing.assert_allclose(runs.losses[:, 1], [3.4, 3.1, 3.9])
    assert np.isnan(runs.params[1]) and runs.params[0] == 1e6 and runs.tokens[2] == 1e9
    assert runs.warnings == ()


def test_csv_column_convention(tmp_path):
    """A hand-written CSV: dotted columns nest, an empty cell is an absent value."""
    path = tmp_path / "runs.csv"
    path.write_text("name,mixture.web,mixture.code,losses.pile_cc,loss_note\n"
                    "r1,0.5,0.5,3.2,x\nr2,1.0,,3.0,y\n")
    runs = read_mixture_runs(path)
    np.testing.assert_allclose(runs.proportions, [[0.5, 0.5], [0.0, 1.0]])
    assert runs.domains == ("code", "web")


def test_single_loss_rows_and_default_target(tmp_path):
    rows = [{"name": f"r{i}", "mixture": {"x": 1 - i / 10, "y": i / 10}, "loss": 3 + i / 10} for i in range(4)]
    runs = read_mixture_runs(write(tmp_path, rows, ".jsonl"))
    target = resolve_target(None, runs)
    assert target.name == "loss"
    np.testing.assert_allclose(target.values(runs), [3.0, 3.1, 3.2, 3.3])


def test_normalised_within_one_percent_with_a_warning(tmp_path):
    rows = [{**ROWS[0], "mixture": {"web": 0.603, "code": 0.4}}, ROWS[1]]
    runs = read_mixture_runs(write(tmp_path, rows, ".jsonl"))
    np.testing.assert_allclose(runs.proportions[0].sum(), 1.0)
    assert len(runs.warnings) == 1 and "rows 0" in runs.warnings[0] and "divided by their sum" in runs.warnings[0]


@pytest.mark.parametrize("row, where", [
    ({"mixture": {"web": 1.0}, "losses": {"x": 1.0}}, "row 1: column 'name'"),
    ({"name": "z", "losses": {"x": 1.0}}, "row 1: column 'mixture'"),
    ({"name": "z", "mixture": {"web": 1.2, "code": -0.2}, "losses": {"x": 1.0}}, "row 1: column 'mixture.code'"),
    ({"name": "z", "mixture": {"web": 0.5, "code": 0.4}, "losses": {"x": 1.0}}, "row 1: column 'mixture': proportions sum to 0.9"),
    ({"name": "z", "mixture": {"web": 1.0}}, "row 1: column 'losses'"),
    ({"name": "z", "mixture": {"web": 1.0}, "losses": {"x": "3.1"}}, "row 1: column 'losses.x'"),
    ({"name": "z", "mixture": {"web": 1.0}, "losses": {"x": 1.0}, "loss": 2.0}, "row 1: give either"),
    ({"name": "a", "mixture": {"web": 1.0}, "losses": {"x": 1.0}}, "row 1: column 'name': 'a' is also"),
    ({"name": "z", "mixture": {"web": 1.0}, "losses": {"x": 1.0}, "params": 0}, "row 1: column 'params'"),
])
def test_bad_rows_name_file_row_and_column(tmp_path, row, where):
    path = write(tmp_path, [{"name": "a", "mixture": {"web": 1.0}, "losses": {"x": 1.0}}, row], ".jsonl")
    with pytest.raises(InputError) as err:
        read_mixture_runs(path)
    assert str(err.value).startswith(f"{path} {where}")


def test_bad_csv_cell_names_row_and_column(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("name,mixture.web,mixture.code,losses.pile_cc\nr1,0.5,0.5,3.2\nr2,1.5,-0.5,3.0\n")
    with pytest.raises(InputError, match=r"runs.csv row 1: column 'mixture.code' must be a finite number >= 0"):
        read_mixture_runs(path)


def test_target_by_name_weights_file_and_errors(tmp_path):
    runs = read_mixture_runs(write(tmp_path, ROWS, ".jsonl"))
    assert resolve_target("github", runs).weights == {"github": 1.0}
    weights = tmp_path / "weights.json"
    weights.write_text(json.dumps({"pile_cc": 0.75, "github": 0.25}))
    target = resolve_target(str(weights), runs)
    np.testing.assert_allclose(target.values(runs), 0.75 * np.array([3.4, 3.1, 3.9]) + 0.25 * np.array([1.9, 2.5, 1.5]))
    with pytest.raises(ConfigError, match=r"--target 'arxiv' is not a validation domain .* \(its keys: github, pile_cc\)"):
        resolve_target("arxiv", runs)
    with pytest.raises(ConfigError, match="give --target"):
        resolve_target(None, runs)
    weights.write_text(json.dumps({"arxiv": 1.0}))
    with pytest.raises(ConfigError, match="weights name arxiv"):
        resolve_target(str(weights), runs)


def test_target_missing_for_a_run_names_it(tmp_path):
    rows = [*ROWS, {"name": "d", "mixture": {"web": 1.0}, "losses": {"pile_cc": 3.0}}]
    runs = read_mixture_runs(write(tmp_path, rows, ".jsonl"))
    with pytest.raises(InputError, match=r"row 3: column 'losses.github' is missing"):
        resolve_target("github", runs).values(runs)
