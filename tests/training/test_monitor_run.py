"""The length monitor in a training run: a deliberately hackable reward (a toy framework that pays a
completion for its length, registered here as a plugin) makes the within-group reward/length
correlation cross its threshold within the first 50 steps; with ``[monitors] action = "stop"`` the
run stops there, says why, and ``chil report`` lists the alert."""

from __future__ import annotations

import types
from pathlib import Path

from chil_core import hookimpl
from chil_core.components import Framework
from chil_core.contracts import FrameworkResult


class Lengthy(Framework):
    """Pays length: the longer the completion, the higher the reward (what a policy must not learn)."""

    name = "lengthy"
    version = "0.0.1"

    def extract(self, record):  # type: ignore[no-untyped-def]
        return []

    def judge(self, record, calls, results):  # type: ignore[no-untyped-def]
        return FrameworkResult.scored(min(len(record.completion) / 24.0, 1.0), verdict="long" if len(record.completion) > 12 else "short")


def test_length_monitor_fires_within_50_steps_and_stops_the_run(tmp_path: Path, tiny_model, tokenizer,
                                                                 arithmetic_jsonl: Path, small_config) -> None:
    """An untrained tiny policy writes completions of every length; the toy reward pays the long ones."""
    from chil_core.plugins import PluginManager
    from chil_core.scoring import Scorer
    from chil_core.training.data import PromptDataset
    from chil_core.training.metrics import read_metrics
    from chil_core.training.report import write_monitor_alerts
    from chil_core.training.trainer import Trainer

    plugin = types.ModuleType("chil_test_lengthy")

    @hookimpl
    def chil_register_frameworks(register):  # type: ignore[no-untyped-def]
        register(Lengthy)

    plugin.chil_register_frameworks = chil_register_frameworks  # type: ignore[attr-defined]
    pm = PluginManager(autoload=False)
    pm.load_entry_points()
    pm.add_plugin(plugin, "lengthy-test")
    cfg = {"frameworks": {"lengthy": {}}, "cache": {"path": ""}, "monitors": {"action": "stop", "min_records": 64}}
    config = small_config(tmp_path, max_steps=50, save_every=25, max_new_tokens=24)
    with Scorer.from_config(cfg, plugin_manager=pm) as scorer:
        trainer = Trainer(config, tiny_model, tokenizer, PromptDataset(arithmetic_jsonl), scorer)
        try:
            trainer.train()
        finally:
            trainer.close()
    run = Path(config.output_dir)
    assert trainer.step < 50, "the monitor should have stopped the run"
    assert trainer.stopped_by and "length_reward_corr" in trainer.stopped_by
    rows = read_metrics(run)
    fired = [r["step"] for r in rows if r.get("monitor/alert/length_reward_corr") == 1.0]
    assert fired and fired[0] <= 50 and fired[-1] == rows[-1]["step"] == trainer.step
    assert all(r["monitor/length_reward_corr"] > 0.5 for r in rows if r["step"] in fired)
    assert all(r["monitor/lengthy/status/scored"] == 1.0 for r in rows)
    text = write_monitor_alerts(rows, tmp_path / "monitors.txt").read_text()
    assert text.startswith(f"ALERT length_reward_corr: first at step {fired[0]}")
    # the run can be inspected and resumed: a checkpoint of the step it stopped at is there
    assert (run / "checkpoints" / f"step-{trainer.step:07d}").is_dir()
