"""``SqliteMemory``: the ``text_index`` capability as an SQLite FTS5 index of the claims made earlier in
a run, grouped by episode.  The ops, payloads and answers are the contract of
:mod:`chil_core.capabilities.text_index` (which validates every payload); this module stores and ranks.

All SQL is parameterised; nothing from a payload is spliced into SQL or into FTS syntax.  Terms and the
episode id are indexed as hashed tokens, so any string matches exactly; ``text`` words are quoted.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult
from chil_core.capabilities.text_index import OPS, TextIndexPayloadError, parse_add, parse_clear, parse_search

MemoryPayloadError = TextIndexPayloadError  # the name this module used before the contract moved to the core

_SCHEMA = """
CREATE TABLE IF NOT EXISTS claims (
    id INTEGER PRIMARY KEY,
    episode TEXT NOT NULL,
    record TEXT NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    data TEXT NOT NULL,
    terms TEXT NOT NULL,
    tokens TEXT NOT NULL,
    UNIQUE (episode, record, kind, data)
);
CREATE INDEX IF NOT EXISTS claims_episode ON claims (episode, id);
CREATE VIRTUAL TABLE IF NOT EXISTS claims_fts USING fts5(tokens, text, content='claims', content_rowid='id');
CREATE TRIGGER IF NOT EXISTS claims_ai AFTER INSERT ON claims BEGIN
    INSERT INTO claims_fts (rowid, tokens, text) VALUES (new.id, new.tokens, new.text);
END;
CREATE TRIGGER IF NOT EXISTS claims_ad AFTER DELETE ON claims BEGIN
    INSERT INTO claims_fts (claims_fts, rowid, tokens, text) VALUES ('delete', old.id, old.tokens, old.text);
END;
"""


class SqliteMemoryOptions(BaseModel):
    """Options of the sqlite text_index backend (``[tools.sqlite]``)."""

    model_config = ConfigDict(extra="allow")  # the fact-store half of the plugin shares [tools.sqlite]

    memory_path: str | None = Field(default=None, description="SQLite file of the episode memory; none = in memory, per process.")
    max_claims_per_episode: int = Field(default=10_000, ge=1, description="Oldest claims of an episode are dropped beyond this.")
    max_claims_total: int = Field(default=1_000_000, ge=1, description="Oldest claims of the whole memory are dropped beyond this.")


class _Store:
    """One connection per database, shared by the tool instances of a process, behind a lock."""

    _open: ClassVar[dict[str, tuple[_Store, int]]] = {}
    _guard: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.executescript(_SCHEMA)

    @classmethod
    def acquire(cls, path: str) -> _Store:
        with cls._guard:
            store, refs = cls._open.get(path, (None, 0))
            if store is None:
                store = cls(path)
            cls._open[path] = (store, refs + 1)
            return store

    @classmethod
    def release(cls, path: str) -> None:
        with cls._guard:
            store, refs = cls._open.get(path, (None, 0))
            if store is None:
                return
            if refs <= 1:
                del cls._open[path]
                store.conn.close()
            else:
                cls._open[path] = (store, refs - 1)


def _token(prefix: str, value: str) -> str:
    return prefix + hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


class SqliteMemory(Tool):
    """SQLite FTS5 episode memory (``text_index``): stores claims, finds earlier ones sharing terms."""

    name: ClassVar[str] = "sqlite"
    capability: ClassVar[str] = "text_index"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "SQLite FTS5 index of earlier claims per episode (stdlib sqlite3)."
    ops: ClassVar[frozenset[str]] = OPS
    Options: ClassVar[type[BaseModel]] = SqliteMemoryOptions
    cacheable: ClassVar[bool] = False
    priority: ClassVar[int] = 10

    options: SqliteMemoryOptions

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            conn = sqlite3.connect(":memory:")
            conn.execute("CREATE VIRTUAL TABLE t USING fts5(x)")
            conn.close()
        except sqlite3.Error as exc:
            return f"this Python's sqlite3 has no FTS5 ({exc})"
        return None

    def start(self) -> None:
        # A ":memory:" database lives in one connection: the tool instances of a process share it.
        self._path = self.options.memory_path or ":memory:"
        self.store = _Store.acquire(self._path)

    def close(self) -> None:
        _Store.release(self._path)

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        out: list[ToolResult | Any] = []
        with self.store.lock:
            for call in calls:
                try:
                    handler = {"add": self._add, "search": self._search, "clear": self._clear}[call.op]
                    out.append(handler(call.payload))
                except (MemoryPayloadError, KeyError) as exc:
                    out.append(ToolResult.failure(str(exc) if isinstance(exc, MemoryPayloadError) else f"sqlite memory has no op {call.op!r}"))
                except sqlite3.Error as exc:
                    out.append(ToolResult.failure(f"sqlite: {exc}"))
        return out

    def _add(self, payload: dict[str, Any]) -> dict[str, Any]:
        req = parse_add(payload)
        episode, ep = req.episode, _token("e", req.episode)
        rows = [(episode, req.record, c.kind, c.text, c.data_json, json.dumps(list(c.terms)),
                 " ".join([ep, *(_token("t", t) for t in c.terms)])) for c in req.claims]
        conn = self.store.conn
        conn.execute("BEGIN")
        try:
            added = conn.executemany(
                "INSERT OR IGNORE INTO claims (episode, record, kind, text, data, terms, tokens) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows).rowcount
            conn.execute(
                "DELETE FROM claims WHERE episode = ? AND id NOT IN "
                "(SELECT id FROM claims WHERE episode = ? ORDER BY id DESC LIMIT ?)",
                (episode, episode, self.options.max_claims_per_episode))
            conn.execute("DELETE FROM claims WHERE id <= (SELECT MAX(id) FROM claims) - ?", (self.options.max_claims_total,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return {"added": added}

    def _search(self, payload: dict[str, Any]) -> dict[str, Any]:
        req = parse_search(payload)
        episode, kind, exclude, limit = req.episode, req.kind, req.exclude_record, req.limit
        anyof = [_token("t", t) for t in req.terms]
        words = ['"' + w.replace('"', '""') + '"' for w in req.words]
        alternatives = [f"tokens : ({' OR '.join(anyof)})"] if anyof else []
        if words:
            alternatives.append(f"text : ({' OR '.join(words)})")
        if not alternatives:
            return {"hits": []}
        query = f"tokens : {_token('e', episode)} AND ({' OR '.join(alternatives)})"
        sql = ("SELECT c.record, c.kind, c.text, c.data, c.terms, bm25(claims_fts) AS rank "
               "FROM claims_fts JOIN claims c ON c.id = claims_fts.rowid "
               "WHERE claims_fts MATCH ? AND c.episode = ? AND (? IS NULL OR c.kind = ?) AND (? IS NULL OR c.record != ?) "
               "ORDER BY rank LIMIT ?")
        rows = self.store.conn.execute(sql, (query, episode, kind, kind, exclude, exclude, limit)).fetchall()
        return {"hits": [{"record": r, "kind": k, "text": t, "data": json.loads(d), "terms": json.loads(ts), "rank": rank}
                         for r, k, t, d, ts, rank in rows]}

    def _clear(self, payload: dict[str, Any]) -> dict[str, Any]:
        episode = parse_clear(payload)
        cur = self.store.conn.execute("DELETE FROM claims WHERE episode = ?", (episode,))
        return {"removed": cur.rowcount}
