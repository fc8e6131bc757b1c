"""The head itself: an L2-regularised logistic regression on unit sentence vectors (Newton's method,
NumPy only), cross-validation, and the JSON file it is stored in (no pickle: a head file is data).

File format (``chil-sentiment-head``, version 1)::

    {"format": "chil-sentiment-head", "version": 1,
     "embedding": {"backend": "wordllama", "options": {"dim": 256}},
     "dim": 256, "weights": [...], "bias": 0.1, "l2": 3.0,
     "trained": {"rows": 872, "positive": 444, "cv_accuracy": 0.67, "folds": 10, "source": "sst2.jsonl"}}

polarity = tanh(z / 2) = 2·sigmoid(z) − 1 with z = weights · v + bias, v the unit sentence vector.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

FORMAT = "chil-sentiment-head"
VERSION = 1
MAX_HEAD_BYTES = 20_000_000


def fit_logistic(x: Any, y: Any, l2: float = 3.0, iterations: int = 25) -> tuple[Any, float]:
    """Weights and bias minimising the L2-regularised logistic loss (the bias is not regularised)."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    reg = np.r_[np.full(x.shape[1], l2), 0.0]
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(xb @ w, -30, 30)))
        grad = xb.T @ (p - y) + reg * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(reg + 1e-9)
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return w[:-1], float(w[-1])


def cross_validate(x: Any, y: Any, l2: float = 3.0, folds: int = 10, seed: int = 0) -> tuple[float, Any]:
    """Accuracy of heads fitted on k−1 folds and scored on the held-out fold (each row is scored by a
    head that never saw it), and the out-of-fold polarities."""
    import numpy as np

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    idx = np.random.RandomState(seed).permutation(len(y))
    pol = np.zeros(len(y))
    for held in np.array_split(idx, folds):
        train = np.setdiff1d(idx, held)
        w, b = fit_logistic(x[train], y[train], l2)
        pol[held] = np.tanh((x[held] @ w + b) / 2)
    return float(((pol > 0) == (y == 1)).mean()), pol


def to_json(weights: Any, bias: float, *, embedding: dict[str, Any], l2: float, trained: dict[str, Any]) -> dict[str, Any]:
    return {"format": FORMAT, "version": VERSION, "embedding": embedding, "dim": len(weights),
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
    if not isinstance(head, dict) or head.get("format") != FORMAT or head.get("version") != VERSION:
        raise ValueError(f"head file {str(p)!r}: format must be {FORMAT!r} version {VERSION}")
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
