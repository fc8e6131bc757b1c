"""``DuckDBFactStore``: triples in an embedded DuckDB database, a whole batch answered by one query."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, Field

from chil_core.capabilities.fact_store import FactStoreOptions, SqlFactStore


class DuckDBOptions(FactStoreOptions):
    """``[tools.duckdb]``: the shared fact-store options plus the database file."""

    database: str = Field(
        default=":memory:",
        description="DuckDB file. With path/triples it is (re)built at start; without, it is opened read-only.",
    )


class DuckDBFactStore(SqlFactStore):
    """The default ``fact_store``: DuckDB, in memory or in an embedded file.

    Tables ``facts(s, r, o, truth)`` and ``paths(s, r, o)``; a batch of lookups is registered as an Arrow
    table ``q`` and answered by one query (:func:`chil_core.capabilities.fact_store.sql_lookup`)."""

    name: ClassVar[str] = "duckdb"
    description: ClassVar[str] = "DuckDB fact store (embedded file or memory): TSV / N-Triples / Parquet triples."
    Options: ClassVar[type[BaseModel]] = DuckDBOptions
    priority: ClassVar[int] = 30
    inline_lookups: ClassVar[bool] = False
    options: DuckDBOptions

    requires_modules: ClassVar[dict[str, str]] = {"duckdb": "duckdb", "pyarrow": "pyarrow"}

    def start(self) -> None:
        import duckdb
        import pyarrow

        self.pa = pyarrow
        opts = self.options
        if opts.database != ":memory:" and not (opts.path or opts.triples):
            if not Path(opts.database).is_file():
                raise FileNotFoundError(f"tools.duckdb.database: {opts.database!r} does not exist and no path/triples to build it from")
            self.con = duckdb.connect(opts.database, read_only=True)
            return
        self.con = duckdb.connect(opts.database)
        self.build()

    def insert(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        types = ", ".join(f"{c} {'INTEGER' if c == 'truth' else 'VARCHAR'}" for c in columns)
        self.con.execute(f"CREATE OR REPLACE TABLE {table}({types})")
        if rows:
            data = {c: list(col) for c, col in zip(columns, zip(*rows, strict=True), strict=True)}
            self.con.register("chil_load", self.pa.table(data))
            self.con.execute(f"INSERT INTO {table} SELECT {', '.join(columns)} FROM chil_load")
            self.con.unregister("chil_load")

    def execute(self, sql: str, params: list[Any], lookups: list[tuple[int, tuple[str, str, str]]]) -> Iterable[Sequence[Any]]:
        i, s, r, o = zip(*((i, *lk) for i, lk in lookups), strict=True)
        self.con.register("q", self.pa.table({"i": list(i), "s": list(s), "r": list(r), "o": list(o)}))
        try:
            return self.con.execute(sql, params).fetchall()
        finally:
            self.con.unregister("q")

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
