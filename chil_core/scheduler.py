"""The asyncio scheduler: every framework's tool calls are deduplicated, looked up in the cache,
micro-batched per backend and run in the backend's isolation, with per-call timeouts.

```
framework ──ctx.call──▶ Backend.call: key → in flight? share it → cached? answer → queue
queue ──(max_batch reached | max_wait elapsed)──▶ batch ──runner (inline | thread | process)──▶ results
a failed batch (timeout, crash, raise) is split in halves and retried, so one hostile call
cannot take 255 good ones down with it; a single failing call becomes a timeout/error status.
```

Timeouts never use signals: thread runners wait on a future, process runners wait on a pipe and
kill/replace the worker when it overruns or dies.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chil_core.cache import Cache, make_key, make_salt
from chil_core.components import Tool
from chil_core.config import BackendRunSettings
from chil_core.contracts import ToolCall, ToolResult, canonical_json

try:
    import orjson as _json

    _dumps, _loads = _json.dumps, _json.loads
except ImportError:  # pragma: no cover
    import json as _json

    def _dumps(v: Any) -> bytes:
        return _json.dumps(v).encode()

    _loads = _json.loads


class BatchFailure(Exception):
    """A whole batch failed (``status`` is 'timeout' or 'error')."""

    def __init__(self, status: str, message: str, *, splittable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: False when the failure is not the calls' fault (a worker that cannot start): no retry.
        self.splittable = splittable


def _as_result(item: Any, backend: str) -> ToolResult:
    if isinstance(item, ToolResult):
        if item.backend is None:
            item.backend = backend
        return item
    return ToolResult("ok", item, None, backend)


# -- runners ------------------------------------------------------------------------------------
class InlineRunner:
    """Runs ``run_batch`` on the event loop: no timeout is possible; for microsecond work only."""

    def __init__(self, factory: Any) -> None:
        self.tool: Tool = factory()

    async def run(self, calls: list[ToolCall], timeout: float) -> list[Any]:
        try:
            return list(self.tool.run_batch(calls))
        except Exception as exc:  # noqa: BLE001
            raise BatchFailure("error", f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self.tool.close()


class ThreadRunner:
    """A thread pool; each thread owns its own tool instance (no shared non-thread-safe handles).

    A batch that overruns its timeout is reported as a timeout and the pool is replaced, so later
    batches never queue behind the stuck thread; that thread cannot be killed and is abandoned, so
    backends that can hang for good should use ``process`` isolation.
    """

    def __init__(self, factory: Any, threads: int, name: str) -> None:
        self.factory = factory
        self.threads = threads
        self.name = name
        self.abandoned = 0
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"chil-{name}")
        self.local = threading.local()
        self.tools: list[Tool] = []
        self._lock = threading.Lock()

    def _run(self, calls: list[ToolCall]) -> list[Any]:
        tool = getattr(self.local, "tool", None)
        if tool is None:
            tool = self.local.tool = self.factory()
            with self._lock:
                self.tools.append(tool)
        return list(tool.run_batch(calls))

    async def run(self, calls: list[ToolCall], timeout: float) -> list[Any]:
        fut = asyncio.get_running_loop().run_in_executor(self.pool, self._run, calls)
        try:
            return await asyncio.wait_for(fut, timeout)
        except TimeoutError:
            self.abandoned += 1
            self.pool.shutdown(wait=False, cancel_futures=False)
            self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=f"chil-{self.name}")
            raise BatchFailure("timeout", f"backend call exceeded {timeout:g}s") from None
        except Exception as exc:  # noqa: BLE001
            raise BatchFailure("error", f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        for tool in self.tools:
            try:
                tool.close()
            except Exception:  # noqa: BLE001
                pass


class _Worker:
    """One worker process and its pipe."""

    def __init__(self, ctx: Any, tool_path: str, options: dict[str, Any], start_timeout: float) -> None:
        from chil_core import _worker

        parent, child = ctx.Pipe()
        self.conn = parent
        self.proc = ctx.Process(target=_worker.serve, args=(child, tool_path, options), daemon=True)
        self.proc.start()
        child.close()
        if not parent.poll(start_timeout):
            self.kill()
            raise BatchFailure("error", f"worker did not start within {start_timeout:g}s", splittable=False)
        try:
            kind, msg = parent.recv()
        except EOFError:
            self.kill()
            raise BatchFailure("error", f"worker died while starting (exit code {self.proc.exitcode})", splittable=False) from None
        if kind != "ready":
            self.kill()
            raise BatchFailure("error", f"backend failed to start in its worker: {msg}", splittable=False)

    def request(self, calls: list[tuple[str, str, dict[str, Any]]], timeout: float) -> list[Any]:
        """Blocking: send a batch and wait for its answer (run in a helper thread)."""
        try:
            self.conn.send(calls)
            if not self.conn.poll(timeout):
                self.kill()
                raise BatchFailure("timeout", f"backend call exceeded {timeout:g}s; worker killed and replaced")
            kind, payload = self.conn.recv()
        except (EOFError, OSError, BrokenPipeError):
            self.proc.join(1)
            code = self.proc.exitcode
            self.kill()
            raise BatchFailure("error", f"worker crashed (exit code {code}); replaced") from None
        if kind == "raise":
            raise BatchFailure("error", str(payload))
        return [ToolResult(s, v, e) for s, v, e in payload]

    @property
    def alive(self) -> bool:
        return self.proc.is_alive()

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        self.conn.close()

    def stop(self) -> None:
        try:
            self.conn.send(None)
            self.proc.join(2)
        except (OSError, BrokenPipeError):
            pass
        self.kill()


class ProcessRunner:
    """A pool of worker processes; a worker that overruns or crashes is killed and replaced."""

    def __init__(self, tool_cls: type[Tool], options: dict[str, Any], workers: int, start_timeout: float = 120.0) -> None:
        self.tool_path = f"{tool_cls.__module__}:{tool_cls.__qualname__}"
        self.options = options
        self.start_timeout = start_timeout
        method = os.environ.get("CHIL_MP_START", "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
        self.ctx = multiprocessing.get_context(method)
        self.size = workers
        self.idle: asyncio.Queue[_Worker | None] | None = None
        self.threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="chil-proc")
        self.all: list[_Worker] = []
        self.restarts = 0

    async def _acquire(self) -> _Worker:
        loop = asyncio.get_running_loop()
        if self.idle is None:
            self.idle = asyncio.Queue()
            for _ in range(self.size):
                self.idle.put_nowait(None)  # a slot with no worker yet
        worker = await self.idle.get()
        if worker is None or not worker.alive:
            try:
                worker = await loop.run_in_executor(self.threads, _Worker, self.ctx, self.tool_path, self.options, self.start_timeout)
            except BaseException:
                self.idle.put_nowait(None)
                raise
            self.all.append(worker)
        return worker

    async def run(self, calls: list[ToolCall], timeout: float) -> list[Any]:
        worker = await self._acquire()
        assert self.idle is not None
        msg = [(c.capability, c.op, c.payload) for c in calls]
        try:
            return await asyncio.get_running_loop().run_in_executor(self.threads, worker.request, msg, timeout)
        finally:
            if not worker.alive:
                self.restarts += 1
            self.idle.put_nowait(worker if worker.alive else None)

    def close(self) -> None:
        for worker in self.all:
            worker.stop()
        self.threads.shutdown(wait=False, cancel_futures=True)


# -- backends -----------------------------------------------------------------------------------
@dataclass
class BackendStats:
    calls: int = 0
    dedup_hits: int = 0
    cache_hits: int = 0
    batches: int = 0
    batched_calls: int = 0
    retried_batches: int = 0
    timeouts: int = 0
    errors: int = 0
    busy_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["mean_batch"] = self.batched_calls / self.batches if self.batches else 0.0
        return d


class Backend:
    """One configured backend: queue, dedup table, cache access and runner."""

    def __init__(self, cls: type[Tool], options: dict[str, Any], run: BackendRunSettings, cache: Cache | None) -> None:
        self.cls = cls
        self.name = cls.name
        self.capability = cls.capability
        self.options = options
        self.run_settings = run
        self.max_batch = int(run.max_batch or cls.max_batch)
        self.max_wait = float(run.max_wait_ms or 0.0) / 1000.0
        self.timeout = float(run.timeout_s or 10.0)
        self.cache = cache if (cache is not None and cls.cacheable and run.cache) else None
        self.salt = make_salt(f"{cls.capability}:{cls.name}", cls.version, canonical_json(options))
        self.stats = BackendStats()
        self._pending: list[tuple[ToolCall, bytes, asyncio.Future[ToolResult]]] = []
        self._inflight: dict[bytes, asyncio.Future[ToolResult]] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._sem: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: Any = None

    def _make_runner(self) -> Any:
        opts_model = self.cls.Options.model_validate(self.options)

        def factory() -> Tool:
            tool = self.cls(opts_model)
            tool.start()
            return tool

        isolation = self.run_settings.isolation or self.cls.isolation
        if isolation == "inline":
            return InlineRunner(factory)
        if isolation == "process":
            return ProcessRunner(self.cls, self.options, int(self.run_settings.workers or 1))
        return ThreadRunner(factory, int(self.run_settings.concurrency or 1), self.name)

    def enqueue(self, call: ToolCall) -> ToolResult | asyncio.Future[ToolResult]:
        """Answer from the cache, join an equal call in flight, or queue the call for the next batch.

        Returns a ToolResult when the answer is known now, else a future shared by equal calls
        (await it through :meth:`call`, or ``asyncio.wait`` it: never cancel it)."""
        self.stats.calls += 1
        if self.cls.ops and call.op not in self.cls.ops:
            return ToolResult(status="error", error=f"backend {self.name!r} has no op {call.op!r}; ops: {', '.join(sorted(self.cls.ops))}", backend=self.name)
        key = make_key(self.salt, call.key())
        shared = self._inflight.get(key)
        if shared is not None:
            self.stats.dedup_hits += 1
            return shared
        if self.cache is not None:
            raw = self.cache.get(key)
            if raw is not None:
                self.stats.cache_hits += 1
                return ToolResult("ok", _loads(raw), None, self.name, True)
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[ToolResult] = loop.create_future()
        self._inflight[key] = fut
        self._pending.append((call, key, fut))
        if len(self._pending) >= self.max_batch:
            self._flush()
        elif self._timer is None:
            if self.max_wait <= 0:
                self._timer = loop.call_soon(self._flush)  # type: ignore[assignment]
            else:
                self._timer = loop.call_later(self.max_wait, self._flush)
        return fut

    async def call(self, call: ToolCall) -> ToolResult:
        answer = self.enqueue(call)
        if isinstance(answer, ToolResult):
            return answer
        return await asyncio.shield(answer)  # a cancelled caller must not cancel a shared call

    def flush(self) -> None:
        """Send what is queued now (bulk callers that know no more calls are coming)."""
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._pending:
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            task = asyncio.get_running_loop().create_task(self._run_batch(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _execute(self, batch: list[tuple[ToolCall, bytes, asyncio.Future[ToolResult]]]) -> list[ToolResult]:
        """Run one batch, splitting it on failure; always returns one result per call."""
        if self._runner is None:
            self._runner = self._make_runner()
        if self._sem is None:
            self._sem = asyncio.Semaphore(int(self.run_settings.concurrency or 1))
        calls = [c for c, _, _ in batch]
        async with self._sem:
            t0 = time.perf_counter()
            try:
                raw = await self._runner.run(calls, self.timeout)
                if len(raw) != len(calls):
                    raise BatchFailure("error", f"backend returned {len(raw)} results for {len(calls)} calls")
                return [_as_result(item, self.name) for item in raw]
            except BatchFailure as failure:
                if len(batch) == 1 or not failure.splittable:
                    if failure.status == "timeout":
                        self.stats.timeouts += len(batch)
                    else:
                        self.stats.errors += len(batch)
                    status = "timeout" if failure.status == "timeout" else "error"
                    return [ToolResult(status=status, error=failure.message, backend=self.name) for _ in batch]
                self.stats.retried_batches += 1
            finally:
                self.stats.busy_s += time.perf_counter() - t0
                self.stats.batches += 1
                self.stats.batched_calls += len(batch)
        mid = len(batch) // 2
        left, right = await asyncio.gather(self._execute(batch[:mid]), self._execute(batch[mid:]))
        return left + right

    async def _run_batch(self, batch: list[tuple[ToolCall, bytes, asyncio.Future[ToolResult]]]) -> None:
        try:
            results = await self._execute(batch)
        except BaseException as exc:  # noqa: BLE001 - never leave a caller waiting
            results = [ToolResult(status="error", error=f"scheduler: {type(exc).__name__}: {exc}", backend=self.name)] * len(batch)
        to_cache: list[tuple[bytes, bytes]] = []
        for (_, key, fut), result in zip(batch, results, strict=True):
            self._inflight.pop(key, None)
            if result.status == "ok" and self.cache is not None:
                try:
                    to_cache.append((key, _dumps(result.value)))
                except TypeError:
                    pass  # not JSON-able: served, not cached
            if not fut.done():
                fut.set_result(result)
        if to_cache and self.cache is not None:
            self.cache.put_many(to_cache)

    async def drain(self) -> None:
        self._flush()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None


class Scheduler:
    """Owns one :class:`Backend` per configured backend and routes calls to them."""

    def __init__(self, cache: Cache | None = None) -> None:
        self.cache = cache
        self.backends: dict[tuple[str, str], Backend] = {}

    def add_backend(self, cls: type[Tool], options: dict[str, Any], run: BackendRunSettings) -> Backend:
        key = (cls.capability, cls.name)
        if key not in self.backends:
            self.backends[key] = Backend(cls, options, run, self.cache)
        return self.backends[key]

    def backend(self, capability: str, name: str) -> Backend | None:
        return self.backends.get((capability, name))

    async def call_many(self, routes: Sequence[tuple[Backend | None, ToolCall]]) -> list[ToolResult]:
        async def one(backend: Backend | None, call: ToolCall) -> ToolResult:
            if backend is None:
                return ToolResult(status="unavailable", error=f"no backend configured for capability {call.capability!r}")
            return await backend.call(call)

        if len(routes) == 1:
            return [await one(*routes[0])]
        return list(await asyncio.gather(*(one(b, c) for b, c in routes)))

    async def drain(self) -> None:
        await asyncio.gather(*(b.drain() for b in self.backends.values()))

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"{cap}:{name}": b.stats.as_dict() for (cap, name), b in self.backends.items()}
        if self.cache is not None:
            out["cache"] = self.cache.stats.as_dict()
        return out

    def close(self) -> None:
        for backend in self.backends.values():
            backend.close()
