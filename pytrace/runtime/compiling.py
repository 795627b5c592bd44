"""Compiling a session's script (or one live input) and what goes with it:
the ``-d ast,ir,asm`` dumps and a note for each probe that runs through
another mechanism than the one written."""
from __future__ import annotations

from ..lang.program import CompiledScript


def compile_script(options, kernel, constants: dict[str, int], printer,
                   dump_out=None) -> CompiledScript:
    """The one-shot session's script, dumped as ``options.dump`` asks."""
    from ..lang.parser import parse
    from .headers import preprocess
    program = parse(preprocess(options, kernel), options.name)
    if "ast" in options.dump:
        from ..lang.dump import ast_lines
        _dump(dump_out, "\n".join(ast_lines(program)))
    script = compile_input(program, options, kernel, constants, printer, base=None)
    if "ir" in options.dump:
        for p in script.probes:
            _dump(dump_out, f"; {p.name}: {', '.join(t.name for t in p.targets[:4])}")
            _dump(dump_out, "\n".join(p.ir_dump))
    if "asm" in options.dump:
        from ..lang.dump import asm_lines
        for p in script.probes:
            _dump(dump_out, "\n".join(asm_lines(p)))
    return script


def compile_input(program, options, kernel, constants: dict[str, int], printer,
                  base: CompiledScript | None) -> CompiledScript:
    """A parsed program compiled, with its warnings and notes printed: the
    whole script (``base`` None) or one input of the live session against
    ``base``, everything loaded so far (``compile_ast(base=)``)."""
    from ..compile import compile_ast
    from ..providers import resolvers
    unit = compile_ast(program, kernel, resolvers(options.probe_choices()), params=options.params,
                       constants=constants, limits=options.compile_limits(), base=base)
    for warning in unit.warnings:   # a skipped missing probe (missing_probes = warn): one line each
        printer.message(warning.render().partition("\n")[0])
    check_traffic_changes(program, unit, options, printer)
    print_fallback_notes(printer, unit)         # kprobe running as fentry, …
    return unit


def check_traffic_changes(program, script: CompiledScript, options, printer) -> None:
    """drop/tx/redirect on a real interface: one warning line each (-q
    too); a probe that drops every packet needs --unsafe."""
    import sys
    net = sys.modules.get("pytrace.providers.net")
    if net is None:     # no network probe was expanded, so none changes traffic
        return
    warnings, errors = net.traffic_changes(program, script)
    if errors and not options.unsafe:
        raise errors[0]
    for line in warnings:
        printer.message(line)


def print_fallback_notes(printer, script: CompiledScript) -> None:
    """One line on stderr for each probe that runs through another
    mechanism than the one written (kprobe as fentry, …)."""
    seen = set()
    for p in script.probes:
        for t in p.targets:
            note = t.context.note
            if note and note not in seen:
                seen.add(note)
                printer.message(f"note: {note}")


def _dump(out, text: str) -> None:
    import sys
    print(text, file=out or sys.stdout)
