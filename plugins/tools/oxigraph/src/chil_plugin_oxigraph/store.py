"""``OxigraphFactStore``: triples as RDF in Oxigraph, a whole batch answered by one read-only SPARQL query.

Terms become IRIs under fixed namespaces, with the normalized key percent-encoded (so an IRI holds only
``[A-Za-z0-9%._~-]``): ``urn:chil:e:san_marino``, relation ``urn:chil:r:locatedin``, negative facts under
``urn:chil:not:locatedin``, the transitive closure (computed at load time) under ``urn:chil:path:``.
The query text is assembled from those IRIs and integers only: nothing a
completion writes is ever spliced into SPARQL, and only ``Store.query`` (SELECT) is used, never ``update``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar
from urllib.parse import quote, unquote

from pydantic import BaseModel, Field

from chil_core.capabilities.fact_store import (
    FactStoreOptions,
    FactStoreTool,
    load_triples,
    transitive_closure,
)

ENTITY, RELATION, NEGATED, PATH = "urn:chil:e:", "urn:chil:r:", "urn:chil:not:", "urn:chil:path:"


def iri(namespace: str, key: str) -> str:
    """``<namespace + percent-encoded key>``: safe to place in a query."""
    return f"<{namespace}{quote(key, safe='')}>"


class OxigraphOptions(FactStoreOptions):
    """``[tools.oxigraph]``: the shared fact-store options plus an optional on-disk store."""

    store: str | None = Field(
        default=None,
        description="Oxigraph store directory. With path/triples it is filled at start; without, opened read-only.",
    )


class OxigraphFactStore(FactStoreTool):
    """``fact_store`` on Oxigraph (RDF, SPARQL 1.1, strictly read-only queries)."""

    name: ClassVar[str] = "oxigraph"
    description: ClassVar[str] = "Oxigraph RDF fact store: read-only SPARQL over TSV / N-Triples / Parquet triples."
    Options: ClassVar[type[BaseModel]] = OxigraphOptions
    priority: ClassVar[int] = 20
    options: OxigraphOptions

    requires_modules: ClassVar[dict[str, str]] = {"pyoxigraph": "pyoxigraph"}

    def start(self) -> None:
        import pyoxigraph as ox

        opts = self.options
        if opts.store and not (opts.path or opts.triples):
            self.store = ox.Store.read_only(opts.store)
            return
        self.store = ox.Store(opts.store) if opts.store else ox.Store()
        self.store.clear()
        graph = ox.DefaultGraph()

        def quad(s: str, ns: str, r: str, o: str) -> Any:
            return ox.Quad(ox.NamedNode(ENTITY + quote(s, safe="")), ox.NamedNode(ns + quote(r, safe="")), ox.NamedNode(ENTITY + quote(o, safe="")), graph)

        triples = load_triples(opts)
        self.store.bulk_extend(quad(s, RELATION if truth else NEGATED, r, o) for s, r, o, truth in triples)
        self.store.bulk_extend(quad(s, PATH, r, o) for s, r, o in transitive_closure(triples, opts))

    def query(self, lookups: list[tuple[int, tuple[str, str, str]]]) -> Iterable[Sequence[Any]]:
        rows = []
        for sol in self.store.query(self.sparql(lookups)):
            x = sol["x"].value
            rows.append((int(sol["i"].value), sol["k"].value, unquote(x[len(ENTITY) :]) if x.startswith(ENTITY) else x))
        return rows

    def sparql(self, lookups: list[tuple[int, tuple[str, str, str]]]) -> str:
        """The one SELECT query for ``lookups`` (IRIs from :func:`iri`, integers: nothing else)."""
        props = self.options.relation_props()

        def values(items: list[tuple[int, tuple[str, str, str]]], ns: str) -> str:
            return " ".join(f"({i} {iri(ENTITY, s)} {iri(ns, r)} {iri(ENTITY, o)})" for i, (s, r, o) in items)

        def where(flag: int) -> list[tuple[int, tuple[str, str, str]]]:
            return [lk for lk in lookups if props.get(lk[1][1], (False, False, False))[flag]]

        head = "VALUES (?i ?s ?p ?o) {"
        branches = [
            f'{{ {head} {values(lookups, RELATION)} }} ?s ?p ?o . BIND("pos" AS ?k) BIND(?o AS ?x) }}',
            f'{{ {head} {values(lookups, NEGATED)} }} ?s ?p ?o . BIND("neg" AS ?k) BIND(?o AS ?x) }}',
        ]
        functional, symmetric, transitive = where(0), where(1), where(2)
        if symmetric:
            branches.append(f'{{ {head} {values(symmetric, RELATION)} }} ?o ?p ?s . BIND("pos" AS ?k) BIND(?s AS ?x) }}')
            branches.append(f'{{ {head} {values(symmetric, NEGATED)} }} ?o ?p ?s . BIND("neg" AS ?k) BIND(?s AS ?x) }}')
        if functional:
            branches.append(f'{{ {head} {values(functional, RELATION)} }} ?s ?p ?x . FILTER(?x != ?o) BIND("other" AS ?k) }}')
        if transitive:
            branches.append(f'{{ {head} {values(transitive, PATH)} }} ?s ?p ?o . BIND("path" AS ?k) BIND(?o AS ?x) }}')
        return "SELECT ?i ?k ?x WHERE { " + " UNION ".join(branches) + " }"
