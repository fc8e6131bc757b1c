"""Self-test cases that plugins ship, and the checks ``chil doctor`` runs with them.

A plugin declares its cases in one place, a ``selftest.py`` beside its entry point, through the
``chil_self_tests`` hook (imported into the entry-point module so that pluggy finds it)::

    # chil_plugin_mytool/selftest.py
    from chil_core.hookspecs import hookimpl
    from chil_core.selftest import SelfTest

    @hookimpl
    def chil_self_tests():
        from chil_core.contracts import ToolCall          # heavy imports inside the hook
        call = ToolCall(capability="smt", op="arith", payload={...})
        return [SelfTest.tool("smt:mytool", "solved equation", "gold", call, value=...),
                SelfTest.framework("myfw", "right answer", "gold", {"id": "1", "prompt": ..., "completion": ...},
                                   min_score=1.0)]

    # chil_plugin_mytool/__init__.py
    from .selftest import chil_self_tests  # noqa: F401  (chil doctor's cases)

Three kinds of case:

- ``gold``: a right item that must be judged right (a framework scores it at least ``min_score``; a
  backend answers ``ok`` with the expected value);
- ``negative``: a mutated item that must fail (a framework pays it at most ``max_score``; a backend
  answers the other verdict);
- ``hostile``: an item built to break the verifier (injection, malformed or huge input) that must come
  back typed: a framework result with a status and never paid above ``max_score`` (0 by default), a
  backend result with the given status (``error`` by default), within the timeouts.

:func:`run_doctor` runs every enabled framework's and backend's cases through the real Scorer and
scheduler (the configured backends, in their isolation, cache off), twice, and checks that both
passes agree (same verdicts, same cache keys); it times each case (p50/p99) and the whole set at once
(throughput), and reports versions and availability.
"""

from __future__ import annotations

import asyncio
import logging
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

Kind = Literal["gold", "negative", "hostile"]
KINDS: tuple[str, ...] = ("gold", "negative", "hostile")
_UNSET: Any = object()
FRAMEWORK_STATUSES = ("scored", "abstained", "timeout", "error")


@dataclass
class SelfTest:
    """One self-test case of a framework (``record``) or a backend (``call``); see the module docstring."""

    target: str  #: framework name, or backend id ``capability:name``
    name: str
    kind: Kind
    record: Mapping[str, Any] | None = None
    call: Any = None  #: a ToolCall, or a function returning one (built only when the case runs: fitting a model)
    status: tuple[str, ...] = ()
    min_score: float | None = None
    max_score: float | None = None
    verdict: str | None = None
    value: Any = _UNSET
    #: extra check of the result (a FrameworkResult or a ToolResult): a problem, or None when it holds
    check: Callable[[Any], str | None] | None = None
    #: backend options for this case instead of the configured ones (a fact store's own triples)
    options: Mapping[str, Any] | None = None

    @classmethod
    def framework(cls, framework: str, name: str, kind: Kind, record: Mapping[str, Any], *,
                  status: str | Sequence[str] | None = None, min_score: float | None = None,
                  max_score: float | None = None, verdict: str | None = None,
                  check: Callable[[Any], str | None] | None = None) -> SelfTest:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if status is None:
            status = FRAMEWORK_STATUSES if kind == "hostile" else ("scored",)
        if kind == "hostile" and max_score is None:
            max_score = 0.0
        if kind == "negative" and max_score is None and verdict is None and check is None:
            raise ValueError(f"{framework}: negative case {name!r} needs max_score, verdict or check")
        return cls(framework, name, kind, record=dict(record), status=_tuple(status), min_score=min_score,
                   max_score=max_score, verdict=verdict, check=check)

    @classmethod
    def tool(cls, tool: str, name: str, kind: Kind, call: Any, *, status: str | Sequence[str] | None = None,
             value: Any = _UNSET, check: Callable[[Any], str | None] | None = None,
             options: Mapping[str, Any] | None = None) -> SelfTest:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if ":" not in tool:
            raise ValueError(f"tool must be 'capability:backend', got {tool!r}")
        if status is None:
            status = ("error",) if kind == "hostile" else ("ok",)
        return cls(tool, name, kind, call=call, status=_tuple(status), value=value, check=check,
                   options=dict(options) if options is not None else None)

    @property
    def is_framework(self) -> bool:
        return self.record is not None

    def problem(self, result: Any) -> str | None:
        """Why ``result`` fails this case, or None."""
        if self.status and result.status not in self.status:
            why = getattr(result, "explanation", None) or getattr(result, "error", None)
            return f"status {result.status!r}, expected {' or '.join(self.status)}" + (f" ({_short(why)})" if why else "")
        if self.is_framework:
            score = result.score
            if self.min_score is not None and (score is None or score < self.min_score):
                return f"score {score}, expected >= {self.min_score:g} ({_short(result.explanation)})"
            if self.max_score is not None and score is not None and score > self.max_score:
                return f"paid {score}, expected <= {self.max_score:g} ({_short(result.explanation)})"
            if self.verdict is not None and result.verdict != self.verdict:
                return f"verdict {result.verdict!r}, expected {self.verdict!r} ({_short(result.explanation)})"
        elif self.value is not _UNSET and _plain(result.value) != _plain(self.value):
            return f"value {_short(repr(result.value))}, expected {_short(repr(self.value))}"
        if self.check is not None:
            try:
                return self.check(result)
            except Exception as exc:  # noqa: BLE001 - a broken check is a failed case, with its reason
                return f"check raised {type(exc).__name__}: {exc}"
        return None


