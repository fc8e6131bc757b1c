"""The asyncio scheduler: every framework's tool calls are deduplicated, looked up in the cache,
micro-batched per backend and run in the backend's isolation, with per-call timeouts.

```
framework ──ctx.call──▶ Backend.call: key → in flight? share it → cached? answer → queue
queue ──(max_batch reached | max_wait elapsed)──▶ batch ──runner (inline | thread | process)──▶ results
```

Process-isolated backends are fed one call at a time by an elastic pool (:class:`ProcessRunner`):
a call's timeout runs from when a worker starts it, a call that overruns kills only its own worker,
and while a worker is stalled on a slow call a spare one serves its neighbours, so one hostile call
costs its own timeout and nobody else's.  Thread and inline batches that raise are split in halves;
batches that time out are retried call by call (one more timeout in all, not one per halving round).
A failing call becomes a timeout/error status, never an exception in the caller.

Timeouts never use signals: thread runners wait on a future, process runners wait on the pipe's file
descriptor from the event loop and kill/replace the worker when it overruns or dies.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import math
import multiprocessing
import os
import threading
import time
import weakref
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any

import orjson

from chil_core.cache import Cache, make_key, make_salt
from chil_core.components import Tool
from chil_core.config import BackendRunSettings
from chil_core.contracts import ToolCall, ToolResult, canonical_json

_dumps, _loads = orjson.dumps, orjson.loads  # orjson is a hard dependency of the core
_pickle = ForkingPickler.dumps  # what Connection.send does to a message

log = logging.getLogger(__name__)


class BatchFailure(Exception):
    """A whole batch failed (``status`` is 'timeout' or 'error')."""

    def __init__(self, status: str, message: str, *, splittable: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        #: False when the failure is not the calls' fault (a worker that cannot start): no retry.
        self.splittable = splittable


#: the error text of a timeout that the machine, not the call, caused (chil_core.failures counts it as
#: an infrastructure failure: not the completion's doing)
STARVED = "waiting for a CPU"


def _task_stat(task: str) -> tuple[float, float, int, bool] | None:
    """(CPU seconds, seconds spent waiting for a CPU, voluntary context switches, runnable now) of a
    thread or a process's main thread (``task``: ``/proc/<pid>`` or ``/proc/self/task/<tid>``); None
    where the kernel does not say."""
    try:
        with open(f"{task}/schedstat", "rb") as fh:
            cpu_ns, wait_ns = fh.read().split()[:2]
        with open(f"{task}/status", "rb") as fh:
            status = fh.read()
        at = status.index(b"voluntary_ctxt_switches:")
        voluntary = int(status[at + 24 : status.index(b"\n", at)])
        runnable = status[status.index(b"State:") + 6 :].lstrip()[:1] == b"R"
        return int(cpu_ns) / 1e9, int(wait_ns) / 1e9, voluntary, runnable
    except (OSError, IndexError, ValueError):
        return None


def _sched(task: str) -> tuple[float, float, int] | None:
    """:func:`_task_stat` without the state: (CPU seconds, seconds waiting for a CPU, voluntary switches)."""
    got = _task_stat(task)
    return None if got is None else got[:3]


class _RunnableWatch:
    """Samples a worker's thread while it holds a call, to tell how long it sat runnable without a CPU.

    The kernel's wait figure (``_sched``) counts a wait only once the thread runs again, and a
    starved thread at low priority may not run again for most of a second (EEVDF), so a timeout can
    come while most of the starvation is still unreported.  Between two samples where the thread was
    runnable at the first and made no voluntary context switch up to the second, it never slept: the
    interval's time it did not run was spent waiting for a CPU.  An interval with a sleep (I/O, a
    lock, a child process) counts nothing: conservative, as :func:`_starved` is.  Sampled only once
    a call has taken a while (a fast call costs nothing), every sixteenth of its timeout."""

    __slots__ = ("last", "runnable_s", "task")

    def __init__(self, task: str) -> None:
        self.task = task
        self.last: tuple[float, float, int, bool] | None = None  # the first sample starts the count
        self.runnable_s = 0.0

    def sample(self) -> None:
        t = time.monotonic()
        stat = _task_stat(self.task)
        now = None if stat is None else (t, stat[0], stat[2], stat[3])
        last, self.last = self.last, now
        if now is None or last is None or not last[3] or now[2] != last[2]:
            return
        self.runnable_s += max(0.0, (now[0] - last[0]) - (now[1] - last[1]))


def _starved(task: str, before: tuple[float, float, int] | None, timeout: float,
             watch: _RunnableWatch | None = None) -> float | None:
    """When a call overran ``timeout`` because the machine kept its thread from a CPU, how long that
    thread did not run; else None (the call's own doing, as far as anyone can tell).

    Starved: the thread waited at least half the timeout for a CPU (as the kernel counts it, or as
    ``watch`` saw it sampling the thread: the kernel adds a wait still in progress only once the
    thread runs again), or it ran for less than half the timeout without ever blocking (no voluntary
    context switch: it was runnable all along).  Time in which the thread slept (I/O, a lock, a child
    process, sleep) never counts: conservative, a hostile completion cannot pass its own timeout off
    as the machine's."""
    if before is None:
        return None
    after = _sched(task)
    if after is None:
        return None
    ran, waited, blocked = after[0] - before[0], after[1] - before[1], after[2] - before[2]
    if watch is not None:
        watch.sample()
        waited = max(waited, watch.runnable_s)
    if waited >= timeout / 2:
        return waited
    if blocked == 0 and ran < timeout / 2:
        return timeout - ran
    return None


def _timeout_message(timeout: float, waited: float | None, rest: str = "") -> str:
    if waited is None:
        return f"backend call exceeded {timeout:g}s{rest}"
    return (f"backend call exceeded {timeout:g}s while {STARVED} for {waited:.2f}s of it (the machine was "
            f"overloaded: not the call's doing){rest}")


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

    def run_now(self, calls: list[ToolCall]) -> list[Any]:
        try:
            return list(self.tool.run_batch(calls))
        except Exception as exc:  # noqa: BLE001
            log.debug("%s: inline batch of %d call(s) raised", getattr(self.tool, "name", "?"), len(calls), exc_info=True)
            raise BatchFailure("error", f"{type(exc).__name__}: {exc}") from None

    async def run(self, calls: list[ToolCall], timeout: float) -> list[Any]:
        return self.run_now(calls)

    def close(self) -> None:
        self.tool.close()


_start_failures_seen: set[tuple[str, str]] = set()


def _log_start_failure(name: str, message: str) -> None:
    """A backend that cannot start is tried again for every batch (the cause may pass); the same
    failure is a warning once per process and a debug line after that, so a misconfigured backend
    does not flood the log (every call still gets its typed error)."""
    key = (name, message)
    if key in _start_failures_seen:
        log.debug("%s: the backend failed to start (again): %s", name, message)
        return
    if len(_start_failures_seen) < 1024:
        _start_failures_seen.add(key)
    log.warning("%s: the backend failed to start: %s (repeats of this failure are logged at debug level)", name, message)


class _StartFailed(Exception):
    """The backend's ``start`` raised in a runner thread."""


class ThreadRunner:
    """A thread pool; each thread owns its own tool instance (no shared non-thread-safe handles).

    A batch's timeout counts from when its thread has the tool ready: queueing behind other batches
    and starting the backend (``Tool.start``: loading a model, opening a store) are not the batch's
    time.  A backend that does not start within ``start_timeout`` or whose ``start`` raises fails the
    batch as an infrastructure error.  A batch that overruns its timeout is reported as a timeout and
    the pool is replaced, so later batches never queue behind the stuck thread; that thread cannot be
    killed and is abandoned, so backends that can hang for good should use ``process`` isolation.
    """

    def __init__(self, factory: Any, threads: int, name: str, start_timeout: float = 120.0) -> None:
        self.factory = factory
        self.threads = threads
        self.name = name
        self.start_timeout = start_timeout
        self.abandoned = 0
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=f"chil-{name}")
        self.local = threading.local()
        #: live tool instances, weakly: a thread's tool is freed with its thread (a pool replaced after a
        #: timeout used to keep every old thread's tool, e.g. a whole Z3 context, for the rest of the run)
        self.tools: weakref.WeakSet[Tool] = weakref.WeakSet()
        self._lock = threading.Lock()

    def _tool(self) -> Tool:
        tool = getattr(self.local, "tool", None)
        if tool is None:
            try:
                tool = self.factory()
            except Exception as exc:  # noqa: BLE001
                raise _StartFailed(f"{type(exc).__name__}: {exc}") from exc
            self.local.tool = tool
            with self._lock:
                self.tools.add(tool)
        return tool

    def _replace_pool(self) -> None:
        self.abandoned += 1
        self.pool.shutdown(wait=False, cancel_futures=False)
        self.pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix=f"chil-{self.name}")

    async def run(self, calls: list[ToolCall], timeout: float) -> list[Any]:
        loop = asyncio.get_running_loop()
        #: [picked up] then [picked up, started, schedstat path, CPU wait at start], written by the thread
        phase: list[Any] = []

        def job() -> list[Any]:
            phase.append(time.monotonic())
            tool = self._tool()  # start-up, the first time on this thread: not the batch's time
            task = f"/proc/self/task/{threading.get_native_id()}"
            phase.extend((time.monotonic(), task, _sched(task)))
            return list(tool.run_batch(calls))

        cf = self.pool.submit(job)
        fut = _guarded_wrap(loop, cf)
        try:
            done, _ = await asyncio.wait({fut}, timeout=timeout)
            while not done:
                now = time.monotonic()
                if not phase:  # queued behind other batches: the clock has not started
                    done, _ = await asyncio.wait({fut}, timeout=timeout)
                elif len(phase) < 2:  # the thread is starting the backend
                    if now - phase[0] >= self.start_timeout:
                        self._replace_pool()
                        log.warning("%s: the backend did not start within %gs; its thread is abandoned", self.name, self.start_timeout)
                        raise BatchFailure("error", f"backend did not start within {self.start_timeout:g}s", splittable=False)
                    done, _ = await asyncio.wait({fut}, timeout=min(0.05, timeout))
                elif (left := phase[1] + timeout - now) > 0:
                    done, _ = await asyncio.wait({fut}, timeout=left)
                elif cf.done():  # finished in time; the event loop was late to hear of it
                    return cf.result()
                else:
                    raise TimeoutError
            return fut.result()
        except TimeoutError:
            waited = _starved(phase[2], phase[3], timeout) if len(phase) == 4 else None
            self._replace_pool()
            log.warning("%s: a batch of %d call(s) overran %gs%s; its thread is abandoned and the pool replaced",
                        self.name, len(calls), timeout, f" ({STARVED} for {waited:.2f}s)" if waited is not None else "")
            raise BatchFailure("timeout", _timeout_message(timeout, waited)) from None
        except _StartFailed as exc:
            _log_start_failure(self.name, str(exc))
            raise BatchFailure("error", f"backend failed to start: {exc}", splittable=False) from None
        except BatchFailure:
            raise
        except Exception as exc:  # noqa: BLE001
            log.debug("%s: batch of %d call(s) raised", self.name, len(calls), exc_info=True)
            raise BatchFailure("error", f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        for tool in list(self.tools):
            try:
                tool.close()
            except Exception:  # noqa: BLE001
                log.warning("%s: close() raised", self.name, exc_info=True)


def _guarded_wrap(loop: asyncio.AbstractEventLoop, cf: concurrent.futures.Future[Any]) -> asyncio.Future[Any]:
    """An asyncio future for a thread-pool future whose completion is harmless after the loop closes.

    ``run_in_executor`` would call ``loop.call_soon_threadsafe`` from the worker thread when an abandoned
    call finally returns, which raises "Event loop is closed" at exit; here a closed loop is skipped."""
    fut: asyncio.Future[Any] = loop.create_future()

    def settle(done: concurrent.futures.Future[Any]) -> None:
        if fut.done():
            return
        if done.cancelled():
            fut.cancel()
            return
        exc = done.exception()
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(done.result())

    def relay(done: concurrent.futures.Future[Any]) -> None:
        if loop.is_closed():
            if not done.cancelled() and done.exception() is not None:
                log.debug("abandoned call finished after shutdown: %r", done.exception())
            return
        try:
            loop.call_soon_threadsafe(settle, done)
        except RuntimeError:  # closed between the check and the call
            log.debug("result of an abandoned call dropped: the event loop closed")

    cf.add_done_callback(relay)
    fut.add_done_callback(_retrieve)  # an abandoned call's late exception is logged, not "never retrieved"
    return fut


def _retrieve(fut: asyncio.Future[Any]) -> None:
    if not fut.cancelled() and fut.exception() is not None:
        log.debug("background call raised: %r", fut.exception())


#: the send buffer asked for on a worker's pipe (the kernel caps it at net.core.wmem_max)
SEND_BUFFER = 1 << 20


def _widen_send_buffer(conn: Any) -> int:
    """Ask for a :data:`SEND_BUFFER`-byte send buffer on ``conn``'s socket; return how many bytes of
    one message surely fit in it without blocking the sender while nobody reads (half what the kernel
    granted, less a margin for its bookkeeping), 0 where that is not known (then no batch is queued
    behind another: sending it could block the event loop until the worker is done)."""
    import socket

    try:
        sock = socket.socket(fileno=os.dup(conn.fileno()))
    except (OSError, ValueError):
        return 0
    try:
        if sock.family != socket.AF_UNIX:
            return 0
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        return max(0, sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF) // 2 - 16384)
    except OSError:
        return 0
    finally:
        sock.close()


def _unsent(conn: Any) -> int | None:
    """Bytes written to ``conn`` that its reader has not taken yet (Linux ``SIOCOUTQ``), None if unknown."""
    import fcntl
    import termios

    try:
        return int.from_bytes(fcntl.ioctl(conn.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"), "little", signed=True)
    except (OSError, ValueError, AttributeError):
        return None


@dataclass
class _Sent:
    """A batch :meth:`ProcessRunner.send_now` handed to a worker: started at once (``turn`` None), or
    queued behind the batch the worker is running (``turn`` resolves True when it goes on to it,
    False when it never will); or (``single``) one call :meth:`ProcessRunner.send_call` handed to an
    idle worker."""

    proc: _Proc
    turn: asyncio.Future[bool] | None = None
    single: bool = False


async def _readable(conn: Any, timeout: float | None) -> None:
    """Wait until ``conn`` has data (or EOF) without a helper thread; raises TimeoutError."""
    if conn.poll(0):
        return
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    fd = conn.fileno()
    loop.add_reader(fd, lambda: fut.done() or fut.set_result(None))
    try:
        async with asyncio.timeout(timeout):
            await fut
    finally:
        loop.remove_reader(fd)


class _Proc:
    """One worker process and its pipe.  Started in a helper thread (a forkserver round trip blocks);
    everything after that is awaited on the event loop through the pipe's file descriptor."""

    def __init__(self, ctx: Any, tool_path: str, options: dict[str, Any], limits: dict[str, Any]) -> None:
        from chil_core import _worker

        parent, child = ctx.Pipe()
        self.conn = parent
        # a worker does not run the caller's main module again (see _keep_main_out), unless the tool
        # class lives there
        name = None if tool_path.startswith("__main__:") else _WORKER_NAME
        self.proc = ctx.Process(target=_worker.serve, args=(child, tool_path, options, limits), daemon=True, name=name)
        self.proc.start()
        child.close()
        self.busy_since: float | None = None
        #: how long its current work may run before the worker counts as stalled (a batch: longer)
        self.stall_after = 0.25
        #: the worker's scheduler figures (:func:`_sched`) when it was handed its current batch
        self.sched_at_send: tuple[float, float, int] | None = None
        self.calls = 0
        self.niced = False
        #: a batch sent behind the one it is running (:meth:`ProcessRunner.send_now`): resolved True when
        #: the worker has gone on to it, False when it never will (the worker was killed or died)
        self.queued: asyncio.Future[bool] | None = None
        #: whether its current work is a batch (a batch may be queued behind a batch, never behind a
        #: single call: those are the suspects of a batch that failed, each re-run alone)
        self.batch = False
        self.send_room = _widen_send_buffer(parent)

    def deprioritize(self) -> None:
        """Lower the CPU priority of a worker stuck on one call (nice 10): the workers serving its
        neighbours get most of the CPU while it runs out its timeout.  Retired after that call."""
        self.niced = True
        try:
            os.setpriority(os.PRIO_PROCESS, self.proc.pid, 10)
        except (OSError, AttributeError):
            log.debug("could not renice worker %s", self.proc.pid, exc_info=True)

    async def ready(self, timeout: float) -> None:
        try:
            await _readable(self.conn, timeout)
        except TimeoutError:
            self.kill()
            raise BatchFailure("error", f"worker did not start within {timeout:g}s", splittable=False) from None
        try:
            kind, msg = self.conn.recv()
        except (EOFError, OSError):
            self.kill()
            raise BatchFailure("error", f"worker died while starting (exit code {self.proc.exitcode})", splittable=False) from None
        if kind != "ready":
            self.kill()
            raise BatchFailure("error", f"backend failed to start in its worker: {msg}", splittable=False)

    @property
    def alive(self) -> bool:
        return self.proc.is_alive() and not self.conn.closed

    def kill(self) -> None:
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join(5)
        if not self.conn.closed:
            self.conn.close()

    def retire(self) -> None:
        """Ask an idle worker to exit, without waiting for it (it is the fork server's child)."""
        try:
            if not self.conn.closed:
                self.conn.send(None)
                self.conn.close()
        except (OSError, BrokenPipeError, ValueError):
            log.debug("worker %s: pipe already closed at retire; killing it", self.proc.pid)
            self.kill()

    def stop(self) -> None:
        try:
            if not self.conn.closed:
                self.conn.send(None)
            self.proc.join(2)
        except (OSError, BrokenPipeError, ValueError):
            log.debug("worker %s: pipe already closed at stop; killing it", self.proc.pid)
        self.kill()


_PRELOAD: set[str] = set()

#: the name of a backend worker process whose start leaves the caller's main module out
_WORKER_NAME = "chil-backend-worker"


def _keep_main_out() -> None:
    """Start backend workers without the caller's main module.

    A ``spawn`` or ``forkserver`` child runs the parent's main script again (as ``__mp_main__``) before
    it runs its target.  A user's script without ``if __name__ == "__main__":`` would then score its
    data again in every worker, and fail there when it starts a worker of its own; a script fed on
    stdin makes every worker print a ``FileNotFoundError``.  A worker needs nothing from that script: it
    loads its tool by import path.  So the preparation data of a process named :data:`_WORKER_NAME`
    leaves the main module out; every other process (the user's own) is started as before.  Installed
    once, on the first pool."""
    from multiprocessing import spawn

    get = spawn.get_preparation_data
    if getattr(get, "_chil_keeps_main_out", False):
        return

    def get_preparation_data(name: str) -> dict[str, Any]:
        data = get(name)
        if name == _WORKER_NAME:
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    get_preparation_data._chil_keeps_main_out = True  # type: ignore[attr-defined]
    spawn.get_preparation_data = get_preparation_data


class ProcessRunner:
    """An elastic pool of worker processes, fed one call at a time.

    * A call's timeout counts from when a worker starts it, not from when it was queued.
    * A call that overruns kills only its own worker: it alone becomes a ``timeout``; nothing else was
      queued in that worker, so its neighbours never pay for it and nothing is retried.
    * A worker busy for longer than ``stall_s`` (on a batch: :meth:`batch_stall`) no longer counts
      against ``workers``: a fresh worker (up to ``workers + spare_workers``) takes the queued calls,
      so one hostile call cannot stall the
      pool's other calls while it runs out its timeout; once it has been stuck for a second its CPU
      priority is lowered (nice 10) so that it does not slow them down either, and it is retired after
      that call.
    * A worker is replaced after ``max_calls`` calls (0 = never), which bounds what a leaking backend
      can accumulate over a long run.
    """

    per_call = True

    def __init__(self, tool_cls: type[Tool], options: dict[str, Any], workers: int, *, spare_workers: int = 2,
                 stall_s: float = 0.25, max_calls: int = 0, memory_mb: int | None = None,
                 start_timeout: float = 120.0) -> None:
        self.tool_path = f"{tool_cls.__module__}:{tool_cls.__qualname__}"
        self.name = tool_cls.name
        self.options = options
        self.limits = {"memory_mb": memory_mb}
        self.start_timeout = start_timeout
        method = os.environ.get("CHIL_MP_START", "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn")
        self.ctx = multiprocessing.get_context(method)
        _keep_main_out()
        if method == "forkserver":
            # imported once in the fork server, so that a worker starts in a fork (~0.1 s) instead of
            # re-importing the core (~1 s): what makes replacing a stalled worker cheap
            _PRELOAD.update(("chil_core._worker", "chil_core.plugins", "chil_core.contracts", tool_cls.__module__,
                             *getattr(tool_cls, "preload_modules", ())))
            self.ctx.set_forkserver_preload(sorted(_PRELOAD))  # takes effect if the server is not running yet
        self.size = workers
        self.cap = workers + spare_workers
        self.stall_s = stall_s
        self.max_calls = max_calls
        self.idle: list[_Proc] = []
        self.live: set[_Proc] = set()
        self.starting = 0
        self.restarts = 0  # workers killed (timeout, crash) and replaced
        self.recycled = 0  # workers retired after max_calls
        self.surges = 0  # workers started because others were stalled
        self.messages = 0  # calls or batches handed to a worker (one message each): calls / messages is the batching
        self._per_call_s: float | None = None  # recent seconds per call of a worker batch (call_batch)
        self._waiters: list[asyncio.Future[None]] = []
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"chil-{self.name}-start")
        self._closed = False

    # -- the pool ---------------------------------------------------------------------------
    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    async def _start(self) -> _Proc:
        loop = asyncio.get_running_loop()
        proc = await _guarded_wrap(loop, self._threads.submit(_Proc, self.ctx, self.tool_path, self.options, self.limits))
        await proc.ready(self.start_timeout)
        return proc

    async def _acquire(self) -> _Proc:
        loop = asyncio.get_running_loop()
        while True:
            while self.idle:
                proc = self.idle.pop()
                if proc.alive:
                    return proc
                self._discard(proc)
            now = time.monotonic()
            # when each busy worker is (was) stalled: its time waiting for a CPU does not count
            stalled = [self._stall_time(p, now) for p in self.live if p.busy_since is not None]
            for p in self.live:  # stuck for long (not merely slowed by a busy machine): let the others run
                if p.busy_since is not None and not p.niced and now - p.busy_since >= max(1.0, 4 * p.stall_after):
                    p.deprioritize()
            active = len(self.live) + self.starting - sum(1 for t in stalled if t <= now)
            if active < self.size and len(self.live) + self.starting < self.cap:
                if active + sum(1 for t in stalled if t <= now) >= self.size:
                    self.surges += 1
                self.starting += 1
                try:
                    proc = await self._start()
                finally:
                    self.starting -= 1
                    self._wake()
                self.live.add(proc)
                return proc
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            upcoming = [t - now for t in stalled if t > now]
            try:
                async with asyncio.timeout(min(upcoming) if upcoming else None):
                    await waiter
            except TimeoutError:
                pass  # a worker just became stalled: look again

    def _stalled(self, exclude: _Proc) -> bool:
        now = time.monotonic()
        return any(p is not exclude and p.busy_since is not None and self._stall_time(p, now) <= now for p in self.live)

    def _stall_time(self, proc: _Proc, now: float) -> float:
        """When busy ``proc`` counts as stalled (a time in the past once it does): after ``stall_after``
        seconds charged to its work (:meth:`_charged`; the kernel is asked only once the clock has
        passed that, as charged time never exceeds it)."""
        assert proc.busy_since is not None
        elapsed = now - proc.busy_since
        if elapsed < proc.stall_after:
            return proc.busy_since + proc.stall_after
        return now + proc.stall_after - self._charged(proc, elapsed)

    def _discard(self, proc: _Proc) -> None:
        self.live.discard(proc)
        proc.kill()

    def _release(self, proc: _Proc) -> None:
        proc.busy_since = None
        if not proc.alive:
            self.restarts += 1
            self._discard(proc)
        elif self._closed:
            self.live.discard(proc)
            proc.stop()
        elif proc.niced or (self.max_calls and proc.calls >= self.max_calls):
            self.recycled += 1
            self.live.discard(proc)
            proc.stop()
        elif len(self.live) > self.size and not self._stalled(exclude=proc):
            self.live.discard(proc)  # a spare started for a stall that is over: back to `workers`
            proc.retire()
        else:
            self.idle.append(proc)
        self._wake()

    # -- calls ----------------------------------------------------------------------------------
    def _begin_call(self, proc: _Proc) -> None:
        """``proc`` is about to be sent one call."""
        proc.busy_since = time.monotonic()
        proc.stall_after = self.stall_s
        proc.calls += 1
        proc.batch = False
        proc.sched_at_send = _sched(f"/proc/{proc.proc.pid}")  # before the send: the worker may take the call and block at once

    def send_call(self, call: ToolCall) -> _Proc | None:
        """Hand one call to an idle worker at once, from synchronous code (then await its answer with
        :meth:`call`, ``sent=``); None when no worker is idle or the send failed (:meth:`call` then
        acquires one as usual).  A call queued while the event loop is busy (a scorer starting a batch
        of records) then runs beside the loop's work instead of after it."""
        try:
            buf = _pickle([(call.capability, call.op, call.payload)])
        except Exception:  # noqa: BLE001 - a payload that does not pickle: the usual path reports it
            return None
        while self.idle:
            proc = self.idle.pop()
            if not proc.alive:
                self._discard(proc)
                continue
            self._begin_call(proc)
            try:
                proc.conn.send_bytes(buf)
            except Exception:  # noqa: BLE001 - a broken pipe: the call waits for a worker instead
                log.debug("%s: could not hand a call to an idle worker; it waits for one instead", self.name, exc_info=True)
                proc.kill()
                self._release(proc)
                return None
            return proc
        return None

    async def call(self, call: ToolCall, timeout: float, on_start: Any = None, sent: _Proc | None = None) -> ToolResult:
        """Run one call in a worker; every failure is a status.  ``on_start(t)`` is told the
        (monotonic) time a worker took the call.  ``sent``: the worker :meth:`send_call` already
        handed it to (its timeout counts from then)."""
        if sent is None:
            proc = await self._acquire()  # a worker that is ready: its start-up is not this call's time
            self._begin_call(proc)
        else:
            proc = sent
        started = proc.busy_since
        assert started is not None
        if on_start is not None:
            on_start(started)
        task = f"/proc/{proc.proc.pid}"
        before = proc.sched_at_send
        try:
            if sent is None:
                proc.conn.send([(call.capability, call.op, call.payload)])
                self.messages += 1
            watch = _RunnableWatch(task)
            end = started + timeout
            step = min(1.0, max(0.02, timeout / 16))  # the watch's samples: two small /proc reads each
            while True:
                try:
                    await _readable(proc.conn, min(step, max(0.0, end - time.monotonic())))
                    break
                except TimeoutError:
                    if proc.conn.poll(0):  # answered in time; the event loop was late to hear of it
                        break
                    if time.monotonic() >= end:
                        raise
                    watch.sample()
            kind, payload = proc.conn.recv()
        except TimeoutError:
            waited = _starved(task, before, timeout, watch)
            proc.kill()
            return ToolResult(status="timeout", error=_timeout_message(timeout, waited, "; worker killed and replaced"))
        except (EOFError, OSError, BrokenPipeError):
            proc.proc.join(1)
            code = proc.proc.exitcode
            proc.kill()
            return ToolResult(status="error", error=f"worker crashed (exit code {code}); replaced")
        finally:
            self._release(proc)
        if kind == "raise":
            return ToolResult(status="error", error=str(payload))
        status, value, error = payload[0]
        return ToolResult(status, value, error)

    def send_now(self, calls: list[ToolCall]) -> _Sent | None:
        """Hand ``calls`` (one batch) to a worker at once, from synchronous code (then await the answer
        with :meth:`call_batch`); None when no worker can take it or the send failed (:meth:`call_batch`
        then acquires one as usual).  A batch filled while the event loop is busy (a scorer queueing
        hundreds of records) then starts at once instead of after everything else the loop has to do:
        the worker and the loop run side by side.

        With no idle worker, the batch may be queued behind the batch a worker is running
        (:meth:`_queue_target`): the worker goes straight on to it, instead of sleeping until the event
        loop has read its answer and sent the next (on a busy loop, most of a batch's time), and a
        worker that does not sleep is not woken onto the event loop's own CPU.  Only where the whole
        message fits in the pipe's send buffer (sending never blocks), behind a batch that is not
        stalled, one batch deep."""
        proc = None
        while self.idle:
            candidate = self.idle.pop()
            if candidate.alive:
                proc = candidate
                break
            self._discard(candidate)
        msg = [(c.capability, c.op, c.payload) for c in calls]
        if proc is None:
            behind = self._queue_target()
            if behind is None:
                return None
            try:
                buf = _pickle(msg)
            except Exception:  # noqa: BLE001 - a payload that does not pickle: the usual path reports it
                return None
            unsent = _unsent(behind.conn)  # (the batch it runs, when the worker has not read all of it yet)
            if unsent is None or unsent + len(buf) > behind.send_room:
                return None
            try:
                behind.conn.send_bytes(buf)
                self.messages += 1
            except Exception:  # noqa: BLE001 - a broken pipe: the batch it runs finds out, this one waits for a worker
                log.debug("%s: could not queue a batch behind a busy worker", self.name, exc_info=True)
                return None
            behind.queued = asyncio.get_running_loop().create_future()
            behind.calls += len(calls)
            return _Sent(behind, behind.queued)
        proc.busy_since = time.monotonic()
        proc.stall_after = self.batch_stall(len(calls))
        proc.calls += len(calls)
        proc.batch = True
        proc.sched_at_send = _sched(f"/proc/{proc.proc.pid}")
        try:
            proc.conn.send(msg)
            self.messages += 1
        except Exception:  # noqa: BLE001 - a pipe that broke, a payload that does not pickle: the usual path reports it
            log.debug("%s: could not hand a batch to an idle worker; it waits for one instead", self.name, exc_info=True)
            proc.kill()
            self._release(proc)
            return None
        return _Sent(proc)

    def _queue_target(self) -> _Proc | None:
        """A worker a batch may be queued behind: running a batch (not a single call), none queued
        behind it yet, not stalled, not deprioritized; the one that started first."""
        now = time.monotonic()
        best = None
        for p in self.live:
            if (p.busy_since is not None and p.batch and p.queued is None and not p.niced and p.send_room > 0
                    and now - p.busy_since < p.stall_after and p.alive and (best is None or p.busy_since < best.busy_since)):
                best = p
        return best

    def _done_with(self, proc: _Proc, answered: bool) -> None:
        """A batch's reader is done with ``proc``: the worker goes on to the batch queued behind (its
        reader takes over), else back to the pool.  When the worker is gone, or its answer was not read
        (cancelled), the batch queued behind is told to find another worker, and a live worker whose
        pipe holds an answer nobody will read is killed."""
        nxt, proc.queued = proc.queued, None
        if nxt is not None:
            if answered and proc.alive and not nxt.done():
                proc.busy_since = time.monotonic()
                nxt.set_result(True)
                return
            if not nxt.done():
                nxt.set_result(False)
            if proc.alive:
                proc.kill()
        elif not answered and proc.alive:
            proc.kill()
        self._release(proc)

    async def call_batch(self, calls: list[ToolCall], timeout: float, on_start: Any = None,
                         sent: _Sent | None = None) -> list[ToolResult] | None:
        """Run ``calls`` as one batch in one worker (backends with ``worker_batch``: their
        ``run_batch`` decides a batch in one solver invocation).  The batch gets a short deadline,
        :meth:`batch_deadline`, and None comes back when it overruns it (the worker is killed),
        crashes or raises: the caller then runs each call alone with :meth:`call`, so a hostile call
        costs its own timeout and delays its batch-mates by the deadline only.  ``sent``: where
        :meth:`send_now` already handed the batch (a batch queued behind another starts, and its
        deadline counts, from when its worker is done with the one before; should that worker die
        first, the batch goes to another); ``on_start(t)`` is told when a worker took it."""
        n = len(calls)
        if sent is not None and sent.turn is not None:
            if not await sent.turn:
                return await self.call_batch(calls, timeout, on_start)  # its worker died first: never started
            proc = sent.proc
            proc.busy_since = time.monotonic()
            proc.stall_after = self.batch_stall(n)
            proc.batch = True
            proc.sched_at_send = _sched(f"/proc/{proc.proc.pid}")
        elif sent is not None:
            proc = sent.proc
        else:
            proc = await self._acquire()
            proc.busy_since = time.monotonic()
            proc.stall_after = self.batch_stall(n)
            proc.calls += n
            proc.batch = True
        started = proc.busy_since
        assert started is not None
        if on_start is not None:
            on_start(started)
        deadline = self.batch_deadline(timeout, n)
        answered = False
        try:
            if sent is None:
                proc.sched_at_send = _sched(f"/proc/{proc.proc.pid}")
                proc.conn.send([(c.capability, c.op, c.payload) for c in calls])
                self.messages += 1
            wait_s = deadline
            while True:
                try:
                    await _readable(proc.conn, wait_s)
                    break
                except TimeoutError:
                    if proc.conn.poll(0):  # answered in time; the event loop was late to hear of it
                        break
                    # Time the worker spent waiting for a CPU is not the batch's: on a loaded machine
                    # an ordinary batch is not a stall (killing it re-ran every call alone).
                    elapsed = time.monotonic() - started
                    charged = self._charged(proc, elapsed)
                    if charged >= deadline or elapsed >= timeout:
                        raise
                    wait_s = max(deadline - charged, 0.05)
            kind, payload = proc.conn.recv()
            answered = True
        except TimeoutError:
            proc.kill()
            log.info("%s: a batch of %d call(s) overran its %gs deadline; worker replaced, each call re-run alone",
                     self.name, n, deadline)
            return None
        except (EOFError, OSError, BrokenPipeError):
            proc.proc.join(1)
            log.info("%s: worker crashed (exit code %s) on a batch of %d call(s); each call re-run alone",
                     self.name, proc.proc.exitcode, n)
            proc.kill()
            return None
        finally:
            self._done_with(proc, answered)
        if kind == "raise" or len(payload) != n:
            log.info("%s: a batch of %d call(s) failed in its worker; each call re-run alone: %s", self.name, n,
                     str(payload)[:300])
            return None
        per_call = (time.monotonic() - started) / n
        self._per_call_s = per_call if self._per_call_s is None else 0.8 * self._per_call_s + 0.2 * per_call
        return [ToolResult(status, value, error) for status, value, error in payload]

    @staticmethod
    def _charged(proc: _Proc, elapsed: float) -> float:
        """The part of ``elapsed`` (seconds since the worker was handed its call or batch) that the work
        is charged with: all of it but the time the worker waited for a CPU (where the kernel says)."""
        now = _sched(f"/proc/{proc.proc.pid}")
        if now is None or proc.sched_at_send is None:
            return elapsed
        return elapsed - max(0.0, now[1] - proc.sched_at_send[1])

    def batch_stall(self, n: int) -> float:
        """How long a worker may run a batch of ``n`` calls before it counts as stalled (a spare then
        takes the queued batches): half its deadline, at least ``stall_s`` -- twice what such a batch
        has recently taken, so that on a loaded machine an ordinary batch does not start a spare
        worker (one more process competing for the same cores)."""
        return max(self.stall_s, self.batch_deadline(math.inf, n) / 2)

    def batch_deadline(self, timeout: float, n: int) -> float:
        """How long a batch of ``n`` calls may run before it is taken for a stall: four times what such
        a batch has recently taken (so a loaded machine does not turn ordinary batches into re-runs),
        at least ``max(0.5 s, 2 * stall_s)``, at most the call timeout.  Time the worker spends
        waiting for a CPU does not count (:meth:`_charged`), within the call timeout of clock time."""
        typical = 4 * n * (self._per_call_s or 0.0)
        return min(timeout, max(0.5, 2 * self.stall_s, typical))

    def close(self) -> None:
        self._closed = True
        for proc in list(self.live):
            proc.stop()
        self.live.clear()
        self.idle.clear()
        self._threads.shutdown(wait=False, cancel_futures=True)


# -- backends -----------------------------------------------------------------------------------
@dataclass
class BackendStats:
    """One backend's counters (``Scorer.stats()["<capability>:<backend>"]``).  ``busy_s`` sums the time
    of every batch, or of every call of a process-isolated backend fed one call a message, from sent to
    answered: calls that run at once (several workers, a batch's calls in flight together) each count,
    so it can exceed the wall time.  ``mean_batch`` is calls a scheduler batch; with process isolation,
    ``worker_messages`` (:class:`ProcessRunner`) says how many messages the workers were handed for them."""

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


class _Slot:
    """One distinct call on its way to a backend: equal calls (in flight at the same time) share it.

    ``result`` is set when the call is answered; ``waiter`` is done by then.  For batch runners
    (inline, thread) the waiter is the batch's one future, shared by every slot of the batch (a batch
    is answered all at once); for per-call runners (process) each slot has its own."""

    __slots__ = ("call", "key", "result", "started", "waiter")

    def __init__(self, call: ToolCall, key: bytes, waiter: asyncio.Future[None]) -> None:
        self.call = call
        self.key = key
        self.waiter = waiter
        self.result: ToolResult | None = None
        #: when a worker took the call (monotonic; process runners only), None before
        self.started: float | None = None


#: what :meth:`Backend.enqueue` answers: the result now, or the slot that will hold it
Answer = ToolResult | _Slot


async def wait_all(waiters: set[asyncio.Future[None]] | list[asyncio.Future[None]], timeout: float | None = None) -> None:
    """Wait for slot waiters without ever cancelling them (they are shared by other callers)."""
    pending = [w for w in waiters if not w.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout)


class Backend:
    """One configured backend: queue, dedup table, cache access and runner.

    Per call the hot path allocates only its slot (and its result): the cache is read once per
    ``enqueue_many``, a thread batch shares one future, and an inline backend asked to run now
    (:meth:`enqueue_many` with ``now=True``) answers in the caller, with no future or task at all."""

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
        self.isolation = run.isolation or cls.isolation
        self.per_call = self.isolation == "process"
        self.stats = BackendStats()
        self._pending: list[_Slot] = []
        self._batch_waiter: asyncio.Future[None] | None = None  # shared by the slots of the open batch
        self._inflight: dict[bytes, _Slot] = {}
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._sem: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: Any = None

    def _make_runner(self) -> Any:
        opts_model = self.cls.Options.model_validate(self.options)

        def factory() -> Tool:
            tool = self.cls(opts_model)
            tool.start()
            return tool

        if self.isolation == "inline":
            return InlineRunner(factory)
        if self.isolation == "ray":  # a pool of Ray actors (chil_core.ray_backend; Ray is imported only here)
            from chil_core.ray_backend import RayRunner

            r = self.run_settings
            return RayRunner(self.cls, self.options, replicas=int(r.replicas or 1), cpus=float(r.cpus or 1.0),
                             memory_mb=r.memory_mb, address=r.ray_address)
        if self.isolation == "process":
            r = self.run_settings
            return ProcessRunner(self.cls, self.options, int(r.workers or 1), spare_workers=int(r.spare_workers or 0),
                                 stall_s=float(r.stall_s or 0.25), max_calls=int(r.worker_max_calls or 0),
                                 memory_mb=r.memory_mb or getattr(self.cls, "memory_mb", None))
        return ThreadRunner(factory, int(self.run_settings.concurrency or 1), self.name)

    def _runner_or_failure(self) -> ToolResult | None:
        """Make the runner if needed; a backend that cannot be built answers every call with an
        infrastructure error (never an exception that would leave its callers waiting)."""
        if self._runner is None:
            try:
                self._runner = self._make_runner()
            except Exception as exc:  # noqa: BLE001
                log.error("%s: the backend failed to start", self.name, exc_info=True)
                return ToolResult(status="error", error=f"backend failed to start: {type(exc).__name__}: {exc}", backend=self.name)
        return None

    # -- queueing --------------------------------------------------------------------------------
    def enqueue(self, call: ToolCall) -> ToolResult | asyncio.Future[ToolResult]:
        """Answer from the cache, join an equal call in flight, or queue the call for the next batch.

        Returns a ToolResult when the answer is known now, else a future of it (await it, or
        ``asyncio.wait`` it; it is this caller's own, cancelling it cancels nothing else).  The hot
        paths use :meth:`enqueue_many`, which hands out the shared slots instead (no future per call)."""
        answer = self.enqueue_many([call])[0]
        if type(answer) is ToolResult:
            return answer
        fut: asyncio.Future[ToolResult] = asyncio.get_running_loop().create_future()

        def relay(_: object, slot: _Slot = answer) -> None:  # type: ignore[assignment]
            if not fut.done():
                fut.set_result(slot.result)  # type: ignore[arg-type]

        if answer.waiter.done():
            relay(None)
        else:
            answer.waiter.add_done_callback(relay)
        return fut

    def enqueue_many(self, calls: Sequence[ToolCall], now: bool = False) -> list[Answer]:
        """:meth:`enqueue` for many calls at once (one cache read for all of them).

        ``now``: the caller has no more calls coming (the scorer's bulk path): the queue is flushed, and
        an inline backend answers here and now (no future, no task; ``run_batch`` was going to run on
        the event loop anyway)."""
        n = len(calls)
        self.stats.calls += n
        out: list[Answer | None] = [None] * n
        keys: list[bytes] = []
        fresh: list[int] = []  # indices of the calls that are neither in flight nor repeated here
        seen: dict[bytes, int] = {}
        repeats: list[tuple[int, int]] = []
        ops, salt, inflight = self.cls.ops, self.salt, self._inflight
        for i, call in enumerate(calls):
            if ops and call.op not in ops:
                out[i] = ToolResult(status="error", error=f"backend {self.name!r} has no op {call.op!r}; ops: {', '.join(sorted(ops))}", backend=self.name)
                keys.append(b"")
                continue
            key = make_key(salt, call.key())
            keys.append(key)
            shared = inflight.get(key)
            if shared is not None:
                out[i] = shared
                continue
            first = seen.get(key)
            if first is not None:
                repeats.append((i, first))
                continue
            seen[key] = i
            fresh.append(i)
        self.stats.dedup_hits += len(repeats) + sum(1 for a in out if type(a) is _Slot)
        if fresh and self.cache is not None:
            raws = self.cache.get_many([keys[i] for i in fresh])
            missing = []
            for i, raw in zip(fresh, raws, strict=True):
                if raw is None:
                    missing.append(i)
                else:
                    self.stats.cache_hits += 1
                    out[i] = ToolResult("ok", _loads(raw), None, self.name, True)
            fresh = missing
        if fresh:
            if now and self.isolation == "inline" and not self._pending:
                self._run_inline(calls, keys, fresh, out)
            else:
                self._queue(calls, keys, fresh, out)
                if now:
                    self._flush()
        for i, first in repeats:
            out[i] = out[first]
        return out  # type: ignore[return-value]

    def _queue(self, calls: Sequence[ToolCall], keys: list[bytes], fresh: list[int], out: list[Answer | None]) -> None:
        loop = asyncio.get_running_loop()
        runner = self._runner
        # a process backend fed one call at a time, with a worker idle and nothing queued before: the
        # call goes to the worker now, not at the next flush (which comes after whatever else the event
        # loop has to do first: parsing the rest of a batch's records)
        direct = (self.per_call and not self._pending and type(runner) is ProcessRunner and bool(runner.idle)
                  and not getattr(self.cls, "worker_batch", False))
        for i in fresh:
            if self.per_call:
                waiter = loop.create_future()
            else:
                waiter = self._batch_waiter
                if waiter is None:
                    waiter = self._batch_waiter = loop.create_future()
            slot = _Slot(calls[i], keys[i], waiter)
            self._inflight[slot.key] = slot
            out[i] = slot
            if direct:
                proc = runner.send_call(slot.call)
                if proc is not None:
                    slot.started = proc.busy_since
                    task = loop.create_task(self._run_batch([slot], None, _Sent(proc, single=True)))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                    direct = bool(runner.idle)
                    continue
                direct = False
            self._pending.append(slot)
            if len(self._pending) >= self.max_batch:
                self._flush()
        if self._pending and self._timer is None:
            if self.max_wait <= 0:
                self._timer = loop.call_soon(self._flush)
            else:
                self._timer = loop.call_later(self.max_wait, self._flush)

    def _run_inline(self, calls: Sequence[ToolCall], keys: list[bytes], fresh: list[int], out: list[Answer | None]) -> None:
        """Run the ``fresh`` calls on an inline backend now, in batches of ``max_batch``."""
        failed = self._runner_or_failure()
        to_cache: list[tuple[bytes, bytes]] = []
        for start in range(0, len(fresh), self.max_batch):
            part = fresh[start : start + self.max_batch]
            if failed is not None:
                results = [failed] * len(part)
                self.stats.errors += len(part)
            else:
                results = self._execute_inline([calls[i] for i in part])
            for i, result in zip(part, results, strict=True):
                out[i] = result
                if result.status == "ok":
                    if self.cache is not None:
                        try:
                            to_cache.append((keys[i], _dumps(result.value)))
                        except TypeError:
                            log.debug("%s: result is not JSON-able: served, not cached", self.name)
                elif result.status == "timeout":
                    self.stats.timeouts += 1
        self._write_cache(to_cache)

    def _execute_inline(self, calls: list[ToolCall]) -> list[ToolResult]:
        """One inline batch, failures isolated as :meth:`_execute` does (a batch that raises is split in
        halves; an inline backend has no timeout)."""
        t0 = time.perf_counter()
        try:
            raw = self._runner.run_now(calls)
            if len(raw) != len(calls):
                raise BatchFailure("error", f"backend returned {len(raw)} results for {len(calls)} calls")
            name = self.name
            return [_as_result(item, name) for item in raw]
        except BatchFailure as failure:
            if len(calls) == 1 or not failure.splittable:
                self.stats.errors += len(calls)
                log.info("%s: %d call(s) failed: error: %s", self.name, len(calls), failure.message)
                return [ToolResult(status="error", error=failure.message, backend=self.name) for _ in calls]
            self.stats.retried_batches += 1
            log.info("%s: a batch of %d call(s) failed (error); retrying in halves", self.name, len(calls))
        finally:
            self.stats.busy_s += time.perf_counter() - t0
            self.stats.batches += 1
            self.stats.batched_calls += len(calls)
        mid = len(calls) // 2
        return self._execute_inline(calls[:mid]) + self._execute_inline(calls[mid:])

    async def call(self, call: ToolCall) -> ToolResult:
        answer = self.enqueue_many([call])[0]
        if type(answer) is ToolResult:
            return answer
        if not answer.waiter.done():
            await asyncio.shield(answer.waiter)  # a cancelled caller must not cancel a shared call
        return answer.result  # type: ignore[return-value]

    def running_s(self, call: ToolCall) -> float | None:
        """How long a worker has been running ``call`` (an equal call in flight), in seconds; None
        while it still waits for a worker.  Only process-isolated backends know when a worker took a
        call: for the others, and for a call not in flight (answered, or never queued), ``inf``."""
        if not self.per_call:
            return math.inf
        slot = self._inflight.get(make_key(self.salt, call.key()))
        if slot is None:
            return math.inf
        return None if slot.started is None else time.monotonic() - slot.started

    def flush(self) -> None:
        """Send what is queued now (bulk callers that know no more calls are coming)."""
        self._flush()

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        waiter, self._batch_waiter = self._batch_waiter, None
        if len(pending) <= self.max_batch:  # always, as queued (a full batch is flushed at once)
            job = self._run_batch(pending, waiter, self._send_now(pending))
        else:
            job = self._run_batches([pending[i : i + self.max_batch] for i in range(0, len(pending), self.max_batch)], waiter)
        task = asyncio.get_running_loop().create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _send_now(self, batch: list[_Slot]) -> _Sent | None:
        """A worker batch handed to a worker right now (:meth:`ProcessRunner.send_now`: started at once,
        or queued behind the batch a worker is running), or None."""
        runner = self._runner
        if not (self.per_call and len(batch) > 1 and getattr(self.cls, "worker_batch", False) and isinstance(runner, ProcessRunner)):
            return None
        sent = runner.send_now([slot.call for slot in batch])
        if sent is not None and sent.turn is None:
            for slot in batch:
                slot.started = sent.proc.busy_since
        return sent

    async def _run_batches(self, batches: list[list[_Slot]], waiter: asyncio.Future[None] | None) -> None:
        try:
            await asyncio.gather(*(self._run_batch(batch, None) for batch in batches))
        finally:
            if waiter is not None:
                _wake(waiter)

    async def _execute(self, calls: list[ToolCall]) -> list[ToolResult]:
        """Run one batch (thread/inline runners), isolating failures; always one result per call.

        A batch that raises is split in halves (raising is fast, so halving finds the culprit in a few
        rounds).  A batch that times out is retried call by call, all at once: each call gets one
        timeout of its own, so the retry costs one more timeout in all, however large the batch and
        however many hostile calls it holds, instead of one timeout per halving round."""
        if self._sem is None:
            self._sem = asyncio.Semaphore(int(self.run_settings.concurrency or 1))
        async with self._sem:
            t0 = time.perf_counter()
            try:
                raw = await self._runner.run(calls, self.timeout)
                if len(raw) != len(calls):
                    raise BatchFailure("error", f"backend returned {len(raw)} results for {len(calls)} calls")
                return [_as_result(item, self.name) for item in raw]
            except BatchFailure as failure:
                if len(calls) == 1 or not failure.splittable:
                    if failure.status != "timeout":  # (timeouts are counted where each result settles)
                        self.stats.errors += len(calls)
                    status = "timeout" if failure.status == "timeout" else "error"
                    log.info("%s: %d call(s) failed: %s: %s", self.name, len(calls), status, failure.message)
                    return [ToolResult(status=status, error=failure.message, backend=self.name) for _ in calls]
                self.stats.retried_batches += 1
                log.info("%s: a batch of %d call(s) failed (%s); retrying %s", self.name, len(calls), failure.status,
                         "each call alone" if failure.status == "timeout" else "in halves")
                by_call = failure.status == "timeout"
            finally:
                self.stats.busy_s += time.perf_counter() - t0
                self.stats.batches += 1
                self.stats.batched_calls += len(calls)
        if by_call:
            parts = await asyncio.gather(*(self._execute([call]) for call in calls))
            return [r for part in parts for r in part]
        mid = len(calls) // 2
        left, right = await asyncio.gather(self._execute(calls[:mid]), self._execute(calls[mid:]))
        return left + right

    def _settle(self, slot: _Slot, result: ToolResult, to_cache: list[tuple[bytes, bytes]]) -> None:
        if result.backend is None:
            result.backend = self.name
        if self._inflight.get(slot.key) is slot:
            del self._inflight[slot.key]
        if result.status == "ok":
            if self.cache is not None:
                try:
                    to_cache.append((slot.key, _dumps(result.value)))
                except TypeError:
                    log.debug("%s: result is not JSON-able: served, not cached", self.name)
        elif result.status == "timeout":
            self.stats.timeouts += 1  # the backend's own time limits count too (a solver giving up)
        if slot.result is None:
            slot.result = result

    async def _run_one(self, slot: _Slot, to_cache: list[tuple[bytes, bytes]], sent: _Proc | None = None) -> None:
        t0 = time.perf_counter()
        try:
            # (with ``sent``, ``slot.started`` was set when the call was handed over: the same time)
            result = await self._runner.call(slot.call, self.timeout, on_start=lambda t: setattr(slot, "started", t), sent=sent)
        except BaseException as exc:  # noqa: BLE001 - never leave a caller waiting
            if not isinstance(exc, BatchFailure):
                log.error("%s: scheduler error on one call", self.name, exc_info=True)
            result = ToolResult(status="error", error=getattr(exc, "message", None) or f"scheduler: {type(exc).__name__}: {exc}")
            if isinstance(exc, asyncio.CancelledError):
                self._settle(slot, result, to_cache)
                _wake(slot.waiter)
                raise
        finally:
            self.stats.busy_s += time.perf_counter() - t0
        if result.status == "error":
            self.stats.errors += 1
        self._settle(slot, result, to_cache)
        _wake(slot.waiter)

    async def _run_worker_batch(self, batch: list[_Slot], to_cache: list[tuple[bytes, bytes]], sent: _Sent | None = None) -> None:
        """A process-isolated ``worker_batch`` backend: the whole batch in one worker message; when
        that batch overruns its deadline, crashes or raises, each call is re-run alone (its own
        worker turn, its own timeout), so only the culprit fails.  ``sent``: where :meth:`_send_now`
        handed the batch."""
        self.stats.batches += 1
        self.stats.batched_calls += len(batch)
        t0 = time.perf_counter()

        def started(t: float) -> None:
            for slot in batch:
                slot.started = t

        try:
            results = await self._runner.call_batch([slot.call for slot in batch], self.timeout, on_start=started, sent=sent)
        except BatchFailure as failure:  # no worker could start: every call fails alike
            results = [ToolResult(status="error", error=failure.message) for _ in batch]
        finally:
            self.stats.busy_s += time.perf_counter() - t0
        if results is None:
            self.stats.retried_batches += 1
            await asyncio.gather(*(self._run_one(slot, to_cache) for slot in batch))
            return
        for slot, result in zip(batch, results, strict=True):
            if result.status == "error":
                self.stats.errors += 1
            self._settle(slot, result, to_cache)
            _wake(slot.waiter)

    async def _run_batch(self, batch: list[_Slot], waiter: asyncio.Future[None] | None, sent: _Sent | None = None) -> None:
        to_cache: list[tuple[bytes, bytes]] = []
        try:
            failed = self._runner_or_failure()
            if failed is not None:
                self.stats.errors += len(batch)
                for slot in batch:
                    self._settle(slot, failed, to_cache)
            elif sent is not None and sent.single:  # one call, handed to an idle worker when it was queued
                self.stats.batches += 1
                self.stats.batched_calls += 1
                await self._run_one(batch[0], to_cache, sent.proc)
            elif sent is not None or (self.per_call and len(batch) > 1 and getattr(self.cls, "worker_batch", False)):
                await self._run_worker_batch(batch, to_cache, sent)
            elif self.per_call:
                # each call is answered as soon as it is done, never held back by a slow neighbour
                self.stats.batches += 1
                self.stats.batched_calls += len(batch)
                await asyncio.gather(*(self._run_one(slot, to_cache) for slot in batch))
            else:
                try:
                    results = await self._execute([slot.call for slot in batch])
                except Exception as exc:  # noqa: BLE001 - never leave a caller waiting
                    log.error("%s: scheduler error on a batch of %d call(s)", self.name, len(batch), exc_info=True)
                    results = [ToolResult(status="error", error=f"scheduler: {type(exc).__name__}: {exc}", backend=self.name)] * len(batch)
                for slot, result in zip(batch, results, strict=True):
                    self._settle(slot, result, to_cache)
        finally:
            for slot in batch:  # cancelled at shutdown: answer whoever still waits
                if slot.result is None:
                    self._settle(slot, ToolResult(status="error", error="scheduler shut down", backend=self.name), to_cache)
                if self.per_call:
                    _wake(slot.waiter)
            if waiter is not None:  # a batch's shared waiter: once every slot of it is answered
                _wake(waiter)
            self._write_cache(to_cache)

    def _write_cache(self, to_cache: list[tuple[bytes, bytes]]) -> None:
        if to_cache and self.cache is not None:
            try:
                self.cache.put_many(to_cache)
            except Exception:  # noqa: BLE001 - a cache that cannot write must not fail the calls
                log.warning("%s: cache write failed", self.name, exc_info=True)

    async def drain(self) -> None:
        self._flush()
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def stats_dict(self) -> dict[str, Any]:
        d = self.stats.as_dict()
        r = self._runner
        for attr in ("restarts", "surges", "recycled", "messages", "abandoned"):
            if r is not None and hasattr(r, attr):
                d[f"worker_{attr}" if attr != "abandoned" else "abandoned_threads"] = getattr(r, attr)
        return d

    def close(self) -> None:
        if self._runner is not None:
            try:
                self._runner.close()
            except Exception:  # noqa: BLE001
                log.warning("%s: closing the runner raised", self.name, exc_info=True)
            self._runner = None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Scheduler:
    """Owns one :class:`Backend` per configured backend and routes calls to them."""

    def __init__(self, cache: Cache | None = None) -> None:
        self.cache = cache
        self.backends: dict[tuple[str, str], Backend] = {}
        self._process_backends: list[Backend] = []

    def add_backend(self, cls: type[Tool], options: dict[str, Any], run: BackendRunSettings) -> Backend:
        key = (cls.capability, cls.name)
        if key not in self.backends:
            self.backends[key] = backend = Backend(cls, options, run, self.cache)
            if backend.per_call:
                self._process_backends.append(backend)
        return self.backends[key]

    def process_calls_out(self) -> bool:
        """Whether a process-isolated backend has calls queued or running (work that goes on in another
        process while the event loop does something else)."""
        return any(backend._inflight for backend in self._process_backends)

    def backend(self, capability: str, name: str) -> Backend | None:
        return self.backends.get((capability, name))

    async def call_many(self, routes: Sequence[tuple[Backend | None, ToolCall]]) -> list[ToolResult]:
        """Queue every call at once (one cache read per backend, no task per call), then wait for
        the batches they joined; results in order."""
        if len(routes) == 1:
            backend, call = routes[0]
            if backend is None:
                return [_unrouted(call)]
            return [await backend.call(call)]
        answers: list[Answer] = [None] * len(routes)  # type: ignore[list-item]
        by_backend: dict[Backend, list[int]] = {}
        for i, (backend, call) in enumerate(routes):
            if backend is None:
                answers[i] = _unrouted(call)
            else:
                by_backend.setdefault(backend, []).append(i)
        waiters: set[asyncio.Future[None]] = set()
        for backend, idx in by_backend.items():
            for i, answer in zip(idx, backend.enqueue_many([routes[i][1] for i in idx]), strict=True):
                answers[i] = answer
                if type(answer) is _Slot:
                    waiters.add(answer.waiter)
        if waiters:
            await wait_all(waiters)
        return [a if type(a) is ToolResult else a.result for a in answers]  # type: ignore[misc]

    async def drain(self) -> None:
        await asyncio.gather(*(b.drain() for b in self.backends.values()))

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"{cap}:{name}": b.stats_dict() for (cap, name), b in self.backends.items()}
        if self.cache is not None:
            out["cache"] = self.cache.stats.as_dict()
        return out

    def close(self) -> None:
        for backend in self.backends.values():
            backend.close()


def _unrouted(call: ToolCall) -> ToolResult:
    return ToolResult(status="unavailable", error=f"no backend configured for capability {call.capability!r}")
