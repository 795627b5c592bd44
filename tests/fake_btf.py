"""A small kernel's BTF, built by hand, for compiler tests of kernel types
and kernel-function probes that must not depend on the machine.

``btf_kernel()`` is ``tests.fakes.fake_kernel()`` plus this BTF: a
``task_struct`` with the members scripts reach for (pid, tgid, comm,
real_parent, mm, bitfields, an enum, an embedded list_head), a few
functions (``do_sys_openat2``, ``vfs_read``, ``__x64_sys_openat``…) and the
``sched_switch`` raw tracepoint. Offsets are made up but laid out as a
compiler would (naturally aligned), so listings are stable.
"""
from __future__ import annotations

from pytrace.base.record import replace
from pytrace.btf.reader import Btf
from pytrace.btf.records import MAGIC, BtfKind, IntEncoding
from pytrace.lang.kernelinfo import Feature

from tests.fakes import fake_kernel


class Writer:
    """Appends BTF type records; ``bytes()`` is the blob."""

    def __init__(self):
        self.strs = bytearray(b"\0")
        self.words: list[int] = []
        self.next_id = 1
        self.ids: dict[str, int] = {}

    def s(self, name: str) -> int:
        if not name:
            return 0
        key = b"\0" + name.encode() + b"\0"
        i = bytes(self.strs).find(key)
        if i >= 0:
            return i + 1
        off = len(self.strs)
        self.strs += name.encode() + b"\0"
        return off

    def add(self, kind: BtfKind, name: str = "", st: int = 0, vlen: int = 0,
            kflag: bool = False, extra: tuple = (), key: str = "") -> int:
        self.words += [self.s(name), kind << 24 | vlen | kflag << 31, st, *extra]
        tid = self.next_id
        self.next_id += 1
        self.ids[key or name] = tid
        return tid

    def int_(self, name: str, size: int, signed: bool = False, char: bool = False,
             boolean: bool = False) -> int:
        enc = (IntEncoding.SIGNED if signed else 0) | (IntEncoding.CHAR if char else 0) | (
            IntEncoding.BOOL if boolean else 0)
        return self.add(BtfKind.INT, name, size, extra=(int(enc) << 24 | 8 * size,))

    def ptr(self, target: int, key: str = "") -> int:
        return self.add(BtfKind.PTR, "", target, key=key)

    def struct(self, name: str, size: int, members, union: bool = False) -> int:
        """members: (name, type id, bit offset, bitfield width)"""
        extra = []
        kflag = any(m[3] for m in members)
        for mname, mtype, bit, width in members:
            extra += [self.s(mname), mtype, (width << 24 | bit) if kflag else bit]
        return self.add(BtfKind.UNION if union else BtfKind.STRUCT, name, size,
                        len(members), kflag, tuple(extra))

    def func(self, name: str, ret: int, params) -> int:
        extra = []
        for pname, ptype in params:
            extra += [self.s(pname), ptype]
        proto = self.add(BtfKind.FUNC_PROTO, "", ret, len(params), extra=tuple(extra),
                         key=f"proto {name}")
        return self.add(BtfKind.FUNC, name, proto, 1)

    def bytes(self) -> bytes:
        types = b"".join(w.to_bytes(4, "little") for w in self.words)
        strs = bytes(self.strs)
        head = MAGIC.to_bytes(2, "little") + bytes((1, 0)) + b"".join(
            v.to_bytes(4, "little") for v in (24, 0, len(types), len(types), len(strs)))
        return head + types + strs


