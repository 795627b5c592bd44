"""examples/deploy/ is validated here, not run: the DaemonSet parses as
YAML (PyYAML when installed, else skipped), the systemd unit passes
``systemd-analyze verify`` (when available), the Containerfile installs the
export extra, and the example scripts parse with their export settings."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytrace.runtime.export.config import parse

DEPLOY = Path(__file__).resolve().parents[2] / "examples" / "deploy"


def test_daemonset_is_least_privilege_yaml():
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed")
    doc = yaml.safe_load((DEPLOY / "daemonset.yaml").read_text())
    assert doc["kind"] == "DaemonSet"
    pod = doc["spec"]["template"]["spec"]
    assert pod["hostPID"] is True
    (container,) = pod["containers"]
    sc = container["securityContext"]
    assert sc["privileged"] is False and sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"] == {"drop": ["ALL"], "add": ["BPF", "PERFMON", "SYS_RESOURCE"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/sys/kernel/tracing"]["readOnly"] is True
    assert mounts["/sys/kernel/btf"]["readOnly"] is True
    assert container["ports"] == [{"name": "metrics", "containerPort": 9435}]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze is not installed")
def test_systemd_unit_verifies(tmp_path):
    # verify wants ExecStart's program to exist: point it at a wrapper here
    wrapper = tmp_path / "pytrace"
    wrapper.write_text("#!/bin/sh\nexec python3 -m pytrace \"$@\"\n")
    wrapper.chmod(0o755)
    text = (DEPLOY / "pytrace-agent.service").read_text()
    assert "ExecStart=/usr/local/bin/pytrace --export prometheus=127.0.0.1:9435 " in text
    assert "AmbientCapabilities=CAP_BPF CAP_PERFMON CAP_SYS_RESOURCE\n" in text
    unit = tmp_path / "pytrace-agent.service"
    unit.write_text(text.replace("/usr/local/bin/pytrace", str(wrapper)))
    p = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "SYSTEMD_LOG_LEVEL": "err"})
    assert p.returncode == 0, p.stdout + p.stderr


def test_containerfile_and_scripts():
    text = (DEPLOY / "Containerfile").read_text()
    assert '[export]' in text and 'ENTRYPOINT ["pytrace", "--export"' in text
    for name in ("syscalls.pt", "opens.pt"):
        config = parse((DEPLOY / name).read_text(), name)
        assert config.maps, name
