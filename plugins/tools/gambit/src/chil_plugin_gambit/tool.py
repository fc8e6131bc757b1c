"""``GambitGame``: the ``game`` backend ``gambit``.  Extreme Nash equilibria of bimatrix games through
pygambit's ``enummixed_solve`` (vertex enumeration with lrs) in rational arithmetic.

Runs process-isolated: the scheduler kills and replaces the worker when a call overruns its timeout,
so a game that makes the C++ enumeration run long cannot stall its neighbours.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities import game as G


class GambitOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_strategies: int = Field(default=12, ge=1, le=1000, description="Most strategies per player enumerated.")
    max_bases: int = Field(default=200_000, ge=1, le=100_000_000, description="Refuse games with more candidate bases, C(m+n, m).")


class GambitGame(Tool):
    """``game:gambit``: pygambit's enummixed, rational."""

    name: ClassVar[str] = "gambit"
    capability: ClassVar[str] = "game"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "pygambit enummixed_solve(rational=True): extreme equilibria of bimatrix games."
    ops: ClassVar[frozenset[str]] = frozenset({"equilibria"})
    Options: ClassVar[type[BaseModel]] = GambitOptions
    isolation: ClassVar[str] = "process"  # type: ignore[assignment]
    priority: ClassVar[int] = 5
    #: small batches: one batch must finish within the scheduler's per-call timeout
    max_batch: ClassVar[int] = 16
    options: GambitOptions

    requires_modules: ClassVar[dict[str, str]] = {"pygambit": "pygambit"}

    def start(self) -> None:
        import pygambit

        self._gbt = pygambit

    def run_one(self, call: ToolCall) -> Any:
        if call.op != "equilibria":
            return ToolResult.failure(f"unknown op {call.op!r}")
        opts = self.options
        try:
            game, cap = G.load_equilibria(call.payload, max_strategies=opts.max_strategies)
        except G.GameError as exc:
            return ToolResult.failure(str(exc))
        m, n = game.shape
        if math.comb(m + n, m) > opts.max_bases:
            return ToolResult.failure(f"game {m}x{n} has {math.comb(m + n, m)} candidate bases; max_bases is {opts.max_bases}")
        profiles = solve(self._gbt, game)
        degenerate = _degenerate(game, profiles)
        return G.answer(game, profiles, degenerate, cap)


def solve(gbt: Any, game: G.Game) -> list[G.Profile]:
    a, b = game.matrices()
    g = gbt.StrategicGame.from_arrays(a, b)
    row, col = list(g.players)
    result = gbt.nash.enummixed_solve(g, rational=True)
    out = []
    for eq in result.equilibria:
        out.append((tuple(Fraction(v) for _, v in eq[row]), tuple(Fraction(v) for _, v in eq[col])))
    return out


def _degenerate(game: G.Game, profiles: list[G.Profile]) -> bool:
    """A game is degenerate when some mixed strategy has more pure best responses than its support size;
    on the equilibria found, a support-size mismatch or a best-response set larger than the support shows it."""
    for p, q in profiles:
        vr = G.strategy_values(game, (p, q), 0)
        vc = G.strategy_values(game, (p, q), 1)
        br_r = sum(v == max(vr) for v in vr)
        br_c = sum(v == max(vc) for v in vc)
        if br_r > sum(x > 0 for x in q) or br_c > sum(x > 0 for x in p):
            return True
    return False
