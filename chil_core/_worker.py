"""Body of a process-isolated backend's worker.  Kept tiny: it is what a spawned process imports."""

from __future__ import annotations

import gc
import logging
import os
import traceback
from typing import Any

#: the cyclic garbage collector's first threshold in a worker (Python's default is 700 allocations):
#: a batch's payloads, the backend's validated theories and its answers are thousands of objects, and
#: at the default every young collection walked them again (in-process, ProofWriter's decide calls in
#: batches of 64, with the freeze below: clingo 0.55 -> 0.43 ms of CPU a call, z3 1.25 -> 0.85, prolog
#: about the same).  As the scorer does for its own process.
GC_THRESHOLD0 = 20_000


def _limit_memory(memory_mb: int | None) -> None:
    """Bound this worker's address space: an allocation past it fails (MemoryError, or the backend's
    own out-of-memory error) or kills the worker, which the scheduler replaces."""
    if not memory_mb:
        return
    import resource

    limit = int(memory_mb) * 1024 * 1024
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _tune_gc() -> None:
    """Once a worker has built what it serves: what it loaded is never garbage (frozen: no collection
    walks it again), and young collections wait for :data:`GC_THRESHOLD0` allocations."""
    gc.freeze()
    threshold = gc.get_threshold()
    if 0 < threshold[0] < GC_THRESHOLD0:
        gc.set_threshold(GC_THRESHOLD0, *threshold[1:])


#: a send that finds the pipe broken: the main process exited, or closed this worker's pipe (it killed
#: or stopped it); there is nobody to answer, so the worker ends quietly instead of printing a
#: traceback onto the main process's stderr (whose last line a failed ``chil score`` keeps for its error)
_GONE = (BrokenPipeError, ConnectionResetError)


def serve(conn: Any, tool_path: str, options: dict[str, Any], limits: dict[str, Any] | None = None) -> None:
    """Build the tool, say ready, then answer batches until the pipe closes (or breaks: :data:`_GONE`).

    Messages in: ``[(capability, op, payload), ...]``.  Out: ``("ok", [(status, value, error), ...])``
    or ``("raise", message)`` when ``run_batch`` raised.
    """
    try:
        _serve(conn, tool_path, options, limits)
    except _GONE:
        return


def _serve(conn: Any, tool_path: str, options: dict[str, Any], limits: dict[str, Any] | None) -> None:
    from chil_core.contracts import ToolCall, ToolResult
    from chil_core.plugins import load_object

    try:
        _limit_memory((limits or {}).get("memory_mb"))
        cls = load_object(tool_path)
        tool = cls(cls.Options.model_validate(options))
        tool.start()
    except BaseException as exc:  # noqa: BLE001 - report, then exit
        conn.send(("fail", f"{type(exc).__name__}: {exc}"))
        return
    _tune_gc()
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            break
        if msg is None:
            break
        try:
            calls = [ToolCall(c, o, p) for c, o, p in msg]
            out = []
            for item in tool.run_batch(calls):
                if isinstance(item, ToolResult):
                    out.append((item.status, item.value, item.error))
                else:
                    out.append(("ok", item, None))
            conn.send(("ok", out))
        except _GONE:
            raise
        except BaseException as exc:  # noqa: BLE001 - (a value that does not pickle, too)
            conn.send(("raise", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))
    try:
        tool.close()
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).warning("%s: close() raised in its worker", tool_path, exc_info=True)


class _NeedsMain(Exception):  # noqa: N818 - a signal, not an error
    """Raised into a framework that asks for a tool call in a framework worker that has no copy of that
    tool: the record is scored again in the main process, where the calls are batched, cached and timed out."""


class _Local:
    """A tool a framework worker built itself (:meth:`Tool.replicable`): called directly, a chunk's calls
    in one batch; ``timeout`` is its backend's (a batch that takes longer sends its records back)."""

    __slots__ = ("max_batch", "name", "ops", "timeout", "tool")

    def __init__(self, tool: Any, timeout: float, max_batch: int) -> None:
        self.tool = tool
        self.name = tool.name
        self.ops = type(tool).ops
        self.timeout = timeout
        self.max_batch = max(1, max_batch)


class _Calls:
    """What a record's ``score`` waits on in a framework worker: calls to the worker's own tools, answered
    by the chunk's driver (:func:`_score_chunk`), which sends ``None`` back into the coroutine once
    ``results`` is set."""

    __slots__ = ("calls", "results")

    def __init__(self, calls: list[Any]) -> None:
        self.calls = calls
        self.results: list[Any] | None = None

    def __await__(self) -> Any:
        yield self
        return self.results


