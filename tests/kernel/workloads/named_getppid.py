"""Renames itself to NAME (comm), then calls getppid() N times: a predicate
on comm picks out exactly these calls, across several processes."""
import os
import sys

with open("/proc/self/comm", "w") as f:
    f.write(sys.argv[1])
for _ in range(int(sys.argv[2])):
    os.getppid()
