"""The ctypes layouts in kernel/bpf_attrs.py and perf.py, and the pinned
bpf.h constants of kernel/bpf_consts.py, against the kernel's UAPI headers.

Expected numbers are what gcc reports (sizeof/offsetof) for
include/uapi/linux/bpf.h and perf_event.h on a 64-bit target.
"""
import ctypes

import pytest

from pytrace.kernel import bpf, bpf_attrs, bpf_consts, perf


def off(cls, field):
    return getattr(cls, field).offset


@pytest.mark.parametrize("cls, size", [
    (bpf_attrs.MapCreateAttr, 80),       # up to map_token_fd
    (bpf_attrs.MapElemAttr, 32),
    (bpf_attrs.MapBatchAttr, 56),        # attr.batch
    (bpf_attrs.ProgLoadAttr, 144),       # up to log_true_size
    (bpf_attrs.TestRunAttr, 80),         # attr.test up to batch_size
    (bpf_attrs.GetIdAttr, 12),
    (bpf_attrs.InfoAttr, 16),
    (bpf_attrs.RawTracepointAttr, 24),
    (bpf_attrs.LinkCreateAttr, 32),      # with the perf_event/tracing/tcx union members
    (bpf_attrs.BpfProgInfo, 232),
    (bpf_attrs.BpfMapInfo, 104),
    (perf.PerfEventAttr, 136),      # PERF_ATTR_SIZE_VER8
    (perf.PerfEventMmapPage, 1088),
    (perf.PerfEventHeader, 8),
])
def test_struct_sizes(cls, size):
    assert ctypes.sizeof(cls) == size


