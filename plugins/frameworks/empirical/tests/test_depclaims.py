"""Fact claims from a dependency parse: the real spaCy pipeline (``nlp:spacy``, en_core_web_sm) through the
capability's ``parse`` value, forms the phrase patterns miss, negation, a configurable lexicon, a
degraded parse, hostile sizes."""

from __future__ import annotations

import pytest
from chil_plugin_empirical.claims import DEFAULT_RELATION_PATTERNS, sentence_claims
from chil_plugin_empirical.depclaims import DEFAULT_LEXICON, dependency_claims

from chil_core import ToolCall
from chil_core.plugins import get_registry


@pytest.fixture(scope="module")
def parse():  # type: ignore[no-untyped-def]
    reg = get_registry()
    if "spacy" not in reg.backends("nlp") or reg.unavailable_reason(reg.tool("nlp", "spacy")):
        pytest.skip("nlp:spacy (en_core_web_sm) is not installed")
    tool = reg.tool("nlp", "spacy")()
    tool.start()

    def run(text: str) -> dict:
        value = tool.run_batch([ToolCall("nlp", "parse", {"text": text})])[0]
        return value.value if hasattr(value, "value") else value

    yield run
    tool.close()


def triples(claims: list) -> set[tuple[str, str, str, bool]]:
    return {(c.subject, c.relation, c.object, c.negated) for c in claims}


@pytest.mark.parametrize("text, want", [
    ("Mexico can be found in Central America.", {("mexico", "locatedin", "central_america", False)}),
    ("Spain and Portugal are neighbours.", {("spain", "neighbor", "portugal", False)}),
    ("Nestled in Western Asia, Jordan is bordered by Iraq.",
     {("jordan", "locatedin", "western_asia", False), ("jordan", "neighbor", "iraq", False)}),
    ("Palau lies in Micronesia and borders Indonesia.",
     {("palau", "locatedin", "micronesia", False), ("palau", "neighbor", "indonesia", False)}),
])
def test_forms_the_phrase_patterns_miss_or_misread(parse, text: str, want: set) -> None:  # type: ignore[no-untyped-def]
    assert triples(dependency_claims(parse(text))) == want
    assert triples(sentence_claims(text, DEFAULT_RELATION_PATTERNS)) != want


def test_negation_and_coordinated_objects(parse) -> None:  # type: ignore[no-untyped-def]
    got = triples(dependency_claims(parse("Germany shares a border with France, Poland and Austria. "
                                          "South Africa is not part of Western Europe.")))
    assert got == {("germany", "neighbor", "france", False), ("germany", "neighbor", "poland", False),
                   ("germany", "neighbor", "austria", False), ("south_africa", "locatedin", "western_europe", True)}


def test_the_lexicon_is_configurable(parse) -> None:  # type: ignore[no-untyped-def]
    p = parse("Paris is the capital of France.")
    assert dependency_claims(p) == []
    lexicon = {**DEFAULT_LEXICON, "capitalof": ["be capital of"]}
    assert triples(dependency_claims(p, lexicon)) == {("paris", "capitalof", "france", False)}


def test_no_relation_no_claim_and_degraded_parse(parse) -> None:  # type: ignore[no-untyped-def]
    assert dependency_claims(parse("Many people from Chile visit Peru every year.")) == []
    p = parse("Austria does not border Spain.")
    assert triples(dependency_claims(p)) == {("austria", "neighbor", "spain", True)}
    degraded = {**p, "deps": [""] * len(p["tokens"]), "heads": list(range(len(p["tokens"])))}
    assert dependency_claims(degraded) == []
    assert dependency_claims({"tokens": ["a"], "lemmas": [], "deps": ["ROOT"], "heads": [0]}) == []  # inconsistent


def test_hostile_text_is_bounded(parse) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(f"Country{i} borders Country{i + 1} and Country{i + 2}." for i in range(600))
    claims = dependency_claims(parse(text))
    assert 0 < len(claims) <= 256


# -- in the framework (claims_from) ---------------------------------------------------------------
def _score(completion: str, claims_from: str, nlp: bool = True):  # type: ignore[no-untyped-def]
    from chil_plugin_empirical.framework import EmpiricalFramework, EmpiricalOptions

    from chil_core.testing import score_direct

    reg = get_registry()
    store = reg.tool("fact_store", "sqlite")
    tools = {"fact_store": store(store.Options(
        triples=[["mexico", "locatedin", "central_america"], ["spain", "neighbor", "portugal"], ["chile", "locatedin", "south_america"]],
        symmetric=["neighbor"], transitive=["locatedin"], functional=["locatedin"]))}
    if nlp:
        tools["nlp"] = reg.tool("nlp", "spacy")()
    fw = EmpiricalFramework(EmpiricalOptions(claims_from=claims_from, arithmetic=False, answer=False))
    (r,) = score_direct(fw, [{"id": "r", "prompt": "p", "completion": completion}], tools=tools)
    return r


def test_the_framework_reads_parsed_claims_when_asked(parse) -> None:  # type: ignore[no-untyped-def]
    text = "Mexico can be found in Central America. Spain and Portugal are neighbours. Chile is located in Europe."
    patterns = _score(text, "patterns")
    both = _score(text, "both")
    nlp_only = _score(text, "nlp")
    assert (patterns.components["facts_supported"], patterns.components["facts_refuted"]) == (0, 1)
    assert (both.components["facts_supported"], both.components["facts_refuted"]) == (2, 1)
    assert (nlp_only.components["facts_supported"], nlp_only.components["facts_refuted"]) == (2, 1)
    assert both.verdict == "refuted_fact" and both.score == 0.0  # a wrong fact is never paid


def test_without_an_nlp_backend_the_patterns_are_read(parse) -> None:  # type: ignore[no-untyped-def]
    r = _score("Chile is located in South America.", "nlp", nlp=False)
    assert r.components["facts_supported"] == 1
