"""``PowerIndexTool``: the ``voting`` capability (exact DP, :mod:`chil_plugin_powerindex.dp`)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities.voting import MAX_CELLS, MAX_PLAYERS, VotingError, parse_game


class PowerIndexOptions(BaseModel):
    """``[tools.powerindex]``."""

    model_config = ConfigDict(extra="forbid")

    max_players: int = Field(default=300, ge=1, le=MAX_PLAYERS, description="Largest game accepted, in players.")
    max_cells: int = Field(default=600_000, ge=1, le=MAX_CELLS, description="Bound on players x quota (scaled units): about 3 s at 600,000 here.")


class PowerIndexTool(Tool):
    """Exact Shapley–Shubik and Banzhaf indices, dictators, veto players and dummies."""

    name: ClassVar[str] = "powerindex"
    capability: ClassVar[str] = "voting"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Exact Shapley-Shubik / Banzhaf indices of weighted voting games (DP over weights, packed big integers)."
    ops: ClassVar[frozenset[str]] = frozenset({"indices"})
    Options: ClassVar[type[BaseModel]] = PowerIndexOptions
    isolation = "thread"
    max_batch = 16
    priority: ClassVar[int] = 20
    options: PowerIndexOptions

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return None

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        from chil_plugin_powerindex.dp import indices

        if call.op != "indices":
            return ToolResult.failure(f"voting has no op {call.op!r}; ops: indices")
        try:
            game = parse_game(call.payload, "payload", self.options.max_players, self.options.max_cells)
        except VotingError as exc:
            return ToolResult.failure(str(exc))
        return indices(game)
