import pytest

from chil_core.config import RewardSettings
from chil_core.contracts import FrameworkResult
from chil_core.rewards import aggregate

SCORED = FrameworkResult.scored(1.0)
LOW = FrameworkResult.scored(0.0)
ABSTAIN = FrameworkResult.abstained("nothing to check")
TIMEOUT = FrameworkResult.failed("slow", status="timeout")


def test_weighted_mean_and_breakdown():
    r = aggregate("x", {"a": SCORED, "b": LOW}, {"a": 3.0, "b": 1.0})
    assert r.reward == pytest.approx(0.75)
    assert set(r.frameworks) == {"a", "b"} and r.weights == {"a": 3.0, "b": 1.0}


def test_mask_drops_non_scored_and_masks_empty_records():
    assert aggregate("x", {"a": SCORED, "b": ABSTAIN}, {"a": 1, "b": 1}).reward == 1.0
    r = aggregate("x", {"a": ABSTAIN, "b": TIMEOUT}, {"a": 1, "b": 1})
    assert r.reward is None and r.masked


def test_neutral_and_penalty_and_per_status_overrides():
    neutral = RewardSettings(on_missing="neutral", neutral_value=0.5)
    assert aggregate("x", {"a": SCORED, "b": ABSTAIN}, {"a": 1, "b": 1}, neutral).reward == pytest.approx(0.75)
    penalty = RewardSettings(on_missing="penalty", penalty_value=-1.0)
    assert aggregate("x", {"a": SCORED, "b": TIMEOUT}, {"a": 1, "b": 1}, penalty).reward == pytest.approx(0.0)
    mixed = RewardSettings(on_missing="mask", on_status={"timeout": "penalty"}, penalty_value=0.0)
    assert aggregate("x", {"a": SCORED, "b": ABSTAIN, "c": TIMEOUT}, {"a": 1, "b": 1, "c": 1}, mixed).reward == pytest.approx(0.5)


def test_sum_aggregation():
    r = aggregate("x", {"a": SCORED, "b": SCORED}, {"a": 2.0, "b": 0.5}, RewardSettings(aggregate="sum"))
    assert r.reward == pytest.approx(2.5)
