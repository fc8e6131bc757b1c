"""The SQLite FTS5 episode memory: add/search/clear, episodes kept apart, hostile strings inert."""

from __future__ import annotations

from pathlib import Path

import pytest
from chil_plugin_sqlite.memory import SqliteMemory, SqliteMemoryOptions

from chil_core import ToolCall, ToolResult
from chil_core.testing.text_index import TextIndexConformance


def call(tool: SqliteMemory, op: str, **payload):
    return tool.run_batch([ToolCall(capability="text_index", op=op, payload=payload)])[0]


def claim(text: str, *terms: str, kind: str = "english", data=None) -> dict:
    return {"kind": kind, "text": text, "data": data if data is not None else {"text": text}, "terms": list(terms)}


@pytest.fixture()
def memory(tmp_path: Path):
    tool = SqliteMemory(SqliteMemoryOptions(memory_path=str(tmp_path / "memory.sqlite")))
    tool.start()
    yield tool
    tool.close()


def test_not_cacheable_and_available() -> None:
    assert SqliteMemory.cacheable is False
    assert SqliteMemory.unavailable_reason() is None


def test_search_finds_earlier_claims_sharing_a_term(memory: SqliteMemory) -> None:
    assert call(memory, "add", episode="ep1", record="r1",
                claims=[claim("Bob is big.", "big", "bob"), claim("The cat is red.", "red", "cat")]) == {"added": 2}
    call(memory, "add", episode="ep1", record="r2", claims=[claim("Dave is kind.", "kind", "dave")])
    hits = call(memory, "search", episode="ep1", terms=["bob", "nice"], exclude_record="r3")["hits"]
    assert [h["text"] for h in hits] == ["Bob is big."]
    assert hits[0]["record"] == "r1" and hits[0]["data"] == {"text": "Bob is big."} and hits[0]["terms"] == ["big", "bob"]
    # its own record's claims are excluded; other episodes are invisible; kinds filter
    assert call(memory, "search", episode="ep1", terms=["bob"], exclude_record="r1")["hits"] == []
    assert call(memory, "search", episode="ep2", terms=["bob"])["hits"] == []
    assert call(memory, "search", episode="ep1", terms=["bob"], kind="fol")["hits"] == []


def test_rank_prefers_more_shared_terms_and_limit(memory: SqliteMemory) -> None:
    call(memory, "add", episode="e", record="r1", claims=[claim(f"c{i}", "bob", f"x{i}") for i in range(5)]
         + [claim("both", "bob", "big")])
    hits = call(memory, "search", episode="e", terms=["bob", "big"], limit=3)["hits"]
    assert len(hits) == 3 and hits[0]["text"] == "both"


def test_adding_twice_stores_once_and_clear(memory: SqliteMemory) -> None:
    c = claim("Bob is big.", "big", "bob")
    assert call(memory, "add", episode="e", record="r", claims=[c])["added"] == 1
    assert call(memory, "add", episode="e", record="r", claims=[c])["added"] == 0
    assert call(memory, "clear", episode="e") == {"removed": 1}
    assert call(memory, "search", episode="e", terms=["bob"])["hits"] == []


def test_free_text_search_is_quoted(memory: SqliteMemory) -> None:
    call(memory, "add", episode="e", record="r", claims=[claim("Bob chases the cat", "chase")])
    for text in ['cat" OR *', "NEAR(bob cat)", "cat)) OR ((", "bob AND NOT cat", "\"'; DROP TABLE claims; --"]:
        out = call(memory, "search", episode="e", terms=[], text=text)
        assert not isinstance(out, ToolResult), out
    assert [h["text"] for h in call(memory, "search", episode="e", terms=[], text="the cat")["hits"]] == ["Bob chases the cat"]
    assert call(memory, "search", episode="e", terms=["chase"])["hits"]  # the table is still there


def test_hostile_terms_and_episode_ids_match_exactly(memory: SqliteMemory) -> None:
    evil = ['"', "*", "a OR b", "NEAR", "tokens : x", "'); DROP TABLE claims; --", "Świątek"]
    call(memory, "add", episode="ep' OR 1=1 --", record="r", claims=[claim("evil", *evil)])
    assert len(call(memory, "search", episode="ep' OR 1=1 --", terms=["a OR b"])["hits"]) == 1
    assert call(memory, "search", episode="ep' OR 1=1 --", terms=["a"])["hits"] == []
    assert call(memory, "search", episode="other", terms=evil)["hits"] == []


