"""eBPF code generation, pure: the instruction set (insn, the ISA leaf that
lang may use), IR to instructions, program BTF, the verifier's log."""
