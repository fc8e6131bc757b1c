"""Framework results → one reward per record.

``reward = Σ wᵢ·sᵢ / Σ wᵢ`` (``aggregate = "mean"``) or ``Σ wᵢ·sᵢ`` (``"sum"``) over the frameworks
that count.  A non-scored result (abstained / timeout / error) follows its policy:

- ``mask``: the framework is left out (and its weight with it); a record with no scored framework gets
  ``reward = None`` and ``masked = True`` so a trainer can drop it from the loss;
- ``neutral``: it counts as ``neutral_value``;
- ``penalty``: it counts as ``penalty_value``.

A failure the completion caused (``result.cause == "completion"``: an over-size claim, a solver limit
hit on its own content; see :mod:`chil_core.failures`) follows ``on_completion_failure`` instead
(``penalty`` by default), so that a policy cannot escape a penalty by breaking the verifier.  Rewards
are rounded to :data:`~chil_core.contracts.results.SCORE_DIGITS` digits.
"""

from __future__ import annotations

from collections.abc import Mapping

from chil_core.config import RewardSettings
from chil_core.contracts import FrameworkResult, RecordReward
from chil_core.contracts.results import SCORE_DIGITS


def value_for(result: FrameworkResult, policy: RewardSettings) -> float | None:
    """The number a framework result contributes, or None when it is masked."""
    if result.status == "scored":
        return result.score
    if result.cause == "completion" and result.status != "abstained":
        rule = policy.on_completion_failure
    else:
        rule = policy.on_status.get(result.status, policy.on_missing)  # type: ignore[call-overload]
    if rule == "neutral":
        return policy.neutral_value
    if rule == "penalty":
        return policy.penalty_value
    return None


def aggregate(
    record_id: str,
    results: Mapping[str, FrameworkResult],
    weights: Mapping[str, float],
    policy: RewardSettings | None = None,
) -> RecordReward:
    policy = policy or RewardSettings()
    total = 0.0
    weight_sum = 0.0
    counted = 0
    typed = type(record_id) is str  # every part already of its field's type: nothing to validate
    for name, result in results.items():
        typed = typed and type(result) is FrameworkResult and type(name) is str
        v = value_for(result, policy)
        if v is None:
            continue
        w = float(weights.get(name, 1.0))
        total += w * v
        weight_sum += w
        counted += 1
    if counted == 0:
        reward = None
    elif policy.aggregate == "sum":
        reward = total
    else:
        reward = total / weight_sum if weight_sum else 0.0
    if reward is not None:
        reward = round(reward, SCORE_DIGITS) + 0.0
    frameworks, weights = dict(results), dict(weights)
    if typed and all(type(w) is float and type(n) is str for n, w in weights.items()):
        # what validation would build, without it (the scorer's hot path: ~1 µs instead of ~3.5)
        return RecordReward.model_construct(_FIELDS, id=record_id, reward=reward, masked=reward is None,
                                            frameworks=frameworks, weights=weights)
    return RecordReward(id=record_id, reward=reward, masked=reward is None, frameworks=frameworks, weights=weights)


_FIELDS = frozenset(RecordReward.model_fields)
