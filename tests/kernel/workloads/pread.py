"""pread64() on /dev/zero at offset 7777 (the marker a predicate picks out:
ld.so's own preads use other offsets), one call per byte count asked for.

Arguments: SIZExCOUNT (COUNT calls of SIZE bytes) or cpu=N (move to CPU N
for the calls that follow). Without cpu=, everything runs on one CPU, so
per-CPU maps hold a single CPU's values.
"""
import os
import sys

MARK_POS = 7777

os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
fd = os.open("/dev/zero", os.O_RDONLY)
for arg in sys.argv[1:]:
    if arg.startswith("cpu="):
        os.sched_setaffinity(0, {int(arg[4:])})
        continue
    size, count = (int(x) for x in arg.split("x"))
    for _ in range(count):
        os.pread(fd, size, MARK_POS)
os.close(fd)
