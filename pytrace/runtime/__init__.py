"""Running a compiled script: the one-shot run (``session``) and the live
REPL session (``live``), built from the same parts: ``options``,
``prepare`` (kernel facts, traced processes), ``compiling``, ``loader``
(maps and programs to fds), ``attacher`` (probes, BEGIN/END, tear-down),
``eventloop`` (the event buffer, one handler per event kind, the poll
loop), ``mapreader`` (maps printed at exit), ``services`` (builtins'
userspace needs); also the -c child, background detaching and map editing."""
