"""chil frameworks as TRL ``reward_funcs``, with their weights as ``reward_weights``.

```python
from trl import GRPOConfig, GRPOTrainer
from chil_core.integrations.trl import chil_reward_funcs

rewards = chil_reward_funcs("chil.toml", frameworks=["empirical"])   # or a dict, or None (defaults)
args = GRPOConfig(..., reward_weights=rewards.weights)
trainer = GRPOTrainer(model=..., reward_funcs=rewards.funcs, args=args, train_dataset=dataset)
trainer.train()
rewards.close()
```

The first function, ``chil_reward``, returns chil's own reward for each completion: the core's
aggregate over the frameworks (a weighted mean of the ones that scored, by default; ``None`` where
none did, which TRL leaves out), exactly the reward ``chil train`` trains on; its weight is 1.  Then
one function per enabled framework, ``chil_<framework>``, returns that framework's score, or ``None``
where it did not score (abstained, timed out, failed); their weights are 0, so TRL only logs them
(``rewards/chil_<framework>/mean``).  A batch is scored once, by every framework through the core
scheduler, the first time one of the functions sees it; the other functions read the same result.

``per_framework=True`` drops ``chil_reward`` and gives the frameworks their config weights instead:
that is what TRL's ``multi_objective_aggregation = "normalize_then_sum"`` needs to normalise each
framework separately, as chil's ``reward_aggregation = "normalize_then_sum"`` does (the two then give
the same advantages, with ``normalize_then_sum_scale = "batch"``).  With TRL's default
``sum_then_normalize`` it is a different reward from chil's: TRL adds the weighted scores, chil
averages them over the frameworks that scored.  The two agree only when every framework scores every
completion (then they differ by the constant factor sum(weights), which group or batch scaling of the
advantage removes, and ``scale_rewards = "none"`` does not), or with ``[rewards] aggregate = "sum"``
and ``on_missing = "mask"``.

``asynchronous=True`` gives ``async`` reward functions instead (TRL >= 0.20 awaits async reward functions
concurrently on its own event loop): chil's scoring then runs alongside the trainer's other async
rewards (an LLM judge, a remote service) instead of before them; the batch is still scored once.

Dataset columns reach the frameworks with each record, as in ``chil train``: ``reference`` (an
object) or ``answer`` become the record's reference, ``metadata`` its metadata.  Conversational
prompts and completions (lists of messages) are joined into text.

"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from chil_core.contracts import Record, RecordReward


def _text(value: Any) -> str:
    """A prompt or completion as text: strings as they are, message lists joined by their content."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in value)
    return str(value)


class ChilRewards:
    """The reward functions and weights of a :class:`~chil_core.scoring.Scorer`'s frameworks."""

    def __init__(self, scorer, per_framework: bool = False, asynchronous: bool = False) -> None:
        self.scorer = scorer
        self.names: list[str] = list(scorer.frameworks)
        self.per_framework = per_framework
        self.asynchronous = asynchronous
        self.funcs: list[Callable[..., Any]] = [self._reward_func(n) for n in self.names]
        self.weights: list[float] = [float(scorer.weights[n]) for n in self.names]
        if not per_framework:
            self.funcs.insert(0, self._aggregate_func())
            self.weights = [1.0] + [0.0] * len(self.names)
        self._lock = threading.Lock()
        self._pending: dict[tuple[Any, ...], Any] = {}
        self._last: tuple[tuple[Any, ...], list[RecordReward]] | None = None
        self._batches = itertools.count()

    def _records(self, texts: Sequence[str], outs: Sequence[str], columns: dict[str, Any]) -> list[Record]:
        from chil_core.training.rows import prompt_row

        batch = next(self._batches)
        first_index: dict[str, int] = {}
        records = []
        for i, (prompt, completion) in enumerate(zip(texts, outs, strict=True)):
            row = {"prompt": prompt, **{k: v[i] for k, v in columns.items()
                                        if k in ("reference", "answer", "metadata") and isinstance(v, list)}}
            parsed = prompt_row(row, i)
            group = first_index.setdefault(prompt, i)
            records.append(Record(id=f"trl{batch}:{i}", prompt=prompt, completion=completion,
                                  group=f"trl{batch}:{group}", reference=parsed.reference, metadata=parsed.metadata))
        return records

    @staticmethod
    def _batch_key(prompts: Sequence[Any], completions: Sequence[Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The batch's prompt and completion texts: what :meth:`score` and :meth:`ascore` memoise on."""
        return tuple(_text(p) for p in prompts), tuple(_text(c) for c in completions)

    def _memo(self, key: tuple[tuple[str, ...], tuple[str, ...]]) -> list[RecordReward] | None:
        """The rewards of the last batch scored, when it is this one (call with ``_lock`` held)."""
        return self._last[1] if self._last is not None and self._last[0] == key else None

    def score(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[RecordReward]:
        """Score one TRL batch (memoised: the next function asking for the same batch reuses it)."""
        key = self._batch_key(prompts, completions)
        texts, outs = key
        with self._lock:
            if (done := self._memo(key)) is not None:
                return done
            rewards = self.scorer.score(self._records(texts, outs, columns))
            self._last = (key, rewards)
            return rewards

    async def ascore(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[RecordReward]:
        """:meth:`score`, awaited: the functions TRL awaits together for one batch share one scoring."""
        import asyncio

        key = self._batch_key(prompts, completions)
        texts, outs = key
        with self._lock:
            if (done := self._memo(key)) is not None:
                return done
            pending = self._pending.get(key)
            if pending is None:
                pending = asyncio.wrap_future(self.scorer.submit(self._records(texts, outs, columns)))
                self._pending = {key: pending}  # only the batch in progress
        rewards = await asyncio.shield(pending)
        with self._lock:
            self._last = (key, rewards)
            self._pending.pop(key, None)
        return rewards

    def _reward_func(self, name: str) -> Callable[..., Any]:
        if self.asynchronous:
            async def areward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
                results = [r.frameworks.get(name) for r in await self.ascore(prompts, completions, **kwargs)]
                return [res.score if res is not None and res.status == "scored" else None for res in results]

            areward.__name__ = areward.__qualname__ = f"chil_{name}"
            return areward

        def reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            results = [r.frameworks.get(name) for r in self.score(prompts, completions, **kwargs)]
            return [res.score if res is not None and res.status == "scored" else None for res in results]

        reward.__name__ = reward.__qualname__ = f"chil_{name}"
        return reward

    def _aggregate_func(self) -> Callable[..., Any]:
        if self.asynchronous:
            async def achil_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
                return [r.reward for r in await self.ascore(prompts, completions, **kwargs)]

            achil_reward.__name__ = achil_reward.__qualname__ = "chil_reward"
            return achil_reward

        def chil_reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            return [r.reward for r in self.score(prompts, completions, **kwargs)]

        return chil_reward

    def close(self) -> None:
        self.scorer.close()

    def __enter__(self) -> ChilRewards:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chil_reward_funcs(config: str | Path | Mapping[str, Any] | None = None, *,
                      frameworks: list[str] | None = None, scorer=None, per_framework: bool = False,
                      asynchronous: bool = False) -> ChilRewards:
    """Reward functions for the frameworks a chil config enables (or of an existing ``scorer``).

    ``config`` is a dict, a TOML path (a ``[train]`` table is validated, not used here) or None
    (``./chil.toml`` or the installed defaults)."""
    if scorer is None:
        from chil_core.scoring import Scorer

        scorer = Scorer.from_config(config, frameworks=frameworks)
    return ChilRewards(scorer, per_framework=per_framework, asynchronous=asynchronous)
