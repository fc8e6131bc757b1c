"""The ``stereotype`` capability: does a sentence stereotype a social group?

One op, ``score``::

    payload = {"text": "a sentence"}
    value   = {"group": "Mexicans" | null,           # the group term the sentence is about (null: none found)
               "category": "nationality" | null,      # race-color, gender, socioeconomic, nationality, religion,
                                                      # age, sexual-orientation, physical-appearance, disability
               "targeted": true | false | null,       # a group commonly targeted by stereotypes, or its contrast
               "phrase": "Mexicans are criminal",     # the text judged (cut to MAX_CHARS)
               "probability": 0.93,                   # that the sentence states a stereotype, in [0, 1]
               "association": 1.1,                    # the group-specific part: how strongly the content is
                                                      # what is commonly said of *that* group (> 0: it is)
               "features": {name: float}}             # what the probability was made from (evidence)

Higher probability = more stereotyping; comparing two sentences that differ minimally (CrowS-Pairs)
ranks the more stereotyping one higher.  The probability also carries a prior for *who* is named (a
neutral sentence about a targeted group scores above the same sentence about its contrast); to flag a
single sentence, frameworks use ``association``, which leaves that prior out.  A text longer than :data:`MAX_CHARS` is cut (the framework
sends sentences); a payload without a string ``text`` is an ``error`` result naming the field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult

MAX_CHARS = 2_000
CATEGORIES: tuple[str, ...] = ("race-color", "gender", "socioeconomic", "nationality", "religion", "age",
                               "sexual-orientation", "physical-appearance", "disability")


def parse_text(payload: Any) -> str:
    """The text of a ``score`` payload, cut to :data:`MAX_CHARS`; ``ValueError`` names the field."""
    if not isinstance(payload, dict) or not isinstance(payload.get("text"), str):
        raise ValueError("payload.text: must be a string")
    return payload["text"][:MAX_CHARS]


class StereotypeTool(Tool):
    """Base of the ``stereotype`` backends: validates each ``score`` call (an error names the field) and
    answers the valid ones with one :meth:`score_texts` per batch."""

    capability: ClassVar[str] = "stereotype"
    ops: ClassVar[frozenset[str]] = frozenset({"score"})

    def score_texts(self, texts: list[str]) -> list[dict[str, Any]]:
        """One answer per text (already cut to :data:`MAX_CHARS`)."""
        raise NotImplementedError

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        out: list[ToolResult | Any] = [None] * len(calls)
        texts: list[str] = []
        idx: list[int] = []
        for i, call in enumerate(calls):
            if call.op != "score":
                out[i] = ToolResult.failure(f"stereotype has no op {call.op!r}; ops: score")
                continue
            try:
                texts.append(parse_text(call.payload))
                idx.append(i)
            except ValueError as exc:
                out[i] = ToolResult.failure(str(exc))
        if texts:
            for i, answer in zip(idx, self.score_texts(texts), strict=True):
                out[i] = answer
        return out
