"""BTF reader and converter on hand-built blobs: every kind, bitfields, both
byte orders, split BTF, the on-disk index cache."""
from __future__ import annotations

import os

import pytest

from pytrace.btf.reader import Btf
from pytrace.btf.records import (MAGIC, BtfEnumValue, BtfError, BtfKind, BtfMember, BtfParam,
                                 BtfVarSecinfo, FuncLinkage, IntEncoding, VarLinkage)
from pytrace.lang.btf_types import CEnum, StructRef, TypeConverter
from pytrace.lang.types import UINT8, AddrSpace, Array, Int, Ptr, Str, Struct, Void


class Blob:
    """Builds a BTF blob the way pahole lays one out (test-only writer)."""

    def __init__(self, base: "Blob | None" = None):
        self.base = base
        self.next_id = base.next_id if base else 1
        self.str_base = base.str_base + len(base.strs) if base else 0
        self.strs = bytearray() if base else bytearray(b"\0")
        self.words: list[int] = []

    def s(self, name: str) -> int:
        if not name:
            return 0
        if self.base is not None and self.base.has(name):
            return self.base.s(name)
        key = name.encode() + b"\0"
        i = bytes(self.strs).find(b"\0" + key) if self.strs else -1
        if i >= 0:
            return self.str_base + i + 1
        off = len(self.strs)
        self.strs += key
        return self.str_base + off

    def has(self, name: str) -> bool:
        return (self.base is not None and self.base.has(name)) or \
            (b"\0" + name.encode() + b"\0") in b"\0" + bytes(self.strs)

    def add(self, kind: BtfKind, name: str = "", st: int = 0, vlen: int = 0,
            kflag: bool = False, extra: tuple[int, ...] = ()) -> int:
        self.words += [self.s(name), kind << 24 | vlen | kflag << 31, st, *extra]
        self.next_id += 1
        return self.next_id - 1

    # one helper per kind
    def int_(self, name, size, enc=0, bits=None, off=0):
        return self.add(BtfKind.INT, name, size,
                        extra=(enc << 24 | off << 16 | (8 * size if bits is None else bits),))

    def ptr(self, t):
        return self.add(BtfKind.PTR, "", t)

    def array(self, elem, index, n):
        return self.add(BtfKind.ARRAY, "", 0, extra=(elem, index, n))

    def struct(self, name, size, members, union=False, kflag=False):
        extra = []
        for mname, mtype, bit, bsize in members:
            extra += [self.s(mname), mtype, (bsize << 24 | bit) if kflag else bit]
        return self.add(BtfKind.UNION if union else BtfKind.STRUCT, name, size, len(members),
                        kflag, tuple(extra))

    def enum(self, name, size, values, signed=False):
        extra = []
        for n, v in values:
            extra += [self.s(n), v & 0xFFFFFFFF]
        return self.add(BtfKind.ENUM, name, size, len(values), signed, tuple(extra))

    def enum64(self, name, values, signed=False):
        extra = []
        for n, v in values:
            v &= (1 << 64) - 1
            extra += [self.s(n), v & 0xFFFFFFFF, v >> 32]
        return self.add(BtfKind.ENUM64, name, 8, len(values), signed, tuple(extra))

    def func_proto(self, ret, params):
        extra = []
        for n, t in params:
            extra += [self.s(n), t]
        return self.add(BtfKind.FUNC_PROTO, "", ret, len(params), extra=tuple(extra))

    def func(self, name, proto, linkage=FuncLinkage.GLOBAL):
        return self.add(BtfKind.FUNC, name, proto, int(linkage))

    def var(self, name, t, linkage=VarLinkage.GLOBAL_ALLOCATED):
        return self.add(BtfKind.VAR, name, t, extra=(int(linkage),))

    def datasec(self, name, size, infos):
        extra = [w for info in infos for w in info]
        return self.add(BtfKind.DATASEC, name, size, len(infos), extra=tuple(extra))

    def decl_tag(self, name, t, idx):
        return self.add(BtfKind.DECL_TAG, name, t, extra=(idx & 0xFFFFFFFF,))

    def bytes(self, order: str = "little") -> bytes:
        types = b"".join(w.to_bytes(4, order) for w in self.words)
        strs = bytes(self.strs)
        head = (MAGIC.to_bytes(2, order) + bytes((1, 0)) +
                b"".join(v.to_bytes(4, order) for v in (24, 0, len(types), len(types), len(strs))))
        return head + types + strs


