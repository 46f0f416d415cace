"""Executors run a graph's units of work; they know nothing of a stage's insides. The protocol
and the registry are :mod:`curate.executors.base`; each built-in executor is a module here.

:data:`MODULES` names the module of each built-in executor, so looking one up imports that module
only (see curate.registry; tests/house/test_registry_index.py checks the table)."""

MODULES: dict[str, str] = {
    "local": "curate.executors.local",
    "ray": "curate.executors.ray",
}
