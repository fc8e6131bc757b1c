"""The ``embedding`` capability: sentence vectors, and what its backends (WordLlama, Gensim…) share.

Two ops::

    embed       payload = {"texts": ["a sentence", ...]}
                value   = {"dim": 256, "vectors": [[float, ...], ...],     # unit length (or all zeros)
                           "empty": [i, ...], "truncated": [i, ...]}

    similarity  payload = {"pairs": [["text a", "text b"], ...]}
                value   = {"scores": [cosine, ...], "empty": [i, ...], "truncated": [i, ...]}

Vectors are L2-normalised; a text with no known token (``""``, ``"\\x00\\x01"``) gets the zero vector and
its index in ``empty``, so its cosine with anything is 0.  Each text is cut to ``max_chars`` characters
before it is encoded (model output is hostile: a 2 MB completion costs what 20 kB cost) and its index
is listed in ``truncated``.  Vector components are rounded to 6 decimals so that equal calls give
byte-equal JSON (the cache key of a result).  A malformed payload is an ``error`` result naming the field.

A backend subclasses :class:`EmbeddingTool` and implements :meth:`EmbeddingTool.encode` (texts → a float32
matrix, one row per text); the base class validates, deduplicates the texts of a whole batch of calls,
encodes them in ONE ``encode`` call, normalises and answers every call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

MAX_TEXTS = 4096
MAX_PAIRS = 4096
DEFAULT_MAX_CHARS = 20_000
ROUND = 6


class EmbeddingOptions(BaseModel):
    """Options every embedding backend accepts (``[tools.<backend>]``)."""

    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=16, le=2_000_000,
                           description="Each text is cut to this many characters before encoding (listed in 'truncated').")


def _texts(value: Any, field: str, limit: int) -> list[str]:
    if not isinstance(value, list):
        raise ValueError(f"payload.{field}: must be a list of strings")
    if len(value) > limit:
        raise ValueError(f"payload.{field}: at most {limit} items, got {len(value)}")
    for i, t in enumerate(value):
        if not isinstance(t, str):
            raise ValueError(f"payload.{field}[{i}]: must be a string, got {type(t).__name__}")
    return value


def parse_text_call(call: ToolCall, capability: str, texts_op: str) -> list[str]:
    """The texts one call needs encoded (``texts_op``: its ``texts``; ``similarity``: a, b of each of its
    ``pairs``), for the capabilities built on :class:`TextRowsTool` (embedding, topic_model).
    ``ValueError`` names the bad field."""
    if call.op == texts_op:
        return _texts(call.payload.get("texts"), "texts", MAX_TEXTS)
    if call.op == "similarity":
        pairs = call.payload.get("pairs")
        if not isinstance(pairs, list):
            raise ValueError("payload.pairs: must be a list of [text_a, text_b] pairs")
        if len(pairs) > MAX_PAIRS:
            raise ValueError(f"payload.pairs: at most {MAX_PAIRS} pairs, got {len(pairs)}")
        out: list[str] = []
        for i, p in enumerate(pairs):
            if not (isinstance(p, list | tuple) and len(p) == 2 and all(isinstance(t, str) for t in p)):
                raise ValueError(f"payload.pairs[{i}]: must be a pair of strings [text_a, text_b]")
            out += [p[0], p[1]]
        return out
    raise ValueError(f"{capability} has no op {call.op!r}; ops: {texts_op}, similarity")


def normalize_rows(matrix: np.ndarray) -> tuple[np.ndarray, list[bool]]:
    """Rows scaled to unit length; all-zero (or non-finite) rows stay zero and are reported empty."""
    import numpy as np

    m = np.asarray(matrix, dtype=np.float32)
    m = np.where(np.isfinite(m), m, 0.0).astype(np.float32)
    norms = np.linalg.norm(m, axis=1)
    empty = norms <= 1e-12
    m = m / np.where(empty, 1.0, norms)[:, None]
    m[empty] = 0.0
    return m, [bool(e) for e in empty]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine of two vectors as returned by ``embed`` (unit or zero): their dot product, clipped."""
    s = sum(x * y for x, y in zip(a, b, strict=True))
    return max(-1.0, min(1.0, s))


