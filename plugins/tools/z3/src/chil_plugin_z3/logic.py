"""``Z3Logic``: the ``logic_program`` capability (op ``decide``) decided by Z3.

The payload, the answer and the semantics are those of ``chil_core.capabilities.logic_program``.  Each
atom sign is an atom of its own (strong negation), facts are ground atoms, rules definite clauses.  A
literal is derivable exactly when theory ∧ ¬literal is unsat (definite clauses: the least model
decides), so Z3 computes the same closure as the Prolog and Datalog backends, by refutation instead of
chaining.

A batch is decided with **one solver**, each theory in a ``push``/``pop`` scope of its own:

- **Ground** (the common case: at most ``GROUND_LIMIT`` rule instances): the rules are instantiated
  over the theory's constants (exact for function-free definite clauses: nothing about another
  constant is derivable) and the clauses handed to Z3 as one SMT-LIB text over Boolean atoms, so each
  check is propositional.  A query is one check under the assumption ¬literal; consistency is one
  check with "no atom both ways"; when that fails every candidate atom is checked, so the clashes are
  exactly the atoms derived both ways.
- **Quantified** (larger groundings): facts over one uninterpreted sort, rules as universally
  quantified clauses, consistency guarded per predicate and the clashes named through unsat cores, in
  a fresh solver per theory.

Each world (the theory alone, or with an assumed set's extra facts) is a scope of its own.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

from chil_core import ToolCall, ToolResult
from chil_plugin_z3.base import Z3Tool

#: ground atoms enumerated to name clashes; more (a huge relation that clashes) is an error.
MAX_CLASH_CANDIDATES = 20_000
#: rule instances (constants ** variables, summed over rules) up to which a theory is decided ground
GROUND_LIMIT = 20_000


class Z3Logic(Z3Tool):
    """Z3 as a ``logic_program`` backend: open-world decisions over controlled-English theories."""

    name: ClassVar[str] = "z3"
    capability: ClassVar[str] = "logic_program"
    version: ClassVar[str] = "0.2.0"  # batches with one solver, ground mode (exact clashes): cached answers renewed
    description: ClassVar[str] = "Z3: literal entailment under strong negation (definite clauses, refutation)."
    ops: ClassVar[frozenset[str]] = frozenset({"decide"})
    max_batch: ClassVar[int] = 64
    priority: ClassVar[int] = 5
    worker_batch: ClassVar[bool] = True

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        """Every call of the batch with one solver (a scope per theory); a malformed call, or one that
        hits a limit, is a status of its own."""
        from chil_core.capabilities.logic_program import load_decide_call

        self._count(len(calls))
        solver = self.solver(minimal_cores=False)
        out: list[ToolResult | Any] = []
        for call in calls:
            try:
                out.append(self.decide_job(load_decide_call(call.payload), solver))
            except Exception as exc:  # noqa: BLE001 - one bad call is a status, not a failed batch
                out.append(self.failure(exc))
                solver = self.solver(minimal_cores=False)  # its scopes may be left open: start clean
        return out

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        return self.decide(call.payload)

    def decide(self, payload: Any) -> dict[str, Any]:
        """One ``decide`` payload alone."""
        from chil_core.capabilities.logic_program import load_decide_call

        return self.decide_job(load_decide_call(payload), self.solver(minimal_cores=False))

    def decide_job(self, job: Any, solver: Any) -> dict[str, Any]:
        from chil_core.capabilities.logic_program import answer, with_facts

        constants = set(job.theory.constants())
        for extra in job.assume or ():
            constants.update(a for lit in extra for a in lit.args)
        instances = sum(len(constants) ** len(set().union(*(b.variables() for b in r.body))) for r in job.theory.rules)
        if instances > GROUND_LIMIT:
            derivable, clashes = self._quantified(job.theory, job.queries)
            assumed = None if job.assume is None else [self._quantified(with_facts(job.theory, extra), ())[1]
                                                       for extra in job.assume]
            return answer(job.queries, derivable, clashes, assumed)
        solver.push()
        try:
            derivable, clashes, assumed = self._ground(job, sorted(constants), solver)
        finally:
            solver.pop()
        return answer(job.queries, derivable, clashes, assumed)

    def _ground(self, job: Any, constants: list[str], s: Any) -> tuple[dict[Any, bool], list[Any], list[list[Any]] | None]:
        """The theory instantiated over ``constants``, as propositional Horn clauses in ``s``.  Ground
        atoms are plain ``(pred, args, neg)`` tuples here (a ``Literal`` per rule instance cost most of
        the time); rule literals are compiled once to argument templates over the rule's variables."""
        from chil_core.capabilities.logic_program import Literal

        z3, ctx = self.z3, self.ctx
        ids: dict[tuple[str, tuple[str, ...], bool], int] = {}

        def key(lit: Literal) -> tuple[str, tuple[str, ...], bool]:
            return (lit.pred, lit.args, lit.neg)

        def atom(k: tuple[str, tuple[str, ...], bool]) -> str:
            n = ids.get(k)
            if n is None:
                n = ids[k] = len(ids)
            return f"a{n}"

        lines = [atom(key(f)) for f in job.theory.facts]
        clauses: list[str] = []
        heads: set[tuple[str, tuple[str, ...], bool]] = {key(f) for f in job.theory.facts}
        for rule in job.theory.rules:
            names = sorted({a for b in rule.body for a in b.args if a[:1] == "?"})
            index = {n: i for i, n in enumerate(names)}
            # each literal: (pred, neg, ((variable index, -1) | (-1, constant), ...))
            body_t = [(b.pred, b.neg, tuple((index[a], a) if a[:1] == "?" else (-1, a) for a in b.args)) for b in rule.body]
            h = rule.head
            head_t = (h.pred, h.neg, tuple((index[a], a) if a[:1] == "?" else (-1, a) for a in h.args))
            for values in itertools.product(constants, repeat=len(names)):
                body = [atom((p, tuple(values[i] if i >= 0 else c for i, c in spec), neg)) for p, neg, spec in body_t]
                hk = (head_t[0], tuple(values[i] if i >= 0 else c for i, c in head_t[2]), head_t[1])
                heads.add(hk)
                clauses.append(f"(=> {body[0] if len(body) == 1 else '(and ' + ' '.join(body) + ')'} {atom(hk)})")

        def text(facts: list[str], extra_clauses: list[str]) -> str:
            # a solver's SMT-LIB declarations outlive pop(): a0, a1... are declared once per solver
            declared = getattr(s, "_chil_declared", 0)
            decls = "".join(f"(declare-const a{k} Bool)" for k in range(declared, len(ids)))
            s._chil_declared = max(declared, len(ids))
            return decls + "".join(f"(assert {f})" for f in facts) + "".join(f"(assert {c})" for c in extra_clauses)

        s.from_string(text(lines, clauses))
        boolean = z3.Bool

        def holds(lit: Literal) -> bool:
            k = ids.get(key(lit))
            if k is None:  # in no clause: free, so not derivable
                return False
            r = self.check(s, [z3.Not(boolean(f"a{k}", ctx))])
            if r is None:
                raise RuntimeError("z3 returned unknown on a propositional Horn theory")
            return not r

        def clashes(world_heads: set[tuple[str, tuple[str, ...], bool]]) -> list[Literal]:
            both = sorted((p, a) for p, a, neg in world_heads if not neg and (p, a, True) in world_heads)
            if not both:
                return []
            if len(both) > MAX_CLASH_CANDIDATES:
                raise ValueError(f"too many ground atoms to name the clashes (> {MAX_CLASH_CANDIDATES})")
            s.push()
            try:
                s.from_string("".join(f"(assert (not (and {atom((p, a, False))} {atom((p, a, True))})))" for p, a in both))
                if self.check(s, []) is not False:
                    return []
            finally:
                s.pop()
            # some atom is derived both ways: exactly which, one check per candidate
            out = []
            for p, a in both:
                s.push()
                try:
                    s.from_string(f"(assert (not (and {atom((p, a, False))} {atom((p, a, True))})))")
                    if self.check(s, []) is False:
                        out.append(Literal(p, a))
                finally:
                    s.pop()
            return out

        derivable = {lit: holds(lit) for q in job.queries for lit in (q, q.complement())}
        base = clashes(heads)
        assumed: list[list[Literal]] | None = None
        if job.assume is not None:
            assumed = []
            for extra in job.assume:
                s.push()
                try:
                    facts = [atom(key(x)) for x in extra]
                    s.from_string(text(facts, []))
                    assumed.append(clashes(heads | {key(x) for x in extra}))
                finally:
                    s.pop()
        return derivable, base, assumed

    def _quantified(self, theory: Any, queries: Any) -> tuple[dict[Any, bool], list[Any]]:
        """The theory over an uninterpreted sort, rules universally quantified, in a fresh solver."""
        from chil_core.capabilities.logic_program import Literal, is_var

        z3, ctx = self.z3, self.ctx
        U = z3.DeclareSort("U", ctx)
        funcs: dict[tuple[str, int, bool], Any] = {}
        consts: dict[str, Any] = {}

        def atom(lit: Literal, env: dict[str, Any]) -> Any:
            key = (lit.pred, len(lit.args), lit.neg)
            f = funcs.get(key)
            if f is None:
                tag = f"{'-' if lit.neg else '+'}{lit.pred}/{len(lit.args)}"
                f = funcs[key] = z3.Function(tag, *([U] * len(lit.args)), z3.BoolSort(ctx))
            args = []
            for a in lit.args:
                if is_var(a):
                    args.append(env[a])
                else:
                    c = consts.get(a)
                    if c is None:
                        c = consts[a] = z3.Const(f"'{a}", U)
                    args.append(c)
            return self.app(f, args)

        s = self.solver(minimal_cores=False)
        s.add(*(atom(f, {}) for f in theory.facts))
        for rule in theory.rules:
            names = sorted(set().union(*(b.variables() for b in rule.body)))
            env = {v: z3.Const(f"{v}!{i}", U) for i, v in enumerate(names)}
            clause = z3.Implies(z3.And(*(atom(b, env) for b in rule.body)), atom(rule.head, env))
            s.add(z3.ForAll(list(env.values()), clause) if env else clause)

        derivable: dict[Literal, bool] = {}
        for q in queries:
            for lit in (q, q.complement()):
                if lit not in derivable:
                    guard = z3.Bool(f"q{len(derivable)}", ctx)
                    s.add(z3.Implies(guard, z3.Not(atom(lit, {}))))
                    derivable[lit] = self._holds(s, guard)
        return derivable, self._clashes(s, theory, atom)

    def _holds(self, s: Any, guard: Any) -> bool:
        r = self.check(s, [guard])
        if r is None:  # definite clauses over constants: Z3 decides them; unknown means a bug
            raise RuntimeError("z3 returned unknown on a definite-clause theory")
        return not r

    def _clashes(self, s: Any, theory: Any, atom: Any) -> list[Any]:
        """Atoms derived both ways.  One check with a guarded "no clash" axiom per predicate that occurs
        with both signs answers the common case; only predicates in the unsat core are then enumerated
        over the theory's constants, one guard per ground atom, to name the clashes."""
        from chil_core.capabilities.logic_program import MAX_CLASHES, Literal

        z3 = self.z3
        heads = {f.key + (f.neg,) for f in theory.facts} | {r.head.key + (r.head.neg,) for r in theory.rules}
        both = sorted({(p, n) for p, n, _ in heads if (p, n, True) in heads and (p, n, False) in heads})
        if not both:
            return []
        U = z3.DeclareSort("U", self.ctx)
        guards = {}
        for pred, n in both:
            xs = [z3.Const(f"?c{i}", U) for i in range(n)]
            env = {f"?c{i}": x for i, x in enumerate(xs)}
            lit = Literal(pred, tuple(env))
            clash = z3.And(atom(lit, env), atom(lit.complement(), env))
            g = z3.Bool(f"k:{pred}/{n}", self.ctx)
            s.add(z3.Implies(g, z3.ForAll(xs, z3.Not(clash)) if xs else z3.Not(clash)))
            guards[str(g)] = (pred, n)
        s.set("core.minimize", True)  # cores name the clashes from here on
        clashing: list[tuple[str, int]] = []
        active = [z3.Bool(name, self.ctx) for name in guards]
        while active and self.check(s, active) is False:  # each minimal core names clashing predicates
            core = {str(g) for g in s.unsat_core()}
            clashing.extend(guards[name] for name in sorted(core))
            active = [g for g in active if str(g) not in core]
        if not clashing:
            return []
        consts = sorted(theory.constants())
        if sum(len(consts) ** n for _, n in clashing) > MAX_CLASH_CANDIDATES:
            raise ValueError(f"too many ground atoms to name the clashes (> {MAX_CLASH_CANDIDATES})")
        ground: dict[str, Literal] = {}
        for pred, n in clashing:
            for args in itertools.product(consts, repeat=n):
                lit = Literal(pred, args)
                g = z3.Bool(f"k{len(ground)}", self.ctx)
                s.add(z3.Implies(g, z3.Not(z3.And(atom(lit, {}), atom(lit.complement(), {})))))
                ground[str(g)] = lit
        clashes: list[Literal] = []
        active = [z3.Bool(name, self.ctx) for name in ground]
        while active and len(clashes) < MAX_CLASHES:
            if self.check(s, active) is not False:
                break
            core = {str(x) for x in s.unsat_core()}
            clashes.extend(ground[name] for name in sorted(core))
            active = [g for g in active if str(g) not in core]
        return clashes
