"""The embedded task: its bundled data, and (slow) the whole default run with a clear gain."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from chil_core.training import default_task
from chil_core.training.data import PromptDataset


def test_bundled_data_is_what_the_generator_writes():
    train, held_out = default_task.arithmetic_rows()
    for path, rows in ((default_task.TRAIN_FILE, train), (default_task.EVAL_FILE, held_out)):
        assert [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()] == rows
    assert len(held_out) == default_task.EVAL_SIZE
    assert not {r["prompt"] for r in train} & {r["prompt"] for r in held_out}  # held out means unseen


def test_bundled_rows_are_correct_claims_readable_as_prompts():
    for row in PromptDataset(default_task.TRAIN_FILE).table.to_pylist():
        expr, answer = row["prompt"].rstrip("="), int(row["reference"]["answer"])
        a, op, b = (expr.partition("+") if "+" in expr else expr.partition("-"))
        assert answer == (int(a) + int(b) if op == "+" else int(a) - int(b)) >= 0
        assert row["solution"] == f"{expr}={answer} #### {answer}"


def test_warm_start_stops_at_its_target(tokenizer):
    from chil_core.training.policy import tiny_policy

    model = tiny_policy(tokenizer, hidden_size=32, num_layers=1, num_heads=2)
    examples = [("1+1=", "2")] * 4
    steps, rate = default_task.warm_start(model, tokenizer, examples, max_steps=200, batch_size=4,
                                          learning_rate=1e-2, target=1.0, check_every=10)
    assert rate == 1.0 and steps < 200  # one fact is learnt long before the step budget
    assert default_task.exact_match(model, tokenizer, examples) == 1.0


@pytest.mark.slow
def test_default_run_improves_held_out_reward(tmp_path):
    """``chil train`` with no arguments but the output directory (a few minutes on 2 cores)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIL")}
    env["CHIL__CACHE__PATH"] = ""
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "chil_core.cli", "train", "--output-dir", str(out), "--no-progress"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "held-out eval" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frameworks"] == ["empirical"] and summary["steps"] == default_task.DEFAULTS["max_steps"]
    assert summary["eval_reward_after"] - summary["eval_reward_before"] >= 0.05, summary
    assert (out / "metrics.jsonl").is_file() and (out / "policy" / "config.json").is_file()


def test_warm_start_reports_progress_at_each_check(tokenizer):
    from chil_core.training.policy import tiny_policy

    model = tiny_policy(tokenizer, hidden_size=32, num_layers=1, num_heads=2)
    seen: list[tuple[int, float, float]] = []
    steps, rate = default_task.warm_start(model, tokenizer, [("1+1=", "2")] * 4, max_steps=25, batch_size=4,
                                          learning_rate=1e-3, target=2.0, check_every=10,
                                          progress=lambda *a: seen.append(a))
    assert [s for s, _, _ in seen] == [10, 20, 25] and steps == 25
    assert all(loss > 0 and 0.0 <= r <= 1.0 for _, loss, r in seen) and seen[-1][2] == rate
