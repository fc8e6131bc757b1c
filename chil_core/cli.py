"""The ``chil`` command line.  Plugins add commands through the ``chil_register_commands`` hook."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import click
import orjson

from chil_core import __version__


def _fail(message: str, code: int = 2) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


LOG_LEVELS = ["critical", "error", "warning", "info", "debug"]


def configure_logging(level: str) -> None:
    """chil's log lines (``LEVEL logger: message``) on stderr from ``level`` up (third-party libraries too)."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    logging.getLogger().setLevel(getattr(logging, level.upper()))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chil")
@click.option("-v", "--verbose", count=True, help="More log output: -v info, -vv debug.")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default=None,
              help="Log level (default: warning; overrides -v).")
def cli(verbose: int, log_level: str | None) -> None:
    """chil: GRPO on rewards checked by real tools."""
    configure_logging(log_level or ("debug" if verbose >= 2 else "info" if verbose else "warning"))


# -- plugins ---------------------------------------------------------------------------------
@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins(as_json: bool) -> None:
    """List installed plugins, their components and their status."""
    from chil_core.plugins import get_registry

    reg = get_registry()
    defaults = reg.defaults()
    for cap, backend in defaults.items():
        if backend is not None:
            reg.plugins[reg.owner[f"tool:{cap}:{backend}"]].defaults.append(f"{cap}:{backend}")
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
        for err in row["hook_errors"]:
            click.echo(f"{'':<14} hook error: {err}")
    click.echo("\ncapabilities (default backend first; a framework's config can pick another):")
    for cap, default in defaults.items():
        others = [b for b in reg.backends(cap) if b != default]
        shown = ([f"{default} (default)"] if default else ["(no backend available)"]) + [
            f"{b} (unavailable)" if reg.unavailable_reason(reg.tool(cap, b)) else b for b in others]
        click.echo(f"  {cap:<16} {', '.join(shown)}")
    kernels = _native_kernels(reg)
    if kernels is not None:
        click.echo("\nnative kernels (chil-native; each has a pure-Python reference):")
        for name, line in kernels.items():
            click.echo(f"  {name:<22} {line}")


def _native_kernels(reg: Any) -> dict[str, str] | None:
    """Which implementation each kernel family uses here: what a framework's ``implementation()`` says
    (``native (...)`` or ``python (why)``), and the status of each chil_native module."""
    out: dict[str, str] = {}
    for name, cls in sorted(reg.frameworks.items()):
        report = getattr(cls, "implementation", None)
        if callable(report):
            try:
                out[name] = str(report())
            except Exception as exc:  # noqa: BLE001 - a broken report is shown, not raised
                out[name] = f"unknown ({exc})"
    try:
        import chil_native

        out.update({f"chil_native.{m}": state for m, state in chil_native.status().items()})
    except ImportError as exc:
        out["chil_native"] = f"not installed ({exc}); the pure-Python references run"
    return out or None


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
#: errno of "the disk refused the write": full, over quota, over a file-size limit, read-only, I/O error
_DISK_ERRNOS = {28, 122, 27, 30, 5}
#: a temporary output of ``chil score`` is ``.chil-score-<pid>-<random>.tmp`` beside the output
_TMP_PREFIX = ".chil-score-"
_TMP_RE = re.compile(r"\.chil-score-(?:(\d+)-)?[^/]*\.tmp\Z")
_STALE_UNKNOWN_S = 3600.0  # a temporary file without a pid (older versions) is stale after an hour


