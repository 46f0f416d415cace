"""`curate train-classifier` and `curate classify`: fastText models for quality, domain, language."""

from __future__ import annotations

from typing import Any

import click

from curate.classifiers.balance import DEFAULT as DEFAULT_BALANCE
from curate.classifiers.balance import MODES as BALANCE_MODES
from curate.classifiers.fasttext import TrainParams
from curate.classifiers.train import MAX_LABELS
from curate.cli.common import StoredPath, storage_option
from curate.cli.options import execute, run_options

_D = TrainParams()


@click.command("train-classifier")
@storage_option
@click.option("--input", "input_dir", required=True, type=StoredPath(dir_okay=True),
              help="Labelled shard directory or prefix (or one file; a local path or a URI), in any input "
                   "format (see docs/inputs.md).")
@click.option("--label-column", required=True, help="Column holding each document's label (one word; null = skip); a dotted path "
              "(metadata.kind) reads a struct column's field.")
@click.option("--output", required=True,
              help="Model file to write (MODEL.bin, a local path or a URI); its JSON card goes to MODEL.json "
                   "beside it.")
@click.option("--text-column", default="text", help="Column holding the text (a dotted path reads a struct's field).")
@click.option("--id-column", default="id", help="Column holding the document id (hashed for the split; a dotted path reads a struct's field).")
@click.option("--valid-fraction", type=click.FloatRange(0.0, 1.0, max_open=True), default=0.1,
              help="Share of documents held out (by seeded hash of the id) for the reported metrics.")
@click.option("--epochs", type=click.IntRange(min=1), default=_D.epochs, help="Passes over the training data.")
@click.option("--lr", type=click.FloatRange(0.0, 10.0, min_open=True), default=_D.lr, help="Learning rate.")
@click.option("--word-ngrams", type=click.IntRange(1, 5), default=_D.word_ngrams,
              help="Max length of word n-grams used as features.")
@click.option("--dim", type=click.IntRange(1, 1024), default=_D.dim, help="Size of the word vectors.")
@click.option("--bucket", type=click.IntRange(min=0), default=_D.bucket,
              help="Hash buckets for word and character n-grams (model size ~ bucket x dim x 4 bytes).")
@click.option("--minn", type=click.IntRange(0, 10), default=_D.minn, help="Min character n-gram length (0: none).")
@click.option("--maxn", type=click.IntRange(0, 10), default=_D.maxn, help="Max character n-gram length (0: none).")
@click.option("--min-count", type=click.IntRange(min=1), default=_D.min_count, help="Min occurrences of a word.")
@click.option("--loss", type=click.Choice(["softmax", "ova", "hs", "ns"]), default=_D.loss, help="Loss function.")
@click.option("--seed", type=int, default=0, help="Seed of the split and of fastText.")
@click.option("--threads", type=click.IntRange(min=1), default=1,
              help="fastText threads; 1 gives the same model for the same seed, more trade that for speed.")
@click.option("--balance", type=click.Choice(list(BALANCE_MODES)), default=DEFAULT_BALANCE,
              help="Label imbalance: upsample (repeat rarer labels' lines up to the commonest's count), "
                   "downsample (drop commoner labels' lines to the rarest's), weight (reweight scores by "
                   "inverse label frequency), none.")
@click.option("--max-labels", type=click.IntRange(min=2), default=MAX_LABELS,
              help="Refuse a label column with more distinct values than this (an id or URL column).")
@click.option("--json", "as_json", is_flag=True, help="Print the model card as JSON on stdout.")
def train_command(input_dir: str, label_column: str, output: str, text_column: str, id_column: str,
                  valid_fraction: float, balance: str, max_labels: int, as_json: bool, **params: Any) -> None:
    """Train a supervised fastText classifier on --input's --label-column and write --output.

    Prints held-out accuracy, macro F1 and a per-label table. Labels are stored without
    fastText's __label__ prefix. Text is preprocessed exactly as `curate classify` does.
    """
    from curate.classifiers.metrics import format_report
    from curate.classifiers.train import card_path, train_classifier
    from curate.cli.common import cli_storage, echo_json, warn

    card = train_classifier(input_dir, label_column, output, text_column=text_column, id_column=id_column,
                            valid_fraction=valid_fraction, params=TrainParams(**params), balance=balance,
                            max_labels=max_labels, log=lambda m: click.echo(m, err=True), warn=warn,
                            storage=cli_storage())
    if as_json:
        echo_json(card)
        return
    click.echo(f"labels: {', '.join(card['labels'])}   training documents: {card['train_docs']:,}   "
               f"skipped: {card['skipped']['no_label']:,} without label, {card['skipped']['no_words']:,} without words")
    click.echo(format_report(card["metrics"]))
    click.echo(f"model: {output}   card: {card_path(output)}   ({card['train_seconds']:.1f} s training)")


@click.command("classify")
@click.option("--model", required=True, type=StoredPath(),
              help="Supervised fastText model (.bin or .ftz, a local path or a URI), e.g. from "
                   "`curate train-classifier`.")
@click.option("--column", required=True, help="Output column for the top label; the score goes to COLUMN_score.")
@click.option("--label", default=None, show_default="the top label",
              help="Score = probability of this label (e.g. --label hq on a quality model).")
@click.option("--preprocess", type=click.Choice(["fasttext", "curate"]), default=None,
              show_default="the model card's, else fasttext",
              help="How text becomes a fastText line: fasttext (newlines to spaces only, as public models "
                   "expect) or curate (curate's normalisation, for models it trained).")
@run_options
def classify_command(model: str, column: str, label: str | None, preprocess: str | None, **opts: Any) -> None:
    """Score every document of --input with a fastText model into --output.

    Adds COLUMN (the top label) and COLUMN_score (P(--label), else P(top label)); a document with
    no words gets nulls. Scores are columns, so prune / quality_buckets can use them later.
    """
    from curate.api import classify

    execute(lambda inp, out, run_options: classify(inp, out, model, column, label, preprocess=preprocess,
                                                   run_options=run_options), opts)
