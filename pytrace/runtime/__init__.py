"""Sessions: options, loading, attaching, the event loop, printing maps and
tearing down, for the one-shot run and the live (REPL) session; the -c
child, background detaching and map editing."""
