"""The head itself: an L2-regularised logistic regression on unit sentence vectors (Newton's method,
NumPy only), cross-validation, and the JSON file it is stored in (no pickle: a head file is data).

File format (``chil-sentiment-head``, version 2; version 1 files, without ``lexicons``, still load)::

    {"format": "chil-sentiment-head", "version": 2,
     "embedding": {"backend": "wordllama", "options": {"dim": 256}},
     "lexicons": ["vader", "afinn", "textblob"],
     "dim": 259, "weights": [...], "bias": 0.1, "l2": 1.0,
     "trained": {"rows": 872, "positive": 444, "cv_accuracy": 0.74, "folds": 10, "source": "sst2.jsonl"}}

polarity = tanh(z / 2) = 2·sigmoid(z) − 1 with z = weights · [v, p] + bias, v the unit sentence vector and
p the polarities in [-1, 1] of the named lexicon ``sentiment`` backends (0 where a lexicon read nothing).
``dim`` is the length of ``weights``: the embedding's dimension plus one per lexicon.  The lexicon
polarities are penalised 1000 times less than the embedding weights (three well-scaled features against
hundreds of noisy ones: on SST-2 dev, 10-fold CV, wordllama alone 69.7 %, with the three lexicons 74 %).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FORMAT = "chil-sentiment-head"
VERSION = 2
READABLE_VERSIONS = (1, 2)
LEXICON_PENALTY = 1e-3  # a lexicon polarity column is penalised l2 * this
MAX_HEAD_BYTES = 20_000_000


def fit_logistic(x: Any, y: Any, l2: float = 3.0, iterations: int = 25, light: int = 0) -> tuple[Any, float]:
    """Weights and bias minimising the L2-regularised logistic loss (the bias is not regularised; the
    last ``light`` columns, the lexicon polarities, are penalised ``l2 * LEXICON_PENALTY``)."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.r_[np.full(x.shape[1] - light, l2), np.full(light, l2 * LEXICON_PENALTY), 0.0]
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w[:-1], float(w[-1])


def cross_validate(x: Any, y: Any, l2: float = 3.0, folds: int = 10, seed: int = 0, light: int = 0) -> tuple[float, Any]:
    """Accuracy of heads fitted on k−1 folds and scored on the held-out fold (each row is scored by a
    head that never saw it), and the out-of-fold polarities."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    idx = np.random.RandomState(seed).permutation(len(y))
    pol = np.zeros(len(y))
    for held in np.array_split(idx, folds):
        train = np.setdiff1d(idx, held)
        w, b = fit_logistic(x[train], y[train], l2, light=light)
        pol[held] = np.tanh((x[held] @ w + b) / 2)
    return float(((pol > 0) == (y == 1)).mean()), pol


def nested_cross_validate(x: Any, y: Any, grid: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0), folds: int = 10,
                          inner: int = 5, seed: int = 0, light: int = 0) -> tuple[float, list[float]]:
    """Accuracy when the L2 penalty too is chosen without the held-out fold: for each outer fold the
    penalty of ``grid`` with the best ``inner``-fold accuracy on the other folds is fitted and scored.
    Returns the accuracy and the penalty chosen per fold."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    idx = np.random.RandomState(seed).permutation(len(y))
    right = 0
    chosen: list[float] = []
    for held in np.array_split(idx, folds):
        train = np.setdiff1d(idx, held)
        best = max(grid, key=lambda l2: cross_validate(x[train], y[train], l2, inner, seed + 1, light)[0])
        w, b = fit_logistic(x[train], y[train], best, light=light)
        right += int((((x[held] @ w + b) > 0) == (y[held] == 1)).sum())
        chosen.append(best)
    return right / len(y), chosen


def to_json(weights: Any, bias: float, *, embedding: dict[str, Any], l2: float, trained: dict[str, Any],
            lexicons: list[str] | None = None) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "embedding": embedding, "lexicons": list(lexicons or []), "dim": len(weights),
            "weights": [round(float(v), 7) for v in weights], "bias": round(float(bias), 7), "l2": l2, "trained": trained}


def load_head(path: str | Path) -> dict[str, Any]:
    """Read and validate a head file; ``ValueError`` says which field is wrong."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"head file {str(p)!r} does not exist (fit one with `chil fit-sentiment`)")
    if p.stat().st_size > MAX_HEAD_BYTES:
        raise ValueError(f"head file {str(p)!r} is larger than {MAX_HEAD_BYTES} bytes")
    try:
        head = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"head file {str(p)!r} is not JSON: {exc}") from exc
    if not isinstance(head, dict) or head.get("format") != FORMAT or head.get("version") not in READABLE_VERSIONS:
        raise ValueError(f"head file {str(p)!r}: format must be {FORMAT!r} version 1 or {VERSION}")
    lexicons = head.setdefault("lexicons", [])
    if not isinstance(lexicons, list) or not all(isinstance(v, str) and v != "embedding-head" for v in lexicons):
        raise ValueError(f"head file {str(p)!r}: lexicons must be a list of sentiment backend names")
    emb = head.get("embedding")
    if not isinstance(emb, dict) or not isinstance(emb.get("backend"), str) or not isinstance(emb.get("options", {}), dict):
        raise ValueError(f"head file {str(p)!r}: embedding must be {{'backend': name, 'options': {{...}}}}")
    w = head.get("weights")
    if not isinstance(w, list) or not w or not all(isinstance(v, int | float) and math.isfinite(v) for v in w):
        raise ValueError(f"head file {str(p)!r}: weights must be a non-empty list of finite numbers")
    if head.get("dim") != len(w):
        raise ValueError(f"head file {str(p)!r}: dim {head.get('dim')} != len(weights) {len(w)}")
    if not isinstance(head.get("bias"), int | float) or not math.isfinite(head["bias"]):
        raise ValueError(f"head file {str(p)!r}: bias must be a finite number")
    return head


def embed(tool: Any, texts: list[str]) -> Any:
    rows, _empty, _truncated = tool.encode_normalized(texts)
    return rows


def start_lexicons(names: list[str]) -> list[Any]:
    """Started ``sentiment`` backends by name (the head's extra features); ``ValueError`` names a missing one."""
    from chil_core.plugins import get_registry

    reg = get_registry()
    tools = []
    choices = reg.backends("sentiment")
    for name in names:
        if name == "embedding-head" or name not in choices:
            raise ValueError(f"lexicon {name!r} is not an installed sentiment backend; installed: "
                             f"{[c for c in choices if c != 'embedding-head']}")
        cls = reg.tool("sentiment", name)
        reason = reg.unavailable_reason(cls)
        if reason:
            raise ValueError(f"lexicon {name!r} is unavailable: {reason}")
        tool = cls()
        tool.start()
        tools.append(tool)
    return tools


def features(embedder: Any, lexicons: list[Any], texts: list[str]) -> tuple[Any, list[bool]]:
    """``[unit sentence vector, lexicon polarities]`` per text, and whether the text is empty for the
    embedding (nothing to read)."""
    import numpy as np

    rows, empty, _ = embedder.encode_normalized(texts)
    if not lexicons:
        return rows.astype(np.float64), empty
    live = [i for i, t in enumerate(texts) if t.strip()]
    cols = np.zeros((len(texts), len(lexicons)))
    for j, lex in enumerate(lexicons):
        if live:
            pols = lex.polarities([texts[i] for i in live])
            cols[live, j] = [0.0 if p is None else float(p) for p in pols]
    return np.hstack([rows.astype(np.float64), cols]), empty
