"""eBPF code generation, pure: the instruction set (insn and its text,
insn_text: the ISA leaf that lang may use), register allocation, IR to
instructions, program BTF, the verifier's log."""
