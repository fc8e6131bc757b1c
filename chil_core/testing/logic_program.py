"""Conformance suite of the ``logic_program`` capability (op ``decide``).

A backend's tests subclass :class:`LogicProgramConformance`::

    from chil_core.testing.logic_program import LogicProgramConformance

    class TestMyLogic(LogicProgramConformance):
        tool_class = MyLogic

Every backend answers the shared :data:`CASES` exactly as written, and agrees with
:func:`reference_decide` (a plain forward-chaining closure, the semantics the contract states) on
random theories; so any two backends that pass agree with each other.  The contract's batching rule is
checked too: a batch (repeated theories, assumed sets, a malformed call among them) is answered call
for call exactly as each call alone (:func:`assert_batch_equals_one_by_one`).  A backend a framework
worker may copy (``Tool.replicable``) is checked as a copy too (``Tool.replica``): the same answers, and
a call past the copy's budget (``REPLICA_GROUNDINGS``) refused unevaluated, its batch-mates answered.
"""

from __future__ import annotations

import itertools
import random
from typing import Any, ClassVar

from chil_core.capabilities.logic_program import (
    REPLICA_GROUNDINGS,
    Literal,
    Theory,
    answer,
    groundings,
    is_var,
    load_decide_call,
    with_facts,
)
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import ToolConformance, _norm


def lit(pred: str, *args: str, neg: bool = False) -> dict[str, Any]:
    return {"pred": pred, "args": list(args), "neg": neg}


def rule(body: list[dict[str, Any]], head: dict[str, Any]) -> dict[str, Any]:
    return {"if": body, "then": head}


def decide_call(facts: list[dict[str, Any]], rules: list[dict[str, Any]], queries: list[dict[str, Any]],
                assume: list[list[dict[str, Any]]] | None = None) -> ToolCall:
    payload: dict[str, Any] = {"theory": {"facts": facts, "rules": rules}, "queries": queries}
    if assume is not None:
        payload["assume"] = assume
    return ToolCall(capability="logic_program", op="decide", payload=payload)


#: (name, call, expected value): the contract's semantics on small theories, answers and clashes exact.
CASES: list[tuple[str, ToolCall, dict[str, Any]]] = [
    ("chain",
     decide_call([lit("red", "bob")], [rule([lit("red", "?x")], lit("big", "?x")), rule([lit("big", "?x")], lit("nice", "?x"))],
                 [lit("nice", "bob"), lit("nice", "bob", neg=True), lit("nice", "ann"), lit("red", "bob", neg=True)]),
     {"consistent": True, "clashes": [], "answers": ["entailed", "contradicted", "undetermined", "contradicted"]}),
    ("strong negation, no contraposition",
     decide_call([lit("big", "bob", neg=True)], [rule([lit("red", "?x")], lit("big", "?x"))],
                 [lit("red", "bob"), lit("red", "bob", neg=True), lit("big", "bob")]),
     {"consistent": True, "clashes": [], "answers": ["undetermined", "undetermined", "contradicted"]}),
    ("binary join",
     decide_call([lit("likes", "ann", "bob"), lit("likes", "bob", "cat")],
                 [rule([lit("likes", "?x", "?y"), lit("likes", "?y", "?z")], lit("knows", "?x", "?z"))],
                 [lit("knows", "ann", "cat"), lit("knows", "bob", "ann"), lit("knows", "cat", "ann", neg=True)]),
     {"consistent": True, "clashes": [], "answers": ["entailed", "undetermined", "undetermined"]}),
    ("clash",
     decide_call([lit("big", "bob"), lit("big", "ann")], [rule([lit("big", "?x")], lit("nice", "?x", neg=True)),
                                                           rule([lit("big", "?x")], lit("nice", "?x"))],
                 [lit("nice", "bob"), lit("big", "ann", neg=True)]),
     {"consistent": False, "clashes": [lit("nice", "ann"), lit("nice", "bob")], "answers": ["both", "contradicted"]}),
    ("hostile names are plain symbols",
     decide_call([lit("p')). halt. %", "x :- y."), lit("q", '"; drop')], [rule([lit("p')). halt. %", "?a")], lit("r", "?a"))],
                 [lit("r", "x :- y."), lit("r", '"; drop')]),
     {"consistent": True, "clashes": [], "answers": ["entailed", "undetermined"]}),
    ("no queries",
     decide_call([lit("a")], [], []),
     {"consistent": True, "clashes": [], "answers": []}),
    ("assumed sets: each its own world",
     decide_call([lit("red", "bob")], [rule([lit("red", "?x")], lit("big", "?x")), rule([lit("cold", "?x")], lit("big", "?x", neg=True))],
                 [lit("big", "bob"), lit("cold", "bob")],
                 [[lit("cold", "bob")], [lit("cold", "ann")], [lit("cold", "dan"), lit("red", "dan")], []]),
     {"consistent": True, "clashes": [], "answers": ["entailed", "undetermined"],
      "assumed": [{"consistent": False, "clashes": [lit("big", "bob")]}, {"consistent": True, "clashes": []},
                  {"consistent": False, "clashes": [lit("big", "dan")]}, {"consistent": True, "clashes": []}]}),
    ("assumed sets of an inconsistent theory",
     decide_call([lit("p", "a"), lit("p", "a", neg=True)], [], [lit("p", "a")], [[lit("q", "b")]]),
     {"consistent": False, "clashes": [lit("p", "a")], "answers": ["both"],
      "assumed": [{"consistent": False, "clashes": [lit("p", "a")]}]}),
]

