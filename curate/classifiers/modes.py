"""The preprocess modes of the classify and language_id stages, apart from the numba kernels of
curate.classifiers.preprocess, so a stage's parameters can name them without importing numba."""

CURATE = "curate"
FASTTEXT = "fasttext"
MODES = (FASTTEXT, CURATE)
