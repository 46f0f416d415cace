"""Text kernels shared by stages: word segmentation, word and shingle hashing, MinHash sketches.

Modules here may import numba at top level; stage modules import them inside functions so that
stage discovery stays cheap.
"""
