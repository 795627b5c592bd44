"""Big-endian kernels: instructions, records and map data in the kernel's
byte order, forced here on a little-endian host (s390x is the big-endian
machine pytrace runs on; see tests/vm for the real one)."""
from __future__ import annotations

import struct

from pytrace.base.arch import ByteOrder
from pytrace.bpf import insn as I
from pytrace.bpf.insn import AluOp, Reg


def test_big_endian_instructions_put_dst_in_the_high_nibble():
    # struct bpf_insn { u8 code; u8 dst_reg:4, src_reg:4; s16 off; s32 imm; }:
    # r1 = r2 is code 0xbf, dst 1, src 2, off 0, imm 0
    mov = I.mov(Reg.R1, Reg.R2)
    assert mov.encode(ByteOrder.LITTLE) == bytes([0xBF, 0x21, 0, 0, 0, 0, 0, 0])
    assert mov.encode(ByteOrder.BIG) == bytes([0xBF, 0x12, 0, 0, 0, 0, 0, 0])
    # r3 += -2 (off 0, imm -2): imm in the order's bytes
    add = AluOp.ADD.imm(Reg.R3, -2)
    assert add.encode(ByteOrder.BIG) == bytes([0x07, 0x30, 0, 0, 0xFF, 0xFF, 0xFF, 0xFE])
    assert add.encode(ByteOrder.LITTLE) == bytes([0x07, 0x03, 0, 0, 0xFE, 0xFF, 0xFF, 0xFF])


def test_a_wide_load_in_big_endian_order():
    wide = I.ld_imm64(Reg.R4, 0x1122334455667788)
    raw = wide.encode(ByteOrder.BIG)
    assert raw[:8] == bytes([0x18, 0x40, 0, 0, 0x55, 0x66, 0x77, 0x88])
    assert raw[8:] == bytes([0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44])


def test_programs_round_trip_in_both_orders():
    prog = [I.mov(Reg.R6, Reg.R1), AluOp.ADD.imm(Reg.R6, -8),
            I.ld_imm64(Reg.R2, -5), I.mov_imm(Reg.R0, 0), I.exit_()]
    for order in ByteOrder:
        back = I.decode(I.encode(prog, order), order)
        assert [(i.code, i.dst, i.src, i.off, i.imm) for i in back] == \
            [(i.code, i.dst, i.src, i.off, i.imm) for i in prog]
    assert I.encode(prog, ByteOrder.BIG) != I.encode(prog, ByteOrder.LITTLE)


def test_host_order_is_the_default():
    import sys
    prog = [I.mov(Reg.R1, Reg.R2), I.exit_()]
    assert I.encode(prog) == I.encode(prog, ByteOrder(sys.byteorder))


# -- data from a big-endian kernel, decoded with the host order forced to big ----------

from pytrace.lang.types import Int, Str, Tuple                       # noqa: E402
from pytrace.render import decode as decode_mod, printf_plan          # noqa: E402
from pytrace.render.printer import Resolvers                          # noqa: E402


def test_integers_decode_in_the_kernels_order(monkeypatch):
    monkeypatch.setattr(decode_mod, "BYTE_ORDER", "big")
    assert decode_mod.decode(Int(32, False), b"\x00\x00\x01\x02") == 0x102
    assert decode_mod.decode(Int(16, True), b"\xff\xfe") == -2
    assert decode_mod.decode(Int(64, False), (42).to_bytes(8, "big")) == 42


def test_printf_records_decode_in_the_kernels_order(monkeypatch):
    monkeypatch.setattr(printf_plan, "STRUCT_ORDER", ">")
    monkeypatch.setattr(decode_mod, "BYTE_ORDER", "big")
    args = Tuple((Int(64, True), Str(8)))
    body = bytearray(8 + args.size)
    body[8 + args.offsets[0]:8 + args.offsets[0] + 8] = (42).to_bytes(8, "big")
    body[8 + args.offsets[1]:8 + args.offsets[1] + 4] = b"str\0"
    f = printf_plan.compile_printf("hello %d %s\n", args, 8, Resolvers())
    assert f(bytes(body)) == "hello 42 str\n"


def test_ipv4_text_and_lpm_keys_in_big_endian(monkeypatch):
    from pytrace.base import netaddr
    monkeypatch.setattr(netaddr, "BYTE_ORDER", "big")
    # 10.1.2.3 read from memory as a u32 on a big-endian machine
    assert netaddr.inet4_text(0x0A010203) == "10.1.2.3"
    key = netaddr.lpm_key_bytes([], bytes([10, 1, 0, 0]), 16)
    assert key[:4] == (16).to_bytes(4, "big") and key[4:] == bytes([10, 1, 0, 0])
    assert netaddr.lpm_key_value(key, 0, 4) == ("10.1.0.0/16",)


def test_bswap_swaps_on_either_host_while_network_order_converts(monkeypatch):
    from pytrace.bpf import emit
    from pytrace.lang import ir
    from pytrace.bpf.insn import Class, Src
    for host, want in ((ByteOrder.LITTLE, Src.X), (ByteOrder.BIG, Src.K)):
        monkeypatch.setattr(emit, "HOST_ORDER", host)
        code = _emitted_end(emit, ir, swap=True)
        assert code == Class.ALU | want | AluOp.END, host
        # ntohs and friends: "to big-endian" on both (a no-op on big-endian)
        assert _emitted_end(emit, ir, swap=False) == Class.ALU | Src.X | AluOp.END


def _emitted_end(emit, ir, swap: bool) -> int:
    from pytrace.lang.ir import VReg
    seen = []

    class Fake:
        put = seen.append
        loc = None

        def reg(self, v):
            return Reg.R1

    emit._Emitter.op(Fake(), ir.ToBe(VReg(1, "v"), VReg(1, "v"), 16, swap=swap))
    return seen[-1].code
