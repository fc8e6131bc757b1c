"""One place that turns a failed tool call into a framework status, and says who caused the failure.

A reward must not be dodged by breaking the verifier.  So every non-``scored`` framework result that
comes from a failure carries a ``cause``:

- ``"completion"``: the completion's own content broke the check: an over-size claim, text that does
  not parse, a solver limit (time, resources, formula size) hit on the completion's own claims.
  Penalised by default (``[rewards] on_completion_failure = "penalty"``).
- ``"infrastructure"``: the backend is unavailable, crashed, failed to start, is misconfigured, or the
  record's gold data (premises, theory) alone fails.  Masked by default (``[rewards] on_missing``).

Both are counted: :func:`failure_metrics` gives ``failures/<framework>/<cause>`` for a batch (the
trainer logs them next to ``frac/not_scored``).

How a framework uses it::

    from chil_core.failures import completion_failure, tool_failure

    res = await ctx.call("smt", "fol", {"premises": premises, "claims": claims})
    if not res.ok:
        # completion_input: did this call carry content taken from the completion?  When it did, a
        # timeout or a backend error is the completion's doing unless it is an infrastructure failure
        # (see INFRASTRUCTURE_ERRORS).  A framework that can check the gold part alone (the premises
        # without the claims) should do so and pass completion_input=False when that fails too.
        return tool_failure(res, "smt", completion_input=True)

    # the framework's own refusal of the completion's content, before any tool call:
    if len(name) > 200:
        return completion_failure("a name longer than 200 characters", verdict="oversize")

``unavailable`` results become ``abstained`` (the framework cannot judge here; infrastructure).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from chil_core.contracts import FrameworkResult, RecordReward, ToolResult

Cause = Literal["completion", "infrastructure"]
CAUSES: tuple[str, ...] = ("completion", "infrastructure")

#: error texts (from the scheduler and worker pool) that mean the machinery failed, not the input.
INFRASTRUCTURE_ERRORS: tuple[str, ...] = (
    "worker crashed", "worker died", "worker did not start", "backend failed to start", "scheduler:",
    "no backend configured", "has no op", "backend returned", "backend did not start",
    "waiting for a CPU",  # a timeout while the machine starved the backend (chil_core.scheduler.STARVED)
)


def failure_cause(res: ToolResult, completion_input: bool) -> Cause:
    """Who caused the failed ``res``: the completion (its content was in the call and the failure is
    a limit or a rejection of that content) or the infrastructure."""
    if res.status == "unavailable" or not completion_input:
        return "infrastructure"
    error = res.error or ""
    if any(marker in error for marker in INFRASTRUCTURE_ERRORS):
        return "infrastructure"
    return "completion"


def tool_failure(res: ToolResult, capability: str, *, completion_input: bool = False, **kw: Any) -> FrameworkResult:
    """The framework result for a failed tool call ``res`` on ``capability`` (see the module docstring).

    ``kw`` go to :class:`~chil_core.contracts.FrameworkResult` (``verdict``, ``evidence``, ``components``).
    """
    where = f"{capability} backend {res.backend or '?'}"
    if res.status == "unavailable":
        return FrameworkResult.abstained(f"{where} unavailable: {res.error}", cause="infrastructure", **kw)
    status = "timeout" if res.status == "timeout" else "error"
    cause = failure_cause(res, completion_input)
    if cause == "completion":
        kw.setdefault("verdict", "solver_limit" if status == "timeout" else "rejected")
        text = f"the completion's content made {where} fail ({status}): {res.error}"
    else:
        text = f"{where} failed ({status}): {res.error}"
    return FrameworkResult.failed(text, status, cause=cause, **kw)


def completion_failure(explanation: str, status: Literal["timeout", "error"] = "error", **kw: Any) -> FrameworkResult:
    """A failure the completion caused, found by the framework itself (over-size input, say)."""
    return FrameworkResult.failed(explanation, status, cause="completion", **kw)


def failure_metrics(rewards: Iterable[RecordReward]) -> dict[str, float]:
    """``failures/<framework>/<cause>``: how many results of each framework failed, by cause."""
    out: dict[str, float] = {}
    for reward in rewards:
        for name, result in reward.frameworks.items():
            if result.cause is not None and result.status != "scored":
                key = f"failures/{name}/{result.cause}"
                out[key] = out.get(key, 0.0) + 1.0
    return out
