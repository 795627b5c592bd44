"""Kernel functions: what ``kprobe:``/``kretprobe:`` and
``fentry:``/``fexit:`` share, and the automatic fallback between them.

Two mechanisms reach a kernel function. kprobes (a perf kprobe PMU event or
a tracefs kprobe_events entry) run a program with the saved registers
(``struct pt_regs``): ``argN`` are argument registers, ``+OFFSET`` and
``reg()`` work, and BTF is optional. fentry/fexit (Linux 5.5 x86-64, 6.0
arm64) run a program from a BPF trampoline with the arguments as an array
of u64 and ``args`` typed from BTF. Kernels have one, both or neither
(pytrace's own test machines: no kprobes; arm64 6.1: fentry loads but
cannot attach), so a probe written as one runs as the other when only the
other works, with a note on stderr, unless ``--no-fallback``. What only
one can express is an error that says why; when neither works the error
names the missing feature and, for syscall functions, the tracepoint to
use instead.
"""
from __future__ import annotations

from enum import Enum

from ..base.diagnostics import Diagnostic, FeatureError, Severity
from ..lang.kernelinfo import Feature
from ..lang.probes import CtxSlot, FuncIp, ProbeChoices, ProbeContext, ProgKind, Target
from ..lang.types import Field, Int, Ptr, Struct, Void
from ..base.record import record
from . import Provider
from .ptregs import regs_context

_GLOB = "*?["
#: prefixes of the functions behind a system call X (sys_enter_X tracepoints)
SYSCALL_PREFIXES = ("__x64_sys_", "__ia32_sys_", "__arm64_sys_", "__riscv_sys_",
                    "__arm_sys_", "__se_sys_", "__do_sys_", "do_sys_", "ksys_", "sys_")
_WHAT_KPROBE = "kprobes (no perf kprobe PMU, no tracefs kprobe_events)"
_WHAT_FENTRY = "fentry programs (BPF trampolines: Linux 5.5 on x86-64, 6.0 on arm64)"


class Mechanism(Enum):
    KPROBE = "kprobe"
    FENTRY = "fentry"


@record(frozen=True)
class FuncTarget:
    """``Target.data`` of a kernel-function probe."""
    mechanism: Mechanism
    function: str
    module: str | None = None
    offset: int = 0
    ret: bool = False
    #: fentry/fexit: the function's BTF id (load-time attach target)
    btf_id: int = 0
    #: one of several functions a wildcard matched: failing to attach
    #: skips it (with a warning) instead of ending the run
    wildcard: bool = False
    #: attached with the wildcard's other functions by one kprobe_multi link
    multi: bool = False
    #: the return type as the kernel spells it, for -lv
    ret_decl: str = ""


@record(frozen=True)
class FuncSpec:
    """``kprobe:[MODULE:]FUNC[+OFFSET]`` taken apart."""
    text: str
    module: str | None
    pattern: str
    offset: int = 0

    @property
    def wildcard(self) -> bool:
        return any(c in self.pattern for c in _GLOB)


# -- spellings ---------------------------------------------------------------------

def syscall_names(function: str) -> list[str]:
    """System calls a function is the body of: ``__x64_sys_read`` -> read,
    ``do_sys_openat2`` -> openat, openat2 (a numbered variant serves the
    plain one too)."""
    for prefix in SYSCALL_PREFIXES:
        if function.startswith(prefix) and len(function) > len(prefix):
            name = function[len(prefix):]
            base = name.rstrip("0123456789")
            return [base, name] if base and base != name else [name]
    return []


def suggest_tracepoints(kernel, function: str, ret: bool) -> list[str]:
    """The syscall tracepoints that see what ``function`` sees, where they exist."""
    which = "exit" if ret else "enter"
    out = []
    for name in syscall_names(function):
        tp = f"sys_{which}_{name}"
        if kernel.tracepoint("syscalls", tp) is not None:
            out.append(f"tracepoint:syscalls:{tp}")
    return out


def _why_missing(choices: ProbeChoices, feature: Feature, what: str) -> str:
    if feature in choices.masked:
        return f"{feature.value} is masked (--no-feature {feature.value})"
    return f"this kernel has no {what}"


