"""Background, atomic checkpoints."""

from __future__ import annotations

import threading

import torch

from chil_core.training.checkpoint import Checkpointer


def test_save_snapshots_state_before_the_caller_changes_it(tmp_path):
    ck = Checkpointer(tmp_path, keep=2)
    weights = torch.zeros(3)
    future = ck.save(1, {"w": weights, "nested": {"x": [weights, 2]}, "note": "a"})
    weights += 5  # training goes on while the write runs
    path = future.result()
    state = Checkpointer.load(path)
    assert torch.equal(state["w"], torch.zeros(3))
    assert torch.equal(state["nested"]["x"][0], torch.zeros(3)) and state["nested"]["x"][1] == 2
    ck.close()


def test_write_happens_off_the_calling_thread(tmp_path):
    ck = Checkpointer(tmp_path)
    seen = []
    original = ck._write

    def spy(step, state):
        seen.append(threading.current_thread().name)
        return original(step, state)

    ck._write = spy  # type: ignore[method-assign]
    ck.save(1, {"w": torch.ones(1)})
    ck.wait()
    assert seen and seen[0].startswith("chil-checkpoint")
    ck.close()


def test_latest_pointer_pruning_and_leftover_tmp(tmp_path):
    ck = Checkpointer(tmp_path, keep=2)
    for step in (1, 2, 3):
        ck.save(step, {"step": step})
    ck.wait()
    names = sorted(p.name for p in ck.dir.iterdir() if p.is_dir())
    assert names == ["step-0000002", "step-0000003"]
    assert ck.latest().name == "step-0000003"
    # a crash mid-write leaves only a .tmp directory, which is never taken for a checkpoint
    (ck.dir / "step-0000004.tmp").mkdir()
    (ck.dir / "step-0000004.tmp" / "state.pt").write_bytes(b"partial")
    (ck.dir / "latest").unlink()
    assert ck.latest().name == "step-0000003"
    assert Checkpointer.load(ck.latest())["step"] == 3
    ck.close()
