"""Conformance suite of the ``text_index`` capability (ops ``add``, ``search``, ``clear``).

A backend's tests subclass :class:`TextIndexConformance` and give read-only ``sample_calls`` (a
search over claims they added first: adds are not idempotent in their answer)::

    from chil_core.testing.text_index import TextIndexConformance

    class TestMyIndex(TextIndexConformance):
        tool_class = MyIndex
        def sample_calls(self): ...

Each test works in episodes of its own, so backends whose instances share one store pass too.
"""

from __future__ import annotations

import uuid
from typing import Any

from chil_core.capabilities.text_index import MAX_CLAIMS, MAX_TERMS, MAX_TEXT
from chil_core.components import Tool
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import ToolConformance, _norm
from chil_core.testing.malformed import Case, MalformedPayloads


def claim(text: str, *terms: str, kind: str = "english", data: Any = None) -> dict[str, Any]:
    return {"kind": kind, "text": text, "data": data if data is not None else {"text": text}, "terms": list(terms)}


#: (name, op, payload, fragment of the error): each an ``error`` result naming the field.
MALFORMED: list[tuple[str, str, dict[str, Any], str]] = [
    ("add without episode", "add", {"record": "r", "claims": []}, "payload.episode"),
    ("add claims not a list", "add", {"episode": "e", "record": "r", "claims": "x"}, "payload.claims"),
    ("claim without text", "add", {"episode": "e", "record": "r", "claims": [{"kind": "k"}]}, "payload.claims[0]"),
    ("claim text too long", "add", {"episode": "e", "record": "r", "claims": [claim("x" * (MAX_TEXT + 1))]}, "payload.claims[0]"),
    ("too many claims", "add", {"episode": "e", "record": "r", "claims": [claim("x")] * (MAX_CLAIMS + 1)}, "payload.claims"),
    ("terms not strings", "search", {"episode": "e", "terms": [1]}, "payload.terms"),
    ("too many terms", "search", {"episode": "e", "terms": ["t"] * (MAX_TERMS + 1)}, "payload.terms"),
    ("limit out of range", "search", {"episode": "e", "terms": ["t"], "limit": 0}, "payload.limit"),
    ("limit a bool", "search", {"episode": "e", "terms": ["t"], "limit": True}, "payload.limit"),
    ("clear a number", "clear", {"episode": 3}, "payload.episode"),
]

INJECTIONS = ['" OR *', "NEAR(a b", "'; DROP TABLE claims; --", "a* OR b*", "tokens : x", "\x00", "))"]


