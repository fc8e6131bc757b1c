"""The trainer logs the evaluation metrics a framework declares, not a hard-coded component name."""

from __future__ import annotations

from typing import ClassVar

from chil_core import Framework, FrameworkResult
from chil_core.contracts import RecordReward
from chil_core.training.trainer import declared_eval_metrics


class Declares(Framework):
    name: ClassVar[str] = "a"
    eval_metrics: ClassVar[tuple[str, ...]] = ("hit", "found")


class Silent(Framework):
    name: ClassVar[str] = "b"


def reward(i: str, a: FrameworkResult, b: FrameworkResult) -> RecordReward:
    return RecordReward(id=i, reward=None, frameworks={"a": a, "b": b})


def test_means_of_declared_components_only():
    rewards = [reward("1", FrameworkResult.scored(1.0, components={"hit": 1.0, "found": 1.0, "other": 5.0}),
                      FrameworkResult.scored(0.0, components={"hit": 0.0})),
               reward("2", FrameworkResult.scored(0.0, components={"hit": 0.0}),
                      FrameworkResult.scored(1.0, components={"hit": 1.0})),
               reward("3", FrameworkResult.abstained("nothing to judge"), FrameworkResult.abstained("n/a"))]
    out = declared_eval_metrics(rewards, {"a": Declares(), "b": Silent()})
    assert out == {"a/hit": 0.5, "a/found": 1.0}  # b declares nothing; 'other' is not declared


def test_empirical_declares_answer_correct():
    from chil_core.plugins import get_registry

    assert get_registry().frameworks["empirical"].eval_metrics == ("answer_correct",)
