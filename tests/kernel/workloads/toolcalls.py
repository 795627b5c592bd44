"""The calls bpftrace's tools trace, a known number of times each, for
tests/kernel/test_e2e_tools.py. Arguments, done in order:

  stat=PATH:N     os.stat(PATH) N times (fails with ENOENT when PATH is missing)
  open=PATH:N     open(PATH) N times, with the opens.py marker flags
  kill=N          kill(own pid, 0) N times, then kill(2**22 + 1, 0) once (ESRCH)
  setuid=N        setuid(0) N times (we are root)
  sync=N          sync() N times
  fork=N          fork N children that exit at once, each waited for
  read=SIZE:N     pread(/dev/zero, SIZE, offset 7777) N times (pread.py's marker)
  resolve=N       getaddrinfo("localhost", "80") N times (libc, no DNS)
  exec=PROG,ARG   execv(PROG, [PROG, ARG...]) -- last, it replaces us
"""
import os
import socket
import sys

FLAGS = os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK | os.O_NOFOLLOW


def main(argv: list[str]) -> None:
    for arg in argv:
        what, _, spec = arg.partition("=")
        if what == "exec":
            prog, *rest = spec.split(",")
            os.execv(prog, [prog, *rest])
        target, _, n = spec.rpartition(":")
        for _ in range(int(n)):
            if what == "stat":
                try:
                    os.stat(target)
                except OSError:
                    pass
            elif what == "open":
                try:
                    os.close(os.open(target, FLAGS))
                except OSError:
                    pass
            elif what == "kill":
                os.kill(os.getpid(), 0)
            elif what == "setuid":
                os.setuid(0)
            elif what == "sync":
                os.sync()
            elif what == "fork":
                pid = os.fork()
                if pid == 0:
                    os._exit(0)
                os.waitpid(pid, 0)
            elif what == "read":
                fd = os.open("/dev/zero", os.O_RDONLY)
                os.pread(fd, int(target), 7777)
                os.close(fd)
            elif what == "resolve":
                socket.getaddrinfo("localhost", "80", type=socket.SOCK_STREAM)
        if what == "kill":
            try:
                os.kill((1 << 22) + 1, 0)
            except OSError:
                pass


main(sys.argv[1:])
