"""The compiler's front door: AST in, ``CompiledScript`` out.

parse -> expand probes (providers) -> group targets that can share a program
-> check -> lower -> emit. Pure: kernel facts arrive in ``KernelInfo`` and
attach points through the resolvers the session hands in.
"""
from __future__ import annotations

from .base.record import replace

from .bpf.emit import emit
from .base.diagnostics import CompileError, Diagnostic, FeatureError, MissingProbe, Severity
from .lang.kernelinfo import KernelInfo
from .lang import ast as A
from .base.nesting import deep_stack
from .lang.kernel_limits import (check_map_count, check_map_sizes, check_program_maps,
                                 setting_problem)
from .lang.lower import Lowerer
from .lang.resources import Resources
from .lang.probes import Resolvers, Target, is_wildcard
from .lang.program import CompiledProbe, CompiledScript, Limits, MapKind, MapSpec
from .lang.semantics import Checker, Group, MapInfo
from .lang.types import Agg, AggKind, Int, LpmKey, Tuple

#: probe names get their own ``probe`` ids above the tracepoint id range
PROBE_ID_BASE = 1 << 20


#: the values of config missing_probes
MISSING_PROBES = ("error", "warn", "ignore")


def apply_config(limits: Limits, config: tuple[A.ConfigItem, ...]) -> Limits:
    changes = {}
    for item in config:
        name = Limits.NAMES.get(item.name)
        if name is None:
            known = ", ".join(sorted(Limits.NAMES))
            raise CompileError(Diagnostic(Severity.ERROR, f"unknown config setting '{item.name}'",
                                          item.loc, f"known settings: {known}"))
        current = getattr(limits, name)
        if isinstance(current, int) and not isinstance(item.value, int):
            raise CompileError(Diagnostic(Severity.ERROR, f"{item.name} takes a number",
                                          item.loc))
        if name == "missing_probes" and item.value not in MISSING_PROBES:
            raise CompileError(Diagnostic(
                Severity.ERROR, f"missing_probes is '{item.value}'; it must be error, warn or "
                "ignore", item.loc, "write config = { missing_probes = warn }"))
        problem = isinstance(item.value, int) and setting_problem(item.name, item.value)
        if problem:
            raise CompileError(Diagnostic(Severity.ERROR, problem, item.loc))
        changes[name] = item.value
    return replace(limits, **changes) if changes else limits


def _uses(node: A.Node, name: str) -> bool:
    return any(isinstance(n, A.Builtin) and n.name == name for n in A.walk(node))


def _uses_context(node: A.Node) -> bool:
    """Whether the body reads the probe's context: args, retval, argN, func, reg()."""
    for n in A.walk(node):
        if isinstance(n, A.Builtin) and (n.name in ("args", "retval", "func") or (
                n.name.startswith("arg") and n.name[3:].isdigit())):
            return True
        if isinstance(n, A.Call) and n.name == "reg":
            return True
    return False


