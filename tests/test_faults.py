"""The fault suite (``benchmarks/faults.py``) at CI sizes: injected backend faults accounted for in a
scoring run and a training run, SIGKILL-and-restart of ``chil score`` and ``chil train``, a full disk.
The full sizes (10,000 records, 200 steps, 20 kills) are a benchmark: ``python benchmarks/faults.py``.
Sizes here: CHIL_FAULTS_RECORDS (1000), CHIL_FAULTS_STEPS (20), CHIL_FAULTS_KILLS (4)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("chil_bench_faults", REPO / "benchmarks" / "faults.py")
faults = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(faults)  # type: ignore[union-attr]

RECORDS = int(os.environ.get("CHIL_FAULTS_RECORDS", 1000))
STEPS = int(os.environ.get("CHIL_FAULTS_STEPS", 20))
KILLS = int(os.environ.get("CHIL_FAULTS_KILLS", 4))


def test_injected_faults_in_a_scoring_run_are_all_accounted_for(tmp_path: Path) -> None:
    row = faults.inject_scoring(RECORDS, 0.02, tmp_path)
    assert row["faults"] > 0, row
    assert row["accounted"], row
    assert row["detail"]["newly_failed"] == row["by kind"]["raise"] + row["by kind"]["crash"] + row["by kind"]["hang"]


def test_injected_faults_in_a_training_run_lose_no_step(tmp_path: Path) -> None:
    row = faults.inject_training(STEPS, 0.05, tmp_path)
    assert row["accounted"], row


def test_chil_score_killed_and_restarted_leaves_absent_or_complete_output_and_a_right_cache(tmp_path: Path) -> None:
    row = faults.kill_score(300, KILLS, tmp_path, seed=1)
    assert row["by kind"]["partial"] == 0 and row["accounted"], row


def test_chil_train_killed_and_resumed_ends_with_the_uninterrupted_weights_and_metrics(tmp_path: Path) -> None:
    row = faults.kill_train(5, max(2, KILLS - 1), tmp_path, seed=1)
    assert row["faults"] >= 1 and row["accounted"], row


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not _can_mount_tmpfs(), reason="no unprivileged user+mount namespace for a small tmpfs here")
def test_a_full_disk_gives_one_error_line_and_no_corrupt_file(tmp_path: Path) -> None:
    row = faults.disk_full(tmp_path)
    assert row["accounted"], row["detail"]
