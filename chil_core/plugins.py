"""Entry-point discovery (group ``chil``) and the component registry.

Each entry point is loaded in isolation: an import error, an error inside a register hook, a duplicate
component name or a plugin built for an incompatible ``chil-core`` is recorded against that plugin and
the host goes on.  ``CHIL_STRICT=1`` (or ``strict=True``) turns those errors into a :class:`PluginError`.

Environment:

- ``CHIL_PLUGINS=a,b``   load only these entry points (``builtins`` is always loaded);
- ``CHIL_DISABLE_PLUGINS=a,b``  skip these;
- ``CHIL_NO_AUTOLOAD=1``  load no entry point but the core's own builtins;
- ``CHIL_STRICT=1``      fail on the first plugin error.

A hook implementation whose name matches no hook spec (a misspelling) is an error of its plugin, not a
silent no-op.  Hooks are called through pluggy, one plugin at a time: an observer hook
(``chil_startup``, ``chil_after_batch``, ``chil_shutdown``) that raises is logged and recorded against its
plugin (:meth:`PluginManager.notify`) and never breaks scoring.
"""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from chil_core import hookspecs
from chil_core.components import Framework, Tool

GROUP = "chil"
CORE_DIST = "chil-core"
log = logging.getLogger("chil.plugins")


class PluginError(RuntimeError):
    """A plugin failed to load (raised only in strict mode)."""


