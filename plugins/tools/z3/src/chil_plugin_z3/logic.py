"""``Z3Logic``: the ``logic_program`` capability (op ``decide``) decided by Z3.

The payload, the answer and the semantics are those of ``chil_core.capabilities.logic_program``.  Each
atom sign is an atom of its own (strong negation), facts are ground atoms, rules definite clauses.  A
literal is derivable exactly when theory ∧ ¬literal is unsat (definite clauses: the least model
decides), so Z3 computes the same closure as the Prolog and Datalog backends, by refutation instead of
chaining.

A batch is decided with **one solver**:

- **Ground** (the common case: at most ``GROUND_LIMIT`` rule instances): the rules are instantiated
  over the theory's constants (exact for function-free definite clauses: nothing about another
  constant is derivable) and the clauses handed to Z3 as SMT-LIB text over Boolean atoms, so each
  check is propositional.  Theories are decided **together**, up to ``GROUP_LIMIT`` clauses in one
  ``push``/``pop`` scope, each theory's atoms numbered apart: a literal is derivable exactly when it
  is true in every model, so one check finds a model (a literal false in it is not derivable) and
  one more confirms that every literal true in it is (the clauses with "one of them is false" are
  unsat; when they are not, the literals false in that model drop out and the rest are asked again).
  A query's answer and the clashes (atoms derived both ways: candidates are the atoms that occur as
  a head with both signs) are read from that; each assumed set's world adds its facts in a scope of
  its own, the k-th set of every theory of the group at once.  Should a joint check hit a limit,
  each theory of the group is decided alone: a limit is only ever its own theory's status.
- **Quantified** (larger groundings): facts over one uninterpreted sort, rules as universally
  quantified clauses, consistency guarded per predicate and the clashes named through unsat cores, in
  a fresh solver per theory.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any, ClassVar

from chil_core import ToolCall, ToolResult
from chil_plugin_z3.base import Z3Tool

log = logging.getLogger(__name__)

#: ground atoms enumerated to name clashes; more (a huge relation that clashes) is an error.
MAX_CLASH_CANDIDATES = 20_000
#: rule instances (constants ** variables, summed over rules) up to which a theory is decided ground
GROUND_LIMIT = 20_000
#: rule instances and facts, summed over theories, up to which theories are decided together
GROUP_LIMIT = 5_000


def _rule_clauses(rules: Any, constants: list[str], atom: Any, heads: set[Any]) -> Any:
    """Each rule instantiated over ``constants``: one clause ``(=> body head)`` per instance over the
    atoms ``atom`` names for ground ``(pred, args, neg)`` keys; every instance's head key is added to
    ``heads``.  Rule literals are compiled once to argument templates over the rule's variables."""
    for rule in rules:
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
            yield f"(=> {body[0] if len(body) == 1 else '(and ' + ' '.join(body) + ')'} {atom(hk)})"


