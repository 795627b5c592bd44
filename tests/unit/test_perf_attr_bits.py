"""perf_event_attr's bitfield word on both byte orders: on big-endian ABIs
(s390x) C allocates bitfields from the high bit, so ``disabled`` is bit 63
and a little-endian layout there is EINVAL for every perf_event_open (seen
in the s390x guest: no tracepoint, uprobe, profile or interval attached)."""
import ctypes

from pytrace.base.arch import ByteOrder
from pytrace.kernel.perf import PerfAttrFlag, PerfEventAttr, bitfield_word


def test_little_endian_word_is_the_flag_numbering():
    assert bitfield_word(PerfAttrFlag.DISABLED | PerfAttrFlag.FREQ, ByteOrder.LITTLE) == 0x401


def test_big_endian_word_starts_at_the_high_bit():
    assert bitfield_word(int(PerfAttrFlag.DISABLED), ByteOrder.BIG) == 1 << 63
    assert bitfield_word(int(PerfAttrFlag.FREQ), ByteOrder.BIG) == 1 << 53
    for v in (0, 1, 0x401, (1 << 64) - 1, 0x123456789):
        assert bitfield_word(bitfield_word(v, ByteOrder.BIG), ByteOrder.BIG) == v


def test_constructor_and_in_place_or_go_through_the_layout():
    class BigAttr(PerfEventAttr):
        _order = ByteOrder.BIG
    a = BigAttr(flags=PerfAttrFlag.DISABLED)
    a.flags |= PerfAttrFlag.FREQ
    assert a.flags == PerfAttrFlag.DISABLED | PerfAttrFlag.FREQ
    assert a._bits == (1 << 63) | (1 << 53)
    assert ctypes.sizeof(a) == 136 and a.size == 136
    host = PerfEventAttr(flags=PerfAttrFlag.DISABLED)
    assert host.flags == PerfAttrFlag.DISABLED


def test_ioctl_numbers_per_architecture():
    # PERF_EVENT_IOC_ENABLE / SET_BPF as <linux/perf_event.h> gives them:
    # asm-generic 0x2400 / 0x40042408, powerpc 0x20002400 / 0x80042408
    from pytrace.base.arch import lookup
    from pytrace.kernel.perf import PerfIoctl
    for machine in ("x86_64", "aarch64", "armv7l", "i686", "s390x", "riscv64"):
        io = lookup(machine).ioctl
        assert io.convert(PerfIoctl.ENABLE) == 0x2400
        assert io.convert(PerfIoctl.SET_BPF) == 0x40042408
    ppc = lookup("ppc64le").ioctl
    assert ppc.convert(PerfIoctl.ENABLE) == 0x20002400
    assert ppc.convert(PerfIoctl.SET_BPF) == 0x80042408
    assert ppc.convert(PerfIoctl.PERIOD) == 0x80082404
