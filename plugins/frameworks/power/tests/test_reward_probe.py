"""reward-probe on the generated right/wrong pairs, through `chil score` (slow: a subprocess per run)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[4]
PROBE = REPO.parent / "shared" / "tools" / "reward-probe"


@pytest.mark.slow
@pytest.mark.skipif(not PROBE.is_file(), reason="../shared/tools/reward-probe is not here")
def test_reward_probe_passes_on_generated_pairs(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.jsonl"
    subprocess.run([sys.executable, str(REPO / "scripts" / "power_pairs.py"), "-o", str(pairs), "--n", "5"], check=True)
    chil = Path(sys.executable).with_name("chil")
    proc = subprocess.run([sys.executable, str(PROBE), str(pairs), "--frameworks", "power"], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "CHIL": str(chil)}, timeout=1200)
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    assert "FAIL" not in proc.stdout
