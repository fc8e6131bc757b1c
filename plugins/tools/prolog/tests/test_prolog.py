"""The SWI-Prolog backend: decisions, hostile names stay data, time limits, kill-and-replace."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from chil_plugin_prolog.tool import PrologLogic, PrologOptions

from chil_core import ToolCall, ToolResult
from chil_core.testing.logic_program import LogicProgramConformance

pytestmark = pytest.mark.skipif(PrologLogic.unavailable_reason() is not None, reason=str(PrologLogic.unavailable_reason()))


def L(pred: str, *args: str, neg: bool = False) -> dict:
    return {"pred": pred, "args": list(args), "neg": neg}


def R(body: list[dict], head: dict) -> dict:
    return {"if": body, "then": head}


def heavy_theory(n: int, rules: int = 1) -> dict:
    """``rules`` 4-variable joins over n constants: rules * n**4 derivations of n answers each (CPU-bound,
    little memory; n = 30 stays within the contract's bound of 10**6 instances per rule)."""
    return {"facts": [L("e", "bob")] + [L("e", f"c{i}") for i in range(n)],
            "rules": [R([L("e", "?a"), L("e", "?b"), L("e", "?c"), L("e", "?d")], L(f"q{k}" if k else "q", "?a"))
                      for k in range(rules)]}


@pytest.fixture(scope="module")
def prolog():
    tool = PrologLogic()
    tool.start()
    yield tool
    tool.close()


def decide(tool: PrologLogic, theory: dict, queries: list):
    return tool.run_batch([ToolCall(capability="logic_program", op="decide", payload={"theory": theory, "queries": queries})])[0]


def test_decides_with_recursion_and_strong_negation(prolog: PrologLogic) -> None:
    theory = {"facts": [L("kind", "bob"), L("rough", "bob"), L("a", "dave")],
              "rules": [R([L("kind", "?x"), L("rough", "?x")], L("red", "?x")),
                        R([L("a", "?x")], L("b", "?x")), R([L("b", "?x")], L("a", "?x")),  # a cycle: tabling
                        R([L("red", "?x")], L("cold", "?x", neg=True))]}
    out = decide(prolog, theory, [L("red", "bob"), L("cold", "bob"), L("b", "dave"), L("cold", "dave")])
    assert out == {"consistent": True, "clashes": [], "answers": ["entailed", "contradicted", "entailed", "undetermined"]}


def test_clashes_are_listed(prolog: PrologLogic) -> None:
    theory = {"facts": [L("big", "bob"), L("nice", "bob"), L("big", "ann"), L("nice", "ann")],
              "rules": [R([L("big", "?x")], L("nice", "?x", neg=True))]}
    out = decide(prolog, theory, [L("nice", "ann")])
    assert out["consistent"] is False
    assert out["clashes"] == [L("nice", "ann"), L("nice", "bob")]
    assert out["answers"] == ["both"]


def test_hostile_names_stay_data(prolog: PrologLogic, tmp_path: Path) -> None:
    canary = tmp_path / f"pwned-{uuid.uuid4().hex}"
    names = ["halt", "halt.", f"shell('touch {canary}')", f":- initialization(shell('touch {canary}')).",
             "it's", "'", 'a"b', "back\\slash", "new\nline", "Świątek", "X", "_", "[]", "a,b", "})", "x. ?- halt."]
    theory = {"facts": [L(n, n) for n in names],
              "rules": [R([L(n, "?x")], L("seen", "?x")) for n in names]}
    out = decide(prolog, theory, [L(n, n) for n in names] + [L("seen", n) for n in names] + [L(names[0], names[1])])
    assert out["answers"] == ["entailed"] * (2 * len(names)) + ["undetermined"]
    assert not canary.exists()
    # the engine is still alive and answers the next call
    assert decide(prolog, {"facts": [L("p", "a")]}, [L("p", "a")])["answers"] == ["entailed"]


def test_time_limit_is_a_timeout_status() -> None:
    tool = PrologLogic(PrologOptions(time_limit_ms=100))
    tool.start()
    out = decide(tool, heavy_theory(30, rules=20), [L("q", "bob")])
    assert isinstance(out, ToolResult) and out.status == "timeout"
    assert decide(tool, {"facts": [L("p", "a")]}, [L("p", "a")])["answers"] == ["entailed"]
    # in one batch: the theory after a timed-out one sees none of its clauses or tables
    calls = [ToolCall(capability="logic_program", op="decide", payload={"theory": t, "queries": q})
             for t, q in ((heavy_theory(30, rules=20), [L("q", "bob")]), ({"facts": [L("p", "a")]}, [L("e", "bob"), L("q", "bob"), L("p", "a")]))]
    timed_out, after = tool.run_batch(calls)
    assert isinstance(timed_out, ToolResult) and timed_out.status == "timeout"
    assert after["answers"] == ["undetermined", "undetermined", "entailed"]


def test_each_theory_of_a_batch_has_its_own_time_limit(caplog) -> None:
    """A batch's theories share one alarm (decide.pl: ``limit_struck``), yet each stops at its own start
    plus the limit: eight theories of ~50 ms under a 150 ms limit (400 ms together) are all decided, the
    one past the limit among them stops alone at about 150 ms, and the engine answers the next batch."""
    import time

    tool = PrologLogic(PrologOptions(time_limit_ms=150))
    tool.start()
    try:
        def ok(i: int) -> dict:  # a distinct theory each (a batch decides a repeated theory once)
            theory = heavy_theory(14)
            return {"theory": {**theory, "facts": [*theory["facts"], L("tag", f"t{i}")]}, "queries": [L("q", "bob"), L("tag", f"t{i}")]}

        slow = {"theory": heavy_theory(30, rules=20), "queries": [L("q", "bob"), L("tag", "t")]}
        calls = [ToolCall(capability="logic_program", op="decide", payload=p)
                 for p in [ok(i) for i in range(4)] + [slow] + [ok(i) for i in range(4, 8)]]
        t0 = time.perf_counter()
        got = tool.run_batch(calls)
        took = time.perf_counter() - t0
        assert [g.status if isinstance(g, ToolResult) else g["answers"] for g in got] == (
            [["entailed", "entailed"]] * 4 + ["timeout"] + [["entailed", "entailed"]] * 4)
        assert 0.4 < took < 2.0, took
        assert "deciding each alone" not in caplog.text, "decided in one goal, not one by one after it failed"
        again = tool.run_batch(calls[:2])
        assert [g["answers"] for g in again] == [["entailed", "entailed"]] * 2
    finally:
        tool.close()


def test_joins_and_deep_chains_reach_the_least_model(prolog: PrologLogic) -> None:
    # a non-linear transitive closure (two derived literals in one body) and a 2,000-rule chain
    nodes = [f"n{i}" for i in range(12)]
    closure = {"facts": [L("edge", a, b) for a, b in zip(nodes, nodes[1:], strict=False)],
               "rules": [R([L("edge", "?x", "?y")], L("path", "?x", "?y")),
                         R([L("path", "?x", "?y"), L("path", "?y", "?z")], L("path", "?x", "?z")),
                         R([L("path", "?x", "?x")], L("loop", "?x"))]}
    out = decide(prolog, closure, [L("path", "n0", "n11"), L("path", "n3", "n9"), L("path", "n11", "n0"), L("loop", "n0")])
    assert out["answers"] == ["entailed", "entailed", "undetermined", "undetermined"]
    chain = {"facts": [L("p0", "bob")],
             "rules": [R([L(f"p{i}", "?x")], L(f"p{i + 1}", "?x")) for i in range(2000)]
                      + [R([L("p1000", "?x")], L("p2000", "?x", neg=True))]}
    out = decide(prolog, chain, [L("p2000", "bob"), L("p1999", "bob")])
    assert out["answers"] == ["both", "entailed"]
    assert out["clashes"] == [L("p2000", "bob")]


def test_a_theory_deriving_too_many_atoms_is_an_error() -> None:
    tool = PrologLogic(PrologOptions(table_space_mb=16))  # 16 MiB / 512 bytes: 32,768 atoms
    tool.start()
    wide = {"facts": [L("e", f"c{i}") for i in range(30)],
            "rules": [R([L("e", "?a"), L("e", "?b"), L("e", "?c"), L("e", "?d")], L("q", "?a", "?b", "?c", "?d"))]}
    out = decide(tool, wide, [L("q", "c0", "c0", "c0", "c0")])  # 810,000 atoms: stopped long before its time limit
    assert isinstance(out, ToolResult) and out.status == "error" and "too many derived atoms" in out.error
    assert decide(tool, {"facts": [L("p", "a")]}, [L("p", "a"), L("e", "c0")])["answers"] == ["entailed", "undetermined"]
    tool.close()


def test_bad_payload_is_an_error_naming_the_field(prolog: PrologLogic) -> None:
    out = decide(prolog, {"facts": [L("p", "?x")]}, [])
    assert isinstance(out, ToolResult) and out.status == "error" and "payload.theory.facts[0]" in out.error


def test_a_hanging_worker_is_killed_and_replaced() -> None:
    from chil_core.scoring import Scorer

    config = {
        "frameworks": {"consistency": {"tools": {"logic_program": "prolog"}}},
        "tools": {"prolog": {"time_limit_ms": 120_000}},  # Prolog's own limit is not what stops it here
        "scheduler": {"backends": {"prolog": {"timeout_s": 1.0}}},
        "cache": {"enabled": False},
    }
    hang = {"id": "hang", "prompt": "", "completion": "Bob is q.", "metadata": {"theory": heavy_theory(30, rules=20)}}
    fine = {"id": "fine", "prompt": "Bob is big. If something is big then it is red.", "completion": "Bob is red."}
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        first = scorer.score([hang])[0].frameworks["consistency"]
        second = scorer.score([fine])[0].frameworks["consistency"]
        stats = scorer.stats()["logic_program:prolog"]
    assert first.status == "timeout"
    assert second.status == "scored" and second.verdict == "entailed"
    assert stats["timeouts"] >= 1
    assert os.getpid()  # the test process itself was never at risk


def replica() -> PrologLogic:
    """The backend as a framework worker builds its own copy (``replica`` set before ``start``)."""
    tool = PrologLogic()
    tool.replica = True
    tool.start()
    return tool


def test_a_copy_gives_a_theory_its_own_short_time_limit_and_answers_the_rest() -> None:
    """A framework worker's copy: a theory past ``REPLICA_THEORY_MS`` is a ``timeout`` naming the copy
    (its record goes back to the main process), given within a fraction of a second; the ordinary call
    beside it is answered.  The same theory in the main process's backend is decided in full."""
    import time

    from chil_plugin_prolog import tool as prolog_tool

    heavy = {"theory": heavy_theory(20), "queries": [L("q", "bob")]}
    plain = {"theory": {"facts": [L("kind", "bob")], "rules": [R([L("kind", "?x")], L("red", "?x"))]},
             "queries": [L("red", "bob")]}
    copy = replica()
    try:
        t0 = time.perf_counter()
        got = copy.run_batch([ToolCall(capability="logic_program", op="decide", payload=p) for p in (heavy, plain)])
        took = time.perf_counter() - t0
    finally:
        copy.close()
    assert isinstance(got[0], ToolResult) and got[0].status == "timeout", got[0]
    assert f"{prolog_tool.REPLICA_THEORY_MS} ms" in got[0].error and "framework worker's copy" in got[0].error
    assert got[1]["answers"] == ["entailed"]
    assert took < 1.5, took
    full = PrologLogic()
    full.start()
    try:
        alone = full.run_batch([ToolCall(capability="logic_program", op="decide", payload=heavy)])[0]
    finally:
        full.close()
    assert alone["answers"] == ["entailed"], "the main process's backend, under its own limit, decides it"


def test_a_copys_batch_has_a_deadline_of_its_own(monkeypatch) -> None:
    """Past ``REPLICA_BATCH_MS`` since the batch began, every theory left answers ``timeout``
    unevaluated (here the deadline is 0: none is evaluated)."""
    from chil_plugin_prolog import tool as prolog_tool

    monkeypatch.setattr(prolog_tool, "REPLICA_BATCH_MS", 0)
    copy = replica()
    try:
        got = copy.run_batch([ToolCall(capability="logic_program", op="decide",
                                       payload={"theory": {"facts": [L("kind", f"c{i}")]}, "queries": [L("kind", "c0")]})
                              for i in range(3)])
    finally:
        copy.close()
    assert [g.status for g in got] == ["timeout"] * 3, got


class TestPrologConformance(LogicProgramConformance):
    tool_class = PrologLogic

    def sample_calls(self):
        theory = {"facts": [L("kind", "bob"), L("big", "ann", neg=True)],
                  "rules": [R([L("kind", "?x")], L("red", "?x")), R([L("big", "?x", neg=True)], L("nice", "?x"))]}
        return [ToolCall(capability="logic_program", op="decide", payload={"theory": theory, "queries": [L("red", "bob")]}),
                ToolCall(capability="logic_program", op="decide",
                         payload={"theory": theory, "queries": [L("nice", "ann"), L("red", "ann", neg=True)]})]

    def hostile_calls(self):
        names = ["halt.", "shell('rm -rf /')", ":- initialization(halt).", "it's", "'", "\\"]
        return [ToolCall(capability="logic_program", op="decide", payload={"theory": {"facts": [L(n, n) for n in names]},
                                                                          "queries": [L(n, n) for n in names]}),
                ToolCall(capability="logic_program", op="decide", payload={"theory": heavy_theory(60), "queries": [L("q", "bob")]}),
                ToolCall(capability="logic_program", op="decide", payload={"theory": "halt.", "queries": []})]
