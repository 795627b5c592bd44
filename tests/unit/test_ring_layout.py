"""The ring buffer's positions are the kernel's unsigned long: on a 32-bit
machine the word after producer_pos is pending_pos, not a high half.

Reading them as 64-bit words (what pytrace did) made armhf spin forever
after its first records: producer_pos | pending_pos << 32 is a producer
gigabytes ahead, so the consumer loop never caught up. These tests lay a
ring out in memory as a 32-bit (and a 64-bit) kernel does."""
from __future__ import annotations

import mmap
import struct

import pytest

from pytrace.kernel.buffers import PAGE_SIZE, RingBufferReader

SIZE = 4 * PAGE_SIZE


def _ring(long_format: str, records: list[bytes], start: int = 0, pending: int = 0):
    """Consumer page, producer page + data (twice), as the kernel maps them."""
    w = struct.calcsize(long_format)
    consumer, producer = mmap.mmap(-1, PAGE_SIZE), mmap.mmap(-1, PAGE_SIZE + 2 * SIZE)
    pos = start
    for rec in records:
        off = PAGE_SIZE + (pos & (SIZE - 1))
        struct.pack_into("=II", producer, off, len(rec), 0)
        producer[off + 8:off + 8 + len(rec)] = rec
        pos = (pos + ((len(rec) + 8 + 7) & ~7)) & ((1 << 8 * w) - 1)
    struct.pack_into("=" + long_format, consumer, 0, start)
    struct.pack_into("=" + long_format, producer, 0, pos)
    if w == 4:
        struct.pack_into("=I", producer, 4, pending)      # unsigned long pending_pos
    return consumer, producer, pos


@pytest.mark.parametrize("long_format", ["I", "Q"])
def test_records_are_read_and_the_consumer_catches_up(long_format):
    records = [b"hello 42 str\n\0", b"x" * 20, b"exit"]
    consumer, producer, end = _ring(long_format, records, pending=0x30)
    seen = []
    reader = RingBufferReader.over(consumer, producer, SIZE, seen.append, long_format)
    batch = reader._consume(None)
    assert [bytes(b) for b in batch] == records
    assert struct.unpack_from("=" + long_format, consumer)[0] == end
    assert reader._consume(None) == []                     # caught up: returns
    reader._release()


def test_the_32_bit_layout_read_as_64_bit_words_is_an_error_not_a_spin():
    consumer, producer, _ = _ring("I", [b"hello"], pending=0x30)
    reader = RingBufferReader.over(consumer, producer, SIZE, print, "Q")
    with pytest.raises(RuntimeError, match="corrupt ring buffer"):
        reader._consume(None)
    reader._release()


def test_32_bit_positions_wrap():
    start = 0xFFFFFFF0
    records = [b"a" * 10, b"b" * 12, b"c"]
    consumer, producer, end = _ring("I", records, start=start)
    assert end < start                                     # the producer wrapped
    reader = RingBufferReader.over(consumer, producer, SIZE, print, "I")
    assert [bytes(b) for b in reader._consume(None)] == records
    assert struct.unpack_from("=I", consumer)[0] == end
    reader._release()