def _clash_candidates(world_heads: set[Any]) -> list[tuple[str, tuple[str, ...]]]:
    """The ground atoms ``(pred, args)`` that occur among a world's ``(pred, args, neg)`` heads with both
    signs, sorted: the only atoms it can derive both ways.  More than ``MAX_CLASH_CANDIDATES`` is an error."""
    both = sorted((p, a) for p, a, neg in world_heads if not neg and (p, a, True) in world_heads)
    if len(both) > MAX_CLASH_CANDIDATES:
        raise ValueError(f"too many ground atoms to name the clashes (> {MAX_CLASH_CANDIDATES})")
    return both


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
    #: its worker spends twice the event loop's CPU a record (ProofWriter: ~1.1 against ~0.45 ms): a
    #: second one decides the next batch meanwhile (2 cores, benchmarks/bench_consistency.py, cold,
    #: alternating runs: ProofWriter 824 / 717 -> 1,131 / 1,187 records/s, ProntoQA 748 / 778 ->
    #: 915 / 986).  Elastic: it starts only when a batch waits for the first.
    workers: ClassVar[int | None] = 2

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        """Every call of the batch with one solver: the ground-mode theories in groups decided
        together (:meth:`_ground_group`), a larger one alone; a malformed call, or one that hits a
        limit, is a status of its own."""
        from chil_core.capabilities.logic_program import load_decide_call

        self._count(len(calls))
        solver = self.solver(minimal_cores=False)
        out: list[ToolResult | Any] = [None] * len(calls)
        group: list[tuple[int, Any, list[str]]] = []  # (index, job, constants) decided together
        size = 0

        def flush() -> None:
            nonlocal solver, size
            if group:
                solver = self._decide_group(group, solver, out)
                group.clear()
            size = 0

        for i, call in enumerate(calls):
            try:
                job = load_decide_call(call.payload)
                constants, instances = _grounding(job)
            except Exception as exc:  # noqa: BLE001 - one bad call is a status, not a failed batch
                out[i] = self.failure(exc)
                continue
            if instances > GROUND_LIMIT:
                try:
                    out[i] = self._quantified_job(job)
                except Exception as exc:  # noqa: BLE001
                    out[i] = self.failure(exc)
                continue
            if size + instances + len(job.theory.facts) > GROUP_LIMIT:
                flush()
            group.append((i, job, constants))
            size += instances + len(job.theory.facts)
        flush()
        return out

    def _decide_group(self, group: list[tuple[int, Any, list[str]]], solver: Any, out: list[Any]) -> Any:
        """A group's answers into ``out``; the solver to go on with.  Should the joint checks give up
        (a limit), each theory of the group is decided alone, so a limit is only ever its own."""
        if len(group) > 1:
            try:
                for (i, _, _), value in zip(group, self._ground_group([(j, c) for _, j, c in group], solver), strict=True):
                    out[i] = value
                return solver
            except Exception:  # noqa: BLE001 - each alone below; the culprit gets its own status
                log.warning("z3: %d theories decided together gave up; deciding each alone", len(group), exc_info=True)
                solver = self.solver(minimal_cores=False)
        for i, job, constants in group:
            try:
                out[i] = self._alone(job, constants, solver)
            except Exception as exc:  # noqa: BLE001
                out[i] = self.failure(exc)
                solver = self.solver(minimal_cores=False)  # its scopes may be left open: start clean
        return solver

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        return self.decide(call.payload)

    def decide(self, payload: Any) -> dict[str, Any] | ToolResult:
        """One ``decide`` payload alone."""
        from chil_core.capabilities.logic_program import load_decide_call

        job = load_decide_call(payload)
        constants, instances = _grounding(job)
        if instances > GROUND_LIMIT:
            return self._quantified_job(job)
        return self._alone(job, constants, self.solver(minimal_cores=False))

    def _alone(self, job: Any, constants: list[str], solver: Any) -> dict[str, Any]:
        from chil_core.capabilities.logic_program import answer

        solver.push()
        try:
            derivable, clashes, assumed = self._ground_one(job, constants, solver)
        finally:
            solver.pop()
        return answer(job.queries, derivable, clashes, assumed)

    def _quantified_job(self, job: Any) -> dict[str, Any]:
        from chil_core.capabilities.logic_program import answer, with_facts

        derivable, clashes = self._quantified(job.theory, job.queries)
        assumed = None if job.assume is None else [self._quantified(with_facts(job.theory, extra), ())[1]
                                                   for extra in job.assume]
        return answer(job.queries, derivable, clashes, assumed)

    def _ground_one(self, job: Any, constants: list[str], s: Any) -> tuple[dict[Any, bool], list[Any], list[list[Any]] | None]:
        """One theory alone (a batch of one: the naive loop's case, or a group's fallback), instantiated
        over ``constants`` as propositional Horn clauses in ``s``: one check per query literal (under
        the assumption ¬literal) and one for consistency, cheaper for one theory than a model
        (:meth:`_ground_group`).  Ground
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
        clauses.extend(_rule_clauses(job.theory.rules, constants, atom, heads))

        def text(facts: list[str], extra_clauses: list[str]) -> str:
            return self._declare(s, 0, len(ids)) + "".join(f"(assert {f})" for f in facts) + "".join(f"(assert {c})" for c in extra_clauses)

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
            both = _clash_candidates(world_heads)
            if not both:
                return []
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


    def _ground_group(self, group: list[tuple[Any, list[str]]], s: Any) -> list[dict[str, Any]]:
        """Theories instantiated over their constants, as propositional Horn clauses, all in one scope
        of ``s`` (each theory's atoms numbered apart from the others', so they share no atom).  Ground
        atoms are plain ``(pred, args, neg)`` tuples here (a ``Literal`` per rule instance cost most of
        the time); rule literals are compiled once to argument templates over the rule's variables.

        What is derivable is found with a few checks for the whole group, not one per literal
        (:meth:`_derived`): world 0 (every theory alone) answers the queries and the clashes, then
        each assumed set's extra facts are added, the k-th set of every theory at once (a theory's
        worlds share its atoms, different theories' worlds do not), and its clashes read."""
        from chil_core.capabilities.logic_program import Literal, answer

        Key = tuple[str, tuple[str, ...], bool]
        counter = 0  # atoms a0, a1...: declared once per solver (declarations outlive pop), reused by each scope
        texts: list[str] = []
        prepared: list[tuple[dict[Key, int], set[Key]]] = []

        for job, constants in group:
            ids: dict[Key, int] = {}

            def atom(k: Key, ids: dict[Key, int] = ids) -> str:
                nonlocal counter
                n = ids.get(k)
                if n is None:
                    n = ids[k] = counter
                    counter += 1
                return f"a{n}"

            heads: set[Key] = set()
            for f in job.theory.facts:
                k = (f.pred, f.args, f.neg)
                heads.add(k)
                texts.append(f"(assert {atom(k)})")
            texts.extend(f"(assert {c})" for c in _rule_clauses(job.theory.rules, constants, atom, heads))
            prepared.append((ids, heads))

        def both(ids: dict[Key, int], world_heads: set[Key]) -> list[tuple[str, tuple[str, ...], int, int]]:
            """The atoms a world derives both ways when it derives every rule head: (pred, args, +id, -id)."""
            return [(p, a, ids[(p, a, False)], ids[(p, a, True)]) for p, a in _clash_candidates(world_heads)]

        s.push()
        try:
            s.from_string(self._declare(s, 0, counter) + "".join(texts))
            # world 0: the queries and the theory's own clashes
            asked: list[dict[Literal, int | None]] = []
            pairs0 = []
            wanted: set[int] = set()
            for (job, _), (ids, heads) in zip(group, prepared, strict=True):
                lits = {lit: ids.get((lit.pred, lit.args, lit.neg)) for q in job.queries for lit in (q, q.complement())}
                asked.append(lits)
                pairs0.append(both(ids, heads))
                wanted.update(n for n in lits.values() if n is not None)
                wanted.update(n for _, _, pos, neg in pairs0[-1] for n in (pos, neg))
            derived = self._derived(s, wanted)
            results: list[tuple[dict[Literal, bool], list[Literal], list[list[Literal]] | None]] = []
            for (job, _), lits, pairs in zip(group, asked, pairs0, strict=True):
                derivable = {lit: n is not None and n in derived for lit, n in lits.items()}
                clashes = [Literal(p, a) for p, a, pos, neg in pairs if pos in derived and neg in derived]
                results.append((derivable, clashes, None if job.assume is None else []))
            # assumed worlds: the k-th set of every theory that has one, in one scope
            layers = max((len(job.assume) for job, _ in group if job.assume is not None), default=0)
            for k in range(layers):
                start = counter
                facts: list[str] = []
                members: list[tuple[int, list[tuple[str, tuple[str, ...], int, int]]]] = []
                wanted = set()
                for g, ((job, _), (ids, heads)) in enumerate(zip(group, prepared, strict=True)):
                    if job.assume is None or k >= len(job.assume):
                        continue
                    extra = [(x.pred, x.args, x.neg) for x in job.assume[k]]
                    for key in extra:
                        n = ids.get(key)
                        if n is None:
                            n = ids[key] = counter
                            counter += 1
                        facts.append(f"(assert a{n})")
                    pairs = both(ids, heads | set(extra))
                    members.append((g, pairs))
                    wanted.update(n for _, _, pos, neg in pairs for n in (pos, neg))
                s.push()
                try:
                    s.from_string(self._declare(s, start, counter) + "".join(facts))
                    derived = self._derived(s, wanted)
                finally:
                    s.pop()
                for g, pairs in members:
                    results[g][2].append([Literal(p, a) for p, a, pos, neg in pairs if pos in derived and neg in derived])
        finally:
            s.pop()
        return [answer(job.queries, derivable, clashes, assumed)
                for (job, _), (derivable, clashes, assumed) in zip(group, results, strict=True)]

    @staticmethod
    def _declare(s: Any, start: int, end: int) -> str:
        """Declarations of the atoms ``a{start}``..``a{end - 1}`` that ``s`` has not declared yet (a
        solver's SMT-LIB declarations outlive ``pop()``: each atom is declared once per solver)."""
        declared = getattr(s, "_chil_declared", 0)
        s._chil_declared = max(declared, end)
        return "".join(f"(declare-const a{k} Bool)" for k in range(max(declared, start), end))

    def _derived(self, s: Any, atoms: set[int]) -> set[int]:
        """Which of the atoms ``a{n}`` the clauses in ``s`` derive (definite clauses: derivable exactly
        when true in every model).  One check finds a model: an atom false in it is not derivable.
        Then one check asks whether the atoms true in it can be false together with the clauses
        (one at least); unsat: every one is derivable; sat: those false in that model are not, and
        the rest are asked again, each round fewer (usually one round: Z3's models of definite
        clauses are mostly the least one).  Each check is :meth:`check`'s: bounded by the timeout and
        the resource limit."""
        if not atoms:
            return set()
        if self.check(s, []) is not True:  # definite clauses are satisfiable: unknown means a limit
            raise RuntimeError("z3 found no model of a propositional Horn theory")
        candidates = self._true_in(s, atoms)
        while candidates:
            guard = getattr(s, "_chil_guards", 0)
            s._chil_guards = guard + 1
            negs = " ".join(f"(not a{n})" for n in sorted(candidates))
            s.from_string(f"(declare-const g{guard} Bool)(assert (=> g{guard} (or {negs} false)))")
            r = self.check(s, [self.z3.Bool(f"g{guard}", self.ctx)])
            if r is False:
                return candidates
            if r is None:
                raise RuntimeError("z3 returned unknown on a propositional Horn theory")
            left = self._true_in(s, candidates)
            if len(left) >= len(candidates):  # cannot be: the guard's clause made one of them false
                raise RuntimeError("z3 returned a model that breaks its guard")
            candidates = left
        return set()

    def _true_in(self, s: Any, atoms: set[int]) -> set[int]:
        """The atoms true in ``s``'s model (read through the C API: one model evaluation each)."""
        z3 = self.z3
        ref = self.ctx.ref()
        model = s.model()
        mref = model.model
        out = set()
        value = (z3.Ast * 1)()
        for n in atoms:
            a = z3.Bool(f"a{n}", self.ctx).as_ast()
            if z3.Z3_model_eval(ref, mref, a, True, value) and z3.Z3_get_bool_value(ref, value[0]) == z3.Z3_L_TRUE:
                out.add(n)
        return out

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


def _grounding(job: Any) -> tuple[list[str], int]:
    """A job's constants (its theory's and its assumed sets'), sorted, and its rule instances
    (constants ** variables, summed over rules)."""
    constants = set(job.theory.constants())
    for extra in job.assume or ():
        constants.update(a for lit in extra for a in lit.args)
    instances = sum(len(constants) ** len(set().union(*(b.variables() for b in r.body))) for r in job.theory.rules)
    return sorted(constants), instances
