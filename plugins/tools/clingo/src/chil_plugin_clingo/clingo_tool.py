"""``ClingoLogic``: the ``logic_program`` capability (op ``decide``) decided by clingo (Datalog/ASP).

The validated theory becomes a definite program over one predicate ``h(Sign, Pred, a(Args...))``::

    h(pos,"kind",a("bob")).
    h(pos,"red",a(V0)) :- h(pos,"kind",a(V0)), h(pos,"rough",a(V0)).
    clash(P,A) :- h(pos,P,A), h(neg,P,A).

Every name is a clingo string literal rendered by clingo itself (``str(clingo.String(name))``), so
quotes, backslashes and newlines in a name stay inside the string; variables are ``V0, V1...``
generated here.  The program is definite (no default negation, no choice), so clingo's grounder
computes its unique model and the answer is read from the grounded atoms: there is no search to
put a solve time limit on (an asynchronous, time-limited ``solve`` cost 7x the whole call).  What
can run long is grounding, which cannot be interrupted in-process: the backend therefore runs
process-isolated and the scheduler kills and replaces a worker that overruns its timeout.
"""

from __future__ import annotations

from typing import Any, ClassVar

from chil_core import Tool, ToolCall, ToolResult


class ClingoLogic(Tool):
    """clingo as a ``logic_program`` backend (Datalog fragment, strong negation as signed atoms)."""

    name: ClassVar[str] = "clingo"
    capability: ClassVar[str] = "logic_program"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "clingo: the theory as a definite Datalog program, unique model, time-limited."
    ops: ClassVar[frozenset[str]] = frozenset({"decide"})
    isolation = "process"
    max_batch: ClassVar[int] = 64
    priority: ClassVar[int] = 8

    requires_modules: ClassVar[dict[str, str]] = {"clingo": "clingo"}

    def start(self) -> None:
        import clingo

        self.clingo = clingo

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        return self.decide(call.payload)

    def program(self, theory: Any) -> str:
        """The clingo program text of a validated theory."""
        from chil_core.capabilities.logic_program import is_var, variable_names

        quoted: dict[str, str] = {}

        def quote(name: str) -> str:
            q = quoted.get(name)
            if q is None:
                q = quoted[name] = str(self.clingo.String(name))
            return q

        def atom(lit: Any, names: dict[str, str]) -> str:
            args = ",".join(names[a] if is_var(a) else quote(a) for a in lit.args)
            return f"h({'neg' if lit.neg else 'pos'},{quote(lit.pred)},a({args}))"

        lines = [atom(f, {}) + "." for f in theory.facts]
        for rule in theory.rules:
            names = variable_names(rule)
            lines.append(f"{atom(rule.head, names)} :- {', '.join(atom(b, names) for b in rule.body)}.")
        lines.append("clash(P,A) :- h(pos,P,A), h(neg,P,A).")
        return "\n".join(lines)

    def decide(self, payload: Any) -> dict[str, Any]:
        from chil_core.capabilities.logic_program import Literal, answer, load_decide

        theory, queries = load_decide(payload)
        ctl = self.clingo.Control(["--warn=none"])
        ctl.add("base", [], self.program(theory))
        ctl.ground([("base", [])])
        # A definite program: the grounder has computed its unique model, every atom in it is a fact.
        held: set[tuple[bool, str, tuple[str, ...]]] = set()
        for sa in ctl.symbolic_atoms.by_signature("h", 3):
            sign, pred, args = sa.symbol.arguments
            held.add((sign.name == "neg", pred.string, tuple(a.string for a in args.arguments)))
        clashes = [Literal(sa.symbol.arguments[0].string, tuple(a.string for a in sa.symbol.arguments[1].arguments))
                   for sa in ctl.symbolic_atoms.by_signature("clash", 2)]
        derivable = {lit: (lit.neg, lit.pred, lit.args) in held for q in queries for lit in (q, q.complement())}
        return answer(queries, derivable, clashes)
