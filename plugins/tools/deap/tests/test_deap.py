"""The deap optimizer backend against the shared optimizer conformance suite."""

from __future__ import annotations

from chil_plugin_deap.tool import DeapOptimizer

from chil_core.testing.optimizer import OptimizerConformance


class TestDeapOptimizer(OptimizerConformance):
    tool_class = DeapOptimizer


def test_different_seeds_explore_differently() -> None:
    from chil_core.testing.optimizer import call_for

    tool = DeapOptimizer()
    tool.start()
    a = tool.run_batch([call_for({"kind": "tsp", "seed": 3, "n": 30}, 400, 0)])[0]
    b = tool.run_batch([call_for({"kind": "tsp", "seed": 3, "n": 30}, 400, 1)])[0]
    assert a["solution"] != b["solution"]


def test_global_random_state_is_restored() -> None:
    import random

    from chil_core.testing.optimizer import call_for

    random.seed(123)
    expected = random.random()
    random.seed(123)
    tool = DeapOptimizer()
    tool.start()
    tool.run_batch([call_for({"kind": "onemax", "seed": 1, "n": 16}, 200, 0)])
    assert random.random() == expected