def expand(program: A.Program, kernel: KernelInfo, resolvers: Resolvers,
           limits: Limits, names: dict[int, str] | None = None,
           warnings: list[Diagnostic] | None = None) -> tuple[list[Group], dict[int, str]]:
    """Probe specs to groups of targets; ``names`` (probe id -> name, grown
    and returned) holds ids already given out, by a loaded script."""
    groups: list[Group] = []
    names = dict(names or {})
    warnings: list[Diagnostic] = [] if warnings is None else warnings
    total = 0
    errors: list[Diagnostic] = []
    #: exit status 1 when every error is a missing kernel feature, else 2
    feature_only = True
    for pi, probe in enumerate(program.probes):
        targets: list[Target] = []
        missing: list[Diagnostic] = []
        for spec in probe.specs:
            resolver = resolvers.get(spec.provider)
            if resolver is None:
                errors.append(_unknown_provider(spec, resolvers))
                feature_only = False
                continue
            try:
                found = resolver.expand(spec, kernel)
            except MissingProbe as err:
                missing += err.diagnostics
                continue
            except CompileError as err:
                errors += err.diagnostics
                feature_only = feature_only and isinstance(err, FeatureError)
                continue
            if is_wildcard(spec.text):
                found = [replace(t, wildcard=True) for t in found]
            targets += found
        if missing:
            if limits.missing_probes == "error" or not targets:
                if targets:             # the others would attach: say how to let them
                    missing = [replace(d, hint=f"{d.hint}; or attach the block's other probes "
                                       "with config = { missing_probes = warn }")
                               for d in missing]
                errors += missing
                feature_only = False
            elif limits.missing_probes == "warn":
                warnings += [replace(d, severity=Severity.WARNING,
                                     message=d.message + "; skipping this probe") for d in missing]
        total += len(targets)
        if total > limits.max_probes:
            raise CompileError(Diagnostic(
                Severity.ERROR, f"the script attaches to {total} probes; the limit is "
                f"{limits.max_probes}", probe.loc,
                "narrow the wildcard, or raise the limit with PYTRACE_MAX_PROBES"))
        body = A.Block((probe.body,) + ((A.ExprStmt(probe.predicate),)
                                         if probe.predicate is not None else ()))
        # programs shared between targets must agree on what the body reads
        # from the context (args, and retval/argN/reg()/func whose places
        # differ between entry and return probes)
        uses_args = _uses_context(body)
        uses_probe = _uses(body, "probe")
        buckets: dict[object, list[Target]] = {}
        for t in targets:
            ctx = t.context
            if not t.probe_index:
                t = replace(t, probe_index=PROBE_ID_BASE + len(names))
            names[t.probe_index] = t.name
            if ctx.share_key is None or (uses_probe and not ctx.probe_by_cookie):
                key: object = ("alone", id(t))
            else:
                key = (ctx.kind, ctx.share_key if uses_args else "any")
            buckets.setdefault(key, []).append(t)
        for ts in buckets.values():
            groups.append(Group(probe, pi, ts[0].context, ts))
    if errors:
        raise (FeatureError if feature_only else CompileError)(errors)
    return groups, names


def _unknown_provider(spec: A.ProbeSpec, resolvers: Resolvers) -> Diagnostic:
    """'unknown probe type' with a did-you-mean, or the list of probe types
    as scripts spell them: BEGIN, END, tracepoint (t), …"""
    import difflib
    spellings: dict[int, list[str]] = {}
    main: dict[int, str] = {}
    whole: dict[int, tuple[str, ...]] = {}
    for name, resolver in resolvers.by_name.items():
        spellings.setdefault(id(resolver), []).append(name)
        main[id(resolver)] = getattr(resolver, "name", "")
        whole[id(resolver)] = getattr(resolver, "whole_probes", ())
    listed, candidates = [], []
    for rid, names in spellings.items():
        if whole[rid]:
            shown = [n for n in names if n in whole[rid]]
            listed += shown
            candidates += shown
            continue
        # the provider's own name first (fexit, not its longer alias kretfunc)
        names.sort(key=lambda n: (n != main[rid], -len(n), n))
        full, short = names[0], names[1:]
        listed.append(full + (f" ({', '.join(short)})" if short else ""))
        candidates += names
    what = spec.provider
    near = difflib.get_close_matches(what, candidates, n=1, cutoff=0.6)
    hint = f"did you mean {near[0]}?" if near else "probe types: " + ", ".join(
        sorted(listed, key=lambda x: (not x.isupper(), x)))
    return Diagnostic(Severity.ERROR, f"unknown probe type '{what}'", spec.loc, hint)


