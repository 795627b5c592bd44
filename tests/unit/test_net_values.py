"""Addresses and lpm() keys as text and bytes (netaddr), map entries written
from text (mapedit), and how decode/output print the network types."""
from __future__ import annotations

import pytest

from pytrace.base import netaddr
from pytrace.cli import masked_features, parse_args
from pytrace.render.decode import decode
from pytrace.lang.kernelinfo import Feature
from pytrace.lang.program import MapKind, MapSpec
from pytrace.lang.types import INT64, Formatted, Inet6, Int, LpmKey, Special, Str, Tuple
from pytrace.runtime.mapedit import EntryError, encode_entry, parse_line
from pytrace.render.output import json_value, key_text, text_value


# -- netaddr ---------------------------------------------------------------------------

def test_inet4_text_reads_the_bytes_in_memory_order():
    assert netaddr.inet4_text(0x0100007F) == "127.0.0.1"
    assert netaddr.inet4_text(0xFFFFFFFF_0302010A) == "10.1.2.3"     # low 4 bytes only


def test_inet6_and_mac_text():
    assert netaddr.inet6_text(bytes(15) + b"\1") == "::1"
    assert netaddr.inet6_text(bytes.fromhex("fe800000000000000000000000000001")) == "fe80::1"
    assert netaddr.mac_text(0x0605040302A1) == "A1:02:03:04:05:06"


@pytest.mark.parametrize("text, want", [
    ("10.0.0.0/8", (b"\x0a\0\0\0", 8)),
    ("10.1.2.3", (b"\x0a\x01\x02\x03", 32)),
    ("fe80::/10", (bytes.fromhex("fe80") + bytes(14), 10)),
    ("::1", (bytes(15) + b"\1", 128)),
])
def test_parse_address(text, want):
    assert netaddr.parse_address(text) == want


@pytest.mark.parametrize("text, message", [
    ("10.0.0.256", "'10.0.0.256' is not an IPv4 or IPv6 address (write 10.0.0.0/8 or fe80::/10)"),
    ("10.0.0.0/33", "'10.0.0.0/33': the prefix length must be 0 to 32"),
    ("::/129", "'::/129': the prefix length must be 0 to 128"),
    ("10.0.0.0/x", "'10.0.0.0/x': the prefix length must be 0 to 32"),
])
def test_parse_address_errors(text, message):
    with pytest.raises(netaddr.AddressError) as err:
        netaddr.parse_address(text)
    assert str(err.value) == message


def test_lpm_key_bytes_and_back():
    raw = netaddr.lpm_key_bytes([9999], b"\x7f\x01\x02\x03", 8)
    # prefix 64 + 8 bits; port big-endian; address bits past the prefix cleared
    assert raw == (72).to_bytes(4, "little") + (9999).to_bytes(8, "big") + b"\x7f\0\0\0"
    assert netaddr.lpm_key_value(raw, 1, 4) == (9999, "127.0.0.0/8")
    v6 = netaddr.lpm_key_bytes([], bytes.fromhex("fe80") + bytes(13) + b"\1", 10)
    assert netaddr.lpm_key_value(v6, 0, 16) == ("fe80::/10",)


# -- mapedit ------------------------------------------------------------------------------

RULES = MapSpec("@rules", MapKind.LPM_TRIE, 16, 8, 64, LpmKey(1, 4), INT64)


def test_encode_lpm_entry():
    key, value = encode_entry(RULES, "9999, 127.0.0.0/8", "1")
    assert key == netaddr.lpm_key_bytes([9999], b"\x7f\0\0\0", 8)
    assert value == (1).to_bytes(8, "little")
    assert encode_entry(RULES, "22 10.1.2.3", None)[1] is None


def test_encode_tuple_and_string_keys():
    spec = MapSpec("@m", MapKind.HASH, 24, 8, 64, Tuple((Int(64, True), Str(16))), INT64)
    key, value = encode_entry(spec, "-2, sshd", "0x10")
    assert key == (-2).to_bytes(8, "little", signed=True) + b"sshd".ljust(16, b"\0")
    assert value == (16).to_bytes(8, "little")
    v6 = MapSpec("@v", MapKind.HASH, 16, 8, 64, Inet6(), INT64)
    assert encode_entry(v6, "::1", "1")[0] == bytes(15) + b"\1"