class _WorkerContext:
    """The context a framework's ``score`` gets in a framework worker: ``has`` / ``backend`` answer as
    the main process's do; a call to a tool the worker has a copy of (``local``) waits for the chunk's
    batch; any other call (or wait) sends the record back to the main process.  ``wanted`` is set on
    such a call, so that a framework that catches the exception still has its record sent back."""

    infra_failed = False
    #: a framework may ``await call(...)`` each of a record's calls as it goes: the chunk's calls are
    #: answered together, and one that fails sends the record back (no fallback, timer or future here)
    answers_together = True

    def __init__(self, routes: dict[str, str], local: dict[str, _Local] | None = None) -> None:
        self.routes = routes
        self.local = local or {}
        self.wanted = False

    def has(self, capability: str) -> bool:
        return capability in self.routes

    def backend(self, capability: str) -> str | None:
        return self.routes.get(capability)

    def _want(self) -> Any:
        self.wanted = True
        raise _NeedsMain("a tool call: scored in the main process")

    async def call(self, capability: str, op: str, payload: dict[str, Any]) -> Any:
        if capability not in self.local:
            return self._want()
        from chil_core.contracts import ToolCall

        return (await _Calls([ToolCall(capability=capability, op=op, payload=payload)]))[0]

    def submit(self, capability: str, op: str, payload: dict[str, Any]) -> Any:
        return self._want()

    async def call_many(self, calls: Any) -> Any:
        if not calls:
            return []
        local = self.local
        if any(c.capability not in local for c in calls):
            return self._want()
        return await _Calls(list(calls))

    def running_s(self, capability: str, op: str, payload: dict[str, Any]) -> float | None:
        return self._want()


def _build_local(specs: dict[str, Any]) -> dict[str, _Local]:
    """The worker's own copies of the replicable tools (``capability -> (class path, options, timeout,
    max batch)``); one that cannot be built is left out (logged): its records go back to the main process."""
    from chil_core.plugins import load_object

    if specs:
        import chil_core.scheduler  # noqa: F401 - what _answer uses: imported now, not in the first chunk's time
    local: dict[str, _Local] = {}
    for capability, (tool_path, options, timeout, max_batch) in (specs or {}).items():
        try:
            cls = load_object(tool_path)
            tool = cls(cls.Options.model_validate(options))
            tool.replica = True  # its own budget (Tool.replicable), set before start()
            tool.start()
        except Exception:  # noqa: BLE001 - the main process scores the records that call it
            logging.getLogger(__name__).warning("%s: could not build a copy of %s in this framework worker; records "
                                                "that call it are scored in the main process", capability, tool_path,
                                                exc_info=True)
            continue
        local[capability] = _Local(tool, float(timeout), int(max_batch))
    return local


def _answer(parked: list[tuple[int, Any, Any, _Calls]], local: dict[str, _Local]) -> set[int]:
    """Run the calls of ``parked`` records (one ``run_batch`` per tool, up to its max batch), set each
    record's results; the positions (in ``parked``) of records one of whose calls failed (an error
    status, a batch that raised or took past the tool's timeout, an op it lacks): the main process
    scores those, so that a result never depends on where it was computed."""
    import time

    from chil_core.scheduler import _as_result

    failed: set[int] = set()
    by_tool: dict[str, list[tuple[int, int]]] = {}
    for k, (_, _, _, waits) in enumerate(parked):
        waits.results = [None] * len(waits.calls)
        for j, call in enumerate(waits.calls):
            by_tool.setdefault(call.capability, []).append((k, j))
    for capability, items in by_tool.items():
        tool = local[capability]
        ok_items = []
        for k, j in items:
            if tool.ops and parked[k][3].calls[j].op not in tool.ops:
                failed.add(k)
            else:
                ok_items.append((k, j))
        for b in range(0, len(ok_items), tool.max_batch):
            part = ok_items[b : b + tool.max_batch]
            t0 = time.perf_counter()
            try:
                values = list(tool.tool.run_batch([parked[k][3].calls[j] for k, j in part]))
                if len(values) != len(part):
                    raise ValueError(f"run_batch answered {len(values)} of {len(part)} calls")
            except Exception:  # noqa: BLE001 - the main process runs these calls again, with its retries
                logging.getLogger(__name__).warning("%s: a batch of %d call(s) raised in a framework worker; its "
                                                    "records are scored in the main process", tool.name, len(part),
                                                    exc_info=True)
                failed.update(k for k, _ in part)
                continue
            slow = time.perf_counter() - t0 > tool.timeout
            for (k, j), value in zip(part, values, strict=True):
                result = _as_result(value, tool.name)  # as the main process's scheduler makes it
                if slow or result.status != "ok":
                    failed.add(k)
                parked[k][3].results[j] = result  # type: ignore[index]
    return failed


