"""The Python API: build a pipeline (from YAML or in code) and run it; one-call helpers for
the common single jobs (dedup, classify, sample), the planner and the sample-data generator.

    from curate import Pipeline
    Pipeline.from_yaml("pipelines/default.yaml").run("sample_data", "out/demo", workers=2)

    p = Pipeline("mine").add("normalize").add("length_filter", min_chars=200).add("exact_dedup")
    result = p.run("shards/", "out/", keep_rejected=True)
    result.stats["stages"]  # the _curate/stats.json content

Every helper takes its stage's parameters as keywords and the run's options (the keywords of
:meth:`Pipeline.run`: workers, executor, resume, overwrite, and every run setting such as seed or
keep_rejected) as one ``run_options`` mapping.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from curate.errors import ConfigError
from curate.pipeline.graph import Graph
from curate.pipeline.progress import Progress
from curate.pipeline.results import RunResult
from curate.pipeline.run import Run
from curate.pipeline.runner import run_graph
from curate.pipeline.settings import RunSettings
from curate.pipeline.spec import build_graph, load_graph
from curate.store.layout import WorkStore
from curate.store.storage import Storage

__all__ = ["Pipeline", "RunResult", "run", "dedup", "classify", "train_classifier", "plan", "calibrate", "predict",
           "sample", "report", "generate_sample_data"]


class Pipeline:
    """A pipeline graph built in Python, the same as its YAML: stages added in order, each reading
    the stage before it unless ``input=`` names another output (``"NAME"``, ``"NAME.rejected"``,
    ``"NAME.<output>"``, or a list: a union), and sinks named with :meth:`output`."""

    def __init__(self, name: str = "pipeline", settings: dict[str, Any] | None = None,
                 input_columns: list[str] | None = None) -> None:
        self.name = name
        self.settings = RunSettings.check_yaml(dict(settings or {}), None)
        self.input_columns = input_columns
        self._specs: list[dict[str, Any]] = []
        self._outputs: dict[str, Any] = {}
        self._graph: Graph | None = None

    # ---- building ---------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path: str | Path, storage_options: dict[str, Any] | None = None) -> Pipeline:
        """Load a pipeline YAML (a local path or a URI, read with `storage_options`)."""
        graph = load_graph(path, Storage(dict(storage_options or {})))
        p = cls(graph.name, graph.settings, graph.input_columns)
        p._graph = graph
        return p

    @classmethod
    def from_stages(cls, stages: list[tuple[str, dict[str, Any]] | str], name: str = "pipeline",
                    **settings: Any) -> Pipeline:
        """Build from ``[("normalize", {}), ("exact_dedup", {...})]`` (names or ``module:Class``)."""
        p = cls(name, settings)
        for item in stages:
            stage, params = (item, {}) if isinstance(item, str) else item
            p.add(stage, **params)
        return p

    def add(self, stage: str | type, name: str | None = None, *, input: str | list[str] | None = None,
            **params: Any) -> Pipeline:
        """Append a stage by registry name, ``module:Class`` path or Stage class, reading `input`
        (default: the stage before it); validated now."""
        if isinstance(stage, type):
            stage = f"{stage.__module__}:{stage.__qualname__}"
        spec: dict[str, Any] = {"stage": stage, "params": params}
        if name:
            spec["name"] = name
        if input is not None:
            spec["input"] = input
        self._specs.append(spec)
        self._graph = None
        _ = self.graph  # validate eagerly: a bad stage or parameter fails at the line that added it
        return self

    def output(self, name: str, source: str | dict[str, Any]) -> Pipeline:
        """Write the stream `source` (``"NAME"``, ``"NAME.rejected"``, ``"NAME.<output>"``) to the
        sink OUTPUT/`name`/ as Parquet, or as the YAML mapping does (``{"from": ..., "format":
        "megatron", "tokenizer": ...}``); with no sink named, the last stage's kept rows go to
        the sink OUTPUT/data/."""
        if name in self._outputs:
            raise ConfigError(f"pipeline '{self.name}': sink '{name}' is already named (it writes "
                              f"{self._outputs[name]})")
        self._outputs[name] = source
        self._graph = None
        _ = self.graph
        return self

    @property
    def graph(self) -> Graph:
        if self._graph is None:
            self._graph = build_graph([dict(s) for s in self._specs], name=self.name, settings=self.settings,
                                       input_columns=self.input_columns, outputs=self._outputs or None)
        return self._graph

    # ---- running ----------------------------------------------------------------------
    def run(self, input: str | Path, output: str | Path, *, workers: int | None = None, executor: str = "local",
            executor_options: dict[str, Any] | None = None, resume: bool = False, overwrite: bool = False,
            progress: bool | Progress = False, **settings: Any) -> RunResult:
        """Run over the shards in `input` into `output` with the executor `executor` (``local``,
        ``ray`` or a plugin's; `executor_options` its options, e.g. ``{"address": "auto"}`` for
        Ray). `settings` are run settings (the fields of
        :class:`curate.pipeline.settings.RunSettings`: seed, keep_rejected, on_error, ...); those
        left out or None take the pipeline's `settings:` and then the defaults. What the run says
        goes to the ``curate`` logger (standard :mod:`logging`); `progress` (True, or a
        :class:`curate.pipeline.progress.Progress` of your own) also shows tqdm progress bars: the
        whole run's, advanced per batch with its ETA, and each combine step's (on stderr; a widget in
        a notebook). Returns the stats (as in `_curate/stats.json`) and errors."""
        from curate.executors.base import make_executor

        run_settings = RunSettings.resolve(self.settings, **settings)
        store = WorkStore.open(output, run_settings.storage)
        ex = make_executor(executor, workers, executor_options)
        try:
            run = Run(store, ex, run_settings, resume=resume, overwrite=overwrite,
                      progress=progress if isinstance(progress, Progress) else Progress(sys.stderr) if progress else None)
            return run_graph(self.graph, input, run)
        finally:
            ex.close()


def run(pipeline: str | Path | Pipeline, input: str | Path, output: str | Path, **kwargs: Any) -> RunResult:
    """Run a pipeline (a YAML path or a Pipeline) over `input` into `output`."""
    p = pipeline if isinstance(pipeline, Pipeline) else Pipeline.from_yaml(pipeline, kwargs.get("storage_options"))
    return p.run(input, output, **kwargs)


def dedup(input: str | Path, output: str | Path, *, exact: bool = False, run_options: dict[str, Any] | None = None,
          **params: Any) -> RunResult:
    """MinHash near-duplicate removal (optionally preceded by exact dedup); `params` are the
    `minhash_dedup` stage's parameters (threshold, ngram, num_perm, bands, rows, verify, ...)."""
    stages: list[tuple[str, dict[str, Any]]] = [("exact_dedup", {})] if exact else []
    stages.append(("minhash_dedup", params))
    return Pipeline.from_stages(stages, name="dedup").run(input, output, **(run_options or {}))


