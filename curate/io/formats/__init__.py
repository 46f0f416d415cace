"""The built-in input formats, one module each; each registers itself (curate.io.input_format)."""
