"""``ClingoLogic``: the ``logic_program`` capability (op ``decide``) decided by clingo (Datalog/ASP).

A batch of validated ``decide`` calls becomes one clingo program whose rules are *data*: every
predicate name and constant is replaced by a number of the batch (so no name from a payload ever
enters the program text: there is nothing to quote or escape), and each rule of each theory becomes
one fact of its *shape*, the pattern of variables in its literals.  One generic rule per shape
derives what such rules derive in every world of every theory::

    f1(0,8,1).                        % theory 0: kind(charlie)          (kind = 8, charlie = 1)
    r0(0,8,10,4).                     % theory 0: kind(X), rough(X) -> red(X)
    w(0,0). w(0,1). h1(1,4,1).        % its worlds: 0 alone, 1 with the assumed red(charlie) (red = 4)
    q1(0,0,8,1).                      % query 0: is kind(charlie) derivable in world 0?
    h1(W,P,X0) :- f1(T,P,X0), w(T,W).
    h1(W,P2,V0) :- r0(T,P0,P1,P2), w(T,W), h1(W,P0,V0), h1(W,P1,V0).
    yes(K) :- q1(K,W,P,X0), h1(W,P,X0).
    clash1(W,P,X0) :- h1(W,P,X0), P\\2=0, h1(W,P+1,X0).

A predicate's number carries its sign (``2n`` for ``pred``, ``2n + 1`` for its strong negation) and
is the theory's own: two theories that both speak of ``kind`` get two numbers.  That keeps each join
inside its theory: with numbers shared across the batch, every new atom ``h1(W,8,X)`` was joined with
the ``kind`` rules of *every* theory before ``w(T,W)`` threw the others away, and grounding cost grew
with the square of the batch (ProofWriter: 0.25 ms a call in batches of 64, 0.14 in batches of 8;
per-theory numbers: 0.10 in both).

A world is a number of its own (a theory alone, or with an assumed set's extra facts), so no world
sees another's atoms however many share the program.  The program is definite (no default negation,
no choice), so clingo's grounder computes its unique model, grounded once per batch, and the answer
is read from the grounded ``yes/1`` and ``clash<n>`` atoms: there is no search to put a solve time
limit on (an asynchronous, time-limited ``solve`` cost 7x the whole call).  A handful of generic
rules instead of one clingo rule per theory rule is what makes a batch cheap: clingo's per-rule
overhead, not the atoms, dominated grounding (ProntoQA chains 1.1 -> 0.5 ms of worker CPU a call).
What can run long is grounding, which cannot be interrupted in-process: the backend therefore runs
process-isolated and the scheduler kills and replaces a worker that overruns its timeout.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from chil_core import Tool, ToolCall, ToolResult

log = logging.getLogger(__name__)


def _shape(rule: Any) -> tuple[tuple[int, ...], ...]:
    """A rule's shape: per literal (body first, head last) its arguments, a variable as its number in
    order of first appearance, a constant as -1.  Rules of one shape share one generic clingo rule."""
    names: dict[str, int] = {}
    out = []
    for lit in (*rule.body, rule.head):
        out.append(tuple(names.setdefault(a, len(names)) if a[:1] == "?" else -1 for a in lit.args))
    return tuple(out)


def _generic_rule(shape: tuple[tuple[int, ...], ...], s: int) -> str:
    """The clingo rule of shape number ``s``: its fact ``r<s>(T, P0,C.., P1,C.., ..., Ph,C..)`` names
    the theory, each literal's signed predicate and its constants."""
    params, atoms, c = [], [], 0
    for i, pattern in enumerate(shape):
        params.append(f"P{i}")
        args = []
        for x in pattern:
            if x < 0:
                params.append(f"C{c}")
                args.append(f",C{c}")
                c += 1
            else:
                args.append(f",V{x}")
        atoms.append(f"h{len(pattern)}(W,P{i}{''.join(args)})")
    return f"{atoms[-1]} :- r{s}(T,{','.join(params)}), w(T,W), {', '.join(atoms[:-1])}."


