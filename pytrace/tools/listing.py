"""``pytrace -l [PATTERN]``: the probes pytrace can attach to; ``-l 'struct X'``
kernel types; ``-l builtins`` the builtins and probe types
(``builtins_listing``)."""
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
    if pattern == "builtins" or pattern.startswith("builtins:"):
        from .builtins_listing import print_builtins
        return print_builtins(out, pattern.partition(":")[2], verbose)
    check_privileges()
    kernel = host.build(features.probe_features(masked))
    # describe probes as written, even where the kernel could not attach them
    choices = ProbeChoices(describe_only=True)
    provider_name, _, rest = pattern.partition(":")
    registry = by_name()
    # PROVIDER:PATTERN asks that provider; any other pattern filters every listing
    named = bool(pattern) and provider_name in registry
    chosen = [registry[provider_name]] if named else list(providers())
    for p in chosen:
        for name in p.listing(rest if named else pattern, kernel):
            if pattern and not named and not fnmatch.fnmatchcase(name, pattern):
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
