"""The ``topic_model`` capability: which topics a text is about, and how close two texts' topics are.

Two ops::

    topics      payload = {"texts": ["a sentence", ...]}
                value   = {"topics": 50, "distributions": [[p_0, ..., p_49], ...],   # each sums to 1
                           "top": [[k, p_k], ...] per text (its 3 likeliest topics),
                           "empty": [i, ...], "truncated": [i, ...]}

    similarity  payload = {"pairs": [["text a", "text b"], ...]}
                value   = {"scores": [1 - Hellinger(a, b), ...], "empty": [i, ...], "truncated": [i, ...]}

The similarity of two topic distributions p, q is one minus their Hellinger distance,
``1 - sqrt(1 - sum_k sqrt(p_k q_k))``: 1 for the same distribution, 0 for disjoint ones, symmetric, in
[0, 1].  A text with no word the model knows (``""``, ``"\\x00"``, another language) has no topics: its
index is in ``empty``, its distribution is all zeros and its similarity with anything is 0 (nothing is
inferred from the model's prior).  Texts are cut to ``max_chars`` first (listed in ``truncated``), values
rounded to 6 decimals so equal calls give byte-equal JSON.  A malformed payload is an ``error`` result
naming the field.

A backend subclasses :class:`TopicModelTool` and implements :meth:`TopicModelTool.distributions`
(texts → one row per text, a probability distribution over its topics, or all zeros when the text has
no known word).  The base class validates, deduplicates the texts of a whole batch of calls, infers them
in ONE ``distributions`` call, memoises recent texts and answers every call (it shares that machinery
with ``embedding``: :class:`~chil_core.capabilities.embedding.TextRowsTool`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from chil_core.capabilities.embedding import ROUND, TextRowsTool

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

TOP = 3


def hellinger_similarity(p: Any, q: Any) -> float:
    """``1 - Hellinger(p, q)`` of two probability distributions (sequences of the same length), from
    ``H^2 = 1/2 sum (sqrt p - sqrt q)^2``: exact for equal inputs (``1 - sqrt(1 - BC)`` would turn a
    rounding error of 1e-8 in the Bhattacharyya coefficient into 1e-4)."""
    d2 = 0.5 * sum((a**0.5 - b**0.5) ** 2 for a, b in zip(p, q, strict=True))
    return 1.0 - min(1.0, d2) ** 0.5


class TopicModelTool(TextRowsTool):
    """Base of the topic-model backends.  Rows inside are the square roots of the distributions (unit
    length; half their squared distance is the squared Hellinger distance)."""

    capability: ClassVar[str] = "topic_model"
    ops: ClassVar[frozenset[str]] = frozenset({"topics", "similarity"})
    texts_op: ClassVar[str] = "topics"

    @property
    def num_topics(self) -> int:
        raise NotImplementedError

    @property
    def dim(self) -> int:
        return self.num_topics

    def distributions(self, texts: list[str]) -> np.ndarray:
        """One row per text: its topic distribution (non-negative, sums to 1), or zeros when the text
        has no word the model knows.  Texts arrive already cut to ``max_chars``."""
        raise NotImplementedError

    def encode(self, texts: list[str]) -> np.ndarray:
        import numpy as np

        d = np.asarray(self.distributions(texts), dtype=np.float64)
        d = np.where(np.isfinite(d) & (d > 0), d, 0.0)
        total = d.sum(axis=1, keepdims=True)
        return np.sqrt(d / np.where(total > 0, total, 1.0)).astype(np.float32)

    def texts_value(self, rows: np.ndarray) -> dict[str, Any]:
        dist = rows.astype("float64") ** 2
        top = [[[int(k), round(float(r[k]), ROUND)] for k in r.argsort()[::-1][:TOP] if r[k] > 0] for r in dist]
        return {"topics": self.num_topics, "distributions": [[round(float(x), ROUND) for x in r] for r in dist], "top": top}

    def pair_scores(self, a: np.ndarray, b: np.ndarray) -> Any:
        import numpy as np

        d2 = 0.5 * ((a.astype("float64") - b.astype("float64")) ** 2).sum(axis=1)  # H^2: see hellinger_similarity
        zero = (np.abs(a).sum(axis=1) == 0) | (np.abs(b).sum(axis=1) == 0)
        return np.where(zero, 0.0, 1.0 - np.sqrt(d2.clip(0.0, 1.0)))
