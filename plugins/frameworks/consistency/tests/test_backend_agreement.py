"""z3, prolog and clingo must give the same ``decide`` answers on the same input."""

from __future__ import annotations

import itertools

from chil_plugin_consistency.english import parse_theory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chil_core import ToolCall
from chil_core.capabilities.logic_program import Literal

CONSTANTS = ["ann", "bob", "cat"]
UNARY = ["big", "red", "nice"]
BINARY = ["likes", "sees"]
VARS = ["?x", "?y"]


def decide_all(backends: dict, theory: dict, queries: list[dict]) -> dict[str, dict]:
    call = ToolCall(capability="logic_program", op="decide", payload={"theory": theory, "queries": queries})
    return {name: tool.run_batch([call])[0] for name, tool in backends.items()}


def all_queries(preds: list[tuple[str, int]], constants: list[str]) -> list[dict]:
    return [Literal(p, args, neg).to_json()
            for p, n in preds for args in itertools.product(constants, repeat=n) for neg in (False, True)]


def assert_agree(out: dict[str, dict]) -> None:
    z3, prolog, clingo = out["z3"], out["prolog"], out["clingo"]
    assert isinstance(z3, dict) and isinstance(prolog, dict) and isinstance(clingo, dict), out
    assert z3["answers"] == prolog["answers"] == clingo["answers"]
    assert z3["consistent"] == prolog["consistent"] == clingo["consistent"]
    assert prolog["clashes"] == clingo["clashes"]
    # z3 names clashes through unsat cores: the same ones, up to the shared limit of 10
    assert z3["clashes"] == clingo["clashes"] or (len(z3["clashes"]) == 10 and all(c in clingo["clashes"] for c in z3["clashes"]))


@st.composite
def literal(draw, variables: list[str]) -> dict:
    terms = CONSTANTS + variables
    if draw(st.booleans()):
        return {"pred": draw(st.sampled_from(UNARY)), "args": [draw(st.sampled_from(terms))], "neg": draw(st.booleans())}
    return {"pred": draw(st.sampled_from(BINARY)), "args": draw(st.lists(st.sampled_from(terms), min_size=2, max_size=2)),
            "neg": draw(st.booleans())}


@st.composite
def theory(draw) -> dict:
    facts = draw(st.lists(literal([]), min_size=1, max_size=8))
    rules = []
    for _ in range(draw(st.integers(0, 6))):
        body = draw(st.lists(literal(VARS), min_size=1, max_size=3))
        bound = sorted({a for b in body for a in b["args"] if a.startswith("?")})
        head = draw(literal(bound))
        rules.append({"if": body, "then": head})
    return {"facts": facts, "rules": rules}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(theory())
def test_random_theories_agree(backends, th: dict) -> None:
    queries = all_queries([(p, 1) for p in UNARY] + [(p, 2) for p in BINARY], CONSTANTS)
    assert_agree(decide_all(backends, th, queries))


def test_real_theories_agree_on_every_ground_atom(backends, proofwriter: list[dict], prontoqa: list[dict]) -> None:
    for row in proofwriter[:4] + proofwriter[300:303] + prontoqa[:3]:
        th = parse_theory(row["context"]).theory()
        queries = all_queries(sorted(th.predicates()), sorted(th.constants()))
        out = decide_all(backends, th.to_json(), queries)
        assert_agree(out)
        assert "entailed" in out["clingo"]["answers"]


def test_inconsistent_theory_agrees(backends) -> None:
    th = parse_theory("Bob is big. Bob is nice. Ann is big. Ann is nice. If something is big then it is not nice.").theory()
    out = decide_all(backends, th.to_json(), all_queries(sorted(th.predicates()), ["ann", "bob"]))
    assert_agree(out)
    assert out["prolog"]["consistent"] is False and len(out["prolog"]["clashes"]) == 2
