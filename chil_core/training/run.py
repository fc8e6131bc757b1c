"""One training job from a config: the embedded default task, or the user's model and prompts.

``train(config, scorer_config)`` builds the policy, the scorer and the :class:`Trainer`, evaluates the
held-out prompts before and after, prints the table and writes ``RUN_DIR/summary.json``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from chil_core.training.config import TrainConfig, build_train_config
from chil_core.training.data import PromptDataset, PromptRow
from chil_core.training.metrics import jsonable

log = logging.getLogger(__name__)

#: what a run writes in its directory (``--overwrite`` removes these and nothing else)
RUN_ARTEFACTS = ("metrics.jsonl", "tensorboard", "checkpoints", "warm_start", "eval_before.json", "summary.json",
                 "policy", "report", "task")


def write_json_atomic(path: Path, value: Any) -> None:
    """Write ``value`` as JSON so that a reader (or a kill) sees the old file or the new one, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(jsonable(value), fh, indent=2)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    """The JSON in ``path``, or None when it is missing, empty or truncated (a write that was killed)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def prepare_run_dir(run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to mix two runs in one directory: a non-empty ``run_dir`` needs ``resume`` (continue it)
    or ``overwrite`` (its artefacts are removed first; other files are left alone)."""
    if resume and overwrite:
        raise ValueError("--resume and --overwrite exclude each other")
    present = sorted(p.name for p in run_dir.iterdir()) if run_dir.is_dir() else []
    if present and not resume and not overwrite:
        shown = ", ".join(present[:5]) + (", ..." if len(present) > 5 else "")
        raise ValueError(f"output_dir {str(run_dir)!r} is not empty ({shown}): pass --resume to continue that run, "
                         "--overwrite to replace it, or choose another --output-dir")
    if overwrite:
        for name in RUN_ARTEFACTS:
            target = run_dir / name
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            elif target.exists() or target.is_symlink():
                target.unlink()
        for stale in run_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)


def resolve_config(values: Mapping[str, Any]) -> tuple[TrainConfig, bool]:
    """(config, is the embedded task): the embedded defaults apply when no ``data`` is given, those of
    the embedded task ``task`` names (:mod:`chil_core.training.tasks`) on top."""
    from chil_core.training import default_task
    from chil_core.training.tasks import find_task

    embedded = not values.get("data")
    if values.get("eval_data") and embedded:
        raise ValueError("eval_data: set data too (the embedded task brings its own held-out prompts)")
    if values.get("task") and not embedded:
        raise ValueError("task: picks the embedded run's task; with data given, leave it out")
    base = None
    if embedded:
        task = find_task(str(values.get("task") or "arithmetic"))
        extra = {} if task is None else {**task.train, "frameworks": list(task.frameworks)}
        base = build_train_config({**default_task.DEFAULTS, **extra})
    return build_train_config(values, base), embedded


