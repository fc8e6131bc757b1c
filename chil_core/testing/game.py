"""Conformance suite of the ``game`` capability: shared sample games with their exact extreme equilibria,
hostile payloads, and agreement with every other installed ``game`` backend.

```python
from chil_core.testing.game import GameConformance

class TestMyGame(GameConformance):
    tool_class = MyGameTool
```
"""

from __future__ import annotations

from fractions import Fraction as F
from typing import Any, ClassVar

from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import ToolConformance, _norm, answers_of

#: (name, game, extreme equilibria as {(row probs, col probs)}) — worked by hand.
SAMPLE_GAMES: list[tuple[str, dict[str, Any], set[tuple[tuple[F, ...], tuple[F, ...]]]]] = [
    ("matching pennies", {"row_payoffs": [[1, -1], [-1, 1]], "col_payoffs": [[-1, 1], [1, -1]]},
     {((F(1, 2), F(1, 2)), (F(1, 2), F(1, 2)))}),
    ("battle of the sexes", {"row_payoffs": [[2, 0], [0, 1]], "col_payoffs": [[1, 0], [0, 2]]},
     {((F(1), F(0)), (F(1), F(0))), ((F(0), F(1)), (F(0), F(1))), ((F(2, 3), F(1, 3)), (F(1, 3), F(2, 3)))}),
    ("prisoner's dilemma", {"row_payoffs": [[-1, -3], [0, -2]], "col_payoffs": [[-1, 0], [-3, -2]]},
     {((F(0), F(1)), (F(0), F(1)))}),
    # degenerate: the row player is indifferent in column 2; equilibria form a segment whose ends are listed
    ("degenerate 2x2", {"row_payoffs": [[1, 1], [0, 0]], "col_payoffs": [[1, 1], [0, 0]]},
     {((F(1), F(0)), (F(1), F(0))), ((F(1), F(0)), (F(0), F(1)))}),
    # von Stengel's 3x2 degenerate example
    ("degenerate 3x2", {"row_payoffs": [[3, 3], [2, 5], [0, 6]], "col_payoffs": [[3, 2], [2, 6], [3, 1]]},
     {((F(1), F(0), F(0)), (F(1), F(0))), ((F(4, 5), F(1, 5), F(0)), (F(2, 3), F(1, 3))),
      ((F(0), F(1, 3), F(2, 3)), (F(1, 3), F(2, 3)))}),
    ("fractions", {"row_payoffs": [["1/2", 0], [0, "1/3"]], "col_payoffs": [["1/3", 0], [0, "1/2"]]},
     {((F(1), F(0)), (F(1), F(0))), ((F(0), F(1)), (F(0), F(1))), ((F(3, 5), F(2, 5)), (F(2, 5), F(3, 5)))}),
    ("1x3", {"row_payoffs": [[1, 2, 3]], "col_payoffs": [[3, 1, 3]]},
     {((F(1),), (F(1), F(0), F(0))), ((F(1),), (F(0), F(0), F(1)))}),
]


def equilibria_call(game: dict[str, Any], cap: int = 1000) -> ToolCall:
    return ToolCall(capability="game", op="equilibria", payload={"game": game, "max_equilibria": cap})


def as_set(value: dict[str, Any]) -> set[tuple[tuple[F, ...], tuple[F, ...]]]:
    return {(tuple(F(x) for x in e["row"]), tuple(F(x) for x in e["col"])) for e in value["equilibria"]}


class GameConformance(ToolConformance):
    """What every ``game`` backend must do (on top of :class:`ToolConformance`)."""

    options: ClassVar[dict[str, Any]] = {}

    def sample_calls(self) -> list[ToolCall]:
        return [equilibria_call(g) for _, g, _ in SAMPLE_GAMES]

    def hostile_calls(self) -> list[ToolCall]:
        return [
            equilibria_call({"row_payoffs": [[float("nan"), 1], [0, 0]], "col_payoffs": [[1, 1], [0, 0]]}),
            equilibria_call({"row_payoffs": [[1, 2]], "col_payoffs": [[1]]}),
            equilibria_call({"row_payoffs": [[0] * 1000] * 1000, "col_payoffs": [[0] * 1000] * 1000}),
            equilibria_call({"row_payoffs": [["9" * 59, 1], [0, "-" + "9" * 58]], "col_payoffs": [[1, 0], [0, 1]]}),
            ToolCall(capability="game", op="equilibria", payload={"game": "not a game"}),
            ToolCall(capability="game", op="equilibria", payload={"game": {"players": ["a", "b", "c"], "strategies": [1, 1, 1],
                                                                          "payoffs": [[[[1, 2, 3]]]]}}),
        ]

    def test_sample_games_give_their_exact_equilibria(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            for (name, _, expected), call in zip(SAMPLE_GAMES, self.sample_calls(), strict=True):
                res = _norm(tool.run_batch([call])[0])
                assert res.status == "ok", f"{name}: {res.error}"
                assert as_set(res.value) == expected, f"{name}: {res.value['equilibria']}"
                assert res.value["complete"] is True
                for eq in res.value["equilibria"]:
                    assert len(eq["payoffs"]) == 2
        finally:
            tool.close()

    def test_hostile_games_get_clear_errors(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            out = [_norm(x) for x in tool.run_batch(self.hostile_calls())]
        finally:
            tool.close()
        nan, shape, huge, digits, garbage, three = out
        assert nan.status == "error" and "finite" in (nan.error or "")
        assert shape.status == "error" and "col_payoffs" in (shape.error or "")
        assert huge.status == "error" and ("strategies" in (huge.error or "") or "cells" in (huge.error or ""))
        assert digits.status == "ok", digits.error  # big but bounded numbers are exact, not refused
        assert garbage.status == "error" and "payload.game" in (garbage.error or "")
        assert three.status == "error" and "two-player" in (three.error or "")

    def test_cap_marks_the_list_incomplete(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            res = _norm(tool.run_batch([equilibria_call(SAMPLE_GAMES[1][1], cap=1)])[0])
        finally:
            tool.close()
        assert res.status == "ok" and len(res.value["equilibria"]) == 1 and res.value["complete"] is False

    def test_agrees_with_every_other_game_backend(self) -> None:
        """Random games up to 5x5, a third with payoffs in {0, 1, 2} (degenerate ones common): the
        same extreme equilibria from every installed, available ``game`` backend."""
        import random

        from chil_core.plugins import get_registry

        self._skip_if_unavailable()
        others = [cls for cls in get_registry().tools.get("game", {}).values()
                  if cls.name != self.tool_class.name and not cls.unavailable_reason()]
        if not others:
            import pytest

            pytest.skip("no other game backend installed")
        rng = random.Random(7)
        games = []
        for k in range(30):
            m, n = rng.randint(1, 5), rng.randint(1, 5)
            lo, hi = (0, 2) if k % 3 == 0 else (-9, 9)
            games.append({"row_payoffs": [[rng.randint(lo, hi) for _ in range(n)] for _ in range(m)],
                          "col_payoffs": [[rng.randint(lo, hi) for _ in range(n)] for _ in range(m)]})
        calls = [equilibria_call(g) for g in games]
        ours = answers_of(self.tool_class, self.options, calls)
        for cls in others:
            theirs = answers_of(cls, {}, calls)
            for g, a, b in zip(games, ours, theirs, strict=True):
                assert a.status == b.status == "ok", (a.error, b.error)
                assert as_set(a.value) == as_set(b.value), f"{self.tool_class.name} vs {cls.name} disagree on {g}"


__all__ = ["SAMPLE_GAMES", "GameConformance", "ToolResult", "as_set", "equilibria_call"]
