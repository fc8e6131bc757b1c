"""TOML config → validated, resolved settings.

```toml
[frameworks.empirical]
weight = 1.0
tools = { fact_store = "duckdb", smt = "z3" }
[frameworks.empirical.options]   # validated by the framework's Options model
...
[tools.duckdb]                   # validated by the backend's Options model
database = "facts.duckdb"
[scheduler]                      # defaults for every backend
max_batch = 256
max_wait_ms = 2
timeout_s = 10
[scheduler.backends.prolog]      # per-backend overrides (isolation, workers, timeout_s...)
isolation = "process"
[cache]
path = ".chil/cache.lmdb"
[rewards]
on_missing = "mask"
```

No ``[frameworks.*]`` table means every installed framework on its defaults.  Environment variables
``CHIL__SECTION__KEY=value`` override any key (the value is read as a TOML value, else as a string),
e.g. ``CHIL__SCHEDULER__MAX_BATCH=64`` or ``CHIL__FRAMEWORKS__EMPIRICAL__WEIGHT=2``.

A wrong name or option fails here, at load, with the field path and the installed choices.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from chil_core.components import Isolation
from chil_core.config_file import ConfigError, find_config, read_toml  # (also importable from here)
from chil_core.model_route import ModelRoute
from chil_core.monitors import MonitorSettings
from chil_core.plugins import Registry, get_registry
from chil_core.training.config import TrainConfig  # pydantic only: no torch

ENV_PREFIX = "CHIL__"
MissingPolicy = Literal["mask", "neutral", "penalty"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendRunSettings(_Strict):
    """How the scheduler runs one backend.  Unset fields fall back to ``[scheduler]``."""

    isolation: Isolation | Literal["ray"] | None = None
    max_batch: int | None = Field(default=None, ge=1)
    max_wait_ms: float | None = Field(default=None, ge=0)
    timeout_s: float | None = Field(default=None, gt=0)
    concurrency: int | None = Field(default=None, ge=1)
    workers: int | None = Field(default=None, ge=1)
    spare_workers: int | None = Field(default=None, ge=0)
    stall_s: float | None = Field(default=None, gt=0)
    worker_max_calls: int | None = Field(default=None, ge=0)
    memory_mb: int | None = Field(default=None, ge=64)
    cache: bool | None = None
    replicas: int | None = Field(default=None, ge=1)
    cpus: float | None = Field(default=None, gt=0)
    ray_address: str | None = None


class SchedulerSettings(_Strict):
    max_batch: int = Field(default=256, ge=1, description="Largest batch handed to a backend.")
    max_wait_ms: float = Field(default=2.0, ge=0, description="How long a partial batch waits for more calls.")
    timeout_s: float = Field(default=10.0, gt=0, description="Timeout of one backend call (one batch).")
    record_timeout_s: float = Field(default=60.0, gt=0, description="Timeout of one framework on one record.")
    concurrency: int = Field(default=2, ge=1, description="Batches in flight per backend.")
    workers: int = Field(default=1, ge=1, description="Worker processes per process-isolated backend (unset: 1, or the backend's own default: z3 and clingo 2).")
    spare_workers: int = Field(default=2, ge=0, description="Extra workers started while others are stalled on a slow call.")
    stall_s: float = Field(default=0.25, gt=0, description="A worker busy this long on one call is stalled: its queued neighbours move on.")
    worker_max_calls: int = Field(default=0, ge=0, description="Replace a worker after this many calls (0 = never).")
    memory_mb: int | None = Field(default=None, ge=64, description="Address-space bound of each worker process (None = the backend's own).")
    max_records_in_flight: int = Field(default=4096, ge=1, description="Records scored concurrently.")
    framework_workers: int | Literal["auto"] = Field(
        default="auto", description="Worker processes that score a framework's records beside the event loop "
        "(frameworks whose result is a function of the record: cache_results, worker_safe, not sequential; a "
        "sequential one sends only the records it keys, those outside an episode, and only to workers that copy "
        "its tools); a worker calls its own copy of a replicable backend (an in-memory or read-only SQLite fact "
        "store; clingo and SWI-Prolog, each on a budget of its own), and a record that asks for another tool, or "
        "past a copy's budget, is scored in the main process. 'auto': the CPUs divided among "
        "the scoring processes sharing them (chil serve --workers, torchrun ranks), at most 4, none below 2; 0: off.")
    framework_workers_min_records: int = Field(default=64, ge=1, description="Records a batch must have left to score "
                                               "(after the record cache) to go to the framework workers.")
    framework_workers_start_after: int = Field(
        default=2048, ge=0, description="Records of a framework scored in the main process, in batches of at least "
        "framework_workers_min_records whose records mostly never waited on a tool (any such batch when its "
        "workers copy one of its backends), before its workers start "
        "(their start-up, about half a second of CPU each, pays only over a longer run).")
    ray_address: str | None = Field(default=None, description="Ray cluster ('auto', 'ray://host:10001', 'local'): "
                                    "thread and process backends run as Ray actors (chil-core[ray]).")
    replicas: int = Field(default=1, ge=1, description="Ray actors per backend run on Ray.")
    cpus: float = Field(default=1.0, gt=0, description="CPUs per Ray actor (a Ray resource request).")
    backends: dict[str, BackendRunSettings] = Field(default_factory=dict)

    def for_tool(self, cls: Any, name: str) -> BackendRunSettings:
        """:meth:`for_backend` for backend ``name`` of tool class ``cls``, whose own isolation, largest
        batch and worker count are the defaults."""
        return self.for_backend(name, cls.isolation, cls.max_batch, cls.workers)

    def for_backend(self, name: str, default_isolation: Isolation, default_max_batch: int,
                    default_workers: int | None = None) -> BackendRunSettings:
        """Effective settings of backend ``name`` (its own section over these defaults).  ``default_workers``
        (the backend's own, :attr:`Tool.workers`) counts when neither section sets ``workers``."""
        own = self.backends.get(name, BackendRunSettings())
        ray_address = own.ray_address or self.ray_address
        isolation = own.isolation or ("ray" if ray_address and default_isolation != "inline" else default_isolation)
        replicas = own.replicas or self.replicas
        return BackendRunSettings(
            isolation=isolation,
            max_batch=own.max_batch or min(self.max_batch, default_max_batch),
            max_wait_ms=self.max_wait_ms if own.max_wait_ms is None else own.max_wait_ms,
            timeout_s=own.timeout_s or self.timeout_s,
            # on Ray, enough batches in flight to keep every actor busy
            concurrency=own.concurrency or (max(self.concurrency, replicas) if isolation == "ray" else self.concurrency),
            workers=own.workers or (self.workers if default_workers is None or "workers" in self.model_fields_set else default_workers),
            spare_workers=self.spare_workers if own.spare_workers is None else own.spare_workers,
            stall_s=own.stall_s or self.stall_s,
            worker_max_calls=self.worker_max_calls if own.worker_max_calls is None else own.worker_max_calls,
            memory_mb=own.memory_mb or self.memory_mb,
            cache=True if own.cache is None else own.cache,
            replicas=replicas,
            cpus=own.cpus or self.cpus,
            ray_address=ray_address,
        )


class CacheSettings(_Strict):
    enabled: bool = True
    path: str | None = Field(default=".chil/cache.lmdb", description="LMDB directory; empty = memory only.")
    max_size_mb: int = Field(default=1024, ge=1, description="Bound on the LMDB store.")
    memory_items: int = Field(default=100_000, ge=0, description="Entries in the in-memory LRU.")
    records: bool = Field(default=True, description="Also cache each framework's result per record content "
                          "(and score equal records of a batch once); false: tool calls only.")

    @field_validator("path")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v or None


class RewardSettings(_Strict):
    on_missing: MissingPolicy = Field(default="mask", description="Policy for non-scored framework results.")
    on_status: dict[Literal["abstained", "timeout", "error"], MissingPolicy] = Field(
        default_factory=dict, description="Per-status override of on_missing."
    )
    on_completion_failure: MissingPolicy = Field(
        default="penalty", description="Policy for failures the completion caused (over-size, solver limit on its claims).")
    neutral_value: float = Field(default=0.5, allow_inf_nan=False)
    penalty_value: float = Field(default=0.0, allow_inf_nan=False)
    aggregate: Literal["mean", "sum"] = Field(default="mean", description="Weighted mean or weighted sum.")


DEFAULT_MAX_COMPLETION_CHARS = 100_000


class FrameworkSettings(_Strict):
    enabled: bool = True
    weight: float | None = Field(default=None, allow_inf_nan=False, description="Defaults to the framework's default_weight.")
    max_completion_chars: int | None = Field(
        default=None, ge=1, description="Longer completions get the verdict 'oversize' (score 0) unread; "
        f"default: the framework's own bound, else {DEFAULT_MAX_COMPLETION_CHARS:,}.")
    tools: dict[str, str] = Field(default_factory=dict, description="capability -> backend name.")
    options: dict[str, Any] = Field(default_factory=dict)
    model: ModelRoute | None = Field(default=None, description="A model beside the tools (chil_core.model_route).")


class Settings(_Strict):
    """The whole config, validated and (after :func:`resolve`) with every default filled in."""

    frameworks: dict[str, FrameworkSettings] = Field(default_factory=dict)
    tools: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Backend options by backend name.")
    scheduler: SchedulerSettings = Field(default_factory=SchedulerSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    rewards: RewardSettings = Field(default_factory=RewardSettings)
    train: dict[str, Any] = Field(default_factory=dict, description="The trainer's [train] table (see chil train).")
    monitors: MonitorSettings = Field(default_factory=MonitorSettings, description="Reward-hacking monitors (chil_core.monitors).")
    source: str | None = Field(default=None, exclude=True)

    def enabled_frameworks(self) -> dict[str, FrameworkSettings]:
        return {name: fs for name, fs in self.frameworks.items() if fs.enabled}


# -- reading -------------------------------------------------------------------------------------
def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _env_overrides(env: Mapping[str, str]) -> list[tuple[list[str], Any, str]]:
    """(key path, value, variable name) of every ``CHIL__...`` variable."""
    out = []
    for key, raw in env.items():
        if key.startswith(ENV_PREFIX) and len(key) > len(ENV_PREFIX):
            path = [p.lower() for p in key[len(ENV_PREFIX):].split("__") if p]
            out.append((path, _parse_env_value(raw), key))
    return sorted(out, key=lambda item: (item[0], item[2]))


def _set_path(data: dict[str, Any], path: list[str], value: Any) -> None:
    node = data
    for part in path[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[path[-1]] = value


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc)


def load_settings(
    config: str | Path | Mapping[str, Any] | Settings | None = None,
    *,
    frameworks: list[str] | None = None,
    env: Mapping[str, str] | None = None,
    registry: Registry | None = None,
    resolve_components: bool = True,
) -> Settings:
    """Read, override, validate and resolve a config.

    ``config`` is a path, a dict (as parsed TOML), a Settings, or None (find ``chil.toml`` / defaults).
    ``frameworks`` restricts the enabled frameworks to these names (CLI ``--frameworks``).
    """
    overridden: dict[str, str] = {}
    if isinstance(config, Settings):
        settings, source = config, config.source
        errors: list[tuple[str, str]] = []
    else:
        source = None
        if isinstance(config, Mapping):
            data = dict(config)
        else:
            path = find_config(config)
            data = read_toml(path) if path else {}
            source = str(path) if path else None
        for path_parts, value, var in _env_overrides(os.environ if env is None else env):
            _set_path(data, path_parts, value)
            overridden[".".join(path_parts)] = var
        settings, errors = _validate(data)
        settings.source = source
    if resolve_components:
        try:
            settings = resolve(settings, registry or get_registry(), only=frameworks)
            check_weights(settings)
        except ConfigError as exc:  # reported together with the validation errors above
            errors.extend(exc.errors)
    if errors:
        raise ConfigError(_name_overrides(errors, overridden), source)
    return settings


def _validate(data: dict[str, Any]) -> tuple[Settings, list[tuple[str, str]]]:
    """Validate ``data``; on errors, the sections at fault fall back to their defaults so that the
    rest is still checked (every problem is reported at once)."""
    try:
        return Settings.model_validate(data), []
    except ValidationError as exc:
        errors = [(_loc(e["loc"]), _with_suggestion(e, Settings)) for e in exc.errors()]
        bad = {e["loc"][0] for e in exc.errors() if e["loc"]}
    rest = {k: v for k, v in data.items() if k not in bad}
    try:
        return Settings.model_validate(rest), errors
    except ValidationError:  # pragma: no cover - cannot happen: every failing section was dropped
        return Settings(), errors


def _name_overrides(errors: list[tuple[str, str]], overridden: Mapping[str, str]) -> list[tuple[str, str]]:
    """Append ``(set by CHIL__X__Y)`` to an error at or under a key an environment variable set."""
    out = []
    for path, msg in errors:
        var = next((v for key, v in overridden.items() if path == key or path.startswith(key + ".")
                    or key.startswith(path + ".")), None)
        out.append((path, f"{msg} (set by the environment variable {var})" if var else msg))
    return out


def _did_you_mean(name: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(name), sorted(str(c) for c in choices), n=1, cutoff=0.6)
    return f"; did you mean `{close[0]}`?" if close else ""


def _fields_at(model: Any, loc: tuple[Any, ...]) -> set[str] | None:
    """The field names of the pydantic model found by walking ``loc`` from ``model`` (None if unknown)."""
    for part in loc:
        if isinstance(part, int):
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return None
        model = _model_of(field.annotation)
        if model is None:
            return None
    return set(getattr(model, "model_fields", {}))


def _model_of(annotation: Any) -> Any:
    """The BaseModel inside an annotation (``X``, ``X | None``, ``dict[str, X]``), if any."""
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_of(arg)
        if found is not None:
            return found
    return None


def _msg(err: Any) -> str:
    """Pydantic's message for a validator's ValueError reads "Value error, <ours>": the user sees ours."""
    return str(err["msg"]).removeprefix("Value error, ")


def _with_suggestion(err: Any, model: Any) -> str:
    """Pydantic's message (without its "Value error, " prefix), plus the nearest valid name for an unknown key."""
    msg = _msg(err)
    if err.get("type") != "extra_forbidden" or not err["loc"]:
        return msg
    loc = tuple(err["loc"])
    parent = loc[:-1]
    # dict[str, Model] sections (frameworks.<name>, scheduler.backends.<name>): skip the key
    fields = _fields_at(model, parent) if parent else set(getattr(model, "model_fields", {}))
    if fields is None and len(parent) >= 1:
        fields = _fields_at(model, parent[:-1])
    return msg + (_did_you_mean(loc[-1], fields) if fields else "")


def check_weights(settings: Settings) -> None:
    """A reward needs some weight: every enabled framework at weight 0 is a config error."""
    enabled = settings.enabled_frameworks()
    if enabled and all(fs.weight is not None and fs.weight == 0 for fs in enabled.values()):
        raise ConfigError([(f"frameworks.{name}.weight", "every enabled framework has weight 0: no reward could be made")
                           for name in enabled], settings.source)


# -- resolving against installed plugins -----------------------------------------------------
def _choices(names: list[str]) -> str:
    return ", ".join(names) if names else "(none installed)"


def resolve(settings: Settings, registry: Registry, only: list[str] | None = None) -> Settings:
    """Fill defaults from the installed components and validate names and options against them.

    Every problem is collected and raised at once, each with its field path, the installed choices
    and the nearest valid name."""
    errors: list[tuple[str, str]] = []
    frameworks = _selected_frameworks(settings, registry, only)
    for name, fs in frameworks.items():
        _resolve_framework(name, fs, registry, errors)
    all_backends = {name for caps in registry.tools.values() for name in caps}
    tools = {backend: _resolve_tool_options(backend, dict(table), registry, all_backends, errors)
             for backend, table in settings.tools.items()}
    if settings.train:
        try:
            TrainConfig.model_validate(settings.train)
        except ValidationError as exc:
            errors.extend((f"train.{_loc(e['loc'])}".rstrip("."), _with_suggestion(e, TrainConfig)) for e in exc.errors())
    for backend in settings.scheduler.backends:
        if backend not in all_backends:
            errors.append((f"scheduler.backends.{backend}", f"unknown backend {backend!r}; installed backends: "
                           f"{_choices(sorted(all_backends))}{_did_you_mean(backend, all_backends)}"))
    if errors:
        raise ConfigError(errors, settings.source)
    resolved = settings.model_copy(update={"frameworks": frameworks, "tools": {k: v for k, v in tools.items() if v is not None}})
    resolved.source = settings.source
    return resolved


def _selected_frameworks(settings: Settings, registry: Registry, only: list[str] | None) -> dict[str, FrameworkSettings]:
    """The framework tables (every installed framework when there is none), restricted to ``only``."""
    frameworks = {k: v.model_copy(deep=True) for k, v in settings.frameworks.items()}
    if not frameworks:
        frameworks = {name: FrameworkSettings() for name in sorted(registry.frameworks)}
    if only is not None:
        for name in only:
            if name not in frameworks:
                frameworks[name] = FrameworkSettings()
        for name, fs in frameworks.items():
            fs.enabled = name in only
    return frameworks


def _resolve_framework(name: str, fs: FrameworkSettings, registry: Registry, errors: list[tuple[str, str]]) -> None:
    """Defaults, options and backends of one framework (in place); problems go to ``errors``."""
    path = f"frameworks.{name}"
    cls = registry.frameworks.get(name)
    if cls is None:
        installed = sorted(registry.frameworks)
        errors.append((path, f"unknown framework {name!r}; installed frameworks: {_choices(installed)}{_did_you_mean(name, installed)}"
                               + registry.explain_missing()))
        return
    if fs.weight is None:
        fs.weight = cls.default_weight
    if fs.max_completion_chars is None:
        fs.max_completion_chars = int(getattr(cls, "max_completion_chars", DEFAULT_MAX_COMPLETION_CHARS))
    try:
        fs.options = cls.Options.model_validate(fs.options).model_dump(mode="json")
    except ValidationError as exc:
        errors.extend((f"{path}.options.{_loc(e['loc'])}".rstrip("."), _with_suggestion(e, cls.Options)) for e in exc.errors())
    for capability in fs.tools:
        if capability not in cls.capabilities:
            errors.append((f"{path}.tools.{capability}",
                           f"framework {name!r} uses no capability {capability!r}; it uses: "
                           f"{_choices(sorted(cls.capabilities))}{_did_you_mean(capability, cls.capabilities)}"))
    if fs.enabled and fs.model is not None:
        from chil_core.model_route import resolve_route

        resolve_route(name, fs.model, registry, errors)
    if fs.enabled:
        for capability, required in cls.capabilities.items():
            backend = _pick_backend(name, cls, capability, required, fs.tools.get(capability), registry, errors)
            if backend is not None:
                fs.tools[capability] = backend


def _pick_backend(name: str, cls: Any, capability: str, required: bool, backend: str | None, registry: Registry,
                  errors: list[tuple[str, str]]) -> str | None:
    """The configured backend for ``capability`` checked, or the default one; None when there is none."""
    cpath = f"frameworks.{name}.tools.{capability}"
    choices = registry.backends(capability)
    if backend is None:
        preferred = cls.default_tools.get(capability)
        if preferred in registry.tools.get(capability, {}) and registry.unavailable_reason(
                registry.tool(capability, preferred)) is None:
            return preferred
        backend = registry.default_backend(capability)
        if backend is None and required:
            errors.append((cpath, f"framework {name!r} needs a {capability!r} backend; installed: {_choices(choices)}"
                                   + registry.explain_missing()))
        return backend
    if backend not in registry.tools.get(capability, {}):
        errors.append((cpath, f"unknown {capability} backend {backend!r}; installed {capability} backends: "
                       f"{_choices(choices)}{_did_you_mean(backend, choices)}" + registry.explain_missing()))
        return None
    reason = registry.unavailable_reason(registry.tool(capability, backend))
    if reason:
        errors.append((cpath, f"{capability} backend {backend!r} is installed but unavailable: {reason}"))
        return None
    return backend


def _resolve_tool_options(backend: str, table: dict[str, Any], registry: Registry, all_backends: set[str],
                          errors: list[tuple[str, str]]) -> dict[str, Any] | None:
    """``[tools.<backend>]`` validated against every backend class of that name, defaults filled in."""
    classes = [caps[backend] for caps in registry.tools.values() if backend in caps]
    if not classes:
        errors.append((f"tools.{backend}", f"unknown backend {backend!r}; installed backends: "
                       f"{_choices(sorted(all_backends))}{_did_you_mean(backend, all_backends)}"))
        return None
    known = set().union(*(_option_keys(cls) for cls in classes))
    for key in table:
        if key not in known:
            errors.append((f"tools.{backend}.{key}",
                           f"not an option of backend {backend!r}; options: {_choices(sorted(known))}{_did_you_mean(key, known)}"))
    merged: dict[str, Any] = {}
    for cls in classes:
        try:
            merged.update(backend_options(cls, table))
        except ValidationError as exc:
            errors.extend((f"tools.{backend}.{_loc(e['loc'])}", _msg(e)) for e in exc.errors())
    return merged


def _option_keys(cls: type) -> set[str]:
    fields = cls.Options.model_fields  # type: ignore[attr-defined]
    return set(fields) | {f.alias for f in fields.values() if f.alias}


def backend_options(cls: type, table: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[tools.<name>]`` keys that backend class ``cls`` knows, validated and with defaults.

    Backends of several capabilities may share a name (``sqlite`` is a fact store and a text
    index); each reads its own options from the shared table.  Unknown keys are caught by
    :func:`resolve`."""
    own = {k: v for k, v in table.items() if k in _option_keys(cls)}
    return cls.Options.model_validate(own).model_dump(mode="json")  # type: ignore[attr-defined]


def dump_toml(settings: Settings) -> str:
    """Render settings as TOML (for ``chil config show``)."""
    data = settings.model_dump(mode="json", exclude_none=True)
    lines: list[str] = []

    def value(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, int | float):
            return repr(v)
        if isinstance(v, str):
            import json

            return json.dumps(v, ensure_ascii=False)
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{_key(k)} = {value(x)}" for k, x in v.items()) + " }"
        raise TypeError(type(v))

    def table(prefix: str, d: dict[str, Any]) -> None:
        scalars = {k: v for k, v in d.items() if not isinstance(v, dict) or not v or k in ("tools",)}
        subtables = {k: v for k, v in d.items() if k not in scalars}
        if prefix and (scalars or not subtables):
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{_key(k)} = {value(v)}")
        for k, v in subtables.items():
            table(f"{prefix}.{_key(k)}" if prefix else _key(k), v)

    table("", data)
    return "\n".join(lines).lstrip("\n") + "\n"


def _key(k: str) -> str:
    import re

    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else f'"{k}"'
