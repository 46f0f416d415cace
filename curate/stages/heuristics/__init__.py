"""Heuristic quality signals: one map stage per published rule set, plus a composite.

- ``gopher_quality``    (gopher_quality.py)    Rae et al. 2021, App. A.1.1
- ``gopher_repetition`` (gopher_repetition.py) Rae et al. 2021, Table A1
- ``c4``                (c4.py)                Raffel et al. 2020, Sec. 2.2
- ``fineweb``           (fineweb.py)           Penedo et al. 2024
- ``heuristics``        (composite.py)         any of the above over one shared tokenization

Each writes ``<set>_<signal>`` columns and ``<set>_reject`` (first failed rule, "" if none);
the ``filter`` stage (curate/stages/filter.py) turns those into ``reject_reason``. Shared
text views live in text.py, compiled kernels in kernels.py, the rule machinery in base.py.
"""
