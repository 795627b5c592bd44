"""``pytrace -l [PATTERN]``: the probes pytrace can attach to."""
from __future__ import annotations

import fnmatch


def print_listing(out, pattern: str, verbose: bool, masked) -> int:
    from ..kernel import host
    from ..kernel import features
    from ..kernel.privileges import check_privileges
    from ..lang.probes import ProbeChoices
    from ..providers import by_name, providers
    if pattern.startswith(("struct ", "union ", "enum ")):
        return _print_types(out, pattern, verbose)
    check_privileges()
    kernel = host.build(features.probe_features(masked))
    # describe probes as written, even where the kernel could not attach them
    choices = ProbeChoices(describe_only=True)
    provider_name, _, rest = pattern.partition(":")
    registry = by_name()
    if pattern and provider_name in registry:
        chosen = [registry[provider_name]]
    else:
        chosen, rest = list(providers()), pattern
    for p in chosen:
        sub = rest if p is not registry.get(provider_name) else rest
        for name in p.listing(sub if ":" in sub or not sub else sub, kernel):
            if pattern and provider_name not in registry and not fnmatch.fnmatchcase(name, pattern):
                continue
            out.write(name + "\n")
            if verbose:
                _describe(out, p.choosing(choices), name, kernel)
    return 0


def _describe(out, provider, name: str, kernel) -> None:
    from ..lang.ast import ProbeSpec
    try:
        targets = provider.expand(ProbeSpec(name), kernel)
    except Exception:          # a probe that cannot be expanded lists without arguments
        return
    if targets:
        for line in provider.describe(targets[0]):
            out.write(line + "\n")


def _print_types(out, pattern: str, verbose: bool) -> int:
    """``-l 'struct task_*'``: kernel type names; ``-lv``: their definitions
    (from BTF; reading it needs no privileges)."""
    from ..btf import cdecl as btf_c
    from ..btf.reader import Btf
    btf = Btf.load()
    for tid in btf_c.find_type(btf, pattern):
        if verbose:
            out.write(btf_c.definition(btf, tid) + "\n")
        else:
            out.write(f"{pattern.split()[0]} {btf.name_of(tid)}\n")
    return 0