def kitchen_sink() -> tuple[Blob, dict[str, int]]:
    """One of every kind; ids by a descriptive name."""
    b, i = Blob(), {}
    i["int"] = b.int_("int", 4, IntEncoding.SIGNED)
    i["uint"] = b.int_("unsigned int", 4)
    i["char"] = b.int_("char", 1)
    i["uchar"] = b.int_("unsigned char", 1)
    i["bool"] = b.int_("_Bool", 1, IntEncoding.BOOL)
    i["long"] = b.int_("long int", 8, IntEncoding.SIGNED)
    i["ulong"] = b.int_("long unsigned int", 8)
    i["pid_t"] = b.add(BtfKind.TYPEDEF, "pid_t", i["int"])
    i["const_char"] = b.add(BtfKind.CONST, "", i["char"])
    i["cstr"] = b.ptr(i["const_char"])                       # const char *
    i["vol_int"] = b.add(BtfKind.VOLATILE, "", i["int"])
    i["char_ptr"] = b.ptr(i["char"])
    i["restrict_ptr"] = b.add(BtfKind.RESTRICT, "", i["char_ptr"])   # char *restrict
    i["const_ptr"] = b.add(BtfKind.CONST, "", i["char_ptr"])         # char *const
    i["comm"] = b.array(i["char"], i["int"], 16)
    i["bytes"] = b.array(i["uchar"], i["int"], 6)
    i["list_head"] = b.next_id
    i["list_head_ptr"] = i["list_head"] + 1
    b.struct("list_head", 16, [("next", i["list_head_ptr"], 0, 0),
                               ("prev", i["list_head_ptr"], 64, 0)])
    assert b.ptr(i["list_head"]) == i["list_head_ptr"]
    i["state"] = b.enum("state", 4, [("RUNNING", 0), ("SLEEPING", 1), ("DEAD", 0x80000000)])
    i["neg"] = b.enum("neg", 4, [("MINUS", -1), ("ZERO", 0)], signed=True)
    i["big"] = b.enum64("big", [("HUGE", 1 << 40), ("TOP", (1 << 64) - 1)])
    i["sbig"] = b.enum64("sbig", [("LOW", -(1 << 40))], signed=True)
    i["fwd_struct"] = b.add(BtfKind.FWD, "opaque", 0)
    i["fwd_union"] = b.add(BtfKind.FWD, "later", 0, kflag=True)
    i["user_tag"] = b.add(BtfKind.TYPE_TAG, "user", i["char"])
    i["user_ptr"] = b.ptr(i["user_tag"])                     # char __user *
    i["float"] = b.add(BtfKind.FLOAT, "double", 8)
    i["anon_union"] = b.struct("", 4, [("a", i["int"], 0, 0), ("b", i["uint"], 0, 0)], union=True)
    # struct task: ints, typedef, string, pointer-to-self, bitfields, anonymous union
    i["task_ptr"] = b.next_id + 1
    i["task"] = b.struct("task", 48, [
        ("pid", i["pid_t"], 0, 0),
        ("tgid", i["pid_t"], 32, 0),
        ("comm", i["comm"], 64, 0),
        ("parent", i["task_ptr"], 192, 0),
        ("flag_a", i["uint"], 256, 1),
        ("flag_b", i["uint"], 257, 3),
        ("wide", i["ulong"], 260, 20),
        ("signed_bits", i["int"], 280, 4),
        ("", i["anon_union"], 288, 0),
        ("tasks", i["list_head"], 320, 0),
    ], kflag=True)
    assert b.ptr(i["task"]) == i["task_ptr"]
    i["arr_of_ptr"] = b.array(i["char_ptr"], i["int"], 4)      # char *[4]
    i["ptr_to_arr"] = b.ptr(b.array(i["char"], i["int"], 4))   # char (*)[4]
    i["proto"] = b.func_proto(i["int"], [("dfd", i["int"]), ("filename", i["cstr"]),
                                         ("how", i["task_ptr"])])
    i["func"] = b.func("do_open", i["proto"])
    i["vproto"] = b.func_proto(i["int"], [("fmt", i["cstr"]), ("", 0)])
    i["printk"] = b.func("printk", i["vproto"], FuncLinkage.STATIC)
    i["vfs_read"] = b.func("vfs_read", b.func_proto(0, []))
    i["vfs_write"] = b.func("vfs_write", i["vproto"])
    i["fn_ptr"] = b.ptr(b.func_proto(i["int"], [("", i["int"]), ("", i["char_ptr"])]))
    i["var"] = b.var("jiffies", i["ulong"])
    i["var2"] = b.var("cpu_number", i["int"], VarLinkage.STATIC)
    i["sec"] = b.datasec(".data..percpu", 16, [(i["var"], 0, 8), (i["var2"], 8, 4)])
    i["tag_decl"] = b.decl_tag("noinline", i["func"], -1)
    i["tag_param"] = b.decl_tag("nonnull", i["func"], 1)
    i["task_typedef"] = b.add(BtfKind.TYPEDEF, "task", i["task"])   # same name, other kind
    return b, i


