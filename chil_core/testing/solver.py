"""Conformance suite of the ``solver`` capability: shared sample models with their exact optima, hostile
payloads, the time limit, and agreement with every other installed ``solver`` backend.

```python
from chil_core.testing.solver import SolverConformance

class TestMySolver(SolverConformance):
    tool_class = MySolver
```
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from chil_core.capabilities.solver import close
from chil_core.contracts import ToolCall
from chil_core.testing.conformance import ToolConformance, _norm, answers_of

#: (name, model, expected status, expected optimum or None) — worked by hand.
SAMPLE_MODELS: list[tuple[str, dict[str, Any], str, float | None]] = [
    ("lp max", {"sense": "max", "variables": ["x", "y"], "objective": {"x": 3, "y": 2},
                "constraints": [{"terms": {"x": 1, "y": 1}, "sense": "<=", "rhs": 4},
                                {"terms": {"x": 1, "y": 3}, "sense": "<=", "rhs": 6}]}, "optimal", 12.0),
    ("lp min fractions", {"sense": "min", "variables": ["x", "y"], "objective": {"x": 1, "y": 1},
                          "constraints": [{"terms": {"x": 2, "y": 1}, "sense": ">=", "rhs": 3},
                                          {"terms": {"x": 1, "y": 2}, "sense": ">=", "rhs": 3}]}, "optimal", 2.0),
    ("knapsack milp", {"sense": "max", "variables": [{"name": f"x{i}", "binary": True} for i in range(3)],
                       "objective": {"x0": 10, "x1": 7, "x2": 5},
                       "constraints": [{"terms": {"x0": 5, "x1": 4, "x2": 3}, "sense": "<=", "rhs": 8}]}, "optimal", 15.0),
    ("equality, free variable, constant", {"sense": "min", "variables": [{"name": "x", "lb": None}, {"name": "y", "ub": 10}],
                                           "objective": {"terms": {"x": 1, "y": -1}, "constant": "5/2"},
                                           "constraints": [{"terms": {"x": 1, "y": 1}, "sense": "=", "rhs": -2}]}, "optimal", -19.5),
    ("integer rounding", {"sense": "max", "variables": [{"name": "x", "integer": True}, {"name": "y", "integer": True}],
                          "objective": {"x": 1, "y": 1},
                          "constraints": [{"terms": {"x": 2, "y": 2}, "sense": "<=", "rhs": 7}]}, "optimal", 3.0),
    ("infeasible", {"sense": "min", "variables": ["x"], "objective": {"x": 1},
                    "constraints": [{"terms": {"x": 1}, "sense": ">=", "rhs": 5}, {"terms": {"x": 1}, "sense": "<=", "rhs": 3}]},
     "infeasible", None),
    ("unbounded", {"sense": "max", "variables": ["x", "y"], "objective": {"x": 1, "y": 1},
                   "constraints": [{"terms": {"x": 1, "y": -1}, "sense": "<=", "rhs": 1}]}, "unbounded", None),
]


def solve_call(model: dict[str, Any], time_limit_s: float = 10.0) -> ToolCall:
    return ToolCall(capability="solver", op="solve", payload={"model": model, "time_limit_s": time_limit_s})


def hard_milp(n: int = 60, seed: int = 3) -> dict[str, Any]:
    """A multi-dimensional 0/1 knapsack that branch and bound does not close in a fraction of a second."""
    import random

    rng = random.Random(seed)
    names = [f"x{i}" for i in range(n)]
    cons = []
    for k in range(8):
        w = {v: rng.randint(20, 100) for v in names}
        cons.append({"name": f"r{k}", "terms": w, "sense": "<=", "rhs": sum(w.values()) // 2})
    return {"sense": "max", "variables": [{"name": v, "binary": True} for v in names],
            "objective": {v: rng.randint(20, 100) for v in names}, "constraints": cons}


class SolverConformance(ToolConformance):
    """What every ``solver`` backend must do (on top of :class:`ToolConformance`)."""

    options: ClassVar[dict[str, Any]] = {}
    #: statuses a backend may answer instead of the expected one (a presolve that cannot tell which)
    also_accepted: ClassVar[dict[str, set[str]]] = {"infeasible": {"infeasible_or_unbounded"}, "unbounded": {"infeasible_or_unbounded"}}

    def sample_calls(self) -> list[ToolCall]:
        return [solve_call(m) for _, m, _, _ in SAMPLE_MODELS]

    def hostile_calls(self) -> list[ToolCall]:
        return [
            solve_call({"sense": "max", "variables": ["x"], "objective": {"x": float("nan")}}),
            solve_call({"sense": "max", "variables": ["x"], "objective": {"y": 1}}),
            solve_call({"sense": "max", "variables": [f"x{i}" for i in range(10_000_000 // 1000)], "objective": {"x0": 1},
                        "constraints": [{"terms": {"x0": 1}, "sense": "<=", "rhs": "1e30"}]}),
            solve_call({"sense": "max", "variables": ["x"], "objective": {"x": 1}}, time_limit_s=-1),
            ToolCall(capability="solver", op="solve", payload={"model": [1, 2, 3]}),
        ]

    def test_sample_models_give_their_optima(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            for (name, _, status, optimum), call in zip(SAMPLE_MODELS, self.sample_calls(), strict=True):
                res = _norm(tool.run_batch([call])[0])
                assert res.status == "ok", f"{name}: {res.error}"
                got = res.value["status"]
                assert got == status or got in self.also_accepted.get(status, set()), f"{name}: {got}"
                if optimum is not None:
                    assert close(res.value["objective"], optimum), f"{name}: {res.value['objective']} != {optimum}"
                    assert set(res.value["solution"]) == {v if isinstance(v, str) else v["name"] for v in call.payload["model"]["variables"]}
                else:
                    assert res.value["objective"] is None and res.value["solution"] is None
        finally:
            tool.close()

    def test_hostile_models_get_clear_answers(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            nan, unknown, big, limit, garbage = [_norm(x) for x in tool.run_batch(self.hostile_calls())]
        finally:
            tool.close()
        assert nan.status == "error" and "finite" in (nan.error or "")
        assert unknown.status == "error" and "undeclared variable 'y'" in (unknown.error or "")
        assert big.status == "error" and "magnitude" in (big.error or "")
        assert limit.status == "error" and "time_limit_s" in (limit.error or "")
        assert garbage.status == "error" and "payload.model" in (garbage.error or "")

    def test_time_limit_is_honoured(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            t0 = time.monotonic()
            res = _norm(tool.run_batch([solve_call(hard_milp(), time_limit_s=0.2)])[0])
            elapsed = time.monotonic() - t0
        finally:
            tool.close()
        assert res.status == "ok" and res.value["status"] in ("time_limit", "optimal"), res
        assert elapsed < 3.0, f"a 0.2 s limit took {elapsed:.1f} s"

    def test_agrees_with_every_other_solver_backend(self) -> None:
        from chil_core.plugins import get_registry

        self._skip_if_unavailable()
        others = [cls for cls in get_registry().tools.get("solver", {}).values()
                  if cls.name != self.tool_class.name and not cls.unavailable_reason()]
        if not others:
            import pytest

            pytest.skip("no other solver backend installed")
        import random

        rng = random.Random(11)
        models = [m for _, m, status, _ in SAMPLE_MODELS if status == "optimal"]
        for k in range(20):
            names = [f"v{i}" for i in range(rng.randint(2, 20))]
            models.append({"sense": rng.choice(["min", "max"]),
                           "variables": [{"name": v, "ub": rng.randint(1, 10), "integer": k % 2 == 0} for v in names],
                           "objective": {v: rng.randint(-9, 9) for v in names},
                           "constraints": [{"terms": {v: rng.randint(0, 9) for v in names}, "sense": "<=", "rhs": rng.randint(10, 80)}
                                           for _ in range(rng.randint(1, 8))]})
        calls = [solve_call(m) for m in models]
        ours = answers_of(self.tool_class, self.options, calls)
        for cls in others:
            theirs = answers_of(cls, {}, calls)
            for m, a, b in zip(models, ours, theirs, strict=True):
                assert a.status == b.status == "ok", (a.error, b.error)
                assert a.value["status"] == b.value["status"] == "optimal"
                assert close(a.value["objective"], b.value["objective"]), f"{self.tool_class.name} vs {cls.name} on {m}"
