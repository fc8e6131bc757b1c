"""Backends on a Ray cluster: a pool of Ray actors per backend, behind the same scheduler.

```toml
[scheduler]
ray_address = "auto"            # or "ray://head:10001", "local" (start one here); or `chil score --ray auto`
[scheduler.backends.z3]
isolation = "ray"               # implied for every thread/process backend when ray_address is set
replicas = 4                    # actors
cpus = 1                        # CPUs per actor (Ray resource request)
memory_mb = 2048                # memory per actor (Ray resource request)
timeout_s = 10
```

The scheduler still deduplicates, answers from the cache and micro-batches; a batch goes to an idle actor
(one batch per actor at a time), so a call's timeout runs from when an actor starts it.  Calls and results
cross to the actors as JSON bytes (no pickled user data).  Failures, each a status for the calls, never an
exception in the caller:

* the backend raises: the batch fails as an error, and the scheduler splits it in halves to find the call;
* a batch overruns ``timeout_s``: its actor is killed and replaced; the scheduler retries the calls one by
  one (one more timeout in all), then reports ``timeout``;
* an actor dies (crash, node lost, killed): it is replaced and the batch retried once on the new actor; a
  second death is reported as ``error`` (and a multi-call batch is split, so that one call that kills its
  actor does not take its neighbours with it).

Nothing here is imported unless a backend runs on Ray; Ray is the optional extra ``chil-core[ray]``.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import orjson

from chil_core.components import Tool
from chil_core.scheduler import BatchFailure

log = logging.getLogger(__name__)

_INIT_LOCK = threading.Lock()


def ensure_ray(address: str | None) -> Any:
    """Connect to (or start) Ray once per process.  ``None`` / ``"local"``: a local instance."""
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("a backend is set to run on Ray, but ray is not installed: pip install 'chil-core[ray]'") from exc
    with _INIT_LOCK:
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False, "include_dashboard": False,
                                      "configure_logging": False}
            if address and address != "local":
                kwargs["address"] = address
            log.info("connecting to Ray (%s)", address or "local")
            ray.init(**kwargs)
    return ray


def ray_address_of(scheduler: Any) -> str | None:
    """The Ray address a scheduler config runs any backend on (``"local"`` for ``isolation = "ray"``
    without an address), or ``None`` when nothing runs on Ray."""
    if scheduler.ray_address:
        return str(scheduler.ray_address)
    for own in scheduler.backends.values():
        if own.ray_address:
            return str(own.ray_address)
        if own.isolation == "ray":
            return "local"
    return None


def connect(address: str) -> Any:
    """Connect up front (a command line's check): a clear :class:`RuntimeError` naming the address when
    Ray is missing or the cluster cannot be reached, instead of every record failing later."""
    try:
        return ensure_ray(address)
    except RuntimeError:
        raise
    except Exception as exc:  # noqa: BLE001 - ray.init raises ConnectionError, ValueError, RuntimeError...
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RuntimeError(f"cannot connect to Ray at {address!r}: {first}") from None


class ToolActor:
    """The body of one Ray actor: one tool instance; batches in and out as JSON bytes."""

    def __init__(self, tool_path: str, options: dict[str, Any]) -> None:
        from chil_core.plugins import load_object

        cls = load_object(tool_path)
        self.tool: Tool = cls(cls.Options.model_validate(options))
        self.tool.start()

    def ready(self) -> int:
        import os

        return os.getpid()

    def run_batch(self, raw: bytes) -> bytes:
        from chil_core.contracts import ToolCall, ToolResult

        calls = [ToolCall(c, o, p) for c, o, p in orjson.loads(raw)]
        out = []
        for item in self.tool.run_batch(calls):
            if isinstance(item, ToolResult):
                out.append((item.status, item.value, item.error))
            else:
                out.append(("ok", item, None))
        return orjson.dumps(out)

    def close(self) -> None:
        self.tool.close()


class RayRunner:
    """A pool of ``replicas`` actors of one backend; the scheduler's batch runner interface
    (``run(calls, timeout)``, raising :class:`BatchFailure`)."""

    def __init__(self, tool_cls: type[Tool], options: dict[str, Any], *, replicas: int = 1, cpus: float = 1.0,
                 memory_mb: int | None = None, address: str | None = None, start_timeout: float = 120.0) -> None:
        self.ray = ensure_ray(address)
        self.name = tool_cls.name
        self.tool_path = f"{tool_cls.__module__}:{tool_cls.__qualname__}"
        self.options = options
        self.replicas = replicas
        opts: dict[str, Any] = {"num_cpus": cpus, "max_restarts": 0, "max_concurrency": 1}
        if memory_mb:
            opts["memory"] = int(memory_mb) * 1024 * 1024
        self.actor_cls = self.ray.remote(ToolActor).options(**opts)
        self.start_timeout = start_timeout
        self.idle: list[Any] = []
        self.live = 0
        self.starting = 0
        self._waiters: list[asyncio.Future[None]] = []
        self.restarts = 0  # actors killed (timeout) or lost (died) and replaced
        self.retried = 0  # batches retried after their actor died
        self.pids: dict[Any, int] = {}
        self._closed = False

    # -- the pool ---------------------------------------------------------------------------
    async def _await(self, ref: Any, timeout: float | None) -> Any:
        return await asyncio.wait_for(asyncio.wrap_future(ref.future()), timeout)

    async def _start(self) -> Any:
        actor = self.actor_cls.remote(self.tool_path, self.options)
        try:
            self.pids[actor] = await self._await(actor.ready.remote(), self.start_timeout)
        except TimeoutError:
            self._kill(actor)
            raise BatchFailure("error", f"Ray actor did not start within {self.start_timeout:g}s", splittable=False) from None
        except self.ray.exceptions.RayError as exc:
            self._kill(actor)
            raise BatchFailure("error", f"backend failed to start in its Ray actor: {_cause(exc)}", splittable=False) from None
        return actor

    async def _acquire(self) -> Any:
        while True:
            if self.idle:
                return self.idle.pop()
            if self.live + self.starting < self.replicas:
                self.starting += 1
                try:
                    actor = await self._start()
                finally:
                    self.starting -= 1
                self.live += 1
                return actor
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _release(self, actor: Any | None) -> None:
        if actor is not None and not self._closed:
            self.idle.append(actor)
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def _kill(self, actor: Any) -> None:
        self.pids.pop(actor, None)
        try:
            self.ray.kill(actor, no_restart=True)
        except Exception:  # noqa: BLE001 - already gone
            log.debug("%s: killing a Ray actor raised", self.name, exc_info=True)

    def _drop(self, actor: Any) -> None:
        """An actor that died or overran: killed and forgotten; the next acquire starts a new one."""
        self._kill(actor)
        self.live -= 1
        self.restarts += 1

    # -- calls ----------------------------------------------------------------------------------
    async def run(self, calls: list[Any], timeout: float) -> list[Any]:
        from chil_core.contracts import ToolResult

        raw = orjson.dumps([(c.capability, c.op, c.payload) for c in calls])
        for attempt in (1, 2):
            actor = await self._acquire()
            keep: Any = actor
            try:
                out = await self._await(actor.run_batch.remote(raw), timeout)
                return [ToolResult(s, v, e) for s, v, e in orjson.loads(out)]
            except TimeoutError:
                keep = None
                self._drop(actor)
                log.warning("%s: a batch of %d call(s) overran %gs; its Ray actor is killed and replaced",
                            self.name, len(calls), timeout)
                raise BatchFailure("timeout", f"backend call exceeded {timeout:g}s; Ray actor killed and replaced") from None
            except self.ray.exceptions.RayTaskError as exc:  # the backend raised: the batch's fault
                if _actor_died(self.ray, exc):
                    keep = None
                    self._drop(actor)
                    if attempt == 1:
                        self.retried += 1
                        log.warning("%s: Ray actor died on a batch of %d call(s); replaced, retrying once", self.name, len(calls))
                        continue
                    raise BatchFailure("error", f"Ray actor died twice on this batch: {_cause(exc)}",
                                       splittable=len(calls) > 1) from None
                raise BatchFailure("error", _cause(exc)) from None
            except self.ray.exceptions.RayError as exc:  # actor died, node lost, object lost
                keep = None
                self._drop(actor)
                if attempt == 1:
                    self.retried += 1
                    log.warning("%s: Ray actor lost on a batch of %d call(s) (%s); replaced, retrying once",
                                self.name, len(calls), type(exc).__name__)
                    continue
                raise BatchFailure("error", f"Ray actor lost twice on this batch: {type(exc).__name__}: {_cause(exc)}",
                                   splittable=len(calls) > 1) from None
            finally:
                self._release(keep)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._closed = True
        for actor in list(self.pids):
            self._kill(actor)
        self.idle.clear()


def _actor_died(ray: Any, exc: Any) -> bool:
    return isinstance(getattr(exc, "cause", None), ray.exceptions.RayActorError)


def _cause(exc: Any) -> str:
    cause = getattr(exc, "cause", None)
    if cause is not None and cause is not exc:
        return f"{type(cause).__name__}: {cause}"
    text = str(exc).strip().splitlines()
    return text[-1] if text else type(exc).__name__


def wait_for_actors(runner: RayRunner, n: int, timeout: float = 60.0) -> None:
    """Test helper: block until ``n`` actors are up (started by calls)."""
    deadline = time.monotonic() + timeout
    while len(runner.pids) < n:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{n} Ray actors did not start within {timeout:g}s")
        time.sleep(0.05)