def map_spec(info: MapInfo, limits: Limits) -> MapSpec:
    value = info.value
    key = info.key if info.keyed else None
    if isinstance(key, LpmKey) or (isinstance(key, Tuple) and
                                   any(isinstance(t, LpmKey) for t in key.elems)):
        return _lpm_spec(info, key, limits)
    key_size = key.size if key is not None else 8
    if isinstance(value, Agg):
        if value.kind in (AggKind.HIST, AggKind.LHIST):
            key_size = ((key.size + 7) // 8 * 8 + 8) if key is not None else 8
        return MapSpec(info.name, MapKind.PERCPU_HASH, key_size, value.size,
                       limits.max_map_keys, key, value)
    if value is None or not hasattr(value, "size") or value.size == 0:
        value = Int(64, True)
    return MapSpec(info.name, MapKind.HASH, key_size, max(value.size, 1),
                   limits.max_map_keys, key, value)


def _lpm_spec(info: MapInfo, key, limits: Limits) -> MapSpec:
    """A map keyed by lpm(): a BPF LPM trie (no per-CPU variant, so no
    aggregations; preallocation is not allowed, see session)."""
    if isinstance(key, Tuple):
        raise CompileError(Diagnostic(Severity.ERROR, f"lpm() must be {info.name}'s only key",
                                      info.key_loc, "put the other parts inside lpm(…): "
                                      "lpm(port, ip.saddr)"))
    value = info.value
    if isinstance(value, Agg):
        raise CompileError(Diagnostic(
            Severity.ERROR, f"{info.name} is keyed by lpm() and cannot hold "
            f"{value.kind.value}() values", info.value_loc,
            "a longest-prefix-match map holds plain values: @rules[lpm(…)] = 1"))
    if value is None or not hasattr(value, "size") or value.size == 0:
        value = Int(64, True)
    return MapSpec(info.name, MapKind.LPM_TRIE, key.size, max(value.size, 1),
                   limits.max_map_keys, key, value)


def _prog_name(group: Group, index: int, resolvers: Resolvers) -> str:
    """pt<N>_<what>, within BPF's 15 characters: the tracepoint's name, else
    the probe type and its last part (pt3_interval_1): the provider's
    ``prog_name_prefix``."""
    target = group.targets[0]
    tail = target.name.rsplit(":", 1)[-1]
    tail = getattr(resolvers.get(target.provider), "prog_name_prefix",
                   f"{target.provider}_") + tail
    clean = "".join(c if c.isalnum() or c == "_" else "_" for c in tail)
    return f"pt{index}_{clean}"[:15]


@deep_stack()
def compile_ast(program: A.Program, kernel: KernelInfo, resolvers: Resolvers, *,
                params: list[str] | None = None, constants: dict[str, int] | None = None,
                limits: Limits | None = None,
                base: CompiledScript | None = None) -> CompiledScript:
    """``base``: a script already loaded (the interactive session's), which
    this program's probes join: they use its maps as loaded (lang/incremental.py),
    their event ids, counters and probe ids follow its, and the result's
    ``events``, ``counters`` and ``probe_names`` include the base's."""
    params = list(params or [])
    constants = dict(constants or {})
    limits = apply_config(limits or Limits(), program.config)
    warnings: list[Diagnostic] = []
    groups, names = expand(program, kernel, resolvers, limits,
                           base.probe_names if base is not None else None, warnings)
    checker = Checker(kernel, limits, params, constants)
    if base is not None:
        from .lang.incremental import seed_maps
        seed_maps(checker, base)
    typings = checker.check(groups)

    def loc_of(name):
        info = checker.maps.get(name)
        return (info.key_loc or info.first_loc) if info is not None else None
    check_map_count(checker.maps, loc_of)
    res = Resources(limits, kernel)
    res.maps = {name: map_spec(info, limits) for name, info in sorted(checker.maps.items())}
    first = 0
    if base is not None:
        from .lang.incremental import keep_loaded_maps
        keep_loaded_maps(res.maps, base, program)
        res.events, res.counters = list(base.events), list(base.counters)
        first = len(base.probes)
    probes = []
    for i, (group, typing) in enumerate(zip(groups, typings)):
        lowerer = Lowerer(group, typing, res, _prog_name(group, first + i, resolvers), i, params,
                          constants)
        fn = lowerer.lower_probe()
        ir_dump = fn.dump()
        prog = emit(fn)
        check_program_maps(prog.insns, group.probe.loc)
        special = group.targets[0].name if group.targets[0].context.runs_once else ""
        probes.append(CompiledProbe(i, prog.name, group.targets, group.context.kind,
                                    prog.insns, prog.locs, prog.stack_size, ir_dump, special,
                                    prog.funcs, group.probe_index))
    maps = list(res.maps.values()) + res.internal_maps(len(probes), kernel.ncpus)
    check_map_sizes(maps, limits.max_strlen, loc_of)
    source = program.loc.source if program.loc is not None else None
    origins = dict(base.map_origins) if base is not None else {}
    for name, info in checker.maps.items():
        origins.setdefault(name, (info.key_loc or info.first_loc, info.value_loc))
    return CompiledScript(probes, maps, res.events, res.counters, limits, names, source,
                          origins, warnings)


