"""Duplicate removal: exact (hash of text) and near-duplicate (MinHash LSH)."""
