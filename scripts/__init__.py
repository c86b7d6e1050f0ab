"""Project scripts (importable so tests can reuse the build helpers)."""
