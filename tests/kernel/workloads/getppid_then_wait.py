"""Renames itself to NAME (comm), calls getppid() N times, then stays alive until FLAGFILE exists: a traced -c child that
outlives its calls long enough for a scraper to see the final counts.
With a fourth argument SIZES ("100x10,1000x30"), it also writes SIZE bytes
to /dev/null COUNT times per pair, for hist() of write sizes."""
import os
import sys
import time

with open("/proc/self/comm", "w") as f:
    f.write(sys.argv[1])
for _ in range(int(sys.argv[2])):
    os.getppid()
if len(sys.argv) > 4:
    fd = os.open("/dev/null", os.O_WRONLY)
    for pair in sys.argv[4].split(","):
        size, count = pair.split("x")
        for _ in range(int(count)):
            os.write(fd, b"x" * int(size))
    os.close(fd)
deadline = time.monotonic() + 120
while not os.path.exists(sys.argv[3]) and time.monotonic() < deadline:
    time.sleep(0.05)