@dataclass
class PluginInfo:
    """What ``chil plugins`` shows for one entry point."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # ok | error | disabled | incompatible
    error: str | None = None
    frameworks: list[str] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)
    #: errors raised by this plugin's observer hooks since loading: "hook: error" (the last 20)
    hook_errors: list[str] = field(default_factory=list)
    #: tool ids of this plugin that are the default backend of their capability (filled by ``chil plugins``)
    defaults: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "module": self.module,
            "distribution": self.distribution,
            "version": self.version,
            "status": self.status,
            "error": self.error,
            "components": {"frameworks": self.frameworks, "tools": self.tools, "models": self.models},
            "unavailable": self.unavailable,
            "defaults": self.defaults,
            "hook_errors": self.hook_errors,
        }


def tool_id(cls: type[Tool]) -> str:
    return f"{cls.capability}:{cls.name}"


@dataclass
class Registry:
    """Every component class the loaded plugins registered, and where it came from."""

    frameworks: dict[str, type[Framework]] = field(default_factory=dict)
    #: capability -> backend name -> class
    tools: dict[str, dict[str, type[Tool]]] = field(default_factory=dict)
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)  # component id -> plugin name
    _unavailable: dict[str, str | None] = field(default_factory=dict)

    def tool(self, capability: str, name: str) -> type[Tool]:
        return self.tools[capability][name]

    def unavailable_reason(self, cls: type[Tool]) -> str | None:
        """Cached ``cls.unavailable_reason()`` (a raising check counts as unavailable)."""
        key = tool_id(cls)
        if key not in self._unavailable:
            try:
                self._unavailable[key] = cls.unavailable_reason()
            except Exception as exc:  # noqa: BLE001 - a broken check must not break the host
                self._unavailable[key] = f"availability check raised {type(exc).__name__}: {exc}"
        return self._unavailable[key]

    def default_backend(self, capability: str) -> str | None:
        """The available backend of ``capability`` with the highest priority (ties: by name)."""
        candidates = [
            cls for cls in self.tools.get(capability, {}).values() if self.unavailable_reason(cls) is None
        ]
        if not candidates:
            return None
        return sorted(candidates, key=lambda c: (-c.priority, c.name))[0].name

    def backends(self, capability: str) -> list[str]:
        return sorted(self.tools.get(capability, {}))

    def defaults(self) -> dict[str, str | None]:
        """capability -> its default backend (None when no backend of it is available here)."""
        return {cap: self.default_backend(cap) for cap in sorted(self.tools)}

    def load_failures(self) -> dict[str, str]:
        """plugin name -> why it did not load (import error, hook error, incompatible core)."""
        return {n: i.error or i.status for n, i in self.plugins.items() if i.status in ("error", "incompatible")}

    def explain_missing(self) -> str:
        """A sentence naming the plugins that failed to load, to append to an 'unknown name' error
        (the component asked for may be in one of them); empty when every plugin loaded."""
        failures = self.load_failures()
        if not failures:
            return ""
        return "; " + "; ".join(f"plugin {n!r} failed to load: {e}" for n, e in sorted(failures.items())) + " (see `chil plugins`)"


def _env_list(name: str) -> set[str] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return {item.strip() for item in raw.split(",") if item.strip()}


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _check_compatible(dist: metadata.Distribution | None) -> str | None:
    """Return an error when ``dist`` requires a chil-core version other than the installed one."""
    if dist is None or dist.metadata["Name"] in (None, CORE_DIST):
        return None
    from packaging.requirements import InvalidRequirement, Requirement

    from chil_core import __version__

    for raw in dist.requires or []:
        try:
            req = Requirement(raw)
        except InvalidRequirement:
            continue
        if req.name.replace("_", "-").lower() != CORE_DIST or (req.marker and not req.marker.evaluate({"extra": ""})):
            continue
        if req.specifier and not req.specifier.contains(__version__, prereleases=True):
            return f"requires {CORE_DIST}{req.specifier}, but {CORE_DIST} {__version__} is installed"
    return None


def _short_error(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" ({frames[-1].filename}:{frames[-1].lineno})" if frames else ""
    return f"{type(exc).__name__}: {exc}{where}"


class PluginManager:
    """Loads entry points into a pluggy manager and collects components into a :class:`Registry`."""

    def __init__(self, *, strict: bool | None = None, autoload: bool | None = None) -> None:
        self.strict = _truthy("CHIL_STRICT") if strict is None else strict
        self.autoload = (not _truthy("CHIL_NO_AUTOLOAD")) if autoload is None else autoload
        self.pm = pluggy.PluginManager("chil")
        self.pm.add_hookspecs(hookspecs)
        self.registry = Registry()

    # -- loading -----------------------------------------------------------------------------
    def _fail(self, info: PluginInfo, status: str, message: str) -> None:
        info.status, info.error = status, message
        if self.strict:
            raise PluginError(f"plugin {info.name!r} ({info.distribution or info.module}): {message}")

    def load_entry_points(self) -> Registry:
        only, disabled = _env_list("CHIL_PLUGINS"), _env_list("CHIL_DISABLE_PLUGINS") or set()
        seen: set[str] = set()
        for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: (e.name != "builtins", e.name)):
            if ep.name in seen:  # the same dist found twice on sys.path
                continue
            seen.add(ep.name)
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                distribution=dist.metadata["Name"] if dist else None,
                version=dist.version if dist else None,
            )
            self.registry.plugins[ep.name] = info
            core = ep.name == "builtins" and info.distribution == CORE_DIST
            if not core and (not self.autoload or ep.name in disabled or (only is not None and ep.name not in only)):
                info.status = "disabled"
                continue
            problem = _check_compatible(dist)
            if problem:
                self._fail(info, "incompatible", problem)
                continue
            try:
                module = ep.load()
            except Exception as exc:  # noqa: BLE001 - any import failure is this plugin's, not ours
                self._fail(info, "error", f"Error importing plugin {ep.name!r}: {_short_error(exc)}")
                continue
            self.add_plugin(module, ep.name, info)
        self.check_pending()
        return self.registry

    def add_plugin(self, module: object, name: str, info: PluginInfo | None = None) -> PluginInfo:
        """Register ``module`` (an object with hookimpls) as plugin ``name`` and collect its components."""
        if info is None:
            info = PluginInfo(name=name, module=getattr(module, "__name__", repr(module)))
            self.registry.plugins[name] = info
        try:
            self.pm.register(module, name=name)
        except Exception as exc:  # noqa: BLE001 - e.g. a hookimpl that matches no spec
            self._fail(info, "error", f"Error registering plugin {name!r}: {_short_error(exc)}")
            return info
        unknown = self._unknown_hooks(module)
        if unknown:
            self.pm.unregister(module, name=name)
            self._fail(info, "error", f"plugin {name!r} implements no known hook: {unknown}")
            return info
        for hook, kind in (
            ("chil_register_frameworks", "framework"),
            ("chil_register_tools", "tool"),
            ("chil_register_models", "model"),
        ):
            if not self._implements(hook, name):
                continue
            try:
                self._one(hook, name)(register=self._registrar(info, kind))
            except Exception as exc:  # noqa: BLE001
                self._fail(info, "error", f"Error in {hook} of plugin {name!r}: {_short_error(exc)}")
        return info

    def _unknown_hooks(self, module: object) -> str:
        """Hook implementations of ``module`` that match no spec, with the spec it probably meant."""
        specs = [n for n in dir(hookspecs) if n.startswith("chil_")]
        out = []
        for caller in self.pm.get_hookcallers(module) or []:
            if not caller.has_spec():
                near = difflib.get_close_matches(caller.name, specs, n=1)
                out.append(f"{caller.name!r}" + (f" (did you mean {near[0]!r}?)" if near else ""))
        return ", ".join(out)

    def check_pending(self) -> None:
        """pluggy's check that every registered hook implementation has a spec (see :meth:`add_plugin`)."""
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            name = self.pm.get_name(exc.plugin) or repr(exc.plugin)
            info = self.registry.plugins.get(name)
            if info is None:
                raise
            self._fail(info, "error", f"plugin {name!r}: {exc}")

    def _implements(self, hook: str, plugin_name: str) -> bool:
        return any(impl.plugin_name == plugin_name for impl in getattr(self.pm.hook, hook).get_hookimpls())

    def _one(self, hook: str, plugin_name: str) -> Callable[..., list[Any]]:
        """``hook`` called through pluggy on one plugin's implementation only (pluggy passes it only the
        arguments it names, so an implementation may take fewer than the spec)."""
        caller = getattr(self.pm.hook, hook)
        impls = [impl for impl in caller.get_hookimpls() if impl.plugin_name == plugin_name]
        # pluggy's subset_hook_caller needs hashable plugin objects; its executor does not
        return lambda **kwargs: caller._hookexec(hook, impls, kwargs, False)

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` plugin by plugin; a plugin whose implementation raises is logged and recorded
        in its :attr:`PluginInfo.hook_errors` (re-raised as :class:`PluginError` in strict mode), and
        the others still run.  Returns ``(plugin, result)`` for each implementation that returned."""
        out: list[tuple[str, Any]] = []
        for impl in reversed(getattr(self.pm.hook, hook).get_hookimpls()):  # registration order
            name = impl.plugin_name
            try:
                out += [(name, r) for r in self._one(hook, name)(**kwargs)]
            except Exception as exc:  # noqa: BLE001 - one plugin's observer must not break scoring
                message = f"{hook}: {_short_error(exc)}"
                log.warning("plugin %r failed in %s", name, message, exc_info=exc)
                info = self.registry.plugins.get(name)
                if info is not None:
                    info.hook_errors = [*info.hook_errors[-19:], message]
                if self.strict:
                    raise PluginError(f"plugin {name!r}: {message}") from exc
        return out

    def notify(self, hook: str, **kwargs: Any) -> None:
        """Call an observer hook (``chil_startup``, ``chil_after_batch``, ``chil_shutdown``) guarded per plugin."""
        self.call_each(hook, **kwargs)

    def _registrar(self, info: PluginInfo, kind: str) -> Callable[[type], None]:
        reg = self.registry

        def register(cls: type) -> None:
            if kind == "framework":
                if not (isinstance(cls, type) and issubclass(cls, Framework)) or not getattr(cls, "name", None):
                    raise TypeError(f"register() expects a Framework subclass with a name, got {cls!r}")
                problem = _reads_problem(cls)
                if problem:
                    self._fail(info, "error", f"framework {cls.name!r}: {problem}")
                    return
                if cls.name in reg.frameworks:
                    other = reg.owner[f"framework:{cls.name}"]
                    self._fail(info, "error", f"duplicate framework {cls.name!r} (already registered by plugin {other!r})")
                    return
                reg.frameworks[cls.name] = cls
                reg.owner[f"framework:{cls.name}"] = info.name
                info.frameworks.append(cls.name)
                return
            if not (isinstance(cls, type) and issubclass(cls, Tool)) or not getattr(cls, "name", None) or not getattr(cls, "capability", None):
                raise TypeError(f"register() expects a Tool subclass with a name and a capability, got {cls!r}")
            by_name = reg.tools.setdefault(cls.capability, {})
            if cls.name in by_name:
                other = reg.owner[f"tool:{tool_id(cls)}"]
                self._fail(info, "error", f"duplicate {cls.capability} backend {cls.name!r} (already registered by plugin {other!r})")
                return
            by_name[cls.name] = cls
            reg.owner[f"tool:{tool_id(cls)}"] = info.name
            (info.models if kind == "model" else info.tools).append(tool_id(cls))
            reason = reg.unavailable_reason(cls)
            if reason:
                info.unavailable[tool_id(cls)] = reason

        return register


def _reads_problem(cls: type[Framework]) -> str | None:
    """What is wrong with a framework's ``reads`` (the record cache's key), or None.  A name that is no
    field of :class:`~chil_core.contracts.Record` is read from the record's extra fields: allowed, but
    logged, as is a ``reads`` without the completion (a typo there makes different completions share
    one cached result)."""
    from chil_core.contracts import Record

    reads = cls.reads
    if reads is None:
        return None
    if not isinstance(reads, tuple | list) or not reads or not all(isinstance(f, str) and f.isidentifier() for f in reads):
        return f"reads must be None or a non-empty tuple of record field names, got {reads!r:.120}"
    unknown = [f for f in reads if f not in Record.model_fields]
    if unknown:
        log.warning("framework %r: reads names %s, not fields of Record (%s): read from the record's extra fields; "
                    "a misspelt field makes records that differ in it share one cached result", cls.name,
                    ", ".join(map(repr, unknown)), ", ".join(Record.model_fields))
    if "completion" not in reads:
        log.warning("framework %r: reads %s has no 'completion': every completion of a prompt gets one cached result",
                    cls.name, tuple(reads))
    return None


_default: PluginManager | None = None


def get_plugin_manager(*, reload: bool = False) -> PluginManager:
    """The process-wide plugin manager, loaded on first use."""
    global _default
    if _default is None or reload:
        pm = PluginManager()
        pm.load_entry_points()
        _default = pm
    return _default


def get_registry(*, reload: bool = False) -> Registry:
    return get_plugin_manager(reload=reload).registry


def load_object(path: str) -> Any:
    """Import ``package.module:attr``."""
    module_name, _, attr = path.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attr.split(".")):
        obj = getattr(obj, part)
    return obj
