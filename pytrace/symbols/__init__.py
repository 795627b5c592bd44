"""Addresses to names: kernel symbols (through ``kernel.kallsyms``), user
symbols (the ELF files a process maps, each read once), the mappings of
processes that exited before their stacks were printed (perf mmap records),
and stacks printed the way bpftrace prints them. Loaded only by scripts that
print stacks or symbols.
"""
