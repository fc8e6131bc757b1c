"""Conformance suite of the ``optimizer`` capability (contract: :mod:`chil_core.capabilities.optimizer`).

A backend's tests subclass :class:`OptimizerConformance` and set ``tool_class`` (and ``options``).  On
top of the generic :class:`~chil_core.testing.conformance.ToolConformance` checks it asserts that:

- the answer's ``fitness`` equals the core's reference fitness of the answered ``solution``, which is
  a valid solution of the instance (recomputed independently here, not taken from the backend);
- the same payload gives the same answer twice (reproducible at a fixed seed);
- every backend beats the random baseline by a clear margin on the shared samples, and all backends
  reach the sphere's optimum (agreement: within ``SPHERE_TOLERANCE`` of 0) at the shared budget;
- a kind the backend does not declare is an ``error`` starting ``unsupported kind``; malformed
  payloads are ``error`` results naming the field, never exceptions.
"""

from __future__ import annotations

import math
from typing import Any

from chil_core.capabilities.optimizer import (
    CONTINUOUS,
    KINDS,
    Problem,
    baseline,
    check_solution,
    exact_optimum,
    fitness,
    optimize_payload,
)
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads

#: shared sample problems: (problem spec, budget, seed)
SAMPLES: list[tuple[dict[str, Any], int, int]] = [
    ({"kind": "onemax", "seed": 1, "n": 24}, 800, 0),
    ({"kind": "knapsack", "seed": 2, "n": 16}, 800, 0),
    ({"kind": "tsp", "seed": 3, "n": 10}, 1_000, 0),
    ({"kind": "sphere", "seed": 4, "dim": 3}, 800, 0),
    ({"kind": "rastrigin", "seed": 5, "dim": 2}, 800, 0),
]
SPHERE_TOLERANCE = 1e-2


def call_for(spec: dict[str, Any], budget: int, seed: int) -> ToolCall:
    return ToolCall(capability="optimizer", op="optimize", payload=optimize_payload(Problem.from_json(spec), budget, seed))


def _norm(x: Any) -> ToolResult:
    return x if isinstance(x, ToolResult) else ToolResult.success(x)


class OptimizerConformance(MalformedPayloads, ToolConformance):
    """Subclass with ``tool_class`` set; the backend's ``kinds`` choose which samples run."""

    def _kinds(self) -> frozenset[str]:
        return self.tool_class.kinds  # type: ignore[attr-defined, no-any-return]

    def sample_calls(self) -> list[ToolCall]:
        return [call_for(s, b, seed) for s, b, seed in SAMPLES if s["kind"] in self._kinds()]

    def hostile_calls(self) -> list[ToolCall]:
        bad = [
            {},
            {"problem": "tsp"},
            {"problem": {"kind": "tsp", "seed": 1, "n": 10**9}, "budget": 100, "seed": 0},
            {"problem": {"kind": "sphere", "seed": -1}, "budget": 100, "seed": 0},
            {"problem": {"kind": "sphere", "seed": 1, "dim": 3}, "budget": 10**12, "seed": 0},
            {"problem": {"kind": "sphere", "seed": 1, "dim": 3, "__class__": 1}, "budget": 100, "seed": 0},
            {"problem": {"kind": "nope", "seed": 1}, "budget": 100, "seed": 0},
        ]
        return [ToolCall(capability="optimizer", op="optimize", payload=p) for p in bad]

    def test_fitness_is_the_reference_fitness_of_a_valid_solution(self) -> None:
        self._skip_if_unavailable()
        calls = self.sample_calls()
        for call, res in zip(calls, self._run(calls), strict=True):
            assert res.status == "ok", res.error
            problem = Problem.from_json(call.payload["problem"])
            solution = check_solution(problem, res.value["solution"])  # raises on an invalid solution
            assert math.isclose(res.value["fitness"], fitness(problem, solution), rel_tol=1e-12, abs_tol=1e-12)
            assert res.value["direction"] == KINDS[problem.kind]
            assert 0 < res.value["evaluations"] <= call.payload["budget"] * 1.5

    def test_reproducible_at_a_fixed_seed(self) -> None:
        self._skip_if_unavailable()
        calls = self.sample_calls()
        first, second = self._run(calls), self._run(calls)
        assert [(r.status, r.value) for r in first] == [(r.status, r.value) for r in second]

    def test_beats_the_random_baseline(self) -> None:
        self._skip_if_unavailable()
        calls = self.sample_calls()
        for call, res in zip(calls, self._run(calls), strict=True):
            problem = Problem.from_json(call.payload["problem"])
            base, best = baseline(problem), res.value["fitness"]
            opt = exact_optimum(problem)
            if opt is not None:  # at least 80% of the way from random to the optimum
                assert (best - base) / (opt - base) >= 0.8, (problem.kind, best, base, opt)
            else:
                assert best < 0.8 * base, (problem.kind, best, base)

    def test_agrees_on_the_sphere_optimum(self) -> None:
        self._skip_if_unavailable()
        if "sphere" not in self._kinds():
            return
        res = self._run([call_for({"kind": "sphere", "seed": 4, "dim": 3}, 800, 0)])[0]
        assert res.value["fitness"] <= SPHERE_TOLERANCE

    def malformed_cases(self) -> list[Case]:
        """Kinds this backend does not handle, then bad payloads."""
        other = [call_for(s, 100, 0) for s, _, _ in SAMPLES if s["kind"] not in self._kinds()]
        return [(c, "unsupported kind") for c in other] + [(c, "payload") for c in self.hostile_calls()]

    def test_continuous_kinds_are_covered(self) -> None:
        assert self._kinds() <= set(KINDS)
        assert self._kinds() & (CONTINUOUS | {"onemax", "knapsack", "tsp"})


__all__ = ["SAMPLES", "OptimizerConformance", "call_for"]
