"""Waits for a line on stdin, then calls getppid() N times: lets a test
attach to an already running process (-p) before the calls happen."""
import os
import sys

sys.stdin.readline()
for _ in range(int(sys.argv[1])):
    os.getppid()
