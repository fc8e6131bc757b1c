"""The fact_store contract: loaders, verdicts, and the three backends agreeing on real data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from chil_plugin_duckdb.store import DuckDBFactStore
from chil_plugin_oxigraph.store import OxigraphFactStore
from chil_plugin_sqlite.facts import SqliteFactStore

from chil_core import ToolCall
from chil_core.capabilities.fact_store import FactStoreOptions, decide, load_triples, normalize_term

DATA = Path(__file__).resolve().parents[4].parent / "shared" / "data"
COUNTRIES = DATA / "countries_kg" / "countries_S1"
WN18RR = DATA / "wn18rr"
BACKENDS = (DuckDBFactStore, OxigraphFactStore, SqliteFactStore)
HOSTILE = ["Robert'); DROP TABLE facts;--", "x' OR '1'='1", "a> } ; DELETE WHERE { ?s ?p ?o } #", '"; CLEAR ALL; "', "<urn:x>"]


def lookup(s: str, r: str, o: str) -> ToolCall:
    return ToolCall(capability="fact_store", op="lookup", payload={"subject": s, "relation": r, "object": o})


def verdicts(tool, calls: list[ToolCall]) -> list[str]:
    return [v["verdict"] if isinstance(v, dict) else f"{v.status}: {v.error}" for v in tool.run_batch(calls)]


def started(cls, **options):
    tool = cls(cls.Options(**options))
    tool.start()
    return tool


def test_normalize_term() -> None:
    assert normalize_term("  San Marino ") == "san_marino"
    assert normalize_term("DR-Congo") == "dr_congo"
    assert normalize_term("_hypernym") == "hypernym"


def test_loaders_tsv_nt_parquet(tmp_path: Path) -> None:
    (tmp_path / "f.tsv").write_text("Palau\tlocatedin\tMicronesia\nfiji\tneighbor\tpalau\tfalse\nshort\trow\n")
    (tmp_path / "f.nt").write_text(
        "<http://ex.org/country/Spain> <http://ex.org/rel#neighbor> <http://ex.org/country/France> .\n"
        '# a comment\n<http://ex.org/Spain> <http://ex.org/motto> "Plus \\"ultra\\""@la .\n'
        "<http://ex.org/Spain> <http://ex.org/not_neighbor> <http://ex.org/Japan> .\n"
    )
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"subject": ["Peru"], "relation": ["locatedin"], "object": ["Americas"], "truth": [True]}), tmp_path / "f.parquet")
    opts = FactStoreOptions(path=[str(tmp_path / n) for n in ("f.tsv", "f.nt", "f.parquet")], triples=[["a", "r", "b"]])
    assert set(load_triples(opts)) == {
        ("palau", "locatedin", "micronesia", True), ("fiji", "neighbor", "palau", False),
        ("spain", "neighbor", "france", True), ("spain", "motto", "plus_ultra", True),
        ("spain", "neighbor", "japan", False), ("peru", "locatedin", "americas", True), ("a", "r", "b", True),
    }
    (tmp_path / "bad.nt").write_text("not n-triples\n")
    with pytest.raises(ValueError, match="bad.nt:1"):
        load_triples(FactStoreOptions(path=[str(tmp_path / "bad.nt")]))


def test_options_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        FactStoreOptions(path=str(tmp_path / "missing.tsv"))
    with pytest.raises(ValueError, match=r"triples\[0\]"):
        FactStoreOptions(triples=[["a", "b"]])
    with pytest.raises(ValueError):
        FactStoreOptions(nonsense=1)


def test_decide_rules() -> None:
    lk = ("zambia", "locatedin", "europe")
    assert decide(lk, {"pos": ["europe"]})["verdict"] == "supported"
    assert decide(lk, {"path": ["europe"]})["verdict"] == "supported"
    assert decide(lk, {"neg": ["europe"]})["verdict"] == "refuted"
    out = decide(lk, {"other": ["eastern_africa"]})
    assert out["verdict"] == "refuted" and "functional" in out["reason"] and out["facts"] == [["zambia", "locatedin", "eastern_africa", True]]
    assert decide(lk, {"pos": ["europe"], "neg": ["europe"]})["verdict"] == "unknown"
    assert decide(lk, {})["verdict"] == "unknown"


@pytest.mark.parametrize("cls", BACKENDS)
def test_semantics_on_inline_triples(cls) -> None:
    tool = started(cls, triples=[["a", "in", "b"], ["b", "in", "c"], ["c", "in", "d"], ["x", "next", "y"],
                                 ["x", "next", "z", "false"], ["q", "capital", "r"]],
                   transitive=["in"], symmetric=["next"], functional=["capital"], max_hops=2)
    calls = [lookup("a", "in", "b"), lookup("a", "in", "c"), lookup("a", "in", "d"), lookup("y", "next", "x"),
             lookup("z", "next", "x"), lookup("q", "capital", "s"), lookup("q", "capital", "r"), lookup("m", "in", "n"),
             lookup("a", "nope", "b")]
    assert verdicts(tool, calls) == ["supported", "supported", "unknown", "supported", "refuted", "refuted",
                                     "supported", "unknown", "unknown"]
    tool.close()


@pytest.mark.parametrize("cls", BACKENDS)
def test_hostile_terms_and_bad_payloads(cls) -> None:
    tool = started(cls, triples=[["a", "r", "b"]])
    calls = [lookup(h, "r", h) for h in HOSTILE]
    calls += [ToolCall(capability="fact_store", op="lookup", payload={"subject": "a", "relation": "r"}),
              ToolCall(capability="fact_store", op="drop", payload={}), lookup("a", "r", "b")]
    out = verdicts(tool, calls)
    assert out[: len(HOSTILE)] == ["unknown"] * len(HOSTILE)
    assert out[len(HOSTILE)].startswith("error: payload.object")
    assert out[len(HOSTILE) + 1].startswith("error: fact_store has no op 'drop'")
    assert out[-1] == "supported"  # the store survived
    tool.close()


def _countries_calls(rng: random.Random) -> list[ToolCall]:
    train = [line.split("\t") for line in (COUNTRIES / "train.txt").read_text().split("\n") if line]
    test = [line.split("\t") for line in (COUNTRIES / "test.txt").read_text().split("\n") if line]
    entities = sorted({t[0] for t in train} | {t[2] for t in train})
    calls = [lookup(*t) for t in test + rng.sample(train, 100)]
    calls += [lookup(s, r, rng.choice(entities)) for s, r, _ in rng.sample(train, 100)]
    calls += [lookup(o.replace("_", " ").title(), r, s) for s, r, o in rng.sample(train, 50)]  # reversed, display names
    return calls + [lookup(h, "neighbor", "france") for h in HOSTILE]


@pytest.mark.skipif(not COUNTRIES.is_dir(), reason="countries_kg data not found under ../shared/data")
def test_backends_agree_on_countries() -> None:
    opts = {"path": [str(COUNTRIES / "train.txt")], "symmetric": ["neighbor"], "transitive": ["locatedin"], "functional": ["locatedin"]}
    calls = _countries_calls(random.Random(0))
    results = [verdicts(started(cls, **opts), calls) for cls in BACKENDS]
    assert results[0] == results[1] == results[2]
    assert {"supported", "refuted", "unknown"} <= set(results[0])
    test_rows = len((COUNTRIES / "test.txt").read_text().split())  // 3
    assert all(v == "supported" for v in results[0][:test_rows])  # held-out regions follow by transitivity


@pytest.mark.skipif(not WN18RR.is_dir(), reason="wn18rr data not found under ../shared/data")
def test_backends_agree_on_wn18rr() -> None:
    opts = {"path": [str(WN18RR / "train.tsv")], "transitive": ["_hypernym"], "max_hops": 3,
            "symmetric": ["_derivationally_related_form", "_similar_to", "_verb_group", "_also_see"],
            "functional": ["_synset_domain_topic_of"]}
    rng = random.Random(1)
    train = [line.split("\t") for line in (WN18RR / "train.tsv").read_text().split("\n") if line]
    dev = [line.split("\t") for line in (WN18RR / "dev.tsv").read_text().split("\n") if line]
    entities = [t[0] for t in rng.sample(train, 2000)]
    calls = [lookup(*t) for t in rng.sample(dev, 200) + rng.sample(train, 200)]
    calls += [lookup(s, r, rng.choice(entities)) for s, r, _ in rng.sample(train, 200)]
    calls += [lookup(o, r, s) for s, r, o in rng.sample(train, 100)]
    results = [verdicts(started(cls, **opts), calls) for cls in BACKENDS]
    assert results[0] == results[1] == results[2]
    assert results[0][200:400] == ["supported"] * 200
    assert {"supported", "refuted", "unknown"} <= set(results[0])
