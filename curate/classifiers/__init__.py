"""Supervised text classifiers (fastText): shared preprocessing, training, batch prediction and
metrics, used by the ``classify`` and ``language_id`` stages and ``curate train-classifier``."""
