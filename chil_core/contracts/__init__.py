"""Versioned pydantic v2 contracts shared by the core, the plugins and the adapters.

Everything that crosses a boundary (record in, tool call out, tool result back, framework verdict,
per-record reward) is one of these models. ``CONTRACTS_VERSION`` is bumped on any incompatible change
and written into ``schemas/*.json``.
"""

from chil_core.contracts.records import Record
from chil_core.contracts.results import (
    FRAMEWORK_STATUSES,
    Evidence,
    FrameworkResult,
    FrameworkStatus,
    RecordReward,
)
from chil_core.contracts.tools import TOOL_STATUSES, ToolCall, ToolResult, ToolStatus, canonical_json

CONTRACTS_VERSION = "1.0"

__all__ = [
    "CONTRACTS_VERSION",
    "FRAMEWORK_STATUSES",
    "Evidence",
    "FrameworkResult",
    "FrameworkStatus",
    "Record",
    "RecordReward",
    "TOOL_STATUSES",
    "ToolCall",
    "ToolResult",
    "ToolStatus",
    "canonical_json",
]