@pytest.fixture(params=["little", "big"])
def sink(request):
    b, ids = kitchen_sink()
    return Btf.from_bytes(b.bytes(request.param)), ids


# ---- decoding every kind --------------------------------------------------------

def test_int_encoding_offset_bits(sink):
    btf, i = sink
    t = btf.type(i["int"])
    assert (t.kind, t.name, t.size, t.bits, t.bit_offset) == (BtfKind.INT, "int", 4, 32, 0)
    assert t.encoding == IntEncoding.SIGNED and t.signed
    assert not btf.type(i["uint"]).signed
    assert btf.type(i["bool"]).encoding == IntEncoding.BOOL
    legacy = Blob()
    legacy.int_("int", 4, IntEncoding.SIGNED | IntEncoding.CHAR, bits=5, off=3)
    t = Btf.from_bytes(legacy.bytes()).type(1)
    assert (t.bits, t.bit_offset, t.encoding) == (5, 3, IntEncoding.SIGNED | IntEncoding.CHAR)


def test_ptr_array_modifiers(sink):
    btf, i = sink
    assert btf.type(i["cstr"]).kind is BtfKind.PTR and btf.type(i["cstr"]).type == i["const_char"]
    a = btf.type(i["comm"])
    assert (a.kind, a.type, a.index_type, a.nelems) == (BtfKind.ARRAY, i["char"], i["int"], 16)
    assert btf.type(i["vol_int"]).kind is BtfKind.VOLATILE
    assert btf.type(i["restrict_ptr"]).kind is BtfKind.RESTRICT
    assert btf.type(i["pid_t"]).kind is BtfKind.TYPEDEF and btf.type(i["pid_t"]).type == i["int"]
    tag = btf.type(i["user_tag"])
    assert (tag.kind, tag.name, tag.type) == (BtfKind.TYPE_TAG, "user", i["char"])


def test_struct_members_and_kind_flag_bitfields(sink):
    btf, i = sink
    t = btf.type(i["task"])
    assert (t.kind, t.name, t.size, t.kind_flag) == (BtfKind.STRUCT, "task", 48, True)
    assert t.members[0] == BtfMember("pid", i["pid_t"], 0, 0)
    assert t.members[4] == BtfMember("flag_a", i["uint"], 256, 1)
    assert t.members[6] == BtfMember("wide", i["ulong"], 260, 20)
    lh = btf.type(i["list_head"])
    assert not lh.kind_flag
    assert lh.members == (BtfMember("next", i["list_head_ptr"], 0),
                          BtfMember("prev", i["list_head_ptr"], 64))
    u = btf.type(i["anon_union"])
    assert (u.kind, u.name, len(u.members)) == (BtfKind.UNION, "", 2)