def build() -> Writer:
    w = Writer()
    i = w.ids
    w.int_("int", 4, signed=True)
    w.int_("unsigned int", 4)
    w.int_("char", 1, signed=True, char=True)
    w.int_("long int", 8, signed=True)
    w.int_("long unsigned int", 8)
    w.int_("long long unsigned int", 8)
    w.int_("_Bool", 1, boolean=True)
    w.add(BtfKind.TYPEDEF, "bool", i["_Bool"])
    w.add(BtfKind.TYPEDEF, "pid_t", i["int"])
    w.add(BtfKind.TYPEDEF, "u64", i["long long unsigned int"])
    w.add(BtfKind.TYPEDEF, "size_t", i["long unsigned int"])
    w.add(BtfKind.CONST, "", i["char"], key="const char")
    w.ptr(i["const char"], key="const char *")
    w.ptr(i["char"], key="char *")
    w.ptr(0, key="void *")
    w.add(BtfKind.ARRAY, "", 0, extra=(i["char"], i["int"], 16), key="char[16]")
    w.add(BtfKind.ARRAY, "", 0, extra=(i["int"], i["int"], 4), key="int[4]")
    w.add(BtfKind.ENUM, "pid_type", 4, 3, extra=(
        w.s("PIDTYPE_PID"), 0, w.s("PIDTYPE_TGID"), 1, w.s("PIDTYPE_PGID"), 2))
    # struct list_head { struct list_head *next, *prev; } (refers to itself)
    lh = w.next_id
    w.struct("list_head", 16, [("next", lh + 1, 0, 0), ("prev", lh + 1, 64, 0)])
    w.ptr(lh, key="struct list_head *")
    w.struct("mm_struct", 16, [("total_vm", i["long unsigned int"], 0, 0),
                               ("map_count", i["int"], 64, 0)])
    w.ptr(i["mm_struct"], key="struct mm_struct *")
    anon = w.struct("", 4, [("exit_code", i["int"], 0, 0),
                            ("exit_bits", i["unsigned int"], 0, 0)], union=True)
    task = w.next_id
    task_ptr = task + 1
    w.struct("task_struct", 96, [
        ("__state", i["unsigned int"], 0, 0),
        ("flags", i["unsigned int"], 32, 0),
        ("pid", i["pid_t"], 64, 0),
        ("tgid", i["pid_t"], 96, 0),
        ("real_parent", task_ptr, 128, 0),
        ("comm", i["char[16]"], 192, 0),
        ("mm", i["struct mm_struct *"], 320, 0),
        ("sched_reset_on_fork", i["unsigned int"], 384, 1),
        ("in_iowait", i["unsigned int"], 385, 1),
        ("nice_bits", i["int"], 386, 3),            # a signed bitfield
        ("ptype", i["pid_type"], 416, 0),
        ("tasks", i["list_head"], 448, 0),
        ("counts", i["int[4]"], 576, 0),
        ("", anon, 704, 0),                          # members flatten: task->exit_code
    ])
    w.ptr(task, key="struct task_struct *")
    w.struct("open_how", 24, [("flags", i["u64"], 0, 0), ("mode", i["u64"], 64, 0),
                              ("resolve", i["u64"], 128, 0)])
    w.ptr(i["open_how"], key="struct open_how *")
    w.struct("file", 8, [("f_flags", i["unsigned int"], 0, 0)])
    w.ptr(i["file"], key="struct file *")
    w.struct("pt_regs", 168, [("di", i["long unsigned int"], 8 * 8 * 14, 0)])
    w.ptr(i["pt_regs"], key="struct pt_regs *")
    w.func("do_sys_openat2", i["long int"], [("dfd", i["int"]), ("filename", i["const char *"]),
                                             ("how", i["struct open_how *"])])
    w.func("vfs_read", i["long int"], [("file", i["struct file *"]), ("buf", i["char *"]),
                                       ("count", i["size_t"]), ("pos", i["void *"])])
    w.func("vfs_write", i["long int"], [("file", i["struct file *"]), ("buf", i["const char *"]),
                                        ("count", i["size_t"]), ("pos", i["void *"])])
    w.func("__x64_sys_openat", i["long int"], [("regs", i["struct pt_regs *"])])
    w.func("ksys_read", i["long int"], [("fd", i["unsigned int"]), ("buf", i["char *"]),
                                        ("count", i["size_t"])])
    w.func("schedule", 0, [])
    sched = [("__data", i["void *"]), ("preempt", i["bool"]),
             ("prev", i["struct task_struct *"]), ("next", i["struct task_struct *"]),
             ("prev_state", i["unsigned int"])]
    w.func("__bpf_trace_sched_switch", 0, sched)
    proto = w.add(BtfKind.FUNC_PROTO, "", 0, len(sched), extra=tuple(
        x for _, t in sched for x in (0, t)), key="proto btf_trace_sched_switch")
    w.add(BtfKind.TYPEDEF, "btf_trace_sched_switch", w.ptr(proto))
    return w


_BLOB: bytes | None = None


def blob() -> bytes:
    global _BLOB
    if _BLOB is None:
        _BLOB = build().bytes()
    return _BLOB


def btf_kernel(without=frozenset(), max_strlen: int = 1024):
    """The fake x86_64 machine of tests.fakes with this BTF (every feature
    unless ``without``)."""
    kernel = fake_kernel(frozenset(without), max_strlen)
    btf = Btf.from_bytes(blob(), name="fake-vmlinux") if Feature.BTF not in without else None
    return replace(kernel, btf=lambda: btf)
