"""Oxigraph fact store: RDF loading, read-only SPARQL built from escaped IRIs only, persistence."""

from __future__ import annotations

from pathlib import Path

import pytest
from chil_plugin_oxigraph.store import OxigraphFactStore, iri

from chil_core import ToolCall
from chil_core.testing.fact_store import FactStoreConformance

TRIPLES = [["palau", "locatedin", "micronesia"], ["micronesia", "locatedin", "oceania"], ["fiji", "neighbor", "tonga"],
           ["fiji", "neighbor", "palau", "false"]]
PROPS = {"transitive": ["locatedin"], "functional": ["locatedin"], "symmetric": ["neighbor"]}
SPARQL_INJECTIONS = ["x> } ; DELETE WHERE { ?s ?p ?o } #", "x> . ?s ?p ?o } UNION { ?s ?p ?o", '"} INSERT DATA { <a> <b> <c> }',
                     "> ; DROP ALL ;", "\\u003e"]


def lookup(s: str, r: str, o: str) -> ToolCall:
    return ToolCall(capability="fact_store", op="lookup", payload={"subject": s, "relation": r, "object": o})


def store(**options) -> OxigraphFactStore:
    tool = OxigraphFactStore(OxigraphFactStore.Options(**options))
    tool.start()
    return tool


def test_verdicts_from_n_triples(tmp_path: Path) -> None:
    nt = tmp_path / "facts.nt"
    nt.write_text("<http://ex.org/Palau> <http://ex.org/locatedin> <http://ex.org/Micronesia> .\n"
                  "<http://ex.org/Micronesia> <http://ex.org/locatedin> <http://ex.org/Oceania> .\n"
                  "<http://ex.org/Fiji> <http://ex.org/not_neighbor> <http://ex.org/Palau> .\n")
    tool = store(path=str(nt), **PROPS)
    out = tool.run_batch([lookup("palau", "locatedin", "oceania"), lookup("Palau", "locatedin", "Asia"),
                          lookup("palau", "neighbor", "fiji"), lookup("a", "b", "c")])
    assert [o["verdict"] for o in out] == ["supported", "refuted", "refuted", "unknown"]


def test_iris_hold_only_safe_characters() -> None:
    for text in SPARQL_INJECTIONS:
        body = iri("urn:chil:e:", text)[1:-1]
        assert set(body) <= set("urn:chil:eabcdfghijklmopqstvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789%._~-")


def test_hostile_terms_leave_the_store_intact() -> None:
    tool = store(triples=TRIPLES, **PROPS)
    seen: list[str] = []
    real = tool.sparql
    tool.sparql = lambda lookups: seen.append(real(lookups)) or seen[-1]  # type: ignore[method-assign]
    out = tool.run_batch([lookup(h, "locatedin", h) for h in SPARQL_INJECTIONS] + [lookup("palau", "locatedin", "oceania")])
    assert len(seen) == 1 and seen[0].lstrip().startswith("SELECT")
    assert all(h not in seen[0] for h in SPARQL_INJECTIONS)
    assert [o["verdict"] for o in out] == ["unknown"] * len(SPARQL_INJECTIONS) + ["supported"]
    assert len(tool.store) == len(TRIPLES) + 3  # + the 3 locatedin pairs of the closure (palau-micronesia-oceania)


def test_persistent_store_reopens_read_only(tmp_path: Path) -> None:
    path = str(tmp_path / "store")
    builder = store(store=path, triples=TRIPLES, **PROPS)
    del builder
    import gc

    gc.collect()
    reader = store(store=path, **PROPS)
    assert reader.run_batch([lookup("palau", "locatedin", "oceania")])[0]["verdict"] == "supported"
    import pyoxigraph

    with pytest.raises(RuntimeError, match="read-write"):
        reader.store.add(pyoxigraph.Quad(pyoxigraph.NamedNode("urn:a"), pyoxigraph.NamedNode("urn:b"), pyoxigraph.NamedNode("urn:c")))


class TestOxigraphConformance(FactStoreConformance):
    tool_class = OxigraphFactStore
    options = {"triples": TRIPLES, **PROPS}

    def sample_calls(self) -> list[ToolCall]:
        return [lookup("palau", "locatedin", "oceania"), lookup("palau", "locatedin", "europe"), lookup("tonga", "neighbor", "fiji"), lookup("a", "b", "c")]

    def hostile_calls(self) -> list[ToolCall]:
        return [lookup(h, "locatedin", h) for h in SPARQL_INJECTIONS] + [ToolCall(capability="fact_store", op="lookup", payload={"subject": 1})]