def test_enum_and_enum64_values(sink):
    btf, i = sink
    e = btf.type(i["state"])
    assert e.values == (BtfEnumValue("RUNNING", 0), BtfEnumValue("SLEEPING", 1),
                        BtfEnumValue("DEAD", 0x80000000))
    assert not e.signed and e.size == 4
    n = btf.type(i["neg"])
    assert n.signed and n.values[0] == BtfEnumValue("MINUS", -1)
    big = btf.type(i["big"])
    assert big.kind is BtfKind.ENUM64 and big.size == 8
    assert [v.value for v in big.values] == [1 << 40, (1 << 64) - 1]
    assert btf.type(i["sbig"]).values == (BtfEnumValue("LOW", -(1 << 40)),)


def test_fwd_func_proto_var_datasec_float_tags(sink):
    btf, i = sink
    f = btf.type(i["fwd_struct"])
    assert (f.kind, f.name, f.kind_flag) == (BtfKind.FWD, "opaque", False)
    assert btf.type(i["fwd_union"]).kind_flag
    fn = btf.type(i["func"])
    assert (fn.kind, fn.name, fn.type, fn.linkage) == (BtfKind.FUNC, "do_open", i["proto"],
                                                       FuncLinkage.GLOBAL)
    assert btf.type(i["printk"]).linkage is FuncLinkage.STATIC
    p = btf.type(i["proto"])
    assert p.kind is BtfKind.FUNC_PROTO and p.type == i["int"]
    assert p.params == (BtfParam("dfd", i["int"]), BtfParam("filename", i["cstr"]),
                        BtfParam("how", i["task_ptr"]))
    v = btf.type(i["var2"])
    assert (v.kind, v.name, v.type, v.linkage) == (BtfKind.VAR, "cpu_number", i["int"],
                                                   VarLinkage.STATIC)
    sec = btf.type(i["sec"])
    assert (sec.kind, sec.name, sec.size) == (BtfKind.DATASEC, ".data..percpu", 16)
    assert sec.secinfos == (BtfVarSecinfo(i["var"], 0, 8), BtfVarSecinfo(i["var2"], 8, 4))
    fl = btf.type(i["float"])
    assert (fl.kind, fl.name, fl.size) == (BtfKind.FLOAT, "double", 8)
    d = btf.type(i["tag_decl"])
    assert (d.kind, d.name, d.type, d.component_idx) == (
        BtfKind.DECL_TAG, "noinline", i["func"], -1)
    assert btf.type(i["tag_param"]).component_idx == 1


def test_void_and_bad_ids(sink):
    btf, i = sink
    assert btf.type(0).name == "void" and btf.type_name(0) == "void"
    with pytest.raises(BtfError, match="out of range"):
        btf.type(btf.end_id)


# ---- lookups ---------------------------------------------------------------------

def test_find_find_all_and_kinds(sink):
    btf, i = sink
    assert btf.find("list_head") == i["list_head"]
    assert btf.find("nope") is None and btf.find_all("nope") == []
    assert btf.find_all("task") == [i["task"], i["task_typedef"]]
    assert btf.find("task", BtfKind.TYPEDEF) == i["task_typedef"]
    assert btf.find("task", BtfKind.UNION) is None
    assert btf.find("do_open", BtfKind.FUNC) == i["func"]
    # a prefix of a name is not a match; names sharing a prefix are told apart
    assert btf.find("vfs") is None and btf.find("vfs_write") == i["vfs_write"]


def test_find_prefers_definition_to_fwd():
    b = Blob()
    fwd = b.add(BtfKind.FWD, "sock", 0)
    full = b.struct("sock", 8, [("x", b.int_("long", 8), 0, 0)])
    btf = Btf.from_bytes(b.bytes())
    assert btf.find_all("sock") == [fwd, full]
    assert btf.find("sock") == full
    assert btf.find("sock", BtfKind.FWD) == fwd


