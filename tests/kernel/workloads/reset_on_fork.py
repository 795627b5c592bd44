"""getppid() N times; first, when the second argument is 1, set
SCHED_RESET_ON_FORK on itself, which the kernel keeps in the one-bit
bitfield task_struct.sched_reset_on_fork."""
import os
import sys

if sys.argv[2] == "1":
    os.sched_setscheduler(0, os.SCHED_OTHER | os.SCHED_RESET_ON_FORK, os.sched_param(0))
for _ in range(int(sys.argv[1])):
    os.getppid()
