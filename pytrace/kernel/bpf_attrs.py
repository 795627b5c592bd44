"""The ``union bpf_attr`` variants and ``bpf_*_info`` structs, as ctypes.

One named ``ctypes.Structure`` per command we use; layouts follow
include/uapi/linux/bpf.h (tests/unit/test_sys_layout.py pins sizes and
offsets). Attr structures may be shorter than the running kernel's union
(it zero-fills) or longer (it accepts trailing zeros), so one layout serves
old and new kernels. Declarative: bpf.py fills them and makes the call.
"""
from __future__ import annotations

import ctypes
from ctypes import c_char, c_int32, c_uint8, c_uint32, c_uint64

from .bpf_consts import BPF_OBJ_NAME_LEN, BPF_TAG_SIZE


# -- attr structures ---------------------------------------------------------

class MapCreateAttr(ctypes.Structure):
    """BPF_MAP_CREATE."""
    _fields_ = [
        ("map_type", c_uint32), ("key_size", c_uint32), ("value_size", c_uint32),
        ("max_entries", c_uint32), ("map_flags", c_uint32), ("inner_map_fd", c_uint32),
        ("numa_node", c_uint32), ("map_name", c_char * BPF_OBJ_NAME_LEN),
        ("map_ifindex", c_uint32), ("btf_fd", c_uint32), ("btf_key_type_id", c_uint32),
        ("btf_value_type_id", c_uint32), ("btf_vmlinux_value_type_id", c_uint32),
        ("map_extra", c_uint64), ("value_type_btf_obj_fd", c_int32),
        ("map_token_fd", c_int32),
    ]


class _ValueOrNextKey(ctypes.Union):
    _fields_ = [("value", c_uint64), ("next_key", c_uint64)]


class MapElemAttr(ctypes.Structure):
    """BPF_MAP_{LOOKUP,UPDATE,DELETE}_ELEM and BPF_MAP_GET_NEXT_KEY."""
    _anonymous_ = ("_u",)
    _fields_ = [("map_fd", c_uint32), ("key", c_uint64), ("_u", _ValueOrNextKey),
                ("flags", c_uint64)]


class MapBatchAttr(ctypes.Structure):
    """BPF_MAP_*_BATCH (5.6)."""
    _fields_ = [
        ("in_batch", c_uint64), ("out_batch", c_uint64), ("keys", c_uint64),
        ("values", c_uint64), ("count", c_uint32), ("map_fd", c_uint32),
        ("elem_flags", c_uint64), ("flags", c_uint64),
    ]


class _AttachProgOrBtfObj(ctypes.Union):
    _fields_ = [("attach_prog_fd", c_uint32), ("attach_btf_obj_fd", c_uint32)]


class ProgLoadAttr(ctypes.Structure):
    """BPF_PROG_LOAD, up to ``log_true_size`` (6.4)."""
    _anonymous_ = ("_attach",)
    _fields_ = [
        ("prog_type", c_uint32), ("insn_cnt", c_uint32), ("insns", c_uint64),
        ("license", c_uint64), ("log_level", c_uint32), ("log_size", c_uint32),
        ("log_buf", c_uint64), ("kern_version", c_uint32), ("prog_flags", c_uint32),
        ("prog_name", c_char * BPF_OBJ_NAME_LEN), ("prog_ifindex", c_uint32),
        ("expected_attach_type", c_uint32), ("prog_btf_fd", c_uint32),
        ("func_info_rec_size", c_uint32), ("func_info", c_uint64),
        ("func_info_cnt", c_uint32), ("line_info_rec_size", c_uint32),
        ("line_info", c_uint64), ("line_info_cnt", c_uint32), ("attach_btf_id", c_uint32),
        ("_attach", _AttachProgOrBtfObj), ("core_relo_cnt", c_uint32),
        ("fd_array", c_uint64), ("core_relos", c_uint64),
        ("core_relo_rec_size", c_uint32), ("log_true_size", c_uint32),
    ]


