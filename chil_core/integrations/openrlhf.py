"""chil rewards for OpenRLHF: this file is a ``reward_func`` module.

OpenRLHF (0.11) loads ``reward_func(queries, prompts, labels)`` from a Python file given as the reward
URL, or posts the same three lists to an HTTP reward server (``chil serve``'s ``/get_reward``):

```bash
python -m openrlhf.cli.train_ppo_ray ... --data.label_key answer \\
    --reward.remote_url "$(python -c 'import chil_core.integrations.openrlhf as m; print(m.__file__)')"
# or, on a reward host:  chil serve --host 0.0.0.0 --port 8000   and   --reward.remote_url http://host:8000/get_reward
```

``queries`` are prompt + response as decoded text; the response is what follows the prompt (trailing
end-of-sequence markers removed).  ``labels`` are the dataset's ``label_key`` column: the gold answer, or
a JSON object with ``reference`` / ``metadata``.  The config is ``$CHIL_CONFIG`` (else ``./chil.toml``,
else the installed defaults), the frameworks ``$CHIL_FRAMEWORKS`` (else the config's).  Returns
``{"rewards": tensor, "scores": tensor, "extra_logs": {"chil_<framework>": tensor, "chil_masked": tensor}}``
(torch tensors, as OpenRLHF's example does; plain lists when torch is not installed); a record no
framework scored gets ``$CHIL_MASKED_VALUE`` (0.0).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from chil_core.integrations.common import (
    framework_scores,
    make_record,
    reward_value,
    shared_scorer,
    split_query,
)


def _tensor(values: list[float]) -> Any:
    try:
        import torch
    except ImportError:
        return values
    return torch.tensor(values, dtype=torch.float32)


def score_queries(queries: Sequence[str], prompts: Sequence[str] | None, labels: Sequence[Any] | None,
                  *, config: str | None = None, frameworks: Any = None, masked_value: float | None = None
                  ) -> dict[str, Any]:
    """The three result lists as plain floats (what ``/get_reward`` answers)."""
    n = len(queries)
    for name, col in (("prompts", prompts), ("labels", labels)):
        if col is not None and len(col) != n:
            raise ValueError(f"{name}: {len(col)} items for {n} queries")
    if masked_value is None:
        masked_value = float(os.environ.get("CHIL_MASKED_VALUE", "0"))
    scorer = shared_scorer(config, frameworks)
    records = []
    for i, query in enumerate(queries):
        prompt = prompts[i] if prompts is not None else ""
        records.append(make_record(f"q{i}", prompt, split_query(query, prompt),
                                   labels[i] if labels is not None else None, where=f"labels[{i}]"))
    rewards = scorer.score(records) if records else []
    values = [reward_value(r, masked_value) for r in rewards]
    return {"rewards": values, "scores": list(values),
            "extra_logs": framework_scores(rewards, list(scorer.frameworks), masked_value)}


def reward_func(queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any]) -> dict[str, Any]:
    """OpenRLHF's custom reward function."""
    out = score_queries(queries, prompts, labels)
    return {"rewards": _tensor(out["rewards"]), "scores": _tensor(out["scores"]),
            "extra_logs": {k: _tensor(v) for k, v in out["extra_logs"].items()}}
