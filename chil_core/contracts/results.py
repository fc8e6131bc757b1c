"""Framework verdicts and per-record rewards."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

FrameworkStatus = Literal["scored", "abstained", "timeout", "error"]
FRAMEWORK_STATUSES: tuple[str, ...] = ("scored", "abstained", "timeout", "error")
#: who caused a non-scored result: the completion's content, or the infrastructure (see chil_core.failures).
FailureCause = Literal["completion", "infrastructure"]
#: digits kept in scores and rewards (no 0.15000000000000002 in the JSONL).
SCORE_DIGITS = 9


class Evidence(BaseModel):
    """One piece of evidence a person can read: the wrong step, the unsat core, the fact row."""

    kind: str = Field(description="e.g. 'arithmetic_step', 'unsat_core', 'fact', 'contradiction'.")
    text: str = Field(description="Human-readable statement of the evidence.")
    data: dict[str, Any] = Field(default_factory=dict)


class FrameworkResult(BaseModel):
    """What one framework made of one record.

    ``score`` is present exactly when ``status == 'scored'``; it is finite.  ``components`` are the
    numbers the score was made from (e.g. ``arithmetic_steps``), ``verdict`` a short label
    (``entailed``, ``contradicted``, ``correct``...), ``evidence`` why.
    """

    status: FrameworkStatus
    score: float | None = None
    components: dict[str, float] = Field(default_factory=dict)
    verdict: str | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    explanation: str | None = None
    cause: FailureCause | None = Field(
        default=None,
        description="For timeout/error: 'completion' when the completion's own content broke the check "
        "(penalised by default), 'infrastructure' when the backend did (masked by default).")

    @model_validator(mode="after")
    def _score_iff_scored(self) -> FrameworkResult:
        if self.status == "scored":
            if self.score is None:
                raise ValueError("status 'scored' requires a score")
            if not math.isfinite(self.score):
                raise ValueError(f"score must be finite, got {self.score!r}")
            self.score = round(self.score, SCORE_DIGITS) + 0.0  # + 0.0: no -0.0
        elif self.score is not None:
            raise ValueError(f"status {self.status!r} must not carry a score")
        return self

    @classmethod
    def scored(cls, score: float, **kw: Any) -> FrameworkResult:
        return cls(status="scored", score=float(score), **kw)

    @classmethod
    def abstained(cls, explanation: str, **kw: Any) -> FrameworkResult:
        return cls(status="abstained", explanation=explanation, **kw)

    @classmethod
    def failed(cls, explanation: str, status: FrameworkStatus = "error", **kw: Any) -> FrameworkResult:
        return cls(status=status, explanation=explanation, **kw)


class RecordReward(BaseModel):
    """The reward of one record: the weighted aggregate and every framework's result."""

    id: str
    reward: float | None = Field(description="None when masked (no framework scored and policy is 'mask').")
    masked: bool = False
    frameworks: dict[str, FrameworkResult] = Field(default_factory=dict)
    weights: dict[str, float] = Field(default_factory=dict)
