"""`curate calibrate --fit mixture`: fit a mixture law (kind: mixture) and write its law.json."""

from __future__ import annotations


def calibrate_mixture_command(runs_path: str, output: str, target: str | None, model: str, holdout: str | None,
                              seed: int, bootstrap: int | None, plot_path: str | None, as_json: bool) -> None:
    """Read mixture runs, fit `model` for `target`, write law.json (and the plot); print the report."""
    from curate.cli.calibrate import parse_holdout, write_and_report
    from curate.cli.common import cli_storage, warn
    from curate.planner.mixture import calibrate_mixture, read_mixture_runs
    from curate.planner.mixture.calibrate import BOOTSTRAP
    from curate.planner.mixture.report import format_mixture_calibration, plot_predicted_measured

    storage = cli_storage()
    runs = read_mixture_runs(runs_path, storage=storage)
    for w in runs.warnings:
        warn(w)
    cal = calibrate_mixture(runs, target=target, model=model, holdout=parse_holdout(holdout), seed=seed,
                            bootstrap=BOOTSTRAP if bootstrap is None else bootstrap, storage=storage)
    write_and_report(cal.to_dict(), output, as_json, format_mixture_calibration, plot_predicted_measured, plot_path)