class ClingoLogic(Tool):
    """clingo as a ``logic_program`` backend (Datalog fragment, strong negation as signed atoms)."""

    name: ClassVar[str] = "clingo"
    capability: ClassVar[str] = "logic_program"
    version: ClassVar[str] = "0.3.0"
    description: ClassVar[str] = "clingo: the theories of a batch as data of one definite Datalog program, unique model, grounded once."
    ops: ClassVar[frozenset[str]] = frozenset({"decide"})
    isolation = "process"
    worker_batch: ClassVar[bool] = True
    max_batch: ClassVar[int] = 64
    priority: ClassVar[int] = 8
    #: its worker spends more CPU a record than the event loop (ProofWriter: ~0.6 against ~0.45 ms): a
    #: second one decides the next batch meanwhile (2 cores, benchmarks/bench_consistency.py, cold,
    #: alternating runs: ProofWriter 1,439 / 1,315 -> 1,589 / 1,508 records/s, ProntoQA 946 / 955 ->
    #: 1,200 / 1,263).  Elastic: it starts only when a batch waits for the first.  (Prolog's worker
    #: costs what the event loop does; a second one was slower there: 1,834 / 1,532 -> 1,414 / 1,369.)
    workers: ClassVar[int | None] = 2

    requires_modules: ClassVar[dict[str, str]] = {"clingo": "clingo"}

    @classmethod
    def replicable(cls, options: Any) -> bool:
        """A framework worker may decide its records' theories with its own copy (a function of the
        call, nothing kept between calls).  Grounding cannot be interrupted in-process, so a copy
        grounds a batch of at most ``REPLICA_GROUNDINGS`` ground rule instances (the bound of
        :func:`~chil_core.capabilities.logic_program.groundings`, counted before anything is
        grounded): a call past it is refused unevaluated and decided in the main process's isolated
        workers, under the backend's timeout."""
        return True

    def start(self) -> None:
        import clingo

        self.clingo = clingo

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        """Every valid call of the batch in one program, grounded once (see :meth:`decide_many`); a
        malformed call is an error of its own.  Should the joint program fail, each call is decided
        alone, so one call's failure is never its neighbours'."""
        from chil_core.capabilities.logic_program import REPLICA_GROUNDINGS, decide_batch

        return decide_batch(calls, self.decide_many, self.failure, "clingo: a joint program",
                            REPLICA_GROUNDINGS if self.replica else None)

    def decide(self, payload: Any) -> dict[str, Any]:
        """One ``decide`` payload alone."""
        from chil_core.capabilities.logic_program import load_decide_call

        return self.decide_many([load_decide_call(payload)])[0]

    def program(self, jobs: list[Any]) -> _Program:
        """The clingo program of validated ``decide`` payloads (see the module docstring), with what
        is needed to read its model back."""
        return _Program(jobs)

    def decide_many(self, jobs: list[Any]) -> list[dict[str, Any]]:
        """Decide validated ``decide`` payloads (:class:`~chil_core.capabilities.logic_program.Decide`)
        in one clingo program, grounded once, its model read back once.  Each distinct theory is
        written once, each distinct world (a theory alone or with an assumed set) once."""
        from chil_core.capabilities.logic_program import Literal, answer

        prog = _Program(jobs)
        ctl = self.clingo.Control(["--warn=none"])
        ctl.add("base", [], prog.text)
        ctl.ground([("base", [])])
        # A definite program: the grounder has computed its unique model, every atom in it is a fact.
        atoms = ctl.symbolic_atoms
        yes = {sa.symbol.arguments[0].number for sa in atoms.by_signature("yes", 1)}
        clashes: dict[int, list[Literal]] = {}
        consts, preds = prog.constants, prog.predicates
        for n in prog.arities:
            for sa in atoms.by_signature(f"clash{n}", n + 2):
                w, p, *args = sa.symbol.arguments
                clashes.setdefault(w.number, []).append(Literal(preds[p.number >> 1], tuple(consts[a.number] for a in args)))
        out = []
        for job, (ws, asked) in zip(jobs, prog.plan, strict=True):
            derivable = {lit: k in yes for lit, k in asked.items()}
            assumed = None if job.assume is None else [clashes.get(w, []) for w in ws[1:]]
            out.append(answer(job.queries, derivable, clashes.get(ws[0], []), assumed))
        return out


