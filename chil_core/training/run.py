"""One training job from a config: the embedded default task, or the user's model and prompts.

``train(config, scorer_config)`` builds the policy, the scorer and the :class:`Trainer`, evaluates the
held-out prompts before and after, prints the table and writes ``RUN_DIR/summary.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chil_core.training.config import TrainConfig, build_train_config
from chil_core.training.data import PromptDataset, PromptRow
from chil_core.training.metrics import jsonable


def resolve_config(values: Mapping[str, Any]) -> tuple[TrainConfig, bool]:
    """(config, is the embedded task): the embedded defaults apply when no ``data`` is given."""
    from chil_core.training import default_task

    embedded = not values.get("data")
    if values.get("eval_data") and embedded:
        raise ValueError("eval_data: set data too (the embedded task brings its own held-out prompts)")
    base = build_train_config(default_task.DEFAULTS) if embedded else None
    return build_train_config(values, base), embedded


def _policy(config: TrainConfig, embedded: bool, run_dir: Path, echo):
    from chil_core.training import default_task
    from chil_core.training.policy import load_policy

    if config.model:
        try:
            return load_policy(config.model)
        except OSError as exc:
            raise ValueError(f"model: cannot load {config.model!r}: {exc}") from None
    if not embedded:
        raise ValueError("model: required when data is given (a Hugging Face causal LM path or id)")
    return default_task.warm_started_policy(run_dir, config.seed, echo)


def eval_table(before: Mapping[str, float], after: Mapping[str, float]) -> str:
    """The before/after table: reward first, then per-framework means and accuracies, then verdict counts."""
    keys = [k for k in before if k in after and not k.endswith("/std") and not k.startswith("frac/not_scored/")]
    keys.sort(key=lambda k: (not k.startswith("reward"), k.startswith("frac/"), k))
    width = max([len(k) for k in keys] + [13])
    lines = [f"{'held-out eval':<{width}}  {'before':>8}  {'after':>8}"]
    lines += [f"{k:<{width}}  {before[k]:>8.3f}  {after[k]:>8.3f}" for k in keys]
    return "\n".join(lines)


def train(values: Mapping[str, Any], scorer_config: Mapping[str, Any] | None = None, *, resume: bool = False,
          echo=print) -> dict[str, Any]:
    """Run a training job; ``values`` are ``[train]`` settings, ``scorer_config`` the rest of the config."""
    from chil_core.scoring import Scorer
    from chil_core.training import default_task
    from chil_core.training.trainer import Trainer

    config, embedded = resolve_config(values)
    run_dir = Path(config.output_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    train_path = default_task.TRAIN_FILE if embedded else Path(config.data or "")
    eval_path = default_task.EVAL_FILE if embedded else (Path(config.eval_data) if config.eval_data else None)
    dataset = PromptDataset(train_path, config.prompt_field)
    eval_rows: list[PromptRow] = []
    if eval_path is not None:
        eval_rows = PromptDataset(eval_path, config.prompt_field).all_rows()[: config.eval_max_prompts]
    before_path = run_dir / "eval_before.json"
    with Scorer.from_config(dict(scorer_config or {}), frameworks=config.frameworks) as scorer:  # config errors first
        model, tokenizer = _policy(config, embedded, run_dir, echo)
        trainer = Trainer(config, model, tokenizer, dataset, scorer, run_dir=run_dir, eval_rows=eval_rows)
        try:
            resumed = resume and trainer.resume()
            if resume and not resumed:
                echo(f"no checkpoint in {run_dir}; starting from step 0")
            before: dict[str, float] = {}
            if eval_rows:
                if resumed and before_path.is_file():
                    before = json.loads(before_path.read_text(encoding="utf-8"))
                else:
                    before = trainer.evaluate(eval_rows)
                    before_path.write_text(json.dumps(jsonable(before), indent=2), encoding="utf-8")
            t0 = time.perf_counter()
            last = trainer.train()
            train_s = time.perf_counter() - t0
            after = trainer.evaluate(eval_rows) if eval_rows else {}
            trainer.save_policy(run_dir / "policy")
        finally:
            trainer.close()
    summary: dict[str, Any] = {
        "run_dir": str(run_dir), "model": config.model or "embedded tiny policy (warm-started)",
        "data": str(train_path), "frameworks": sorted(scorer.frameworks), "steps": trainer.step,
        "train_seconds": round(train_s, 2), "last_step": last,
        "eval_reward_before": before.get("reward"), "eval_reward_after": after.get("reward"),
        "eval_before": before, "eval_after": after,
    }
    (run_dir / "summary.json").write_text(json.dumps(jsonable(summary), indent=2), encoding="utf-8")
    if before and after:
        echo(eval_table(before, after))
    echo(f"summary: {run_dir / 'summary.json'}; trained policy: {run_dir / 'policy'}")
    return summary

