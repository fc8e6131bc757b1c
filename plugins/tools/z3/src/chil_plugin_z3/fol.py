"""The ``smt`` op ``fol``: first-order entailment with Z3.

Payload (the AST is the one ``chil_core.capabilities.smt`` produces, documented in the README)::

    {"premises": [ast, ...], "claims": [ast, ...], "joint": true}

Value::

    {"premises_consistent": true | false | null,
     "premise_core": [i, ...],                       # when the premises contradict each other
     "claims": [                                     # one per claim; empty when premises are inconsistent{"verdict": "entailed" | "contradicted" | "undetermined" | "unknown",
                 "core": [i, ...]}, ...],            # premises used (unsat core) for entailed / contradicted
     "conflicts": [[j, k, ...], ...]}                # with joint: undetermined claims jointly inconsistent
                                                     # with the premises (a minimal unsat core each)

Terms live in one uninterpreted sort ``U``; predicates are functions ``U^n → Bool`` named
``Name/n``, constants and functions are uninterpreted too (no unique-name assumption: two constants
may denote one thing, as in plain first-order logic).  A claim C is *entailed* when premises ∧ ¬C is
unsat, *contradicted* when premises ∧ C is unsat, *undetermined* when both are sat, *unknown* when Z3
cannot decide (quantifier incompleteness).  Premises and claims are guarded by assumption literals,
so one solver answers every check and unsat cores name premises by index.
"""

from __future__ import annotations

from typing import Any

MAX_CONFLICTS = 8
_NAME_MAX = 200


class AstError(ValueError):
    """A malformed AST node; the message names where."""


class Translator:
    """AST → Z3 expressions in one context; counts nodes against ``max_nodes``."""

    def __init__(self, z3: Any, ctx: Any, max_nodes: int) -> None:
        self.z3 = z3
        self.ctx = ctx
        self.U = z3.DeclareSort("U", ctx)
        self.B = z3.BoolSort(ctx)
        self.functions: dict[tuple[str, int, bool], Any] = {}
        self.budget = max_nodes
        self.fresh = 0

    def _tick(self, where: str) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise AstError(f"{where}: formula too large (raise tools.z3.max_nodes)")

    @staticmethod
    def _name(node: list[Any], where: str) -> str:
        name = node[1] if len(node) > 1 else None
        if not isinstance(name, str) or not name or len(name) > _NAME_MAX:
            raise AstError(f"{where}: a name must be a non-empty string of at most {_NAME_MAX} characters")
        return name

    def _function(self, name: str, arity: int, boolean: bool) -> Any:
        key = (name, arity, boolean)
        f = self.functions.get(key)
        if f is None:
            rng = self.B if boolean else self.U
            tag = f"{name}/{arity}" if boolean else f"{name}#{arity}"
            f = self.z3.Function(tag, *([self.U] * arity), rng) if arity else self.z3.Const(tag, rng)
            self.functions[key] = f
        return f

    def term(self, node: Any, env: dict[str, Any], where: str) -> Any:
        self._tick(where)
        if not isinstance(node, list) or not node:
            raise AstError(f"{where}: a term must be a non-empty list, got {node!r:.60}")
        tag = node[0]
        if tag == "var":
            name = self._name(node, where)
            if name not in env:
                raise AstError(f"{where}: variable {name!r} is not bound by a quantifier")
            return env[name]
        if tag == "const":
            return self._function(self._name(node, where), 0, False)
        if tag == "fn":
            args = self._args(node, env, where)
            return self._function(self._name(node, where), len(args), False)(*args)
        raise AstError(f"{where}: unknown term node {tag!r:.40}")

    def _args(self, node: list[Any], env: dict[str, Any], where: str) -> list[Any]:
        if len(node) != 3 or not isinstance(node[2], list):
            raise AstError(f"{where}: {node[0]!r} needs [tag, name, [args]]")
        return [self.term(a, env, where) for a in node[2]]

    def formula(self, node: Any, env: dict[str, Any], where: str) -> Any:
        z3 = self.z3
        self._tick(where)
        if not isinstance(node, list) or not node or not isinstance(node[0], str):
            raise AstError(f"{where}: a formula must be a list starting with its tag, got {node!r:.60}")
        tag, n = node[0], len(node)
        if tag == "atom":
            args = self._args(node, env, where)
            f = self._function(self._name(node, where), len(args), True)
            return f(*args) if args else f
        if tag == "not" and n == 2:
            return z3.Not(self.formula(node[1], env, where), self.ctx)
        if tag in ("and", "or") and n == 2 and isinstance(node[1], list):
            parts = [self.formula(x, env, where) for x in node[1]]
            if not parts:
                return z3.BoolVal(tag == "and", self.ctx)
            return (z3.And if tag == "and" else z3.Or)(*parts)
        if tag in ("xor", "implies", "iff") and n == 3:
            a, b = self.formula(node[1], env, where), self.formula(node[2], env, where)
            if tag == "xor":
                return z3.Xor(a, b, self.ctx)
            return z3.Implies(a, b, self.ctx) if tag == "implies" else a == b
        if tag == "eq" and n == 3:
            return self.term(node[1], env, where) == self.term(node[2], env, where)
        if tag in ("forall", "exists") and n == 3:
            names = node[1]
            if not isinstance(names, list) or not names or not all(isinstance(v, str) and v for v in names):
                raise AstError(f"{where}: {tag} needs a non-empty list of variable names")
            inner = dict(env)
            bound = []
            for v in names:
                self.fresh += 1
                inner[v] = z3.Const(f"{v}!{self.fresh}", self.U)
                bound.append(inner[v])
            body = self.formula(node[2], inner, where)
            return (z3.ForAll if tag == "forall" else z3.Exists)(bound, body)
        if tag in ("true", "false") and n == 1:
            return z3.BoolVal(tag == "true", self.ctx)
        raise AstError(f"{where}: unknown or malformed formula node {tag!r:.40} with {n - 1} field(s)")