def test_resolve_looks_through_modifiers(sink):
    btf, i = sink
    assert btf.resolve(i["pid_t"]) == i["int"]
    assert btf.resolve(i["const_ptr"]) == i["char_ptr"]
    assert btf.resolve(i["user_tag"]) == i["char"]
    assert btf.resolve(i["vol_int"]) == i["int"]
    assert btf.resolve(i["cstr"]) == i["cstr"]      # a pointer is not looked through
    assert btf.resolve(0) == 0


def test_funcs_sorted_unique_and_globs(sink):
    btf, _ = sink
    assert btf.funcs() == ["do_open", "printk", "vfs_read", "vfs_write"]
    assert btf.funcs("vfs_*") == ["vfs_read", "vfs_write"]
    assert btf.funcs("vfs_rea?") == ["vfs_read"]
    assert btf.funcs("printk") == ["printk"]
    assert btf.funcs("print") == []


def test_func_proto(sink):
    btf, i = sink
    sig = btf.func_proto("do_open")
    assert sig.return_type == i["int"] and sig.linkage is FuncLinkage.GLOBAL
    assert [p.name for p in sig.params] == ["dfd", "filename", "how"]
    assert not sig.variadic
    pk = btf.func_proto("printk")
    assert pk.variadic and pk.params == (BtfParam("fmt", i["cstr"]),)
    assert btf.func_proto("vfs_read").params == () and btf.func_proto("vfs_read").return_type == 0
    assert btf.func_proto("nope") is None


def test_type_name_c_spelling(sink):
    btf, i = sink
    n = btf.type_name
    assert n(i["uint"]) == "unsigned int"
    assert n(i["cstr"]) == "const char *"
    assert n(i["const_ptr"]) == "char *const"
    assert n(i["restrict_ptr"]) == "char *restrict"
    assert n(i["vol_int"]) == "volatile int"
    assert n(i["task_ptr"]) == "struct task *"
    assert n(i["pid_t"]) == "pid_t"
    assert n(i["comm"]) == "char[16]"
    assert n(i["arr_of_ptr"]) == "char *[4]"
    assert n(i["ptr_to_arr"]) == "char (*)[4]"
    assert n(i["fn_ptr"]) == "int (*)(int, char *)"
    assert n(i["func"]) == "int do_open(int, const char *, struct task *)"
    assert n(i["printk"]) == "int printk(const char *, ...)"
    assert n(i["vfs_read"]) == "void vfs_read(void)"
    assert n(i["anon_union"]) == "union (anon)"
    assert n(i["state"]) == "enum state" and n(i["big"]) == "enum big"
    assert n(i["fwd_struct"]) == "struct opaque" and n(i["fwd_union"]) == "union later"
    assert n(i["user_ptr"]) == "char *"
    assert n(i["var"]) == "long unsigned int jiffies"
    assert n(i["float"]) == "double"


def test_size_of(sink):
    btf, i = sink
    assert btf.size_of(i["pid_t"]) == 4
    assert btf.size_of(i["comm"]) == 16
    assert btf.size_of(i["arr_of_ptr"]) == 32
    assert btf.size_of(i["task"]) == 48
    assert btf.size_of(i["const_ptr"]) == 8
    assert btf.size_of(0) == 0


def test_name_of_and_kind(sink):
    btf, i = sink
    assert btf.name_of(i["task"]) == "task" and btf.kind(i["task"]) is BtfKind.STRUCT
    assert btf.name_of(i["anon_union"]) == "" and btf.kind(0) is BtfKind.UNKN


# ---- malformed input -------------------------------------------------------------

