"""Readable dumps of compiler stages (``-d ast``, ``-d asm``); golden tests
compare these."""
from __future__ import annotations

from ..base.nesting import deep_stack
from ..base.record import fields as record_fields, is_record, replace

from ..bpf.insn import Insn, decode, encode, slot_offsets
from ..bpf.insn_text import format_insn
from . import ast as A


@deep_stack()
def ast_lines(node: A.Node) -> list[str]:
    """The tree, one node a line, children indented under their parent."""
    return _ast_lines(node, 0)


def _ast_lines(node: A.Node, depth: int) -> list[str]:
    pad = "  " * depth
    if not is_record(node):
        return [pad + repr(node)]
    simple, nested = [], []
    for f in record_fields(node):
        if f.name == "loc" or f.name == "name_loc":
            continue
        value = getattr(node, f.name)
        if isinstance(value, A.Node):
            nested.append((f.name, [value]))
        elif isinstance(value, tuple) and value and all(isinstance(v, A.Node) for v in value):
            nested.append((f.name, list(value)))
        elif isinstance(value, tuple) and not value:
            continue
        else:
            simple.append(f"{f.name}={value!r}")
    out = [pad + type(node).__name__ + (" " + " ".join(simple) if simple else "")]
    for name, children in nested:
        if len(nested) > 1 or len(children) > 1:
            out.append(pad + f"  .{name}")
            for c in children:
                out += _ast_lines(c, depth + 2)
        else:
            out += _ast_lines(children[0], depth + 1)
    return out


def round_trip(insns: list[Insn]) -> list[Insn]:
    """The instructions as the kernel receives them, decoded back; map names
    (which the wire format cannot carry) are restored for reading."""
    back = decode(encode(insns))
    assert len(back) == len(insns), "instruction encoding does not round-trip"
    return [replace(b, ref=o.ref) if o.ref else b for b, o in zip(back, insns)]


def asm_lines(probe) -> list[str]:
    """A probe's instructions in the verifier's syntax, each run of them
    under the script line it came from."""
    names = ", ".join(t.name for t in probe.targets[:4])
    more = f" (+{len(probe.targets) - 4} more)" if len(probe.targets) > 4 else ""
    out = [f"; {probe.name}: {names}{more}  [{probe.nslots} instructions, "
           f"{probe.stack_size} bytes of stack]"]
    insns = round_trip(probe.insns)
    last_line = None
    for pc, insn, loc in zip(slot_offsets(insns), insns, probe.locs):
        line = loc.line if loc is not None and loc.source is not None else None
        if line and line != last_line:
            out.append(f"; {line}: {loc.source.line(line).strip()}")
            last_line = line
        out.append(f"{pc:5d}: {format_insn(insn, pc if insn.is_jump else None)}")
    return out
