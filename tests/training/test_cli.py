"""``chil train`` and ``chil report`` as a user runs them (click commands, in process)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from chil_core.training.cli import report_command, train_command
from chil_core.training.metrics import read_metrics

SMALL = ["--set", "prompts_per_step=4", "--set", "group_size=4", "--set", "max_new_tokens=16",
         "--set", "micro_batch_size=16", "--set", "save_every=1", "--no-progress"]


@pytest.fixture
def config_file(tmp_path):
    path = tmp_path / "chil.toml"
    path.write_text('[train]\ntensorboard = false\nlearning_rate = 0.001\n\n[cache]\npath = ""\n', encoding="utf-8")
    return path


def run(*args):
    return CliRunner().invoke(train_command, list(args), catch_exceptions=False)


def test_train_a_given_model_then_resume_then_report(tmp_path, warm_policy_dir, arithmetic_jsonl, config_file):
    out = tmp_path / "run"
    common = ["--config", str(config_file), "--model", str(warm_policy_dir), "--data", str(arithmetic_jsonl),
              "--eval-data", str(arithmetic_jsonl), "--output-dir", str(out), "--frameworks", "empirical", *SMALL]
    result = run(*common, "--max-steps", "2")
    assert result.exit_code == 0, result.output
    assert "held-out eval" in result.output and "reward" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["frameworks"] == ["empirical"]
    assert 0 <= summary["eval_reward_before"] <= 1 and 0 <= summary["eval_reward_after"] <= 1
    assert (out / "policy" / "config.json").is_file()

    result = run(*common, "--max-steps", "3", "--resume")
    assert result.exit_code == 0, result.output
    assert [r["step"] for r in read_metrics(out)] == [1, 2, 3]
    assert json.loads((out / "summary.json").read_text())["eval_reward_before"] == summary["eval_reward_before"]

    report = CliRunner().invoke(report_command, [str(out)])
    assert report.exit_code == 0, report.output
    written = {p.split("/")[-1] for p in report.output.split()}
    assert {"reward.png", "signal.png", "policy.png", "speed.png", "completions.png"} <= written
    assert (out / "report" / "reward.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(("args", "message"), [
    (["--set", "group_sise=4"], "train.group_sise: Extra inputs are not permitted"),
    (["--set", "loss_type=ppo"], "train.loss_type"),
    (["--set", "distributed=zero"], "train.distributed: Input should be 'ddp' or 'fsdp'"),
    (["--set", "group_size=1"], "group_size"),
    (["--data", "{data}"], "model: required when data is given"),
    (["--data", "{data}", "--model", "{tmp}/missing"], "model: cannot load"),
    (["--data", "{data}", "--model", "{tmp}/missing", "--frameworks", "nosuch"], "unknown framework 'nosuch'"),
    (["--eval-data", "{data}"], "eval_data: set data too"),
    (["--set", "preset=verl"], "train.preset"),
    (["--preset", "trl", "--set", "sync_ref_model=true"], "sync_ref_model: needs beta > 0"),
    (["--preset", "trl", "--set", "top_entropy_quantile=2"], "train.top_entropy_quantile"),
])
def test_bad_settings_fail_before_training_with_the_field_named(tmp_path, arithmetic_jsonl, config_file, args, message):
    args = [a.replace("{data}", str(arithmetic_jsonl)).replace("{tmp}", str(tmp_path)) for a in args]
    result = CliRunner().invoke(train_command, ["--config", str(config_file), "--output-dir", str(tmp_path / "r"), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "r" / "warm_start").exists()  # failed before any work


def test_report_of_a_directory_without_metrics(tmp_path):
    result = CliRunner().invoke(report_command, [str(tmp_path)])
    assert result.exit_code == 2 and "no metrics.jsonl" in result.output
