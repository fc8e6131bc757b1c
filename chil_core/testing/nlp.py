"""Conformance suite of the ``nlp`` capability (spaCy trained pipeline, spaCy blank fallback, …).

```python
from chil_core.testing.nlp import NlpConformance

class TestMyNlp(NlpConformance):
    tool_class = MyNlp
    degraded = False          # True for a backend without parser / tagger / names
```

Values: the shape of a parse (one lemma, tag, dependency and head per token; sentences that tile the
tokens; entity spans inside them), the numbers, dates and money of :data:`TEXT` found by every backend
with the same labels, names found by a non-degraded backend, ``degraded`` reported honestly, empty and
oversized texts, malformed payloads.
"""

from __future__ import annotations

from typing import Any, ClassVar

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import SharedTool, ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads

TEXT = "Saxony is an area in Germany around the Elbe river. It had 4 million people in 1990 and spent $300 on it."
#: (a text the entity contains, label) every backend finds in TEXT (the rule-based kinds; backends differ
#: on the span: spaCy's model says "300" for "$300", the rules "$300").
RULE_ENTITIES = [("4 million", "CARDINAL"), ("1990", "DATE"), ("300", "MONEY")]
#: names a trained (non-degraded) backend finds in TEXT.
NAMES = ["Saxony", "Germany"]


def parse(text: Any) -> ToolCall:
    return ToolCall(capability="nlp", op="parse", payload={"text": text})


def _value(item: Any) -> Any:
    assert not isinstance(item, ToolResult) or item.ok, f"expected an ok answer, got {item}"
    return item.value if isinstance(item, ToolResult) else item


def entity_texts(value: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["text"], e["label"]) for e in value["entities"]]


class NlpConformance(SharedTool, MalformedPayloads, ToolConformance):
    tool_class: ClassVar[type[Tool]]
    options: ClassVar[dict[str, Any]] = {}
    degraded: ClassVar[bool] = False

    def sample_calls(self) -> list[ToolCall]:
        return [parse(TEXT), parse("Paris is in France.")]

    def hostile_calls(self) -> list[ToolCall]:
        return [parse("\x00\x01\x1b[2J" * 50), parse("x" * 1_000_000), parse("漢字 العربية 🙂 Привет."), parse(None),
                ToolCall(capability="nlp", op="eval", payload={"text": "1+1"})]

    def test_parse_shape(self, tool: Tool) -> None:
        v = _value(tool.run_batch([parse(TEXT)])[0])
        n = len(v["tokens"])
        assert n >= 20 and all(len(v[k]) == n for k in ("lemmas", "pos", "deps", "heads"))
        assert all(0 <= h < n for h in v["heads"])
        assert v["sentences"][0][0] == 0 and v["sentences"][-1][1] == n and len(v["sentences"]) == 2
        assert all(a[1] == b[0] for a, b in zip(v["sentences"], v["sentences"][1:], strict=False))
        assert all(0 <= e["start"] < e["end"] <= n for e in v["entities"])
        assert v["degraded"] is self.degraded and isinstance(v["pipeline"], str) and v["truncated"] is False

    def test_numbers_dates_and_money_are_entities(self, tool: Tool) -> None:
        found = entity_texts(_value(tool.run_batch([parse(TEXT)])[0]))
        for text, label in RULE_ENTITIES:
            assert any(text in t and lab == label for t, lab in found), f"{(text, label)} not in {found}"

    def test_names_unless_degraded(self, tool: Tool) -> None:
        v = _value(tool.run_batch([parse(TEXT)])[0])
        names = [t for t, label in entity_texts(v) if label in ("GPE", "LOC", "PERSON", "ORG", "NORP")]
        if self.degraded:
            assert names == [] and set(v["deps"]) <= {""}
        else:
            assert all(n in names for n in NAMES), names
            assert v["deps"][v["tokens"].index("is")] == "ROOT" and v["lemmas"][v["tokens"].index("is")] == "be"

    def test_empty_and_oversized_texts(self, tool: Tool) -> None:
        limit = tool.options.max_chars  # type: ignore[attr-defined]
        empty, big = tool.run_batch([parse(""), parse("word " * (limit // 5 + 100))])
        assert _value(empty)["tokens"] == [] and _value(empty)["sentences"] == []
        assert _value(big)["truncated"] is True

    def malformed_cases(self) -> list[Case]:
        return [(parse(3), "payload.text"), (ToolCall(capability="nlp", op="ner", payload={}), "no op 'ner'")]

    def well_formed_call(self) -> ToolCall:
        return parse("Fine.")