class TextIndexConformance(MalformedPayloads, ToolConformance):
    """Contract tests every ``text_index`` backend passes (subclass it; set ``tool_class``)."""

    def _call(self, tool: Tool, op: str, **payload: Any) -> Any:
        res = _norm(tool.run_batch([ToolCall(capability="text_index", op=op, payload=payload)])[0])
        assert res.status == "ok", f"{op} {payload}: {res.status}: {res.error}"
        return res.value

    @staticmethod
    def _episode() -> str:
        return f"conformance-{uuid.uuid4().hex}"

    def test_not_cacheable(self) -> None:
        assert self.tool_class.cacheable is False, "answers depend on earlier adds: a text_index backend is not cacheable"
        assert self.tool_class.ops >= {"add", "search", "clear"}

    def test_search_finds_earlier_claims_sharing_a_term(self) -> None:
        self._skip_if_unavailable()
        ep, other = self._episode(), self._episode()
        tool = self.make_tool()
        try:
            added = self._call(tool, "add", episode=ep, record="r1", claims=[claim("Bob is big.", "big", "bob"),
                                                                               claim("The cat is red.", "red", "cat")])
            assert added == {"added": 2}
            self._call(tool, "add", episode=ep, record="r2", claims=[claim("Dave is kind.", "kind", "dave", kind="fol")])
            hits = self._call(tool, "search", episode=ep, terms=["bob", "nice"], exclude_record="r3")["hits"]
            assert [(h["record"], h["kind"], h["text"], h["data"], h["terms"]) for h in hits] == [
                ("r1", "english", "Bob is big.", {"text": "Bob is big."}, ["big", "bob"])]
            assert isinstance(hits[0]["rank"], int | float)
            assert self._call(tool, "search", episode=ep, terms=["bob"], exclude_record="r1")["hits"] == []
            assert self._call(tool, "search", episode=other, terms=["bob"])["hits"] == []
            assert self._call(tool, "search", episode=ep, terms=["bob"], kind="fol")["hits"] == []
            assert [h["text"] for h in self._call(tool, "search", episode=ep, terms=["dave"], kind="fol")["hits"]] == ["Dave is kind."]
            assert [h["text"] for h in self._call(tool, "search", episode=ep, terms=[], text="the red CAT")["hits"]] == ["The cat is red."]
            assert self._call(tool, "search", episode=ep, terms=[])["hits"] == []
        finally:
            tool.close()

    def test_more_shared_terms_rank_first_and_limit_holds(self) -> None:
        self._skip_if_unavailable()
        ep = self._episode()
        tool = self.make_tool()
        try:
            self._call(tool, "add", episode=ep, record="r1",
                       claims=[claim(f"c{i}", "bob", f"x{i}") for i in range(5)] + [claim("both", "bob", "big")])
            hits = self._call(tool, "search", episode=ep, terms=["bob", "big"], limit=3)["hits"]
            assert len(hits) == 3 and hits[0]["text"] == "both"
        finally:
            tool.close()

    def test_adding_twice_stores_once_and_clear_removes(self) -> None:
        self._skip_if_unavailable()
        ep = self._episode()
        c = claim("Bob is big.", "big", "bob")
        tool = self.make_tool()
        try:
            assert self._call(tool, "add", episode=ep, record="r", claims=[c]) == {"added": 1}
            assert self._call(tool, "add", episode=ep, record="r", claims=[c]) == {"added": 0}
            assert self._call(tool, "add", episode=ep, record="r2", claims=[c]) == {"added": 1}
            assert self._call(tool, "clear", episode=ep) == {"removed": 2}
            assert self._call(tool, "search", episode=ep, terms=["bob"])["hits"] == []
            assert self._call(tool, "clear", episode=ep) == {"removed": 0}
        finally:
            tool.close()

    def test_hostile_strings_match_only_themselves(self) -> None:
        self._skip_if_unavailable()
        ep = self._episode()
        tool = self.make_tool()
        try:
            self._call(tool, "add", episode=ep, record="r", claims=[claim(f"claim {i}", t) for i, t in enumerate(INJECTIONS)])
            self._call(tool, "add", episode=ep + "'; --", record="r", claims=[claim("elsewhere", "a")])
            for i, term in enumerate(INJECTIONS):
                hits = self._call(tool, "search", episode=ep, terms=[term])["hits"]
                assert [h["text"] for h in hits] == [f"claim {i}"], term
            hits = self._call(tool, "search", episode=ep, terms=[], text=" ".join(INJECTIONS))["hits"]
            assert {h["text"] for h in hits} <= {f"claim {i}" for i in range(len(INJECTIONS))}
            assert self._call(tool, "search", episode=ep, terms=["a"])["hits"] == []  # the other episode stays apart
        finally:
            tool.close()

    def malformed_cases(self) -> list[Case]:
        return [(ToolCall(capability="text_index", op=op, payload=p), fragment) for _, op, p, fragment in MALFORMED] + [
            (ToolCall(capability="text_index", op="drop", payload={}), "drop")]

    def well_formed_call(self) -> ToolCall:
        return ToolCall(capability="text_index", op="search", payload={"episode": self._episode(), "terms": ["t"]})

    def check_well_formed(self, result: ToolResult) -> None:
        assert result.value["hits"] == []