class TextRowsTool(Tool):
    """What the capabilities that turn each text into one unit row share (``embedding``: a sentence
    vector; ``topic_model``: the square roots of a topic distribution): payload validation, every
    distinct text of a batch encoded in ONE :meth:`encode` call, a memo of recent texts, cut and empty
    texts reported.  A capability sets :attr:`texts_op` and says how rows become answers."""

    texts_op: ClassVar[str]
    Options: ClassVar[type[BaseModel]] = EmbeddingOptions
    options: EmbeddingOptions

    @property
    def dim(self) -> int:
        raise NotImplementedError

    def encode(self, texts: list[str]) -> np.ndarray:
        """One row per text (any scale; the base normalises).  Texts arrive already cut to ``max_chars``."""
        raise NotImplementedError

    def texts_value(self, rows: np.ndarray) -> dict[str, Any]:
        """The answer of the texts op without its ``empty`` / ``truncated`` lists."""
        raise NotImplementedError

    def pair_scores(self, a: np.ndarray, b: np.ndarray) -> Any:
        """Similarity of each row of ``a`` with the same row of ``b`` (unit or zero rows)."""
        raise NotImplementedError

    #: rows kept per instance for texts seen recently (a GRPO group shares its prompt and context).
    memo_size: ClassVar[int] = 4096

    def encode_normalized(self, texts: list[str]) -> tuple[np.ndarray, list[bool], list[bool]]:
        """``(unit rows, empty flags, truncated flags)`` for ``texts``: what every op is built from.
        Texts of up to 2,000 characters seen in the last :attr:`memo_size` are not encoded again."""
        import numpy as np

        limit = self.options.max_chars
        cut = [t[:limit] for t in texts]
        truncated = [len(t) > limit for t in texts]
        if not cut:
            return np.zeros((0, self.dim), dtype=np.float32), [], []
        memo: dict[str, tuple[np.ndarray, bool]] = self.__dict__.setdefault("_memo", {})
        todo = list(dict.fromkeys(t for t in cut if t not in memo))
        if todo:
            rows, empty = normalize_rows(self.encode(todo))
            if rows.shape != (len(todo), self.dim):
                raise RuntimeError(f"{self.name}: encode returned shape {rows.shape}, expected {(len(todo), self.dim)}")
            fresh = dict(zip(todo, zip(rows, empty, strict=True), strict=True))
        else:
            fresh = {}
        out = np.stack([fresh[t][0] if t in fresh else memo[t][0] for t in cut])
        empties = [bool(fresh[t][1] if t in fresh else memo[t][1]) for t in cut]
        for t, v in fresh.items():
            if len(t) <= 2000:
                if len(memo) >= self.memo_size:
                    memo.pop(next(iter(memo)))
                memo[t] = v
        return out, empties, truncated

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        needed: list[list[str] | None] = []
        answers: list[ToolResult | None] = []
        for call in calls:
            try:
                needed.append(parse_text_call(call, self.capability, self.texts_op))
                answers.append(None)
            except ValueError as exc:
                needed.append(None)
                answers.append(ToolResult.failure(str(exc)))
        unique: dict[str, int] = {}
        for texts in needed:
            for t in texts or ():
                unique.setdefault(t, len(unique))
        rows, empty, truncated = self.encode_normalized(list(unique))
        out: list[ToolResult | Any] = []
        for call, texts, answer in zip(calls, needed, answers, strict=True):
            if answer is not None or texts is None:
                out.append(answer)
                continue
            idx = [unique[t] for t in texts]
            if call.op == self.texts_op:
                out.append({
                    **self.texts_value(rows[idx]),
                    "empty": [i for i, j in enumerate(idx) if empty[j]],
                    "truncated": [i for i, j in enumerate(idx) if truncated[j]],
                })
            else:
                scores = self.pair_scores(rows[idx[0::2]], rows[idx[1::2]]) if len(idx) else []
                pair_idx = list(zip(idx[0::2], idx[1::2], strict=True))
                out.append({
                    "scores": [round(float(s), ROUND) for s in scores],
                    "empty": [i for i, (x, y) in enumerate(pair_idx) if empty[x] or empty[y]],
                    "truncated": [i for i, (x, y) in enumerate(pair_idx) if truncated[x] or truncated[y]],
                })
        return out


class EmbeddingTool(TextRowsTool):
    """Base of the embedding backends: validation, one ``encode`` per batch, normalisation, answers."""

    capability: ClassVar[str] = "embedding"
    ops: ClassVar[frozenset[str]] = frozenset({"embed", "similarity"})
    texts_op: ClassVar[str] = "embed"

    def texts_value(self, rows: np.ndarray) -> dict[str, Any]:
        return {"dim": self.dim, "vectors": [[round(float(x), ROUND) for x in row] for row in rows]}

    def pair_scores(self, a: np.ndarray, b: np.ndarray) -> Any:
        return (a * b).sum(axis=1).clip(-1.0, 1.0)


def start_embedder(backend: str, options: dict[str, Any] | None = None) -> EmbeddingTool:
    """A started embedding backend found by name among the installed plugins (for tools that embed
    in-process: the sentiment head, the vector index).  ``ValueError`` names what is missing."""
    from chil_core.plugins import get_registry

    reg = get_registry()
    choices = reg.backends("embedding")
    if backend not in choices:
        raise ValueError(f"embedding backend {backend!r} is not installed; installed: {choices}")
    cls = reg.tool("embedding", backend)
    reason = reg.unavailable_reason(cls)
    if reason:
        raise ValueError(f"embedding backend {backend!r} is unavailable: {reason}")
    tool = cls(cls.Options.model_validate(options or {}))
    tool.start()
    return tool  # type: ignore[return-value]