def test_bad_magic_truncation_and_unknown_kind():
    with pytest.raises(BtfError, match="not BTF"):
        Btf.from_bytes(b"\x7fELF" + bytes(40))
    good = kitchen_sink()[0].bytes()
    with pytest.raises(BtfError, match="truncated"):
        Btf.from_bytes(good[:-8])
    b = Blob()
    b.int_("int", 4)
    b.add(25, "future")   # a kind from a newer kernel: its size is unknown
    with pytest.raises(BtfError, match="unknown kind"):
        Btf.from_bytes(b.bytes())
    b = Blob()
    b.add(BtfKind.STRUCT, "s", 8, vlen=3)   # claims three members, has none
    with pytest.raises(BtfError, match="past the"):
        Btf.from_bytes(b.bytes())
    with pytest.raises(BtfError, match="only 10 bytes"):
        Btf.from_bytes(good[:10])
    b = Blob()
    b.words += [4096, BtfKind.INT << 24, 4, 32]   # name offset past the strings
    with pytest.raises(BtfError, match="string offset 4096 is outside"):
        Btf.from_bytes(b.bytes())


def test_header_longer_than_24_bytes():
    b, i = kitchen_sink()
    raw = b.bytes()
    hdr_len = 32
    head = raw[:4] + hdr_len.to_bytes(4, "little") + raw[8:24] + bytes(8)
    btf = Btf.from_bytes(head + raw[24:])
    assert btf.find("task") == i["task"] and btf.type_name(i["cstr"]) == "const char *"


# ---- split BTF -------------------------------------------------------------------

def make_split():
    base = Blob()
    ids = {"int": base.int_("int", 4, IntEncoding.SIGNED)}
    ids["list_head"] = base.struct("list_head", 16, [])
    ids["base_fn"] = base.func("base_fn", base.func_proto(ids["int"], []))
    mod = Blob(base)
    ids["mod_struct"] = mod.struct("mod_state", 24, [
        ("count", ids["int"], 0, 0), ("list", ids["list_head"], 64, 0)])
    lh_ptr = mod.ptr(ids["list_head"])
    ids["mod_fn"] = mod.func("mod_init", mod.func_proto(ids["int"], [("list", lh_ptr)]))
    ids["int_again"] = mod.add(BtfKind.TYPEDEF, "int", ids["int"])   # name lives in base strings
    return base, mod, ids


def test_split_btf_ids_and_strings_continue():
    base_b, mod_b, i = make_split()
    base = Btf.from_bytes(base_b.bytes())
    mod = Btf.from_bytes(mod_b.bytes(), base=base, name="mod")
    assert mod.start_id == base.end_id == i["mod_struct"]
    s = mod.type(i["mod_struct"])
    assert [(m.name, m.type) for m in s.members] == [("count", i["int"]), ("list", i["list_head"])]
    assert mod.type(i["int"]).name == "int"                 # a base id through the split
    assert mod.type(i["int_again"]).name == "int"           # base string offset from the split
    assert mod.find("mod_state") == i["mod_struct"]
    assert mod.find("list_head") == i["list_head"]          # found in the base
    assert mod.find_all("int") == [i["int"], i["int_again"]]
    assert mod.funcs() == ["mod_init"] and base.funcs() == ["base_fn"]
    assert mod.type_name(i["mod_fn"]) == "int mod_init(struct list_head *)"
    assert TypeConverter(mod).convert(i["mod_struct"]).field("list").type.size == 16
    with pytest.raises(BtfError):
        base.type(i["mod_struct"])


def test_split_btf_load_from_files_with_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(tmp_path / "cache"))
    base_b, mod_b, i = make_split()
    (tmp_path / "vmlinux").write_bytes(base_b.bytes())
    (tmp_path / "mod").write_bytes(mod_b.bytes())
    for _ in range(2):   # cold, then from the cache
        base = Btf.load(str(tmp_path / "vmlinux"))
        mod = Btf.load(str(tmp_path / "mod"), base=base)
        assert mod.find("mod_init", BtfKind.FUNC) == i["mod_fn"]
        assert mod.func_proto("mod_init").params[0].name == "list"
    assert len(os.listdir(tmp_path / "cache")) == 2


# ---- the index cache -------------------------------------------------------------

