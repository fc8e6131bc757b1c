"""Run directories survive kills and never mix two runs (issue 8, items 5 and 7)."""

from __future__ import annotations

import json

import pytest

from chil_core.training import default_task
from chil_core.training.run import prepare_run_dir, read_json, train, write_json_atomic


@pytest.fixture
def quick_warm_start(monkeypatch):
    """The embedded warm start, but a few steps of it (the real model, tokenizer and data)."""
    monkeypatch.setitem(default_task.WARM_START, "max_steps", 3)
    monkeypatch.setitem(default_task.WARM_START, "batch_size", 8)
    monkeypatch.setitem(default_task.WARM_START, "probe", 4)
    monkeypatch.setitem(default_task.POLICY, "hidden_size", 32)
    monkeypatch.setitem(default_task.POLICY, "num_heads", 2)
    return default_task


def test_killed_warm_start_is_rebuilt_not_trusted(tmp_path, quick_warm_start):
    """Killed when only ``warm_start/config.json`` had been written: before, every later run loaded
    the half-written directory and died ("Couldn't instantiate the backend tokenizer")."""
    partial = tmp_path / "warm_start"
    partial.mkdir()
    (partial / "config.json").write_text("{}")
    messages = []
    model, tokenizer = default_task.warm_started_policy(tmp_path, seed=0, echo=messages.append)
    assert any("incomplete" in m for m in messages)
    manifest = json.loads((partial / default_task.WARM_START_MANIFEST).read_text())
    assert manifest["key"] == default_task.warm_start_key(0)
    assert tokenizer("1+2=")["input_ids"]  # a whole tokenizer this time
    assert not list(tmp_path.glob(".warm_start*"))  # no temporary directory left behind
    # the complete one is reused as is
    messages.clear()
    default_task.warm_started_policy(tmp_path, seed=0, echo=messages.append)
    assert not any("warm start:" in m for m in messages)


def test_warm_start_is_keyed_by_what_shaped_it(tmp_path, quick_warm_start):
    default_task.warm_started_policy(tmp_path, seed=0, echo=lambda m: None)
    first = json.loads((tmp_path / "warm_start" / default_task.WARM_START_MANIFEST).read_text())
    messages = []
    default_task.warm_started_policy(tmp_path, seed=1, echo=messages.append)  # before: seed 0's was reused
    assert any("other settings" in m for m in messages)
    second = json.loads((tmp_path / "warm_start" / default_task.WARM_START_MANIFEST).read_text())
    assert second["seed"] == 1 and second["key"] != first["key"]
    assert default_task.warm_start_key(0) != default_task.warm_start_key(1)


def test_non_empty_run_dir_is_refused_unless_resume_or_overwrite(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1}\n')
    (run / "checkpoints").mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not empty.*--resume.*--overwrite"):
        prepare_run_dir(run, resume=False, overwrite=False)
    prepare_run_dir(run, resume=True, overwrite=False)  # continuing is fine
    assert (run / "metrics.jsonl").exists()
    prepare_run_dir(run, resume=False, overwrite=True)
    assert not (run / "metrics.jsonl").exists() and not (run / "checkpoints").exists()
    assert (run / "notes.txt").read_text() == "mine"  # only chil's own artefacts are removed
    prepare_run_dir(tmp_path / "fresh", resume=False, overwrite=False)
    assert (tmp_path / "fresh").is_dir()


def test_train_refuses_a_used_run_dir_before_any_work(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text("{}")
    with pytest.raises(ValueError, match="not empty"):
        train({"output_dir": str(run), "max_steps": 1}, {"cache": {"path": ""}})
    assert json.loads((run / "summary.json").read_text()) == {}  # untouched


def test_json_artefacts_are_atomic_and_partial_ones_are_unreadable_not_fatal(tmp_path):
    path = tmp_path / "eval_before.json"
    path.write_text("")  # what a kill during a plain write_text leaves
    assert read_json(path) is None
    path.write_text('{"reward": 0.')
    assert read_json(path) is None
    write_json_atomic(path, {"reward": 0.25})
    assert read_json(path) == {"reward": 0.25}
    assert [p.name for p in tmp_path.iterdir()] == ["eval_before.json"]


def test_latest_checkpoint_skips_a_truncated_one(tmp_path):
    torch = pytest.importorskip("torch")
    from chil_core.training.checkpoint import STATE_FILE, Checkpointer

    ck = Checkpointer(tmp_path, keep=5)
    ck.save(1, {"w": torch.ones(3)})
    ck.save(2, {"w": torch.ones(3) * 2})
    ck.wait()
    state = ck.dir / "step-0000002" / STATE_FILE
    state.write_bytes(state.read_bytes()[:50])  # torn by a crash
    assert ck.latest().name == "step-0000001"
    (ck.dir / "latest").write_text("")  # an empty pointer
    assert Checkpointer.load(ck.latest())["w"].tolist() == [1.0, 1.0, 1.0]
    ck.close()