def _tuple(v: str | Sequence[str]) -> tuple[str, ...]:
    return (v,) if isinstance(v, str) else tuple(v)


def _short(text: Any, n: int = 200) -> str:
    """``text`` in at most ``n`` characters, cut in the middle: an error's end (what is wrong with the
    path or value it names) matters as much as its start."""
    s = str(text)
    if len(s) <= n:
        return s
    head = (n - 1) // 2
    return s[:head] + "…" + s[len(s) - (n - 1 - head):]


def _plain(v: Any) -> Any:
    """JSON-normal form (tuples as lists) for comparing values."""
    import orjson

    return orjson.loads(orjson.dumps(v, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY))


def collect(plugin_manager: Any) -> tuple[dict[str, list[SelfTest]], list[str]]:
    """Every plugin's cases by target, and the problems met collecting them (a hook that raised, a
    case that is not a :class:`SelfTest`)."""
    cases: dict[str, list[SelfTest]] = {}
    problems: list[str] = []
    before = {n: len(i.hook_errors) for n, i in plugin_manager.registry.plugins.items()}
    for plugin, result in plugin_manager.call_each("chil_self_tests"):
        for case in result or []:
            if not isinstance(case, SelfTest):
                problems.append(f"plugin {plugin!r}: chil_self_tests returned {type(case).__name__}, not SelfTest")
                continue
            cases.setdefault(case.target, []).append(case)
    for name, info in plugin_manager.registry.plugins.items():
        for err in info.hook_errors[before.get(name, 0):]:
            if err.startswith("chil_self_tests"):
                problems.append(f"plugin {name!r}: {err}")
    return cases, problems


# -- the report -------------------------------------------------------------------------------------
@dataclass
class CaseOutcome:
    name: str
    kind: str
    ok: bool
    status: str
    problem: str | None = None
    latency_ms: float = math.nan

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "ok": self.ok, "status": self.status, "problem": self.problem,
                "latency_ms": None if math.isnan(self.latency_ms) else round(self.latency_ms, 3)}


