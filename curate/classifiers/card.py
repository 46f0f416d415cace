"""A model's JSON card (``MODEL.json`` beside ``MODEL.bin``): where it lives, reading it, and what
it says about how the model is to be scored (preprocessing, label weights)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from curate.classifiers.modes import CURATE, FASTTEXT
from curate.store.storage import Storage, with_suffix


def card_path(model_path: str | Path) -> str:
    """Where the JSON card of a model lives: beside it, same stem, ``.json`` (a URI beside a URI)."""
    return with_suffix(model_path, ".json")


def read_card(model_path: str | Path, storage: Storage | None = None) -> dict[str, Any] | None:
    """The model's curate card, or None when it has none (e.g. a downloaded lid.176.bin; a JSON
    file beside it that curate did not write, which has no ``curate_version``, is no card). Read
    with `storage` (default: the environment's options)."""
    storage = storage or Storage()
    path = card_path(model_path)
    if not storage.file_exists(path):
        return None
    try:
        card = json.loads(storage.stage_file(path).read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    return card if isinstance(card, dict) and "curate_version" in card else None


def default_preprocess(model_path: str | Path, storage: Storage | None = None) -> str:
    """The preprocessing a model is scored with unless told otherwise: what its curate card records
    (``curate`` for every model curate trained), else ``fasttext``, what a public model expects."""
    card = read_card(model_path, storage)
    if card is None or "preprocessing" not in card:
        return FASTTEXT
    return str(card["preprocessing"].get("name", CURATE))


def label_weights(model_path: str | Path, storage: Storage | None = None) -> dict[str, float] | None:
    """The per-label weights scoring applies (a model trained with ``--balance weight``), or None."""
    card = read_card(model_path, storage)
    return None if card is None else card.get("label_weights")
