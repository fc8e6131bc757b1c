"""Tool calls (what a framework asks a backend) and tool results (what comes back).

These two are created once per tool call on the hot path, so they are slotted dataclasses rather
than pydantic models (pydantic construction cost 3-10 µs each, more than the rest of the scheduler's
per-call work).  They are still versioned contracts: their JSON Schemas are generated through
pydantic's TypeAdapter and validated at the boundaries (``ToolResult.from_dict``).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import orjson

ToolStatus = Literal["ok", "timeout", "error", "unavailable"]
TOOL_STATUSES: tuple[str, ...] = ("ok", "timeout", "error", "unavailable")

def canonical_json(value: Any) -> bytes:
    """Canonical JSON bytes (sorted keys, no whitespace) used for cache keys and dedup."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


@dataclass(slots=True)
class ToolCall:
    """A request from a framework to whichever backend serves ``capability``.

    ``payload`` must be JSON-serialisable: it is hashed into the cache key and, for process-isolated
    backends, sent to a worker process.  Treat a ToolCall as immutable once made.
    """

    capability: str
    op: str
    payload: dict[str, Any] = field(default_factory=dict)

    def key(self) -> bytes:
        """Canonical bytes of (capability, op, payload): equal calls have equal keys."""
        return canonical_json([self.capability, self.op, self.payload])

    def digest(self) -> str:
        return hashlib.blake2b(self.key(), digest_size=16).hexdigest()

    def to_dict(self) -> dict[str, Any]:
        return {"capability": self.capability, "op": self.op, "payload": self.payload}


@dataclass(slots=True)
class ToolResult:
    """What a backend answered for one call.  Failures are statuses, never exceptions."""

    status: ToolStatus = "ok"
    value: Any = None
    error: str | None = None
    backend: str | None = None
    cached: bool = False
    elapsed_ms: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @classmethod
    def success(cls, value: Any) -> ToolResult:
        return cls("ok", value)

    @classmethod
    def failure(cls, error: str, status: ToolStatus = "error") -> ToolResult:
        return cls(status, None, error)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ToolResult:
        """Validated construction from JSON-like data (unknown status or fields raise ValueError)."""
        from pydantic import TypeAdapter

        return TypeAdapter(cls).validate_python(data)