@pytest.mark.parametrize("cls, field, offset", [
    (bpf_attrs.MapCreateAttr, "map_flags", 16),
    (bpf_attrs.MapCreateAttr, "map_name", 28),
    (bpf_attrs.MapCreateAttr, "btf_fd", 48),
    (bpf_attrs.MapCreateAttr, "btf_vmlinux_value_type_id", 60),
    (bpf_attrs.MapCreateAttr, "map_extra", 64),
    (bpf_attrs.MapCreateAttr, "map_token_fd", 76),
    (bpf_attrs.MapElemAttr, "key", 8),
    (bpf_attrs.MapElemAttr, "value", 16),
    (bpf_attrs.MapElemAttr, "next_key", 16),
    (bpf_attrs.MapElemAttr, "flags", 24),
    (bpf_attrs.MapBatchAttr, "count", 32),
    (bpf_attrs.MapBatchAttr, "map_fd", 36),
    (bpf_attrs.MapBatchAttr, "elem_flags", 40),
    (bpf_attrs.MapBatchAttr, "flags", 48),
    (bpf_attrs.ProgLoadAttr, "insns", 8),
    (bpf_attrs.ProgLoadAttr, "license", 16),
    (bpf_attrs.ProgLoadAttr, "log_level", 24),
    (bpf_attrs.ProgLoadAttr, "log_buf", 32),
    (bpf_attrs.ProgLoadAttr, "kern_version", 40),
    (bpf_attrs.ProgLoadAttr, "prog_name", 48),
    (bpf_attrs.ProgLoadAttr, "expected_attach_type", 68),
    (bpf_attrs.ProgLoadAttr, "prog_btf_fd", 72),
    (bpf_attrs.ProgLoadAttr, "func_info", 80),
    (bpf_attrs.ProgLoadAttr, "attach_btf_id", 108),
    (bpf_attrs.ProgLoadAttr, "attach_prog_fd", 112),
    (bpf_attrs.ProgLoadAttr, "attach_btf_obj_fd", 112),
    (bpf_attrs.ProgLoadAttr, "fd_array", 120),
    (bpf_attrs.ProgLoadAttr, "core_relo_rec_size", 136),
    (bpf_attrs.ProgLoadAttr, "log_true_size", 140),
    (bpf_attrs.TestRunAttr, "data_in", 16),
    (bpf_attrs.TestRunAttr, "repeat", 32),
    (bpf_attrs.TestRunAttr, "duration", 36),
    (bpf_attrs.TestRunAttr, "ctx_size_in", 40),
    (bpf_attrs.TestRunAttr, "ctx_in", 48),
    (bpf_attrs.TestRunAttr, "ctx_out", 56),
    (bpf_attrs.TestRunAttr, "flags", 64),
    (bpf_attrs.TestRunAttr, "cpu", 68),
    (bpf_attrs.TestRunAttr, "batch_size", 72),
    (bpf_attrs.GetIdAttr, "next_id", 4),
    (bpf_attrs.GetIdAttr, "open_flags", 8),
    (bpf_attrs.InfoAttr, "info_len", 4),
    (bpf_attrs.InfoAttr, "info", 8),
    (bpf_attrs.RawTracepointAttr, "prog_fd", 8),
    (bpf_attrs.RawTracepointAttr, "cookie", 16),
    (bpf_attrs.LinkCreateAttr, "target_fd", 4),
    (bpf_attrs.LinkCreateAttr, "attach_type", 8),
    (bpf_attrs.LinkCreateAttr, "flags", 12),
    (bpf_attrs.LinkCreateAttr, "target_btf_id", 16),
    (bpf_attrs.LinkCreateAttr, "perf_event", 16),
    (bpf_attrs.BpfProgInfo, "tag", 8),
    (bpf_attrs.BpfProgInfo, "jited_prog_insns", 24),
    (bpf_attrs.BpfProgInfo, "load_time", 40),
    (bpf_attrs.BpfProgInfo, "map_ids", 56),
    (bpf_attrs.BpfProgInfo, "name", 64),
    (bpf_attrs.BpfProgInfo, "ifindex", 80),
    (bpf_attrs.BpfProgInfo, "netns_dev", 88),
    (bpf_attrs.BpfProgInfo, "btf_id", 128),
    (bpf_attrs.BpfProgInfo, "run_time_ns", 192),
    (bpf_attrs.BpfProgInfo, "verified_insns", 216),
    (bpf_attrs.BpfProgInfo, "attach_btf_id", 224),
    (bpf_attrs.BpfMapInfo, "name", 24),
    (bpf_attrs.BpfMapInfo, "ifindex", 40),
    (bpf_attrs.BpfMapInfo, "netns_dev", 48),
    (bpf_attrs.BpfMapInfo, "btf_vmlinux_id", 76),
    (bpf_attrs.BpfMapInfo, "map_extra", 80),
    (perf.PerfEventAttr, "config", 8),
    (perf.PerfEventAttr, "sample_period", 16),
    (perf.PerfEventAttr, "sample_freq", 16),
    (perf.PerfEventAttr, "sample_type", 24),
    (perf.PerfEventAttr, "read_format", 32),
    (perf.PerfEventAttr, "_bits", 40),
    (perf.PerfEventAttr, "wakeup_events", 48),
    (perf.PerfEventAttr, "wakeup_watermark", 48),
    (perf.PerfEventAttr, "bp_type", 52),
    (perf.PerfEventAttr, "config1", 56),
    (perf.PerfEventAttr, "kprobe_func", 56),
    (perf.PerfEventAttr, "uprobe_path", 56),
    (perf.PerfEventAttr, "config2", 64),
    (perf.PerfEventAttr, "probe_offset", 64),
    (perf.PerfEventAttr, "branch_sample_type", 72),
    (perf.PerfEventAttr, "sample_regs_user", 80),
    (perf.PerfEventAttr, "sample_stack_user", 88),
    (perf.PerfEventAttr, "clockid", 92),
    (perf.PerfEventAttr, "sample_regs_intr", 96),
    (perf.PerfEventAttr, "aux_watermark", 104),
    (perf.PerfEventAttr, "sample_max_stack", 108),
    (perf.PerfEventAttr, "aux_sample_size", 112),
    (perf.PerfEventAttr, "aux_action", 116),
    (perf.PerfEventAttr, "sig_data", 120),
    (perf.PerfEventAttr, "config3", 128),
    (perf.PerfEventMmapPage, "time_enabled", 24),
    (perf.PerfEventMmapPage, "capabilities", 40),
    (perf.PerfEventMmapPage, "pmc_width", 48),
    (perf.PerfEventMmapPage, "time_offset", 56),
    (perf.PerfEventMmapPage, "size", 72),
    (perf.PerfEventMmapPage, "time_cycles", 80),
    (perf.PerfEventMmapPage, "data_head", 1024),
    (perf.PerfEventMmapPage, "data_tail", 1032),
    (perf.PerfEventMmapPage, "data_offset", 1040),
    (perf.PerfEventMmapPage, "data_size", 1048),
    (perf.PerfEventMmapPage, "aux_size", 1080),
    (perf.PerfEventHeader, "misc", 4),
    (perf.PerfEventHeader, "size", 6),
])
def test_field_offsets(cls, field, offset):
    assert off(cls, field) == offset