# -- the provider ----------------------------------------------------------------------

class KernelFunctionProvider(Provider):
    """``kprobe``/``kretprobe`` (``mechanism`` KPROBE) and ``fentry``/``fexit``
    (FENTRY); ``ret``: the return-probe spelling."""
    mechanism = Mechanism.KPROBE
    ret = False
    #: the user's choices: masked features, --no-fallback, -lv
    choices = ProbeChoices()

    def choosing(self, choices: ProbeChoices) -> "KernelFunctionProvider":
        """This provider deciding by ``choices``: itself when they are the
        ones it has, else a copy (the registry's instance stays as it is)."""
        if choices == self.choices:
            return self
        import copy
        bound = copy.copy(self)
        bound.choices = choices
        return bound

    # -- compile time ------------------------------------------------------------
    def parse(self, spec) -> FuncSpec:
        parts = spec.text.split(":")[1:]
        if len(parts) not in (1, 2) or not all(parts):
            raise self.fail(f"'{spec.text}' is not a {self.name} probe", spec, self._usage())
        module = parts[0] if len(parts) == 2 else None
        if module == "vmlinux":
            module = None
        target, _, off = parts[-1].partition("+")
        offset = 0
        if off:
            try:
                offset = int(off, 0)
            except ValueError:
                raise self.fail(f"'{off}' is not an offset", spec,
                                f"write {self.name}:FUNCTION+OFFSET, e.g. "
                                f"{self.name}:vfs_read+0x10") from None
        parsed = FuncSpec(spec.text, module, target, offset)
        if offset and (self.ret or self.mechanism is Mechanism.FENTRY):
            raise self.fail(f"{self.name} probes cannot take an offset", spec,
                            "only kprobe:FUNCTION+OFFSET attaches inside a function")
        if offset and parsed.wildcard:
            raise self.fail("an offset needs one function, not a wildcard", spec)
        return parsed

    def _usage(self) -> str:
        return (f"write {self.name}:FUNCTION, {self.name}:MODULE:FUNCTION"
                + (", kprobe:FUNCTION+OFFSET" if self.name == "kprobe" else "")
                + f" or a wildcard such as {self.name}:vfs_*")

    def choose(self, spec, parsed: FuncSpec, kernel) -> tuple[Mechanism, str]:
        """The mechanism this spec runs as, and the note saying so when it is
        not the one written; raises FeatureError when none works."""
        if self.choices.describe_only:       # -lv: what the probe offers
            return self.mechanism, ""
        fallback = self.choices.fallback
        has_kprobe = kernel.has(Feature.KPROBE)
        has_fentry = kernel.has(Feature.FENTRY) and kernel.has(Feature.BTF)
        alt = _alternative(self.name)
        if self.mechanism is Mechanism.KPROBE:
            if has_kprobe:
                return Mechanism.KPROBE, ""
            why = _why_missing(self.choices, Feature.KPROBE, _WHAT_KPROBE)
            if self.choices.verify_only and (parsed.offset or not (fallback and has_fentry)):
                return Mechanism.KPROBE, _dry_run_note(why)
            if parsed.offset:
                raise self._missing(spec, parsed, kernel,
                                    f"{spec.text} needs kprobes (fentry cannot attach inside "
                                    f"a function), but {why}")
            if fallback and has_fentry:
                return Mechanism.FENTRY, f"{spec.text} runs as {alt}:{_rest(spec.text)}: {why}"
            if not fallback:
                raise self._missing(spec, parsed, kernel,
                                    f"{spec.text} needs kprobes, but {why} (--no-fallback: "
                                    f"not tried as {alt})")
            raise self._missing(
                spec, parsed, kernel, f"cannot attach {spec.text}: {why}, and {alt}, which "
                f"could stand in, does not work either: {self._why_no_fentry(kernel)}")
        if has_fentry:
            return Mechanism.FENTRY, ""
        why = self._why_no_fentry(kernel)
        if fallback and has_kprobe:
            return Mechanism.KPROBE, f"{spec.text} runs as {alt}:{_rest(spec.text)}: {why}"
        if self.choices.verify_only and kernel.has(Feature.BTF):
            # the program as written needs an attach target the kernel
            # would refuse at load time; its body is verified as a kprobe's
            return Mechanism.KPROBE, _dry_run_note(f"{why}; fentry programs are verified as "
                                                   "kprobe programs")
        if not fallback:
            raise self._missing(spec, parsed, kernel, f"{spec.text} needs fentry, but {why} "
                                f"(--no-fallback: not tried as {alt})")
        raise self._missing(spec, parsed, kernel,
                            f"cannot attach {spec.text}: {why}, and {alt}, which could stand "
                            f"in, does not work either: "
                            f"{_why_missing(self.choices, Feature.KPROBE, _WHAT_KPROBE)}")

    def _why_no_fentry(self, kernel) -> str:
        if not kernel.has(Feature.BTF):
            return _why_missing(self.choices, Feature.BTF, "BTF (/sys/kernel/btf/vmlinux), "
                                "which fentry needs")
        if Feature.FENTRY in self.choices.masked:
            return "fentry is masked (--no-feature fentry)"
        return f"this kernel cannot attach {_WHAT_FENTRY}"

    def _missing(self, spec, parsed: FuncSpec, kernel, message: str) -> FeatureError:
        tps = [] if parsed.wildcard else suggest_tracepoints(kernel, parsed.pattern, self.ret)
        if tps:
            hint = "trace the system call instead: " + " or ".join(tps)
        else:
            hint = "tracepoints work on every kernel: pytrace -l 'tracepoint:*'"
        return FeatureError(Diagnostic(Severity.ERROR, message, spec.loc, hint))

    def expand(self, spec, kernel) -> list[Target]:
        parsed = self.parse(spec)
        mechanism, note = self.choose(spec, parsed, kernel)
        functions = self.functions(spec, parsed, kernel, mechanism)
        multi = mechanism is Mechanism.KPROBE and _multi(kernel, parsed, functions)
        targets = []
        for fn in functions:
            name = f"{self.name}:" + (f"{parsed.module}:" if parsed.module else "") + fn + (
                f"+{parsed.offset}" if parsed.offset else "")
            data, ctx = self.context(spec, parsed, kernel, mechanism, fn, note, multi)
            targets.append(Target(self.name, name, ctx, data))
        return targets

    def functions(self, spec, parsed: FuncSpec, kernel, mechanism: Mechanism) -> list[str]:
        """The functions a spec names (one, or what a wildcard matches)."""
        from fnmatch import fnmatchcase
        if not parsed.wildcard:
            return [parsed.pattern]
        if mechanism is Mechanism.FENTRY:
            names = btf_functions(kernel, parsed.module)
            traceable = kernel_functions(kernel, parsed.module, btf_only=False)
            if traceable:
                allowed = set(traceable)
                names = [n for n in names if n in allowed]
        else:
            names = kernel_functions(kernel, parsed.module)
        found = [n for n in names if fnmatchcase(n, parsed.pattern)]
        if not found:
            where = f"module {parsed.module}" if parsed.module else "the kernel"
            raise self.fail(f"no function of {where} matches {parsed.pattern}", spec,
                            f"list them with: pytrace -l '{self.name}:*'")
        return found

    def context(self, spec, parsed: FuncSpec, kernel, mechanism: Mechanism, fn: str,
                note: str, multi: bool = False) -> tuple[FuncTarget, ProbeContext]:
        from ..lang.kernel_types import converter, module_converter
        conv = converter(kernel) if parsed.module is None else module_converter(kernel,
                                                                               parsed.module)
        sig = conv.btf.func_proto(fn) if conv is not None else None
        wild = parsed.wildcard
        if mechanism is Mechanism.FENTRY:
            btf_id = conv.btf.find(fn, _func_kind()) if conv is not None else None
            if btf_id is None or sig is None:
                raise self._not_in_btf(spec, parsed, fn, kernel, note)
            if sig.variadic:
                raise self.fail(f"fentry cannot attach to {fn}: it takes variable arguments "
                                "(...), which BPF trampolines do not support", spec,
                                f"kprobe:{fn} can" + ("" if not note else f"; {note}"))
            params = typed_params(conv, fn, sig)
            ret_type = conv.c_type(sig.return_type)
            ctx = fentry_context(kernel, params, ret_type, self.ret, note)
            return FuncTarget(mechanism, fn, parsed.module, 0, self.ret, btf_id, wild,
                              ret_decl=conv.btf.type_name(sig.return_type)), ctx
        params = ret_type = None
        if sig is not None and not parsed.offset:
            params = typed_params(conv, fn, sig)
            ret_type = conv.c_type(sig.return_type)
        missing = ""
        if self.ret and self.mechanism is Mechanism.FENTRY:
            missing = (f"{note}; a kretprobe has no 'args': the arguments are gone when "
                       "the function returns")
        elif parsed.offset:
            missing = "a kprobe inside a function has no typed 'args'; use arg0, arg1, …"
        ctx = regs_context(kernel, retprobe=self.ret, params=params, ret_type=ret_type,
                           note=note, args_missing=missing,
                           kind=ProgKind.KPROBE_MULTI if multi else ProgKind.KPROBE)
        ret_decl = conv.btf.type_name(sig.return_type) if sig is not None else ""
        return FuncTarget(mechanism, fn, parsed.module, parsed.offset, self.ret, 0, wild,
                          multi, ret_decl), ctx

    def _not_in_btf(self, spec, parsed: FuncSpec, fn: str, kernel, note: str):
        from ..lang.kernel_types import module_converter
        if parsed.module is not None and module_converter(kernel, parsed.module) is None:
            why = (f"module {parsed.module} has no BTF (/sys/kernel/btf/{parsed.module}): "
                   "is it loaded?")
        elif parsed.module is not None:
            why = (f"module {parsed.module}'s BTF has no function {fn}: it is inlined, has "
                   "no BTF, or is misspelt, and fentry attaches only to functions BTF "
                   "describes")
        else:
            why = (f"the kernel's BTF has no function {fn}: it is inlined, has no BTF, or "
                   "is misspelt, and fentry attaches only to functions BTF describes")
        if note:
            why = f"{note}, but {why}"
        if self.mechanism is Mechanism.FENTRY and kernel.has(Feature.KPROBE):
            hint = f"kprobe:{fn} can attach to functions without BTF"
        else:
            hint = f"list the functions with: pytrace -l '{self.name}:*'"
        return self.fail(why, spec, hint)

    # -- run time ----------------------------------------------------------------
    def load_options(self, target: Target) -> dict:
        data: FuncTarget = target.data
        from ..kernel.bpf_consts import AttachType
        if data.multi:
            return {"expected_attach_type": AttachType.TRACE_KPROBE_MULTI}
        if data.mechanism is not Mechanism.FENTRY:
            return {}
        options = {"expected_attach_type": AttachType.TRACE_FEXIT if data.ret
                   else AttachType.TRACE_FENTRY, "attach_btf_id": data.btf_id}
        if data.module is not None:
            # the module's BTF object; attach_prog_fd shares its place in
            # bpf_attr (attach_btf_obj_fd, 5.11), and the kernel tells them apart
            from ..kernel import kprobes
            options["attach_prog_fd"] = kprobes.module_btf_fd(data.module)
        return options

    def attach_group(self, targets: list[Target], prog_fd: int, runtime) -> list | None:
        """A wildcard's functions in one kprobe_multi link (Linux 5.18): one
        attach instead of a perf event per function; cookies say which fired."""
        if not targets[0].data.multi:
            return None
        from ..kernel import kprobes
        return [kprobes.attach_kprobe_multi(
            prog_fd, [t.data.function for t in targets], [t.probe_index for t in targets],
            targets[0].data.ret, what=f"{targets[0].name} and {len(targets) - 1} more")]

    def attach(self, target: Target, prog_fd: int, runtime) -> list:
        from ..kernel import kprobes
        data: FuncTarget = target.data
        try:
            if data.mechanism is Mechanism.FENTRY:
                return [kprobes.attach_tracing(prog_fd, target.name)]
            return [kprobes.attach_kprobe(prog_fd, data.function, data.module, data.offset,
                                          data.ret, use_link=runtime.use_link,
                                          cookie=target.probe_index, what=target.name)]
        except OSError:
            if not data.wildcard:
                raise
            _skipped(runtime, target.name)
            return []

    def sweep(self, runtime) -> None:
        from ..kernel import kprobes
        kprobes.sweep()

    def listing(self, pattern: str, kernel) -> list[str]:
        from fnmatch import fnmatchcase
        module, _, fn = pattern.rpartition(":")
        fn = fn or "*"
        if self.mechanism is Mechanism.FENTRY:
            names = btf_functions(kernel, module or None)
        else:
            names = kernel_functions(kernel, module or None)
        prefix = f"{self.name}:" + (f"{module}:" if module else "")
        return [prefix + n for n in names if fnmatchcase(n, fn)]

    def describe(self, target: Target) -> list[str]:
        lines = super().describe(target)
        retval = target.context.retval
        if retval is not None:
            lines.append(f"    {target.data.ret_decl or retval.type} retval")
        return lines


