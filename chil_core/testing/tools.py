"""Backends that misbehave on request: the one fake the test suite needs, because a hang, a crash or a
segfault in a real backend cannot be caused on demand.  Importable by module path, so process-isolated
workers can load them."""

from __future__ import annotations

import os
import time
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult


class ChaosOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str = ""


class ChaosTool(Tool):
    """Capability ``chaos``.  ``op`` picks the behaviour for that call:

    ``echo`` returns ``{"pid": ..., "payload": ...}``; ``sleep`` sleeps ``payload["s"]`` seconds;
    ``spin`` sleeps ``payload["nap"]`` seconds (default 0), then keeps a CPU busy until the thread has
    used ``payload["s"]`` CPU seconds; ``crash`` kills its own process (``os._exit``); ``raise`` raises; ``fail`` returns an error result.
    """

    name: ClassVar[str] = "chaos"
    capability: ClassVar[str] = "chaos"
    version: ClassVar[str] = "1"
    ops: ClassVar[frozenset[str]] = frozenset({"echo", "sleep", "spin", "crash", "raise", "fail"})
    Options = ChaosOptions
    isolation = "process"
    max_batch = 64

    def run_batch(self, calls: list[ToolCall]) -> list[object]:
        out: list[object] = []
        for call in calls:
            if call.op == "sleep":
                time.sleep(float(call.payload.get("s", 0)))
            elif call.op == "spin":
                time.sleep(float(call.payload.get("nap", 0)))
                until = time.thread_time() + float(call.payload.get("s", 0))
                while time.thread_time() < until:
                    pass
            elif call.op == "crash":
                os._exit(13)
            elif call.op == "raise":
                raise RuntimeError("chaos: raise requested")
            elif call.op == "fail":
                out.append(ToolResult.failure("chaos: failure requested"))
                continue
            out.append({"pid": os.getpid(), "payload": call.payload, "tag": self.options.tag})
        return out


class ChaosThreadTool(ChaosTool):
    """The same, thread-isolated (``crash`` must not be used: it would kill the test process)."""

    name: ClassVar[str] = "chaos-thread"
    isolation = "thread"
