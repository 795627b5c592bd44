"""Builtins are data: what the records say beyond name, signature and doc."""
from pytrace.lang.builtins import USERSPACE_SERVICES, registry


def _records():
    reg = registry()
    return list(reg.variables.values()) + list(reg.functions.values())


def test_userspace_services_are_named_by_the_records():
    needs = {b.name: b.userspace for b in _records() if b.userspace}
    assert needs == {"kstack": "symbols", "ustack": "symbols", "ksym": "symbols",
                     "usym": "symbols", "func": "symbols", "load": "mapfiles",
                     "system": "shell", "cat": "files"}
    assert set(needs.values()) <= set(USERSPACE_SERVICES)


def test_registry_collects_the_services_a_script_uses():
    reg = registry()
    assert reg.userspace(["pid", "printf", "ustack", "arg3", "nosuch"]) == {"symbols"}
    assert reg.userspace(["load", "ksym"]) == {"symbols", "mapfiles"}
    assert reg.userspace(["pid", "comm"]) == frozenset()


def test_builtins_lower_through_the_lowerers_public_interface():
    """lang/builtins (and USDT operands) use only ``Lowerer.PUBLIC``; every
    name in it exists and none is private."""
    import re
    from pathlib import Path
    from pytrace.lang.lower import Lowerer
    lang = Path(__file__).resolve().parents[2] / "pytrace" / "lang"
    used: dict[str, set[str]] = {}
    for path in [*sorted((lang / "builtins").glob("*.py")), lang / "operands.py"]:
        for name in re.findall(r"\b(?:lw|self\.lw)\.([A-Za-z_]\w*)", path.read_text()):
            used.setdefault(name, set()).add(path.name)
    outside = {n: sorted(files) for n, files in used.items() if n not in Lowerer.PUBLIC}
    assert not outside, f"members outside Lowerer.PUBLIC: {outside}"
    assert not [n for n in Lowerer.PUBLIC if n.startswith("_")]
    attributes = {"group", "ctx", "ctx_info", "kernel", "limits", "params", "constants",
                  "res", "exit_label", "loc", "ext"}
    assert not [n for n in Lowerer.PUBLIC - attributes if not callable(getattr(Lowerer, n, None))]