def _multi(kernel, parsed: FuncSpec, functions: list[str]) -> bool:
    """Whether a wildcard's functions go in one kprobe_multi link: the kernel
    has them (5.18), and every function is one ftrace can hook (the link
    fails as a whole otherwise), which only ftrace's own list can tell."""
    if not (parsed.wildcard and len(functions) > 1 and parsed.module is None
            and kernel.has(Feature.KPROBE_MULTI)):
        return False
    hookable = kernel.ftrace_functions(None)
    return hookable is not None and set(functions) <= set(hookable)


def _dry_run_note(why: str) -> str:
    """--dry-run's one note (the same text for every probe, printed once)."""
    return f"--dry-run: kernel-function programs are loaded and verified, attaching them is not tried: {why}"


def _func_kind():
    from ..btf.records import BtfKind
    return BtfKind.FUNC


def _alternative(name: str) -> str:
    return {"kprobe": "fentry", "kretprobe": "fexit",
            "fentry": "kprobe", "fexit": "kretprobe"}[name]


def _rest(text: str) -> str:
    return text.split(":", 1)[1]


def _skipped(runtime, name: str) -> None:
    import sys
    print(f"warning: skipping {name}: it cannot be attached", file=sys.stderr)


def typed_params(conv, fn: str, sig) -> Struct:
    """The parameters of ``fn`` with their positions as offsets in u64 slots
    (a parameter wider than 8 bytes takes more than one)."""
    fields, slot = [], 0
    for i, p in enumerate(sig.params):
        t = conv.c_type(p.type)
        fields.append(Field(p.name or f"arg{i}", t, 8 * slot, decl=conv.btf.type_name(p.type)))
        slot += max(1, -(-t.size // 8))
    return Struct(f"{fn}()", tuple(fields), 8 * slot)


def fentry_context(kernel, params: Struct, ret_type, ret: bool, note: str) -> ProbeContext:
    """An fentry/fexit program's context: the arguments as u64 slots, then
    (fexit) the return value."""
    nslots = params.size // 8
    retval = None
    if ret and not isinstance(ret_type, Void):
        typed = ret_type if isinstance(ret_type, (Int, Ptr)) else Int(64, False)
        retval = CtxSlot(8 * nslots, typed)
    args = Struct(params.name, tuple(f for f in params.fields if f.type.size <= 8), params.size)
    return ProbeContext(
        ProgKind.TRACING, args=args, argn=tuple(CtxSlot(8 * i, Int(64, False))
                                                for i in range(nslots)),
        retval=retval, probe_by_cookie=False, share_key=None,
        func=FuncIp.HELPER if kernel.has(Feature.GET_FUNC_IP) else FuncIp.NONE, note=note)


def btf_functions(kernel, module: str | None) -> list[str]:
    """Functions the kernel's (or a module's) BTF describes: fentry can attach
    to them."""
    from ..lang.kernel_types import converter, module_converter
    conv = converter(kernel) if module is None else module_converter(kernel, module)
    return conv.btf.funcs() if conv is not None else []


def kernel_functions(kernel, module: str | None, btf_only: bool = True) -> list[str]:
    """Functions kprobes can attach to: the host's list (tracefs
    available_filter_functions or kallsyms, ``KernelInfo.traceable_functions``),
    else those BTF describes (``btf_only``)."""
    names = kernel.traceable_functions(module)
    if names:
        return names
    return btf_functions(kernel, module) if btf_only else []