def decide_fol(tool: Any, payload: dict[str, Any]) -> dict[str, Any]:
    """Run the ``fol`` op on a :class:`~chil_plugin_z3.base.Z3Tool` (see the module docstring)."""
    premises, claims = payload.get("premises"), payload.get("claims")
    if not isinstance(premises, list):
        raise AstError("payload.premises must be a list of formulas")
    if not isinstance(claims, list):
        raise AstError("payload.claims must be a list of formulas")
    z3 = tool.z3
    # a context of its own: the unsat cores (the evidence) are then a function of the call, not of the
    # calls this worker served before (in the shared context, f50 of benchmarks/faults.py's FOLIO
    # records got core [2, 3, 4] or [2, 3, 5] depending on them, so a cached result and a fresh one
    # named different premises); ~3 ms a call (FOLIO's take ~17 ms)
    ctx = z3.Context()
    tr = Translator(z3, ctx, tool.options.max_nodes)
    s = tool.solver(minimal_cores=True, ctx=ctx)
    p_lits, c_lits, n_lits = [], [], []
    for i, ast in enumerate(premises):
        lit = z3.Bool(f"p{i}", ctx)
        s.add(z3.Implies(lit, tr.formula(ast, {}, f"premises[{i}]")))
        p_lits.append(lit)
    for j, ast in enumerate(claims):
        f = tr.formula(ast, {}, f"claims[{j}]")
        c, n = z3.Bool(f"c{j}", ctx), z3.Bool(f"n{j}", ctx)
        s.add(z3.Implies(c, f), z3.Implies(n, z3.Not(f)))
        c_lits.append(c)
        n_lits.append(n)
    index = {str(lit): i for i, lit in enumerate(p_lits)}

    def premise_core() -> list[int]:
        return sorted(index[str(x)] for x in s.unsat_core() if str(x) in index)

    consistent = tool.check(s, p_lits)
    out: dict[str, Any] = {"premises_consistent": consistent, "claims": [], "conflicts": []}
    if consistent is False:
        out["premise_core"] = premise_core()
        return out
    for j in range(len(claims)):
        neg = tool.check(s, [*p_lits, n_lits[j]])
        if neg is False:
            out["claims"].append({"verdict": "entailed", "core": premise_core()})
            continue
        pos = tool.check(s, [*p_lits, c_lits[j]])
        if pos is False:
            out["claims"].append({"verdict": "contradicted", "core": premise_core()})
        elif neg is None or pos is None:
            out["claims"].append({"verdict": "unknown", "core": []})
        else:
            out["claims"].append({"verdict": "undetermined", "core": []})
    if payload.get("joint"):
        out["conflicts"] = _conflicts(tool, s, p_lits, c_lits, out["claims"])
    return out


def _conflicts(tool: Any, s: Any, p_lits: list[Any], c_lits: list[Any], verdicts: list[dict[str, Any]]) -> list[list[int]]:
    """Minimal sets of undetermined claims that the premises make jointly impossible."""
    active = [j for j, v in enumerate(verdicts) if v["verdict"] == "undetermined"]
    index = {str(c_lits[j]): j for j in active}
    found: list[list[int]] = []
    while len(active) > 1 and len(found) < MAX_CONFLICTS:
        if tool.check(s, [*p_lits, *(c_lits[j] for j in active)]) is not False:
            break
        core = sorted(index[str(x)] for x in s.unsat_core() if str(x) in index)
        if len(core) < 2:
            break
        found.append(core)
        active.remove(core[-1])
    return found
