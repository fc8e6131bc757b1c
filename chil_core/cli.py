"""The ``chil`` command line.  Plugins add commands through the ``chil_register_commands`` hook."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

import click

from chil_core import __version__


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chil")
def cli() -> None:
    """chil: GRPO on rewards checked by real tools."""


# -- plugins ---------------------------------------------------------------------------------
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their components and their status."""
    from chil_core.plugins import get_registry

    reg = get_registry()
    rows = [info.as_dict() for info in reg.plugins.values()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        comps = row["components"]
        parts = [f"frameworks: {', '.join(comps['frameworks'])}" if comps["frameworks"] else "",
                 f"tools: {', '.join(comps['tools'])}" if comps["tools"] else "",
                 f"models: {', '.join(comps['models'])}" if comps["models"] else ""]
        dist = f"{row['distribution']} {row['version']}" if row["distribution"] else row["module"]
        click.echo(f"{row['name']:<14} {row['status']:<12} {dist}")
        detail = "; ".join(p for p in parts if p)
        if detail:
            click.echo(f"{'':<14} {detail}")
        for comp, reason in row["unavailable"].items():
            click.echo(f"{'':<14} unavailable {comp}: {reason}")
        if row["error"]:
            click.echo(f"{'':<14} error: {row['error']}")


# -- config ----------------------------------------------------------------------------------
@cli.group()
def config() -> None:
    """Validate or show the effective config."""


def _settings(path: str | None, frameworks: str | None = None) -> Any:
    from chil_core.config import ConfigError, load_settings

    try:
        return load_settings(path, frameworks=_split(frameworks))
    except ConfigError as exc:
        _fail(str(exc))


def _split(value: str | None) -> list[str] | None:
    return [v.strip() for v in value.split(",") if v.strip()] if value else None


@config.command("validate")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML config (default: ./chil.toml or $CHIL_CONFIG).")
def config_validate(config_path: str | None) -> None:
    """Exit 0 when the config is valid; print every problem with its field path otherwise."""
    settings = _settings(config_path)
    enabled = ", ".join(f"{n} (w={fs.weight:g}, tools: {fs.tools or '-'})" for n, fs in settings.enabled_frameworks().items())
    click.echo(f"config ok{' (' + settings.source + ')' if settings.source else ' (installed defaults)'}: {enabled or 'no frameworks'}")


@config.command("show")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True)
def config_show(config_path: str | None, as_json: bool) -> None:
    """Print the effective config with every default filled in."""
    from chil_core.config import dump_toml

    settings = _settings(config_path)
    click.echo(settings.model_dump_json(indent=2) if as_json else dump_toml(settings))


# -- score -----------------------------------------------------------------------------------
def _read_jsonl(stream: TextIO) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    for lineno, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            yield lineno, None, f"invalid JSON: {exc.msg} (column {exc.colno})"
            continue
        if not isinstance(data, dict):
            yield lineno, None, f"expected a JSON object, got {type(data).__name__}"
            continue
        yield lineno, data, None


def output_row(data: dict[str, Any], reward: Any) -> dict[str, Any]:
    """The input record plus ``reward``, ``masked`` and ``frameworks.{name}``."""
    row = dict(data)
    row["reward"] = reward.reward
    row["masked"] = reward.masked
    row["frameworks"] = {
        name: r.model_dump(mode="json", exclude_none=True, exclude_defaults=False) for name, r in reward.frameworks.items()
    }
    return row


