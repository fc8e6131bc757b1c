"""The core's own plugin, registered through the same hooks as third-party ones."""

from __future__ import annotations

from typing import ClassVar

from chil_core.components import Tool
from chil_core.contracts import ToolCall
from chil_core.hookspecs import hookimpl


class NoopTool(Tool):
    """Capability ``noop``: answers every call with its payload.  Measures scheduler overhead."""

    name: ClassVar[str] = "noop"
    capability: ClassVar[str] = "noop"
    version: ClassVar[str] = "1"
    description: ClassVar[str] = "Echoes payloads; for benchmarks and tests of the scheduler."
    ops: ClassVar[frozenset[str]] = frozenset({"echo"})
    isolation = "inline"

    def run_batch(self, calls: list[ToolCall]) -> list[object]:
        return [c.payload for c in calls]


@hookimpl
def chil_register_tools(register):  # type: ignore[no-untyped-def]
    register(NoopTool)