def _score_chunk(fw: Any, rows: list[tuple[Any, ...]], routes: dict[str, str], local: dict[str, _Local],
                 construct: Any, to_json: Any, result_type: type) -> list[bytes | None]:
    """Score a chunk's records in a framework worker: each run up to its first wait; those that wait on
    the worker's own tools (:class:`_Calls`) are answered together, one batch per tool, and resumed, until
    none waits (a worker with no copies: each record runs to its end or goes back at its first wait).
    A result's JSON per record, or None where the main process is to score it (a call to another tool,
    another wait, a failed call, an exception, something else than a result)."""
    out: list[bytes | None] = [None] * len(rows)
    parked: list[tuple[int, Any, Any, _Calls]] = []

    def step(i: int, coro: Any, ctx: _WorkerContext) -> None:
        try:
            waits = coro.send(None)
        except StopIteration as stop:
            result = stop.value
            out[i] = None if ctx.wanted or not isinstance(result, result_type) else to_json(result)
            return
        except Exception:  # noqa: BLE001 - _NeedsMain, or a framework bug the main process logs when it scores the record
            return
        if type(waits) is _Calls and not ctx.wanted:
            parked.append((i, coro, ctx, waits))
        else:  # it waits on something else: the main process scores it
            coro.close()

    for i, (rid, prompt, completion, group, reference, metadata, extra) in enumerate(rows):
        ctx = _WorkerContext(routes, local)
        try:
            record = construct(id=rid, prompt=prompt, completion=completion, group=group, reference=reference,
                               metadata=metadata, **(extra or {}))
            coro = fw.score(record, ctx)
        except Exception:  # noqa: BLE001 - (as above)
            continue
        if hasattr(coro, "send"):
            step(i, coro, ctx)
    while parked:
        now, parked = parked, []
        failed = _answer(now, local)
        for k, (i, coro, ctx, _) in enumerate(now):
            if k in failed:
                coro.close()
            else:
                step(i, coro, ctx)
    return out


def _warm_up(fw: Any, routes: dict[str, str], local: dict[str, _Local], construct: Any, to_json: Any) -> None:
    """Score the framework's :attr:`~chil_core.components.Framework.warmup` records once, the results
    thrown away: a worker's first chunk of real records then runs warm code (profiled on consistency with
    SWI-Prolog: a fresh worker's first chunk took 3-8 ms longer than the next)."""
    from chil_core.contracts import FrameworkResult, Record

    records = getattr(type(fw), "warmup", ())
    if not records:
        return
    try:
        rows = []
        for i, data in enumerate(records):
            r = Record.model_validate({"id": f"warmup-{i}", **data})
            rows.append((r.id, r.prompt, r.completion, r.group, r.reference, r.metadata, r.__pydantic_extra__ or None))
        _score_chunk(fw, rows, routes, local, construct, to_json, FrameworkResult)
    except Exception:  # noqa: BLE001 - a warm-up that fails costs the first chunk its time, nothing else
        logging.getLogger(__name__).warning("%s: its warm-up records failed in a framework worker", type(fw).__name__,
                                            exc_info=True)


def serve_framework(conn: Any) -> None:
    """:func:`_serve_framework`, ending quietly when the pipe breaks (:data:`_GONE`)."""
    try:
        _serve_framework(conn)
    except _GONE:
        return


def _serve_framework(conn: Any) -> None:
    """Body of a framework worker (:mod:`chil_core.offload`; ``python -m chil_core._worker FD``): read
    ``(framework path, options, routes, local tools, sys.path)``, build the framework and its own copies
    of the replicable tools, say ready, then score chunks of records until the pipe closes.

    In: a pickled list of ``(id, prompt, completion, group, reference, metadata, extra)``.  Out: a
    pickled list, per record, of its result as JSON bytes, or None when the record goes back to the main
    process (it asked for a tool the worker has no copy of, a call failed, it waited on something else,
    raised, or returned something else than a result: the main process scores it again, with its tools,
    timeouts and logging)."""
    import pickle
    import signal
    import sys

    # Ctrl-C reaches the whole process group: the main process stops this worker (or its pipe closes)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"chil framework worker {os.getpid()}: %(levelname)s %(name)s: %(message)s")
    try:
        framework_path, options, routes, specs, path = pickle.loads(conn.recv_bytes())
        sys.path[:] = path  # the main process's: a framework it imported from a folder of its own is found
        from chil_core.contracts import FrameworkResult, Record
        from chil_core.plugins import load_object

        cls = load_object(framework_path)
        fw = cls(cls.Options.model_validate(options))
        to_json = FrameworkResult.__pydantic_serializer__.to_json
        construct = Record.model_construct
        local = _build_local(specs)
    except BaseException as exc:  # noqa: BLE001 - report, then exit
        conn.send_bytes(pickle.dumps(("fail", f"{type(exc).__name__}: {exc}")))
        return
    _warm_up(fw, routes, local, construct, to_json)
    _tune_gc()
    conn.send_bytes(pickle.dumps(("ready", None)))
    while True:
        try:
            msg = conn.recv_bytes()
        except (EOFError, OSError):
            break
        if not msg:
            break
        out = _score_chunk(fw, pickle.loads(msg), routes, local, construct, to_json, FrameworkResult)
        conn.send_bytes(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    for own in local.values():
        try:
            own.tool.close()
        except Exception:  # noqa: BLE001
            logging.getLogger(__name__).warning("%s: close() raised in a framework worker", own.name, exc_info=True)
    try:
        fw.close()
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).warning("%s: close() raised in its worker", framework_path, exc_info=True)


if __name__ == "__main__":  # a framework worker, started by chil_core.offload with its end of a socket pair
    import sys
    from multiprocessing.connection import Connection

    serve_framework(Connection(int(sys.argv[1])))