def _read_jsonl(stream: BinaryIO) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, object or None, why it is skipped or None) per non-blank line.

    Lines are read as bytes and parsed by orjson, which rejects invalid UTF-8, lone surrogates
    (``\\ud800``) and nesting deeper than 1,024 levels: each such line is a reason, never an exception."""
    for lineno, line in enumerate(stream, 1):
        if not line.strip():
            continue
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield lineno, None, _json_problem(line, exc)
            continue
        if not isinstance(data, dict):
            yield lineno, None, f"expected a JSON object, got {type(data).__name__}"
            continue
        yield lineno, data, None


def _json_problem(line: bytes, exc: orjson.JSONDecodeError) -> str:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"invalid UTF-8: byte 0x{line[bad.start]:02x} at byte {bad.start + 1}"
    msg = str(exc.msg if hasattr(exc, "msg") else exc)
    if "surrogate" in msg:
        return f"invalid JSON: a lone UTF-16 surrogate escape (such as \\ud800) at column {exc.colno}"
    if "depth" in msg or "recursion" in msg:
        return "invalid JSON: nested deeper than 1,024 levels"
    return f"invalid JSON: {msg} (column {exc.colno})"


def output_row(data: dict[str, Any], reward: Any) -> dict[str, Any]:
    """The input record plus ``reward``, ``masked`` and ``frameworks.{name}``."""
    row = dict(data)
    row["reward"] = reward.reward
    row["masked"] = reward.masked
    row["frameworks"] = {
        name: r.model_dump(mode="json", exclude_none=True, exclude_defaults=False) for name, r in reward.frameworks.items()
    }
    return row


def _clean_stale_tmp(directory: Path) -> None:
    """Remove ``.chil-score-*.tmp`` files left by ``chil score`` runs that were killed: those whose
    process is gone (older unnamed ones once they are an hour old)."""
    try:
        entries = list(directory.iterdir())
    except OSError:
        return
    now = time.time()
    for path in entries:
        m = _TMP_RE.match(path.name)
        if not m or not path.is_file():
            continue
        pid = int(m.group(1)) if m.group(1) else None
        try:
            if pid is not None:
                if pid == os.getpid() or _alive(pid):
                    continue
            elif now - path.stat().st_mtime < _STALE_UNKNOWN_S:
                continue
            path.unlink()
            logging.getLogger(__name__).info("removed %s, left by a chil score that did not finish", path)
        except OSError:
            logging.getLogger(__name__).debug("could not remove %s", path, exc_info=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


class _Output:
    """Where scored rows go: stdout, or a temporary file beside ``path`` renamed over it at the end
    (created with the permissions the umask gives, like any other file)."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.tmp: Any = None
        if path is None:
            self.sink: BinaryIO = sys.stdout.buffer
            return
        out_dir = Path(path).resolve().parent
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            _clean_stale_tmp(out_dir)
            self.tmp = tempfile.NamedTemporaryFile("wb", dir=out_dir, prefix=f"{_TMP_PREFIX}{os.getpid()}-", suffix=".tmp", delete=False)  # noqa: SIM115
        except OSError as exc:
            _fail(f"cannot write the output {path}: {exc.strerror or exc}")
        self.sink = self.tmp

    def write(self, row: dict[str, Any]) -> None:
        self.sink.write(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE | orjson.OPT_SERIALIZE_NUMPY))

    def commit(self) -> None:
        self.sink.flush()
        if self.tmp is None:
            return
        os.fchmod(self.tmp.fileno(), 0o666 & ~_umask())
        os.fsync(self.tmp.fileno())
        self.tmp.close()
        os.replace(self.tmp.name, self.path)  # type: ignore[arg-type]
        self.tmp = None

    def discard(self) -> None:
        if self.tmp is not None:  # interrupted: leave no half-written output behind
            try:
                self.tmp.close()
            except OSError:  # closing flushes the buffer: on a full disk that fails too
                logging.getLogger(__name__).debug("closing the temporary output failed", exc_info=True)
            Path(self.tmp.name).unlink(missing_ok=True)
            self.tmp = None


