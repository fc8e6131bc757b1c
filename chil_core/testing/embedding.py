"""Conformance suite of the ``embedding`` capability: what every backend (WordLlama, Gensim…) must show.

```python
from chil_core.testing.embedding import EmbeddingConformance

class TestMyEmbedding(EmbeddingConformance):
    tool_class = MyEmbedding
    options = {}
```

Besides the generic tool contract (:class:`~chil_core.testing.conformance.ToolConformance`) it checks
values: unit-length vectors of the declared dimension, ``similarity`` equal to the dot product of the
``embed`` vectors, paraphrases closer than unrelated sentences (:data:`RANKED_PAIRS`), the zero vector for
a text with nothing to encode, oversized texts cut and reported, malformed payloads answered with an
error naming the field.  :func:`rank_agreement` compares two backends on the same pairs.

Backends are started once per test class (``tool`` fixture, class scope): loading a model is the slow
part and the checks only read from it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import SharedTool, ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads

#: (anchor, close, far): every backend must put ``close`` nearer to ``anchor`` than ``far``.
RANKED_PAIRS: list[tuple[str, str, str]] = [
    ("The cat sat on the mat.", "A cat was sitting on the rug.", "Stock markets fell sharply on Monday."),
    ("How do I bake bread at home?", "What is a simple recipe for homemade bread?", "The striker scored twice in the final."),
    ("The film was a delight from start to finish.", "I really enjoyed this movie.", "Add two cups of flour to the bowl."),
    ("Paris is the capital of France.", "France's capital city is Paris.", "Photosynthesis converts light into chemical energy."),
    ("The doctor prescribed antibiotics for the infection.", "The physician gave her medicine for the infection.",
     "We drove along the coast at sunset."),
]

SENTENCES = ["The cat sat on the mat.", "Stock markets fell sharply on Monday.", "I really enjoyed this movie."]


def embed(texts: list[str]) -> ToolCall:
    return ToolCall(capability="embedding", op="embed", payload={"texts": texts})


def similarity(pairs: list[list[str]]) -> ToolCall:
    return ToolCall(capability="embedding", op="similarity", payload={"pairs": pairs})


def _value(item: Any) -> Any:
    assert not isinstance(item, ToolResult) or item.ok, f"expected an ok answer, got {item}"
    return item.value if isinstance(item, ToolResult) else item


def rank_agreement(a: Tool, b: Tool, pairs: list[tuple[str, str, str]] = RANKED_PAIRS) -> float:
    """Fraction of ``pairs`` that backends ``a`` and ``b`` order the same way (close vs far)."""
    calls = [similarity([[x, y], [x, z]]) for x, y, z in pairs]
    sa = [_value(v)["scores"] for v in a.run_batch(calls)]
    sb = [_value(v)["scores"] for v in b.run_batch(calls)]
    same = sum((p[0] > p[1]) == (q[0] > q[1]) for p, q in zip(sa, sb, strict=True))
    return same / len(pairs)


class EmbeddingConformance(SharedTool, MalformedPayloads, ToolConformance):
    """Value-level contract of an embedding backend (subclass; set ``tool_class`` and ``options``)."""

    tool_class: ClassVar[type[Tool]]
    options: ClassVar[dict[str, Any]] = {}
    #: how many of :data:`RANKED_PAIRS` must be ordered right (all, unless a backend documents why not).
    min_ranked: ClassVar[int] = len(RANKED_PAIRS)

    def sample_calls(self) -> list[ToolCall]:
        return [embed(SENTENCES), embed(SENTENCES[:1]), similarity([[SENTENCES[0], SENTENCES[2]]])]

    def hostile_calls(self) -> list[ToolCall]:
        return [embed(["\x00\x01\x02", "a" * 200_000, "Ω≈ç√∫ 漢字 العربية 🙂", ""]),
                ToolCall(capability="embedding", op="embed", payload={"texts": "not a list"}),
                ToolCall(capability="embedding", op="drop_tables", payload={})]

    def test_vectors_are_unit_length_of_the_declared_dim(self, tool: Tool) -> None:
        value = _value(tool.run_batch([embed(SENTENCES)])[0])
        assert value["dim"] == tool.dim and value["dim"] >= 8  # type: ignore[attr-defined]
        assert len(value["vectors"]) == len(SENTENCES) and value["empty"] == [] and value["truncated"] == []
        for v in value["vectors"]:
            assert len(v) == value["dim"]
            assert abs(sum(x * x for x in v) - 1.0) < 1e-4

    def test_similarity_is_the_dot_product_of_embed(self, tool: Tool) -> None:
        a, b = SENTENCES[0], SENTENCES[2]
        vecs = _value(tool.run_batch([embed([a, b])])[0])["vectors"]
        score = _value(tool.run_batch([similarity([[a, b], [a, a]])])[0])["scores"]
        assert abs(score[0] - sum(x * y for x, y in zip(*vecs, strict=True))) < 1e-4
        assert abs(score[1] - 1.0) < 1e-4

    def test_paraphrases_are_closer_than_unrelated_sentences(self, tool: Tool) -> None:
        out = tool.run_batch([similarity([[x, y], [x, z]]) for x, y, z in RANKED_PAIRS])
        right = [s[0] > s[1] for s in (_value(v)["scores"] for v in out)]
        assert sum(right) >= self.min_ranked, f"ranked right: {right}"

    def test_nothing_to_encode_is_the_zero_vector(self, tool: Tool) -> None:
        value = _value(tool.run_batch([embed(["", SENTENCES[0]])])[0])
        assert value["empty"] == [0] and set(value["vectors"][0]) == {0.0}
        sim = _value(tool.run_batch([similarity([["", SENTENCES[0]]])])[0])
        assert sim["scores"] == [0.0] and sim["empty"] == [0]

    def test_oversized_text_is_cut_and_reported(self, tool: Tool) -> None:
        limit = tool.options.max_chars  # type: ignore[attr-defined]
        long = (SENTENCES[0] + " ") * (limit // len(SENTENCES[0]) + 50)
        value = _value(tool.run_batch([embed([long, SENTENCES[1]])])[0])
        assert value["truncated"] == [0]
        assert abs(sum(x * x for x in value["vectors"][0]) - 1.0) < 1e-4

    def malformed_cases(self) -> list[Case]:
        return [(ToolCall(capability="embedding", op="embed", payload={"texts": "one string"}), "payload.texts"),
                (ToolCall(capability="embedding", op="embed", payload={"texts": ["ok", 3]}), "payload.texts[1]"),
                (ToolCall(capability="embedding", op="similarity", payload={"pairs": [["only one"]]}), "payload.pairs[0]"),
                (ToolCall(capability="embedding", op="nearest", payload={}), "no op 'nearest'")]

    def well_formed_call(self) -> ToolCall:
        return embed(["fine"])

    def check_well_formed(self, result: ToolResult) -> None:
        assert len(result.value["vectors"]) == 1

    def test_a_batch_encodes_each_distinct_text_once(self, tool: Tool, monkeypatch: pytest.MonkeyPatch) -> None:
        seen: list[list[str]] = []
        original = tool.encode  # type: ignore[attr-defined]

        def spy(texts: list[str]) -> Any:
            seen.append(list(texts))
            return original(texts)

        monkeypatch.setattr(tool, "encode", spy)
        fresh = [f"{s} (spy {id(seen)})" for s in SENTENCES]  # texts no earlier test encoded
        first = tool.run_batch([embed(fresh), embed(fresh[:2]), similarity([[fresh[0], fresh[1]]])])
        assert len(seen) == 1 and sorted(seen[0]) == sorted(fresh)
        again = tool.run_batch([embed(fresh)])
        assert len(seen) == 1, "texts seen recently are not encoded again"
        assert again[0] == first[0]
