"""Renames itself to "ptnapper" (comm), then sleeps 20 ms N times: N
voluntary context switches in TASK_INTERRUPTIBLE with prev comm
"ptnapper", long enough that a slow (emulated) machine really sleeps."""
import sys
import time

with open("/proc/self/comm", "w") as f:
    f.write("ptnapper")
for _ in range(int(sys.argv[1])):
    time.sleep(0.02)
