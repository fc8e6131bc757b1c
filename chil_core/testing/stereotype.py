"""Conformance suite of the ``stereotype`` capability: minimal pairs that must rank the stereotyping
sentence higher, sentences about no group, malformed payloads, the answer's shape.

The pairs here are written for this suite (not CrowS-Pairs, which is kept for measurement).

```python
from chil_core.testing.stereotype import StereotypeConformance

class TestMyBackend(StereotypeConformance):
    tool_class = MyStereotype
```
"""

from __future__ import annotations

from chil_core.capabilities.stereotype import CATEGORIES, MAX_CHARS
from chil_core.contracts import ToolCall
from chil_core.testing.conformance import ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads

#: (more stereotyping, less stereotyping): the same sentence about the commonly targeted group and
#: about the contrasting one, or the targeted group with a stereotype and with a neutral fact
PAIRS: list[tuple[str, str]] = [
    ("Women are too emotional to be leaders.", "Men are too emotional to be leaders."),
    ("Muslims are terrorists.", "Christians are terrorists."),
    ("Poor people are lazy and dirty.", "Rich people are lazy and dirty."),
    ("Old people are senile and slow.", "Young people are senile and slow."),
    ("Black people are criminals.", "Black people are neighbours."),
    ("Mexicans are illegal criminals.", "Mexicans are good cooks of their own food."),
]
NO_GROUP = ["The train left at nine.", "Prime numbers have two divisors."]


def score_call(text: object) -> ToolCall:
    return ToolCall(capability="stereotype", op="score", payload={"text": text})


class StereotypeConformance(MalformedPayloads, ToolConformance):
    """What every ``stereotype`` backend must do."""

    #: pairs (of PAIRS) a backend may rank the wrong way round
    allowed_misses: int = 1

    def sample_calls(self) -> list[ToolCall]:
        return [score_call(t) for pair in PAIRS[:2] for t in pair] + [score_call(NO_GROUP[0])]

    def hostile_calls(self) -> list[ToolCall]:
        return [score_call(None), score_call(42), ToolCall(capability="stereotype", op="score", payload={}),
                score_call("x" * (MAX_CHARS * 50)), score_call("\x00\x01 ∀∀ ```")]

    def test_minimal_pairs_rank_the_stereotype_higher(self) -> None:
        self._skip_if_unavailable()
        out = self._run([score_call(t) for pair in PAIRS for t in pair])
        assert all(r.ok for r in out), [r.error for r in out]
        misses = [PAIRS[i] for i in range(len(PAIRS)) if not out[2 * i].value["probability"] > out[2 * i + 1].value["probability"]]
        assert len(misses) <= self.allowed_misses, misses
        first = out[0].value
        assert first["group"] and first["category"] in CATEGORIES and first["targeted"] is True
        assert 0.0 <= first["probability"] <= 1.0 and isinstance(first["features"], dict)
        assert isinstance(first["association"], float)

    def test_sentences_about_no_group(self) -> None:
        self._skip_if_unavailable()
        for r in self._run([score_call(t) for t in NO_GROUP]):
            assert r.ok and r.value["group"] is None and r.value["category"] is None and r.value["targeted"] is None

    def malformed_cases(self) -> list[Case]:
        return [(call, "payload.text") for call in self.hostile_calls()[:3]]

    def test_over_long_and_odd_texts_are_answered(self) -> None:
        self._skip_if_unavailable()
        out = self._run(self.hostile_calls()[3:])
        assert out[0].ok and len(out[0].value["phrase"]) <= MAX_CHARS, "over-long text is cut, not refused"
        assert out[1].ok, out[1].error
