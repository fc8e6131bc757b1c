"""Framework workers: a framework's records scored in worker processes, beside the scorer's event loop.

A framework whose work is inline Python (the empirical framework's arithmetic, say) holds the GIL for
all of it: on its own the scorer's event loop can only add its own per-record work (keys, the record
cache, the reward) to the framework's, and a naive loop that calls ``score`` record after record is
then faster.  :class:`FrameworkPool` runs the framework in ``scheduler.framework_workers`` processes
instead: a batch's records go to them in chunks, and the event loop does only its own part.

* Only a framework whose result is a function of the record (``cache_results``, not ``sequential``,
  ``worker_safe``), and only a batch of at least ``scheduler.framework_workers_min_records`` records
  to score: a single record (latency) never pays the round trip.  A ``sequential`` framework that keys
  some of its records (its own ``result_key``: the consistency framework's records outside an episode)
  sends those, when its workers copy its tools; the rest of its batch is scored in the main process,
  in input order, beside them (``Scorer._score_sequential``).
* Workers start (in the background) once ``scheduler.framework_workers_start_after`` records were
  scored in the main process in batches that large whose records mostly never waited on a tool: a
  framework whose records call tools (a fact lookup each) never starts them, and a short run does not
  pay their start-up; or at :meth:`Scorer.start_workers`.
* A worker has no tools but its own copies of the framework's replicable ones (``Tool.replicable``: a
  read-only fact store, say), which it calls directly, a chunk's calls in one batch per tool.  A record
  that asks for another tool (or waits on anything else, raises, returns something else than a result,
  or whose call to a copy failed or took past the backend's timeout) comes back as None and is scored
  in the main process, where its calls are batched, cached and timed out: a result never depends on
  where it was computed.  (What a worker's copy answers is not in the main process's tool-call cache;
  the record's result is, in the record cache.)  A copy is built with ``Tool.replica`` set: a solver
  gives its copies a budget of their own (clingo and SWI-Prolog: at most ``REPLICA_GROUNDINGS`` ground
  rule instances a batch, counted before anything runs; SWI-Prolog also 200 ms a theory, 500 ms a
  batch), so a hostile theory holds up its chunk for that long at most, then goes back to the main
  process, where the backend's isolated workers run it under their full limits.  A framework with such a copy starts its workers after
  ``framework_workers_start_after`` records in large batches, whether they waited on a tool or not.
  A framework whose records mostly come back is not sent to the workers for its next 7 batches that take the
  per-record path; its records mostly wait, so that path is one batch in eight (the rest take
  ``Scorer._score_pool``), and the workers are tried again about one batch in 64.
* A worker that dies is killed (and replaced); its records are scored in the main process.  One that
  runs a chunk past ``record_timeout_s`` is killed too, and that chunk's records are run again one a message in the
  other workers (not in the main process, where a framework stuck in Python could not be stopped,
  unless no worker is left or starting):
  the record that overruns alone is a ``timeout`` (its chunk-mates are scored), and the chunks queued
  behind it are sent again.  A new worker replaces the one killed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import socket
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any

from chil_core.contracts import FrameworkResult, Record
from chil_core.scheduler import _readable, _widen_send_buffer

log = logging.getLogger(__name__)

#: records per chunk sent to a worker (fewer when the batch is small: every worker gets two)
CHUNK = 64
#: chunks in flight per worker at most (fewer when they would not fit in its pipe's buffer unread): the
#: worker goes on to the next while the event loop is busy elsewhere
DEPTH = 8
#: characters of a chunk (prompt + completion): a chunk of long records is cut shorter
CHUNK_CHARS = 256_000


#: how many scoring processes share this machine's CPUs (``chil serve --workers N`` sets it; torchrun's
#: ``LOCAL_WORLD_SIZE`` counts too): ``"auto"`` framework workers divide the CPUs among them
SCORER_PROCESSES = "CHIL_SCORER_PROCESSES"


def default_workers(env: dict[str, str] | None = None) -> int:
    """``framework_workers = "auto"``: the CPUs this process may run on, divided among the scoring
    processes sharing them, at most 4; none when that leaves fewer than 2."""
    env = os.environ if env is None else env
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    share = 1
    for var in (SCORER_PROCESSES, "LOCAL_WORLD_SIZE"):
        try:
            share = max(share, int(env.get(var) or 1))
        except ValueError:
            log.warning("%s=%r is not a number; ignored", var, env.get(var))
    n = min(cpus // share, 4)
    return n if n >= 2 else 0


def importable(cls: type) -> bool:
    """Whether a worker can import ``cls`` by its path (a class defined in a function cannot)."""
    return "<locals>" not in cls.__qualname__ and cls.__module__ != "__main__"


class _FwProc:
    """One framework worker process (``python -m chil_core._worker``) and its end of a socket pair.

    A fresh interpreter, not a ``multiprocessing`` child: it never imports the caller's main script
    again (a script without ``if __name__ == "__main__"`` would run again in every worker), and it has
    the environment of the moment it starts (``CHIL_NATIVE``, say)."""

    def __init__(self, args: tuple[Any, ...]) -> None:
        parent, child = socket.socketpair()
        try:
            # its stdout is this process's stderr: a framework's print() never lands in `chil score -o -`'s output
            self.proc = subprocess.Popen([sys.executable, "-m", "chil_core._worker", str(child.fileno())],
                                         pass_fds=(child.fileno(),), stdin=subprocess.DEVNULL, stdout=2, close_fds=True)
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        self.conn = Connection(parent.detach())
        self.send_room = _widen_send_buffer(self.conn)
        self.driver: asyncio.Future[None] | None = None  # the coroutine feeding it (FrameworkPool._drive)
        self.conn.send_bytes(pickle.dumps((*args, list(sys.path))))

    @property
    def exitcode(self) -> int | None:
        return self.proc.poll()

    def wait_ready(self, timeout: float) -> str | None:
        """Blocking (a helper thread): None when the worker is ready, else why not."""
        if not self.conn.poll(timeout):
            return f"did not start within {timeout:g}s"
        try:
            kind, msg = pickle.loads(self.conn.recv_bytes())
        except (EOFError, OSError):
            return f"died while starting (exit code {self.exitcode})"
        return None if kind == "ready" else str(msg)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            log.warning("framework worker %s did not exit after SIGKILL", self.proc.pid)
        if not self.conn.closed:
            self.conn.close()

    def stop(self) -> None:
        try:
            if not self.conn.closed:
                self.conn.send_bytes(b"")
            self.proc.wait(2)
        except (OSError, ValueError, subprocess.TimeoutExpired):
            log.debug("framework worker %s: did not stop on request; killing it", self.proc.pid)
        self.kill()


class _Job:
    """One batch's records in the pool: its chunks left to answer, and how answers are handed back."""

    __slots__ = ("done", "here", "left", "records", "reply")

    def __init__(self, records: Sequence[Record], reply: Callable[[list[int], list[bytes | None]], None],
                 here: Callable[[list[int]], Awaitable[None]], done: asyncio.Future[None]) -> None:
        self.records, self.reply, self.here, self.done = records, reply, here, done
        self.left = 0

    def add(self, idx: list[int], queue: deque[tuple[_Job, list[int]]]) -> None:
        queue.append((self, idx))
        self.left += 1

    def finish(self) -> None:
        self.left -= 1
        if not self.left and not self.done.done():
            self.done.set_result(None)


