"""Exact fairness metrics: the fairness conformance suite (hand-computed sample, malformed payloads,
agreement with fairlearn when installed) and exactness on awkward denominators."""

from __future__ import annotations

from fractions import Fraction

from chil_plugin_rational.metrics import RationalFairness

from chil_core.testing.fairness import FairnessConformance, metrics_call


class TestRationalConformance(FairnessConformance):
    tool_class = RationalFairness
    agreement_samples = 5  # the fairlearn suite checks the same agreement the other way round, on more


def test_thirds_and_sevenths_stay_exact() -> None:
    pop = [{"id": f"a{i}", "group": "a"} for i in range(3)] + [{"id": f"b{i}", "group": "b"} for i in range(7)]
    dec = {**{f"a{i}": int(i < 1) for i in range(3)}, **{f"b{i}": int(i < 5) for i in range(7)}}
    value = RationalFairness().run_batch([metrics_call(pop, dec)])[0]
    assert value["metrics"]["demographic_parity_difference"] == "8/21"  # 5/7 - 1/3
    assert value["metrics"]["demographic_parity_ratio"] == "7/15"
    assert Fraction(value["by_group"]["b"]["selection_rate"]) == Fraction(5, 7)


def test_group_without_positives_has_tpr_zero_as_in_fairlearn() -> None:
    pop = [{"id": "a", "group": "g", "label": 0}, {"id": "b", "group": "h", "label": 1}]
    value = RationalFairness().run_batch([metrics_call(pop, {"a": 1, "b": 1})])[0]
    assert value["by_group"]["g"]["tpr"] == "0" and value["by_group"]["h"]["fpr"] == "0"
    assert value["metrics"]["equal_opportunity_difference"] == "1" and value["metrics"]["equalized_odds_difference"] == "1"
