"""Benchmarks, each a script: ``.venv/bin/python bench/<name>.py`` (results in RESULTS.md)."""
