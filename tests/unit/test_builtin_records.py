"""Builtins are data: what the records say beyond name, signature and doc."""
from pytrace.lang.builtins import USERSPACE_SERVICES, registry


def _records():
    reg = registry()
    return list(reg.variables.values()) + list(reg.functions.values())


def test_userspace_services_are_named_by_the_records():
    needs = {b.name: b.userspace for b in _records() if b.userspace}
    assert needs == {"kstack": "symbols", "ustack": "symbols", "ksym": "symbols",
                     "usym": "symbols", "func": "symbols", "load": "mapfiles"}
    assert set(needs.values()) <= set(USERSPACE_SERVICES)


def test_registry_collects_the_services_a_script_uses():
    reg = registry()
    assert reg.userspace(["pid", "printf", "ustack", "arg3", "nosuch"]) == {"symbols"}
    assert reg.userspace(["load", "ksym"]) == {"symbols", "mapfiles"}
    assert reg.userspace(["pid", "comm"]) == frozenset()