@dataclass
class ComponentReport:
    kind: str  #: framework | backend
    name: str
    plugin: str | None = None
    version: str | None = None
    libraries: dict[str, str] = field(default_factory=dict)  #: installed versions of the distributions it requires
    available: bool = True
    unavailable_reason: str | None = None
    used: bool = True  #: enabled by the config (False: tested because of --all, or listed only)
    cases: list[CaseOutcome] = field(default_factory=list)
    deterministic: bool | None = None
    determinism_problems: list[str] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    throughput: float | None = None  #: cases per second, all at once, cache off
    startup_s: float | None = None  #: the first pass (backend start-up included)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def counts(self) -> dict[str, tuple[int, int]]:
        out = {}
        for kind in KINDS:
            mine = [c for c in self.cases if c.kind == kind]
            out[kind] = (sum(c.ok for c in mine), len(mine))
        return out

    def percentile(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, max(0, math.ceil(q * len(xs)) - 1))]

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "name": self.name, "plugin": self.plugin, "version": self.version, "libraries": self.libraries,
            "available": self.available, "unavailable_reason": self.unavailable_reason, "used": self.used,
            "ok": self.ok, "counts": {k: {"passed": p, "total": t} for k, (p, t) in self.counts().items()},
            "deterministic": self.deterministic, "determinism_problems": self.determinism_problems,
            "latency_ms": {"p50": _r(self.percentile(0.5)), "p99": _r(self.percentile(0.99)), "n": len(self.latencies_ms)},
            "throughput_per_s": _r(self.throughput), "startup_s": _r(self.startup_s),
            "cases": [c.as_dict() for c in self.cases], "failures": self.failures, "warnings": self.warnings,
        }


def _r(v: float | None) -> float | None:
    return None if v is None or not math.isfinite(v) else round(v, 3)


@dataclass
class DoctorReport:
    source: str | None
    components: list[ComponentReport] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)  #: not tied to one component (config, plugin load)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No failure in the config, the plugins, or a component the config uses (``--all`` extras are
        reported, and do not fail the run)."""
        return not self.failures and all(c.ok for c in self.components if c.used)

    def failure_lines(self) -> list[str]:
        out = list(self.failures)
        for c in self.components:
            note = "" if c.used else " (not used by this config)"
            out += [f"{c.kind} {c.name}{note}: {f}" for f in c.failures]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "config": self.source, "failures": self.failure_lines(), "warnings": self.warnings
                + [f"{c.kind} {c.name}: {w}" for c in self.components for w in c.warnings],
                "components": [c.as_dict() for c in self.components]}

    def table(self) -> str:
        head = ("component", "version", "gold", "negative", "hostile", "determ.", "p50 ms", "p99 ms", "per s", "status", "libraries")
        rows = [head]
        for c in self.components:
            counts = c.counts()
            cell = {k: (f"{p}/{t}" if t else "-") for k, (p, t) in counts.items()}
            if not c.available:
                status = "unavailable" + ("" if c.used else " (not used)")
            elif not c.cases and not c.failures and not c.used:
                status = "not used"
            elif not c.cases:
                status = "FAIL" if c.failures else "no cases"
            else:
                status = "ok" if c.ok else "FAIL"
            if c.available and not c.used and c.cases:
                status += " (--all)"
            det = "-" if c.deterministic is None else ("yes" if c.deterministic else "NO")
            rows.append((f"{c.kind[0]}:{c.name}" if c.kind == "framework" else c.name, c.version or "-",
                         cell["gold"], cell["negative"], cell["hostile"], det, _fmt(c.percentile(0.5)),
                         _fmt(c.percentile(0.99)), _fmt(c.throughput, 0), status,
                         ", ".join(f"{d} {v}" for d, v in c.libraries.items()) or "-"))
        widths = [max(len(str(r[i])) for r in rows) for i in range(len(head))]
        lines = ["  ".join(str(v).ljust(w) if i in (0, 1, 9, 10) else str(v).rjust(w) for i, (v, w) in enumerate(zip(r, widths, strict=True)))
                 for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(line.rstrip() for line in lines)


def library_versions(cls: type) -> dict[str, str]:
    """The installed version of each distribution a backend requires (``requires_modules``), or
    "missing"; read from package metadata, nothing imported."""
    from importlib import metadata

    req = getattr(cls, "requires_modules", ()) or ()
    dists = list(req.values()) if isinstance(req, Mapping) else list(req)
    out = {}
    for dist in dists:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "missing"
    return out


def _fmt(v: float | None, digits: int = 1) -> str:
    if v is None or not math.isfinite(v):
        return "-"
    return f"{v:,.{digits}f}"


# -- running ----------------------------------------------------------------------------------------
def _result_sig(result: Any) -> tuple[Any, ...]:
    if hasattr(result, "score") and hasattr(result, "verdict"):  # FrameworkResult
        return (result.status, result.score, result.verdict)
    return (result.status, _plain(result.value) if result.status == "ok" else None)


def _call_with_reordered_payload(call: Any) -> Any:
    """The same call with every dict's keys in reverse order: its cache key must not change."""
    from chil_core.contracts import ToolCall

    def rev(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: rev(v[k]) for k in reversed(list(v))}
        if isinstance(v, list):
            return [rev(x) for x in v]
        return v

    return ToolCall(capability=call.capability, op=call.op, payload=rev(call.payload))