def test_link_create_union_members():
    # offsets inside attr.link_create's union (which starts at 16)
    assert bpf_attrs._LinkTracing.cookie.offset == 24 - 16
    assert bpf_attrs._LinkTcx.expected_revision.offset == 24 - 16


def test_perf_ioctl_numbers():
    assert perf.PerfIoctl.ENABLE == 0x2400
    assert perf.PerfIoctl.DISABLE == 0x2401
    assert perf.PerfIoctl.RESET == 0x2403
    assert perf.PerfIoctl.PERIOD == 0x40082404
    assert perf.PerfIoctl.SET_OUTPUT == 0x2405
    assert perf.PerfIoctl.SET_BPF == 0x40042408


def test_enum_values_pinned():
    assert bpf_consts.BpfCmd.LINK_CREATE == 28 and bpf_consts.BpfCmd.MAP_LOOKUP_BATCH == 24
    assert bpf_consts.MapType.RINGBUF == 27 and bpf_consts.MapType.LRU_PERCPU_HASH == 10
    assert bpf_consts.ProgType.TRACING == 26 and bpf_consts.ProgType.RAW_TRACEPOINT == 17
    assert bpf_consts.AttachType.PERF_EVENT == 41 and bpf_consts.AttachType.TCX_EGRESS == 47
    assert bpf_consts.AttachType.TRACE_FENTRY == 24 and bpf_consts.AttachType.XDP == 37
    assert perf.PerfSwConfig.BPF_OUTPUT == 10 and perf.PerfSampleType.RAW == 1 << 10
    assert perf.PerfAttrFlag.FREQ == 1 << 10 and perf.PerfAttrFlag.SAMPLE_ID_ALL == 1 << 18


def test_perf_event_attr_fills_size_and_aliases_unions():
    attr = perf.PerfEventAttr(type=perf.PerfType.SOFTWARE, sample_freq=99,
                             flags=perf.PerfAttrFlag.DISABLED | perf.PerfAttrFlag.FREQ)
    assert attr.size == 136
    assert attr.sample_period == 99
    attr.uprobe_path = 0x1234
    assert attr.config1 == 0x1234 and attr.kprobe_func == 0x1234
    raw = bytes(attr)
    assert int.from_bytes(raw[40:48], "little") == (1 << 0) | (1 << 10)


def test_object_names_are_sanitised():
    assert bpf._obj_name("my-prog:name with spaces") == b"my_prog_name_wi"
    assert bpf._obj_name("ok_name.1") == b"ok_name.1"


def test_error_text_names_the_call_and_errno():
    import errno
    e = bpf.BpfError("BPF_PROG_LOAD", errno.EPERM)
    assert str(e) == "BPF_PROG_LOAD failed: Operation not permitted (EPERM)"
    assert e.exit_code == 1
    e = bpf.BpfError("BPF_MAP_LOOKUP_BATCH", bpf_consts.ENOTSUPP)
    assert str(e) == ("BPF_MAP_LOOKUP_BATCH failed: Operation not supported by this "
                      "kernel (ENOTSUPP)")
    e = bpf.BpfError("BPF_PROG_LOAD", errno.EACCES, verifier_log="0: (bf) r0 = r2\nR2 !read_ok")
    assert e.render() == ("error: BPF_PROG_LOAD failed: Permission denied (EACCES)\n"
                          "0: (bf) r0 = r2\nR2 !read_ok")
