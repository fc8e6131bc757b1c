"""The ``sentiment`` capability: the polarity of a text, and what its backends (VADER, TextBlob, AFINN,
a linear head on sentence embeddings) share.

One op, ``polarity``, one text per call (the scheduler batches calls across records)::

    payload = {"text": "I loved it."}
    value   = {"polarity": 0.64,                       # in [-1, 1]: -1 very negative, +1 very positive
               "label": "positive" | "negative" | "neutral",
               "empty": false,                          # nothing the backend could read (polarity 0)
               "truncated": false}                      # the text was cut to max_chars first

Every backend maps its own scale into [-1, 1] (:func:`squash` for unbounded sums) and labels with the
same rule (:func:`label_of`): ``|polarity| < neutral_band`` is ``neutral``.  A text is cut to
``max_chars`` characters before it is read (hostile input: a 2 MB completion costs what 5 kB cost).  A
malformed payload is an ``error`` result naming the field.

A backend subclasses :class:`SentimentTool` and implements :meth:`SentimentTool.polarities` (texts →
raw polarities in [-1, 1], one per text, for a whole batch at once).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

DEFAULT_MAX_CHARS = 5_000
LABELS = ("negative", "neutral", "positive")
ROUND = 6


class SentimentOptions(BaseModel):
    """Options every sentiment backend accepts (``[tools.<backend>]``)."""

    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=16, le=2_000_000, description="Texts are cut to this many characters.")
    neutral_band: float = Field(default=0.05, ge=0.0, lt=1.0, description="|polarity| below this is labelled neutral.")


def label_of(polarity: float, neutral_band: float) -> str:
    if polarity >= neutral_band and polarity > 0:
        return "positive"
    if polarity <= -neutral_band and polarity < 0:
        return "negative"
    return "neutral"


def squash(raw: float, scale: float) -> float:
    """An unbounded score (a lexicon sum) into (-1, 1): ``tanh(raw / scale)``."""
    return math.tanh(raw / scale) if scale > 0 else 0.0


def parse_call(call: ToolCall) -> str:
    if call.op != "polarity":
        raise ValueError(f"sentiment has no op {call.op!r}; ops: polarity")
    text = call.payload.get("text")
    if not isinstance(text, str):
        raise ValueError(f"payload.text: must be a string, got {type(text).__name__}")
    return text


class SentimentTool(Tool):
    """Base of the sentiment backends: validation, one :meth:`polarities` per batch, labels."""

    capability: ClassVar[str] = "sentiment"
    ops: ClassVar[frozenset[str]] = frozenset({"polarity"})
    max_batch: ClassVar[int] = 512
    Options: ClassVar[type[BaseModel]] = SentimentOptions
    options: SentimentOptions

    def polarities(self, texts: list[str]) -> list[float | None]:
        """Polarity in [-1, 1] per text, or None when the backend found nothing to read in it."""
        raise NotImplementedError

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        texts: dict[str, int] = {}
        parsed: list[str | ToolResult] = []
        for call in calls:
            try:
                text = parse_call(call)
                texts.setdefault(text, len(texts))
                parsed.append(text)
            except ValueError as exc:
                parsed.append(ToolResult.failure(str(exc)))
        limit = self.options.max_chars
        cut = [t[:limit] for t in texts]
        raw = self.polarities([t for t in cut if t.strip()]) if any(t.strip() for t in cut) else []
        it = iter(raw)
        values: list[dict[str, Any]] = []
        for original, t in zip(texts, cut, strict=True):
            p = next(it) if t.strip() else None
            empty = p is None or not math.isfinite(p)
            pol = 0.0 if empty else round(max(-1.0, min(1.0, float(p))), ROUND)
            values.append({"polarity": pol, "label": label_of(pol, self.options.neutral_band),
                           "empty": empty, "truncated": len(original) > limit})
        return [p if isinstance(p, ToolResult) else dict(values[texts[p]]) for p in parsed]
