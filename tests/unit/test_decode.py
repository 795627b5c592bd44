"""Raw bytes -> values, per-CPU folding and bucket math (pytrace.render.decode)."""
import pytest

from pytrace.render.decode import (Bound, Bucket, MapDump, agg_buckets, average, build_dump, cdiv,
                                   decode, fold_percpu, hist_bound, hist_buckets, hist_index,
                                   lhist_bound, lhist_buckets, lhist_index, split_hist_key,
                                   zero_value)
from pytrace.lang.types import (
    INT32, INT64, UINT8, UINT32, UINT64, Agg, AggKind, Array, Field, Formatted, Int, Ptr,
    Special, Stack, Str, Struct, Tuple,
)


def u64(n):
    return (n & (2**64 - 1)).to_bytes(8, "little")


# ------------------------------------------------------------------ decode

def test_integers():
    raw = bytes([0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
    assert decode(INT64, raw) == -2
    assert decode(UINT64, raw) == 2**64 - 2
    assert decode(INT32, raw) == -2
    assert decode(UINT32, raw) == 0xFFFFFFFE
    assert decode(UINT8, raw) == 0xFE
    assert decode(Int(16, True), raw, 6) == -1
    assert decode(Int(8, True), b"\x00\x80", 1) == -128


def test_strings():
    assert decode(Str(8), b"abc\0xyz\0") == "abc"
    assert decode(Str(8), b"\0" * 8) == ""
    assert decode(Str(4), b"xxabcdyy", 2) == "abcd.."    # no NUL: truncated, as bpftrace 0.21+
    assert decode(Str(4), b"abcd", trailer="") == "abcd"
    # bytes that are not UTF-8 survive as surrogate escapes (bpftrace prints them raw)
    s = decode(Str(8), b"a\xffb\xc3\xa9\0\0\0")
    assert s == "a\udcffbé"
    assert s.encode("utf-8", "surrogateescape") == b"a\xffb\xc3\xa9"


def test_tuples_use_offsets():
    t = Tuple((INT32, INT64, Str(4), UINT8))
    assert t.offsets == (0, 8, 16, 20)
    raw = (b"\xff\xff\xff\xff" + b"\xee" * 4 + u64(7) + b"hi\0\0" + b"\x09" + b"\0" * 3)
    assert decode(t, raw) == (-1, 7, "hi", 9)
    nested = Tuple((UINT8, Tuple((INT32, Str(2)))))
    assert decode(nested, b"\x05\0\0\0" + b"\x02\0\0\0" + b"ok") == (5, (2, "ok.."))


def test_pointers_specials_stacks_are_numbers():
    raw = u64(0xFFFF_8000_1234_5678)
    assert decode(Ptr(), raw) == 0xFFFF_8000_1234_5678
    assert decode(Special(Formatted.KSYM), raw) == 0xFFFF_8000_1234_5678
    assert decode(Stack(), u64(42)) == 42


def test_structs_and_arrays():
    s = Struct("s", (
        Field("a", INT32, 0),
        Field("lo", UINT32, 4, bits=(0, 3)),
        Field("hi", Int(32, True), 4, bits=(3, 5)),
        Field("name", Str(4), 8),
    ), nbytes=12)
    word = (5 | (0b11110 << 3)).to_bytes(4, "little")       # lo=5, hi=-2
    assert decode(s, (7).to_bytes(4, "little") + word + b"ab\0\0") == (7, 5, -2, "ab")
    assert decode(Array(INT32, 3), b"\x01\0\0\0\xff\xff\xff\xff\x03\0\0\0") == (1, -1, 3)


def test_zero_values():
    assert zero_value(INT64) == 0
    assert zero_value(Str(8)) == ""
    assert zero_value(Tuple((INT64, Str(4)))) == (0, "")
    assert zero_value(Agg(AggKind.STATS)) == (0, 0)
    assert zero_value(Agg(AggKind.MAX)) == 0


# ------------------------------------------------------------ aggregations

def test_fold_count_and_sum():
    assert fold_percpu(Agg(AggKind.COUNT), [u64(3), u64(0), u64(4)]) == 7
    assert fold_percpu(Agg(AggKind.SUM), [u64(-10), u64(3)]) == -7
    assert fold_percpu(Agg(AggKind.HIST), [u64(1), u64(2)]) == 3


def test_fold_min_max_use_set_flags():
    cpus = [u64(-5) + u64(1), u64(-100) + u64(0), u64(3) + u64(1)]
    assert fold_percpu(Agg(AggKind.MIN), cpus) == -5       # -100 is not set
    assert fold_percpu(Agg(AggKind.MAX), cpus) == 3
    assert fold_percpu(Agg(AggKind.MAX), [u64(-5) + u64(1)]) == -5
    assert fold_percpu(Agg(AggKind.MIN), [u64(9) + u64(0)] * 2) == 0


def test_fold_avg_stats_count_then_total():
    cpus = [u64(2) + u64(-12), u64(1) + u64(2)]
    assert fold_percpu(Agg(AggKind.STATS), cpus) == (3, -10)
    assert fold_percpu(Agg(AggKind.AVG), cpus) == (3, -10)
    # bpftrace tests/runtime/signed_ints: { .count = 3, .average = -3, .total = -10 }
    assert average(Agg(AggKind.AVG), 3, -10) == -3
    assert average(Agg(AggKind.AVG), 0, 0) == 0
    assert (cdiv(-7, 2), cdiv(7, -2), cdiv(7, 2)) == (-3, -3, 3)


def test_build_dump_groups_hist_buckets_by_user_key():
    key = Tuple((INT64, Str(4)))
    raw_key = (lambda k, s, b: u64(k) + s + u64(b))
    raw = [
        (raw_key(1, b"ab\0\0", 3), [u64(1), u64(2)]),
        (raw_key(1, b"ab\0\0", 5), [u64(4), u64(0)]),
        (raw_key(2, b"c\0\0\0", 3), [u64(0), u64(1)]),
    ]
    dump = build_dump("@h", key, Agg(AggKind.HIST), raw)
    assert dump == MapDump("@h", key, Agg(AggKind.HIST),
                           [((1, "ab"), {3: 3, 5: 4}), ((2, "c"), {3: 1})])
    assert dump.is_hist and not dump.is_scalar
    assert split_hist_key(None, u64(7)) == (None, 7)


def test_build_dump_plain_and_scalar():
    raw = [(b"x\0\0\0", u64(5)), (b"yz\0\0", [u64(-1)])]      # plain or per-CPU
    assert build_dump("@m", Str(4), INT64, raw).entries == [("x", 5), ("yz", -1)]
    assert build_dump("@c", None, Agg(AggKind.COUNT), [(u64(0), [u64(2), u64(3)])]).entries == \
        [(None, 5)]


# ------------------------------------------------------------- bucket math

def _bpf_log2(n, k):
    """bpftrace's BPF log2 function, transcribed from the algorithm comment
    in src/ast/passes/codegen_llvm.cpp (createLog2Function)."""
    if n < 0:
        return 0
    mask = (1 << k) - 1
    if n <= mask:
        return n + 1
    n0, l = n, 0
    for i in range(5, -1, -1):
        shift = (n >= (1 << (1 << i))) << i
        n >>= shift
        l += shift
    l -= k
    x = (n0 >> l) & mask
    return ((l + 1) << k) + x + 1


def test_hist_index_matches_bpftrace_algorithm():
    values = list(range(-3, 5000)) + [2**k + d for k in range(12, 63) for d in (-1, 0, 1)]
    for k in range(6):
        for v in values:
            assert hist_index(v, k) == _bpf_log2(v, k), (v, k)
    assert hist_index(225, 2) == 28                    # the worked example in bpftrace
    assert hist_index(2**63) == 0                      # a u64 this large is negative as i64


def test_hist_bounds_and_labels():
    assert hist_bound(27, 2) == Bound(224, "224", False)  # bpftrace's hist_index_label example
    assert hist_bound(2, 0) == Bound(2, "2", True)
    assert hist_bound(11, 0) == Bound(1024, "1K", False)
    assert hist_bound(21, 0) == Bound(1 << 20, "1M", False)
    assert hist_bound(64, 0) == Bound(1 << 63, "8E", False)
    labels = [b.label for b in hist_buckets({0: 1, 25: 1})]
    assert labels[:5] == ["(..., 0)", "[0]", "[1]", "[2, 4)", "[4, 8)"]
    assert labels[10:14] == ["[256, 512)", "[512, 1K)", "[1K, 2K)", "[2K, 4K)"]
    assert labels[-1] == "[8M, 16M)"
    # two bits: single values up to 7, then 4 buckets per power of two
    assert [b.label for b in hist_buckets({8: 1, 12: 1}, 2)] == \
        ["[7]", "[8, 10)", "[10, 12)", "[12, 14)", "[14, 16)"]


def test_hist_buckets_rows():
    assert hist_buckets({}) == []
    assert hist_buckets({3: 0}) == []
    assert hist_buckets({2: 5, 4: 7, 1: 0}, div=2) == [
        Bucket(Bound(1, "1"), Bound(2, "2"), 2),
        Bucket(Bound(2, "2"), Bound(4, "4", False), 0),
        Bucket(Bound(4, "4", False), Bound(8, "8", False), 3),
    ]


def test_lhist_index():
    assert [lhist_index(v, 0, 100, 10) for v in (-1, 0, 9, 10, 99, 100, 101, 10**6)] == \
        [0, 1, 1, 2, 10, 11, 11, 11]
    assert [lhist_index(v, 0, 25, 10) for v in (19, 20, 25, 26, 30)] == [2, 3, 3, 3, 3]
    assert [lhist_index(v, 10, 100, 20) for v in (9, 10, 29, 30)] == [0, 1, 1, 2]


def test_lhist_labels():
    # bpftrace 0.17: @l = lhist(15, 0, 100, 10); lhist(150, ...); lhist(-1, ...)
    rows = lhist_buckets({0: 1, 2: 1, 11: 1}, 0, 100, 10)
    assert [b.label for b in rows] == ["(..., 0)", "[0, 10)", "[10, 20)", "[20, 30)", "[30, 40)",
                                      "[40, 50)", "[50, 60)", "[60, 70)", "[70, 80)",
                                      "[80, 90)", "[90, 100)", "[100, ...)"]
    # bpftrace 0.17: lhist(3000/9000, 0, 8192, 1024) -> [2K, 3K) ... [8K, ...)
    assert [b.label for b in lhist_buckets({3: 1, 9: 1}, 0, 8192, 1024)] == \
        ["[2K, 3K)", "[3K, 4K)", "[4K, 5K)", "[5K, 6K)", "[6K, 7K)", "[7K, 8K)", "[8K, ...)"]
    # bpftrace 0.17: lhist(50, 10, 100, 20) -> [50, 70)
    assert [b.label for b in lhist_buckets({3: 1}, 10, 100, 20)] == ["[50, 70)"]
    assert lhist_bound(3 << 20, 1 << 20) == Bound(3 << 20, "3M", False)
    assert lhist_bound(1536, 512) == Bound(1536, "1536", True)


def test_lhist_labels_follow_current_bpftrace():
    # lhist(5|26|30, 0, 25, 10): 26 and 30 land in bucket 3, which holds
    # 20..25 too. bpftrace 0.24+ labels it [20, ...); 0.17 printed [25, ...).
    assert [b.label for b in lhist_buckets({1: 1, 3: 2}, 0, 25, 10)] == \
        ["[0, 10)", "[10, 20)", "[20, ...)"]
    # step 1: adjacent plain bounds print as one value (0.24+; 0.17: [3, 4))
    assert [b.label for b in lhist_buckets({4: 1, 6: 1}, 0, 10, 1)] == ["[3]", "[4]", "[5]"]


def test_agg_buckets_reads_params():
    assert agg_buckets(Agg(AggKind.HIST), {3: 4}, div=2) == \
        [Bucket(Bound(2, "2"), Bound(4, "4", False), 2)]
    assert [agg_buckets(Agg(AggKind.HIST, (1,)), {i: 1})[0].label for i in (4, 5)] == \
        ["[3]", "[4, 6)"]
    # div does not apply to lhist (bpftrace)
    assert agg_buckets(Agg(AggKind.LHIST, (0, 10, 5)), {1: 4}, div=2)[0].count == 4


@pytest.mark.parametrize("kind", list(AggKind))
def test_every_agg_kind_folds(kind):
    one_cpu = [bytes(Agg(kind).size)]
    assert fold_percpu(Agg(kind), one_cpu) in (0, (0, 0))
