"""Shard I/O: discovery, task split, streaming reads, atomic writes."""
