"""The ``fact_store`` contract: loaders, options, verdicts, and the reference backend of its conformance suite
(the backends themselves run the suite in their own tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chil_core.capabilities.fact_store import FactStoreOptions, decide, load_triples, normalize_term
from chil_core.testing.fact_store import (
    SEMANTICS,
    SEMANTICS_OPTIONS,
    FactStoreConformance,
    ReferenceFactStore,
)


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


def test_reference_store_follows_the_documented_cases() -> None:
    tool = ReferenceFactStore(ReferenceFactStore.Options(**SEMANTICS_OPTIONS))
    tool.start()
    out = tool.run_batch([call for call, _ in SEMANTICS])
    assert [v["verdict"] for v in out] == [want for _, want in SEMANTICS]
    assert out[1]["reason"] == "in is transitive and a chain links a to c"
    assert out[5]["facts"] == [["q", "capital", "r", True]]


class TestReferenceFactStore(FactStoreConformance):
    """The suite run on its own reference: proves the suite's expectations are consistent."""

    tool_class = ReferenceFactStore
