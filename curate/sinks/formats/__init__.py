"""The built-in sink formats, one module each; each registers itself (curate.sinks.sink_format).

:data:`MODULES` names the module of each built-in format, so looking one up imports that module
only (see curate.registry; tests/house/test_registry_index.py checks the table)."""

MODULES: dict[str, str] = {
    "datatrove": "curate.sinks.formats.datatrove",
    "hf": "curate.sinks.formats.hf_datasets",
    "jsonl": "curate.sinks.formats.jsonl",
    "jsonl.gz": "curate.sinks.formats.jsonl",
    "jsonl.zst": "curate.sinks.formats.jsonl",
    "litdata": "curate.sinks.formats.litdata",
    "mds": "curate.sinks.formats.mds",
    "megatron": "curate.sinks.formats.megatron",
    "numpy": "curate.sinks.formats.numpy_tokens",
    "parquet": "curate.sinks.formats.parquet",
}
