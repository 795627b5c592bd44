"""Every system call: bpf(), perf events, privileges, feature probes, host
facts, kallsyms, attach primitives, kprobes, network devices, maps and
event buffers."""
