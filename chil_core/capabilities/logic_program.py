"""The ``logic_program`` capability's data: literals, rules, theories, and the ``decide`` op contract.

Every ``logic_program`` backend (z3, prolog, clingo, souffle) validates its payload with
:func:`load_decide` and answers with :func:`answer`, so they accept the same input and
report the same way; only the reasoning in between is theirs.

Payload of op ``decide``::

    {"theory": {"facts": [lit, ...], "rules": [{"if": [lit, ...], "then": lit}, ...]},
     "queries": [lit, ...]}
    lit  = {"pred": "red", "args": ["bob"], "neg": false}      # "Bob is red."
    args: constants are strings; variables are strings starting with "?" ("?x"), only in rules.

Value::

    {"consistent": bool,                 # no atom is derived both positive and negative
     "clashes": [lit, ...],              # some atoms derived both ways (evidence; at most 10)
     "answers": ["entailed" | "contradicted" | "undetermined" | "both", ...]}   # one per query

Semantics (open world with strong negation, as in ProofWriter's OWA theories): a negated literal
("Bob is not big.") is an atom of its own, ``¬big``, not the failure to prove ``big``.  The theory is
a set of definite clauses over those atoms; a query is *entailed* when its literal is derivable,
*contradicted* when its complement is, *both* when the theory derives the two, *undetermined* when
neither.  There is no contraposition ("red things are big" and "Bob is not big" do not give "Bob is
not red"): the same closure every backend computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_STATEMENTS = 5_000
MAX_ARITY = 8
MAX_BODY = 16
MAX_RULE_VARIABLES = 4
MAX_GROUNDINGS = 1_000_000  # bounds the grounding of one rule: constants ** variables
MAX_NAME = 200
MAX_CLASHES = 10


class TheoryError(ValueError):
    """A malformed ``decide`` payload; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class Literal:
    """``pred(args)`` or its strong negation; variables are args starting with ``?``."""

    pred: str
    args: tuple[str, ...]
    neg: bool = False

    @property
    def key(self) -> tuple[str, int]:
        return (self.pred, len(self.args))

    def complement(self) -> Literal:
        return Literal(self.pred, self.args, not self.neg)

    def variables(self) -> set[str]:
        return {a for a in self.args if is_var(a)}

    def to_json(self) -> dict[str, Any]:
        return {"pred": self.pred, "args": list(self.args), "neg": self.neg}


@dataclass(frozen=True, slots=True)
class Rule:
    """``body → head``: every head variable occurs in the body (range-restricted)."""

    body: tuple[Literal, ...]
    head: Literal

    def to_json(self) -> dict[str, Any]:
        return {"if": [lit.to_json() for lit in self.body], "then": self.head.to_json()}


@dataclass(frozen=True, slots=True)
class Theory:
    facts: tuple[Literal, ...]
    rules: tuple[Rule, ...]

    def to_json(self) -> dict[str, Any]:
        return {"facts": [f.to_json() for f in self.facts], "rules": [r.to_json() for r in self.rules]}

    def predicates(self) -> set[tuple[str, int]]:
        """(name, arity) of every predicate the theory mentions."""
        out = {f.key for f in self.facts}
        for r in self.rules:
            out.add(r.head.key)
            out.update(lit.key for lit in r.body)
        return out

    def constants(self) -> set[str]:
        out = {a for f in self.facts for a in f.args}
        for r in self.rules:
            for lit in (*r.body, r.head):
                out.update(a for a in lit.args if not is_var(a))
        return out


def is_var(term: str) -> bool:
    return term.startswith("?")


def variable_names(rule: Rule, prefix: str = "V") -> dict[str, str]:
    """Backend names (``V0``, ``V1``...) for a rule's variables, numbered in order of first appearance in
    its body (a rule's head variables all occur in its body)."""
    names: dict[str, str] = {}
    for lit in rule.body:
        for a in lit.args:
            if is_var(a) and a not in names:
                names[a] = f"{prefix}{len(names)}"
    return names


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_NAME:
        raise TheoryError(f"{where} must be a non-empty string of at most {MAX_NAME} characters")
    if "\x00" in value:
        raise TheoryError(f"{where} must not contain NUL characters")
    return value


