"""``PowerIndexTool``: the ``voting`` capability (exact DP, :mod:`chil_plugin_powerindex.dp`)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core.capabilities.voting import MAX_CELLS, MAX_PLAYERS, Game, VotingTool


class PowerIndexOptions(BaseModel):
    """``[tools.powerindex]``."""

    model_config = ConfigDict(extra="forbid")

    max_players: int = Field(default=300, ge=1, le=MAX_PLAYERS, description="Largest game accepted, in players.")
    max_cells: int = Field(default=600_000, ge=1, le=MAX_CELLS, description="Bound on players x quota (scaled units): about 3 s at 600,000 here.")


class PowerIndexTool(VotingTool):
    """Exact Shapley–Shubik and Banzhaf indices, dictators, veto players and dummies."""

    name: ClassVar[str] = "powerindex"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Exact Shapley-Shubik / Banzhaf indices of weighted voting games (DP over weights, packed big integers)."
    Options: ClassVar[type[BaseModel]] = PowerIndexOptions
    priority: ClassVar[int] = 20
    options: PowerIndexOptions

    def indices(self, game: Game) -> dict[str, Any]:
        from chil_plugin_powerindex.dp import indices

        return indices(game)
