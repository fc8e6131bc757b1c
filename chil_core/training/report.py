"""``chil report RUN_DIR``: PNG plots of a run's ``metrics.jsonl`` curves (matplotlib, Agg backend).

One figure per theme; a metric that the run did not log is left out, a figure with none is skipped.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from chil_core.training.metrics import read_metrics

FIGURES: dict[str, tuple[str, list[str]]] = {
    "reward": ("Reward (mean, std) overall and per framework", ["reward/"]),
    "signal": ("Learning signal and verdicts", ["frac/zero_spread_groups", "frac/no_signal_completions",
                                                "frac/not_scored", "frac/masked"]),
    "policy": ("Policy: entropy, KL, clipping, ratio", ["entropy", "kl", "clip/", "ratio/mean"]),
    "completions": ("Completions", ["completion/"]),
    "optimizer": ("Loss and optimizer", ["loss", "grad_norm", "lr"]),
    "speed": ("Speed: tokens/s and seconds per stage", ["speed/", "time/"]),
    "eval": ("Held-out evaluation", ["eval/"]),
}


def _series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    steps, values = [], []
    for row in rows:
        v = row.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            steps.append(int(row["step"]))
            values.append(float(v))
    return steps, values


def _matches(key: str, patterns: list[str]) -> bool:
    return any(key.startswith(p) if p.endswith("/") else key == p for p in patterns)


def write_report(run_dir: str | Path, out_dir: str | Path | None = None) -> list[Path]:
    """Write ``<name>.png`` for each figure with data; returns the paths written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(run_dir)
    if not rows:
        raise ValueError(f"{run_dir}: metrics.jsonl has no rows yet")
    out = Path(out_dir) if out_dir else Path(run_dir) / "report"
    out.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for row in rows for k in row if k != "step"})
    written = []
    for name, (title, patterns) in FIGURES.items():
        chosen = [k for k in keys if _matches(k, patterns) and _series(rows, k)[0]]
        if not chosen:
            continue
        n = len(chosen)
        cols = min(n, 3)
        fig, axes = plt.subplots(math.ceil(n / cols), cols, figsize=(4.2 * cols, 2.8 * math.ceil(n / cols)),
                                 squeeze=False)
        for ax, key in zip(axes.flat, chosen, strict=False):
            steps, values = _series(rows, key)
            ax.plot(steps, values, lw=1.2, marker="o" if len(steps) < 20 else None, ms=3)
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.suptitle(title, fontsize=11)
        fig.tight_layout()
        path = out / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
