"""SQLite fact store: loading, the database file, one query per batch, hostile terms."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from chil_plugin_sqlite.facts import SqliteFactStore

from chil_core import ToolCall
from chil_core.testing.fact_store import FactStoreConformance

TRIPLES = [["palau", "locatedin", "micronesia"], ["micronesia", "locatedin", "oceania"], ["fiji", "neighbor", "tonga"],
           ["fiji", "neighbor", "palau", "false"]]
PROPS = {"transitive": ["locatedin"], "functional": ["locatedin"], "symmetric": ["neighbor"]}


def lookup(s: str, r: str, o: str) -> ToolCall:
    return ToolCall(capability="fact_store", op="lookup", payload={"subject": s, "relation": r, "object": o})


def store(**options) -> SqliteFactStore:
    tool = SqliteFactStore(SqliteFactStore.Options(**options))
    tool.start()
    return tool


def test_verdicts_from_inline_triples() -> None:
    tool = store(triples=TRIPLES, **PROPS)
    out = tool.run_batch([lookup("Palau", "locatedin", "Oceania"), lookup("palau", "locatedin", "europe"),
                          lookup("Tonga", "neighbor", "Fiji"), lookup("palau", "neighbor", "fiji"), lookup("x", "y", "z")])
    assert [o["verdict"] for o in out] == ["supported", "refuted", "supported", "refuted", "unknown"]
    tool.close()


def test_database_file_is_built_then_reopened_read_only(tmp_path: Path) -> None:
    db = str(tmp_path / "facts.sqlite")
    store(database=db, triples=TRIPLES, **PROPS).close()
    reader = store(database=db, **PROPS)
    assert reader.run_batch([lookup("palau", "locatedin", "oceania")])[0]["verdict"] == "supported"
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.con.execute("DELETE FROM facts")
    reader.close()
    with pytest.raises(FileNotFoundError, match="tools.sqlite.database"):
        store(database=str(tmp_path / "missing.sqlite"))


def test_a_batch_is_one_query_and_hostile_terms_are_data() -> None:
    tool = store(triples=TRIPLES, **PROPS)
    traced: list[str] = []
    tool.con.set_trace_callback(traced.append)
    hostile = ["x'); DROP TABLE facts;--", "' OR 1=1 --", "palau'; ATTACH DATABASE '/tmp/x' AS x;--"]
    out = tool.run_batch([lookup(h, "locatedin", h) for h in hostile] + [lookup("palau", "locatedin", "oceania")])
    assert len(traced) == 1 and traced[0].lstrip().startswith("WITH q(i, s, r, o) AS (VALUES")
    assert [o["verdict"] for o in out] == ["unknown"] * 3 + ["supported"]
    assert tool.con.execute("SELECT count(*) FROM facts").fetchone()[0] == len(TRIPLES)
    tool.close()


class TestSqliteFactStoreConformance(FactStoreConformance):
    tool_class = SqliteFactStore
    options = {"triples": TRIPLES, **PROPS}

    def sample_calls(self) -> list[ToolCall]:
        return [lookup("palau", "locatedin", "oceania"), lookup("palau", "locatedin", "europe"), lookup("tonga", "neighbor", "fiji"), lookup("a", "b", "c")]

    def hostile_calls(self) -> list[ToolCall]:
        return [lookup(h, "locatedin", h) for h in ["x'); DROP TABLE facts;--", "' OR 1=1 --"]] + [ToolCall(capability="fact_store", op="lookup", payload={"subject": 1})]


def test_a_framework_worker_may_copy_it_unless_the_copy_would_rebuild_a_file(tmp_path: Path) -> None:
    opts = SqliteFactStore.Options
    db = str(tmp_path / "facts.sqlite")
    assert SqliteFactStore.replicable(opts(triples=TRIPLES))  # in memory: each copy builds its own
    assert SqliteFactStore.replicable(opts(database=db))  # a file opened read-only
    assert not SqliteFactStore.replicable(opts(database=db, triples=TRIPLES))  # each copy would rebuild the file

