"""Run a piece of Python in a fresh subprocess and measure its wall time and peak memory.

Each measured run is its own process, so peak RSS (``ru_maxrss``) belongs to that run alone and
runs do not warm each other's caches in memory (the OS page cache is shared, which is why runs of
the thing measured and of its reference are alternated).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import textwrap
from dataclasses import dataclass

_WRAPPER = """
import json, resource, time
t0 = time.perf_counter()
{body}
elapsed = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("@@MEASURE@@" + json.dumps({{"seconds": elapsed, "peak_mb": peak_mb,
                                   "extra": globals().get("RESULT")}}))
"""


@dataclass
class Run:
    seconds: float
    peak_mb: float
    extra: object


def measure(body: str, setup: str = "") -> Run:
    """Run ``setup`` (not timed) then ``body`` (timed) in a new Python process."""
    code = textwrap.dedent(setup) + "\n" + _WRAPPER.format(body=textwrap.dedent(body))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark run failed:\n{proc.stderr[-4000:]}")
    lines = [x[x.index("@@MEASURE@@"):] for x in proc.stdout.splitlines() if "@@MEASURE@@" in x]
    if not lines:
        raise RuntimeError(f"benchmark run printed no measurement:\n{proc.stdout[-2000:]}\n"
                           f"{proc.stderr[-4000:]}")
    line = lines[0]
    data = json.loads(line.removeprefix("@@MEASURE@@"))
    return Run(data["seconds"], data["peak_mb"], data["extra"])


def median(values: list[float]) -> float:
    return statistics.median(values)
