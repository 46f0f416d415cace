"""Built-in stages, one module per stage or family; each registers itself.

:data:`MODULES` names the module that registers each built-in stage, so that looking one stage up
imports that module only (a dedup run does not import fastText's preprocessing, the planner and
scipy); listing every stage still imports them all (tests/house/test_registry_index.py checks that
the table matches what they register)."""

MODULES: dict[str, str] = {
    "c4": "curate.stages.heuristics.c4",
    "c4_clean": "curate.stages.c4_clean",
    "classify": "curate.stages.classify",
    "decontaminate": "curate.stages.decontaminate",
    "exact_dedup": "curate.stages.dedup.exact",
    "filter": "curate.stages.filter",
    "fineweb": "curate.stages.heuristics.fineweb",
    "gopher_quality": "curate.stages.heuristics.gopher_quality",
    "gopher_repetition": "curate.stages.heuristics.gopher_repetition",
    "heuristics": "curate.stages.heuristics.composite",
    "language_id": "curate.stages.language",
    "length_filter": "curate.stages.length_filter",
    "line_dedup": "curate.stages.dedup.lines",
    "minhash_dedup": "curate.stages.dedup.minhash",
    "normalize": "curate.stages.normalize",
    "passthrough": "curate.stages.passthrough",
    "pii": "curate.stages.pii",
    "prune": "curate.stages.prune",
    "quality_buckets": "curate.stages.buckets",
    "route": "curate.stages.route",
    "sample": "curate.stages.sample",
    "select": "curate.stages.select",
    "token_count": "curate.stages.token_count",
    "url_filter": "curate.stages.url_filter",
}
