"""Renames itself to "ptsleeper" (comm), then sleeps 1 ms N times: N
voluntary context switches with prev_comm "ptsleeper" and prev_state 1
(TASK_INTERRUPTIBLE)."""
import sys
import time

with open("/proc/self/comm", "w") as f:
    f.write("ptsleeper")
for _ in range(int(sys.argv[1])):
    time.sleep(0.001)
