"""``chil train --task``: the embedded run on a task a plugin adds (the utility generators of ``chil tasks``)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from chil_core.scoring import Scorer
from chil_core.training.cli import train_command
from chil_core.training.data import PromptDataset
from chil_core.training.run import resolve_config
from chil_core.training.tasks import find_task, task_names

utility_tasks = pytest.importorskip("chil_plugin_utility.tasks")


def test_the_utility_generators_are_embedded_tasks() -> None:
    names = task_names()
    assert names[0] == "arithmetic"
    assert {f"utility:{k}" for k in ("lotteries", "knapsack", "assignment", "scheduling")} <= set(names)
    out = CliRunner().invoke(train_command, ["--task", "help"], catch_exceptions=False)
    assert out.exit_code == 0 and "utility:lotteries" in out.output and "arithmetic" in out.output


def test_a_task_sets_the_embedded_defaults_and_flags_still_win() -> None:
    config, embedded = resolve_config({"task": "utility:knapsack"})
    assert embedded and config.frameworks == ["utility"] and config.max_new_tokens >= 110
    config, _ = resolve_config({"task": "utility:knapsack", "frameworks": ["utility", "empirical"], "max_new_tokens": 7})
    assert config.frameworks == ["utility", "empirical"] and config.max_new_tokens == 7
    assert resolve_config({})[0].frameworks == ["empirical"]  # the default embedded task is unchanged


@pytest.mark.parametrize(("values", "message"), [
    ({"task": "utility:nope"}, "task: unknown embedded task 'utility:nope'; installed: arithmetic, utility:"),
    ({"task": "utility:lotteries", "data": "x.jsonl"}, "task: picks the embedded run's task"),
])
def test_bad_task_settings_name_the_field(values, message) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(")):
        resolve_config(values)
    out = CliRunner().invoke(train_command, ["--task", "utility:nope"])
    assert out.exit_code == 2 and "error: task: unknown embedded task" in out.output


@pytest.mark.parametrize("kind", utility_tasks.TRAINING_KINDS)
def test_worked_solutions_earn_the_full_reward_and_a_wrong_one_does_not(kind) -> None:
    """The warm start teaches answers the framework pays; an answer with one number changed is docked."""
    train, held_out = find_task(f"utility:{kind}").make_rows(0)
    assert len(train) == utility_tasks.TRAINING_ROWS - utility_tasks.HELD_OUT and len(held_out) == utility_tasks.HELD_OUT
    assert not {r["id"] for r in train} & {r["id"] for r in held_out} and all("solution" not in r for r in held_out)
    assert max(len(r["solution"].encode()) for r in train) <= utility_tasks._LONGEST_SOLUTION[kind]
    rows = train[:12]

    def recs(texts):
        return [{"id": r["id"], "prompt": r["prompt"], "completion": t, "metadata": r["metadata"],
                 **({"reference": r["reference"]} if "reference" in r else {})} for r, t in zip(rows, texts, strict=True)]

    def wrong(text: str) -> str:  # the last number (objective, makespan, a variance) made one bigger
        import re

        m = list(re.finditer(r"\d+", text))[-1]
        return text[: m.start()] + str(int(m.group()) + 1) + text[m.end():]

    with Scorer.from_config({"cache": {"enabled": False}}, frameworks=["utility"]) as scorer:
        right = scorer.score(recs([r["solution"] for r in rows]))
        bad = scorer.score(recs([wrong(r["solution"]) for r in rows]))
    assert [r.reward for r in right] == [1.0] * len(rows)
    assert all(b.reward is not None and b.reward < 1.0 for b in bad)


def test_generated_rows_with_mixed_lists_are_read_exactly(tmp_path) -> None:
    """Lotteries' [probability, outcome] pairs mix strings and numbers: Arrow cannot type them; the
    trainer keeps such objects as JSON (before: "cannot read ... changed from string to number")."""
    rows = utility_tasks.generate(["lotteries", "games"], 5, 0)
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ds = PromptDataset(path)
    got = ds.all_rows()
    assert [r.metadata for r in got] == [r["metadata"] for r in rows]
    assert [r.prompt for r in ds.rows([3, 1])] == [rows[3]["prompt"], rows[1]["prompt"]]


@pytest.mark.slow
def test_an_embedded_run_on_a_utility_task_gets_rewards_that_differ(tmp_path, monkeypatch) -> None:
    """The whole embedded run on utility:assignment, made tiny: 8 training prompts memorised by the warm
    start, then GRPO steps whose completions the utility framework scores; rewards are neither all 0 nor
    all equal."""
    from chil_core.training.run import train

    monkeypatch.setattr(utility_tasks, "TRAINING_ROWS", 12)
    monkeypatch.setattr(utility_tasks, "HELD_OUT", 4)
    original = utility_tasks.embedded_tasks
    quick = {"max_steps": 300, "batch_size": 8, "learning_rate": 3e-3, "target": 0.75, "check_every": 50, "probe": 8}
    monkeypatch.setattr(utility_tasks, "embedded_tasks",
                        lambda: [dataclasses.replace(t, warm_start=quick) for t in original()])
    out = tmp_path / "run"
    summary = train({"task": "utility:assignment", "max_steps": 2, "prompts_per_step": 4, "group_size": 4,
                     "eval_max_prompts": 4, "output_dir": str(out), "progress": False, "save_every": 0,
                     "tensorboard": False}, {"cache": {"enabled": False}})
    assert summary["task"] == "utility:assignment" and summary["frameworks"] == ["utility"]
    assert (out / "task" / "train.jsonl").is_file() and (out / "warm_start" / "warm_start.json").is_file()
    steps = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    rewards = [s["reward/mean"] for s in steps]
    assert len(steps) == 2 and max(rewards) > 0 and any(s["reward/std"] > 0 for s in steps), steps