class _Summary:
    """Counts for the closing summary of ``chil score``."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.done = self.bad = 0
        self.statuses: dict[str, Counter[str]] = {}
        self.rewards: list[float] = []
        self.masked = 0
        self.monitor: Any = None  # a RewardMonitor with --report

    def add(self, reward: Any) -> None:
        self.done += 1
        for name, r in reward.frameworks.items():
            self.statuses.setdefault(name, Counter())[r.status] += 1
        if reward.reward is None:
            self.masked += 1
        else:
            self.rewards.append(float(reward.reward))

    def lines(self, output: str | None) -> list[str]:
        dt = time.perf_counter() - self.t0
        head = f"scored {self.done} records{f', skipped {self.bad} malformed lines' if self.bad else ''}"
        head += f" in {dt:.1f}s ({self.done / dt:,.0f} records/s)" if dt > 0 and self.done else ""
        out = [head + (f" -> {output}" if output else "")]
        for name, counts in sorted(self.statuses.items()):
            out.append(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in counts.most_common()))
        if self.rewards:
            mean = sum(self.rewards) / len(self.rewards)
            out.append(f"  reward: mean {mean:.3f} over {len(self.rewards)} records"
                       + (f"; {self.masked} masked (no reward)" if self.masked else ""))
        elif self.done:
            out.append(f"  reward: none ({self.masked} records masked)")
        return out


def _open_input(input_path: str) -> tuple[BinaryIO, int | None]:
    if input_path == "-":
        return sys.stdin.buffer, None
    try:
        with open(input_path, "rb") as fh:
            total = sum(1 for line in fh if line.strip())
        return open(input_path, "rb"), total  # noqa: SIM115
    except OSError as exc:
        _fail(f"cannot read {input_path}: {exc.strerror or exc}")
        raise


def _parse_lines(input_path: str, stream: BinaryIO, summary: _Summary, warn: Any) -> Iterator[tuple[dict[str, Any], Any]]:
    """(row, Record) per valid line; a bad line is reported as ``file:line: skipped: why``, a repeated
    id as a warning naming both lines."""
    from chil_core.scoring import RecordError, to_record

    first_seen: dict[str, int] = {}
    for lineno, data, error in _read_jsonl(stream):
        if data is not None:
            try:
                record = to_record(data, lineno)
            except RecordError as exc:
                error = f"{exc.field}: {str(exc).split(': ', 2)[-1]}"
            else:
                earlier = first_seen.setdefault(record.id, lineno)
                if earlier != lineno:
                    warn(f"{input_path}:{lineno}: warning: duplicate id {record.id!r} (first on line {earlier})", False)
                yield data, record
                continue
        summary.bad += 1
        warn(f"{input_path}:{lineno}: skipped: {error}", True)


def _score_stream(scorer: Any, rows: Iterator[tuple[dict[str, Any], Any]], batch_size: int, out: _Output,
                  summary: _Summary, progress: Any) -> None:
    """Score in chunks of ``batch_size``; chunk n is written while chunk n+1 is being scored."""
    pending = None

    def flush(p: Any) -> None:
        chunk_rows, fut = p
        results = fut.result()
        for data, reward in zip(chunk_rows, results, strict=True):
            out.write(output_row(data, reward))
            summary.add(reward)
        if summary.monitor is not None:
            summary.monitor.observe(chunk_rows, results)
        progress(len(chunk_rows))

    chunk_rows: list[dict[str, Any]] = []
    chunk_recs: list[Any] = []
    for data, record in rows:
        chunk_rows.append(data)
        chunk_recs.append(record)
        if len(chunk_rows) >= batch_size:
            fut = scorer.submit(chunk_recs)
            if pending is not None:
                flush(pending)
            pending, chunk_rows, chunk_recs = (chunk_rows, fut), [], []
    if chunk_rows:
        fut = scorer.submit(chunk_recs)
        if pending is not None:
            flush(pending)
        pending = (chunk_rows, fut)
    if pending is not None:
        flush(pending)


def _make_scorer(settings: Any) -> Any:
    """The Scorer, or one ``error:`` line for what the user can fix (a cache path, a size)."""
    from chil_core.cache import CacheError
    from chil_core.scoring import Scorer

    try:
        return Scorer.from_config(settings)
    except CacheError as exc:
        _fail(str(exc))


@cli.command()
@click.argument("input_path", metavar="INPUT.jsonl", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True),
              help="Output JSONL (written atomically); default, or '-': stdout.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--frameworks", help="Comma-separated frameworks to enable (default: the config's, else all installed).")
@click.option("--batch-size", default=512, show_default=True, type=click.IntRange(min=1), help="Records handed to the scorer at a time.")
@click.option("--progress/--no-progress", default=None, help="Progress bar on stderr (default: when stderr is a TTY).")
@click.option("--report", "monitor_report", is_flag=True,
              help="Reward-hacking monitors over the file on stderr: statuses and verdicts per framework, reward vs length, repetition, label-only answers, alerts.")
@click.option("--ray", "ray_address", metavar="ADDRESS", help="Run thread/process backends as Ray actors on this cluster ('auto', 'ray://host:10001', 'local').")
def score(input_path: str, output: str | None, config_path: str | None, frameworks: str | None, batch_size: int, progress: bool | None,
          monitor_report: bool = False, ray_address: str | None = None) -> None:
    """Score every record of INPUT.jsonl; malformed lines are reported and skipped.

    Ends with a summary on stderr: records, statuses per framework, mean reward, time."""
    from tqdm import tqdm

    if output == "-":  # the usual spelling of stdout (a file named "-" is ./-)
        output = None
    settings = _settings(config_path, frameworks)
    if ray_address:
        settings.scheduler.ray_address = ray_address
    stream, total = _open_input(input_path)
    if ray_address or settings.scheduler.ray_address or settings.scheduler.backends:
        from chil_core.ray_backend import connect, ray_address_of

        address = ray_address_of(settings.scheduler)
        if address is not None:  # connect here, once: a wrong address is one error line, not N failed records
            try:
                connect(address)
            except RuntimeError as exc:
                _fail(f"{'--ray' if ray_address else 'scheduler.ray_address'}: {exc}")
    summary = _Summary()
    out = _Output(output)
    bar = tqdm(total=total, unit="rec", file=sys.stderr, disable=(not sys.stderr.isatty()) if progress is None else not progress)

    def warn(line: str, skipped: bool) -> None:
        if skipped:
            bar.update(1)
        tqdm.write(line, file=sys.stderr)

    scorer = None
    monitor = None
    if monitor_report:
        from chil_core.monitors import RewardMonitor

        # over the whole file: the window holds every record
        monitor = RewardMonitor(settings.monitors.model_copy(update={"window": 10**9, "enabled": True}))
        summary.monitor = monitor
    write_error = None
    try:
        scorer = _make_scorer(settings)
        _score_stream(scorer, _parse_lines(input_path, stream, summary, warn), batch_size, out, summary, bar.update)
        out.commit()
    except OSError as exc:
        if exc.errno not in _DISK_ERRNOS:
            raise
        # a full disk, a quota, a size limit: one line, and no half-written output left behind
        write_error = f"cannot write the output {output or '(stdout)'}: {exc.strerror or exc}; nothing was written"
    finally:
        bar.close()
        if scorer is not None:
            scorer.close()
        if stream is not sys.stdin.buffer:
            stream.close()
        out.discard()
    if write_error:
        _fail(write_error)
    for line in summary.lines(output):
        click.echo(line, err=True)
    if monitor is not None:
        monitor.metrics()
        click.echo(monitor.table(), err=True)
    if summary.bad:
        sys.exit(1)


# -- serve -----------------------------------------------------------------------------------
@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option("--config", "config_path", type=click.Path(dir_okay=False))
@click.option("--frameworks", help="Comma-separated frameworks to enable (default: the config's, else all installed).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Server processes (each with its own scorer).")
@click.option("--max-concurrency", default=256, show_default=True, type=click.IntRange(min=1), help="Scoring requests in flight; more are answered 503.")
@click.option("--max-records", default=4096, show_default=True, type=click.IntRange(min=1), help="Records per request; more are answered 413.")
@click.option("--max-body-mb", default=16.0, show_default=True, type=click.FloatRange(min=0.001), help="Request body bound; larger is answered 413.")
@click.option("--request-timeout", default=120.0, show_default=True, type=click.FloatRange(min=0.001), help="Seconds; a slower request is answered 504.")
@click.option("--batch-wait-ms", default=2.0, show_default=True, type=click.FloatRange(min=0), help="How long concurrent requests are gathered into one submission.")
@click.option("--masked-value", default=0.0, show_default=True, type=float, help="/get_reward's number for a record no framework scored.")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(LOG_LEVELS))
def serve(host: str, port: int, config_path: str | None, frameworks: str | None, workers: int, max_concurrency: int,
          max_records: int, max_body_mb: float, request_timeout: float, batch_wait_ms: float, masked_value: float,
          log_level: str) -> None:
    """Serve rewards over HTTP: POST /score, POST /get_reward (OpenRLHF), GET /health, GET /metrics."""
    try:
        import prometheus_client  # noqa: F401
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        _fail(f"chil serve needs the serve extra ({exc.name} is missing): pip install 'chil-core[serve]'")
    from chil_core.serve import ServeOptions
    from chil_core.serve import serve as run_server

    _settings(config_path, frameworks)  # a bad config fails here, before the server starts
    opts = ServeOptions(config=config_path, frameworks=_split(frameworks), max_body_bytes=int(max_body_mb * 1024 * 1024),
                        max_records=max_records, max_concurrency=max_concurrency, request_timeout_s=request_timeout,
                        batch_wait_ms=batch_wait_ms, masked_value=masked_value)
    configure_logging(log_level)
    run_server(host, port, opts, workers=workers, log_level=log_level)


# -- doctor ----------------------------------------------------------------------------------
@cli.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML config (default: ./chil.toml or $CHIL_CONFIG).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "all_components", is_flag=True, help="Also every installed framework and available backend the config does not use.")
@click.option("--only", help="Comma-separated frameworks / backends (name or capability:name) to check.")
@click.option("--repeat", default=3, show_default=True, type=click.IntRange(min=1), help="Timed passes per case (determinism, p50/p99).")
def doctor(config_path: str | None, as_json: bool, all_components: bool, only: str | None, repeat: int) -> None:
    """Check every enabled framework and backend on this machine with its plugin's self-tests.

    Gold items must score, mutated negatives must fail, hostile items must come back typed; each
    case twice (same verdict, same cache key); latency p50/p99 and throughput; versions and
    availability.  Exit status 1 when a check fails (one line each), 0 otherwise."""
    from chil_core.selftest import run_doctor

    logging.basicConfig(level=logging.ERROR)
    # native libraries (HiGHS...) print banners on file descriptor 1: send them to stderr while the
    # checks run, so that stdout holds only the report (--json parses)
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        report = run_doctor(config_path, all_components=all_components, repeat=repeat, only=_split(only))
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(f"chil doctor ({report.source or 'installed defaults'}): "
                   f"{sum(c.kind == 'framework' for c in report.components)} frameworks, "
                   f"{sum(c.kind == 'backend' and bool(c.cases or c.failures) for c in report.components)} backends checked")
        if report.components:
            click.echo(report.table())
        for c in report.components:
            for w in c.warnings:
                click.echo(f"warning: {c.kind} {c.name}: {w}")
        for line in report.failure_lines():
            click.echo(f"FAIL {line}")
        click.echo("ok: every check passed" if report.ok else f"{len(report.failure_lines())} check(s) failed")
    if not report.ok:
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
    from chil_core.training.cli import report_command, train_command  # click only; torch loads when they run

    cli.add_command(train_command, "train")
    cli.add_command(report_command, "report")


def _attach_plugin_commands() -> None:
    from chil_core.plugins import get_plugin_manager

    # called plugin by plugin through pluggy: one plugin's broken command does not break the others
    get_plugin_manager().call_each("chil_register_commands", cli=cli)


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