#: (name, payload, a fragment of the error message): each must be an ``error`` result naming the field.
MALFORMED: list[tuple[str, dict[str, Any], str]] = [
    ("theory not an object", {"theory": [], "queries": []}, "payload.theory must be an object"),
    ("unsafe head", {"theory": {"facts": [], "rules": [rule([lit("p", "?x")], lit("q", "?y"))]}, "queries": []}, "head variable"),
    ("variable in a fact", {"theory": {"facts": [lit("p", "?x")], "rules": []}, "queries": []}, "must be ground"),
    ("bad neg", {"theory": {"facts": [{"pred": "p", "args": [], "neg": "yes"}], "rules": []}, "queries": []}, "neg must be"),
    ("unknown field", {"theory": {"facts": [{"pred": "p", "x": 1}], "rules": []}, "queries": []}, "unknown field"),
    ("too many variables", {"theory": {"facts": [], "rules": [rule([lit("p", "?a", "?b", "?c", "?d", "?e")], lit("q", "?a"))]},
                            "queries": []}, "variables"),
    ("assume not a list of lists", {"theory": {"facts": [], "rules": []}, "queries": [], "assume": [lit("p")]},
     "payload.assume[0] must be a list"),
    ("variable in an assumed set", {"theory": {"facts": [], "rules": []}, "queries": [], "assume": [[lit("p", "?x")]]},
     "payload.assume[0][0] must be ground"),
    ("unknown payload field", {"theory": {"facts": [], "rules": []}, "queries": [], "hypotheses": []}, "unknown field"),
]


_MANY = [lit("p", f"c{i}") for i in range(200)]
_WIDE = rule([lit("p", "?a"), lit("p", "?b"), lit("p", "?c"), lit("p", "?d")], lit("q", "?a", "?b", "?c", "?d"))

#: (call, fragment of the error): hostile payloads refused up front, before any grounding or search.
HOSTILE: list[tuple[ToolCall, str]] = [
    (ToolCall(capability="logic_program", op="decide", payload={"theory": "rm -rf /", "queries": []}), "payload.theory"),
    (decide_call([lit("p" * 5_000)], [], []), "at most"),
    # 200 constants under a 4-variable rule: 1.6e9 instances, refused rather than grounded for minutes
    (decide_call(_MANY, [_WIDE], [lit("q", "c0", "c1", "c2", "c3")]), "may ground"),
]


def _closure(theory: Theory) -> set[Literal]:
    """Every literal derivable from the theory's definite clauses (naive forward chaining)."""
    derived: set[Literal] = set(theory.facts)
    changed = True
    while changed:
        changed = False
        for r in theory.rules:
            for env in _matches(list(r.body), derived, {}):
                head = Literal(r.head.pred, tuple(env[a] if is_var(a) else a for a in r.head.args), r.head.neg)
                if head not in derived:
                    derived.add(head)
                    changed = True
    return derived