def record_timeout(name: str, timeout: float, where: str = "") -> FrameworkResult:
    """The result of a record that framework ``name`` did not finish within ``timeout`` seconds (the
    Scorer's, and a framework worker's: ``where`` says which)."""
    return FrameworkResult(status="timeout", explanation=f"{name} exceeded {timeout:g}s on this record{where}")


class FrameworkPool:
    """``workers`` processes that score framework ``name``'s records which call no tool but those the
    workers have copies of (``local``)."""

    def __init__(self, name: str, cls: type, options: dict[str, Any], routes: dict[str, str], workers: int,
                 start_timeout: float = 120.0, local: dict[str, tuple[str, dict[str, Any], float, int]] | None = None) -> None:
        self.name = name
        self.size = workers
        self.start_timeout = start_timeout
        #: the tools each worker builds a copy of and calls itself (``capability -> (class path, options,
        #: timeout, max batch)``, :meth:`Tool.replicable`): a record that calls only those is scored there
        self.local = dict(local or {})
        self.args = (f"{cls.__module__}:{cls.__qualname__}", options, routes, self.local)
        self.ready: list[_FwProc] = []
        #: chunks of every batch in flight, waiting for a worker (or for the main process)
        self.queue: deque[tuple[_Job, list[int]]] = deque()
        #: records of a chunk that ran past the timeout, one a chunk, for the workers (_drive); the main
        #: process takes them only when no worker is left or starting (run)
        self.suspects: deque[tuple[_Job, list[int]]] = deque()
        self._inflight = 0  # chunks sent to a worker and not answered yet
        self.failed: str | None = None  # a worker could not start: the pool stays off
        self._lock = threading.Lock()
        self._starting = False
        self._started = threading.Event()
        #: started once (Scorer.start_workers, or a batch that showed the framework's records need no
        #: tool): from then on a lost worker is replaced
        self.wanted = False
        #: records scored in the main process in batches that would have used the workers (see
        #: ``scheduler.framework_workers_start_after``)
        self.inline_records = 0
        self._closed = False
        self.sent = 0  # records sent to a worker
        self.returned = 0  # of them, scored in the main process after all (a tool call, a wait, an error, a lost worker)
        self.restarts = 0  # workers killed (died, or ran a chunk past the timeout)
        self.timeouts = 0  # records that ran past the timeout alone in a worker: a timeout result

    # -- start ------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the missing workers in a helper thread (returns at once)."""
        self.wanted = True
        with self._lock:
            if self._starting or self._closed or self.failed or len(self.ready) >= self.size:
                return
            self._starting = True
            self._started.clear()
        threading.Thread(target=self._start_missing, name=f"chil-{self.name}-workers", daemon=True).start()

    def count_inline(self, n: int, start_after: int) -> None:
        """``n`` more records scored in the main process in a batch that would have used the workers:
        once ``start_after`` of them (``scheduler.framework_workers_start_after``), start the workers."""
        if self.wanted:
            return
        self.inline_records += n
        if self.inline_records >= start_after:
            self.start()

    def wait_started(self, timeout: float | None = None) -> bool:
        self.start()
        return self._started.wait(timeout)

    def _start_missing(self) -> None:
        try:
            procs = [_FwProc(self.args) for _ in range(self.size - len(self.ready))]
        except Exception as exc:  # noqa: BLE001 - the pool stays off, the main process scores
            self.failed = f"{type(exc).__name__}: {exc}"
            log.warning("%s: framework workers could not start (%s); its records are scored in the main process",
                        self.name, self.failed)
            procs = []
        for proc in procs:
            why = proc.wait_ready(self.start_timeout)
            if why is None and not self._closed:
                with self._lock:
                    self.ready.append(proc)
                continue
            proc.kill()
            if why is not None and not self.failed:
                self.failed = why
                log.warning("%s: a framework worker %s; its records are scored in the main process", self.name, why)
        with self._lock:
            self._starting = False
        self._started.set()

    def usable(self) -> list[_FwProc]:
        """The ready workers (once started, a lost one is replaced in the background)."""
        if self.wanted and len(self.ready) < self.size and not self.failed:
            self.start()
        return list(self.ready)

    # -- scoring ----------------------------------------------------------------------------
    def _drop(self, proc: _FwProc, why: str, where: str = "its records are scored in the main process") -> None:
        with self._lock:
            if proc in self.ready:
                self.ready.remove(proc)
        proc.kill()
        self.restarts += 1
        log.warning("%s: a framework worker %s; %s", self.name, why, where)
        if self.wanted:
            self.start()  # its replacement, in the background

    async def run(self, records: Sequence[Record], timeout: float, reply: Callable[[list[int], list[bytes | None]], None],
                  here: Callable[[list[int]], Awaitable[None]]) -> None:
        """Score ``records`` in chunks: a worker's answer goes to ``reply(indices, results)`` (a result's
        JSON, or None where the main process is to score the record), while this process scores chunks
        too (``here(indices)``, from the back of the queue) whenever it would otherwise wait; a worker's
        chunks that never come back go to ``reply`` as None.  Concurrent runs (batches) share the workers
        through one queue."""
        per = max(8, min(CHUNK, -(-len(records) // (4 * (len(self.usable()) + 1)))))
        job = _Job(records, reply, here, asyncio.get_running_loop().create_future())
        chunk: list[int] = []
        chars = 0
        # chunks in order of the records' prompts: the records of one prompt (a GRPO group, the questions
        # on one theory) share a chunk, and prompts that begin alike neighbour each other, so a worker
        # reads a prompt once and finds its sentences read (consistency on ProofWriter, 2 workers:
        # 3,600 -> 4,600 records/s); which record is scored where never changes its result
        order = sorted(range(len(records)), key=lambda i: records[i].prompt)
        for i in order:
            r = records[i]
            size = len(r.prompt) + len(r.completion)
            if chunk and (len(chunk) >= per or chars + size > CHUNK_CHARS):
                job.add(chunk, self.queue)
                chunk, chars = [], 0
            chunk.append(i)
            chars += size
        if chunk:
            job.add(chunk, self.queue)
        try:
            while job.left:
                if self.suspects and not self.ready and not self._starting:
                    # no worker is left to run them, and none is starting: the main process does
                    self.queue.extendleft(reversed(self.suspects))
                    self.suspects.clear()
                if self._feed(timeout):
                    await asyncio.sleep(0)  # the new drivers send their first chunks before this process takes one
                # this process takes a chunk only when every worker being fed would still find one after
                # it: the workers, which do nothing else, get the work first
                if len(self.queue) > sum(1 for p in self.ready if p.driver is not None and not p.driver.done()):
                    other, idx = self.queue.pop()  # from the back: the workers take from the front
                    try:
                        await other.here(idx)
                    finally:
                        other.finish()
                    # the workers' answers in (one turn: the pipes are read), their next chunks out (the
                    # next: the drivers resume)
                    await asyncio.sleep(0)
                    await asyncio.sleep(0)
                else:
                    # woken when the batch is done; every 50 ms the queue is looked at again (a worker
                    # lost, or one started, meanwhile)
                    await asyncio.wait((job.done,), timeout=0.05)
        finally:
            if job.left:  # cancelled: its chunks leave the queues (in place: the drivers hold them)
                for queue in (self.queue, self.suspects):
                    for item in [item for item in queue if item[0] is job]:
                        queue.remove(item)

    def _feed(self, timeout: float) -> bool:
        """A driver for every ready worker while chunks wait; True when one was started."""
        started = False
        if self.queue or self.suspects:
            for proc in list(self.ready):
                if proc.driver is None or proc.driver.done():
                    proc.driver = asyncio.ensure_future(self._drive(proc, timeout))
                    started = True
        return started

    async def _drive(self, proc: _FwProc, timeout: float) -> None:
        """Feed one worker from the queue until it is empty: up to :data:`DEPTH` chunks in flight (the
        worker goes on to the next while this loop reads one, or scores a chunk itself), a chunk behind
        another only when all of them surely fit in the pipe's buffer unread (a send never blocks the
        event loop)."""
        inflight: deque[tuple[_Job, list[int], int]] = deque()  # (batch, its records, bytes sent)
        queue, suspects = self.queue, self.suspects
        unsent = 0  # bytes of the chunks in flight: at most this much waits unread in the pipe
        try:
            while True:
                while (suspects or queue) and len(inflight) < self._share():
                    source = suspects or queue  # a record to clear (or time out) first
                    job, idx = source[0]
                    data = self._payload(job.records, idx)
                    if inflight and len(data) + unsent > proc.send_room:
                        break
                    unsent += len(data)
                    source.popleft()
                    inflight.append((job, idx, len(data)))
                    self._inflight += 1
                    self.sent += len(idx)
                    try:
                        proc.conn.send_bytes(data)
                    except (OSError, ValueError):
                        self._drop(proc, "closed its pipe")
                        return
                if not inflight:
                    return
                try:
                    await _readable(proc.conn, timeout)
                    got = pickle.loads(proc.conn.recv_bytes())
                except TimeoutError:
                    self._overran(proc, inflight, timeout)
                    return
                except (EOFError, OSError, pickle.UnpicklingError) as exc:
                    self._drop(proc, f"died ({type(exc).__name__}, exit code {proc.exitcode})")
                    return
                job, idx, size = inflight.popleft()
                self._inflight -= 1
                unsent -= size
                try:
                    job.reply(idx, got)
                finally:
                    job.finish()
        finally:
            self._inflight -= len(inflight)
            for job, idx, _ in inflight:  # never answered: the main process scores them
                try:
                    job.reply(idx, [None] * len(idx))
                finally:
                    job.finish()

    def _overran(self, proc: _FwProc, inflight: deque[tuple[_Job, list[int], int]], timeout: float) -> None:
        """``proc`` ran the first chunk it was sent past ``timeout``: kill it.  A chunk of one record is
        that record's ``timeout``; a larger one goes back to the workers one record a chunk
        (:attr:`suspects`), to find the one that overruns without holding up the rest; the chunks
        behind it, never started, are queued again.  ``inflight`` is emptied."""
        job, idx, _ = inflight.popleft()
        self._inflight -= 1 + len(inflight)
        for item in reversed(inflight):  # never started: back to the front of the queue, in order
            self.queue.appendleft(item[:2])
        inflight.clear()
        if len(idx) > 1:
            self.suspects.extend((job, [i]) for i in idx)
            job.left += len(idx) - 1
            self._drop(proc, f"ran a chunk of {len(idx)} records past {timeout:g}s",
                       "they are run again one by one in the other workers")
            return
        self.timeouts += 1
        self._drop(proc, f"ran record {job.records[idx[0]].id!r} alone past {timeout:g}s", "that record is a timeout")
        result = record_timeout(self.name, timeout, " (in a framework worker, which was stopped)")
        try:
            job.reply(idx, [result.model_dump_json().encode()])
        finally:
            job.finish()

    def _share(self) -> int:
        """Chunks one worker may have in flight: a fair share of what waits (queued or in flight), so that
        the first worker fed does not take a whole batch while the others idle; 2 to :data:`DEPTH`."""
        waiting = len(self.queue) + len(self.suspects) + self._inflight
        return min(DEPTH, max(2, -(-waiting // max(1, len(self.ready)))))

    @staticmethod
    def _payload(records: Sequence[Record], idx: list[int]) -> bytes:
        rows = []
        for i in idx:
            r = records[i]
            rows.append((r.id, r.prompt, r.completion, r.group, r.reference, r.metadata, r.__pydantic_extra__ or None))
        return pickle.dumps(rows, protocol=pickle.HIGHEST_PROTOCOL)

    def stats(self) -> dict[str, Any]:
        return {"workers": len(self.ready), "sent": self.sent, "returned": self.returned, "restarts": self.restarts,
                "timeouts": self.timeouts, **({"failed": self.failed} if self.failed else {})}

    def close(self) -> None:
        self._closed = True
        with self._lock:
            procs, self.ready = self.ready, []
        for proc in procs:
            proc.stop()
