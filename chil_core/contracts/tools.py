"""Tool calls (what a framework asks a backend) and tool results (what comes back)."""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ToolStatus = Literal["ok", "timeout", "error", "unavailable"]

try:  # orjson is a core dependency, but keep a pure fallback for odd platforms
    import orjson as _orjson

    def canonical_json(value: Any) -> bytes:
        """Canonical JSON bytes (sorted keys, no whitespace) used for cache keys and dedup."""
        return _orjson.dumps(value, option=_orjson.OPT_SORT_KEYS | _orjson.OPT_NON_STR_KEYS)

except ImportError:  # pragma: no cover - exercised only without orjson

    def canonical_json(value: Any) -> bytes:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class ToolCall(BaseModel):
    """A request from a framework to whichever backend serves ``capability``.

    ``payload`` must be JSON-serialisable: it is hashed into the cache key and, for process-isolated
    backends, sent to a worker process.
    """

    model_config = ConfigDict(frozen=True)

    capability: str = Field(description="Capability asked for, e.g. 'smt', 'fact_store', 'logic_program'.")
    op: str = Field(description="Operation of that capability, e.g. 'check', 'lookup', 'decide'.")
    payload: dict[str, Any] = Field(default_factory=dict)

    def key(self) -> bytes:
        """Canonical bytes of (capability, op, payload): equal calls have equal keys."""
        return canonical_json([self.capability, self.op, self.payload])

    def digest(self) -> str:
        return hashlib.blake2b(self.key(), digest_size=16).hexdigest()


class ToolResult(BaseModel):
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
        return cls(status="ok", value=value)

    @classmethod
    def failure(cls, error: str, status: ToolStatus = "error") -> ToolResult:
        return cls(status=status, error=error)
