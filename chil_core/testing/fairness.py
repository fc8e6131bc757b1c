"""Conformance suite of the ``fairness`` capability: shared samples with hand-computed answers,
malformed payloads, and agreement with every other installed ``fairness`` backend.

```python
from chil_core.testing.fairness import FairnessConformance

class TestMyBackend(FairnessConformance):
    tool_class = MyFairness
```
"""

from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from chil_core.capabilities.fairness import METRICS, as_number
from chil_core.contracts import ToolCall
from chil_core.testing.conformance import ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads

#: population of 6 in two groups with labels, decisions, and the answers worked out by hand
SAMPLE_POPULATION = [
    {"id": "a1", "group": "a", "label": 1}, {"id": "a2", "group": "a", "label": 1}, {"id": "a3", "group": "a", "label": 0},
    {"id": "b1", "group": "b", "label": 1}, {"id": "b2", "group": "b", "label": 0}, {"id": "b3", "group": "b", "label": 0},
]
SAMPLE_DECISIONS = {"a1": 1, "a2": 0, "a3": 1, "b1": 1, "b2": 0, "b3": 0}
# a: selected 2/3, TPR 1/2, FPR 1;  b: selected 1/3, TPR 1, FPR 0;  correct: a1, b1, b2, b3 = 4/6
SAMPLE_EXPECTED = {
    "by_group": {"a": {"selection_rate": Fraction(2, 3), "tpr": Fraction(1, 2), "fpr": Fraction(1)},
                 "b": {"selection_rate": Fraction(1, 3), "tpr": Fraction(1), "fpr": Fraction(0)}},
    "metrics": {"demographic_parity_difference": Fraction(1, 3), "demographic_parity_ratio": Fraction(1, 2),
                "equal_opportunity_difference": Fraction(1, 2), "equalized_odds_difference": Fraction(1),
                "accuracy": Fraction(2, 3)},
}
UNLABELLED = [{"id": str(i), "group": "x" if i < 4 else "y"} for i in range(8)]
UNLABELLED_DECISIONS = {str(i): int(i in (0, 4, 5, 6)) for i in range(8)}  # x: 1/4, y: 3/4


def metrics_call(population: list[dict[str, Any]], decisions: dict[str, int]) -> ToolCall:
    return ToolCall(capability="fairness", op="metrics", payload={"population": population, "decisions": decisions})


def random_population(rng: random.Random, labelled: bool = True) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """A generated population (2-5 groups, 1-60 members, skewed rates) and decisions."""
    groups = [f"g{i}" for i in range(rng.randint(2, 5))]
    n = rng.randint(len(groups), 60)
    pop, dec = [], {}
    bias = {g: rng.random() for g in groups}
    for i in range(n):
        g = groups[i % len(groups)] if i < len(groups) else rng.choice(groups)
        m: dict[str, Any] = {"id": f"m{i}", "group": g}
        if labelled:
            m["label"] = int(rng.random() < 0.5)
        pop.append(m)
        dec[f"m{i}"] = int(rng.random() < bias[g])
    return pop, dec


def close(a: Any, b: Any, tol: float = 1e-12) -> bool:
    """Equal numbers (exact when both are exact, else within ``tol``); None only equals None."""
    x, y = as_number(a) if not isinstance(a, Fraction) else a, as_number(b) if not isinstance(b, Fraction) else b
    if x is None or y is None:
        return x is None and y is None
    if isinstance(x, Fraction) and isinstance(y, Fraction):
        return x == y
    return abs(float(x) - float(y)) <= tol


def agree(a: dict[str, Any], b: dict[str, Any], tol: float = 1e-12) -> list[str]:
    """Where two ``metrics`` answers differ (empty: they agree)."""
    out = []
    if a["groups"] != b["groups"]:
        return [f"groups {a['groups']} != {b['groups']}"]
    for m in METRICS:
        if not close(a["metrics"][m], b["metrics"][m], tol):
            out.append(f"{m}: {a['metrics'][m]} != {b['metrics'][m]}")
    for g in a["groups"]:
        for k in ("n", "selected"):
            if a["by_group"][g][k] != b["by_group"][g][k]:
                out.append(f"{g}.{k}")
        for k in ("selection_rate", "tpr", "fpr"):
            if not close(a["by_group"][g][k], b["by_group"][g][k], tol):
                out.append(f"{g}.{k}: {a['by_group'][g][k]} != {b['by_group'][g][k]}")
    return out


class FairnessConformance(MalformedPayloads, ToolConformance):
    """What every ``fairness`` backend must do."""

    #: populations compared with each other installed backend
    agreement_samples: int = 25

    def sample_calls(self) -> list[ToolCall]:
        return [metrics_call(SAMPLE_POPULATION, SAMPLE_DECISIONS), metrics_call(UNLABELLED, UNLABELLED_DECISIONS)]

    def hostile_calls(self) -> list[ToolCall]:
        return [metrics_call([], {}), metrics_call(SAMPLE_POPULATION, {"zz": 1}),
                metrics_call([{"id": "a", "group": "g", "label": float("nan")}], {"a": 1}),
                ToolCall(capability="fairness", op="metrics", payload={"population": "x"})]

    def test_sample_values(self) -> None:
        self._skip_if_unavailable()
        labelled, unlabelled = self._run(self.sample_calls())
        assert labelled.ok and unlabelled.ok, (labelled.error, unlabelled.error)
        v = labelled.value
        assert v["groups"] == ["a", "b"]
        for m, want in SAMPLE_EXPECTED["metrics"].items():
            assert close(v["metrics"][m], want), (m, v["metrics"][m], want)
        for g, rates in SAMPLE_EXPECTED["by_group"].items():
            assert v["by_group"][g]["n"] == 3
            for k, want in rates.items():
                assert close(v["by_group"][g][k], want), (g, k, v["by_group"][g][k])
        u = unlabelled.value
        assert close(u["metrics"]["demographic_parity_difference"], Fraction(1, 2))
        assert close(u["metrics"]["demographic_parity_ratio"], Fraction(1, 3))
        assert u["metrics"]["equalized_odds_difference"] is None and u["metrics"]["accuracy"] is None
        if v["exact"]:
            assert all(isinstance(x, str) or x is None for x in v["metrics"].values()), "exact backends answer 'p/q' strings"

    def malformed_cases(self) -> list[Case]:
        return list(zip(self.hostile_calls() + [metrics_call(SAMPLE_POPULATION, {**SAMPLE_DECISIONS, "a1": 2}),
                                                metrics_call(SAMPLE_POPULATION, {"a1": 1})],
                        ["population", "zz", "label", "population", "a1", "no decision"], strict=True))

    def test_agrees_with_every_other_backend(self) -> None:
        self._skip_if_unavailable()
        rng = random.Random(7)
        calls = [metrics_call(*random_population(rng, labelled=i % 3 != 0)) for i in range(self.agreement_samples)]
        mine = self._run(calls)
        for cls in self.other_backends():
            theirs = self.run_other(cls, calls)
            for call, a, b in zip(calls, mine, theirs, strict=True):
                assert a.ok and b.ok
                diff = agree(a.value, b.value)
                assert not diff, f"{self.tool_class.name} vs {cls.name} on {call.payload}: {diff}"
