"""Leaf helpers every stage may use: records, diagnostics, the architecture
table, network address text; and the two that touch files, which the pure
stages (lang, bpf) may not import: the cache directory (cache) and the
parser's tables on disk (grammar_tables, which lang.lalr hands its export)."""
