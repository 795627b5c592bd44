"""The BPF side of hist() buckets agrees with userspace's bucket labels for
every granularity, including values past 2**32 and negatives."""
import json
import os
import subprocess
import sys

import pytest

from pytrace.render.decode import hist_index

pytestmark = [pytest.mark.kernel,
              pytest.mark.skipif(os.geteuid() != 0, reason="needs root to load BPF")]

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VALUES = list(range(0, 70)) + [100, 255, 256, 1000, 65535, 65536, 2**31 - 1, 2**31,
                               2**32 - 1, 2**32, 2**32 + 5, 2**40 + 123, 2**62, 2**63 - 1,
                               -1, -100]


@pytest.mark.parametrize("bits", range(6))
def test_each_value_lands_in_its_bucket(bits):
    body = " ".join(f"@h[{v}] = hist({v}, {bits});" for v in VALUES)
    out = subprocess.run([sys.executable, "-m", "pytrace", "-f", "json", "-q", "-e",
                          f"BEGIN {{ {body} exit(); }}"], capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=ROOT), timeout=60)
    assert out.returncode == 0, out.stderr
    records = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    (hist,) = [r["data"]["@h"] for r in records if r["type"] == "hist"]
    for v in VALUES:
        (bucket,) = hist[str(v)]
        low = bucket.get("min", -2**63)
        high = int(bucket.get("max", 2**64))
        assert low <= v <= high, (v, bucket)
    # the same values as userspace counts them: one bucket per distinct index
    assert len({hist_index(v, bits) for v in VALUES}) == len(
        {(b[0].get("min"), b[0].get("max")) for b in hist.values()})
