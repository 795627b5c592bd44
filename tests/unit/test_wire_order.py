"""EtherTypes compared against a u16 loaded from the packet: the constant
is the wire bytes read in the host's order, so on big-endian s390x it is the
EtherType itself (seen: xdp:lo /udp.dport == 9999/ matched nothing there)."""
from pytrace.base.arch import ByteOrder
from pytrace.lang.builtins.packet import ETH_P_IP_WIRE, wire16


def test_wire16_both_orders():
    assert wire16(0x0800, ByteOrder.LITTLE) == 0x0008
    assert wire16(0x0800, ByteOrder.BIG) == 0x0800
    assert wire16(0x86DD, ByteOrder.LITTLE) == 0xDD86
    assert wire16(0x86DD, ByteOrder.BIG) == 0x86DD


def test_module_constant_follows_the_host():
    assert ETH_P_IP_WIRE == wire16(0x0800)
