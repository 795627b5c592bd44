"""KernelInfo is a frozen value of named facts; the user's choices travel
apart from it (ProbeChoices, through Resolvers); caches live outside it."""
from __future__ import annotations

import gc

import pytest

from pytrace.base.record import FrozenInstanceError, replace
from pytrace.lang import kernel_types
from pytrace.lang.ast import ProbeSpec
from pytrace.lang.kernelinfo import Feature, KernelInfo
from pytrace.lang.probes import ProbeChoices
from pytrace.providers import by_name, resolvers

from tests.fake_btf import btf_kernel
from tests.fakes import fake_kernel


def test_kernel_info_is_frozen_and_has_no_free_form_dict():
    kernel = fake_kernel()
    with pytest.raises(FrozenInstanceError):
        kernel.ncpus = 8
    assert not hasattr(kernel, "extra")


def test_unknown_facts_have_safe_defaults():
    kernel = KernelInfo(arch=fake_kernel().arch)
    assert (kernel.btf(), kernel.module_btf("m"), kernel.symbol_address("x"),
            kernel.traceable_functions(None), kernel.ftrace_functions(None),
            kernel.interfaces(), kernel.ifindex("lo")) == (None, None, None, [], None, [], None)


def test_without_masks_features_and_keeps_every_other_fact():
    kernel = btf_kernel()
    view = kernel.without({Feature.FENTRY})
    assert Feature.FENTRY not in view.features and Feature.FENTRY in kernel.features
    assert view == replace(kernel, features=kernel.features - {Feature.FENTRY})


def test_views_of_one_kernel_share_one_type_converter():
    kernel = btf_kernel()
    conv = kernel_types.converter(kernel)
    assert conv is not None
    assert kernel_types.converter(kernel.without({Feature.KPROBE})) is conv
    assert kernel_types.converter(btf_kernel()) is not conv      # another kernel
    assert kernel_types.converter(fake_kernel()) is None          # no BTF


def test_a_kernels_converter_goes_with_the_kernel():
    kernel = btf_kernel()
    kernel_types.converter(kernel)
    before = len(kernel_types._converters)
    del kernel
    gc.collect()
    assert len(kernel_types._converters) == before - 1


def test_choices_reach_the_provider_through_resolvers_and_leave_the_registry_alone():
    choices = ProbeChoices(fallback=False)
    kprobe = resolvers(choices).get("kprobe")
    assert kprobe.choices == choices
    assert by_name()["kprobe"].choices == ProbeChoices()
    assert resolvers().get("kprobe") is by_name()["kprobe"]
    assert resolvers(choices).get("tracepoint") is by_name()["tracepoint"]


def test_describe_only_lists_a_probe_the_kernel_could_not_attach():
    kernel = btf_kernel({Feature.KPROBE, Feature.FENTRY})
    kprobe = by_name()["kprobe"].choosing(ProbeChoices(describe_only=True))
    (t,) = kprobe.expand(ProbeSpec("kprobe:vfs_read"), kernel)
    assert t.name == "kprobe:vfs_read" and t.context.note == ""
