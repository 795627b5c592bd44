"""The interactive prompt (prompt-toolkit, imported lazily): the app, its
commands, syntax highlighting and completion, watch."""
