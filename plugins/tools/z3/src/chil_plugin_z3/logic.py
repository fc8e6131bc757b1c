"""``Z3Logic``: the ``logic_program`` capability (op ``decide``) decided by Z3.

The payload, the answer and the semantics are those of ``chil_core.capabilities.logic_program``.  Each
atom sign gets its own predicate (``+red/1`` and ``-red/1``: strong negation), facts are ground atoms
and rules are universally quantified definite clauses over one uninterpreted sort.  A literal is
derivable exactly when theory ∧ ¬literal is unsat (definite clauses: the least model decides), so Z3
computes the same closure as the Prolog and Datalog backends, by refutation instead of chaining.
Consistency is one more check: "no atom holds both ways", guarded per predicate; when it fails, the
clashing atoms are named through unsat cores over ground atoms of the theory's constants.
"""

from __future__ import annotations

import itertools
from typing import Any, ClassVar

from chil_core import ToolCall, ToolResult
from chil_plugin_z3.base import Z3Tool

#: ground atoms enumerated to name clashes; more (a huge relation that clashes) is an error.
MAX_CLASH_CANDIDATES = 20_000


class Z3Logic(Z3Tool):
    """Z3 as a ``logic_program`` backend: open-world decisions over controlled-English theories."""

    name: ClassVar[str] = "z3"
    capability: ClassVar[str] = "logic_program"
    description: ClassVar[str] = "Z3: literal entailment under strong negation (definite clauses, refutation)."
    ops: ClassVar[frozenset[str]] = frozenset({"decide"})
    max_batch: ClassVar[int] = 64
    priority: ClassVar[int] = 5

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        return self.decide(call.payload)

    def decide(self, payload: Any) -> dict[str, Any]:
        from chil_core.capabilities.logic_program import Literal, answer, is_var, load_decide

        theory, queries = load_decide(payload)
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
        return answer(queries, derivable, self._clashes(s, theory, atom))

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
