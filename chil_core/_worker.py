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
    """Raised into a framework that asks for a tool call in a framework worker: the record is scored
    again in the main process, where the calls are batched, cached and timed out."""


class _WorkerContext:
    """The context a framework's ``score`` gets in a framework worker: ``has`` / ``backend`` answer as
    the main process's do; any call (or wait) sends the record back to the main process.  ``wanted``
    is set on a call, so that a framework that catches the exception still has its record sent back."""

    infra_failed = False

    def __init__(self, routes: dict[str, str]) -> None:
        self.routes = routes
        self.wanted = False

    def has(self, capability: str) -> bool:
        return capability in self.routes

    def backend(self, capability: str) -> str | None:
        return self.routes.get(capability)

    def _want(self) -> Any:
        self.wanted = True
        raise _NeedsMain("a tool call: scored in the main process")

    async def call(self, capability: str, op: str, payload: dict[str, Any]) -> Any:
        return self._want()

    def submit(self, capability: str, op: str, payload: dict[str, Any]) -> Any:
        return self._want()

    async def call_many(self, calls: Any) -> Any:
        return [] if not calls else self._want()

    def running_s(self, capability: str, op: str, payload: dict[str, Any]) -> float | None:
        return self._want()


def serve_framework(conn: Any) -> None:
    """:func:`_serve_framework`, ending quietly when the pipe breaks (:data:`_GONE`)."""
    try:
        _serve_framework(conn)
    except _GONE:
        return


def _serve_framework(conn: Any) -> None:
    """Body of a framework worker (:mod:`chil_core.offload`; ``python -m chil_core._worker FD``): read
    ``(framework path, options, routes, sys.path)``, build the framework, say ready, then score chunks of
    records until the pipe closes.

    In: a pickled list of ``(id, prompt, completion, group, reference, metadata, extra)``.  Out: a
    pickled list, per record, of its result as JSON bytes, or None when the record goes back to the main
    process (it asked for a tool call, waited on something, raised, or returned something else than a
    result: the main process scores it again, with its tools, timeouts and logging)."""
    import pickle
    import signal
    import sys

    # Ctrl-C reaches the whole process group: the main process stops this worker (or its pipe closes)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format=f"chil framework worker {os.getpid()}: %(levelname)s %(name)s: %(message)s")
    try:
        framework_path, options, routes, path = pickle.loads(conn.recv_bytes())
        sys.path[:] = path  # the main process's: a framework it imported from a folder of its own is found
        from chil_core.contracts import FrameworkResult, Record
        from chil_core.plugins import load_object

        cls = load_object(framework_path)
        fw = cls(cls.Options.model_validate(options))
        to_json = FrameworkResult.__pydantic_serializer__.to_json
        construct = Record.model_construct
    except BaseException as exc:  # noqa: BLE001 - report, then exit
        conn.send_bytes(pickle.dumps(("fail", f"{type(exc).__name__}: {exc}")))
        return
    _tune_gc()
    ctx = _WorkerContext(routes)
    conn.send_bytes(pickle.dumps(("ready", None)))
    while True:
        try:
            msg = conn.recv_bytes()
        except (EOFError, OSError):
            break
        if not msg:
            break
        out: list[bytes | None] = []
        for rid, prompt, completion, group, reference, metadata, extra in pickle.loads(msg):
            ctx.wanted = False
            try:
                record = construct(id=rid, prompt=prompt, completion=completion, group=group, reference=reference,
                                   metadata=metadata, **(extra or {}))
                coro = fw.score(record, ctx)
                if not hasattr(coro, "send"):
                    out.append(None)
                    continue
                try:
                    coro.send(None)
                except StopIteration as stop:
                    result = stop.value
                else:  # it waits on something: the main process scores it
                    coro.close()
                    out.append(None)
                    continue
            except Exception:  # noqa: BLE001 - _NeedsMain, or a framework bug the main process logs when it scores the record
                out.append(None)
                continue
            out.append(None if ctx.wanted or not isinstance(result, FrameworkResult) else to_json(result))
        conn.send_bytes(pickle.dumps(out, protocol=pickle.HIGHEST_PROTOCOL))
    try:
        fw.close()
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).warning("%s: close() raised in its worker", framework_path, exc_info=True)


if __name__ == "__main__":  # a framework worker, started by chil_core.offload with its end of a socket pair
    import sys
    from multiprocessing.connection import Connection

    serve_framework(Connection(int(sys.argv[1])))
