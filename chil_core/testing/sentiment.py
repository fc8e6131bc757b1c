"""Conformance suite of the ``sentiment`` capability (VADER, TextBlob, AFINN, embedding head…).

```python
from chil_core.testing.sentiment import SentimentConformance

class TestMyBackend(SentimentConformance):
    tool_class = MySentiment
    options = {}
```

Values, not only statuses: the clear cases of :data:`CLEAR` get their label from every backend (so any
two backends agree on them), polarity stays in [-1, 1], empty text is ``empty`` and neutral, an
oversized text is cut and reported, malformed payloads are errors naming the field.
"""

from __future__ import annotations

from typing import Any, ClassVar

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import SharedTool, ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads

#: (text, label) that every backend must get right: plain, unambiguous sentences.
CLEAR: list[tuple[str, str]] = [
    ("This movie was wonderful, I loved every minute of it.", "positive"),
    ("A great, beautiful and moving film.", "positive"),
    ("The food was excellent and the staff were friendly.", "positive"),
    ("This was a terrible, boring waste of time.", "negative"),
    ("The service was awful and the room was dirty.", "negative"),
    ("I hated it; the worst film of the year.", "negative"),
]


def polarity(text: Any) -> ToolCall:
    return ToolCall(capability="sentiment", op="polarity", payload={"text": text})


def _value(item: Any) -> Any:
    assert not isinstance(item, ToolResult) or item.ok, f"expected an ok answer, got {item}"
    return item.value if isinstance(item, ToolResult) else item


def agreement(a: Tool, b: Tool, texts: list[str]) -> float:
    """Fraction of ``texts`` that backends ``a`` and ``b`` label alike."""
    la = [_value(v)["label"] for v in a.run_batch([polarity(t) for t in texts])]
    lb = [_value(v)["label"] for v in b.run_batch([polarity(t) for t in texts])]
    return sum(x == y for x, y in zip(la, lb, strict=True)) / max(1, len(texts))


class SentimentConformance(SharedTool, MalformedPayloads, ToolConformance):
    tool_class: ClassVar[type[Tool]]
    options: ClassVar[dict[str, Any]] = {}

    def sample_calls(self) -> list[ToolCall]:
        return [polarity(t) for t, _ in CLEAR[:3]] + [polarity(CLEAR[3][0])]

    def hostile_calls(self) -> list[ToolCall]:
        return [polarity("\x00\x01\x1b[31m"), polarity("x" * 2_000_000), polarity("Ω≈ç√ 漢字 العربية 🙂"),
                polarity(None), ToolCall(capability="sentiment", op="exec", payload={"text": "import os"})]

    def test_clear_cases_get_their_label(self, tool: Tool) -> None:
        out = [_value(v) for v in tool.run_batch([polarity(t) for t, _ in CLEAR])]
        assert [o["label"] for o in out] == [label for _, label in CLEAR]
        for o, (_, label) in zip(out, CLEAR, strict=True):
            assert -1.0 <= o["polarity"] <= 1.0
            assert (o["polarity"] > 0) == (label == "positive")
            assert o["empty"] is False and o["truncated"] is False

    def test_empty_text_is_empty_and_neutral(self, tool: Tool) -> None:
        for text in ("", "   \n\t"):
            out = _value(tool.run_batch([polarity(text)])[0])
            assert out == {"polarity": 0.0, "label": "neutral", "empty": True, "truncated": False}

    def test_oversized_text_is_cut_and_reported(self, tool: Tool) -> None:
        limit = tool.options.max_chars  # type: ignore[attr-defined]
        text = CLEAR[3][0] + " " + "meh " * limit
        out = _value(tool.run_batch([polarity(text)])[0])
        assert out["truncated"] is True and -1.0 <= out["polarity"] <= 1.0

    def malformed_cases(self) -> list[Case]:
        return [(polarity(3), "payload.text"), (ToolCall(capability="sentiment", op="classify", payload={}), "no op 'classify'")]

    def well_formed_call(self) -> ToolCall:
        return polarity(CLEAR[0][0])

    def check_well_formed(self, result: ToolResult) -> None:
        assert result.value["label"] == "positive"