def literal(data: Any, where: str, *, ground: bool) -> Literal:
    """Validate one literal dict; ``ground`` forbids variables."""
    if not isinstance(data, dict):
        raise TheoryError(f"{where} must be an object {{pred, args, neg}}, got {type(data).__name__}")
    unknown = set(data) - {"pred", "args", "neg"}
    if unknown:
        raise TheoryError(f"{where} has unknown field(s) {sorted(unknown)}")
    pred = _name(data.get("pred"), f"{where}.pred")
    args = data.get("args", [])
    if not isinstance(args, list) or len(args) > MAX_ARITY:
        raise TheoryError(f"{where}.args must be a list of at most {MAX_ARITY} strings")
    terms = tuple(_name(a, f"{where}.args[{i}]") for i, a in enumerate(args))
    neg = data.get("neg", False)
    if not isinstance(neg, bool):
        raise TheoryError(f"{where}.neg must be true or false")
    lit = Literal(pred, terms, neg)
    if ground and lit.variables():
        raise TheoryError(f"{where} must be ground, but has variable(s) {sorted(lit.variables())}")
    return lit


def load_theory(data: Any, where: str = "theory") -> Theory:
    if not isinstance(data, dict):
        raise TheoryError(f"{where} must be an object {{facts, rules}}")
    facts_in, rules_in = data.get("facts", []), data.get("rules", [])
    if not isinstance(facts_in, list) or not isinstance(rules_in, list):
        raise TheoryError(f"{where}.facts and {where}.rules must be lists")
    if len(facts_in) + len(rules_in) > MAX_STATEMENTS:
        raise TheoryError(f"{where} has more than {MAX_STATEMENTS} facts and rules")
    facts = tuple(literal(f, f"{where}.facts[{i}]", ground=True) for i, f in enumerate(facts_in))
    rules = []
    for i, r in enumerate(rules_in):
        w = f"{where}.rules[{i}]"
        if not isinstance(r, dict) or set(r) != {"if", "then"}:
            raise TheoryError(f"{w} must be an object with exactly the fields 'if' and 'then'")
        if not isinstance(r["if"], list) or not 1 <= len(r["if"]) <= MAX_BODY:
            raise TheoryError(f"{w}.if must be a list of 1 to {MAX_BODY} literals")
        body = tuple(literal(b, f"{w}.if[{k}]", ground=False) for k, b in enumerate(r["if"]))
        head = literal(r["then"], f"{w}.then", ground=False)
        bound = set().union(*(b.variables() for b in body))
        loose = head.variables() - bound
        if loose:
            raise TheoryError(f"{w}: head variable(s) {sorted(loose)} do not occur in the body")
        if len(bound) > MAX_RULE_VARIABLES:
            raise TheoryError(f"{w} has {len(bound)} variables; at most {MAX_RULE_VARIABLES} are allowed")
        rules.append(Rule(body, head))
    theory = Theory(facts, tuple(rules))
    if rules:
        n = len(theory.constants())
        for i, r in enumerate(rules):
            k = len(set().union(*(b.variables() for b in r.body)))
            if n**k > MAX_GROUNDINGS:
                raise TheoryError(f"{where}.rules[{i}]: {k} variables over {n} constants may ground {n}**{k} instances; "
                                  f"at most {MAX_GROUNDINGS} are allowed")
    return theory


def load_decide(payload: Any) -> tuple[Theory, list[Literal]]:
    """Validate a ``decide`` payload into a theory and ground queries."""
    if not isinstance(payload, dict):
        raise TheoryError("payload must be an object {theory, queries}")
    theory = load_theory(payload.get("theory"), "payload.theory")
    queries_in = payload.get("queries", [])
    if not isinstance(queries_in, list) or len(queries_in) > MAX_STATEMENTS:
        raise TheoryError(f"payload.queries must be a list of at most {MAX_STATEMENTS} literals")
    queries = [literal(q, f"payload.queries[{i}]", ground=True) for i, q in enumerate(queries_in)]
    return theory, queries


def verdict(positive: bool, negative: bool) -> str:
    """The answer for a query whose literal is (not) derivable and whose complement is (not)."""
    if positive:
        return "both" if negative else "entailed"
    return "contradicted" if negative else "undetermined"


def answer(queries: list[Literal], derivable: dict[Literal, bool], clashes: list[Literal]) -> dict[str, Any]:
    """The ``decide`` value from a backend's derivability of each query and its complement."""
    return {
        "consistent": not clashes,
        "clashes": [c.to_json() for c in sorted(clashes, key=_order)[:MAX_CLASHES]],
        "answers": [verdict(derivable[q], derivable[q.complement()]) for q in queries],
    }


def _order(lit: Literal) -> tuple[str, tuple[str, ...]]:
    return (lit.pred, lit.args)
