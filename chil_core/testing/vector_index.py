"""Conformance suite of the ``vector_index`` capability (FAISS, …).

```python
from chil_core.testing.vector_index import VectorIndexConformance

class TestMyIndex(VectorIndexConformance):
    tool_class = MyIndex
    @classmethod
    def build_index(cls, out_dir, ids, texts):   # write an index of CORPUS with the backend's builder
        ...
        return {"path": str(out_dir)}            # the tool options that open it
```

Values: each passage of :data:`CORPUS` is its own nearest neighbour, a paraphrased query finds its
passage first, hits are sorted and at most ``k``, an empty query gets no hits, ids and texts round-trip,
malformed payloads are errors naming the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import pytest

from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import ToolConformance
from chil_core.testing.malformed import Case, MalformedPayloads

CORPUS: list[tuple[str, str]] = [
    ("saxony", "Saxony is an area in Germany around the upper Elbe river, the original home of the Saxons."),
    ("stool", "Stool is solid excretory product evacuated from the bowels."),
    ("worldcup", "England last reached the semi final of a World Cup in 2018."),
    ("bread", "Bread is baked from a dough of flour and water, usually leavened with yeast."),
    ("paris", "Paris is the capital and largest city of France, on the river Seine."),
    ("python", "Python is a programming language that emphasises readable code."),
]
#: (query, id of the passage it must find first)
QUERIES: list[tuple[str, str]] = [
    ("Which French city is the capital?", "paris"),
    ("How is bread made from flour?", "bread"),
    ("When did England reach a World Cup semi final?", "worldcup"),
    ("a language for writing readable programs", "python"),
]


def search(queries: list[str], k: int = 3) -> ToolCall:
    return ToolCall(capability="vector_index", op="search", payload={"queries": queries, "k": k})


def _value(item: Any) -> Any:
    assert not isinstance(item, ToolResult) or item.ok, f"expected an ok answer, got {item}"
    return item.value if isinstance(item, ToolResult) else item


class VectorIndexConformance(MalformedPayloads, ToolConformance):
    tool_class: ClassVar[type[Tool]]
    options: ClassVar[dict[str, Any]] = {}

    @classmethod
    def build_index(cls, out_dir: Path, ids: list[str], texts: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    @pytest.fixture(autouse=True, scope="class")
    @classmethod
    def _built(cls, tmp_path_factory: pytest.TempPathFactory) -> None:
        cls._skip_if_unavailable(cls)  # type: ignore[arg-type]
        out = tmp_path_factory.mktemp(f"index-{cls.__name__}")
        cls.options = {**cls.options, **cls.build_index(out, [i for i, _ in CORPUS], [t for _, t in CORPUS])}

    shared_tool_fixture = "tool"

    @pytest.fixture(scope="class")
    @classmethod
    def tool(cls, _built: None) -> Any:
        tool = cls.make_tool(cls)  # type: ignore[arg-type]
        yield tool
        tool.close()

    def sample_calls(self) -> list[ToolCall]:
        return [search([QUERIES[0][0]]), search([q for q, _ in QUERIES[1:]], k=2)]

    def hostile_calls(self) -> list[ToolCall]:
        return [search(["\x00\x01" * 100, "x" * 1_000_000, "漢字 🙂"]), search(["q"], k=10**9),
                ToolCall(capability="vector_index", op="add", payload={"texts": ["x"]})]

    def test_each_passage_is_its_own_nearest_neighbour(self, tool: Tool) -> None:
        out = _value(tool.run_batch([search([t for _, t in CORPUS], k=1)])[0])
        assert [h[0]["id"] for h in out["hits"]] == [i for i, _ in CORPUS]
        assert [h[0]["text"] for h in out["hits"]] == [t for _, t in CORPUS]
        assert all(abs(h[0]["score"] - 1.0) < 1e-3 for h in out["hits"])

    def test_a_paraphrased_query_finds_its_passage_first(self, tool: Tool) -> None:
        out = _value(tool.run_batch([search([q for q, _ in QUERIES], k=3)])[0])
        assert [h[0]["id"] for h in out["hits"]] == [i for _, i in QUERIES]
        for hits in out["hits"]:
            assert len(hits) == 3 and [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)

    def test_k_larger_than_the_corpus_and_empty_queries(self, tool: Tool) -> None:
        out = _value(tool.run_batch([search(["bread", ""], k=50)])[0])
        assert len(out["hits"][0]) == len(CORPUS) and out["hits"][1] == []

    def malformed_cases(self) -> list[Case]:
        return [(ToolCall(capability="vector_index", op="search", payload={"queries": "one"}), "payload.queries"),
                (search(["x"], k=0), "payload.k"), (ToolCall(capability="vector_index", op="delete", payload={}), "no op 'delete'")]

    def well_formed_call(self) -> ToolCall:
        return search(["bread"], k=1)

    def check_well_formed(self, result: ToolResult) -> None:
        assert result.value["hits"][0][0]["id"] == "bread"