def run_doctor(config: Any = None, *, all_components: bool = False, repeat: int = 3,
               plugin_manager: Any = None, only: Sequence[str] | None = None) -> DoctorReport:
    """Run the self-tests of every enabled framework and backend (``all_components``: every installed
    available one); see the module docstring.  ``repeat``: timed passes per case (p50/p99)."""
    from chil_core.config import ConfigError, load_settings
    from chil_core.plugins import get_plugin_manager, tool_id

    pm = plugin_manager or get_plugin_manager()
    reg = pm.registry
    report = DoctorReport(source=str(config) if isinstance(config, str) else None)
    for name, why in sorted(reg.load_failures().items()):
        report.failures.append(f"plugin {name}: failed to load: {why}")
    try:
        settings = load_settings(config, registry=reg)
    except ConfigError as exc:
        report.failures += [f"config: {path or '<root>'}: {msg}" for path, msg in exc.errors]
        return report
    report.source = settings.source
    cases, problems = collect(pm)
    report.failures += problems
    settings = settings.model_copy(update={"cache": settings.cache.model_copy(update={"enabled": False})})
    enabled = settings.enabled_frameworks()
    used_tools: dict[str, tuple[type, str]] = {}  # tool id -> (class, backend name)
    for fs in enabled.values():
        for capability, backend in fs.tools.items():
            cls = reg.tool(capability, backend)
            used_tools[tool_id(cls)] = (cls, backend)
    frameworks = list(enabled)
    if all_components:
        frameworks += [n for n in sorted(reg.frameworks) if n not in enabled]
    tools: dict[str, type] = {tid: cls for tid, (cls, _) in used_tools.items()}
    for capability, by_name in sorted(reg.tools.items()):
        for name, cls in sorted(by_name.items()):
            tools.setdefault(f"{capability}:{name}", cls)
    if only:
        frameworks = [f for f in frameworks if f in only]
        tools = {t: c for t, c in tools.items() if t in only or t.split(":", 1)[1] in only}

    def plugin_of(component_id: str) -> tuple[str | None, str | None]:
        owner = reg.owner.get(component_id)
        info = reg.plugins.get(owner) if owner else None
        return (f"{info.distribution or info.name} {info.version or ''}".strip() if info else None), owner

    # frameworks: through the real Scorer (configured backends, cache off)
    extra = [f for f in frameworks if f not in enabled]
    fw_settings = settings
    if extra:  # --all: frameworks not in the config run on their defaults
        data = settings.model_dump(mode="json")
        for f in extra:
            data["frameworks"][f] = {}
        fw_settings = load_settings(data, registry=reg)
    for name in frameworks:
        cls = reg.frameworks[name]
        comp = ComponentReport("framework", name, plugin_of(f"framework:{name}")[0], cls.version, used=name in enabled)
        report.components.append(comp)
        comp.cases = []
        mine = cases.get(name, [])
        if not mine:
            comp.warnings.append("ships no self-test cases (chil_self_tests)")
    if frameworks:
        _run_frameworks(fw_settings, reg, pm, [c for c in report.components if c.kind == "framework"], cases, repeat)

    for tid, cls in tools.items():
        used = tid in used_tools
        reason = reg.unavailable_reason(cls)
        comp = ComponentReport("backend", tid, plugin_of(f"tool:{tid}")[0], cls.version, library_versions(cls),
                               available=reason is None, unavailable_reason=reason, used=used)
        report.components.append(comp)
        if reason is not None:
            if used:
                comp.failures.append(f"configured but unavailable: {reason}")
            continue
        if not (used or all_components or (only and (tid in only or tid.split(":", 1)[1] in only))):
            continue
        mine = cases.get(tid, [])
        if not mine:
            comp.warnings.append("ships no self-test cases (chil_self_tests)")
            continue
        backend_name = used_tools[tid][1] if used else cls.name
        _run_tool(settings, cls, backend_name, comp, mine, repeat)
    return report


