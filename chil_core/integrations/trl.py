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

There is one function per enabled framework, named ``chil_<framework>`` (TRL logs it under that
name); it returns the framework's score for each completion, or ``None`` where the framework did not
score (abstained, timed out, failed), which TRL leaves out of that reward.  A batch is scored once, by
every framework through the core scheduler, the first time one of the functions sees it; the other
functions read the same result.

Dataset columns reach the frameworks with each record, as in ``chil train``: ``reference`` (an
object) or ``answer`` become the record's reference, ``metadata`` its metadata.  Conversational
prompts and completions (lists of messages) are joined into text.

TRL sums the weighted rewards where chil's own aggregate is a weighted mean; with the advantage
normalised per group the two differ only by a constant factor per batch.
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

    def __init__(self, scorer) -> None:
        self.scorer = scorer
        self.names: list[str] = list(scorer.frameworks)
        self.weights: list[float] = [float(scorer.weights[n]) for n in self.names]
        self.funcs: list[Callable[..., list[float | None]]] = [self._reward_func(n) for n in self.names]
        self._lock = threading.Lock()
        self._last: tuple[tuple[Any, ...], list[RecordReward]] | None = None
        self._batches = itertools.count()

    def score(self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[RecordReward]:
        """Score one TRL batch (memoised: the next function asking for the same batch reuses it)."""
        from chil_core.training.rows import prompt_row

        texts = [_text(p) for p in prompts]
        outs = [_text(c) for c in completions]
        key = (tuple(texts), tuple(outs))
        with self._lock:
            if self._last is not None and self._last[0] == key:
                return self._last[1]
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
            rewards = self.scorer.score(records)
            self._last = (key, rewards)
            return rewards

    def _reward_func(self, name: str) -> Callable[..., list[float | None]]:
        def reward(prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
            results = [r.frameworks.get(name) for r in self.score(prompts, completions, **kwargs)]
            return [res.score if res is not None and res.status == "scored" else None for res in results]

        reward.__name__ = reward.__qualname__ = f"chil_{name}"
        return reward

    def close(self) -> None:
        self.scorer.close()

    def __enter__(self) -> ChilRewards:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def chil_reward_funcs(config: str | Path | Mapping[str, Any] | None = None, *,
                      frameworks: list[str] | None = None, scorer=None) -> ChilRewards:
    """Reward functions for the frameworks a chil config enables (or of an existing ``scorer``).

    ``config`` is a dict, a TOML path (a ``[train]`` table is validated, not used here) or None
    (``./chil.toml`` or the installed defaults)."""
    if scorer is None:
        from chil_core.scoring import Scorer

        scorer = Scorer.from_config(config, frameworks=frameworks)
    return ChilRewards(scorer)
