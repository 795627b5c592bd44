"""Reading the kernel verifier's log: which instruction it stopped at and why.

A rejection is shown to the user next to the script line that produced the
failing instruction, so the log's last instruction index is what matters.
"""
from __future__ import annotations

import re


def _insn_index(line: str) -> int | None:
    head, sep, _ = line.partition(":")
    if sep and head.strip().isdigit() and line[len(head) + 1:].lstrip().startswith("("):
        return int(head)
    return None


def failing_slot(log: str) -> int | None:
    """The slot index of the last instruction the verifier looked at."""
    last = None
    for line in log.splitlines():
        n = _insn_index(line)
        if n is not None:
            last = n
    return last


_NOISE = ("processed ", "verification time", "stack depth", "max_states_per_insn",
          "mark_precise", "last_idx", "parent ", "regs=", "from ")


def reason(log: str, lines: int = 3) -> list[str]:
    """The verifier's own words for the rejection: the last few lines that
    are neither instruction traces nor statistics."""
    out = []
    for line in reversed(log.strip().splitlines()):
        text = line.strip()
        if not text or _insn_index(text) is not None or text.startswith(_NOISE):
            if out:
                break
            continue
        if text[0].isdigit() and ":" in text[:6]:
            continue
        out.append(text)
        if len(out) >= lines:
            break
    return list(reversed(out))


#: "program of this type cannot use helper bpf_x#N" / "unknown func bpf_x#N"
_HELPER_REFUSED = re.compile(r"(?:cannot use helper|unknown func) (bpf_\w+)#\d+")

#: helpers a kernel offers only when built with an option, and what else they need
_HELPER_NEEDS = {
    "bpf_override_return": "a kernel built with CONFIG_BPF_KPROBE_OVERRIDE, and a kprobe "
                           "on a function on the error-injection list",
    "bpf_send_signal": "Linux 5.3 or newer",
    "bpf_d_path": "Linux 5.10 or newer, in fentry/fexit/LSM programs on allowed functions",
}


def refused_helper(log: str) -> str | None:
    """The helper the kernel does not offer to this program, when that is
    why the log rejects it: the kernel's limit, not pytrace's code."""
    m = _HELPER_REFUSED.search(log or "")
    return m.group(1) if m else None


def helper_hint(helper: str) -> str:
    needs = _HELPER_NEEDS.get(helper)
    return (f"the running kernel does not let this kind of program call {helper}" +
            (f": it needs {needs}" if needs else " (an older kernel, or one built without it)"))
