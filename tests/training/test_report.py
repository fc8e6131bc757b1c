"""``chil report``'s panels: y labels, a moving average over the raw curve, no flat or duplicated panel,
and the held-out result before and after training."""

from __future__ import annotations

import json

import pytest

from chil_core.training.metrics import METRICS_FILE
from chil_core.training.report import FIGURES, panels, smooth, write_report, ylabel


def _rows(n: int) -> list[dict[str, float]]:
    return [{"step": s, "reward/mean": 0.2 + 0.01 * s, "reward/std": 0.1 + 0.001 * (s % 3), "lr": 1e-3,
             "frac/not_scored": 0.1 * (s % 2), "frac/masked": 0.1 * (s % 2), "loss": 1.0 / s} for s in range(1, n + 1)]


def test_constant_and_duplicated_metrics_get_a_footer_note_not_a_panel() -> None:
    chosen, notes = panels(_rows(20), ["reward/", "lr", "frac/not_scored", "frac/masked", "loss"])
    assert chosen == ["frac/masked", "loss", "reward/mean", "reward/std"]
    assert "lr = 0.001 throughout" in notes and "frac/not_scored = frac/masked" in notes


def test_moving_average_and_labels() -> None:
    assert smooth([0, 3, 6, 9], window=3) == [0.0, 1.5, 3.0, 6.0]
    assert smooth([5.0] * 40) == [5.0] * 40
    keys = {"reward/mean", "frac/masked", "time/step_s", "speed/tokens_per_s", "completion/length_mean", "entropy",
            "kl", "lr", "clip/fraction", "ratio/mean", "grad_norm"}
    labels = {k: ylabel(k) for k in keys}
    assert all(labels[k] != k for k in keys), labels  # a unit or what it counts, not the key again
    assert labels["time/step_s"] == "seconds" and labels["speed/tokens_per_s"] == "tokens / s"


def test_report_writes_a_figure_per_theme_and_the_held_out_before_after(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    (tmp_path / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in _rows(30)), encoding="utf-8")
    (tmp_path / "summary.json").write_text(json.dumps({"steps": 30, "eval_before": {"reward": 0.3, "empirical/answer_correct": 0.2},
                                                       "eval_after": {"reward": 0.5, "empirical/answer_correct": 0.4}}))
    written = {p.name for p in write_report(tmp_path)}
    assert {"reward.png", "signal.png", "optimizer.png", "eval.png"} <= written
    assert "policy.png" not in written  # no metric of that theme was logged: no empty figure
    assert all((tmp_path / "report" / name).read_bytes()[:4] == b"\x89PNG" for name in written if name.endswith(".png"))
    assert set(FIGURES) >= {"reward", "signal", "optimizer"}