class BtfLoadAttr(ctypes.Structure):
    """BPF_BTF_LOAD."""
    _fields_ = [("btf", c_uint64), ("btf_log_buf", c_uint64), ("btf_size", c_uint32),
                ("btf_log_size", c_uint32), ("btf_log_level", c_uint32)]


class TestRunAttr(ctypes.Structure):
    """BPF_PROG_TEST_RUN (``attr.test``)."""
    __test__ = False          # not a pytest class
    _fields_ = [
        ("prog_fd", c_uint32), ("retval", c_uint32), ("data_size_in", c_uint32),
        ("data_size_out", c_uint32), ("data_in", c_uint64), ("data_out", c_uint64),
        ("repeat", c_uint32), ("duration", c_uint32), ("ctx_size_in", c_uint32),
        ("ctx_size_out", c_uint32), ("ctx_in", c_uint64), ("ctx_out", c_uint64),
        ("flags", c_uint32), ("cpu", c_uint32), ("batch_size", c_uint32),
    ]


class GetIdAttr(ctypes.Structure):
    """BPF_{PROG,MAP}_GET_NEXT_ID and BPF_{PROG,MAP}_GET_FD_BY_ID (start_id = the id)."""
    _fields_ = [("start_id", c_uint32), ("next_id", c_uint32), ("open_flags", c_uint32)]


class InfoAttr(ctypes.Structure):
    """BPF_OBJ_GET_INFO_BY_FD (``attr.info``)."""
    _fields_ = [("bpf_fd", c_uint32), ("info_len", c_uint32), ("info", c_uint64)]


class EnableStatsAttr(ctypes.Structure):
    """BPF_ENABLE_STATS (``attr.enable_stats``)."""
    _fields_ = [("type", c_uint32)]


class RawTracepointAttr(ctypes.Structure):
    """BPF_RAW_TRACEPOINT_OPEN (``attr.raw_tracepoint``)."""
    _fields_ = [("name", c_uint64), ("prog_fd", c_uint32), ("_pad", c_uint32),
                ("cookie", c_uint64)]


class _LinkPerfEvent(ctypes.Structure):
    _fields_ = [("bpf_cookie", c_uint64)]


class _LinkTracing(ctypes.Structure):
    _fields_ = [("target_btf_id", c_uint32), ("cookie", c_uint64)]


class _LinkTcx(ctypes.Structure):
    _fields_ = [("relative_fd", c_uint32), ("expected_revision", c_uint64)]


class _LinkExtra(ctypes.Union):
    _fields_ = [("target_btf_id", c_uint32), ("perf_event", _LinkPerfEvent),
                ("tracing", _LinkTracing), ("tcx", _LinkTcx)]


class LinkCreateAttr(ctypes.Structure):
    """BPF_LINK_CREATE (``attr.link_create``); ``target_fd`` is the ifindex for XDP/tcx."""
    _anonymous_ = ("_extra",)
    _fields_ = [("prog_fd", c_uint32), ("target_fd", c_uint32), ("attach_type", c_uint32),
                ("flags", c_uint32), ("_extra", _LinkExtra)]


class LinkCreateKprobeMultiAttr(ctypes.Structure):
    """BPF_LINK_CREATE for BPF_TRACE_KPROBE_MULTI (5.18): the fixed part and
    ``attr.link_create.kprobe_multi``; ``syms`` points at ``cnt`` C strings,
    sorted (the kernel looks them up in order), ``cookies`` at ``cnt`` u64s."""
    _fields_ = [("prog_fd", c_uint32), ("target_fd", c_uint32), ("attach_type", c_uint32),
                ("flags", c_uint32), ("kprobe_flags", c_uint32), ("cnt", c_uint32),
                ("syms", c_uint64), ("addrs", c_uint64), ("cookies", c_uint64)]


