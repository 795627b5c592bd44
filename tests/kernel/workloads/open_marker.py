"""open(PATH, O_RDONLY) N times, closing each at once; writes the fds the
opens returned to FDFILE (space separated) when one is given. A predicate
on the path (str(arg1), str(args->filename)) picks out exactly these."""
import os
import sys

path, count = sys.argv[1], int(sys.argv[2])
fds = []
for _ in range(count):
    fd = os.open(path, os.O_RDONLY)
    fds.append(fd)
    os.close(fd)
if len(sys.argv) > 3:
    with open(sys.argv[3], "w") as f:
        f.write(" ".join(map(str, fds)))
