"""DuckDB fact store: loading, the embedded file, one query per batch, hostile terms."""

from __future__ import annotations

from pathlib import Path

import pytest
from chil_plugin_duckdb.store import DuckDBFactStore

from chil_core import ToolCall
from chil_core.testing.fact_store import FactStoreConformance

TRIPLES = [["palau", "locatedin", "micronesia"], ["micronesia", "locatedin", "oceania"], ["fiji", "neighbor", "tonga"],
           ["fiji", "neighbor", "palau", "false"]]
PROPS = {"transitive": ["locatedin"], "functional": ["locatedin"], "symmetric": ["neighbor"]}


def lookup(s: str, r: str, o: str) -> ToolCall:
    return ToolCall(capability="fact_store", op="lookup", payload={"subject": s, "relation": r, "object": o})


def store(**options) -> DuckDBFactStore:
    tool = DuckDBFactStore(DuckDBFactStore.Options(**options))
    tool.start()
    return tool


def test_verdicts_from_a_tsv_file(tmp_path: Path) -> None:
    path = tmp_path / "facts.tsv"
    path.write_text("".join("\t".join(t) + "\n" for t in TRIPLES))
    tool = store(path=str(path), **PROPS)
    out = tool.run_batch([lookup("Palau", "locatedin", "Oceania"), lookup("palau", "locatedin", "europe"),
                          lookup("Tonga", "neighbor", "Fiji"), lookup("palau", "neighbor", "fiji"), lookup("x", "y", "z")])
    assert [o["verdict"] for o in out] == ["supported", "refuted", "supported", "refuted", "unknown"]
    assert out[1]["facts"] == [["palau", "locatedin", "micronesia", True]]
    tool.close()


def test_embedded_file_is_built_once_and_reopened_read_only(tmp_path: Path) -> None:
    db = str(tmp_path / "facts.duckdb")
    builder = store(database=db, triples=TRIPLES, **PROPS)
    builder.close()
    reader = store(database=db, **PROPS)
    assert reader.run_batch([lookup("palau", "locatedin", "oceania")])[0]["verdict"] == "supported"
    with pytest.raises(Exception, match="read-only|read only"):
        reader.con.execute("DELETE FROM facts")
    reader.close()
    with pytest.raises(FileNotFoundError, match="tools.duckdb.database"):
        store(database=str(tmp_path / "missing.duckdb"))


def test_a_batch_is_one_query_and_hostile_terms_are_data() -> None:
    tool = store(triples=TRIPLES, **PROPS)
    queries = []
    real = tool.execute
    tool.execute = lambda sql, params, lookups: queries.append(sql) or real(sql, params, lookups)  # type: ignore[method-assign]
    hostile = ["x'); DROP TABLE facts;--", "' OR 1=1 --", "palau' UNION SELECT 1,2,3 --"]
    out = tool.run_batch([lookup(h, "locatedin", h) for h in hostile] + [lookup("palau", "locatedin", "oceania")])
    assert len(queries) == 1 and all(h not in queries[0] for h in hostile)
    assert [o["verdict"] for o in out] == ["unknown"] * 3 + ["supported"]
    assert tool.con.execute("SELECT count(*) FROM facts").fetchone()[0] == len(TRIPLES)
    tool.close()


def test_parquet_input(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"subject": ["a", "a"], "relation": ["r", "r"], "object": ["b", "c"], "truth": [True, False]}), tmp_path / "t.parquet")
    tool = store(path=str(tmp_path / "t.parquet"))
    assert [o["verdict"] for o in tool.run_batch([lookup("a", "r", "b"), lookup("a", "r", "c")])] == ["supported", "refuted"]
    tool.close()


class TestDuckDBConformance(FactStoreConformance):
    tool_class = DuckDBFactStore
    options = {"triples": TRIPLES, **PROPS}

    def sample_calls(self) -> list[ToolCall]:
        return [lookup("palau", "locatedin", "oceania"), lookup("palau", "locatedin", "europe"), lookup("tonga", "neighbor", "fiji"), lookup("a", "b", "c")]

    def hostile_calls(self) -> list[ToolCall]:
        return [lookup(h, "locatedin", h) for h in ["x'); DROP TABLE facts;--", "' OR 1=1 --"]] + [ToolCall(capability="fact_store", op="lookup", payload={"subject": 1})]
