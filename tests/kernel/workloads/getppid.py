"""getppid() N times (default 1000): tracepoint:syscalls:sys_enter_getppid."""
import os
import sys

for _ in range(int(sys.argv[1]) if len(sys.argv) > 1 else 1000):
    os.getppid()
