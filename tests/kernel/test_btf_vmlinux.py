"""Facts about the running kernel's BTF (/sys/kernel/btf/vmlinux).

The file is world-readable, so these tests need no root; they skip when the
kernel has no BTF.
"""
from __future__ import annotations

import os

import pytest

from pytrace.btf.reader import VMLINUX, Btf
from pytrace.btf.records import BtfKind
from pytrace.lang.btf_types import StructRef, TypeConverter
from pytrace.lang.types import Int, Ptr, Str, Struct

pytestmark = pytest.mark.skipif(not os.access(VMLINUX, os.R_OK),
                                reason="kernel has no readable BTF (CONFIG_DEBUG_INFO_BTF)")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("btfcache")


def load_with_cache(cache_dir, **kw) -> Btf:
    old = os.environ.get("PYTRACE_CACHE_DIR")
    os.environ["PYTRACE_CACHE_DIR"] = str(cache_dir)
    try:
        return Btf.load(**kw)
    finally:
        if old is None:
            del os.environ["PYTRACE_CACHE_DIR"]
        else:
            os.environ["PYTRACE_CACHE_DIR"] = old


@pytest.fixture(scope="module")
def btf(cache_dir):
    return load_with_cache(cache_dir)


def test_task_struct_pid_and_tgid_are_pid_t_signed_32(btf):
    tid = btf.find("task_struct", BtfKind.STRUCT)
    assert tid is not None
    task = btf.type(tid)
    members = {m.name: m for m in task.members}
    for name in ("pid", "tgid"):
        m = members[name]
        assert btf.type_name(m.type) == "pid_t"
        t = btf.type(btf.resolve(m.type))
        assert t.kind is BtfKind.INT and t.size == 4 and t.bits == 32 and t.signed
    # declared next to each other: pid_t pid; pid_t tgid;
    assert members["tgid"].bit_offset == members["pid"].bit_offset + 32
    conv = TypeConverter(btf).convert(tid)
    assert conv.field("pid").type == Int(32, True) == conv.field("tgid").type
    assert conv.field("tgid").offset == members["tgid"].bit_offset // 8
    assert conv.field("comm").type == Str(16)
    parent = conv.field("real_parent").type
    assert isinstance(parent, Ptr) and isinstance(parent.target, StructRef)
    assert parent.target.resolve() is conv


def test_task_struct_offsets_consistent(btf):
    tid = btf.find("task_struct", BtfKind.STRUCT)
    task = btf.type(tid)
    assert task.size == btf.size_of(tid) > 1000
    last = -1
    for m in task.members:
        assert m.bit_offset >= last, f"{m.name} goes backwards"
        width = m.bitfield_size or 8 * btf.size_of(m.type)
        assert m.bit_offset + width <= 8 * task.size, f"{m.name} ends past the struct"
        if not m.bitfield_size:
            assert m.bit_offset % 8 == 0, f"{m.name} is not byte aligned"
        last = m.bit_offset
    s = TypeConverter(btf).convert(tid)
    assert isinstance(s, Struct) and s.size == task.size
    for f in s.fields:
        assert f.offset + f.type.size <= s.size, f.name
        if f.bits:
            shift, width = f.bits
            assert shift + width <= 8 * f.type.size, f.name


def test_do_sys_openat2_signature(btf):
    fid = btf.find("do_sys_openat2", BtfKind.FUNC)
    assert fid is not None
    sig = btf.func_proto("do_sys_openat2")
    assert [p.name for p in sig.params] == ["dfd", "filename", "how"]
    assert [btf.type_name(p.type) for p in sig.params] == [
        "int", "const char *", "struct open_how *"]
    ret = btf.type(btf.resolve(sig.return_type))   # long before 6.x, int since
    assert ret.kind is BtfKind.INT and ret.signed
    args = TypeConverter(btf).func_args("do_sys_openat2")
    assert [(f.name, f.offset) for f in args.fields] == [("dfd", 0), ("filename", 8), ("how", 16)]


def test_sizeof_list_head_and_its_lazy_recursion(btf):
    tid = btf.find("list_head", BtfKind.STRUCT)
    assert btf.size_of(tid) == 16
    lh = TypeConverter(btf).convert(tid)
    assert lh.size == 16 and lh.field("next").type.target.resolve() is lh


def test_funcs_lists_tens_of_thousands(btf):
    names = btf.funcs()
    assert len(names) > 20000
    assert names == sorted(set(names))
    assert "do_sys_openat2" in names and "vfs_read" in names
    vfs = btf.funcs("vfs_*")
    assert "vfs_read" in vfs and all(n.startswith("vfs_") for n in vfs)


def test_warm_index_equals_cold_index(btf, cache_dir):
    assert os.listdir(cache_dir)
    warm = load_with_cache(cache_dir)
    cold = Btf.load(cache=False)
    assert bytes(warm._offsets) == bytes(cold._offsets)
    assert bytes(warm._by_name) == bytes(cold._by_name)
    assert warm.funcs() == cold.funcs()


def test_every_type_decodes_and_references_exist(btf):
    conv = TypeConverter(btf)
    for tid in range(1, btf.end_id):
        t = btf.type(tid)
        refs = [t.type, t.index_type, *(m.type for m in t.members),
                *(p.type for p in t.params), *(v.type for v in t.secinfos)]
        assert all(0 <= r < btf.end_id for r in refs), tid
        if t.kind in (BtfKind.STRUCT, BtfKind.UNION):
            assert conv.struct(tid).size == t.size
    assert btf.end_id > 50000
