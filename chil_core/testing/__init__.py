"""Helpers and conformance suites for plugin authors.

``DirectContext`` runs a framework against tool instances with no scheduler (unit tests);
the conformance suites in :mod:`chil_core.testing.conformance` are what a plugin's tests subclass.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from chil_core.components import Framework, Tool
from chil_core.contracts import FrameworkResult, Record, ToolCall, ToolResult


class DirectContext:
    """A Context that calls tool instances directly, one batch per ``call_many`` (no cache, no timeout)."""

    def __init__(self, tools: dict[str, Tool] | None = None) -> None:
        self.tools = dict(tools or {})
        for tool in self.tools.values():
            tool.start()

    def has(self, capability: str) -> bool:
        return capability in self.tools

    def backend(self, capability: str) -> str | None:
        tool = self.tools.get(capability)
        return tool.name if tool else None

    async def call(self, capability: str, op: str, payload: dict[str, Any]) -> ToolResult:
        return (await self.call_many([ToolCall(capability=capability, op=op, payload=payload)]))[0]

    async def call_many(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        out: list[ToolResult] = []
        for call in calls:
            tool = self.tools.get(call.capability)
            if tool is None:
                out.append(ToolResult.failure(f"no backend for capability {call.capability!r}", "unavailable"))
                continue
            value = tool.run_batch([call])[0]
            out.append(value if isinstance(value, ToolResult) else ToolResult.success(value))
        return out

    def close(self) -> None:
        for tool in self.tools.values():
            tool.close()


def score_direct(framework: Framework, records: Iterable[Record | dict], tools: dict[str, Tool] | None = None) -> list[FrameworkResult]:
    """Score ``records`` with ``framework`` against ``tools`` (capability -> instance), no scheduler."""
    ctx = DirectContext(tools)
    recs = [r if isinstance(r, Record) else Record.model_validate(r) for r in records]

    async def go() -> list[FrameworkResult]:
        return list(await asyncio.gather(*(framework.score(r, ctx) for r in recs)))

    try:
        return asyncio.run(go())
    finally:
        ctx.close()