@cli.command()
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Output JSONL (written atomically); default stdout.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--frameworks", help="Comma-separated frameworks to enable (default: the config's, else all installed).")
@click.option("--batch-size", default=512, show_default=True, help="Records handed to the scorer at a time.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a TTY).")
def score(input_path: str, output: str | None, config_path: str | None, frameworks: str | None, batch_size: int, progress: bool | None) -> None:
    """Score every record of INPUT.jsonl; malformed lines are reported and skipped."""
    from tqdm import tqdm

    from chil_core.scoring import RecordError, Scorer, to_record

    settings = _settings(config_path, frameworks)
    stream = sys.stdin if input_path == "-" else open(input_path, encoding="utf-8")  # noqa: SIM115
    total = None
    if input_path != "-":
        with open(input_path, "rb") as fh:
            total = sum(1 for line in fh if line.strip())
    out_dir = Path(output).resolve().parent if output else None
    if out_dir:
        out_dir.mkdir(parents=True, exist_ok=True)
    tmp = tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=out_dir, prefix=".chil-score-", suffix=".tmp", delete=False) if output else None
    sink: TextIO = tmp if tmp is not None else sys.stdout  # type: ignore[assignment]
    bad = done = 0
    bar = tqdm(total=total, unit="rec", file=sys.stderr, disable=(not sys.stderr.isatty()) if progress is None else not progress)
    scorer = Scorer.from_config(settings)
    try:
        pending = None  # (rows, future) of the previous chunk, written while the next is scored

        def flush(p: Any) -> None:
            nonlocal done
            rows, fut = p
            for data, reward in zip(rows, fut.result(), strict=True):
                sink.write(json.dumps(output_row(data, reward), ensure_ascii=False) + "\n")
            done += len(rows)
            bar.update(len(rows))

        chunk_rows: list[dict[str, Any]] = []
        chunk_recs: list[Any] = []

        def submit() -> None:
            nonlocal pending, chunk_rows, chunk_recs
            if not chunk_rows:
                return
            fut = scorer.submit(chunk_recs)
            if pending is not None:
                flush(pending)
            pending = (chunk_rows, fut)
            chunk_rows, chunk_recs = [], []

        for lineno, data, error in _read_jsonl(stream):
            if data is not None:
                try:
                    chunk_recs.append(to_record(data, lineno))
                    chunk_rows.append(data)
                except RecordError as exc:
                    error = f"{exc.field}: {str(exc).split(': ', 2)[-1]}"
            if error:
                bad += 1
                bar.update(1)
                tqdm.write(f"{input_path}:{lineno}: skipped: {error}", file=sys.stderr)
            if len(chunk_rows) >= batch_size:
                submit()
        submit()
        if pending is not None:
            flush(pending)
        sink.flush()
        if tmp is not None:
            os.fsync(tmp.fileno())
            tmp.close()
            os.replace(tmp.name, output)  # type: ignore[arg-type]
            tmp = None
    finally:
        bar.close()
        scorer.close()
        if stream is not sys.stdin:
            stream.close()
        if tmp is not None:  # interrupted: leave no half-written output behind
            tmp.close()
            Path(tmp.name).unlink(missing_ok=True)
    click.echo(f"scored {done} records{f', skipped {bad} malformed lines' if bad else ''}" + (f" -> {output}" if output else ""), err=True)
    if bad:
        sys.exit(1)


# -- schema ----------------------------------------------------------------------------------
@cli.command()
@click.option("--check", is_flag=True, help="Exit non-zero when schemas/ differs from the contracts.")
@click.option("--dir", "directory", default="schemas", show_default=True, type=click.Path(file_okay=False))
def schema(check: bool, directory: str) -> None:
    """Write JSON Schemas of the contracts (or check them for drift)."""
    from chil_core import schema as schema_mod

    d = Path(directory)
    if check:
        problems = schema_mod.drift(d)
        for p in problems:
            click.echo(f"schema drift: {d / p}", err=True)
        if problems:
            sys.exit(1)
        click.echo(f"schemas in {d} match the contracts")
        return
    for path in schema_mod.write(d):
        click.echo(f"wrote {path}")


# -- training (lazy: torch is imported only when these run) ------------------------------------
def _attach_training() -> None:
    try:
        from chil_core.training.cli import report_command, train_command
    except ImportError:  # the trainer module itself is missing: nothing to attach
        return
    cli.add_command(train_command, "train")
    cli.add_command(report_command, "report")


def _attach_plugin_commands() -> None:
    from chil_core.plugins import get_plugin_manager

    pm = get_plugin_manager()
    for impl in pm.pm.hook.chil_register_commands.get_hookimpls():
        try:
            impl.function(cli=cli)
        except Exception as exc:  # noqa: BLE001 - a plugin's CLI must not break the host's
            click.echo(f"warning: plugin {impl.plugin_name!r} failed to register commands: {exc}", err=True)


def main(argv: list[str] | None = None) -> None:
    from chil_core.plugins import PluginError

    _attach_training()
    try:
        _attach_plugin_commands()
    except PluginError as exc:  # strict mode
        _fail(str(exc))
    cli.main(args=sys.argv[1:] if argv is None else argv, prog_name="chil")


if __name__ == "__main__":  # pragma: no cover
    main()
