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

import logging
from typing import Any, ClassVar

from chil_core import Tool, ToolCall, ToolResult

log = logging.getLogger(__name__)

#: quoted names kept across batches (a run repeats its predicates and constants); cleared when full
_QUOTE_CACHE = 50_000


class ClingoLogic(Tool):
    """clingo as a ``logic_program`` backend (Datalog fragment, strong negation as signed atoms)."""

    name: ClassVar[str] = "clingo"
    capability: ClassVar[str] = "logic_program"
    version: ClassVar[str] = "0.2.0"
    description: ClassVar[str] = "clingo: the theory as a definite Datalog program, unique model, one program per batch."
    ops: ClassVar[frozenset[str]] = frozenset({"decide"})
    isolation = "process"
    worker_batch: ClassVar[bool] = True
    max_batch: ClassVar[int] = 64
    priority: ClassVar[int] = 8

    requires_modules: ClassVar[dict[str, str]] = {"clingo": "clingo"}

    def start(self) -> None:
        import clingo

        self.clingo = clingo
        self._quoted: dict[str, str] = {}

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        """Every valid call of the batch in one program, grounded once (see :meth:`decide_many`); a
        malformed call is an error of its own.  Should the joint program fail, each call is decided
        alone, so one call's failure is never its neighbours'."""
        from chil_core.capabilities.logic_program import load_decide_call

        out: list[ToolResult | Any] = [None] * len(calls)
        jobs: list[tuple[int, Any]] = []
        for i, call in enumerate(calls):
            try:
                jobs.append((i, load_decide_call(call.payload)))
            except Exception as exc:  # noqa: BLE001 - a bad payload is a status of its own
                out[i] = self.failure(exc)
        if len(jobs) > 1:
            try:
                for (i, _), value in zip(jobs, self.decide_many([j for _, j in jobs]), strict=True):
                    out[i] = value
                return out
            except Exception:  # noqa: BLE001 - decide each alone below; the culprit gets its own error
                log.warning("clingo: a joint program of %d theories failed; deciding each alone", len(jobs), exc_info=True)
        for i, job in jobs:
            try:
                out[i] = self.decide_many([job])[0]
            except Exception as exc:  # noqa: BLE001
                out[i] = self.failure(exc)
        return out

    def decide(self, payload: Any) -> dict[str, Any]:
        """One ``decide`` payload alone."""
        from chil_core.capabilities.logic_program import load_decide_call

        return self.decide_many([load_decide_call(payload)])[0]

    def _quote(self, name: str) -> str:
        q = self._quoted.get(name)
        if q is None:
            if len(self._quoted) >= _QUOTE_CACHE:
                self._quoted.clear()
            q = self._quoted[name] = str(self.clingo.String(name))
        return q

    def program(self, theory: Any, t: int | None = None) -> str:
        """The clingo program text of a validated theory: alone (``t`` None: ``h(Sign, Pred, a(Args))``
        atoms, as documented above), or as theory number ``t`` of a joint program: predicates of its
        own (``f<t>(Sign,Pred,a(Args))`` for its facts, ``h<t>(W,Sign,Pred,a(Args))`` for what holds in
        world ``W``), so that each theory is a component of its own for the grounder."""
        from chil_core.capabilities.logic_program import is_var, variable_names

        quote = self._quote
        h = "h(" if t is None else f"h{t}(W,"

        def atom(lit: Any, names: dict[str, str]) -> str:
            args = ",".join(names[a] if is_var(a) else quote(a) for a in lit.args)
            return f"{h}{'neg' if lit.neg else 'pos'},{quote(lit.pred)},a({args}))"

        if t is None:
            lines = [atom(f, {}) + "." for f in theory.facts]
        else:
            lines = [f"f{t}({'neg' if f.neg else 'pos'},{quote(f.pred)},a({','.join(quote(a) for a in f.args)}))."
                     for f in theory.facts]
            lines.append(f"h{t}(W,S,P,A) :- f{t}(S,P,A), w{t}(W).")
        for rule in theory.rules:
            names = variable_names(rule)
            lines.append(f"{atom(rule.head, names)} :- {', '.join(atom(b, names) for b in rule.body)}.")
        if t is None:
            lines.append("clash(P,A) :- h(pos,P,A), h(neg,P,A).")
        else:
            lines.append(f"yes(K) :- q{t}(K,W,S,P,A), h{t}(W,S,P,A).")
            lines.append(f"clash(W,P,A) :- h{t}(W,pos,P,A), h{t}(W,neg,P,A).")
        return "\n".join(lines)

    def decide_many(self, jobs: list[Any]) -> list[dict[str, Any]]:
        """Decide validated ``decide`` payloads (:class:`~chil_core.capabilities.logic_program.Decide`)
        in one clingo program, grounded once, its model read back once.

        Each distinct theory ``t`` is written once (:meth:`program`); every *world* ``W`` (a theory
        alone, or with an assumed set's extra facts) is a number of its own (``w<t>(W)``), whose atoms
        ``h<t>(W,...)`` only its own facts and rules derive, so no world sees another's atoms however
        many share the program.  Queries are ``q<t>(K,W,Sign,Pred,a(Args))`` facts; the model is read
        through ``yes(K)`` (the derivable ones) and ``clash(W,Pred,a(Args))``."""
        from chil_core.capabilities.logic_program import Literal, answer

        quote = self._quote
        lines: list[str] = []
        theory_ids: dict[int, int] = {}
        worlds: dict[tuple[int, tuple[Any, ...]], int] = {}
        queries: dict[tuple[int, Literal], int] = {}
        plan: list[tuple[list[int], dict[Literal, int]]] = []

        def ground(w: int, lit: Literal) -> str:
            return f"{w},{'neg' if lit.neg else 'pos'},{quote(lit.pred)},a({','.join(quote(a) for a in lit.args)})"

        for job in jobs:
            t = theory_ids.get(id(job.theory))
            if t is None:
                t = theory_ids[id(job.theory)] = len(theory_ids)
                lines.append(self.program(job.theory, t))
            ws = []
            for extra in job.worlds():
                w = worlds.get((t, extra))
                if w is None:
                    w = worlds[(t, extra)] = len(worlds)
                    lines.append(f"w{t}({w}).")
                    lines.extend(f"h{t}({ground(w, lit)})." for lit in extra)
                ws.append(w)
            asked: dict[Literal, int] = {}
            for q in job.queries:
                for lit in (q, q.complement()):
                    if lit not in asked:
                        k = queries.get((ws[0], lit))
                        if k is None:
                            k = queries[(ws[0], lit)] = len(queries)
                            lines.append(f"q{t}({k},{ground(ws[0], lit)}).")
                        asked[lit] = k
            plan.append((ws, asked))
        ctl = self.clingo.Control(["--warn=none"])
        ctl.add("base", [], "\n".join(lines))
        ctl.ground([("base", [])])
        # A definite program: the grounder has computed its unique model, every atom in it is a fact.
        atoms = ctl.symbolic_atoms
        yes = {sa.symbol.arguments[0].number for sa in atoms.by_signature("yes", 1)}
        clashes: dict[int, list[Literal]] = {}
        for sa in atoms.by_signature("clash", 3):
            w, pred, args = sa.symbol.arguments
            clashes.setdefault(w.number, []).append(Literal(pred.string, tuple(a.string for a in args.arguments)))
        out = []
        for job, (ws, asked) in zip(jobs, plan, strict=True):
            derivable = {lit: k in yes for lit, k in asked.items()}
            assumed = None if job.assume is None else [clashes.get(w, []) for w in ws[1:]]
            out.append(answer(job.queries, derivable, clashes.get(ws[0], []), assumed))
        return out