class LinkCreateUprobeMultiAttr(ctypes.Structure):
    """BPF_LINK_CREATE for BPF_TRACE_UPROBE_MULTI (6.6): the fixed part and
    ``attr.link_create.uprobe_multi``; ``path`` points at a C string,
    ``offsets``, ``ref_ctr_offsets`` and ``cookies`` at ``cnt`` u64s each;
    ``pid`` 0 traces every process."""
    _fields_ = [("prog_fd", c_uint32), ("target_fd", c_uint32), ("attach_type", c_uint32),
                ("flags", c_uint32), ("path", c_uint64), ("offsets", c_uint64),
                ("ref_ctr_offsets", c_uint64), ("cookies", c_uint64), ("cnt", c_uint32),
                ("uprobe_flags", c_uint32), ("pid", c_uint32)]


class BpfProgInfo(ctypes.Structure):
    """struct bpf_prog_info (BPF_OBJ_GET_INFO_BY_FD on a program)."""
    _fields_ = [
        ("type", c_uint32), ("id", c_uint32), ("tag", c_uint8 * BPF_TAG_SIZE),
        ("jited_prog_len", c_uint32), ("xlated_prog_len", c_uint32),
        ("jited_prog_insns", c_uint64), ("xlated_prog_insns", c_uint64),
        ("load_time", c_uint64), ("created_by_uid", c_uint32), ("nr_map_ids", c_uint32),
        ("map_ids", c_uint64), ("name", c_char * BPF_OBJ_NAME_LEN), ("ifindex", c_uint32),
        ("gpl_compatible", c_uint32), ("netns_dev", c_uint64), ("netns_ino", c_uint64),
        ("nr_jited_ksyms", c_uint32), ("nr_jited_func_lens", c_uint32),
        ("jited_ksyms", c_uint64), ("jited_func_lens", c_uint64), ("btf_id", c_uint32),
        ("func_info_rec_size", c_uint32), ("func_info", c_uint64), ("nr_func_info", c_uint32),
        ("nr_line_info", c_uint32), ("line_info", c_uint64), ("jited_line_info", c_uint64),
        ("nr_jited_line_info", c_uint32), ("line_info_rec_size", c_uint32),
        ("jited_line_info_rec_size", c_uint32), ("nr_prog_tags", c_uint32),
        ("prog_tags", c_uint64), ("run_time_ns", c_uint64), ("run_cnt", c_uint64),
        ("recursion_misses", c_uint64), ("verified_insns", c_uint32),
        ("attach_btf_obj_id", c_uint32), ("attach_btf_id", c_uint32), ("_pad", c_uint32),
    ]

    @property
    def name_str(self) -> str:
        return self.name.decode(errors="replace")

    @property
    def tag_hex(self) -> str:
        return bytes(self.tag).hex()


class BpfMapInfo(ctypes.Structure):
    """struct bpf_map_info (BPF_OBJ_GET_INFO_BY_FD on a map)."""
    _fields_ = [
        ("type", c_uint32), ("id", c_uint32), ("key_size", c_uint32),
        ("value_size", c_uint32), ("max_entries", c_uint32), ("map_flags", c_uint32),
        ("name", c_char * BPF_OBJ_NAME_LEN), ("ifindex", c_uint32),
        ("btf_vmlinux_value_type_id", c_uint32), ("netns_dev", c_uint64),
        ("netns_ino", c_uint64), ("btf_id", c_uint32), ("btf_key_type_id", c_uint32),
        ("btf_value_type_id", c_uint32), ("btf_vmlinux_id", c_uint32),
        ("map_extra", c_uint64), ("hash", c_uint64), ("hash_size", c_uint32),
        ("_pad", c_uint32),
    ]

    @property
    def name_str(self) -> str:
        return self.name.decode(errors="replace")


class BpfBtfInfo(ctypes.Structure):
    """struct bpf_btf_info (BPF_OBJ_GET_INFO_BY_FD on a BTF object); ``name``
    is set by the caller to a buffer of ``name_len`` bytes (kernel BTF: 5.11)."""
    _fields_ = [("btf", c_uint64), ("btf_size", c_uint32), ("id", c_uint32),
                ("name", c_uint64), ("name_len", c_uint32), ("kernel_btf", c_uint32)]
