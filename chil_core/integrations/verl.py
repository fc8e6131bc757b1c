"""chil rewards as verl reward functions.

verl (0.9) loads a custom reward function by path and name and calls it per sample, in its reward loop,
or per batch with ``reward_model.reward_manager=batch``:

```bash
python -m verl.trainer.main_ppo ... \\
    reward.custom_reward_function.path=pkg://chil_core.integrations.verl \\
    reward.custom_reward_function.name=compute_score_async \\
    +reward.custom_reward_function.reward_kwargs.config=/path/chil.toml   # optional; else $CHIL_CONFIG / ./chil.toml
# or, batched:   ...name=compute_score_batch  reward_model.reward_manager=batch
```

* ``compute_score(data_source, solution_str, ground_truth, extra_info=None, **kwargs)``: one sample,
  synchronously (verl runs it on a thread pool);
* ``compute_score_async(...)``: the same, awaited; the samples verl's reward loop awaits concurrently are
  gathered into one scorer submission, so the scheduler batches and deduplicates their tool calls;
* ``compute_score_batch(data_sources, solution_strs, ground_truths, extra_infos, **kwargs)``: verl's
  ``BatchRewardManager`` entry, one submission per batch.

Each returns ``{"score": reward, "chil_<framework>": score, ..., "chil_masked": 0 or 1}`` (verl logs the
extra keys in ``reward_extra_info``); a record no framework scored gets ``masked_value`` (0.0 by
default: no reward for an answer chil could not check).  ``ground_truth`` is the gold answer (a string),
or an object with ``reference`` / ``metadata``; the prompt, which verl does not pass, is read from
``extra_info["prompt"]`` / ``["question"]`` / ``["raw_prompt"]`` when the dataset put it there (the
empirical framework uses it to tell work on the problem from filler).  ``data_source`` is not used
to pick frameworks: the config does (``frameworks=`` in ``reward_kwargs``, or ``$CHIL_FRAMEWORKS``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chil_core.integrations.common import (
    framework_scores,
    loop_batcher,
    make_record,
    reward_value,
    shared_scorer,
)

PROMPT_KEYS = ("prompt", "question", "raw_prompt")


def _prompt(extra_info: Any) -> str:
    if not isinstance(extra_info, dict):
        return ""
    for key in PROMPT_KEYS:
        value = extra_info.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):  # chat messages
            return "\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in value)
    return ""


def _records(solution_strs: Sequence[str], ground_truths: Sequence[Any], extra_infos: Sequence[Any]) -> list[Any]:
    out = []
    for i, (solution, truth, extra) in enumerate(zip(solution_strs, ground_truths, extra_infos, strict=True)):
        if not isinstance(solution, str):
            raise TypeError(f"solution_strs[{i}]: expected a string, got {type(solution).__name__}")
        extra = extra if isinstance(extra, dict) else {}
        rid = str(extra.get("index", i))
        out.append(make_record(rid, _prompt(extra), solution, truth, where=f"ground_truths[{i}]"))
    return out


def _results(scorer: Any, rewards: list[Any], masked_value: float) -> list[dict[str, float]]:
    cols = framework_scores(rewards, list(scorer.frameworks), masked_value)
    return [{"score": reward_value(r, masked_value), **{k: v[i] for k, v in cols.items()}} for i, r in enumerate(rewards)]


def compute_score(data_source: Any, solution_str: str, ground_truth: Any, extra_info: dict[str, Any] | None = None, *,
                  config: str | None = None, frameworks: Any = None, masked_value: float = 0.0,
                  **kwargs: Any) -> dict[str, float]:
    """verl's per-sample signature; ``config`` / ``frameworks`` / ``masked_value`` come from ``reward_kwargs``."""
    scorer = shared_scorer(config, frameworks)
    rewards = scorer.score(_records([solution_str], [ground_truth], [extra_info]))
    return _results(scorer, rewards, masked_value)[0]


async def compute_score_async(data_source: Any, solution_str: str, ground_truth: Any,
                              extra_info: dict[str, Any] | None = None, *, config: str | None = None,
                              frameworks: Any = None, masked_value: float = 0.0, **kwargs: Any) -> dict[str, float]:
    """:func:`compute_score`, awaited: concurrent calls on one event loop share one scorer submission."""
    scorer = shared_scorer(config, frameworks)
    rewards = await loop_batcher(scorer).score(_records([solution_str], [ground_truth], [extra_info]))
    return _results(scorer, rewards, masked_value)[0]


def compute_score_batch(data_sources: Sequence[Any], solution_strs: Sequence[str], ground_truths: Sequence[Any],
                        extra_infos: Sequence[Any] | None = None, *, config: str | None = None, frameworks: Any = None,
                        masked_value: float = 0.0, **kwargs: Any) -> list[dict[str, float]]:
    """verl's ``BatchRewardManager`` signature: one result per sample, in order."""
    if extra_infos is None:
        extra_infos = [None] * len(solution_strs)
    if not (len(solution_strs) == len(ground_truths) == len(extra_infos)):
        raise ValueError(f"solution_strs, ground_truths and extra_infos differ in length "
                         f"({len(solution_strs)}, {len(ground_truths)}, {len(extra_infos)})")
    scorer = shared_scorer(config, frameworks)
    rewards = scorer.score(_records(solution_strs, ground_truths, extra_infos))
    return _results(scorer, rewards, masked_value)
