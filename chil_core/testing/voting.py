"""Conformance suite of the ``voting`` capability: textbook games with known indices, brute-force
enumeration on generated games (every coalition, and every ordering for small ones), malformed
payloads, and agreement with every other installed backend.

```python
from chil_core.testing.voting import VotingConformance

class TestMyBackend(VotingConformance):
    tool_class = MyVoting
```
"""

from __future__ import annotations

import itertools
import math
import random
from fractions import Fraction
from typing import Any

from chil_core.contracts import ToolCall
from chil_core.testing.conformance import ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads


def indices_call(quota: Any, weights: Any, players: list[str] | None = None) -> ToolCall:
    payload: dict[str, Any] = {"quota": quota, "weights": weights}
    if players is not None:
        payload["players"] = players
    return ToolCall(capability="voting", op="indices", payload=payload)


def brute_force(weights: list[int], quota: int) -> tuple[list[Fraction], list[int]]:
    """Shapley–Shubik indices and swing counts by enumerating every coalition (2^n)."""
    n = len(weights)
    shapley = [Fraction(0)] * n
    swings = [0] * n
    for mask in range(1 << n):
        members = [i for i in range(n) if mask >> i & 1]
        w = sum(weights[i] for i in members)
        if w >= quota:
            continue
        k = len(members)
        share = Fraction(math.factorial(k) * math.factorial(n - 1 - k), math.factorial(n))
        for i in range(n):
            if not mask >> i & 1 and w + weights[i] >= quota:
                swings[i] += 1
                shapley[i] += share
    return shapley, swings


def by_orderings(weights: list[int], quota: int) -> list[Fraction]:
    """Shapley–Shubik by its definition: the pivotal player of every ordering (n! orderings)."""
    n = len(weights)
    pivots = [0] * n
    for order in itertools.permutations(range(n)):
        total = 0
        for i in order:
            total += weights[i]
            if total >= quota:
                pivots[i] += 1
                break
    return [Fraction(p, math.factorial(n)) for p in pivots]


def random_game(rng: random.Random, n: int) -> tuple[list[int], int]:
    weights = [rng.randint(0, 12) for _ in range(n)]
    if sum(weights) == 0:
        weights[0] = 1
    return weights, rng.randint(1, sum(weights))


class VotingConformance(MalformedPayloads, ToolConformance):
    """What every ``voting`` backend must do."""

    brute_force_games: int = 60
    max_brute_force_players: int = 12

    def sample_calls(self) -> list[ToolCall]:
        return [indices_call(51, {"A": 49, "B": 49, "C": 2}), indices_call(4, [3, 1, 1, 1]),
                indices_call(6, {"D": 6, "E": 1, "F": 1}), indices_call("5/2", ["3/2", 1, 1], ["x", "y", "z"])]

    def hostile_calls(self) -> list[ToolCall]:
        return [indices_call(float("nan"), [1, 2]), indices_call(3, [1, -2, 5]), indices_call(100, [1, 2]),
                indices_call(0, [1, 2]), indices_call(1, {"a": True}), indices_call(2, "1,2"),
                indices_call(2, [1, 2], ["a", "a"]), ToolCall(capability="voting", op="indices", payload={})]

    def test_textbook_games(self) -> None:
        self._skip_if_unavailable()
        a, b, c, d = self._run(self.sample_calls())
        assert all(r.ok for r in (a, b, c, d)), [r.error for r in (a, b, c, d)]
        # [51; 49, 49, 2]: every two-player majority wins, so all three are symmetric
        assert a.value["shapley_shubik"] == {"A": "1/3", "B": "1/3", "C": "1/3"}
        assert a.value["banzhaf"] == {"A": "1/3", "B": "1/3", "C": "1/3"}
        assert a.value["dummies"] == [] and a.value["dictators"] == [] and a.value["veto"] == []
        # [4; 3, 1, 1, 1]: P1 pivots in every ordering where it is not first (3/4); it swings the 7
        # non-empty sets of small players, each small player swings {P1} only
        assert b.value["shapley_shubik"] == {"P1": "3/4", "P2": "1/12", "P3": "1/12", "P4": "1/12"}
        assert b.value["swings"] == {"P1": 7, "P2": 1, "P3": 1, "P4": 1} and b.value["veto"] == ["P1"]
        assert b.value["banzhaf"]["P1"] == "7/10"
        # [6; 6, 1, 1]: D is a dictator, the others dummies
        assert c.value["dictators"] == ["D"] and c.value["veto"] == ["D"] and c.value["dummies"] == ["E", "F"]
        assert c.value["shapley_shubik"] == {"D": "1", "E": "0", "F": "0"}
        # rationals: [5/2; 3/2, 1, 1] = [5; 3, 2, 2]: x with anyone wins, y+z = 4 loses -> 2/3, 1/6, 1/6
        assert d.value["shapley_shubik"] == {"x": "2/3", "y": "1/6", "z": "1/6"}

    def test_equal_to_brute_force(self) -> None:
        self._skip_if_unavailable()
        rng = random.Random(11)
        games = [random_game(rng, rng.randint(1, self.max_brute_force_players)) for _ in range(self.brute_force_games)]
        out = self._run([indices_call(q, w) for w, q in games])
        for (w, q), r in zip(games, out, strict=True):
            assert r.ok, r.error
            shapley, swings = brute_force(w, q)
            names = r.value["players"]
            assert [Fraction(r.value["shapley_shubik"][p]) for p in names] == shapley, (w, q)
            assert [r.value["swings"][p] for p in names] == swings, (w, q)
            total = sum(swings)
            assert [Fraction(r.value["banzhaf"][p]) for p in names] == [Fraction(s, total) if total else 0 for s in swings]
            assert sum(shapley) == 1
            if len(w) <= 7:
                assert by_orderings(w, q) == shapley

    def malformed_cases(self) -> list[Case]:
        return list(zip(self.hostile_calls(), ["quota", "weights", "quota", "quota", "weights", "weights", "players", "weights"],
                        strict=True))

    def test_agrees_with_every_other_backend(self) -> None:
        self._skip_if_unavailable()
        rng = random.Random(5)
        calls = [indices_call(q, w) for w, q in (random_game(rng, rng.randint(1, 30)) for _ in range(20))]
        mine = self._run(calls)
        for cls in self.other_backends():
            theirs = self.run_other(cls, calls)
            assert [(a.status, a.value) for a in mine] == [(b.status, b.value) for b in theirs]
