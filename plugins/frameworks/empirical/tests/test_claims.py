"""Fact claims from controlled sentences and from metadata.triples."""

from __future__ import annotations

import pytest
from chil_plugin_empirical.claims import DEFAULT_RELATION_PATTERNS, metadata_claims, sentence_claims


def claims(text: str) -> list[tuple[str, str, str, bool]]:
    return [(c.subject, c.relation, c.object, c.negated) for c in sentence_claims(text, DEFAULT_RELATION_PATTERNS)]


def test_controlled_sentences() -> None:
    assert claims("Palau is located in Micronesia. France borders Spain, Italy and Germany.") == [
        ("palau", "locatedin", "micronesia", False),
        ("france", "neighbor", "spain", False),
        ("france", "neighbor", "italy", False),
        ("france", "neighbor", "germany", False),
    ]


def test_negations_and_clause_boundaries() -> None:
    assert claims("Yes, San Marino is not located in Africa!") == [("san_marino", "locatedin", "africa", True)]
    assert claims("Canada doesn't border Mexico") == [("canada", "neighbor", "mexico", True)]
    assert claims("Zambia is in Eastern Africa, which is in Africa.") == [("zambia", "locatedin", "eastern_africa", False)]
    assert claims("Bob is in the kitchen and he is happy") == [("bob", "locatedin", "kitchen", False)]


def test_custom_relation_patterns() -> None:
    got = sentence_claims("A dog is a kind of animal. A cat is not a kind of plant.", {"hypernym": ["is a kind of"]})
    assert [(c.subject, c.object, c.negated) for c in got] == [("dog", "animal", False), ("cat", "plant", True)]


def test_metadata_triples_forms() -> None:
    got = metadata_claims([["Palau", "locatedin", "Oceania"], ["a", "neighbor", "b", "false"],
                           {"subject": "x", "relation": "r", "object": "y", "negated": True}])
    assert [(c.subject, c.relation, c.object, c.negated) for c in got] == [
        ("palau", "locatedin", "oceania", False), ("a", "neighbor", "b", True), ("x", "r", "y", True)]


@pytest.mark.parametrize(
    ("triples", "field"),
    [("palau", "metadata.triples"), ([["a", "b"]], "metadata.triples[0]"), ([["a", "r", ""]], "metadata.triples[0]"),
     ([["a", "r", "o"], ["a", "r", "x" * 500]], "metadata.triples[1]")],
)
def test_bad_metadata_names_the_field(triples, field: str) -> None:
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        metadata_claims(triples)
