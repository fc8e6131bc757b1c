"""chil: GRPO on rewards checked by real tools.

Importing this package is cheap: heavy libraries load only when a component is first used.
"""

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

__version__ = "0.1.0"

__all__ = [
    "CONTRACTS_VERSION",
    "Context",
    "Evidence",
    "Framework",
    "FrameworkResult",
    "NoOptions",
    "Record",
    "RecordReward",
    "Scorer",
    "Tool",
    "ToolCall",
    "ToolResult",
    "__version__",
    "hookimpl",
]


def __getattr__(name: str):  # lazy: the scorer pulls in asyncio machinery and the cache
    if name == "Scorer":
        from chil_core.scoring import Scorer

        return Scorer
    raise AttributeError(f"module 'chil_core' has no attribute {name!r}")
