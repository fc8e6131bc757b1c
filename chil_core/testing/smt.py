"""Conformance suite of the ``smt`` capability (ops ``fol`` and ``arith``).

A backend's tests subclass :class:`SmtConformance`::

    from chil_core.testing.smt import SmtConformance

    class TestMySmt(SmtConformance):
        tool_class = MySmt

Every backend answers the shared cases below exactly (verdicts and unsat cores), so any two backends
that pass agree with each other on them.  A backend that answers only one op lists it in ``ops``;
the cases of the other op are then skipped.
"""

from __future__ import annotations

from typing import Any

from chil_core.capabilities.smt import parse_fol
from chil_core.contracts import ToolCall, ToolResult
from chil_core.testing.conformance import ToolConformance, _norm

PREMISES = ["∀x (Dog(x) → Animal(x))", "∀x (Animal(x) → ¬Plant(x))", "Dog(rex)", "Tree(oak)"]


def fol_call(premises: list[str], claims: list[str], joint: bool = False) -> ToolCall:
    return ToolCall(capability="smt", op="fol", payload={
        "premises": [parse_fol(p).ast for p in premises], "claims": [parse_fol(c).ast for c in claims], "joint": joint})


def num(v: str) -> list[str]:
    return ["num", v]


def var(v: str) -> list[str]:
    return ["var", v]


def arith_call(premises: list[Any], claim: Any) -> ToolCall:
    return ToolCall(capability="smt", op="arith", payload={"premises": premises, "claim": claim})


#: (name, call, expected value) for op ``fol``: verdicts, cores and conflicts exact.
FOL_CASES: list[tuple[str, ToolCall, dict[str, Any]]] = [
    ("verdicts with minimal cores",
     fol_call(PREMISES, ["Animal(rex)", "Plant(rex)", "Plant(oak)", "∃x Animal(x)"]),
     {"premises_consistent": True, "conflicts": [], "claims": [
         {"verdict": "entailed", "core": [0, 2]}, {"verdict": "contradicted", "core": [0, 1, 2]},
         {"verdict": "undetermined", "core": []}, {"verdict": "entailed", "core": [0, 2]}]}),
    ("no unique-name assumption",
     fol_call(["Dog(rex)"], ["¬Dog(fido)", "rex = fido"]),
     {"premises_consistent": True, "conflicts": [], "claims": [
         {"verdict": "undetermined", "core": []}, {"verdict": "undetermined", "core": []}]}),
    ("inconsistent premises",
     fol_call(["P(a)", "Q(b)", "¬P(a)"], ["R(c)"]),
     {"premises_consistent": False, "premise_core": [0, 2], "claims": [], "conflicts": []}),
    ("joint conflicts",
     fol_call(["∀x (Cat(x) → ¬Dog(x))"], ["Cat(tom)", "Dog(tom)", "Bird(tweety)"], joint=True),
     {"premises_consistent": True, "conflicts": [[0, 1]], "claims": [{"verdict": "undetermined", "core": []}] * 3}),
    ("disjunction",
     fol_call(["P(a) ∨ Q(a)", "¬Q(a)"], ["P(a)", "¬P(a)"]),
     {"premises_consistent": True, "conflicts": [], "claims": [
         {"verdict": "entailed", "core": [0, 1]}, {"verdict": "contradicted", "core": [0, 1]}]}),
]

_2x_plus_3_is_13 = ["=", ["+", ["*", num("2"), var("x")], num("3")], num("13")]

#: (name, call, expected verdict) for op ``arith``.
ARITH_CASES: list[tuple[str, ToolCall, str]] = [
    ("solved equation", arith_call([_2x_plus_3_is_13], ["=", var("x"), num("5")]), "entailed"),
    ("wrong solution", arith_call([_2x_plus_3_is_13], ["=", var("x"), num("4")]), "contradicted"),
    ("identity without premises", arith_call([], ["=", ["+", num("200"), num("100")], num("300")]), "entailed"),
    ("a new definition", arith_call([], ["=", var("y"), num("2")]), "undetermined"),
    ("strict inequality", arith_call([["<", var("x"), num("1")]], [">", var("x"), num("2")]), "contradicted"),
    ("division", arith_call([["=", var("a"), num("400")]], ["=", ["/", var("a"), num("200")], num("2")]), "entailed"),
]

