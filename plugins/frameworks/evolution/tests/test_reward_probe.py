"""reward-probe on right/wrong pairs from SituatedQA dev and generated instances, through `chil score`
(slow: a subprocess per run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
PROBE = REPO.parent / "shared" / "tools" / "reward-probe"
DEV = REPO.parent / "shared" / "data" / "situatedqa" / "qa_data" / "temp.dev.jsonl"


@pytest.mark.slow
@pytest.mark.skipif(not PROBE.is_file() or not DEV.is_file(), reason="../shared/tools/reward-probe or SituatedQA dev is not here")
def test_reward_probe_passes_on_evolution_pairs(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    subprocess.run([sys.executable, str(REPO / "benchmarks" / "evolution" / "pairs.py"), "-o", str(pairs),
                    "--temporal", "20", "--per-kind", "2"], check=True, cwd=REPO)
    chil = Path(sys.executable).with_name("chil")
    proc = subprocess.run([sys.executable, str(PROBE), str(pairs), "--frameworks", "evolution"], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "CHIL": str(chil)}, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "FAIL" not in proc.stdout and "32 pairs" in proc.stdout