def test_episode_cap_drops_the_oldest(tmp_path: Path) -> None:
    tool = SqliteMemory(SqliteMemoryOptions(memory_path=str(tmp_path / "m.sqlite"), max_claims_per_episode=3))
    tool.start()
    for i in range(5):
        call(tool, "add", episode="e", record=f"r{i}", claims=[claim(f"c{i}", "bob")])
    assert sorted(h["text"] for h in call(tool, "search", episode="e", terms=["bob"])["hits"]) == ["c2", "c3", "c4"]
    tool.close()


def test_total_cap_drops_the_oldest_of_any_episode(tmp_path: Path) -> None:
    tool = SqliteMemory(SqliteMemoryOptions(memory_path=str(tmp_path / "m.sqlite"), max_claims_total=2))
    tool.start()
    for i in range(4):
        call(tool, "add", episode=f"e{i}", record="r", claims=[claim(f"c{i}", "bob")])
    found = [h["text"] for i in range(4) for h in call(tool, "search", episode=f"e{i}", terms=["bob"])["hits"]]
    assert found == ["c2", "c3"]
    tool.close()


def test_in_memory_store_is_shared_by_the_instances_of_a_process() -> None:
    a, b = SqliteMemory(), SqliteMemory()
    a.start()
    b.start()
    call(a, "add", episode="shared", record="r", claims=[claim("x", "t")])
    assert len(call(b, "search", episode="shared", terms=["t"])["hits"]) == 1
    a.close()
    b.close()


@pytest.mark.parametrize(
    ("op", "payload", "fragment"),
    [
        ("add", {"record": "r", "claims": []}, "payload.episode"),
        ("add", {"episode": "e", "record": "r", "claims": "x"}, "payload.claims must be a list"),
        ("add", {"episode": "e", "record": "r", "claims": [{"kind": "k", "text": "t", "terms": "bob"}]}, "payload.claims[0].terms"),
        ("add", {"episode": "e", "record": "r", "claims": [{"kind": "k", "text": "t", "data": {1, 2}}]}, "JSON-serialisable"),
        ("search", {"episode": "e", "terms": [], "limit": 0}, "payload.limit"),
        ("search", {"episode": "e", "terms": [3]}, "payload.terms"),
        ("nope", {}, "no op 'nope'"),
    ],
)
def test_bad_payloads_name_the_field(memory: SqliteMemory, op: str, payload: dict, fragment: str) -> None:
    out = memory.run_batch([ToolCall(capability="text_index", op=op, payload=payload)])[0]
    assert isinstance(out, ToolResult) and out.status == "error" and fragment in out.error


class TestSqliteMemoryConformance(TextIndexConformance):
    """Read-only sample calls over a memory filled once (adds are not idempotent in their answer)."""

    tool_class = SqliteMemory
    options: dict = {}

    @classmethod
    def setup_class(cls) -> None:
        import tempfile

        cls._dir = tempfile.TemporaryDirectory()
        cls.options = {"memory_path": str(Path(cls._dir.name) / "memory.sqlite")}
        tool = SqliteMemory(SqliteMemoryOptions(**cls.options))
        tool.start()
        call(tool, "add", episode="e", record="r1", claims=[claim("Bob is big.", "big", "bob"), claim("The cat is red.", "red", "cat")])
        tool.close()

    @classmethod
    def teardown_class(cls) -> None:
        cls._dir.cleanup()

    def sample_calls(self):
        return [ToolCall(capability="text_index", op="search", payload={"episode": "e", "terms": ["bob"]}),
                ToolCall(capability="text_index", op="search", payload={"episode": "e", "terms": ["cat", "red"], "limit": 1})]

    def hostile_calls(self):
        return [ToolCall(capability="text_index", op="search", payload={"episode": "e", "terms": ['" OR *'], "text": "NEAR(a b"}),
                ToolCall(capability="text_index", op="add", payload={"episode": "e'; DROP TABLE claims; --", "record": "r",
                                                                     "claims": [claim("x", "'; DROP TABLE claims; --")]}),
                ToolCall(capability="text_index", op="clear", payload={"episode": 3})]
