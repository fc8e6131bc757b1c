"""Reward integrity in the core: who caused a failure and what it costs, numbers in rewards and config."""

from __future__ import annotations

import json
import math

import pytest

from chil_core.config import ConfigError, RewardSettings, load_settings
from chil_core.contracts import FrameworkResult, ToolResult
from chil_core.failures import completion_failure, failure_cause, failure_metrics, tool_failure
from chil_core.rewards import aggregate

SCORED = FrameworkResult.scored(1.0)


# -- who caused a failure ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("result", "completion_input", "status", "cause"),
    [
        (ToolResult("timeout", None, "z3 gave up after 2000 ms (canceled)", "z3"), True, "timeout", "completion"),
        (ToolResult("error", None, "AstError: claims[0]: formula larger than 50000 nodes", "z3"), True, "error", "completion"),
        (ToolResult("timeout", None, "z3 gave up after 2000 ms (canceled)", "z3"), False, "timeout", "infrastructure"),
        (ToolResult("error", None, "worker crashed (exit code -9); replaced", "prolog"), True, "error", "infrastructure"),
        (ToolResult("error", None, "worker did not start within 30s", "prolog"), True, "error", "infrastructure"),
        (ToolResult("error", None, "scheduler: RuntimeError: boom", "z3"), True, "error", "infrastructure"),
    ],
)
def test_tool_failure_names_its_cause(result: ToolResult, completion_input: bool, status: str, cause: str) -> None:
    fr = tool_failure(result, "smt", completion_input=completion_input)
    assert (fr.status, fr.cause) == (status, cause)
    assert failure_cause(result, completion_input) == cause
    assert result.error in fr.explanation


def test_unavailable_backend_abstains_as_infrastructure() -> None:
    fr = tool_failure(ToolResult("unavailable", None, "no lean binary", "lean"), "theorem_prover", completion_input=True)
    assert fr.status == "abstained" and fr.cause == "infrastructure" and "no lean binary" in fr.explanation


# -- what a failure costs -------------------------------------------------------------------
def test_completion_caused_failure_is_penalised_by_default_infrastructure_masked() -> None:
    mine = completion_failure("a name longer than 200 characters")
    theirs = tool_failure(ToolResult("error", None, "worker crashed (exit code -11); replaced", "z3"), "smt", completion_input=True)
    assert aggregate("x", {"a": mine}, {"a": 1.0}).reward == 0.0  # not None: the penalty is not dodged
    masked = aggregate("x", {"a": theirs}, {"a": 1.0})
    assert masked.reward is None and masked.masked
    assert aggregate("x", {"a": SCORED, "b": mine}, {"a": 1, "b": 1}).reward == 0.5
    # configurable: a penalty value, or masking them too
    assert aggregate("x", {"a": mine}, {"a": 1.0}, RewardSettings(penalty_value=-1.0)).reward == -1.0
    assert aggregate("x", {"a": mine}, {"a": 1.0}, RewardSettings(on_completion_failure="mask")).reward is None


def test_failures_are_counted_by_cause() -> None:
    mine = completion_failure("too big")
    theirs = FrameworkResult.failed("crashed", cause="infrastructure")
    rewards = [aggregate(str(i), {"f": r}, {"f": 1.0}) for i, r in enumerate([mine, mine, theirs, SCORED])]
    assert failure_metrics(rewards) == {"failures/f/completion": 2.0, "failures/f/infrastructure": 1.0}


# -- numbers ----------------------------------------------------------------------------------
def test_rewards_and_scores_are_rounded() -> None:
    r = aggregate("x", {"a": FrameworkResult.scored(0.1), "b": FrameworkResult.scored(0.2)}, {"a": 1.0, "b": 1.0})
    assert 0.1 + 0.2 != 0.3 and r.reward == 0.15 and json.dumps(r.reward) == "0.15"
    assert FrameworkResult.scored(0.1 + 0.2).score == 0.3
    assert math.copysign(1, FrameworkResult.scored(-0.0).score) == 1.0


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"frameworks": {"empirical": {"weight": float("nan")}}}, "frameworks.empirical.weight"),
        ({"frameworks": {"empirical": {"weight": float("inf")}}}, "frameworks.empirical.weight"),
        ({"rewards": {"penalty_value": float("nan")}}, "rewards.penalty_value"),
        ({"rewards": {"neutral_value": float("-inf")}}, "rewards.neutral_value"),
    ],
)
def test_non_finite_numbers_are_config_errors(config: dict, field: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(config, env={})
    assert field in dict(exc.value.errors)


def test_nan_from_the_environment_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({}, env={"CHIL__REWARDS__PENALTY_VALUE": "nan"})
    assert "rewards.penalty_value" in dict(exc.value.errors)


def test_all_zero_weights_are_a_config_error() -> None:
    zero = {"frameworks": {"empirical": {"weight": 0}, "consistency": {"weight": 0.0}}}
    with pytest.raises(ConfigError) as exc:
        load_settings(zero, env={})
    assert "weight 0" in str(exc.value)
    with pytest.raises(ConfigError):  # only the zero-weight framework enabled
        load_settings({"frameworks": {"empirical": {"weight": 0}, "consistency": {"weight": 1}}},
                      frameworks=["empirical"], env={})
    ok = load_settings({"frameworks": {"empirical": {"weight": 0}, "consistency": {"weight": 1}}}, env={})
    assert ok.frameworks["empirical"].weight == 0
