"""Body of a process-isolated backend's worker.  Kept tiny: it is what a spawned process imports."""

from __future__ import annotations

import traceback
from typing import Any


def serve(conn: Any, tool_path: str, options: dict[str, Any]) -> None:
    """Build the tool, say ready, then answer batches until the pipe closes.

    Messages in: ``[(capability, op, payload), ...]``.  Out: ``("ok", [(status, value, error), ...])``
    or ``("raise", message)`` when ``run_batch`` raised.
    """
    from chil_core.contracts import ToolCall, ToolResult
    from chil_core.plugins import load_object

    try:
        cls = load_object(tool_path)
        tool = cls(cls.Options.model_validate(options))
        tool.start()
    except BaseException as exc:  # noqa: BLE001 - report, then exit
        conn.send(("fail", f"{type(exc).__name__}: {exc}"))
        return
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
        pass
