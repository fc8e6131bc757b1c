"""chil frameworks as verifiers reward functions, with their weights.

verifiers 0.4 (``verifiers.v1``) scores a rollout with a task's ``@vf.reward(weight=...)`` methods (summed,
weighted, into ``trace.reward``) and ``@vf.metric`` methods (recorded, not summed); the classic
``vf.Rubric(funcs=[...], weights=[...])`` of verifiers <= 0.3 takes reward functions
``f(prompt, completion, answer, state, info, **kwargs) -> float``.  Both are here:

```python
import verifiers.v1 as vf
from chil_core.integrations.verifiers import chil_task

MathTask = chil_task(config="chil.toml", frameworks=["empirical"])      # a vf.Task subclass
class MyTask(MathTask): ...                                                # add your own rewards if you like

# verifiers <= 0.3:
from chil_core.integrations.verifiers import chil_rubric_funcs
funcs, weights = chil_rubric_funcs("chil.toml")
rubric = vf.Rubric(funcs=funcs, weights=weights)
```

As with TRL, verifiers *sums* weighted rewards.  By default the one reward is ``chil_reward``, chil's own
aggregate (the weighted mean of the frameworks that scored: what ``chil train`` trains on), weight 1,
and every framework's score is a metric (``chil_<framework>``: logged, not summed; None where the
framework did not score).  ``per_framework=True`` makes each framework a reward of its own with its
config weight instead (a different reward whenever frameworks score different completions).  A rollout
no framework scored gets ``masked_value`` (0.0).  The completion is ``trace.last_reply``, the prompt
``task.prompt_text``, the gold data the task data's ``answer`` field (a string, or an object with
``reference`` / ``metadata``) and its ``metadata`` field when it has one.  Each trace's chil result is
kept in ``trace.info["chil"]`` (reward and per-framework status, score, verdict), and a trace is scored
once however many of these functions read it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from chil_core.contracts import Record
from chil_core.integrations.common import label_fields, loop_batcher, shared_scorer


def _summary(reward: Any) -> dict[str, Any]:
    return {"reward": reward.reward, "masked": reward.masked,
            "frameworks": {n: {"status": r.status, "score": r.score, "verdict": r.verdict}
                           for n, r in reward.frameworks.items()}}


def _score_of(summary: dict[str, Any], name: str | None, masked_value: float) -> float | None:
    if name is None:
        return masked_value if summary["reward"] is None else float(summary["reward"])
    fw = summary["frameworks"].get(name) or {}
    return float(fw["score"]) if fw.get("status") == "scored" and fw.get("score") is not None else None


def chil_task(config: str | None = None, *, frameworks: Sequence[str] | None = None, per_framework: bool = False,
              masked_value: float = 0.0, answer_field: str = "answer", base: Any = None) -> type:
    """A ``verifiers.v1.Task`` subclass (of ``base``, default ``vf.Task``) whose rewards are chil's."""
    import verifiers.v1 as vf

    scorer = shared_scorer(config, list(frameworks) if frameworks else None)
    names = list(scorer.frameworks)
    weights = dict(scorer.weights)
    pending_key = "_chil_pending"

    async def chil_result(task: Any, trace: Any) -> dict[str, Any]:
        done = trace.info.get("chil")
        if done is not None:
            return done
        pending = trace.info.get(pending_key)
        if pending is None:
            pending = trace.info[pending_key] = asyncio.ensure_future(_score(task, trace))
        try:
            result = await asyncio.shield(pending)
        finally:
            if pending.done():
                trace.info.pop(pending_key, None)
        trace.info["chil"] = result
        return result

    async def _score(task: Any, trace: Any) -> dict[str, Any]:
        fields = label_fields(getattr(task, answer_field, None), where=f"task.{answer_field}")
        metadata = getattr(task, "metadata", None)
        if isinstance(metadata, dict):
            fields["metadata"] = {**fields.get("metadata", {}), **metadata}
        record = Record(id=str(getattr(task, "id", None) or getattr(task, "idx", None) or "0"),
                        prompt=getattr(task, "prompt_text", "") or "", completion=trace.last_reply or "", **fields)
        (reward,) = await loop_batcher(scorer).score([record])
        return _summary(reward)

    namespace: dict[str, Any] = {"__doc__": f"chil rewards: {', '.join(names)}"}
    if per_framework:
        for name in names:
            def make(fw: str) -> Any:
                async def fn(self: Any, task: Any, trace: Any) -> float:
                    value = _score_of(await chil_result(task, trace), fw, masked_value)
                    return masked_value if value is None else value

                fn.__name__ = fn.__qualname__ = f"chil_{fw}"
                return vf.reward(fn, weight=weights[fw])

            namespace[f"chil_{name}"] = make(name)
    else:
        async def chil_reward(self: Any, task: Any, trace: Any) -> float:
            return _score_of(await chil_result(task, trace), None, masked_value)  # type: ignore[return-value]

        async def chil_frameworks(self: Any, task: Any, trace: Any) -> dict[str, float | None]:
            result = await chil_result(task, trace)
            return {f"chil_{n}": _score_of(result, n, masked_value) for n in names}

        namespace["chil_reward"] = vf.reward(chil_reward, weight=1.0)
        namespace["chil_frameworks"] = vf.metric(chil_frameworks)
    return type("ChilTask", (base or vf.Task,), namespace)


def chil_rubric_funcs(config: str | None = None, *, frameworks: Sequence[str] | None = None,
                      per_framework: bool = False, masked_value: float = 0.0) -> tuple[list[Any], list[float]]:
    """Reward functions and weights for the classic ``vf.Rubric(funcs=..., weights=...)`` (verifiers <= 0.3).

    Each function is ``async f(prompt, completion, answer, state, info, **kwargs) -> float``; a completion
    may be text or a list of chat messages (the last assistant message is judged)."""
    scorer = shared_scorer(config, list(frameworks) if frameworks else None)
    names = list(scorer.frameworks)

    def text(value: Any, last: bool) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            msgs = [m for m in value if isinstance(m, dict)]
            if last:
                replies = [m for m in msgs if m.get("role") == "assistant"] or msgs
                return str(replies[-1].get("content", "")) if replies else ""
            return "\n".join(str(m.get("content", "")) for m in msgs)
        return "" if value is None else str(value)

    async def result(prompt: Any, completion: Any, answer: Any, state: Any, info: Any) -> dict[str, Any]:
        memo = state.get("chil") if isinstance(state, dict) else None
        if memo is not None:
            return memo
        fields = label_fields(answer, where="answer")
        if isinstance(info, dict) and isinstance(info.get("metadata"), dict):
            fields["metadata"] = {**fields.get("metadata", {}), **info["metadata"]}
        record = Record(id="0", prompt=text(prompt, False), completion=text(completion, True), **fields)
        (reward,) = await loop_batcher(scorer).score([record])
        out = _summary(reward)
        if isinstance(state, dict):
            state["chil"] = out
        return out

    def make(name: str | None) -> Any:
        async def fn(prompt: Any = None, completion: Any = None, answer: Any = None, state: Any = None,
                     info: Any = None, **kwargs: Any) -> float:
            value = _score_of(await result(prompt, completion, answer, state, info), name, masked_value)
            return masked_value if value is None else value

        fn.__name__ = fn.__qualname__ = "chil_reward" if name is None else f"chil_{name}"
        return fn

    if per_framework:
        return [make(n) for n in names], [float(scorer.weights[n]) for n in names]
    return [make(None)] + [make(n) for n in names], [1.0] + [0.0] * len(names)
