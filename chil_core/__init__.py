"""chil: GRPO on rewards checked by real tools.

``import chil_core`` is cheap: the public names below load on first use (PEP 562), and no heavy
library (torch, z3, duckdb...) is imported by the core at module top level anywhere.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "CONTRACTS_VERSION": "chil_core.contracts",
    "Evidence": "chil_core.contracts",
    "FrameworkResult": "chil_core.contracts",
    "Record": "chil_core.contracts",
    "RecordReward": "chil_core.contracts",
    "ToolCall": "chil_core.contracts",
    "ToolResult": "chil_core.contracts",
    "Context": "chil_core.components",
    "Framework": "chil_core.components",
    "NoOptions": "chil_core.components",
    "Tool": "chil_core.components",
    "hookimpl": "chil_core.hookspecs",
    "Scorer": "chil_core.scoring",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'chil_core' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # pragma: no cover
    from chil_core.components import Context, Framework, NoOptions, Tool
    from chil_core.contracts import (
        CONTRACTS_VERSION,
        Evidence,
        FrameworkResult,
        Record,
        RecordReward,
        ToolCall,
        ToolResult,
    )
    from chil_core.hookspecs import hookimpl
    from chil_core.scoring import Scorer
