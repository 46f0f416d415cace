"""Built-in stages, one module per stage or family; each registers itself."""