def _matches(body: list[Literal], derived: set[Literal], env: dict[str, str]) -> list[dict[str, str]]:
    if not body:
        return [env]
    first, rest = body[0], body[1:]
    out = []
    for fact in derived:
        if fact.pred != first.pred or fact.neg != first.neg or len(fact.args) != len(first.args):
            continue
        new = dict(env)
        for a, v in zip(first.args, fact.args, strict=True):
            if is_var(a):
                if new.setdefault(a, v) != v:
                    break
            elif a != v:
                break
        else:
            out += _matches(rest, derived, new)
    return out


def reference_decide(payload: dict[str, Any]) -> dict[str, Any]:
    """The ``decide`` value the contract defines, computed the slow obvious way."""
    job = load_decide_call(payload)
    derived = _closure(job.theory)
    clashes = [x for x in derived if not x.neg and x.complement() in derived]
    derivable = {x: x in derived for q in job.queries for x in (q, q.complement())}
    assumed = None
    if job.assume is not None:
        assumed = []
        for extra in job.assume:
            world = _closure(with_facts(job.theory, extra))
            assumed.append([x for x in world if not x.neg and x.complement() in world])
    return answer(job.queries, derivable, clashes, assumed)


def random_payload(rng: random.Random) -> dict[str, Any]:
    """A small random theory over three constants with every ground query over its predicates."""
    constants, unary, binary, variables = ["ann", "bob", "cat"], ["big", "red", "nice"], ["likes", "sees"], ["?x", "?y"]

    def literal(terms: list[str]) -> dict[str, Any]:
        if rng.random() < 0.5:
            return lit(rng.choice(unary), rng.choice(terms), neg=rng.random() < 0.3)
        return lit(rng.choice(binary), rng.choice(terms), rng.choice(terms), neg=rng.random() < 0.3)

    facts = [literal(constants) for _ in range(rng.randint(1, 8))]
    rules = []
    for _ in range(rng.randint(0, 6)):
        body = [literal(constants + variables) for _ in range(rng.randint(1, 3))]
        bound = sorted({a for b in body for a in b["args"] if a.startswith("?")}) or constants
        rules.append(rule(body, literal(bound)))
    queries = [lit(p, *args, neg=neg) for p, n in [(u, 1) for u in unary] + [(b, 2) for b in binary]
               for args in itertools.product(constants, repeat=n) for neg in (False, True)]
    payload: dict[str, Any] = {"theory": {"facts": facts, "rules": rules}, "queries": queries}
    if rng.random() < 0.5:  # assumed sets, over the theory's constants and one new one
        payload["assume"] = [[literal(constants + ["dan"]) for _ in range(rng.randint(0, 3))] for _ in range(rng.randint(1, 3))]
    return payload