#: (name, op, payload, fragment of the error message): ``error`` results naming the field.
MALFORMED: list[tuple[str, str, dict[str, Any], str]] = [
    ("fol premises not a list", "fol", {"premises": "P(a)", "claims": []}, "premises"),
    ("fol unbound variable", "fol", {"premises": [], "claims": [["atom", "P", [["var", "x"]]]]}, "claims[0]"),
    ("fol unknown node", "fol", {"premises": [], "claims": [["frobnicate", 1]]}, "claims[0]"),
    ("arith no claim", "arith", {"premises": []}, "claim"),
    ("arith bad number", "arith", {"premises": [], "claim": ["=", ["num", "1e999"], num("1")]}, "claim"),
    ("arith bad relation", "arith", {"premises": [], "claim": ["≈", num("1"), num("1")]}, "claim"),
]


def _hostile() -> list[ToolCall]:
    deep: list[Any] = ["true"]
    for _ in range(5_000):
        deep = ["not", deep]
    wide: Any = num("1")
    for _ in range(3_000):
        wide = ["+", wide, num("1")]
    return [ToolCall(capability="smt", op="fol", payload={"premises": [deep], "claims": []}),
            ToolCall(capability="smt", op="fol", payload={"premises": [["atom", "P) (exit", [["const", "'\"\\"]]]], "claims": "x"}),
            ToolCall(capability="smt", op="arith", payload={"premises": [], "claim": ["=", wide, num("3001")]}),
            ToolCall(capability="smt", op="arith", payload={"premises": [], "claim": ["=", ["^", var("x"), num("99999")], num("1")]})]


#: payloads built from hostile completions: too deep, too large, malformed, an absurd exponent.
HOSTILE: list[ToolCall] = _hostile()


class SmtConformance(ToolConformance):
    """Contract tests every ``smt`` backend passes (subclass it; set ``tool_class``)."""

    def sample_calls(self) -> list[ToolCall]:
        calls = [call for _, call, _ in FOL_CASES] + [call for _, call, _ in ARITH_CASES]
        return [c for c in calls if c.op in self.tool_class.ops]

    def hostile_calls(self) -> list[ToolCall]:
        return [c for c in HOSTILE if c.op in self.tool_class.ops]

    def _run(self, calls: list[ToolCall]) -> list[ToolResult]:
        tool = self.make_tool()
        try:
            return [_norm(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()

    def test_fol_cases_answer_as_the_contract_says(self) -> None:
        self._skip_if_unavailable()
        if "fol" not in self.tool_class.ops:
            return
        out = self._run([call for _, call, _ in FOL_CASES])
        for (name, _, want), got in zip(FOL_CASES, out, strict=True):
            assert got.status == "ok", f"{name}: {got.status}: {got.error}"
            value = dict(got.value)
            assert {k: value.get(k) for k in want} == want, f"{name}: {value}"

    def test_arith_cases_answer_as_the_contract_says(self) -> None:
        self._skip_if_unavailable()
        if "arith" not in self.tool_class.ops:
            return
        out = self._run([call for _, call, _ in ARITH_CASES])
        for (name, _, want), got in zip(ARITH_CASES, out, strict=True):
            assert got.status == "ok", f"{name}: {got.status}: {got.error}"
            assert got.value["verdict"] == want, f"{name}: {got.value}"
            assert isinstance(got.value.get("reason"), str)

    def test_malformed_payloads_are_errors_naming_the_field(self) -> None:
        self._skip_if_unavailable()
        cases = [c for c in MALFORMED if c[1] in self.tool_class.ops]
        out = self._run([ToolCall(capability="smt", op=op, payload=p) for _, op, p, _ in cases])
        for (name, _, _, fragment), got in zip(cases, out, strict=True):
            assert got.status == "error", f"{name}: {got}"
            assert fragment in (got.error or ""), f"{name}: {got.error!r} does not name {fragment!r}"

    def test_refuses_oversized_and_malformed_payloads(self) -> None:
        self._skip_if_unavailable()
        calls = [c for c in HOSTILE if c.op in self.tool_class.ops]
        for call, got in zip(calls, self._run(calls), strict=True):
            # oversized or malformed: refused with a reason, never an answer built from a partial read
            assert got.status in ("error", "timeout") and got.error, f"{call.op}: {got}"
