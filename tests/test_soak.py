"""The timed soak (``benchmarks/soak.py --minutes``) at CI size, through ``chil serve`` and through the
in-process Scorer: records are scored at full load for 90 seconds, sampled every 10 seconds.  Open
descriptors, threads and child processes must not grow after the first samples (a descriptor or
worker leaked per request or per chunk shows within a minute), and RSS may not grow by more than 20 %
(a loose leak catcher: the 5 % bound is for the 10-minute benchmark, after a real warm-up)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("chil_bench_soak", REPO / "benchmarks" / "soak.py")
soak = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(soak)  # type: ignore[union-attr]


@pytest.mark.parametrize("target", ["serve", "scorer"])
def test_a_short_soak_leaks_no_descriptor_thread_or_process(target: str) -> None:
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / "soak.py"), "--minutes", "1.5", "--sample-s", "10",
                           "--target", target, "--records", "1024", "--batch", "64"],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    rows = [json.loads(x) for x in proc.stdout.splitlines() if x.startswith("{")]
    assert len(rows) >= 6, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert rows[-1]["records"] > rows[0]["records"] > 0, rows  # it kept scoring
    assert "request failed" not in proc.stderr, proc.stderr[-3000:]
    growth, deltas, _ = soak.judge(rows)
    assert all(v <= 0 for v in deltas.values()), (deltas, rows)
    assert growth < 0.20, (growth, rows)
    assert rows[-1]["children"] >= 1, rows  # the backends' workers are counted (the sampler sees the tree)
