"""The ``logic_program`` op ``decide`` on Z3: strong-negation semantics, validation, hostile names."""

from __future__ import annotations

import pytest
from chil_plugin_z3.logic import Z3Logic

from chil_core import ToolCall, ToolResult
from chil_core.testing.logic_program import LogicProgramConformance


def L(pred: str, *args: str, neg: bool = False) -> dict:
    return {"pred": pred, "args": list(args), "neg": neg}


def R(body: list[dict], head: dict) -> dict:
    return {"if": body, "then": head}


@pytest.fixture(scope="module")
def z3logic():
    tool = Z3Logic()
    tool.start()
    yield tool
    tool.close()


def decide(tool: Z3Logic, facts: list, rules: list, queries: list):
    return tool.run_batch([ToolCall(capability="logic_program", op="decide",
                                    payload={"theory": {"facts": facts, "rules": rules}, "queries": queries})])[0]


def test_open_world_with_strong_negation(z3logic: Z3Logic) -> None:
    facts = [L("kind", "bob"), L("rough", "bob"), L("big", "dave", neg=True), L("chase", "cat", "dog")]
    rules = [R([L("kind", "?x"), L("rough", "?x")], L("red", "?x")),
             R([L("big", "?x", neg=True)], L("nice", "?x", neg=True)),
             R([L("chase", "?x", "dog")], L("visit", "?x", "bear"))]
    out = decide(z3logic, facts, rules, [L("red", "bob"), L("red", "bob", neg=True), L("nice", "dave"),
                                         L("visit", "cat", "bear"), L("red", "dave")])
    assert out == {"consistent": True, "clashes": [],
                   "answers": ["entailed", "contradicted", "contradicted", "entailed", "undetermined"]}


def test_no_contraposition(z3logic: Z3Logic) -> None:
    # "red things are big" and "Bob is not big" do not make Bob not red (ProofWriter's OWA semantics)
    out = decide(z3logic, [L("big", "bob", neg=True)], [R([L("red", "?x")], L("big", "?x"))], [L("red", "bob")])
    assert out["answers"] == ["undetermined"]


def test_clashes_and_both(z3logic: Z3Logic) -> None:
    facts = [L("big", "bob"), L("nice", "bob")]
    rules = [R([L("big", "?x")], L("nice", "?x", neg=True))]
    out = decide(z3logic, facts, rules, [L("nice", "bob"), L("big", "bob")])
    assert out["consistent"] is False
    assert out["clashes"] == [L("nice", "bob")]
    assert out["answers"] == ["both", "entailed"]


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"theory": []}, "payload.theory must be an object"),
        ({"theory": {"facts": [L("p", "?x")]}}, "payload.theory.facts[0] must be ground"),
        ({"theory": {"rules": [R([L("p", "?x")], L("q", "?y"))]}}, "head variable(s) ['?y']"),
        ({"theory": {"rules": [{"if": [], "then": L("q", "a")}]}}, "rules[0].if must be a list of 1 to"),
        ({"theory": {"facts": [{"pred": "p", "args": "a"}]}}, "facts[0].args must be a list"),
        ({"theory": {"facts": [{"pred": "p", "args": [], "neg": "yes"}]}}, "facts[0].neg must be true or false"),
        ({"theory": {"facts": [{"pred": "p", "args": [], "extra": 1}]}}, "unknown field(s) ['extra']"),
        ({"theory": {}, "queries": [L("p", "?x")]}, "payload.queries[0] must be ground"),
        ({"theory": {"rules": [R([L("r", "?a", "?b"), L("r", "?c", "?d"), L("r", "?e", "?a")], L("s", "?a"))]}},
         "at most 4 are allowed"),
        ({"theory": {"facts": [L("p\x00", "a")]}}, "NUL"),
    ],
)
def test_bad_payloads_name_the_field(z3logic: Z3Logic, payload: dict, fragment: str) -> None:
    out = z3logic.run_batch([ToolCall(capability="logic_program", op="decide", payload=payload)])[0]
    assert isinstance(out, ToolResult) and out.status == "error"
    assert fragment in out.error


def test_hostile_names(z3logic: Z3Logic) -> None:
    names = ["halt.", "shell('rm -rf /')", ":- initialization(halt).", "it's", 'a"b', "back\\slash", "new\nline", "Świątek"]
    facts = [L(n, n) for n in names]
    out = decide(z3logic, facts, [], [L(n, n) for n in names] + [L(names[0], names[1])])
    assert out["answers"] == ["entailed"] * len(names) + ["undetermined"]


class TestZ3LogicConformance(LogicProgramConformance):
    tool_class = Z3Logic

    def sample_calls(self):
        theory = {"facts": [L("kind", "bob"), L("big", "ann", neg=True)],
                  "rules": [R([L("kind", "?x")], L("red", "?x")), R([L("big", "?x", neg=True)], L("nice", "?x"))]}
        return [ToolCall(capability="logic_program", op="decide", payload={"theory": theory, "queries": [L("red", "bob")]}),
                ToolCall(capability="logic_program", op="decide",
                         payload={"theory": theory, "queries": [L("nice", "ann"), L("red", "ann", neg=True)]})]

    def hostile_calls(self):
        names = ["halt.", "shell('rm -rf /')", ":- initialization(halt).", "it's"]
        huge = {"facts": [L("p", f"c{i}") for i in range(4_000)] + [L("p", "c0", neg=True)]}
        return [ToolCall(capability="logic_program", op="decide", payload={"theory": {"facts": [L(n, n) for n in names]},
                                                                          "queries": [L(n, n) for n in names]}),
                ToolCall(capability="logic_program", op="decide", payload={"theory": huge, "queries": [L("p", "c1")]}),
                ToolCall(capability="logic_program", op="decide", payload={"theory": "halt.", "queries": []})]


def test_theories_decided_together_that_hit_a_limit_are_decided_each_alone(caplog) -> None:
    """A batch's small theories share checks; when a joint check hits the resource limit (here 2,000:
    one of these theories alone needs about a quarter of it, the forty together about ten times it),
    each theory is decided alone, so the limit is never a neighbour's status."""
    import logging

    def call(i: int) -> ToolCall:
        rules = [R([L(f"p{k}", "?x")], L(f"p{k + 1}", "?x")) for k in range(30)]
        return ToolCall(capability="logic_program", op="decide",
                        payload={"theory": {"facts": [L("p0", f"c{i}")], "rules": rules}, "queries": [L("p30", f"c{i}")],
                                 "assume": [[L("p5", f"c{i}", neg=True)]]})

    tool = Z3Logic(Z3Logic.Options(rlimit=2_000))
    tool.start()
    try:
        calls = [call(i) for i in range(40)]
        with caplog.at_level(logging.INFO, logger="chil_plugin_z3.logic"):
            batched = tool.run_batch(calls)
        assert "decided together gave up" in caplog.text
        assert batched == [tool.run_batch([c])[0] for c in calls]
        assert all(r == {"consistent": True, "clashes": [], "answers": ["entailed"],
                         "assumed": [{"consistent": False, "clashes": [L("p5", f"c{i}")]}]} for i, r in enumerate(batched))
    finally:
        tool.close()
