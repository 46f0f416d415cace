"""The HTML report of a finished run (``curate report``, ``curate.report(...)``): the graph with its
counts, what each reason removed, the quality signals against their cut-offs, examples of
rejected documents, duplicate clusters and the plan, in one self-contained page whose charts are
inline SVG (no plotting library, no script).

Everything is read through the run's work store, so a run on an object store works as one on the
local disk. :func:`curate.run_report.build.write_report` is the entry point.
"""

MAX_ROWS = 200_000  # documents sampled for the histograms (the totals per reason read every row)
EXAMPLES = 3  # example documents shown per reason
