"""``SqliteFactStore``: triples in SQLite (stdlib), a whole batch answered by one query."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, Field

from chil_core.capabilities.fact_store import FactStoreOptions, SqlFactStore


class SqliteFactOptions(FactStoreOptions):
    """``[tools.sqlite]`` fact-store options: the shared ones plus the database file."""

    database: str = Field(
        default=":memory:",
        description="SQLite file. With path/triples it is (re)built at start; without, it is opened read-only.",
    )


def _read_only(opts: SqliteFactOptions) -> bool:
    """A database file and nothing to build it from: opened read-only."""
    return opts.database != ":memory:" and not (opts.path or opts.triples)


class SqliteFactStore(SqlFactStore):
    """``fact_store`` on SQLite: tables ``facts(s, r, o, truth)`` and ``paths(s, r, o)``, indexed for the
    lookup joins; a batch of lookups travels as one VALUES list in one query."""

    name: ClassVar[str] = "sqlite"
    description: ClassVar[str] = "SQLite fact store (stdlib): TSV / N-Triples / Parquet triples."
    Options: ClassVar[type[BaseModel]] = SqliteFactOptions
    priority: ClassVar[int] = 10
    options: SqliteFactOptions

    @classmethod
    def replicable(cls, options: BaseModel) -> bool:
        """A framework worker may open its own copy: an in-memory store (built from the same triples: its
        memory once more per worker) or a file opened read-only; not a file it would rebuild at start."""
        opts = options if isinstance(options, SqliteFactOptions) else SqliteFactOptions.model_validate(options)
        return opts.database == ":memory:" or _read_only(opts)

    def start(self) -> None:
        opts = self.options
        if _read_only(opts):
            if not Path(opts.database).is_file():
                raise FileNotFoundError(f"tools.sqlite.database: {opts.database!r} does not exist and no path/triples to build it from")
            self.con = sqlite3.connect(f"file:{quote(opts.database)}?mode=ro", uri=True, check_same_thread=False)
            return
        self.con = sqlite3.connect(opts.database, check_same_thread=False)
        with self.con:
            self.build()

    def insert(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        types = ", ".join(f"{c} {'INTEGER' if c == 'truth' else 'TEXT'} NOT NULL" for c in columns)
        self.con.execute(f"DROP TABLE IF EXISTS {table}")
        self.con.execute(f"CREATE TABLE {table}({types})")
        self.con.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", rows)
        self.con.execute(f"CREATE INDEX {table}_sro ON {table}(s, r, o)")
        if table == "facts":
            self.con.execute("CREATE INDEX facts_ors ON facts(o, r, s)")

    def execute(self, sql: str, params: list[Any], lookups: list[tuple[int, tuple[str, str, str]]]) -> Iterable[Sequence[Any]]:
        return self.con.execute(sql, params).fetchall()

    def close(self) -> None:
        con = getattr(self, "con", None)
        if con is not None:
            con.close()
