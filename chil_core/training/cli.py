"""``chil train`` and ``chil report`` (click commands; the core attaches them to the ``chil`` group)."""

from __future__ import annotations

import sys
import tomllib
from typing import Any

import click


def _parse_set(items: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; VALUE is read as a TOML value (``4``, ``true``, ``"x"``, ``[1, 2]``), else a string."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        try:
            out[key.strip()] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = raw
    return out


@click.command("train")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True),
              help="TOML config: [train] settings plus the scorer's frameworks/tools (default: ./chil.toml).")
@click.option("--max-steps", type=click.IntRange(min=1), help="GRPO steps.")
@click.option("--output-dir", type=click.Path(file_okay=False), help="Run directory (metrics, checkpoints, policy).")
@click.option("--model", help="Hugging Face causal LM (path or id); default: the embedded tiny policy.")
@click.option("--data", type=click.Path(dir_okay=False, exists=True), help="Prompts, .jsonl or .parquet.")
@click.option("--eval-data", type=click.Path(dir_okay=False, exists=True), help="Held-out prompts.")
@click.option("--task", help="The embedded run's task (no --data): arithmetic (default) or one a plugin adds, "
              "e.g. utility:lotteries; --task help lists them.")
@click.option("--frameworks", help="Comma-separated frameworks that score (default: the config's; embedded task: its own).")
@click.option("--seed", type=int)
@click.option("--preset", type=click.Choice(["chil", "trl"]),
              help="Defaults to start from: chil's, or TRL 1.16's GRPOConfig (explicit settings still win).")
@click.option("--resume", is_flag=True, help="Continue from the run directory's latest checkpoint.")
@click.option("--overwrite", is_flag=True, help="Replace the run in a non-empty output directory (its artefacts are removed).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Any [train] setting, repeatable.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
def train_command(config_path: str | None, max_steps: int | None, output_dir: str | None, model: str | None,
                  data: str | None, eval_data: str | None, task: str | None, frameworks: str | None, seed: int | None,
                  preset: str | None, resume: bool, overwrite: bool, overrides: tuple[str, ...],
                  no_progress: bool) -> None:
    """GRPO on rewards from the enabled chil frameworks.

    With no arguments: the embedded task (arithmetic claims checked by the empirical framework) on a
    tiny local policy, a few minutes on a CPU; prints held-out reward before and after training.
    --task picks another embedded task (utility:lotteries, utility:knapsack, ...; --task help).
    """
    import warnings

    # deprecation notices of the libraries under the trainer (transformers, torch, trl) say nothing a
    # user of `chil train` can act on; chil's own warnings still show
    for category in (FutureWarning, DeprecationWarning):
        warnings.filterwarnings("ignore", category=category, module=r"(transformers|torch|trl|accelerate|tensorboard)(\.|$)")
        warnings.filterwarnings("ignore", category=category, message=r".*(deprecated|will be removed)")
    from chil_core.config import ConfigError
    from chil_core.training.config import TrainConfigError, split_config
    from chil_core.training.run import train

    if task == "help":
        from chil_core.training.tasks import DEFAULT_TASK, plugin_tasks

        click.echo(f"{DEFAULT_TASK:<24} arithmetic claims (47+8=) checked by the empirical framework (default)")
        for name, t in sorted(plugin_tasks().items()):
            click.echo(f"{name:<24} {t.description} ({', '.join(t.frameworks)})")
        return
    try:
        values, scorer_config, _source = split_config(config_path)
        values.update(_parse_set(overrides))
        flags = {"max_steps": max_steps, "output_dir": output_dir, "model": model, "data": data, "task": task,
                 "eval_data": eval_data, "seed": seed, "preset": preset,
                 "frameworks": [f.strip() for f in frameworks.split(",") if f.strip()] if frameworks else None}
        values.update({k: v for k, v in flags.items() if v is not None})
        if no_progress:
            values["progress"] = False
        train(values, scorer_config, resume=resume, overwrite=overwrite, echo=click.echo)
    except (ConfigError, TrainConfigError, ValueError, FileNotFoundError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except (OSError, RuntimeError) as exc:
        # a full disk (or quota, or size limit) while writing the run directory: one line; every artefact
        # is written atomically, so the last complete checkpoint stays loadable (`--resume`)
        why = _disk_full(exc)
        if why is None:
            raise
        click.echo(f"error: the run directory could not be written: {why}; the last complete checkpoint is kept "
                   "(free space, then `chil train --resume`)", err=True)
        sys.exit(2)


def _disk_full(exc: BaseException) -> str | None:
    """Why the disk refused a write, when that is what ``exc`` (or what it wraps: torch reports a failed
    write as a RuntimeError of its own) is about; None otherwise."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 6:
        if isinstance(cur, OSError) and cur.errno in (28, 122, 27, 30, 5):
            return f"{cur.strerror} ({cur.filename or 'the run directory'})"
        text = str(cur)
        for phrase in ("No space left on device", "Disk quota exceeded", "File too large"):
            if phrase in text:
                return phrase
        if "inline_container" in text or "PytorchStreamWriter" in text:  # torch.save's own write error
            return "a checkpoint write failed (No space left on device?): " + text.splitlines()[0][:200]
        cur = cur.__cause__ or cur.__context__
        seen += 1
    return None


@click.command("report")
@click.argument("run_dir", type=click.Path(file_okay=False, exists=True))
@click.option("--output", "out_dir", type=click.Path(file_okay=False), help="Where to write (default: RUN_DIR/report).")
def report_command(run_dir: str, out_dir: str | None) -> None:
    """Write PNG plots of a run's metrics (reward, signal, policy, completions, optimizer, speed)."""
    from chil_core.training.report import write_report

    try:
        paths = write_report(run_dir, out_dir)
    except (FileNotFoundError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    for path in paths:
        click.echo(str(path))
        if path.name == "monitors.txt":
            for line in path.read_text(encoding="utf-8").splitlines():
                click.echo(f"  {line}")
