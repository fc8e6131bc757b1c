"""The :class:`Scorer`: records in, rewards out, through every enabled framework and the scheduler.

```python
from chil_core import Scorer
with Scorer.from_config("chil.toml") as scorer:        # or None: installed defaults
    rewards = scorer.score([{"id": "1", "prompt": "...", "completion": "48/2 = 24"}])
    future = scorer.submit(next_batch)                   # concurrent.futures.Future, runs in background
```

The scorer owns an asyncio event loop on a background thread, so a trainer can ``submit`` the rewards of
batch n and go on generating batch n+1; ``score`` is ``submit(...).result()``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import logging
import threading
import time
import types
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from chil_core.cache import Cache, make_key, make_salt
from chil_core.components import Framework
from chil_core.config import Settings, backend_options, load_settings
from chil_core.contracts import (
    CONTRACTS_VERSION,
    FrameworkResult,
    Record,
    RecordReward,
    ToolCall,
    ToolResult,
    canonical_json,
)
from chil_core.failures import failure_cause
from chil_core.model_route import apply_routes, build_routes
from chil_core.offload import FrameworkPool, default_workers, importable, record_timeout
from chil_core.plugins import PluginManager, Registry, get_plugin_manager
from chil_core.rewards import aggregate
from chil_core.scheduler import Backend, Scheduler, _guarded_wrap, _Slot, wait_all

log = logging.getLogger(__name__)
_loads = orjson.loads
_to_json = FrameworkResult.__pydantic_serializer__.to_json
_from_json = FrameworkResult.model_validate_json

#: completions (plus prompts) longer than this are extracted on a helper thread, off the event loop
OFFLOAD_CHARS = 16_384


class RecordError(ValueError):
    """A record failed validation; ``field`` names the offending field."""

    def __init__(self, index: int, field: str, message: str) -> None:
        self.index, self.field = index, field
        super().__init__(f"record {index}: {field}: {message}")


def to_record(data: Record | Mapping[str, Any], index: int = 0) -> Record:
    if isinstance(data, Record):
        return data
    try:
        return Record.model_validate(data)
    except ValidationError as exc:
        errs = exc.errors()
        fields = [".".join(str(p) for p in e["loc"]) or "<record>" for e in errs]
        message = "; ".join(f"{f}: {e['msg']}" for f, e in zip(fields[1:], errs[1:], strict=True))
        raise RecordError(index, fields[0], errs[0]["msg"] + (f"; {message}" if message else "")) from None


def _infrastructure_failed(results: Iterable[ToolResult]) -> bool:
    """Whether any of ``results`` failed through the infrastructure (its record's result is not cached)."""
    return any(r.status != "ok" and failure_cause(r, True) == "infrastructure" for r in results)


class FrameworkContext:
    """The :class:`~chil_core.components.Context` a framework sees: capability → configured backend.

    One per framework, plus one per record on the per-record path, where ``infra_failed`` records
    whether a tool call of that record failed through the infrastructure (its result is then not
    cached per record)."""

    __slots__ = ("infra_failed", "routes", "scheduler")

    def __init__(self, scheduler: Scheduler, routes: dict[str, Backend]) -> None:
        self.scheduler = scheduler
        self.routes = routes
        self.infra_failed = False

    def has(self, capability: str) -> bool:
        return capability in self.routes

    def backend(self, capability: str) -> str | None:
        b = self.routes.get(capability)
        return b.name if b else None

    async def call(self, capability: str, op: str, payload: dict[str, Any]) -> ToolResult:
        call = ToolCall(capability=capability, op=op, payload=payload)
        backend = self.routes.get(capability)
        if backend is None:
            self.infra_failed = True
            return ToolResult(status="unavailable", error=f"no backend configured for capability {capability!r}")
        result = await backend.call(call)
        if result.status != "ok" and _infrastructure_failed((result,)):
            self.infra_failed = True
        return result

    def submit(self, capability: str, op: str, payload: dict[str, Any]) -> asyncio.Future[ToolResult]:
        """:meth:`call`, queued now (no task: the call joins the backend's batch before this returns),
        as a future of its result that is the caller's own (cancelling it cancels nothing else)."""
        backend = self.routes.get(capability)
        loop = asyncio.get_running_loop()
        if backend is None:
            self.infra_failed = True
            fut: asyncio.Future[ToolResult] = loop.create_future()
            fut.set_result(ToolResult(status="unavailable", error=f"no backend configured for capability {capability!r}"))
            return fut
        answer = backend.enqueue(ToolCall(capability=capability, op=op, payload=payload))
        if type(answer) is ToolResult:
            fut = loop.create_future()
            fut.set_result(answer)
        else:
            fut = answer
        fut.add_done_callback(self._note_failure)
        return fut

    def _note_failure(self, fut: asyncio.Future[ToolResult]) -> None:
        if not fut.cancelled():
            result = fut.result()
            if result.status != "ok" and _infrastructure_failed((result,)):
                self.infra_failed = True

    def running_s(self, capability: str, op: str, payload: dict[str, Any]) -> float | None:
        """How long a worker has been running this call (one in flight), in seconds; None while it
        still waits for a worker; ``inf`` when not known (see :meth:`Backend.running_s`)."""
        backend = self.routes.get(capability)
        if backend is None:
            return float("inf")
        return backend.running_s(ToolCall(capability=capability, op=op, payload=payload))

    async def call_many(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        results = await self.scheduler.call_many([(self.routes.get(c.capability), c) for c in calls])
        if _infrastructure_failed(results):
            self.infra_failed = True
        return results


#: bumped when the record cache's key or value format changes
RECORD_CACHE_FORMAT = "1"
_CODE_DIGESTS: dict[str, str] = {}


def code_digest(cls: type) -> str:
    """A digest of the source of the package (or module) that defines ``cls``: a framework's code
    that changes without a version bump still never reads a result cached by its old code."""
    import hashlib
    import sys

    top = cls.__module__.split(".")[0]
    if top in _CODE_DIGESTS:
        return _CODE_DIGESTS[top]
    h = hashlib.blake2b(digest_size=16)
    module = sys.modules.get(top)
    roots = [Path(p) for p in getattr(module, "__path__", ())]
    files: list[Path] = []
    for root in roots:
        files.extend(sorted(p for p in root.rglob("*") if p.suffix in (".py", ".so", ".pyd") and p.is_file()))
    if not roots and getattr(module, "__file__", None):
        files.append(Path(module.__file__))  # type: ignore[arg-type]
    for path in files:
        try:
            h.update(path.name.encode() + b"\0" + path.read_bytes())
        except OSError:
            log.debug("code digest: cannot read %s", path, exc_info=True)
    _CODE_DIGESTS[top] = digest = h.hexdigest()
    return digest


def _record_key(fw: Framework, salt: bytes, record: Record) -> bytes | None:
    """The record-cache key of ``fw``'s result on ``record``, or None: neither cached nor deduplicated."""
    try:
        content = fw.result_key(record)
        if content is None:
            return None
        data = canonical_json(content)
    except TypeError:  # not JSON-able (orjson's error is a TypeError): scored, never cached
        log.debug("%s: record %r has content that is not JSON-able; not cached", fw.name, record.id)
        return None
    except Exception:  # noqa: BLE001 - a framework's own result_key that raises: scored, never cached
        log.warning("%s.result_key raised on record %r; not cached", fw.name, record.id, exc_info=True)
        return None
    if b"null" in data and _loads(data) != content:
        # JSON writes NaN and infinities as null (as it writes None): content with one is not keyed
        # (scored, never cached).  Only checked when the JSON has a null; content that JSON changes in
        # another way and has a null (a tuple, an integer key) is not keyed either, which is safe.
        return None
    return make_key(salt, data)


def _storable(result: FrameworkResult) -> bool:
    """Whether a result may be cached: scored, a completion-caused failure, or an abstention that is not
    the infrastructure's (a timeout, crash or missing backend is not an answer about the record)."""
    if result.status == "scored":
        return True
    if result.status == "abstained":
        return result.cause != "infrastructure"
    return result.cause == "completion"


#: While a batch is being scored, the cyclic garbage collector's first threshold is raised to this.
#: A batch's records, results and rewards all live until it is done, so at Python's default (700
#: allocations) every young collection traverses them again and the full ones come often: that was
#: more than half of the scheduler's time on cheap frameworks (bench_scheduler: 1.0 s of GC in a 2.3 s
#: cold run of 20,000 records, 0.18 s at 10,000).  Collections still run, just less often; the
#: threshold the process had is restored when no batch is being scored.
GC_THRESHOLD0 = 20_000
_gc_lock = threading.Lock()
_gc_state: list[Any] = [0, None]  # [batches being scored, the thresholds to restore]


def _gc_raise() -> None:
    with _gc_lock:
        if _gc_state[0] == 0:
            old = gc.get_threshold()
            if 0 < old[0] < GC_THRESHOLD0:
                gc.set_threshold(GC_THRESHOLD0, *old[1:])
                _gc_state[1] = old
        _gc_state[0] += 1


def _gc_restore() -> None:
    with _gc_lock:
        _gc_state[0] -= 1
        old = _gc_state[1]
        if _gc_state[0] == 0 and old is not None:
            _gc_state[1] = None
            if gc.get_threshold()[0] == GC_THRESHOLD0:  # unless someone else has set it since
                gc.set_threshold(*old)


class _GcHold:
    """One batch's share of the raised threshold, released exactly once (whichever comes first: the
    batch's coroutine finishing, or its future being done without the coroutine having run)."""

    __slots__ = ("_held",)

    def __init__(self) -> None:
        _gc_raise()
        self._held = True

    def release(self) -> None:
        with _gc_lock:
            if not self._held:
                return
            self._held = False
        _gc_restore()


#: records of per-record frameworks (their own ``score``) that start in one turn of the event loop;
#: the others wait, in order, for later turns (see :class:`_Turns`)
PER_TURN = 32


class _Turns:
    """At most ``per_turn`` records start in one turn of the event loop; the others wait, in order.

    A batch's records each run up to their first wait (parsing, queueing their tool calls) as soon as
    they start, so a batch started at once is parsed in one turn: no worker's answer is read, no timer
    fires, no queued call goes out, until the whole batch is parsed; a solver then runs after the
    parsing instead of beside it (GSM8K: its Z3 calls went out after 256 records were parsed).
    Spread over turns, the loop polls its pipes, flushes the backends' queues and reads answers
    between chunks.  Only while that can gain something (``busy``: a process-isolated backend has
    calls out); otherwise records start at once, as a turn costs CPU and gains nothing (a thread
    backend's batches would only get smaller).  Records are admitted first come, first served, so they
    start in the order they asked (sequential frameworks rely on it)."""

    __slots__ = ("admitted", "armed", "busy", "loop", "per_turn", "used", "waiters")

    def __init__(self, per_turn: int, busy: Any = None) -> None:
        self.per_turn = per_turn
        #: whether spreading records over turns can gain anything now (work out in another process);
        #: while it says no, records start at once (a turn costs, and gains nothing then)
        self.busy = busy or (lambda: True)
        self.used = 0
        self.waiters: deque[asyncio.Future[None]] = deque()
        self.admitted = 0  # waiters let in that have not run yet: nobody may pass them
        self.loop: asyncio.AbstractEventLoop | None = None
        self.armed = False

    def admit(self) -> bool:
        """:meth:`enter` when it would return at once (no coroutine): True when the caller may start its
        record now, False when it must ``await enter()``."""
        loop = asyncio.get_running_loop()
        if loop is not self.loop:  # another event loop: nothing carries over
            self.loop, self.used, self.waiters, self.admitted, self.armed = loop, 0, deque(), 0, False
        if not self.armed:
            self.armed = True
            loop.call_soon(self._turn)
        if not self.waiters and not self.admitted and (self.used < self.per_turn or not self.busy()):
            self.used += 1
            return True
        return False

    async def enter(self) -> None:
        """Return when the caller may start its record: at once while this turn has room and nobody
        waits, else in a later turn."""
        if self.admit():
            return
        assert self.loop is not None
        fut = self.loop.create_future()
        self.waiters.append(fut)
        try:
            await fut
        except BaseException:
            if not fut.done():
                fut.cancel()
            elif not fut.cancelled():  # let in, then cancelled before it ran
                self.admitted -= 1
            raise
        self.admitted -= 1

    def _turn(self) -> None:
        """The turn is over: admit the next ``per_turn`` waiters (they run in the next turn, after the
        loop has polled its pipes and run what is due)."""
        self.used = 0
        self.armed = False
        room = self.per_turn if self.busy() else len(self.waiters)
        while self.waiters and self.used < room:
            fut = self.waiters.popleft()
            if not fut.done():  # (a cancelled waiter takes no place)
                fut.set_result(None)
                self.used += 1
                self.admitted += 1
        if self.waiters or self.used:
            self.armed = True
            assert self.loop is not None
            self.loop.call_soon(self._turn)


@types.coroutine
def _resume(coro: Any, yielded: Any) -> Any:
    """The rest of ``coro``, which was started with ``coro.send(None)`` and yielded ``yielded`` (what it
    waits for): awaited in a task, it goes on exactly as if that task had awaited ``coro`` from the
    start (what it waits for, what it is sent, a cancellation thrown in, are passed through)."""
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - thrown in by the task (a cancellation): passed on
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


class RecordCacheStats:
    """Per framework: results served from the record cache, scored once for equal records of a batch,
    scored, stored, and not stored (a failure of the infrastructure, or no key)."""

    __slots__ = ("dedup_hits", "hits", "misses", "not_stored", "stored")

    def __init__(self) -> None:
        self.hits = self.dedup_hits = self.misses = self.stored = self.not_stored = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class Scorer:
    """Scores records with every enabled framework; see the module docstring."""

    def __init__(self, settings: Settings, registry: Registry, plugin_manager: PluginManager | None = None) -> None:
        self.settings = settings
        self.registry = registry
        self.pm = plugin_manager
        c = settings.cache
        self.cache = Cache(c.path, max_size_mb=c.max_size_mb, memory_items=c.memory_items) if c.enabled else None
        self.scheduler = Scheduler(self.cache)
        self.frameworks: dict[str, Framework] = {}
        self.contexts: dict[str, FrameworkContext] = {}
        self.weights: dict[str, float] = {}
        self.max_chars: dict[str, int] = {}
        for name, fs in settings.enabled_frameworks().items():
            cls = registry.frameworks[name]
            self.frameworks[name] = cls(cls.Options.model_validate(fs.options))
            self.weights[name] = float(fs.weight if fs.weight is not None else cls.default_weight)
            self.max_chars[name] = int(fs.max_completion_chars or getattr(cls, "max_completion_chars", 100_000))
            routes: dict[str, Backend] = {}
            for capability, backend_name in fs.tools.items():
                tool_cls = registry.tool(capability, backend_name)
                run = settings.scheduler.for_tool(tool_cls, backend_name)
                options = backend_options(tool_cls, settings.tools.get(backend_name, {}))
                routes[capability] = self.scheduler.add_backend(tool_cls, options, run)
            self.contexts[name] = FrameworkContext(self.scheduler, routes)
        self.model_routes = build_routes(self.scheduler, settings, registry)  # [frameworks.<name>.model]
        self._extract_pool = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="chil-extract")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="chil-scorer", daemon=True)
        self._thread.start()
        self._closed = False
        self._names = list(self.frameworks)
        #: frameworks that keep the default ``score`` (extract + judge) take the bulk path
        self._bulk = {n: type(fw).score is Framework.score for n, fw in self.frameworks.items()}
        self._sequential_locks: dict[str, asyncio.Lock] = {}
        #: per-record frameworks whose records mostly waited when last looked at: batches since (see _score_each)
        self._waiting: dict[str, int] = {}
        #: per-record frameworks' records start at most PER_TURN per event-loop turn (all frameworks, all batches)
        self._turns = _Turns(PER_TURN, self.scheduler.process_calls_out)
        #: record-level result cache: per framework, the salt of its keys (None: not cached)
        self.record_salts: dict[str, bytes | None] = {n: self._record_salt(n) for n in self._names}
        self.record_stats: dict[str, RecordCacheStats] = {n: RecordCacheStats() for n in self._names}
        #: framework workers (see chil_core.offload), per framework that may use them
        self.pools: dict[str, FrameworkPool] = self._make_pools()
        #: per framework: batches left that skip its workers (its records mostly came back last time)
        self._pool_skip: dict[str, int] = {}
        if self.pm is not None:
            self.pm.notify("chil_startup", settings=settings)

    def _record_salt(self, name: str) -> bytes | None:
        """The prefix of framework ``name``'s record-cache keys, or None when its results are not
        cached per record: no cache, ``cache.records = false``, a framework that opts out, or a
        backend whose answers are not cached (they depend on state)."""
        fw = self.frameworks[name]
        cls = type(fw)
        if self.cache is None or not self.settings.cache.records or not cls.cache_results:
            return None
        routes = self.contexts[name].routes
        if any(b.cache is None for cap, b in routes.items() if cap not in cls.stateful_capabilities):
            # a backend that is not cacheable (or whose caching is off): results may depend on state (one
            # the framework declares stateful it calls only for records it does not key)
            return None
        try:
            options = fw.options.model_dump(mode="json")
            backends = sorted([cap, b.name, b.cls.version, b.salt.hex(), b.timeout, b.run_settings.memory_mb]
                              for cap, b in routes.items())
            ident = canonical_json({"options": options, "reads": cls.reads, "backends": backends,
                                    "code": code_digest(cls), "contracts": CONTRACTS_VERSION,
                                    "format": RECORD_CACHE_FORMAT})
        except (TypeError, ValueError):
            log.warning("%s: options are not JSON-able; its results are not cached per record", name, exc_info=True)
            return None
        return make_salt(f"framework:{name}", cls.version, ident)

    def _make_pools(self) -> dict[str, FrameworkPool]:
        sched = self.settings.scheduler
        n = default_workers() if sched.framework_workers == "auto" else int(sched.framework_workers)
        pools: dict[str, FrameworkPool] = {}
        if n <= 0:
            return pools
        for name, fw in self.frameworks.items():
            cls = type(fw)
            # a sequential framework may send the records it keys (its own result_key: those outside any
            # episode, say) to workers that have copies of its tools; the rest stay in order here
            keyed_only = cls.sequential
            if keyed_only and cls.result_key is Framework.result_key:
                continue
            if self._bulk[name] or not cls.cache_results or not cls.worker_safe or not importable(cls):
                continue
            try:
                options = fw.options.model_dump(mode="json")
            except (TypeError, ValueError):
                log.info("%s: options are not JSON-able; its records are scored in the main process", name)
                continue
            routes = self.contexts[name].routes
            local = self._replicable(name, routes)
            if keyed_only and not local:
                continue
            pools[name] = FrameworkPool(name, cls, options, {c: b.name for c, b in routes.items()}, n, local=local)
        return pools

    def _replicable(self, name: str, routes: dict[str, Backend]) -> dict[str, tuple[str, dict[str, Any], float, int]]:
        """The backends of framework ``name`` its workers may build copies of and call themselves
        (:meth:`Tool.replicable`; not one it calls statefully, nor one run on Ray or under a memory bound)."""
        stateful = type(self.frameworks[name]).stateful_capabilities
        local = {}
        for capability, b in routes.items():
            run = b.run_settings
            if (capability in stateful or b.isolation == "ray" or run.memory_mb or getattr(b.cls, "memory_mb", None)
                    or not importable(b.cls)):
                continue
            try:
                ok = b.cls.replicable(b.cls.Options.model_validate(b.options))
            except Exception:  # noqa: BLE001 - a backend's check that fails: no copy
                log.warning("%s: %s.replicable() raised; its calls stay in the main process", name, b.name, exc_info=True)
                ok = False
            if ok:
                local[capability] = (f"{b.cls.__module__}:{b.cls.__qualname__}", b.options, b.timeout, b.max_batch)
        return local

    def start_workers(self, timeout: float | None = 120.0) -> bool:
        """Start the framework workers now and wait for them (they otherwise start in the background once
        ``scheduler.framework_workers_start_after`` records showed they would pay).  True when every pool is up."""
        return all([pool.wait_started(timeout) and not pool.failed for pool in self.pools.values()])

    def _record_timeout(self, name: str) -> FrameworkResult:
        return record_timeout(name, self.settings.scheduler.record_timeout_s)

    @staticmethod
    def _oversize(name: str, size: int, bound: int) -> FrameworkResult:
        """A completion past the framework's size bound: not read, paid nothing (the completion's fault)."""
        return FrameworkResult(status="scored", score=0.0, verdict="oversize",
                               explanation=f"completion of {size:,} characters exceeds {name}'s bound of {bound:,} "
                                           f"(frameworks.{name}.max_completion_chars); not read")

    @classmethod
    def from_config(
        cls,
        config: str | Path | Mapping[str, Any] | Settings | None = None,
        *,
        frameworks: list[str] | None = None,
        plugin_manager: PluginManager | None = None,
    ) -> Scorer:
        pm = plugin_manager or get_plugin_manager()
        settings = load_settings(config, frameworks=frameworks, registry=pm.registry)
        return cls(settings, pm.registry, pm)

    # -- scoring ----------------------------------------------------------------------------
    async def _score_framework(self, name: str, record: Record, ctx: FrameworkContext | None = None) -> FrameworkResult:
        fw = self.frameworks[name]
        try:
            async with asyncio.timeout(self.settings.scheduler.record_timeout_s):
                result = await fw.score(record, ctx or self.contexts[name])
        except Exception as exc:  # noqa: BLE001 - a framework bug is a status, never the caller's exception
            return self._framework_raised(name, record, exc)
        return self._framework_result(name, result)

    async def _score_tracked(self, name: str, records: Sequence[Record], i: int, infra: list[bool] | None) -> FrameworkResult:
        """:meth:`_score_framework` on ``records[i]``; with ``infra``, in a context of its own that sets
        ``infra[i]`` when one of the record's tool calls failed through the infrastructure."""
        if infra is None:
            return await self._score_framework(name, records[i])
        ctx = FrameworkContext(self.scheduler, self.contexts[name].routes)
        result = await self._score_framework(name, records[i], ctx)
        infra[i] = ctx.infra_failed
        return result

    @staticmethod
    def _framework_result(name: str, result: Any) -> FrameworkResult:
        """What a framework's ``score`` returned, as its result (anything else is an error status)."""
        if not isinstance(result, FrameworkResult):
            return FrameworkResult(status="error", explanation=f"{name} returned {type(result).__name__}, not FrameworkResult")
        return result

    def _framework_raised(self, name: str, record: Record, exc: Exception) -> FrameworkResult:
        """What a framework's ``score`` raised, as its result: the record timeout, or an error status (logged)."""
        if isinstance(exc, TimeoutError):
            return self._record_timeout(name)
        log.warning("framework %s raised on record %r", name, record.id, exc_info=exc)
        return FrameworkResult(status="error", explanation=f"{name} raised {type(exc).__name__}: {exc}")

    async def _score_each(self, name: str, records: Sequence[Record], infra: list[bool] | None = None,
                          pooled: bool = True, raw: list[bytes | None] | None = None,
                          keyed: list[bool] | None = None) -> list[FrameworkResult]:
        """Frameworks with their own ``score``: one coroutine per record, with the record timeout.

        Records start in input order, at most :data:`PER_TURN` per turn of the event loop (:class:`_Turns`),
        so the calls of the first records go out, and their answers come in, while the later ones are
        parsed.  A record is run up to its first wait right where it is pulled (most records of a
        cheap framework never wait: they cost no task and no timer); one that waits is finished by the
        coroutine that pulled it, under its timeout counted from its start, while a new one goes on
        pulling: at most ``max_records_in_flight`` records wait at once.  When many records of the batch
        wait (over one in eight so far: a lookup each, say), pullers for all the rest start together, so
        that they queue their calls in one turn (one batch to the backend) as before, and the framework's
        next batches take :meth:`_score_pool`.  ``infra[i]`` is set when a tool call of record i failed
        through the infrastructure.  ``keyed[i]``: whether the record cache keyed record i (a sequential
        framework's records that are: see :meth:`_score_sequential`)."""
        if not records:
            return []
        if type(self.frameworks[name]).sequential:
            return await self._score_sequential(name, records, infra, pooled, raw, keyed)
        sched = self.settings.scheduler
        pool = self.pools.get(name) if pooled and len(records) >= sched.framework_workers_min_records else None
        # (a framework whose workers call its tools too takes them whether its records wait or not)
        if pool is not None and (pool.local or not self._waiting.get(name, 0) % 8):
            skip = self._pool_skip.get(name, 0)
            if skip:
                self._pool_skip[name] = skip - 1
            elif pool.usable():
                return await self._score_in_workers(name, records, infra, raw)
            elif pool.local:
                pool.count_inline(len(records), sched.framework_workers_start_after)
        if self._waiting.get(name, 0) % 8:  # (every eighth batch looks again)
            self._waiting[name] += 1
            return await self._score_pool(name, records, infra)
        out: list[FrameworkResult | None] = [None] * len(records)
        n = len(records)
        fw, shared, routes, scheduler = self.frameworks[name], self.contexts[name], self.contexts[name].routes, self.scheduler
        turns = self._turns
        timeout_s = self.settings.scheduler.record_timeout_s
        limit = self.settings.scheduler.max_records_in_flight
        loop = asyncio.get_running_loop()
        tasks: set[asyncio.Task[None]] = set()
        failed: list[asyncio.Task[None]] = []
        # [records pulled (the next one's index), pullers alive (each holds at most one record), records
        # that waited, pullers made that have not run yet]
        state = [0, 1, 0, 0]

        def finished(task: asyncio.Task[None]) -> None:
            tasks.discard(task)
            if task.cancelled() or task.exception() is not None:
                failed.append(task)

        def spawn(k: int) -> None:
            for _ in range(k):
                task = loop.create_task(pull(True))
                tasks.add(task)
                task.add_done_callback(finished)
            state[1] += k
            state[3] += k

        async def pull(spawned: bool = False) -> None:
            if spawned:
                state[3] -= 1
            try:
                while state[0] < n:
                    i = state[0]
                    state[0] = i + 1
                    if not turns.admit():  # a few per turn of the event loop (see _Turns)
                        await turns.enter()
                    record = records[i]
                    ctx = shared if infra is None else FrameworkContext(scheduler, routes)  # this record's tool failures
                    start = loop.time()
                    try:
                        coro = fw.score(record, ctx)
                        if type(coro) is not types.CoroutineType:
                            coro = _awaited(coro)
                        yielded = coro.send(None)  # up to its first wait, here
                    except StopIteration as stop:
                        result = self._framework_result(name, stop.value)
                    except Exception as exc:  # noqa: BLE001 - a framework bug is a status, never the caller's exception
                        result = self._framework_raised(name, record, exc)
                    else:
                        # it waits: the next records are pulled by another puller meanwhile (all of
                        # them at once when most records wait)
                        state[2] += 1
                        left = n - state[0]
                        want = min(min(left if 8 * state[2] > state[0] else 1, left) - state[3], limit - state[1])
                        if want > 0:
                            spawn(want)
                        try:
                            async with asyncio.timeout_at(start + timeout_s):
                                result = self._framework_result(name, await _resume(coro, yielded))
                        except Exception as exc:  # noqa: BLE001 - (TimeoutError: the record timeout)
                            result = self._framework_raised(name, record, exc)
                    out[i] = result
                    if infra is not None:
                        infra[i] = ctx.infra_failed
            finally:
                state[1] -= 1

        try:
            await pull()
            while tasks and not failed:
                await asyncio.wait(tuple(tasks), return_when=asyncio.FIRST_EXCEPTION)
            if failed:
                failed[0].result()  # raises what the puller raised (or CancelledError)
        finally:
            for task in tuple(tasks):
                task.cancel()
        # a framework whose records mostly wait (a lookup each) needs a task a record anyway: its next
        # batches take the pool (a task and a timer a record, all started at once), which was ~4 % less
        # CPU for it (facts-sqlite); every eighth batch comes back here to look again
        self._waiting[name] = int(n >= 8 and 8 * state[2] > n)
        if pool is not None and not pool.local and 2 * state[2] <= n:
            # most records of a batch this large never waited: once enough of them, workers pay (chil_core.offload)
            pool.count_inline(n, sched.framework_workers_start_after)
        return out  # type: ignore[return-value]

    async def _score_sequential(self, name: str, records: Sequence[Record], infra: list[bool] | None,
                                pooled: bool, raw: list[bytes | None] | None,
                                keyed: list[bool] | None = None) -> list[FrameworkResult]:
        """:meth:`_score_each` for a ``sequential`` framework.  Its records are scored in input order
        (:meth:`_score_ordered`), but for those it keys (``result_key`` not None: a function of the
        record alone, not of the records before it), which may take its framework workers when they
        have copies of its tools (``Tool.replicable``): a batch with at least
        ``framework_workers_min_records`` of them sends them there, beside the others scored here in
        order.  (The consistency framework: every record outside an episode.)  ``keyed``: which records
        the record cache keyed (it has asked ``result_key`` already); None: ask it here."""
        pool = self.pools.get(name) if pooled else None
        sched = self.settings.scheduler
        if pool is None or len(records) < sched.framework_workers_min_records:
            return await self._score_ordered(name, records, infra)
        if keyed is not None:
            free = [i for i, k in enumerate(keyed) if k]
        else:
            fw = self.frameworks[name]
            free = []
            for i, r in enumerate(records):
                try:
                    if fw.result_key(r) is not None:
                        free.append(i)
                except Exception:  # noqa: BLE001 - a result_key that raises: scored here, in order
                    log.debug("%s.result_key raised on record %r; scored in the main process", name, r.id, exc_info=True)
        if len(free) < sched.framework_workers_min_records:
            return await self._score_ordered(name, records, infra)
        skip = self._pool_skip.get(name, 0)
        if skip:  # most records came back from the workers lately
            self._pool_skip[name] = skip - 1
            return await self._score_ordered(name, records, infra)
        if not pool.usable():
            pool.count_inline(len(free), sched.framework_workers_start_after)
            return await self._score_ordered(name, records, infra)
        if len(free) == len(records):
            return await self._score_in_workers(name, records, infra, raw)
        out: list[FrameworkResult | None] = [None] * len(records)
        rest = sorted(set(range(len(records))).difference(free))
        parts: list[tuple[list[int], list[bool] | None, list[bytes | None] | None]] = [
            (free, [False] * len(free) if infra is not None else None, [None] * len(free) if raw is not None else None),
            (rest, [False] * len(rest) if infra is not None else None, None)]
        done = await asyncio.gather(
            self._score_in_workers(name, [records[i] for i in free], parts[0][1], parts[0][2]),
            self._score_ordered(name, [records[i] for i in rest], parts[1][1]))
        for (idx, sub_infra, sub_raw), results in zip(parts, done, strict=True):
            for j, result in enumerate(results):
                i = idx[j]
                out[i] = result
                if infra is not None and sub_infra is not None:
                    infra[i] = sub_infra[j]
                if raw is not None and sub_raw is not None:
                    raw[i] = sub_raw[j]
        return out  # type: ignore[return-value]

    async def _score_in_workers(self, name: str, records: Sequence[Record], infra: list[bool] | None,
                                raw: list[bytes | None] | None = None) -> list[FrameworkResult]:
        """:meth:`_score_each` through the framework workers (:mod:`chil_core.offload`), this process
        scoring chunks too while it waits; a record a worker sends back (a tool call, a wait, an error)
        is scored here, by the per-record path, as soon as its chunk is in.  ``raw[i]`` gets the JSON a
        worker sent for record i (what the record cache stores: not serialized again)."""
        pool = self.pools[name]
        out: list[FrameworkResult | None] = [None] * len(records)
        loop = asyncio.get_running_loop()
        later: list[asyncio.Task[None]] = []
        back = 0

        async def here(idx: list[int]) -> None:
            sub = [False] * len(idx) if infra is not None else None
            for j, result in enumerate(await self._score_each(name, [records[i] for i in idx], sub, pooled=False)):
                out[idx[j]] = result
                if infra is not None and sub is not None:
                    infra[idx[j]] = sub[j]

        def reply(idx: list[int], got: list[bytes | None]) -> None:
            nonlocal back
            if over:  # the batch was cancelled: nothing waits for these
                return
            rest = []
            for i, data in zip(idx, got, strict=True):
                if data is not None:
                    try:
                        out[i] = _from_json(data)
                        if raw is not None:
                            raw[i] = data
                        continue
                    except ValueError:
                        log.warning("%s: a framework worker's result did not parse; scoring the record here", name, exc_info=True)
                rest.append(i)
            if rest:
                back += len(rest)
                later.append(loop.create_task(here(rest)))

        over = False
        try:
            await pool.run(records, self.settings.scheduler.record_timeout_s, reply, here)
            if later:
                await asyncio.gather(*later)
        finally:
            over = True
            for task in later:
                task.cancel()
        pool.returned += back
        if 2 * back > len(records):  # most records need tools: the next batches stay in this process
            self._pool_skip[name] = 7
        return out  # type: ignore[return-value]

    async def _score_pool(self, name: str, records: Sequence[Record], infra: list[bool] | None = None) -> list[FrameworkResult]:
        """:meth:`_score_each` for a framework whose records mostly wait: a fixed pool of
        ``max_records_in_flight`` worker coroutines pulls records by index (O(1) a record: an
        asyncio.Semaphore over thousands of waiters is quadratic in CPython 3.11), each record under
        its own timeout; records start in input order, a few per turn of the event loop (:class:`_Turns`)."""
        out: list[FrameworkResult | None] = [None] * len(records)
        indices = iter(range(len(records)))
        enter = self._turns.enter

        async def worker() -> None:
            for i in indices:  # records start in input order
                await enter()  # a few per turn of the event loop (see _Turns)
                out[i] = await self._score_tracked(name, records, i, infra)

        await asyncio.gather(*(worker() for _ in range(min(len(records), self.settings.scheduler.max_records_in_flight))))
        return out  # type: ignore[return-value]

    async def _score_ordered(self, name: str, records: Sequence[Record], infra: list[bool] | None = None) -> list[FrameworkResult]:
        """:meth:`_score_each` for a ``sequential`` framework."""
        out: list[FrameworkResult | None] = [None] * len(records)
        indices = iter(range(len(records)))
        enter = self._turns.enter
        workers = min(len(records), self.settings.scheduler.max_records_in_flight)
        # Results may depend on earlier records: ``score`` is called in submission order, batch after
        # batch.  The framework keeps the records of one episode in that order (its contract), so the
        # next batch may start once every record of this one has *started*: a slow record (a solver
        # running out its timeout) then delays the records of its own episode, not every later batch.
        if not records:
            return []
        lock = self._sequential_locks.setdefault(name, asyncio.Lock())
        await lock.acquire()
        left = len(records)

        def started() -> None:
            nonlocal left
            left -= 1
            if left == 0:
                lock.release()

        async def gated(i: int) -> FrameworkResult:
            await enter()  # first come, first served: score() is still called in input order
            return await self._score_tracked(name, records, i, infra)

        async def ordered_worker() -> None:
            for i in indices:
                task = asyncio.ensure_future(gated(i))
                # the task runs up to its first wait: its score() has been called, or it waits its
                # turn (first come, first served: the next batch's records queue behind it)
                await asyncio.sleep(0)
                started()
                out[i] = await task

        try:
            await asyncio.gather(*(ordered_worker() for _ in range(workers)))
        finally:
            if left > 0:  # cancelled before every record started
                lock.release()
        return out  # type: ignore[return-value]

    async def _score_bulk(self, name: str, records: Sequence[Record], infra: list[bool] | None = None) -> list[FrameworkResult]:
        """Frameworks on the default extract → tools → judge path: every record's calls are queued
        at once, the backends are flushed, and each record is judged when its answers are in.
        No coroutine per record: this is the fast path."""
        fw, routes = self.frameworks[name], self.contexts[name].routes
        out: list[FrameworkResult | None] = [None] * len(records)
        rows: list[tuple[int, Record, list[ToolCall], list[Any]]] = []
        deadline = time.monotonic() + self.settings.scheduler.record_timeout_s
        extracted = await self._extract_all(name, records, out, deadline)
        # every record's calls, per backend: one enqueue_many (one cache read) per backend
        per_backend: dict[Backend, tuple[list[ToolCall], list[tuple[list[Any], int]]]] = {}
        for i, record in enumerate(records):
            calls = extracted[i]
            if calls is None:
                continue
            answers: list[Any] = [None] * len(calls)
            for k, call in enumerate(calls):
                backend = routes.get(call.capability)
                if backend is None:
                    answers[k] = ToolResult(status="unavailable", error=f"no backend configured for capability {call.capability!r}")
                    continue
                entry = per_backend.get(backend)
                if entry is None:
                    entry = per_backend[backend] = ([], [])
                entry[0].append(call)
                entry[1].append((answers, k))
            rows.append((i, record, calls, answers))
        waiters: set[asyncio.Future[None]] = set()
        for backend, (calls, places) in per_backend.items():
            for (answers, k), answer in zip(places, backend.enqueue_many(calls, now=True), strict=True):
                answers[k] = answer
                if type(answer) is _Slot:
                    waiters.add(answer.waiter)
        if waiters:
            await wait_all(waiters, timeout=max(deadline - time.monotonic(), 0.0))
        for i, record, calls, answers in rows:
            results = [a if type(a) is ToolResult else a.result for a in answers]
            if None in results:
                out[i] = self._record_timeout(name)  # the calls go on (shared, cached), the record does not wait
                continue
            if infra is not None and _infrastructure_failed(results):
                infra[i] = True
            try:
                result = fw.judge(record, calls, results)
            except Exception as exc:  # noqa: BLE001
                log.warning("%s.judge raised on record %r", name, record.id, exc_info=True)
                result = FrameworkResult(status="error", explanation=f"{name}.judge raised {type(exc).__name__}: {exc}")
            if not isinstance(result, FrameworkResult):
                result = FrameworkResult(status="error", explanation=f"{name}.judge returned {type(result).__name__}, not FrameworkResult")
            out[i] = result
        return out  # type: ignore[return-value]

    def _extract_one(self, name: str, record: Record) -> list[ToolCall] | FrameworkResult:
        try:
            return list(self.frameworks[name].extract(record))
        except Exception as exc:  # noqa: BLE001
            log.warning("%s.extract raised on record %r", name, record.id, exc_info=True)
            return FrameworkResult(status="error", explanation=f"{name}.extract raised {type(exc).__name__}: {exc}")

    async def _extract_all(self, name: str, records: Sequence[Record], out: list[FrameworkResult | None],
                           deadline: float) -> list[list[ToolCall] | None]:
        """Each record's calls (None where ``out`` got a status instead).  Small records are extracted
        here; large ones on a helper thread, so that parsing them never holds up the event loop (other
        submissions keep flowing) and the record timeout holds."""
        calls: list[list[ToolCall] | None] = [None] * len(records)
        big: dict[int, asyncio.Future[Any]] = {}
        loop = asyncio.get_running_loop()
        for i, record in enumerate(records):
            if len(record.completion) + len(record.prompt) > OFFLOAD_CHARS:
                big[i] = _guarded_wrap(loop, self._extract_pool.submit(self._extract_one, name, record))
                continue
            got = self._extract_one(name, record)
            if isinstance(got, FrameworkResult):
                out[i] = got
            else:
                calls[i] = got
        if big:
            await asyncio.wait(big.values(), timeout=max(deadline - time.monotonic(), 0.0))
            for i, fut in big.items():
                if not fut.done():
                    out[i] = self._record_timeout(name)
                    continue
                got = fut.result()
                if isinstance(got, FrameworkResult):
                    out[i] = got
                else:
                    calls[i] = got
        return calls

    async def _score_framework_all(self, name: str, records: Sequence[Record]) -> list[FrameworkResult]:
        """One framework over ``records``: over-size completions get their verdict unread; the rest are
        answered from the record cache, or scored once per distinct content (equal records of the
        batch share the result) through the bulk path or the framework's own ``score``."""
        bound = self.max_chars.get(name)
        keep = [i for i, r in enumerate(records) if bound is None or len(r.completion) <= bound]
        score = self._score_bulk if self._bulk[name] else self._score_each
        salt = self.record_salts[name]
        if salt is None:
            if len(keep) == len(records):
                return await score(name, records)
            out: list[FrameworkResult] = [self._oversize(name, len(r.completion), bound or 0) for r in records]
            if keep:
                for i, result in zip(keep, await score(name, [records[i] for i in keep]), strict=True):
                    out[i] = result
            return out
        return await self._score_cached(name, salt, records, keep, score)

    async def _score_cached(self, name: str, salt: bytes, records: Sequence[Record], keep: list[int],
                            score: Any) -> list[FrameworkResult]:
        """:meth:`_score_framework_all` through the record cache (see :meth:`_record_salt`)."""
        fw, st, cache = self.frameworks[name], self.record_stats[name], self.cache
        assert cache is not None
        res: list[FrameworkResult | None] = [None] * len(records)
        if len(keep) < len(records):
            bound = self.max_chars.get(name) or 0
            for i, r in enumerate(records):
                if len(r.completion) > bound:
                    res[i] = self._oversize(name, len(r.completion), bound)
        keys: dict[int, bytes] = {}
        first: dict[bytes, int] = {}
        dups: list[tuple[int, int]] = []
        todo: list[int] = []
        for i in keep:
            key = _record_key(fw, salt, records[i])
            if key is not None:
                rep = first.get(key)
                if rep is not None:  # equal content earlier in the batch: scored once, shared
                    dups.append((i, rep))
                    continue
                first[key] = i
                keys[i] = key
            todo.append(i)
        if keys:
            keyed = list(keys)
            got = cache.get_many([keys[i] for i in keyed])
            hit = False
            for i, raw in zip(keyed, got, strict=True):
                if raw is None:
                    continue
                try:
                    res[i] = FrameworkResult.model_validate_json(raw)
                except ValueError:
                    log.warning("%s: an unreadable record-cache entry; scoring the record again", name, exc_info=True)
                    continue
                st.hits += 1
                hit = True
            if hit:
                todo = [i for i in todo if res[i] is None]
        st.misses += len(todo)
        if todo:
            infra = [False] * len(todo)
            raw: list[bytes | None] = [None] * len(todo)
            if score == self._score_each:
                scored = await score(name, [records[i] for i in todo], infra, raw=raw, keyed=[i in keys for i in todo])
            else:
                scored = await score(name, [records[i] for i in todo], infra)
            store: list[tuple[bytes, bytes]] = []
            for j, (i, result) in enumerate(zip(todo, scored, strict=True)):
                res[i] = result
                key = keys.get(i)
                if key is None:
                    continue
                if infra[j] or not _storable(result):
                    st.not_stored += 1
                    continue
                store.append((key, raw[j] or _to_json(result)))
            if store:
                try:
                    cache.put_many(store)
                    st.stored += len(store)
                except Exception:  # noqa: BLE001 - a cache that cannot write must not fail the records
                    log.warning("%s: record-cache write failed", name, exc_info=True)
        for i, rep in dups:
            res[i] = res[rep]
        st.dedup_hits += len(dups)
        return res  # type: ignore[return-value]

    async def ascore_records(self, records: Sequence[Record]) -> list[RecordReward]:
        """Score on the current loop (must be the scorer's loop; use :meth:`submit` elsewhere)."""
        names = self._names
        _gc_raise()
        try:
            return await self._ascore_records(names, records)
        finally:
            _gc_restore()

    async def _ascore_records(self, names: list[str], records: Sequence[Record]) -> list[RecordReward]:
        per_fw = await asyncio.gather(*(self._score_framework_all(n, records) for n in names))
        weights = await apply_routes(self.model_routes, names, records, per_fw, self.weights,
                                     self.settings.scheduler.record_timeout_s) if self.model_routes else None
        policy = self.settings.rewards
        rewards = [
            aggregate(rec.id, {n: per_fw[j][i] for j, n in enumerate(names)}, weights[i] if weights else self.weights, policy)
            for i, rec in enumerate(records)
        ]
        if self.pm is not None:
            self.pm.notify("chil_after_batch", records=records, rewards=rewards)
        return rewards

    def submit(self, records: Iterable[Record | Mapping[str, Any]]) -> concurrent.futures.Future[list[RecordReward]]:
        """Start scoring in the background; a malformed record raises :class:`RecordError` here."""
        if self._closed:
            raise RuntimeError("Scorer is closed")
        hold = _GcHold()  # the records made here live until the batch is scored (see GC_THRESHOLD0)
        try:
            recs = [to_record(r, i) for i, r in enumerate(records)]
            future = asyncio.run_coroutine_threadsafe(self._held(hold, recs), self._loop)
        except BaseException:
            hold.release()
            raise
        future.add_done_callback(lambda _: hold.release())  # a batch cancelled before it started
        return future

    async def _held(self, hold: _GcHold, records: list[Record]) -> list[RecordReward]:
        # released here, before the future's result is set: the caller of score() finds the threshold
        # restored when it returns
        try:
            return await self.ascore_records(records)
        finally:
            hold.release()

    def score(self, records: Iterable[Record | Mapping[str, Any]]) -> list[RecordReward]:
        return self.submit(records).result()

    async def ascore(self, records: Iterable[Record | Mapping[str, Any]]) -> list[RecordReward]:
        """Awaitable form for callers that run their own event loop."""
        return await asyncio.wrap_future(self.submit(records))

    def stats(self) -> dict[str, Any]:
        """The scheduler's per-backend stats, the cache's, and ``records:<framework>``: the record cache."""
        out = self.scheduler.stats()
        for name, salt in self.record_salts.items():
            if salt is not None:
                out[f"records:{name}"] = self.record_stats[name].as_dict()
        for name, pool in self.pools.items():
            out[f"workers:{name}"] = pool.stats()
        return out

    # -- lifecycle ----------------------------------------------------------------------------
    def close(self, timeout: float = 30.0) -> None:
        """Finish the calls in flight (up to ``timeout`` s), stop the workers, close the loop.

        Nothing is left pending on the loop when it closes, so the interpreter prints no "Task was
        destroyed but it is pending" / "Event loop is closed" / "Future exception was never retrieved"."""
        if self._closed:
            return
        self._closed = True
        if self._loop.is_running() and self._thread.is_alive():  # not at interpreter shutdown
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(timeout), self._loop).result(timeout=timeout + 10)
            except Exception:  # noqa: BLE001
                log.warning("scorer shutdown did not finish cleanly", exc_info=True)
        for pool in getattr(self, "pools", {}).values():
            pool.close()
        for name, fw in self.frameworks.items():
            try:
                fw.close()
            except Exception:  # noqa: BLE001
                log.warning("framework %s: close() raised", name, exc_info=True)
        self.scheduler.close()
        self._extract_pool.shutdown(wait=False, cancel_futures=True)
        if self.cache is not None:
            try:
                self.cache.close()
            except Exception:  # noqa: BLE001
                log.warning("closing the cache raised", exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._loop.is_running():
            self._loop.close()
        if self.pm is not None:
            try:
                self.pm.notify("chil_shutdown")  # guarded per plugin; raises only in strict mode
            except Exception:  # noqa: BLE001
                log.warning("a chil_shutdown hook raised", exc_info=True)

    async def _shutdown(self, timeout: float) -> None:
        try:
            await asyncio.wait_for(self.scheduler.drain(), timeout)
        except TimeoutError:
            log.warning("calls still running after %gs at shutdown; they are cancelled", timeout)
        except Exception:  # noqa: BLE001
            log.warning("draining the scheduler raised", exc_info=True)
        me = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not me]
        for task in rest:
            task.cancel()
        if rest:
            await asyncio.gather(*rest, return_exceptions=True)

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # best effort; close() explicitly
        if not getattr(self, "_closed", True):
            try:
                self.close()
            except Exception:  # noqa: BLE001
                log.debug("Scorer.__del__: close() raised", exc_info=True)
