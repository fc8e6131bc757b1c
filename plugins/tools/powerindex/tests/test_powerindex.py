"""Power indices: the voting conformance suite (textbook games, brute force for n <= 12), bounds, speed."""

from __future__ import annotations

import random
import time
from fractions import Fraction

from chil_plugin_powerindex.tool import PowerIndexTool

from chil_core.testing.voting import VotingConformance, indices_call


class TestPowerIndexConformance(VotingConformance):
    tool_class = PowerIndexTool


def test_two_hundred_players_in_under_a_second_and_exact() -> None:
    rng = random.Random(3)
    weights = [rng.randint(1, 10) for _ in range(200)]
    quota = sum(weights) // 2 + 1
    tool = PowerIndexTool()
    t0 = time.perf_counter()
    value = tool.run_batch([indices_call(quota, weights)])[0]
    elapsed = time.perf_counter() - t0
    assert sum(Fraction(v) for v in value["shapley_shubik"].values()) == 1
    by_weight: dict[int, set[str]] = {}
    for name, w in zip(value["players"], weights, strict=True):
        by_weight.setdefault(w, set()).add(value["shapley_shubik"][name])
    assert all(len(v) == 1 for v in by_weight.values()), "equal weights, equal power"
    ranked = sorted(by_weight, key=lambda w: Fraction(next(iter(by_weight[w]))))
    assert ranked == sorted(by_weight), "more weight never means less power"
    assert elapsed < 10.0, f"{elapsed:.2f} s (the benchmark reports the figure; 0.3 s on an idle machine here)"


def test_over_the_configured_bound_is_an_error() -> None:
    tool = PowerIndexTool(PowerIndexTool.Options(max_players=5, max_cells=1000))
    out = tool.run_batch([indices_call(3, [1] * 6), indices_call(600, [300, 300, 300])])
    assert [o.status for o in out] == ["error", "error"]
    assert "bound of 5" in out[0].error and "1000 cells" in out[1].error
