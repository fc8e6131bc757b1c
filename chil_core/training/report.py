"""``chil report RUN_DIR``: PNG plots of a run's ``metrics.jsonl`` curves (matplotlib, Agg backend).

One figure per theme.  Each panel has a y label, the raw values faint and a moving average over them
(once there are enough steps to smooth).  A metric that the run did not log is left out; one that never
changes (a constant learning rate) or repeats another panel exactly (``frac/not_scored`` equal to
``frac/masked`` with one framework) gets no panel of its own, its value is named in the figure's footer
instead.  ``eval.png`` shows the held-out result before and after training from ``summary.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from chil_core.training.metrics import read_metrics

FIGURES: dict[str, tuple[str, list[str]]] = {
    "reward": ("Reward (mean, std) overall and per framework", ["reward/"]),
    "signal": ("Learning signal and verdicts", ["frac/zero_spread_groups", "frac/no_signal_completions",
                                                "frac/not_scored", "frac/masked", "failures/"]),
    "policy": ("Policy: entropy, KL, clipping, ratio", ["entropy", "kl", "clip/", "ratio/mean"]),
    "completions": ("Completions", ["completion/"]),
    "optimizer": ("Loss and optimizer", ["loss", "grad_norm", "lr"]),
    "speed": ("Speed: tokens/s and seconds per stage", ["speed/", "time/"]),
    "monitors": ("Reward-hacking monitors (chil_core.monitors)", [
        "monitor/length_reward_corr", "monitor/repetition_rate", "monitor/degenerate_rate", "monitor/label_only_rate",
        "monitor/constant_answer_share", "monitor/group_same_answer_rate", "monitor/heldout_divergence", "monitor/alerts"]),
}

_LABELS = [("monitor/length_reward_corr", "correlation"), ("monitor/heldout_divergence", "reward rise - held-out rise"),
           ("monitor/alerts", "alerts over threshold"), ("monitor/", "fraction of completions"),
           ("frac/", "fraction of completions"), ("failures/", "failed results"), ("reward", "reward"),
           ("time/", "seconds"), ("speed/", "tokens / s"), ("completion/length", "tokens"),
           ("completion/truncated", "fraction truncated"), ("clip/", "fraction clipped"), ("ratio/", "importance ratio"),
           ("entropy", "nats / token"), ("kl", "KL (k3)"), ("grad_norm", "gradient norm"), ("lr", "learning rate"),
           ("loss", "loss")]


def ylabel(key: str) -> str:
    """The y-axis label of a metric (its unit or what it counts)."""
    for prefix, label in _LABELS:
        if key.startswith(prefix):
            return label
    return key.rsplit("/", 1)[-1]


def _series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    steps, values = [], []
    for row in rows:
        v = row.get(key)
        if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
            steps.append(int(row["step"]))
            values.append(float(v))
    return steps, values


def smooth(values: list[float], window: int | None = None) -> list[float]:
    """Trailing moving average (window: a tenth of the run, 3 to 25 steps)."""
    w = window or max(3, min(25, len(values) // 10))
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= w:
            total -= values[i - w]
        out.append(total / min(i + 1, w))
    return out


def _matches(key: str, patterns: list[str]) -> bool:
    return any(key.startswith(p) if p.endswith("/") else key == p for p in patterns)


def panels(rows: list[dict[str, Any]], patterns: list[str]) -> tuple[list[str], list[str]]:
    """(the metrics that get a panel, footer notes for the constant and duplicated ones)."""
    keys = sorted({k for row in rows for k in row if k != "step" and _matches(k, patterns)})
    chosen: list[str] = []
    notes: list[str] = []
    seen: dict[tuple[tuple[int, ...], tuple[float, ...]], str] = {}
    for key in keys:
        steps, values = _series(rows, key)
        if not steps:
            continue
        if len(values) > 1 and max(values) == min(values):
            notes.append(f"{key} = {values[0]:.4g} throughout")
            continue
        sig = (tuple(steps), tuple(values))
        if sig in seen:
            notes.append(f"{key} = {seen[sig]}")
            continue
        seen[sig] = key
        chosen.append(key)
    return chosen, notes


def _summary(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _eval_figure(plt: Any, summary: dict[str, Any], path: Path) -> bool:
    """Bars of each held-out metric before and after training; False when the run has no evaluation."""
    before, after = summary.get("eval_before") or {}, summary.get("eval_after") or {}
    keys = [k for k in sorted(before) if k in after and not k.endswith("/std") and isinstance(before[k], int | float)
            and isinstance(after[k], int | float) and (before[k] or after[k])]
    keys = sorted(keys, key=lambda k: (k != "reward", k))
    groups: dict[tuple[float, float], list[str]] = {}  # equal before/after pairs share one pair of bars
    for k in keys:
        groups.setdefault((before[k], after[k]), []).append(k)
    keys = [names[0] for names in groups.values()][:8]
    labels = ["\n= ".join(groups[(before[k], after[k])]) for k in keys]
    if not keys:
        return False
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(keys) + 1.5), 3.4))
    xs = range(len(keys))
    b = ax.bar([x - 0.2 for x in xs], [before[k] for k in keys], 0.4, label="before", color="#9aa5b1")
    a = ax.bar([x + 0.2 for x in xs], [after[k] for k in keys], 0.4, label="after", color="#2b6cb0")
    ax.bar_label(b, fmt="%.3f", fontsize=7)
    ax.bar_label(a, fmt="%.3f", fontsize=7)
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set_ylabel("held-out mean", fontsize=8)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    steps = summary.get("steps")
    fig.suptitle(f"Held-out evaluation before and after {steps} steps" if steps else "Held-out evaluation", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


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
    written = []
    for name, (title, patterns) in FIGURES.items():
        chosen, notes = panels(rows, patterns)
        if not chosen:
            continue
        n = len(chosen)
        cols = min(n, 3)
        nrows = math.ceil(n / cols)
        fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 2.8 * nrows + (0.3 if notes else 0)), squeeze=False)
        for ax, key in zip(axes.flat, chosen, strict=False):
            steps, values = _series(rows, key)
            if len(steps) >= 10:
                ax.plot(steps, values, lw=0.8, color="#2b6cb0", alpha=0.3, label="raw")
                ax.plot(steps, smooth(values), lw=1.6, color="#2b6cb0", label="moving average")
            else:
                ax.plot(steps, values, lw=1.2, marker="o", ms=3, color="#2b6cb0")
            ax.set_title(key, fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.set_ylabel(ylabel(key), fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        if len(_series(rows, chosen[0])[0]) >= 10:
            axes.flat[0].legend(fontsize=7)
        for ax in list(axes.flat)[n:]:
            ax.axis("off")
        fig.suptitle(title, fontsize=11)
        if notes:
            fig.text(0.01, 0.005, "not plotted: " + "; ".join(notes), fontsize=7, ha="left", va="bottom", wrap=True)
        fig.tight_layout(rect=(0, 0.04 if notes else 0, 1, 1))
        path = out / f"{name}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    if _eval_figure(plt, _summary(Path(run_dir)), out / "eval.png"):
        written.append(out / "eval.png")
    written.append(write_monitor_alerts(rows, out / "monitors.txt"))
    return written


def write_monitor_alerts(rows: list[dict[str, Any]], path: Path) -> Path:
    """``monitors.txt``: every reward-hacking alert of the run (first step, steps over its threshold)."""
    from chil_core.monitors import alerts_in_metrics

    alerts = alerts_in_metrics(rows)
    lines = [f"ALERT {name}: first at step {first}, over its threshold at {n} logged step(s)" for name, first, n in alerts]
    path.write_text("\n".join(lines or ["no reward-hacking monitor crossed its threshold"]) + "\n", encoding="utf-8")
    return path
