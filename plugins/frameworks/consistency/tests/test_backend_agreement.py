"""z3, prolog and clingo give the same ``decide`` answers on the theories this framework builds from real
English (random theories are the ``logic_program`` conformance suite's job: chil_core.testing.logic_program)."""

from __future__ import annotations

import itertools

from chil_plugin_consistency.english import parse_theory

from chil_core import ToolCall
from chil_core.capabilities.logic_program import Literal


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
