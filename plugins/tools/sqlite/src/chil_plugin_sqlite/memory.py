"""``SqliteMemory``: the ``text_index`` capability, an SQLite FTS5 index of the claims made earlier in
a run, grouped by episode, so a framework can find the earlier claims a new one may contradict.

Ops (all SQL is parameterised; nothing from a payload is spliced into SQL or into FTS syntax):

- ``add``    ``{"episode": str, "record": str, "claims": [{"kind": str, "text": str, "data": any,
  "terms": [str]}]}`` → ``{"added": n}`` (a claim already stored for that record is not stored twice)
- ``search`` ``{"episode": str, "terms": [str], "text": str?, "kind": str?, "exclude_record": str?,
  "limit": int?}`` → ``{"hits": [{"record", "kind", "text", "data", "terms", "rank"}]}``: claims of the
  episode sharing a term (exact symbol match) or, with ``text``, a word; best bm25 rank first
- ``clear``  ``{"episode": str}`` → ``{"removed": n}``

Terms (symbols such as predicate and constant names) and the episode id are indexed as hashed tokens,
so any string matches exactly and no FTS query syntax can be injected; ``text`` words are quoted.
Answers depend on what was added before, so the backend is not cacheable.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import threading
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

MAX_TEXT = 4_000
MAX_TERMS = 64
MAX_CLAIMS = 1_000
_WORDS = re.compile(r"\w+")

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


class MemoryPayloadError(ValueError):
    """A malformed payload; the message names the field."""


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


def _string(payload: dict[str, Any], key: str, limit: int = 500, *, required: bool = True) -> str | None:
    value = payload.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise MemoryPayloadError(f"payload.{key} must be a non-empty string of at most {limit} characters")
    return value


def _terms(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or len(value) > MAX_TERMS or not all(isinstance(t, str) and t for t in value):
        raise MemoryPayloadError(f"{where} must be a list of at most {MAX_TERMS} non-empty strings")
    return value


class SqliteMemory(Tool):
    """SQLite FTS5 episode memory (``text_index``): stores claims, finds earlier ones sharing terms."""

    name: ClassVar[str] = "sqlite"
    capability: ClassVar[str] = "text_index"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "SQLite FTS5 index of earlier claims per episode (stdlib sqlite3)."
    ops: ClassVar[frozenset[str]] = frozenset({"add", "search", "clear"})
    Options: ClassVar[type[BaseModel]] = SqliteMemoryOptions
    isolation = "thread"
    cacheable: ClassVar[bool] = False
    max_batch: ClassVar[int] = 256
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
        episode = _string(payload, "episode")
        record = _string(payload, "record")
        claims = payload.get("claims")
        if not isinstance(claims, list) or len(claims) > MAX_CLAIMS:
            raise MemoryPayloadError(f"payload.claims must be a list of at most {MAX_CLAIMS} claims")
        rows = []
        ep = _token("e", episode)  # type: ignore[arg-type]
        for i, c in enumerate(claims):
            where = f"payload.claims[{i}]"
            if not isinstance(c, dict):
                raise MemoryPayloadError(f"{where} must be an object {{kind, text, data, terms}}")
            kind, text = c.get("kind"), c.get("text")
            if not isinstance(kind, str) or not kind or not isinstance(text, str) or len(text) > MAX_TEXT:
                raise MemoryPayloadError(f"{where}.kind and .text must be strings (text at most {MAX_TEXT} characters)")
            terms = _terms(c.get("terms", []), f"{where}.terms")
            try:
                data = json.dumps(c.get("data"), sort_keys=True, separators=(",", ":"))
            except (TypeError, ValueError):
                raise MemoryPayloadError(f"{where}.data must be JSON-serialisable") from None
            tokens = " ".join([ep, *(_token("t", t) for t in terms)])
            rows.append((episode, record, kind, text, data, json.dumps(terms), tokens))
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
        episode = _string(payload, "episode")
        terms = _terms(payload.get("terms", []), "payload.terms")
        text = _string(payload, "text", MAX_TEXT, required=False)
        kind = _string(payload, "kind", required=False)
        exclude = _string(payload, "exclude_record", required=False)
        limit = payload.get("limit", 20)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 500:
            raise MemoryPayloadError("payload.limit must be an integer from 1 to 500")
        anyof = [_token("t", t) for t in terms]
        words = ['"' + w.replace('"', '""') + '"' for w in dict.fromkeys(_WORDS.findall(text or ""))][:MAX_TERMS]
        alternatives = [f"tokens : ({' OR '.join(anyof)})"] if anyof else []
        if words:
            alternatives.append(f"text : ({' OR '.join(words)})")
        if not alternatives:
            return {"hits": []}
        query = f"tokens : {_token('e', episode)} AND ({' OR '.join(alternatives)})"  # type: ignore[arg-type]
        sql = ("SELECT c.record, c.kind, c.text, c.data, c.terms, bm25(claims_fts) AS rank "
               "FROM claims_fts JOIN claims c ON c.id = claims_fts.rowid "
               "WHERE claims_fts MATCH ? AND c.episode = ? AND (? IS NULL OR c.kind = ?) AND (? IS NULL OR c.record != ?) "
               "ORDER BY rank LIMIT ?")
        rows = self.store.conn.execute(sql, (query, episode, kind, kind, exclude, exclude, limit)).fetchall()
        return {"hits": [{"record": r, "kind": k, "text": t, "data": json.loads(d), "terms": json.loads(ts), "rank": rank}
                         for r, k, t, d, ts, rank in rows]}

    def _clear(self, payload: dict[str, Any]) -> dict[str, Any]:
        episode = _string(payload, "episode")
        cur = self.store.conn.execute("DELETE FROM claims WHERE episode = ?", (episode,))
        return {"removed": cur.rowcount}
