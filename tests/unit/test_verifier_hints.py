"""A verifier rejection because the kernel does not offer a helper is the
kernel's limit, said as such, not "a bug in pytrace's code generation"."""
from pytrace.bpf import verifier


def test_refused_helper_is_found_in_the_log():
    log = ("0: (b7) r1 = 1\n1: (85) call bpf_override_return#58\n"
           "program of this type cannot use helper bpf_override_return#58\n")
    assert verifier.refused_helper(log) == "bpf_override_return"
    assert verifier.refused_helper("unknown func bpf_loop#181\n") == "bpf_loop"
    assert verifier.refused_helper("R1 invalid mem access 'scalar'\n") is None


def test_helper_hints_say_what_the_kernel_needs():
    assert verifier.helper_hint("bpf_override_return") == (
        "the running kernel does not let this kind of program call bpf_override_return: "
        "it needs a kernel built with CONFIG_BPF_KPROBE_OVERRIDE, and a kprobe on a "
        "function on the error-injection list")
    assert verifier.helper_hint("bpf_loop") == (
        "the running kernel does not let this kind of program call bpf_loop "
        "(an older kernel, or one built without it)")
