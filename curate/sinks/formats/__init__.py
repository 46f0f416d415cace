"""The built-in sink formats, one module each; each registers itself (curate.sinks.sink_format)."""
