"""``pytrace --info``: the kernel's release and version, and each feature
pytrace chooses between (``kernel.features``, probed or read from the
per-boot cache), present or not, masked or not."""
from __future__ import annotations

import os


def print_info(out, masked) -> int:
    from ..base import arch
    from ..kernel import host
    from ..kernel import features
    from ..kernel.privileges import check_privileges
    check_privileges()
    found = features.probe_features(masked)
    a = arch.current()
    out.write(f"kernel: {os.uname().release} ({a.name})\n")
    version = ".".join(map(str, host.kernel_version()))
    out.write(f"version: {version}\n")
    out.write("features:\n")
    for name, present, text in features.describe_features(found):
        mark = "yes" if present else "no "
        note = " (masked)" if any(m.value == name for m in masked) else ""
        out.write(f"  {mark}  {name:<16} {text}{note}\n")
    return 0