def test_index_cache_is_written_reused_and_invalidated(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(cache))
    b, i = kitchen_sink()
    path = tmp_path / "vmlinux"
    path.write_bytes(b.bytes())
    cold = Btf.load(str(path))
    [idx] = os.listdir(cache)
    builds = []
    real_build = Btf._build_index
    monkeypatch.setattr(Btf, "_build_index", lambda self: (builds.append(1), real_build(self)))
    warm = Btf.load(str(path))
    assert builds == []
    assert list(warm._offsets) == list(cold._offsets)
    assert list(warm._by_name) == list(cold._by_name)
    assert warm.funcs() == cold.funcs() and warm.find("task") == i["task"]
    # same size, different content: the key changes and the index is rebuilt
    raw = bytearray(path.read_bytes())
    raw[-2] ^= 1
    path.write_bytes(bytes(raw))
    Btf.load(str(path))
    assert builds == [1]
    # a damaged cache file is ignored and replaced
    (cache / idx).write_bytes(b"garbage")
    assert Btf.load(str(path)).find("list_head") == i["list_head"]
    assert builds == [1, 1]
    assert Btf.load(str(path), cache=False).find("list_head") == i["list_head"]
    assert builds == [1, 1, 1]


def test_unwritable_cache_dir_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("PYTRACE_CACHE_DIR", str(blocker / "sub"))
    path = tmp_path / "vmlinux"
    path.write_bytes(kitchen_sink()[0].bytes())
    assert Btf.load(str(path)).find("list_head") is not None


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(BtfError, match="cannot read BTF from .*/nope: No such file"):
        Btf.load(str(tmp_path / "nope"))


# ---- conversion to the language's types ------------------------------------------

@pytest.fixture
def conv():
    b, ids = kitchen_sink()
    return TypeConverter(Btf.from_bytes(b.bytes())), ids


def test_convert_scalars_pointers_arrays(conv):
    c, i = conv
    assert c.convert(i["int"]) == Int(32, True)
    assert c.convert(i["pid_t"]) == Int(32, True)
    assert c.convert(i["ulong"]) == Int(64, False)
    assert c.convert(i["bool"]) == Int(8, False)
    assert c.convert(i["cstr"]) == Ptr(Int(8, False), AddrSpace.KERNEL)
    assert c.convert(i["user_ptr"]).space is AddrSpace.USER
    assert c.convert(i["comm"]) == Str(16)
    assert c.convert(i["bytes"]) == Array(Int(8, False), 6)
    assert c.convert(i["arr_of_ptr"]) == Array(Ptr(Int(8, False)), 4)
    assert c.convert(i["fn_ptr"]) == Ptr(Void())
    assert c.convert(i["float"]) == Array(UINT8, 8)
    assert c.convert(0) == Void()


def test_convert_struct_fields_bitfields_and_anonymous_union(conv):
    c, i = conv
    s = c.convert(i["task"])
    assert isinstance(s, Struct) and (s.name, s.size, s.union) == ("task", 48, False)
    assert [f.name for f in s.fields] == ["pid", "tgid", "comm", "parent", "flag_a", "flag_b",
                                          "wide", "signed_bits", "a", "b", "tasks"]
    assert s.field("pid").type == Int(32, True) and s.field("tgid").offset == 4
    assert s.field("comm").type == Str(16) and s.field("comm").offset == 8
    parent = s.field("parent")
    assert parent.offset == 24 and isinstance(parent.type.target, StructRef)
    assert parent.type.target.resolve() is s            # same object: converted once
    # bitfields: (unit type, byte offset of the unit, (shift, width))
    fa, fb, wide, sb = (s.field(n) for n in ("flag_a", "flag_b", "wide", "signed_bits"))
    assert (fa.type, fa.offset, fa.bits) == (Int(8, False), 32, (0, 1))
    assert (fb.type, fb.offset, fb.bits) == (Int(8, False), 32, (1, 3))
    assert (wide.type, wide.offset, wide.bits) == (Int(32, False), 32, (4, 20))
    assert (sb.type, sb.offset, sb.bits) == (Int(8, True), 35, (0, 4))
    assert s.field("a").offset == s.field("b").offset == 36
    assert s.field("a").type == Int(32, True) and s.field("b").type == Int(32, False)


