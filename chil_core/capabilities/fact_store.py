"""The ``fact_store`` capability: its contract, and what its backends (DuckDB, Oxigraph, SQLite) share.

One op, ``lookup``::

    payload = {"subject": "palau", "relation": "locatedin", "object": "oceania"}
    value   = {"verdict": "supported" | "refuted" | "unknown",
               "reason": "...", "facts": [[s, r, o, truth], ...]}      # the rows behind the verdict

Terms are compared after :func:`normalize_term` (case-folded, spaces and punctuation to ``_``), on both
sides, so ``"San Marino"`` finds ``san_marino``.  Verdicts (:func:`decide`):

* ``supported``: the fact is stored; or the relation is *symmetric* and the reverse is stored; or the
  relation is *transitive* and a chain of at most ``max_hops`` stored facts links subject to object (the
  closure is computed once at load time by :func:`transitive_closure`, the same for every backend);
* ``refuted``: an explicit negative fact is stored; or the relation is *functional* and the subject has
  another object for it (a functional relation is read as complete: once the store knows where
  ``zambia`` is located, any place it cannot derive is refuted);
* ``unknown``: neither (or the store holds both the fact and its negation).

Triples load from TSV (``s<TAB>r<TAB>o[<TAB>truth]``), N-Triples (IRIs reduced to their local names,
literals to their text) and Parquet (columns ``subject, relation, object[, truth]`` or the first three),
plus inline ``triples`` in the options.  A relation named ``not_<r>`` (option ``negation_prefix``) or a
false ``truth`` marks a negative fact.  Each backend answers a whole batch of lookups with ONE query:
the SQL backends share :func:`sql_lookup` (every value a bound parameter); Oxigraph builds SPARQL from
percent-encoded IRIs only.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, field_validator

from chil_core import Tool, ToolCall, ToolResult

MAX_TERM_CHARS = 200
MAX_CLOSURE_ROWS = 5_000_000
_NON_WORD_RE = re.compile(r"[\W_]+")
_FALSE = frozenset({"false", "0", "no", "neg", "-", "f", "n"})
_NT_TERM = r'<[^<>"\s]*>|_:[A-Za-z0-9_.-]+|"(?:[^"\\]|\\.)*"(?:@[A-Za-z0-9-]+|\^\^<[^<>\s]*>)?'
_NT_LINE_RE = re.compile(rf"\s*({_NT_TERM})\s+({_NT_TERM})\s+({_NT_TERM})\s*\.\s*(?:#.*)?$")
_NT_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "'": "'"}

Triple = tuple[str, str, str, bool]


def normalize_term(text: str) -> str:
    """The key a term is stored and looked up under: ``"San Marino"`` → ``"san_marino"``."""
    return _NON_WORD_RE.sub("_", unicodedata.normalize("NFKC", text).casefold()).strip("_")


class FactStoreOptions(BaseModel):
    """Options every fact-store backend accepts (``[tools.duckdb]``, ``[tools.oxigraph]``, ``[tools.sqlite]``)."""

    model_config = ConfigDict(extra="forbid")

    path: list[str] = Field(default_factory=list, description="Triple files to load: .tsv/.txt, .nt, .parquet.")
    triples: list[list[str]] = Field(default_factory=list, description="Inline triples [s, r, o] or [s, r, o, truth].")
    format: Literal["auto", "tsv", "nt", "parquet"] = Field(default="auto", description="File format; auto = by extension.")
    functional: list[str] = Field(default_factory=list, description="Relations with one object per subject.")
    symmetric: list[str] = Field(default_factory=list, description="Relations where r(a, b) means r(b, a).")
    transitive: list[str] = Field(default_factory=list, description="Relations closed under chains (locatedin).")
    max_hops: int = Field(default=6, ge=1, le=32, description="Longest chain followed for a transitive relation.")
    negation_prefix: str = Field(default="not_", description="Relation prefix that marks a negative fact ('' = none).")

    @field_validator("path", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v

    @field_validator("path")
    @classmethod
    def _files_exist(cls, v: list[str]) -> list[str]:
        for p in v:
            if not Path(p).is_file():
                raise ValueError(f"triple file {p!r} does not exist")
        return v

    @field_validator("triples")
    @classmethod
    def _triple_shape(cls, v: list[list[str]]) -> list[list[str]]:
        for i, t in enumerate(v):
            if len(t) not in (3, 4):
                raise ValueError(f"triples[{i}] must be [subject, relation, object] or [s, r, o, truth]")
        return v

    def relation_props(self) -> dict[str, tuple[bool, bool, bool]]:
        """``relation -> (functional, symmetric, transitive)`` for every relation declared special."""
        f, s, t = ({normalize_term(r) for r in rs} for rs in (self.functional, self.symmetric, self.transitive))
        return {r: (r in f, r in s, r in t) for r in sorted(f | s | t)}


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------
def _truth(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().casefold() not in _FALSE


def _make(s: str, r: str, o: str, truth: bool, neg_prefix: str) -> Triple | None:
    s, r, o = normalize_term(s), normalize_term(r), normalize_term(o)
    if neg_prefix and r.startswith(neg_prefix) and len(r) > len(neg_prefix):
        r, truth = r[len(neg_prefix) :], not truth
    if not (s and r and o) or max(len(s), len(r), len(o)) > MAX_TERM_CHARS:
        return None
    return s, r, o, truth


def _nt_value(term: str) -> str:
    if term.startswith("<"):
        iri = term[1:-1]
        return unquote(re.split(r"[/#:]", iri.rstrip("/#"))[-1])
    if term.startswith("_:"):
        return term[2:]
    body = term[1 : term.rindex('"')]
    return re.sub(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", _nt_unescape, body)


def _nt_unescape(m: re.Match[str]) -> str:
    e = m.group(1)
    return chr(int(e[1:], 16)) if e[0] in "uU" and len(e) > 1 else _NT_ESCAPES.get(e, e)


def _read_file(path: str, fmt: str) -> Iterator[tuple[Any, ...]]:
    if fmt == "auto":
        suffix = Path(path).suffix.lower()
        fmt = {".nt": "nt", ".parquet": "parquet", ".pq": "parquet"}.get(suffix, "tsv")
    if fmt == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        names = table.column_names
        cols = ["subject", "relation", "object"] if {"subject", "relation", "object"} <= set(names) else names[:3]
        if len(cols) < 3:
            raise ValueError(f"{path}: a Parquet triple file needs 3 columns, found {names}")
        data = [table.column(c).to_pylist() for c in cols]
        truth = table.column("truth").to_pylist() if "truth" in names else [True] * table.num_rows
        yield from zip(*data, truth, strict=True)
        return
    with open(path, encoding="utf-8", newline="") as fh:
        if fmt == "nt":
            for n, line in enumerate(fh, 1):
                if not line.strip() or line.lstrip().startswith("#"):
                    continue
                m = _NT_LINE_RE.match(line)
                if m is None:
                    raise ValueError(f"{path}:{n}: not an N-Triples line")
                yield _nt_value(m.group(1)), _nt_value(m.group(2)), _nt_value(m.group(3)), True
        else:
            for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
                if len(row) >= 3:
                    yield (*row[:3], row[3] if len(row) > 3 else True)


def load_triples(options: FactStoreOptions) -> list[Triple]:
    """Every triple of the configured files and inline list, normalized and deduplicated."""
    out: dict[Triple, None] = {}
    sources: list[Iterable[tuple[Any, ...]]] = [_read_file(p, options.format) for p in options.path]
    sources.append(t if len(t) == 4 else (*t, True) for t in options.triples)
    for source in sources:
        for s, r, o, truth in source:
            t = _make(str(s), str(r), str(o), _truth(truth), options.negation_prefix)
            if t is not None:
                out[t] = None
    return list(out)


def transitive_closure(triples: Iterable[Triple], options: FactStoreOptions) -> list[tuple[str, str, str]]:
    """Every ``(s, r, o)`` linked by a chain of 1..``max_hops`` positive facts of a transitive relation.

    Computed once at load time, here, for every backend alike, so a lookup is a plain join.  Raises
    ``ValueError`` past :data:`MAX_CLOSURE_ROWS` (declare only hierarchies, such as locatedin, transitive)."""
    transitive = {normalize_term(r) for r in options.transitive}
    edges: dict[tuple[str, str], list[str]] = {}
    for s, r, o, truth in triples:
        if truth and r in transitive:
            edges.setdefault((r, s), []).append(o)
    out: list[tuple[str, str, str]] = []
    for (r, s), first in edges.items():
        seen = {s}
        frontier = first
        for _ in range(options.max_hops):
            nxt = []
            for node in frontier:
                if node not in seen:
                    seen.add(node)
                    out.append((s, r, node))
                    nxt += edges.get((r, node), ())
            frontier = nxt
        if len(out) > MAX_CLOSURE_ROWS:
            raise ValueError(f"transitive: the closure of {sorted(transitive)} exceeds {MAX_CLOSURE_ROWS} rows")
    return out


# ---------------------------------------------------------------------------------------------
# Lookups and verdicts
# ---------------------------------------------------------------------------------------------
def parse_lookup(payload: dict[str, Any]) -> tuple[str, str, str]:
    """Validate a ``lookup`` payload; ``ValueError`` names the bad field."""
    out = []
    for field in ("subject", "relation", "object"):
        value = payload.get(field)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"payload.{field}: must be a non-empty string")
        key = normalize_term(value)
        if not key or len(key) > MAX_TERM_CHARS:
            raise ValueError(f"payload.{field}: must have 1..{MAX_TERM_CHARS} word characters")
        out.append(key)
    return out[0], out[1], out[2]


def decide(lookup: tuple[str, str, str], found: dict[str, list[str]]) -> dict[str, Any]:
    """Verdict for one lookup from the rows a backend found for it.

    ``found`` maps a row kind to objects: ``pos`` / ``neg`` (the fact or its negation stored, directly
    or reversed for a symmetric relation), ``path`` (a chain reaches the object), ``other`` (other
    objects of a functional relation)."""
    s, r, o = lookup
    pos, neg, path, other = (found.get(k, []) for k in ("pos", "neg", "path", "other"))
    if (pos or path) and neg:
        return {"verdict": "unknown", "reason": "the store holds both the fact and its negation",
                "facts": [[s, r, o, True], [s, r, o, False]]}
    if pos:
        return {"verdict": "supported", "reason": "stored fact", "facts": [[s, r, o, True]]}
    if path:
        return {"verdict": "supported", "reason": f"{r} is transitive and a chain links {s} to {o}", "facts": [[s, r, o, True]]}
    if neg:
        return {"verdict": "refuted", "reason": "stored negative fact", "facts": [[s, r, o, False]]}
    if other:
        others = sorted(set(other))[:3]
        return {"verdict": "refuted", "reason": f"{r} is functional and {s} {r} {', '.join(others)}",
                "facts": [[s, r, x, True] for x in others]}
    return {"verdict": "unknown", "reason": "no stored fact decides it", "facts": []}


def decide_all(lookups: Sequence[tuple[str, str, str] | None], rows: Iterable[Sequence[Any]]) -> list[dict[str, Any] | None]:
    """Group backend rows ``(index, kind, object)`` by lookup and decide each (None stays None)."""
    found: list[dict[str, list[str]]] = [{} for _ in lookups]
    for i, kind, x in rows:
        found[int(i)].setdefault(str(kind), []).append(str(x))
    return [None if lk is None else decide(lk, f) for lk, f in zip(lookups, found, strict=True)]


def sql_lookup(lookups: Sequence[tuple[int, tuple[str, str, str]]], options: FactStoreOptions, inline: bool = True) -> tuple[str, list[Any]]:
    """One parameterized SQL query (DuckDB and SQLite dialects alike) answering every lookup.

    Expects tables ``facts(s, r, o, truth)`` and ``paths(s, r, o)`` (:func:`transitive_closure`), and the
    lookups as ``q(i, s, r, o)``: a VALUES list when ``inline``, else a table the backend provides.
    Returns rows ``(index, kind, object)`` for :func:`decide_all`.  Every value is a bound parameter: no
    text from a completion enters the SQL."""
    props = [(r, int(f), int(s)) for r, (f, s, _) in options.relation_props().items()] or [("", 0, 0)]
    params: list[Any] = []
    ctes = []
    if inline:
        ctes.append("q(i, s, r, o) AS (VALUES " + ", ".join(["(CAST(? AS INTEGER), CAST(? AS VARCHAR), CAST(? AS VARCHAR), CAST(? AS VARCHAR))"] * len(lookups)) + ")")
        params += [v for i, (s, r, o) in lookups for v in (i, s, r, o)]
    ctes.append("props(r, is_functional, is_symmetric) AS (VALUES " + ", ".join(["(CAST(? AS VARCHAR), CAST(? AS INTEGER), CAST(? AS INTEGER))"] * len(props)) + ")")
    params += [v for p in props for v in p]
    sql = f"""
