"""Body of a process-isolated backend's worker.  Kept tiny: it is what a spawned process imports."""

from __future__ import annotations

import gc
import logging
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


def serve(conn: Any, tool_path: str, options: dict[str, Any], limits: dict[str, Any] | None = None) -> None:
    """Build the tool, say ready, then answer batches until the pipe closes.

    Messages in: ``[(capability, op, payload), ...]``.  Out: ``("ok", [(status, value, error), ...])``
    or ``("raise", message)`` when ``run_batch`` raised.
    """
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
    gc.freeze()  # what the backend loaded to start is never garbage: no collection walks it again
    threshold = gc.get_threshold()
    if 0 < threshold[0] < GC_THRESHOLD0:
        gc.set_threshold(GC_THRESHOLD0, *threshold[1:])
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
        except BaseException as exc:  # noqa: BLE001
            conn.send(("raise", f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"))
    try:
        tool.close()
    except Exception:  # noqa: BLE001
        logging.getLogger(__name__).warning("%s: close() raised in its worker", tool_path, exc_info=True)