def embedded_task_files(config: TrainConfig, run_dir: Path) -> tuple[Path, Path, Any]:
    """(training prompts, held-out prompts, the plugin task or None) of the embedded run: the bundled
    arithmetic files, or the plugin task's rows generated (seed :data:`DATA_SEED`) into
    ``run_dir/task/`` (atomically; generated again on resume: the same seed gives the same rows)."""
    from chil_core.training import default_task
    from chil_core.training.tasks import DATA_SEED, find_task

    task = find_task(config.task or "arithmetic")
    if task is None:
        return default_task.TRAIN_FILE, default_task.EVAL_FILE, None
    train_rows, eval_rows = task.make_rows(DATA_SEED)
    if not train_rows or not eval_rows or any("solution" not in r for r in train_rows):
        raise ValueError(f"task: {task.name!r} gave no training or held-out rows, or rows without a solution")
    folder = run_dir / "task"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, rows in (("train.jsonl", train_rows), ("eval.jsonl", eval_rows)):
        path = folder / name
        tmp = path.with_name(f".{name}.{os.getpid()}.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        os.replace(tmp, path)
        paths.append(path)
    return paths[0], paths[1], task


def _policy(config: TrainConfig, embedded: bool, run_dir: Path, echo, train_path: Path | None = None, task: Any = None):
    from chil_core.training import default_task
    from chil_core.training.policy import load_policy

    if config.model:
        try:
            return load_policy(config.model)
        except OSError as exc:
            raise ValueError(f"model: cannot load {config.model!r}: {exc}") from None
    if not embedded:
        raise ValueError("model: required when data is given (a Hugging Face causal LM path or id)")
    if task is None:
        return default_task.warm_started_policy(run_dir, config.seed, echo)
    return default_task.warm_started_policy(run_dir, config.seed, echo, train_file=train_path or default_task.TRAIN_FILE,
                                            task=task.name, warm=dict(task.warm_start), policy=dict(task.policy))


def eval_table(before: Mapping[str, float], after: Mapping[str, float]) -> str:
    """The before/after table: reward first, then per-framework means and accuracies, then verdict counts."""
    keys = [k for k in before if k in after and not k.endswith("/std") and not k.startswith("frac/not_scored/")]
    keys.sort(key=lambda k: (not k.startswith("reward"), k.startswith("frac/"), k))
    width = max([len(k) for k in keys] + [13])
    lines = [f"{'held-out eval':<{width}}  {'before':>8}  {'after':>8}"]
    lines += [f"{k:<{width}}  {before[k]:>8.3f}  {after[k]:>8.3f}" for k in keys]
    return "\n".join(lines)


def train(values: Mapping[str, Any], scorer_config: Mapping[str, Any] | None = None, *, resume: bool = False,
          overwrite: bool = False, echo=print) -> dict[str, Any]:
    """Run a training job; ``values`` are ``[train]`` settings, ``scorer_config`` the rest of the config.

    A non-empty output directory is refused unless ``resume`` (continue it) or ``overwrite``.  Every
    artefact is written atomically; a partial one left by a kill is rebuilt, not trusted."""
    from chil_core.scoring import Scorer
    from chil_core.training.distributed import Dist, DistributedTrainer, check_config
    from chil_core.training.trainer import Trainer

    config, embedded = resolve_config(values)
    run_dir = Path(config.output_dir)
    dist = Dist.from_env()  # under torchrun: one process of a data-parallel job (chil_core.training.distributed)
    if dist.enabled:
        check_config(config, dist.world)
        if not dist.is_main:
            echo = _quiet
    task = None
    if dist.is_main:
        prepare_run_dir(run_dir, resume=resume, overwrite=overwrite)
        if embedded:  # a plugin task's rows are generated into the run directory by rank 0 first
            train_path, eval_path, task = embedded_task_files(config, run_dir)
    dist.barrier()
    if embedded and not dist.is_main:  # (the same seed: the same rows, replaced atomically)
        train_path, eval_path, task = embedded_task_files(config, run_dir)
    if not embedded:
        train_path = Path(config.data or "")
        eval_path = Path(config.eval_data) if config.eval_data else None
    dataset = PromptDataset(train_path, config.prompt_field)
    eval_rows: list[PromptRow] = []
    if eval_path is not None:
        eval_rows = PromptDataset(eval_path, config.prompt_field).all_rows()[: config.eval_max_prompts]
    before_path = run_dir / "eval_before.json"
    with Scorer.from_config(dict(scorer_config or {}), frameworks=config.frameworks) as scorer:  # config errors first
        if dist.is_main:  # (the embedded warm start is built once, by rank 0, and loaded by the others)
            model, tokenizer = _policy(config, embedded, run_dir, echo, train_path, task)
        dist.barrier()
        if not dist.is_main:
            model, tokenizer = _policy(config, embedded, run_dir, echo, train_path, task)
        if dist.enabled:
            if config.distributed == "fsdp":
                from chil_core.training.fsdp import FSDPTrainer as Parallel
            else:
                Parallel = DistributedTrainer
            trainer = Parallel(config, model, tokenizer, dataset, scorer, dist=dist, run_dir=run_dir,
                               eval_rows=eval_rows if dist.is_main else [])
            eval_rows = eval_rows if dist.is_main else []
        else:
            if config.distributed == "fsdp":
                log.info("distributed = fsdp on one process: nothing to shard, a plain run")
            trainer = Trainer(config, model, tokenizer, dataset, scorer, run_dir=run_dir, eval_rows=eval_rows)
        try:
            resumed = resume and trainer.resume()
            if resume and not resumed:
                echo(f"no checkpoint in {run_dir}; starting from step 0")
            before: dict[str, float] = {}
            if eval_rows:
                saved = read_json(before_path) if resumed else None
                if resumed and not isinstance(saved, dict):
                    echo(f"{before_path} is missing or unreadable; evaluating the held-out prompts again")
                if isinstance(saved, dict):
                    before = saved
                else:
                    before = trainer.evaluate(eval_rows)
                    write_json_atomic(before_path, before)
            t0 = time.perf_counter()
            last = trainer.train()
            train_s = time.perf_counter() - t0
            after = trainer.evaluate(eval_rows) if eval_rows else {}
            if dist.is_main:
                save_policy_atomic(trainer, run_dir / "policy")
        finally:
            trainer.close()
            dist.close()
    summary: dict[str, Any] = {
        "run_dir": str(run_dir), "model": config.model or "embedded tiny policy (warm-started)",
        "task": (config.task or "arithmetic") if embedded else None,
        "data": str(train_path), "frameworks": sorted(scorer.frameworks), "steps": trainer.step,
        "train_seconds": round(train_s, 2), "last_step": last,
        "eval_reward_before": before.get("reward"), "eval_reward_after": after.get("reward"),
        "eval_before": before, "eval_after": after,
        "monitors": trainer.monitor.summary(), "stopped_by": trainer.stopped_by,
    }
    if dist.enabled:
        summary["world_size"] = dist.world
        summary["distributed"] = config.distributed
        if not dist.is_main:
            return summary
    write_json_atomic(run_dir / "summary.json", summary)
    if before and after:
        echo(eval_table(before, after))
    for alert, times in sorted(trainer.monitor.fired.items()):
        echo(f"warning: reward-hacking monitor {alert} crossed its threshold ({times}x); see `chil report {run_dir}`")
    if trainer.stopped_by:
        echo(f"stopped early at step {trainer.step}: {trainer.stopped_by}")
    echo(f"summary: {run_dir / 'summary.json'}; trained policy: {run_dir / 'policy'}")
    return summary



def _quiet(*args: Any, **kwargs: Any) -> None:
    """The ``echo`` of processes other than rank 0: their messages go to the debug log only."""
    log.debug(" ".join(str(a) for a in args))


def save_policy_atomic(trainer: Any, path: Path) -> Path:
    """Save the policy into a temporary directory, then swap it in: a kill leaves the old policy or
    the new one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.save_policy(tmp)
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path
