"""Executable files: reading ELF (symbols, segments, notes), finding
binaries and libraries the way the dynamic linker does, and USDT notes.

Pure file reading, no syscalls beyond open/mmap; imported only by scripts
that need user-space probes or symbols.
"""
