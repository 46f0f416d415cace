"""A plugin package for curate's tests (docs/architecture.md, "Extension points")."""
