"""Column names and schema checks: the one place where column names are spelled out."""

from __future__ import annotations

import pyarrow as pa

# Required input columns (after --id-column / --text-column mapping).
ID = "id"
TEXT = "text"

# Columns added by stages.
N_TOKENS = "n_tokens"
QUALITY_SCORE = "quality_score"
QUALITY = "quality"
DOMAIN = "domain"
DOMAIN_SCORE = "domain_score"
LANGUAGE = "language"
LANGUAGE_SCORE = "language_score"
DUP_CLUSTER_ID = "dup_cluster_id"
DUP_COUNT = "dup_count"
QUALITY_BUCKET = "quality_bucket"
EPOCH_INDEX = "epoch_index"
C4_LINES_REMOVED = "c4_clean_lines_removed"
CONTAMINATION_BENCHMARK = "contamination_benchmark"
CONTAMINATION_NGRAMS = "contamination_ngrams"
LINE_DEDUP_UNITS_REMOVED = "line_dedup_units_removed"
LINE_DEDUP_BYTES_REMOVED = "line_dedup_bytes_removed"

# Routing columns: a stage marks a row rejected by setting REJECT_REASON (null = kept);
# the runner adds REJECT_STAGE to rows it writes under _curate/rejected/.
REJECT_REASON = "reject_reason"
REJECT_STAGE = "reject_stage"
# Rows read from another stage's rejected output arrive kept, their reason in this column.
UPSTREAM_REJECT_REASON = "upstream_reject_reason"
# An input may hold the routing columns (a run's _curate/rejected/ shards read by a later run): the reader
# renames them with one more `orig_` prefix (curate.io.conform.ColumnMap), so that their values
# stay data and never route a row.
ROUTING_COLUMNS = (REJECT_REASON, REJECT_STAGE, UPSTREAM_REJECT_REASON)

# Columns curate adds for its own bookkeeping and removes before anything is written out carry
# this prefix; an input column with it is refused (curate.io.read.file_schema).
INTERNAL_PREFIX = "_curate_"
# A stage with named outputs (route) names each kept row's output in this column; the runner
# splits the rows by it and drops it.
ROUTE = "_curate_route"
# A reader's own reject reason for a record that is no document (a WARC redirect or PDF); the read
# checks turn it into REJECT_REASON.
READ_REASON = "_curate_read_reason"

# Columns curate's stages make and also read back when the input already has them (a run over an
# earlier run's output): an input column of that name must hold values of this kind, else the run
# is refused naming it (curate.io.read.unify_schemas) instead of failing inside the stage.
STAGE_COLUMN_KINDS = {
    DUP_COUNT: ("an integer", pa.types.is_integer),  # exact_dedup, minhash_dedup, sample
    QUALITY_SCORE: ("a number", lambda t: pa.types.is_integer(t) or pa.types.is_floating(t)),  # minhash_dedup
    DUP_CLUSTER_ID: ("a string or an integer",
                     lambda t: is_string_type(t) or pa.types.is_integer(t)),  # minhash_dedup
}

# Ground-truth columns written by `curate sample-data`.
TRUE_DOMAIN = "true_domain"
TRUE_QUALITY = "true_quality"
TRUE_DUP_GROUP = "true_dup_group"
TRUE_DUP_KIND = "true_dup_kind"
TRUE_EDIT_RATE = "true_edit_rate"  # near copies: fraction of words edited, else null
TRUE_LANGUAGE = "true_language"  # sample_data.language_samples()

# Optional input column carried through (sample data writes fake page URLs).
URL = "url"

# Reasons the runner itself assigns.
REASON_EMPTY_TEXT = "empty_text"
REASON_TOO_LARGE = "too_large"
REASON_EXACT_DUPLICATE = "exact_duplicate"
REASON_NEAR_DUPLICATE = "near_duplicate"


def reject_column(rule_set: str) -> str:
    """Name of the column in which heuristic rule set `rule_set` names its first failed rule."""
    return f"{rule_set}_reject"


def signal_column(rule_set: str, signal: str) -> str:
    """Name of the column holding heuristic rule set `rule_set`'s measured value `signal`."""
    return f"{rule_set}_{signal}"


def is_string_type(t: pa.DataType) -> bool:
    return pa.types.is_string(t) or pa.types.is_large_string(t)


class SchemaError(ValueError):
    """Input or intermediate data does not have the columns a stage needs."""


def require_columns(schema: pa.Schema, columns: list[str] | tuple[str, ...], where: str) -> None:
    """Fail with one clear message when `schema` lacks any of `columns`."""
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise SchemaError(f"{where}: missing column(s) {', '.join(missing)} (have: {', '.join(schema.names)})")
