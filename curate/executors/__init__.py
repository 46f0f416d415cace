"""Executors run a graph's units of work; they know nothing of a stage's insides. The protocol
and the registry are :mod:`curate.executors.base`; each built-in executor is a module here."""