def _score_one_framework(scorer: Any, name: str, records: list[Any]) -> list[Any]:
    fut = asyncio.run_coroutine_threadsafe(scorer._score_framework_all(name, records), scorer._loop)
    return fut.result()


def _keys(ctx: Any, calls: list[Any]) -> list[bytes | None]:
    """The cache key of each call, as the framework's configured backend would make it."""
    from chil_core.cache import make_key

    out: list[bytes | None] = []
    for call in calls:
        backend = ctx.routes.get(call.capability)
        out.append(make_key(backend.salt, call.key()) if backend is not None else None)
    return out


def _run_frameworks(settings: Any, reg: Any, pm: Any, comps: list[ComponentReport], cases: dict[str, list[SelfTest]],
                    repeat: int) -> None:
    from chil_core.scoring import RecordError, Scorer, to_record

    try:
        scorer = Scorer(settings, reg, None)
    except Exception as exc:  # noqa: BLE001 - a scorer that cannot start is every framework's failure
        for comp in comps:
            comp.failures.append(f"the scorer did not start: {type(exc).__name__}: {exc}")
        return
    try:
        for comp in comps:
            mine = cases.get(comp.name, [])
            if not mine:
                continue
            records = []
            for i, case in enumerate(mine):
                data = dict(case.record or {})
                data.setdefault("id", f"selftest-{i}")
                try:
                    records.append(to_record(data, i))
                except RecordError as exc:
                    comp.failures.append(f"case {case.name!r}: malformed record: {exc}")
                    records.append(None)
            valid = [(c, r) for c, r in zip(mine, records, strict=True) if r is not None]
            if not valid:
                continue
            t0 = time.perf_counter()
            first = _score_one_framework(scorer, comp.name, [r for _, r in valid])
            comp.startup_s = time.perf_counter() - t0
            for (case, _), result in zip(valid, first, strict=True):
                problem = case.problem(result)
                comp.cases.append(CaseOutcome(case.name, case.kind, problem is None, result.status, problem))
                if problem:
                    comp.failures.append(f"{case.kind} case {case.name!r}: {problem}")
            # determinism: each record alone, ``repeat`` times, same verdict as the batch pass
            for k in range(max(repeat, 1)):
                for idx, ((case, rec), base) in enumerate(zip(valid, first, strict=True)):
                    t1 = time.perf_counter()
                    again = _score_one_framework(scorer, comp.name, [rec])[0]
                    ms = (time.perf_counter() - t1) * 1000
                    comp.latencies_ms.append(ms)
                    if k == 0:
                        comp.cases[idx].latency_ms = ms
                    if _result_sig(again) != _result_sig(base):
                        comp.determinism_problems.append(
                            f"case {case.name!r}: {_result_sig(base)} then {_result_sig(again)}")
            fw, ctx = scorer.frameworks[comp.name], scorer.contexts[comp.name]
            for case, rec in valid:
                try:
                    a, b = fw.extract(rec), fw.extract(rec)
                except Exception as exc:  # noqa: BLE001
                    comp.determinism_problems.append(f"case {case.name!r}: extract raised {type(exc).__name__}: {exc}")
                    continue

                if _keys(ctx, a) != _keys(ctx, b):
                    comp.determinism_problems.append(f"case {case.name!r}: the same record gave different cache keys")
            comp.deterministic = not comp.determinism_problems
            if comp.determinism_problems:
                comp.failures.append("not deterministic: " + "; ".join(comp.determinism_problems[:3]))
            t2 = time.perf_counter()
            _score_one_framework(scorer, comp.name, [r for _, r in valid])
            dt = time.perf_counter() - t2
            comp.throughput = len(valid) / dt if dt > 0 else None
    finally:
        scorer.close()