class _Program:
    """The text of one batch's clingo program and the tables that read its model back: ``constants``
    and ``predicates`` (number -> name; a signed predicate number ``p`` is ``predicates[p >> 1]``),
    ``arities`` present, and per job its worlds and the number of each literal asked (``plan``)."""

    def __init__(self, jobs: list[Any]) -> None:
        self.constants: list[str] = []
        self.predicates: list[str] = []
        self.arities: set[int] = set()
        self.plan: list[tuple[list[int], dict[Any, int]]] = []
        self._consts: dict[str, int] = {}
        self._preds: dict[tuple[int, str, int], int] = {}
        lines: list[str] = []
        shapes: dict[tuple[tuple[int, ...], ...], int] = {}
        theories: dict[int, int] = {}
        worlds: dict[tuple[int, tuple[Any, ...]], int] = {}
        atom = self._atom
        k = 0
        for job in jobs:
            theory = job.theory
            t = theories.get(id(theory))
            if t is None:
                t = theories[id(theory)] = len(theories)
                lines.extend(f"f{len(f.args)}({t},{atom(f, t)})." for f in theory.facts)
                for rule in theory.rules:
                    shape = _shape(rule)
                    s = shapes.setdefault(shape, len(shapes))
                    lines.append(f"r{s}({t},{','.join(self._params(lit, t) for lit in (*rule.body, rule.head))}).")
            ws = []
            for extra in job.worlds():
                w = worlds.get((t, extra))
                if w is None:
                    w = worlds[(t, extra)] = len(worlds)
                    lines.append(f"w({t},{w}).")
                    lines.extend(f"h{len(lit.args)}({w},{atom(lit, t)})." for lit in extra)
                ws.append(w)
            asked: dict[Any, int] = {}
            for q in job.queries:
                for lit in (q, q.complement()):
                    if lit not in asked:
                        asked[lit] = k
                        lines.append(f"q{len(lit.args)}({k},{ws[0]},{atom(lit, t)}).")
                        k += 1
            self.plan.append((ws, asked))
        for n in sorted(self.arities):
            xs = "".join(f",X{i}" for i in range(n))
            lines.append(f"h{n}(W,P{xs}) :- f{n}(T,P{xs}), w(T,W).")
            lines.append(f"yes(K) :- q{n}(K,W,P{xs}), h{n}(W,P{xs}).")
            lines.append(f"clash{n}(W,P{xs}) :- h{n}(W,P{xs}), P\\2=0, h{n}(W,P+1{xs}).")
        lines.extend(_generic_rule(shape, s) for shape, s in shapes.items())
        self.text = "\n".join(lines)

    def _const(self, name: str) -> int:
        n = self._consts.get(name)
        if n is None:
            n = self._consts[name] = len(self.constants)
            self.constants.append(name)
        return n

    def _pred(self, lit: Any, t: int) -> int:
        """The signed number of ``lit``'s predicate in theory ``t``: ``2n``, or ``2n + 1`` negated."""
        key = (t, lit.pred, len(lit.args))
        n = self._preds.get(key)
        if n is None:
            n = self._preds[key] = len(self.predicates)
            self.predicates.append(lit.pred)
            self.arities.add(len(lit.args))
        return 2 * n + lit.neg

    def _atom(self, lit: Any, t: int) -> str:
        """``Pred,Arg...`` of a ground literal of theory ``t``."""
        const = self._const
        return f"{self._pred(lit, t)}{''.join(f',{const(a)}' for a in lit.args)}"

    def _params(self, lit: Any, t: int) -> str:
        """A rule literal's part of its shape fact: its signed predicate, then its constants (variables
        are the shape's)."""
        const = self._const
        return f"{self._pred(lit, t)}{''.join(f',{const(a)}' for a in lit.args if a[:1] != '?')}"
