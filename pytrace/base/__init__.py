"""Leaf helpers every stage may use: records, diagnostics, the cache
directory, the architecture table, network address text."""