def _run_tool(settings: Any, cls: type, backend_name: str, comp: ComponentReport, mine: list[SelfTest],
              repeat: int) -> None:
    from chil_core.cache import make_key
    from chil_core.config import backend_options
    from chil_core.scheduler import Backend

    run = settings.scheduler.for_tool(cls, backend_name)
    configured = backend_options(cls, settings.tools.get(backend_name, {}))
    stateful = not getattr(cls, "cacheable", True)  # e.g. a text index: answers depend on earlier adds

    async def main() -> None:
        backends: dict[str, Backend] = {}

        def backend_for(case: SelfTest) -> Backend:
            import orjson

            options = configured if case.options is None else backend_options(cls, case.options)
            key = orjson.dumps(options, option=orjson.OPT_SORT_KEYS).decode()
            if key not in backends:
                backends[key] = Backend(cls, options, run, None)
            return backends[key]

        try:
            try:
                for case in mine:
                    if callable(case.call):
                        case.call = case.call()
                    backend_for(case)
            except Exception as exc:  # noqa: BLE001 - bad case options: this backend's failure
                comp.failures.append(f"case options rejected: {type(exc).__name__}: {exc}")
                return
            async def call(case: SelfTest) -> Any:
                try:
                    return await backend_for(case).call(case.call)
                except Exception as exc:  # noqa: BLE001 - the scheduler itself raised: this case fails
                    from chil_core.contracts import ToolResult

                    return ToolResult(status="error", error=f"the scheduler raised {type(exc).__name__}: {exc}")

            async def run_all() -> list[Any]:
                if stateful:  # answers depend on earlier calls: in order
                    return [await call(c) for c in mine]
                return list(await asyncio.gather(*(call(c) for c in mine)))

            t0 = time.perf_counter()
            first = await run_all()
            comp.startup_s = time.perf_counter() - t0
            for case, result in zip(mine, first, strict=True):
                problem = case.problem(result)
                comp.cases.append(CaseOutcome(case.name, case.kind, problem is None, result.status, problem))
                if problem:
                    comp.failures.append(f"{case.kind} case {case.name!r}: {problem}")
            errors = {r.error for r in first if r.status != "ok"}
            if len(errors) == 1 and all(r.status != "ok" for r in first) and any("ok" in c.status for c in mine):
                comp.failures.insert(0, f"every call failed: {_short(next(iter(errors)), 300)}")
            for k in range(max(repeat, 1)):
                for idx, (case, base) in enumerate(zip(mine, first, strict=True)):
                    t1 = time.perf_counter()
                    again = await call(case)
                    ms = (time.perf_counter() - t1) * 1000
                    comp.latencies_ms.append(ms)
                    if k == 0:
                        comp.cases[idx].latency_ms = ms
                    same = again.status == base.status if stateful else _result_sig(again) == _result_sig(base)
                    if base.status != "timeout" and not same:
                        comp.determinism_problems.append(f"case {case.name!r}: {_short(_result_sig(base))} then {_short(_result_sig(again))}")
            for case in mine:
                b = backend_for(case)
                try:
                    same_key = make_key(b.salt, case.call.key()) == make_key(b.salt, _call_with_reordered_payload(case.call).key())
                except Exception as exc:  # noqa: BLE001
                    comp.determinism_problems.append(f"case {case.name!r}: no cache key: {type(exc).__name__}: {exc}")
                    continue
                if not same_key:
                    comp.determinism_problems.append(f"case {case.name!r}: the cache key depends on payload key order")
            comp.deterministic = not comp.determinism_problems
            if comp.determinism_problems:
                comp.failures.append("not deterministic: " + "; ".join(comp.determinism_problems[:3]))
            t2 = time.perf_counter()
            await run_all()
            dt = time.perf_counter() - t2
            comp.throughput = len(mine) / dt if dt > 0 else None
        finally:
            for b in backends.values():
                await b.drain()
                b.close()

    try:
        asyncio.run(main())
    except Exception as exc:  # noqa: BLE001 - whatever broke is this backend's failure, with its reason
        log.warning("chil doctor: backend %s raised", comp.name, exc_info=True)
        comp.failures.append(f"raised {type(exc).__name__}: {exc}")


def latency_summary(values: Sequence[float]) -> dict[str, float]:
    """p50/p99/mean of ``values`` (helper for benchmarks)."""
    xs = sorted(values)
    if not xs:
        return {}
    return {"p50": xs[len(xs) // 2], "p99": xs[min(len(xs) - 1, math.ceil(0.99 * len(xs)) - 1)],
            "mean": statistics.fmean(xs)}