WITH {", ".join(ctes)}
SELECT q.i, CASE WHEN f.truth = 1 THEN 'pos' ELSE 'neg' END, f.o
  FROM q JOIN facts f ON f.s = q.s AND f.r = q.r AND f.o = q.o
UNION ALL
SELECT q.i, CASE WHEN f.truth = 1 THEN 'pos' ELSE 'neg' END, f.s
  FROM q JOIN props p ON p.r = q.r AND p.is_symmetric = 1
  JOIN facts f ON f.s = q.o AND f.r = q.r AND f.o = q.s
UNION ALL
SELECT q.i, 'other', f.o
  FROM q JOIN props p ON p.r = q.r AND p.is_functional = 1
  JOIN facts f ON f.s = q.s AND f.r = q.r AND f.truth = 1 AND f.o <> q.o
UNION ALL
SELECT q.i, 'path', p.o FROM q JOIN paths p ON p.s = q.s AND p.r = q.r AND p.o = q.o
"""
    return sql, params


class FactStoreTool(Tool):
    """Base of the fact-store backends: validates lookups, runs one :meth:`query` per batch, decides."""

    capability: ClassVar[str] = "fact_store"
    ops: ClassVar[frozenset[str]] = frozenset({"lookup"})
    version: ClassVar[str] = "0.1.0"
    Options: ClassVar[type[BaseModel]] = FactStoreOptions
    options: FactStoreOptions
    #: a batch is one query: a process-isolated pool hands the worker whole batches (before, one call a
    #: message: 1,000 records of three fact sentences took 7.8-10.6 s through the Scorer on SQLite in a
    #: process, 0.2-0.3 s in a thread; now 0.31-0.36 s), and re-runs each call of a batch alone if the
    #: batch overruns
    worker_batch: ClassVar[bool] = True

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        lookups: list[tuple[str, str, str] | None] = []
        results: list[ToolResult | None] = []
        for call in calls:
            try:
                if call.op != "lookup":
                    raise ValueError(f"fact_store has no op {call.op!r}; ops: lookup")
                lookups.append(parse_lookup(call.payload))
                results.append(None)
            except ValueError as exc:
                lookups.append(None)
                results.append(ToolResult.failure(str(exc)))
        todo = [(i, lk) for i, lk in enumerate(lookups) if lk is not None]
        decided = decide_all(lookups, self.query(todo) if todo else [])
        return [d if r is None else r for r, d in zip(results, decided, strict=True)]

    def query(self, lookups: list[tuple[int, tuple[str, str, str]]]) -> Iterable[Sequence[Any]]:
        """Rows ``(index, kind, object)`` for every lookup, from ONE query (see :func:`decide`)."""
        raise NotImplementedError


class SqlFactStore(FactStoreTool):
    """Base of the SQL backends: tables ``facts(s, r, o, truth)`` and ``paths(s, r, o)``, and the shared
    :func:`sql_lookup`.  Subclasses open the connection, bulk-insert rows and run queries."""

    #: the lookups travel as a VALUES list (True) or as a table ``q`` the backend registers (False).
    inline_lookups: ClassVar[bool] = True

    def build(self) -> None:
        """(Re)create and fill the tables from the configured triples."""
        triples = load_triples(self.options)
        self.insert("facts", ["s", "r", "o", "truth"], [(s, r, o, int(t)) for s, r, o, t in triples])
        self.insert("paths", ["s", "r", "o"], transitive_closure(triples, self.options))

    def query(self, lookups: list[tuple[int, tuple[str, str, str]]]) -> Iterable[Sequence[Any]]:
        sql, params = sql_lookup(lookups, self.options, self.inline_lookups)
        return self.execute(sql, params, lookups)

    def insert(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        """Replace ``table`` (text columns, ``truth`` an integer) with ``rows``."""
        raise NotImplementedError

    def execute(self, sql: str, params: list[Any], lookups: list[tuple[int, tuple[str, str, str]]]) -> Iterable[Sequence[Any]]:
        raise NotImplementedError