def test_recursive_struct_converts_lazily(conv):
    c, i = conv
    lh = c.convert(i["list_head"])
    nxt = lh.field("next").type
    assert isinstance(nxt, Ptr) and isinstance(nxt.target, StructRef)
    assert nxt.target.size == 16 and str(nxt.target) == "struct list_head"
    assert nxt.target.resolve() is lh and nxt.target.field("prev").type == nxt
    # by-value struct members are references too, sized without conversion
    tasks = c.convert(i["task"]).field("tasks").type
    assert isinstance(tasks, StructRef) and tasks.size == 16 and tasks.align == 8


def test_enum_keeps_enumerators(conv):
    c, i = conv
    e = c.convert(i["state"])
    assert isinstance(e, CEnum) and isinstance(e, Int) and (e.bits, e.signed) == (32, False)
    assert e.label(1) == "SLEEPING" and e.label(7) is None and str(e) == "enum state"
    assert c.convert(i["neg"]).signed and c.convert(i["neg"]).label(-1) == "MINUS"
    assert c.convert(i["big"]).label((1 << 64) - 1) == "TOP"


def test_fwd_resolves_to_definition_or_empty():
    b = Blob()
    fwd = b.add(BtfKind.FWD, "sock", 0)
    lonely = b.add(BtfKind.FWD, "nowhere", 0)
    full = b.struct("sock", 8, [("x", b.int_("long", 8, IntEncoding.SIGNED), 0, 0)])
    c = TypeConverter(Btf.from_bytes(b.bytes()))
    assert c.convert(fwd) is c.convert(full)
    assert c.convert(lonely) == Struct("nowhere", (), 0)


def test_datasec_var_and_non_data_kinds(conv):
    c, i = conv
    sec = c.convert(i["sec"])
    assert [(f.name, f.type, f.offset) for f in sec.fields] == [
        ("jiffies", Int(64, False), 0), ("cpu_number", Int(32, True), 8)]
    assert c.convert(i["var"]) == Int(64, False)
    with pytest.raises(BtfError, match="not a data type"):
        c.convert(i["func"])
    with pytest.raises(BtfError, match="not a data type"):
        c.convert(i["tag_decl"])


def test_lookup_c_spellings(conv):
    c, i = conv
    assert c.lookup("struct task").name == "task"
    assert c.lookup("struct task *").target.type_id == i["task"]
    assert c.lookup("struct  list_head**") == Ptr(Ptr(c.lookup("struct list_head *").target))
    assert c.lookup("unsigned long") == Int(64, False)   # GCC spells it "long unsigned int"
    assert c.lookup("pid_t") == Int(32, True)
    assert c.lookup("enum big").label(1 << 40) == "HUGE"
    assert c.lookup("char *") == Ptr(Int(8, False))
    assert c.lookup("void *") == Ptr(Void())
    assert c.lookup("struct nope") is None and c.lookup("do_open") is None


def test_func_args_as_fentry_context(conv):
    c, i = conv
    args = c.func_args("do_open")
    assert [(f.name, f.offset) for f in args.fields] == [("dfd", 0), ("filename", 8), ("how", 16)]
    assert args.field("filename").type == Ptr(Int(8, False))
    assert args.size == 24 and c.func_args("nope") is None


def test_legacy_int_bitfield_encoding():
    """Before kind_flag, pahole encoded bitfields as INTs with offset/bits."""
    b = Blob()
    u32 = b.int_("unsigned int", 4)
    five = b.int_("int", 4, IntEncoding.SIGNED, bits=5, off=3)
    s = b.struct("old", 8, [("x", u32, 0, 0), ("f", five, 32, 0)])
    f = TypeConverter(Btf.from_bytes(b.bytes())).convert(s).field("f")
    assert (f.type, f.offset, f.bits) == (Int(8, True), 4, (3, 5))
