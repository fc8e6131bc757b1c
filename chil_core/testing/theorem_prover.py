"""Conformance suite of the ``theorem_prover`` capability (op ``check``).

A backend's tests subclass :class:`TheoremProverConformance`; it runs where the prover is installed
(``unavailable_reason()`` is None) and is skipped, saying why, where it is not::

    from chil_core.testing.theorem_prover import TheoremProverConformance

    class TestMyProver(TheoremProverConformance):
        tool_class = MyProver
"""

from __future__ import annotations

from typing import Any

from chil_core.capabilities.theorem_prover import REFUSED
from chil_core.contracts import ToolCall
from chil_core.testing.conformance import ToolConformance, _norm
from chil_core.testing.malformed import Case, MalformedPayloads


def check(code: Any) -> ToolCall:
    return ToolCall(capability="theorem_prover", op="check", payload={"code": code})


#: (name, snippet, valid, sorry): Lean 4 core only (no Mathlib), judged exactly.
CASES: list[tuple[str, str, bool, bool]] = [
    ("rfl proof", "theorem two_plus_two : 2 + 2 = 4 := rfl\n", True, False),
    ("decide proof", "theorem t : 3 < 5 := by decide\n", True, False),
    ("false statement", "theorem t : 1 = 2 := rfl\n", False, False),
    ("sorry", "theorem t : 1 = 2 := by sorry\n", False, True),
    ("syntax error", "theorem t : := \n", False, False),
]

#: snippets a completion could use to run code or assume its goal: refused before the prover runs.
DENIED = ['#eval IO.println "hi"', "axiom cheat : False\ntheorem t : 1 = 2 := cheat.elim", 'run_cmd Lean.logInfo "x"',
          "theorem t : 10 = 10 := by native_decide", "@[implemented_by foo] def f := 1"]


class TheoremProverConformance(MalformedPayloads, ToolConformance):
    """Contract tests every ``theorem_prover`` backend passes (subclass it; set ``tool_class``)."""

    def sample_calls(self) -> list[ToolCall]:
        return [check(code) for _, code, _, _ in CASES]

    def hostile_calls(self) -> list[ToolCall]:
        return [check(code) for code in DENIED]

    def test_proofs_are_judged_as_the_contract_says(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            out = [_norm(x) for x in tool.run_batch([check(code) for _, code, _, _ in CASES])]
        finally:
            tool.close()
        for (name, _, valid, sorry), res in zip(CASES, out, strict=True):
            assert res.status == "ok", f"{name}: {res.status}: {res.error}"
            assert (res.value["valid"], res.value["sorry"]) == (valid, sorry), f"{name}: {res.value}"
            assert isinstance(res.value["exit_code"], int) and isinstance(res.value["messages"], str)

    def test_denied_snippets_are_refused_answers(self) -> None:
        self._skip_if_unavailable()
        tool = self.make_tool()
        try:
            out = [_norm(x) for x in tool.run_batch([check(code) for code in DENIED])]
        finally:
            tool.close()
        for code, res in zip(DENIED, out, strict=True):
            # the completion wrote it: an answer (valid false), not an error that would be masked
            assert res.status == "ok" and res.value["valid"] is False and res.value["exit_code"] == REFUSED, code

    def malformed_cases(self) -> list[Case]:
        return [(check(3), "payload.code"), (check("   "), "payload.code"),
                (ToolCall(capability="theorem_prover", op="prove", payload={}), "prove")]