def classify(input: str | Path, output: str | Path, model: str | Path, column: str, label: str | None = None,
             *, preprocess: str | None = None, run_options: dict[str, Any] | None = None) -> RunResult:
    """Score every document with a fastText model: adds `column` and `column_score`; `preprocess`
    is the classify stage's (default: the model's card, else fastText's own)."""
    params: dict[str, Any] = {"model": str(model), "column": column, "label": label, "preprocess": preprocess}
    return Pipeline.from_stages([("classify", params)], name="classify").run(input, output, **(run_options or {}))


def train_classifier(*args: Any, **kwargs: Any) -> Any:
    """Train a supervised fastText classifier from labelled shards (see curate.stages.classify)."""
    from curate.stages.classify import train_classifier as _train

    return _train(*args, **kwargs)


def plan(buckets: Any, compute: float, *, allow_extrapolation: bool = False,
         storage_options: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """Epochs per quality bucket and model size for a compute budget (see curate.planner.plan).

    `buckets`: Bucket objects, a buckets.json document, or a buckets.json path or URI (as ``curate
    plan --buckets``); `law` a name or a law.json path or URI (files at URIs read with
    `storage_options`). As ``curate plan``, a plan that is not sensible (saturated, a model more
    than 10x outside the law's fit range, under one token per parameter) raises InfeasibleError
    with advice unless `allow_extrapolation`.
    """
    from curate.planner import plan as _plan
    from curate.planner.sources import load_buckets

    buckets, law = load_buckets(buckets, kwargs.pop("law", "datablations"), Storage(dict(storage_options or {})))
    return _plan(buckets, compute, allow_extrapolation=allow_extrapolation, law=law, **kwargs)


def calibrate(runs: Any, output: str | Path | None = None, *, storage_options: dict[str, Any] | None = None,
              **kwargs: Any) -> Any:
    """Fit planner constants from proxy runs (a path or URI of any input format, or rows); write
    law.json if `output`. Files at URIs are read and written with `storage_options`.

    Returns a :class:`curate.planner.calibration.Calibration` (``.to_dict()`` is law.json, ``.law()``
    what ``plan(..., law=...)`` takes). Keyword arguments as ``curate.planner.calibration.calibrate``.
    """
    from curate.planner.calibration import calibrate as _calibrate
    from curate.planner.runs import Runs, read_runs, runs_from_rows
    from curate.store.atomic import write_json

    storage = Storage(dict(storage_options or {}))
    if not isinstance(runs, Runs):
        runs = read_runs(runs, storage) if isinstance(runs, (str, Path)) else runs_from_rows(list(runs))
    result = _calibrate(runs, **kwargs)
    if output is not None:
        write_json(output, result.to_dict(), storage)
    return result


def predict(law: Any, runs: Any, *, storage_options: dict[str, Any] | None = None) -> Any:
    """The predicted loss of every run (a path or URI of any input format, or rows) under `law` (a
    law.json of any kind, a built-in law's name, or a law object), in input order: a
    :class:`curate.planner.mixture.Predictions` (``.rows()`` is what ``curate predict --json`` prints,
    ``.warnings`` names runs outside what the law was fitted on)."""
    from curate.planner.mixture import predict as _predict

    return _predict(law, runs, Storage(dict(storage_options or {})))


def sample(input: str | Path, output: str | Path, plan: str | Path, *, run_options: dict[str, Any] | None = None,
           **params: Any) -> RunResult:
    """Materialize a plan.json as a training mixture (the `sample` stage)."""
    return Pipeline.from_stages([("sample", {"plan": str(plan), **params})], name="sample").run(
        input, output, **(run_options or {}))


def report(output: str | Path, file: str | Path | None = None, *, storage_options: dict[str, Any] | None = None,
           max_rows: int | None = None, examples: int | None = None) -> str:
    """Write the HTML report of the finished run in `output` (a local path or a URI) to `file`, by
    default the run's own report file, and return where it went; as ``curate report``. Files at
    URIs are read and written with `storage_options`. InputError if the run has not finished.
    `max_rows`: documents sampled for the histograms; `examples`: documents shown per reason."""
    from curate.run_report import EXAMPLES, MAX_ROWS
    from curate.run_report.build import write_report

    return write_report(output, file, Storage(dict(storage_options or {})),
                        max_rows=MAX_ROWS if max_rows is None else max_rows,
                        examples=EXAMPLES if examples is None else examples)


def generate_sample_data(out_dir: str | Path, n_docs: int = 2000, seed: int = 0, **kwargs: Any) -> dict[str, Any]:
    """Generate the deterministic synthetic corpus with planted duplicates and ground truth."""
    from curate.sample_data import generate

    return generate(out_dir, n_docs=n_docs, seed=seed, **kwargs)
