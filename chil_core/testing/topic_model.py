"""Conformance suite of the ``topic_model`` capability: what every backend (Gensim LDA…) must show.

```python
from chil_core.testing.topic_model import TopicModelConformance

class TestMyTopics(TopicModelConformance):
    tool_class = MyTopics
    options = {"model": "..."}
```

Besides the generic tool contract (:class:`~chil_core.testing.conformance.ToolConformance`) it checks
values: one probability distribution over the declared number of topics per text, ``top`` its likeliest
topics, ``similarity`` equal to one minus the Hellinger distance of the ``topics`` distributions and in
[0, 1], a text nearer in topic to a text on the same subject than to one on another subject
(:data:`TOPIC_TRIPLES`), no topics for a text with nothing the model knows, oversized texts cut and
reported, malformed payloads answered with an error naming the field, and each distinct text of a batch
inferred once.

A topic model is learnt from the user's corpus, so a backend's test trains one on a corpus that covers
:data:`TOPIC_TRIPLES`' subjects (film reviews and arithmetic word problems: the development data's SST-2
and GSM8K texts do) and sets ``options`` to it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from chil_core.capabilities.topic_model import hellinger_similarity
from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import SharedTool, ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads

#: (anchor, same subject, other subject): every backend must put the second nearer the anchor than the
#: third.  Two subjects whose words differ: film reviews and arithmetic word problems.
TOPIC_TRIPLES: list[tuple[str, str, str]] = [
    ("The film had a brilliant cast and a moving story.", "The actors gave superb performances in this funny movie.",
     "She bought 3 apples for 2 dollars each and paid with a 10 dollar bill."),
    ("John has 5 apples and buys 7 more at the store for 4 dollars.", "Each box holds 12 eggs, so how many eggs are in 4 boxes?",
     "A dull, boring film with a weak script and bad acting."),
    ("The director's new comedy is a delight for the audience.", "A beautifully shot drama with a great script.",
     "A farmer sells 20 eggs a day at 3 dollars a dozen; how much does he earn in a week?"),
    ("Tom earns 15 dollars an hour and works 8 hours a day.", "A shirt costs 25 dollars and is on sale for 20 percent off.",
     "The movie's plot is silly but the characters are charming."),
]

TEXTS = [t for triple in TOPIC_TRIPLES for t in triple[:2]]


def topics(texts: list[str]) -> ToolCall:
    return ToolCall(capability="topic_model", op="topics", payload={"texts": texts})


def similarity(pairs: list[list[str]]) -> ToolCall:
    return ToolCall(capability="topic_model", op="similarity", payload={"pairs": pairs})


def _value(item: Any) -> Any:
    assert not isinstance(item, ToolResult) or item.ok, f"expected an ok answer, got {item}"
    return item.value if isinstance(item, ToolResult) else item


class TopicModelConformance(SharedTool, MalformedPayloads, ToolConformance):
    """Value-level contract of a topic-model backend (subclass; set ``tool_class`` and ``options``)."""

    tool_class: ClassVar[type[Tool]]
    options: ClassVar[dict[str, Any]] = {}
    #: how many of :data:`TOPIC_TRIPLES` must be ordered right (all, unless a backend documents why not).
    min_ranked: ClassVar[int] = len(TOPIC_TRIPLES)

    def sample_calls(self) -> list[ToolCall]:
        return [topics(TEXTS[:3]), topics(TEXTS[:1]), similarity([[TEXTS[0], TEXTS[1]]])]

    def hostile_calls(self) -> list[ToolCall]:
        return [topics(["\x00\x01\x02", "film " * 200_000, "Ω≈ç√∫ 漢字 العربية 🙂", ""]),
                ToolCall(capability="topic_model", op="topics", payload={"texts": "not a list"}),
                ToolCall(capability="topic_model", op="train", payload={})]

    def test_each_text_gets_a_distribution_over_the_declared_topics(self, tool: Tool) -> None:
        value = _value(tool.run_batch([topics(TEXTS)])[0])
        k = value["topics"]
        assert k == tool.num_topics and k >= 2  # type: ignore[attr-defined]
        assert len(value["distributions"]) == len(TEXTS) and value["empty"] == [] and value["truncated"] == []
        for dist, top in zip(value["distributions"], value["top"], strict=True):
            assert len(dist) == k and min(dist) >= 0 and abs(sum(dist) - 1.0) < 1e-4
            assert 1 <= len(top) <= 3 and top[0][1] == max(dist) and dist[top[0][0]] == top[0][1]

    def test_similarity_is_one_minus_the_hellinger_distance(self, tool: Tool) -> None:
        a, b = TEXTS[0], TEXTS[2]
        dist = _value(tool.run_batch([topics([a, b])])[0])["distributions"]
        scores = _value(tool.run_batch([similarity([[a, b], [a, a], [b, a]])])[0])["scores"]
        assert abs(scores[0] - hellinger_similarity(*dist)) < 1e-3
        assert scores[1] == 1.0 and scores[0] == scores[2]  # identity (exactly), symmetry
        assert all(0.0 <= s <= 1.0 for s in scores)

    def test_a_text_is_nearer_its_own_subject(self, tool: Tool) -> None:
        out = tool.run_batch([similarity([[x, y], [x, z]]) for x, y, z in TOPIC_TRIPLES])
        right = [s[0] > s[1] for s in (_value(v)["scores"] for v in out)]
        assert sum(right) >= self.min_ranked, f"ranked right: {right}"

    def test_a_text_the_model_cannot_read_has_no_topics(self, tool: Tool) -> None:
        value = _value(tool.run_batch([topics(["", "\x00\x01 ☃☃", TEXTS[0]])])[0])
        assert value["empty"] == [0, 1] and set(value["distributions"][0]) == {0.0} and value["top"][0] == []
        sim = _value(tool.run_batch([similarity([["", TEXTS[0]], ["", ""]])])[0])
        assert sim["scores"] == [0.0, 0.0] and sim["empty"] == [0, 1]

    def test_oversized_text_is_cut_and_reported(self, tool: Tool) -> None:
        limit = tool.options.max_chars  # type: ignore[attr-defined]
        long = (TEXTS[0] + " ") * (limit // len(TEXTS[0]) + 50)
        value = _value(tool.run_batch([topics([long, TEXTS[1]])])[0])
        assert value["truncated"] == [0] and abs(sum(value["distributions"][0]) - 1.0) < 1e-4

    def malformed_cases(self) -> list[Case]:
        return [(ToolCall(capability="topic_model", op="topics", payload={"texts": "one string"}), "payload.texts"),
                (ToolCall(capability="topic_model", op="topics", payload={"texts": ["ok", None]}), "payload.texts[1]"),
                (ToolCall(capability="topic_model", op="similarity", payload={"pairs": [["a", "b", "c"]]}), "payload.pairs[0]"),
                (ToolCall(capability="topic_model", op="embed", payload={"texts": ["x"]}), "no op 'embed'")]

    def well_formed_call(self) -> ToolCall:
        return topics([TEXTS[0]])

    def check_well_formed(self, result: ToolResult) -> None:
        assert len(result.value["distributions"]) == 1

    def test_a_batch_infers_each_distinct_text_once(self, tool: Tool, monkeypatch: pytest.MonkeyPatch) -> None:
        seen: list[list[str]] = []
        original = tool.distributions  # type: ignore[attr-defined]

        def spy(texts: list[str]) -> Any:
            seen.append(list(texts))
            return original(texts)

        monkeypatch.setattr(tool, "distributions", spy)
        fresh = [f"{s} (spy {id(seen)})" for s in TEXTS[:3]]  # texts no earlier test inferred
        first = tool.run_batch([topics(fresh), topics(fresh[:2]), similarity([[fresh[0], fresh[1]]])])
        assert len(seen) == 1 and sorted(seen[0]) == sorted(fresh)
        again = tool.run_batch([topics(fresh)])
        assert len(seen) == 1, "texts seen recently are not inferred again"
        assert again[0] == first[0]