def mixed_batch(payloads: list[dict[str, Any]], rng: random.Random) -> list[ToolCall]:
    """``payloads`` as one batch the way a scheduler forms them: shuffled, some theories repeated with
    other queries and assumed sets (a GRPO group shares its prompt), one malformed call among them."""
    calls = [ToolCall(capability="logic_program", op="decide", payload=p) for p in payloads]
    for p in rng.sample(payloads, k=min(len(payloads), max(1, len(payloads) // 4))):
        q = rng.sample(p["queries"], k=min(len(p["queries"]), 3))
        calls.append(ToolCall(capability="logic_program", op="decide",
                              payload={"theory": p["theory"], "queries": q, "assume": [q[:1]]}))
    rng.shuffle(calls)
    calls.insert(len(calls) // 2, ToolCall(capability="logic_program", op="decide",
                                           payload={"theory": {"facts": [lit("p", "?x")]}, "queries": []}))
    return calls


def assert_batch_equals_one_by_one(tool: Any, calls: list[ToolCall], batch_size: int = 64) -> int:
    """Every call answered in batches of ``batch_size`` equals the same call alone, status, value and
    error; returns how many calls were compared."""
    batched: list[Any] = []
    for i in range(0, len(calls), batch_size):
        batched.extend(_norm(x) for x in tool.run_batch(calls[i:i + batch_size]))
    assert len(batched) == len(calls)
    for i, (call, got) in enumerate(zip(calls, batched, strict=True)):
        alone = _norm(tool.run_batch([call])[0])
        assert (got.status, got.value, got.error) == (alone.status, alone.value, alone.error), (
            f"call {i}: batched {got.status} {got.value or got.error} != alone {alone.status} {alone.value or alone.error}; "
            f"payload {call.payload}")
    return len(calls)


class LogicProgramConformance(ToolConformance):
    """Contract tests every ``logic_program`` backend passes (subclass it; set ``tool_class``)."""

    #: random theories checked against :func:`reference_decide` (each has 30 ground queries).
    random_theories: ClassVar[int] = 20
    #: the most clashes a backend may report when it finds them another way (unsat cores): it must
    #: then report a subset of the reference's, and all of them when there are fewer than this.
    max_clashes: ClassVar[int] = 10

    def sample_calls(self) -> list[ToolCall]:
        return [call for _, call, _ in CASES]

    def hostile_calls(self) -> list[ToolCall]:
        return [call for call, _ in HOSTILE]

    def assert_same_answer(self, got: Any, want: dict[str, Any], where: str) -> None:
        res = _norm(got)
        assert res.status == "ok", f"{where}: expected an answer, got {res.status}: {res.error}"
        value = res.value
        assert value["answers"] == want["answers"], f"{where}: answers"
        assert value["consistent"] == want["consistent"], f"{where}: consistent"
        if len(want["clashes"]) < self.max_clashes:
            assert value["clashes"] == want["clashes"], f"{where}: clashes"
        else:
            assert all(c in want["clashes"] for c in value["clashes"]) and value["clashes"], f"{where}: clashes"

    def test_shared_cases_answer_as_the_contract_says(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            out = tool.run_batch([call for _, call, _ in CASES])
        finally:
            tool.close()
        for (name, call, want), got in zip(CASES, out, strict=True):
            assert reference_decide(call.payload) == want, f"the reference disagrees with case {name!r}"
            self.assert_same_answer(got, want, name)

    def test_agrees_with_the_reference_on_random_theories(self) -> None:
        self._skip_if_unavailable()
        rng = random.Random(20260101)
        payloads = [random_payload(rng) for _ in range(self.random_theories)]
        tool = self.make_tool()
        try:
            out = tool.run_batch([ToolCall(capability="logic_program", op="decide", payload=p) for p in payloads])
        finally:
            tool.close()
        for i, (payload, got) in enumerate(zip(payloads, out, strict=True)):
            self.assert_same_answer(got, reference_decide(payload), f"random theory {i}: {payload['theory']}")

    def test_a_batch_answers_each_call_as_it_would_alone(self) -> None:
        """The contract's batching rule: a batch with repeated theories, assumed sets and a malformed
        call among them gets, call for call, what each call gets alone, and the reference's answer."""
        self._skip_if_unavailable()
        rng = random.Random(20260102)
        payloads = [call.payload for _, call, _ in CASES] + [random_payload(rng) for _ in range(self.random_theories)]
        calls = mixed_batch(payloads, rng)
        tool = self.make_tool()
        try:
            assert assert_batch_equals_one_by_one(tool, calls, batch_size=len(calls)) == len(calls)
            out = [_norm(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()
        errors = 0
        for call, got in zip(calls, out, strict=True):
            try:
                want = reference_decide(call.payload)
            except ValueError:
                assert got.status == "error" and "must be ground" in (got.error or ""), got
                errors += 1
                continue
            self.assert_same_answer(got, want, f"batched {call.payload}")
            assert ("assumed" in got.value) == ("assume" in call.payload)
            for k, (a, w) in enumerate(zip(got.value.get("assumed", []), want.get("assumed", []), strict=True)):
                self.assert_same_answer(ToolResult.success({**a, "answers": []}), {**w, "answers": []}, f"assumed[{k}] of {call.payload}")
        assert errors == 1

    def test_malformed_payloads_are_errors_naming_the_field(self) -> None:
        self._skip_if_unavailable()
        calls = [ToolCall(capability="logic_program", op="decide", payload=p) for _, p, _ in MALFORMED]
        tool = self.make_tool()
        try:
            out = [_norm(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()
        for (name, _, fragment), res in zip(MALFORMED, out, strict=True):
            assert isinstance(res, ToolResult) and res.status == "error", f"{name}: {res}"
            assert fragment in (res.error or ""), f"{name}: {res.error!r} does not name {fragment!r}"

    def test_statements_shared_by_the_theories_of_a_batch_are_answered_for_each(self) -> None:
        """A framework hands one dict to every theory that repeats a statement (a batch's theories share
        most of their rules): each call is answered as the reference answers it, and a dict that is a
        fact in one theory and stands as a rule in another is an error there, naming the field."""
        self._skip_if_unavailable()
        rng = random.Random(20261204)
        pool = [random_payload(rng) for _ in range(12)]
        shared_rules = [r for p in pool for r in p["theory"]["rules"]]
        shared_facts = [f for p in pool for f in p["theory"]["facts"]]
        payloads = []
        for _ in range(60):  # the same dict objects, in many theories, in other company
            theory = {"facts": rng.sample(shared_facts, k=rng.randint(1, 6)),
                      "rules": rng.sample(shared_rules, k=rng.randint(0, 6))}
            payloads.append({**rng.choice(pool), "theory": theory})
        fact = shared_facts[0]
        calls = [ToolCall(capability="logic_program", op="decide", payload=p) for p in payloads]
        calls.insert(30, ToolCall(capability="logic_program", op="decide",
                                  payload={"theory": {"facts": [fact], "rules": [fact]}, "queries": []}))
        tool = self.make_tool()
        try:
            out = [_norm(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()
        wrong = out.pop(30)
        assert wrong.status == "error" and "rules[0]" in (wrong.error or ""), wrong
        for payload, got in zip(payloads, out, strict=True):
            self.assert_same_answer(got, reference_decide(payload), f"shared statements, {payload['theory']}")

    def test_refuses_oversized_and_malformed_theories(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            out = [_norm(x) for x in tool.run_batch([call for call, _ in HOSTILE])]
        finally:
            tool.close()
        for (_, fragment), res in zip(HOSTILE, out, strict=True):
            assert res.status == "error" and fragment in (res.error or ""), f"{fragment!r}: {res}"

    def test_a_copy_answers_as_the_original_and_refuses_what_is_past_its_budget(self) -> None:
        """A backend a framework worker may copy (:meth:`Tool.replicable`), built as the worker builds its
        copy (``replica`` set before ``start``): the shared cases and random theories answered as the
        reference answers them; a theory whose grounding bound (:func:`groundings`) is past
        ``REPLICA_GROUNDINGS`` is an error naming the budget, given at once (never grounded), and the
        calls beside it in its batch are answered."""
        self._skip_if_unavailable()
        import time

        import pytest

        tool_options = self.tool_class.Options.model_validate(self.options)
        if not self.tool_class.replicable(tool_options):
            pytest.skip(f"{self.tool_class.name} is not copied into framework workers")
        constants = [f"c{i}" for i in range(int(REPLICA_GROUNDINGS ** (1 / 4)) + 2)]
        body = [lit("thing", v) for v in ("?a", "?b", "?c", "?d")]
        bomb = decide_call([lit("thing", c) for c in constants], [rule(body, lit("rel", "?a", "?b", "?c", "?d"))],
                           [lit("rel", "c0", "c1", "c2", "c3")])
        assert groundings(load_decide_call(bomb.payload)) > REPLICA_GROUNDINGS
        rng = random.Random(20260103)
        payloads = [call.payload for _, call, _ in CASES] + [random_payload(rng) for _ in range(self.random_theories)]
        calls = [ToolCall(capability="logic_program", op="decide", payload=p) for p in payloads]
        tool = self.tool_class(tool_options)
        tool.replica = True
        tool.start()
        try:
            t0 = time.perf_counter()
            out = [_norm(x) for x in tool.run_batch([*calls[:3], bomb, *calls[3:]])]
            took = time.perf_counter() - t0
        finally:
            tool.close()
        refused = out.pop(3)
        assert refused.status == "error" and "budget" in (refused.error or ""), refused
        assert took < 5.0, f"the copy took {took:.1f} s: the theory past its budget was evaluated"
        for payload, got in zip(payloads, out, strict=True):
            self.assert_same_answer(got, reference_decide(payload), f"a copy, {payload['theory']}")