@pytest.mark.parametrize("key, message", [
    ("127.0.0.0/8", "@rules's keys have 2 parts, not 1: '127.0.0.0/8'"),
    ("ssh 127.0.0.0/8", "an lpm() key's exact part must be an integer, not 'ssh'"),
    ("22 ::1", "'::1' is an IPv6 address; this map holds IPv4 addresses"),
    ("22 1.2.3", "'1.2.3' is not an IPv4 or IPv6 address (write 10.0.0.0/8 or fe80::/10)"),
])
def test_encode_errors(key, message):
    with pytest.raises(EntryError) as err:
        encode_entry(RULES, key, "1")
    assert str(err.value) == message


@pytest.mark.parametrize("line, want", [
    ("9999 127.0.0.0/8 1", ("9999 127.0.0.0/8", "1")),
    ("9999, 127.0.0.0/8 = 2   # block it", ("9999 127.0.0.0/8", "2")),
    ("   # a comment", None),
    ("", None),
])
def test_parse_line(line, want):
    assert parse_line(line) == want


# -- decode and output ------------------------------------------------------------------------

def test_special_addresses_print_as_text():
    assert text_value(Special(Formatted.INET4), 0x0100007F) == "127.0.0.1"
    assert text_value(Special(Formatted.MAC), 0x060504030201) == "01:02:03:04:05:06"
    assert json_value(Special(Formatted.INET4), 0x0100007F) == '"127.0.0.1"'


def test_inet6_decodes_to_text():
    assert decode(Inet6(), bytes(15) + b"\1") == "::1"
    assert text_value(Inet6(), "::1") == "::1"


def test_lpm_keys_decode_and_print():
    raw = netaddr.lpm_key_bytes([22], b"\x0a\0\0\0", 8)
    value = decode(LpmKey(1, 4), raw)
    assert value == (22, "10.0.0.0/8")
    assert key_text(LpmKey(1, 4), value) == "22, 10.0.0.0/8"
    assert key_text(LpmKey(1, 4), value, json=True) == "22,10.0.0.0/8"


# -- command line ----------------------------------------------------------------------------------

def test_force_flag():
    assert parse_args(["--force", "-e", "xdp:lo { drop; }"]).force is True
    assert parse_args(["-e", "xdp:lo { drop; }"]).force is False


def test_no_feature_link_means_no_xdp_or_tcx_links_either():
    assert masked_features(["link"]) == {Feature.LINK, Feature.XDP_LINK, Feature.TCX}
    assert masked_features(["tcx"]) == {Feature.TCX}


# -- the REPL's .set / .delete ---------------------------------------------------------------

def test_repl_writes_lpm_keys_as_the_script_spells_them():
    from pytrace.render.encode import encode_key, parse_assignment, parse_map_key
    name, key, value = parse_assignment('@rules[lpm(9999, "127.0.0.0/8")] = 1')
    assert (name, key, value) == ("@rules", (9999, "127.0.0.0/8"), 1)
    assert encode_key(RULES, key) == netaddr.lpm_key_bytes([9999], b"\x7f\0\0\0", 8)
    assert encode_key(RULES, parse_map_key('@rules[9999, "127.0.0.0/8"]')[1]) == \
        encode_key(RULES, key)
    v6 = MapSpec("@v", MapKind.HASH, 16, 8, 64, Inet6(), INT64)
    assert encode_key(v6, "::1") == bytes(15) + b"\1"


@pytest.mark.parametrize("key, message", [
    ("127.0.0.0/8", 'the key must be (integer, "address/prefix"), not the string "127.0.0.0/8"'),
    ((22, "::1"), "the key needs an IPv4 address, not ::1"),
    ((22, "10.0.0.0/40"), "'10.0.0.0/40': the prefix length must be 0 to 32"),
])
def test_repl_lpm_key_errors(key, message):
    from pytrace.base.diagnostics import UsageError
    from pytrace.render.encode import encode_key
    with pytest.raises(UsageError) as err:
        encode_key(RULES, key)
    assert str(err.value) == message
