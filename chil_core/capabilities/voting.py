"""The ``voting`` capability: power indices of a weighted voting game, exactly.

One op, ``indices``::

    payload = {"quota": 51, "weights": {"A": 49, "B": 49, "C": 2}}     # or weights [..] + players [..]
    value   = {"players": ["A", "B", "C"],
               "shapley_shubik": {"A": "1/3", ...},     # exact rationals "p/q"
               "banzhaf": {"A": "1/3", ...},            # normalized: swings_i / total swings
               "swings": {"A": 2, ...},                 # coalitions without i that i turns winning
               "dictators": [...], "veto": [...], "dummies": [...]}

A coalition wins when its total weight is >= quota.  Player ``i`` is a *dictator* when it wins alone
and no coalition without it wins, a *veto* player when no coalition without it wins, a *dummy* when
it is never a swing.  Weights are non-negative rationals, the quota a positive rational no larger than
the total weight; both are scaled to integers by their common denominator.
:func:`parse_game` validates a payload (``VotingError`` names the field).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult

MAX_PLAYERS = 500
MAX_NAME = 200
MAX_DENOMINATOR = 10**6
#: bound on the dynamic programme's table, players x (quota in scaled units)
MAX_CELLS = 2_000_000


class VotingError(ValueError):
    """A malformed ``indices`` payload; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class Game:
    players: tuple[str, ...]
    weights: tuple[int, ...]  # scaled to integers
    quota: int


def _rational(value: Any, where: str) -> Fraction:
    if isinstance(value, bool):
        raise VotingError(f"{where}: must be a number, got a boolean")
    try:
        if isinstance(value, float):
            if not math.isfinite(value):
                raise VotingError(f"{where}: must be finite, got {value!r}")
            x = Fraction(value).limit_denominator(MAX_DENOMINATOR)
        elif isinstance(value, int) or (isinstance(value, str) and len(value) <= 64):
            x = Fraction(value)
        else:
            raise VotingError(f"{where}: must be a number or a 'p/q' string")
    except (ValueError, ZeroDivisionError) as exc:
        if isinstance(exc, VotingError):
            raise
        raise VotingError(f"{where}: not a number: {str(value)[:50]!r}") from None
    if x < 0:
        raise VotingError(f"{where}: must be >= 0, got {value!r}")
    if x.denominator > MAX_DENOMINATOR or x.numerator > 10**15:
        raise VotingError(f"{where}: too large or too precise: {str(value)[:50]!r}")
    return x


def parse_game(payload: Any, where: str = "payload", max_players: int = MAX_PLAYERS, max_cells: int = MAX_CELLS) -> Game:
    if not isinstance(payload, dict):
        raise VotingError(f"{where}: must be an object with quota and weights")
    weights = payload.get("weights")
    if isinstance(weights, dict):
        names = [str(k).strip() for k in weights]
        values = list(weights.values())
    elif isinstance(weights, list):
        players = payload.get("players")
        if players is None:
            names = [f"P{i + 1}" for i in range(len(weights))]
        elif isinstance(players, list) and len(players) == len(weights):
            names = [str(p).strip() for p in players]
        else:
            raise VotingError(f"{where}.players: must be a list as long as {where}.weights")
        values = weights
    else:
        raise VotingError(f"{where}.weights: must be an object {{player: weight}} or a list")
    if not values:
        raise VotingError(f"{where}.weights: no players")
    if len(values) > max_players:
        raise VotingError(f"{where}.weights: {len(values)} players exceed the bound of {max_players}")
    for i, n in enumerate(names):
        if not n or len(n) > MAX_NAME:
            raise VotingError(f"{where}.players[{i}]: a name has 1..{MAX_NAME} characters")
    if len(set(names)) != len(names):
        raise VotingError(f"{where}.players: duplicate player names")
    ws = [_rational(v, f"{where}.weights.{n[:50]}") for n, v in zip(names, values, strict=True)]
    q = _rational(payload.get("quota"), f"{where}.quota")
    if q <= 0:
        raise VotingError(f"{where}.quota: must be > 0")
    if q > sum(ws):
        raise VotingError(f"{where}.quota: {q} exceeds the total weight {sum(ws)}: no coalition wins")
    scale = 1
    for x in (*ws, q):
        scale = math.lcm(scale, x.denominator)
    if scale > MAX_DENOMINATOR:
        raise VotingError(f"{where}: the common denominator of quota and weights exceeds {MAX_DENOMINATOR}")
    quota = int(q * scale)
    if quota * (len(ws) + 1) > max_cells:
        raise VotingError(f"{where}.quota: {quota} scaled units x {len(ws)} players exceed the bound of {max_cells} cells")
    return Game(tuple(names), tuple(int(w * scale) for w in ws), quota)


def encode(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


class VotingTool(Tool):
    """Base of the ``voting`` backends: answers ``indices`` with :meth:`indices` of the validated game
    (bounded by the backend's ``max_players`` / ``max_cells`` options when it has them)."""

    capability: ClassVar[str] = "voting"
    ops: ClassVar[frozenset[str]] = frozenset({"indices"})
    max_batch: ClassVar[int] = 16

    def indices(self, game: Game) -> dict[str, Any]:
        raise NotImplementedError

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        if call.op != "indices":
            return ToolResult.failure(f"voting has no op {call.op!r}; ops: indices")
        try:
            game = parse_game(call.payload, "payload", getattr(self.options, "max_players", MAX_PLAYERS),
                              getattr(self.options, "max_cells", MAX_CELLS))
        except VotingError as exc:
            return ToolResult.failure(str(exc))
        return self.indices(game)
