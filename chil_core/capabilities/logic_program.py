"""The ``logic_program`` capability's data: literals, rules, theories, and the ``decide`` op contract.

Every ``logic_program`` backend (z3, prolog, clingo, souffle) validates its payload with
:func:`load_decide_call` and answers with :func:`answer`, so they accept the same input and
report the same way; only the reasoning in between is theirs.

Payload of op ``decide``::

    {"theory": {"facts": [lit, ...], "rules": [{"if": [lit, ...], "then": lit}, ...]},
     "queries": [lit, ...],
     "assume": [[lit, ...], ...]}        # optional: sets of ground literals, each checked with the theory
    lit  = {"pred": "red", "args": ["bob"], "neg": false}      # "Bob is red."
    args: constants are strings; variables are strings starting with "?" ("?x"), only in rules.

Value::

    {"consistent": bool,                 # no atom is derived both positive and negative
     "clashes": [lit, ...],              # some atoms derived both ways (evidence; at most 10)
     "answers": ["entailed" | "contradicted" | "undetermined" | "both", ...],   # one per query
     "assumed": [{"consistent": bool, "clashes": [lit, ...]}, ...]}   # only with "assume": one per set

``assume`` asks, in the same call, whether the theory stays consistent when each set's literals are
added to it as facts (a completion's claims, jointly: "can these all hold with the premises?"): one
call answers everything a record needs.

**Batching rule.**  A backend's ``run_batch`` receives many ``decide`` calls at once and answers each
exactly as it would answer that call alone: the same value, verdict for verdict and clash for clash,
and a malformed call is an ``error`` of its own that never fails its neighbours.  A backend should
decide a batch in one solver invocation (the clingo, Prolog and Z3 backends do: one program, one
goal, one solver); the conformance suite (:mod:`chil_core.testing.logic_program`) checks batched ==
one by one for every backend.  Such a backend sets ``worker_batch = True`` so that a process-isolated
pool hands it whole batches (the pool re-runs each call of a batch alone when the batch overruns, so
one hostile theory costs its own timeout and no one else's).

Semantics (open world with strong negation, as in ProofWriter's OWA theories): a negated literal
("Bob is not big.") is an atom of its own, ``¬big``, not the failure to prove ``big``.  The theory is
a set of definite clauses over those atoms; a query is *entailed* when its literal is derivable,
*contradicted* when its complement is, *both* when the theory derives the two, *undetermined* when
neither.  There is no contraposition ("red things are big" and "Bob is not big" do not give "Bob is
not red"): the same closure every backend computes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MAX_STATEMENTS = 5_000
MAX_ARITY = 8
MAX_BODY = 16
MAX_RULE_VARIABLES = 4
MAX_GROUNDINGS = 1_000_000  # bounds the grounding of one rule: constants ** variables
MAX_NAME = 200
MAX_CLASHES = 10
MAX_ASSUMPTIONS = 256  # sets in payload.assume


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
    #: what :func:`load_theory` found while checking it: its constants and each rule's variables
    #: (read by :func:`groundings`; None for a theory built otherwise, which then counts them itself)
    shape: tuple[frozenset[str], tuple[int, ...]] | None = field(default=None, compare=False, repr=False)

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


def _fast_literal(data: Any, ground: bool) -> Literal | None:
    """A well-formed literal checked in one pass, or None (then :func:`literal` names what is wrong);
    callers in loops use it first so that the field's name is only formatted for an error."""
    if type(data) is not dict or len(data) > 3:
        return None
    pred = data.get("pred")
    args = data.get("args", _NO_ARGS)
    neg = data.get("neg", False)
    if (type(pred) is not str or not 0 < len(pred) <= MAX_NAME or type(args) is not list or len(args) > MAX_ARITY
            or (neg is not False and neg is not True) or "\x00" in pred or not data.keys() <= _LITERAL_FIELDS):
        return None
    for a in args:
        if type(a) is not str or not 0 < len(a) <= MAX_NAME or "\x00" in a or (ground and a[0] == "?"):
            return None
    return Literal(pred, tuple(args), neg)


_NO_ARGS: list[str] = []


def literal(data: Any, where: str, *, ground: bool) -> Literal:
    """Validate one literal dict; ``ground`` forbids variables."""
    lit = _fast_literal(data, ground)
    if lit is not None:
        return lit
    # the slow path names what is wrong
    if not isinstance(data, dict):
        raise TheoryError(f"{where} must be an object {{pred, args, neg}}, got {type(data).__name__}")
    unknown = set(data) - _LITERAL_FIELDS
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


_LITERAL_FIELDS = frozenset({"pred", "args", "neg"})


def load_theory(data: Any, where: str = "theory", memo: dict[int, tuple[Any, ...]] | None = None) -> Theory:
    """Validate a theory ``{facts, rules}``.  ``memo`` (one batch's, :func:`decide_batch`): the facts and
    rules already checked in this batch, by the identity of their dicts (a framework hands the same
    dict to every theory that repeats a statement), each checked once a batch."""
    if not isinstance(data, dict):
        raise TheoryError(f"{where} must be an object {{facts, rules}}")
    facts_in, rules_in = data.get("facts", []), data.get("rules", [])
    if not isinstance(facts_in, list) or not isinstance(rules_in, list):
        raise TheoryError(f"{where}.facts and {where}.rules must be lists")
    if len(facts_in) + len(rules_in) > MAX_STATEMENTS:
        raise TheoryError(f"{where} has more than {MAX_STATEMENTS} facts and rules")
    if memo is None:
        memo = {}
    facts = []
    consts: set[str] = set()
    for i, f in enumerate(facts_in):
        hit = memo.get(id(f))
        if hit is not None and hit[0] is f and hit[2] < 0:  # (-1: a fact; a rule's is its variables)
            lit = hit[1]
        else:
            lit = _fast_literal(f, True) or literal(f, f"{where}.facts[{i}]", ground=True)
            memo[id(f)] = (f, lit, -1)
        facts.append(lit)
        consts.update(lit.args)
    rules = []
    widths = []  # variables of each rule
    for i, r in enumerate(rules_in):
        hit = memo.get(id(r))
        if hit is not None and hit[0] is r and hit[2] >= 0:
            _, rule, width, named = hit
        else:
            rule, width, named = _rule(r, where, i)
            memo[id(r)] = (r, rule, width, named)
        rules.append(rule)
        widths.append(width)
        if named:
            consts.update(named)
    n = len(consts)
    for i, k in enumerate(widths):
        if n**k > MAX_GROUNDINGS:
            raise TheoryError(f"{where}.rules[{i}]: {k} variables over {n} constants may ground {n}**{k} instances; "
                              f"at most {MAX_GROUNDINGS} are allowed")
    return Theory(tuple(facts), tuple(rules), (frozenset(consts), tuple(widths)))


def _rule(r: Any, where: str, i: int) -> tuple[Rule, int, tuple[str, ...]]:
    """Rule ``i`` of a theory checked: the rule, how many variables it has, and its constants (``where``
    names the theory in an error; the field's name is only formatted for one)."""
    if not isinstance(r, dict) or len(r) != 2 or "if" not in r or "then" not in r:
        raise TheoryError(f"{where}.rules[{i}] must be an object with exactly the fields 'if' and 'then'")
    body_in = r["if"]
    if not isinstance(body_in, list) or not 1 <= len(body_in) <= MAX_BODY:
        raise TheoryError(f"{where}.rules[{i}].if must be a list of 1 to {MAX_BODY} literals")
    body = []
    bound: set[str] = set()
    consts: list[str] = []
    for k, b in enumerate(body_in):
        x = _fast_literal(b, False) or literal(b, f"{where}.rules[{i}].if[{k}]", ground=False)
        body.append(x)
        for a in x.args:
            if a[0] == "?":
                bound.add(a)
            else:
                consts.append(a)
    head = _fast_literal(r["then"], False) or literal(r["then"], f"{where}.rules[{i}].then", ground=False)
    for a in head.args:
        if a[0] != "?":
            consts.append(a)
        elif a not in bound:
            loose = sorted({a for a in head.args if a[:1] == "?"} - bound)
            raise TheoryError(f"{where}.rules[{i}]: head variable(s) {loose} do not occur in the body")
    if len(bound) > MAX_RULE_VARIABLES:
        raise TheoryError(f"{where}.rules[{i}] has {len(bound)} variables; at most {MAX_RULE_VARIABLES} are allowed")
    return Rule(tuple(body), head), len(bound), tuple(consts)


@dataclass(frozen=True, slots=True)
class Decide:
    """A validated ``decide`` payload."""

    theory: Theory
    queries: tuple[Literal, ...]
    #: None when the payload has no ``assume``; else one tuple of ground literals per set
    assume: tuple[tuple[Literal, ...], ...] | None = None

    def worlds(self) -> list[tuple[Literal, ...]]:
        """The extra facts of each world to decide: ``()`` (the theory alone), then each assumed set."""
        return [(), *(self.assume or ())]


#: validated theories by their JSON bytes: a GRPO group (and a batch) repeats one theory many times
_THEORIES: dict[bytes, Theory] = {}
_THEORY_CACHE = 2048


def _theory_cached(data: Any, where: str, memo: dict[int, tuple[Any, ...]] | None = None) -> Theory:
    import orjson

    try:
        key = orjson.dumps(data)
    except TypeError:  # not JSON (a set, an object...): the validator names the field
        return load_theory(data, where, memo)
    theory = _THEORIES.get(key)
    if theory is None:
        theory = load_theory(data, where, memo)
        if len(_THEORIES) >= _THEORY_CACHE:
            try:
                _THEORIES.pop(next(iter(_THEORIES)), None)  # oldest first (insertion order)
            except (RuntimeError, StopIteration):  # another thread changed it meanwhile: evict next time
                pass
        _THEORIES[key] = theory
    return theory


def load_decide_call(payload: Any, memo: dict[int, tuple[Any, ...]] | None = None) -> Decide:
    """Validate a ``decide`` payload (theory, ground queries, optional assumed sets); ``memo``: see
    :func:`load_theory`."""
    if not isinstance(payload, dict):
        raise TheoryError("payload must be an object {theory, queries}")
    unknown = set(payload) - {"theory", "queries", "assume"}
    if unknown:
        raise TheoryError(f"payload has unknown field(s) {sorted(unknown)}")
    theory = _theory_cached(payload.get("theory"), "payload.theory", memo)
    queries_in = payload.get("queries", [])
    if not isinstance(queries_in, list) or len(queries_in) > MAX_STATEMENTS:
        raise TheoryError(f"payload.queries must be a list of at most {MAX_STATEMENTS} literals")
    queries = tuple(_fast_literal(q, True) or literal(q, f"payload.queries[{i}]", ground=True) for i, q in enumerate(queries_in))
    assume_in = payload.get("assume")
    if assume_in is None:
        return Decide(theory, queries)
    if not isinstance(assume_in, list) or len(assume_in) > MAX_ASSUMPTIONS:
        raise TheoryError(f"payload.assume must be a list of at most {MAX_ASSUMPTIONS} lists of literals")
    sets = []
    total = 0
    for i, group in enumerate(assume_in):
        if not isinstance(group, list):
            raise TheoryError(f"payload.assume[{i}] must be a list of literals")
        total += len(group)
        if total > MAX_STATEMENTS:
            raise TheoryError(f"payload.assume has more than {MAX_STATEMENTS} literals in all")
        sets.append(tuple(_fast_literal(x, True) or literal(x, f"payload.assume[{i}][{k}]", ground=True) for k, x in enumerate(group)))
    return Decide(theory, queries, tuple(sets))


#: ground rule instances a framework worker's copy of a logic_program backend (``Tool.replica``)
#: decides in one batch at most (:func:`groundings`, each distinct theory counted once): a call past it
#: is refused there, and its record is scored in the main process, where the call runs isolated under
#: the backend's full limits.  A ProofWriter or ProntoQA theory is a few hundred; a batch of 64, tens
#: of thousands at most.  What that many instances cost a solver is milliseconds.
REPLICA_GROUNDINGS = 200_000


class ReplicaBudget(RuntimeError):
    """A call past a framework worker copy's budget (:data:`REPLICA_GROUNDINGS`): decided in the main process."""


def groundings(job: Decide) -> int:
    """An upper bound of the ground rule instances of deciding ``job``: per rule, (the constants of the
    theory and of the assumed sets) ** (its variables), summed; at least 1."""
    rules = job.theory.rules
    if not rules:
        return 1
    shape = job.theory.shape
    if shape is None:
        consts: frozenset[str] | set[str] = job.theory.constants()
        widths = tuple(len({a for lit in r.body for a in lit.args if a[:1] == "?"}) for r in rules)
    else:
        consts, widths = shape
    n = len(consts)
    if job.assume:
        n += len({a for extra in job.assume for lit in extra for a in lit.args if a not in consts})
    n = max(n, 1)
    return 1 + sum(n**k for k in widths)


def decide_batch(calls: Sequence[Any], decide_many: Callable[[list[Decide]], list[Any]],
                 failure: Callable[[BaseException], Any], what: str, budget: int | None = None) -> list[Any]:
    """``run_batch`` of a backend that decides many theories in one solver run (``decide_many``):
    the batch's valid calls go in together, a malformed call is ``failure(exc)`` of its own; should
    the joint run fail, each call is decided alone, so one call's failure is never its neighbours'.
    ``what`` names the joint run in the log (e.g. "clingo: a joint program").  ``budget``: ground rule
    instances (:func:`groundings`) the batch may cost at most; a call that would take it past is
    ``failure(ReplicaBudget)`` (a framework worker's copy: :data:`REPLICA_GROUNDINGS`)."""
    out: list[Any] = [None] * len(calls)
    jobs: list[tuple[int, Decide]] = []
    seen: set[tuple[int, Any]] = set()  # distinct (theory, assumed sets) counted
    spent = 0
    memo: dict[int, tuple[Any, ...]] = {}  # the batch's facts and rules checked (load_theory)
    for i, call in enumerate(calls):
        try:
            job = load_decide_call(call.payload, memo)
        except Exception as exc:  # noqa: BLE001 - a bad payload is a status of its own
            out[i] = failure(exc)
            continue
        if budget is not None:
            key = (id(job.theory), job.assume)
            if key not in seen:
                cost = groundings(job)
                if cost + spent > budget:
                    out[i] = failure(ReplicaBudget(f"up to {cost:,} ground rule instances: past a framework worker's "
                                                   f"budget of {budget:,} a batch; decided in the main process"))
                    continue
                seen.add(key)
                spent += cost
        jobs.append((i, job))
    if len(jobs) > 1:
        try:
            for (i, _), value in zip(jobs, decide_many([j for _, j in jobs]), strict=True):
                out[i] = value
            return out
        except Exception:  # noqa: BLE001 - decide each alone below; the culprit gets its own error
            log.warning("%s over %d theories failed; deciding each alone", what, len(jobs), exc_info=True)
    for i, job in jobs:
        try:
            out[i] = decide_many([job])[0]
        except Exception as exc:  # noqa: BLE001
            out[i] = failure(exc)
    return out


def load_decide(payload: Any) -> tuple[Theory, list[Literal]]:
    """Validate a ``decide`` payload into a theory and ground queries (for a backend that does not
    answer ``assume``: a payload with it is refused; use :func:`load_decide_call` instead)."""
    job = load_decide_call(payload)
    if job.assume is not None:
        raise TheoryError("payload.assume is not supported by this backend")
    return job.theory, list(job.queries)


def with_facts(theory: Theory, extra: tuple[Literal, ...]) -> Theory:
    """``theory`` with ``extra`` added as facts (an assumed set's world)."""
    return Theory(theory.facts + extra, theory.rules) if extra else theory


def verdict(positive: bool, negative: bool) -> str:
    """The answer for a query whose literal is (not) derivable and whose complement is (not)."""
    if positive:
        return "both" if negative else "entailed"
    return "contradicted" if negative else "undetermined"


def answer(queries: Any, derivable: dict[Literal, bool], clashes: list[Literal],
           assumed: list[list[Literal]] | None = None) -> dict[str, Any]:
    """The ``decide`` value from a backend's derivability of each query and its complement (and, when
    the payload had ``assume``, the clashes of each assumed set's world)."""
    value: dict[str, Any] = {
        "consistent": not clashes,
        "clashes": [c.to_json() for c in sorted(clashes, key=_order)[:MAX_CLASHES]],
        "answers": [verdict(derivable[q], derivable[q.complement()]) for q in queries],
    }
    if assumed is not None:
        value["assumed"] = [{"consistent": not cs, "clashes": [c.to_json() for c in sorted(cs, key=_order)[:MAX_CLASHES]]}
                            for cs in assumed]
    return value


def _order(lit: Literal) -> tuple[str, tuple[str, ...]]:
    return (lit.pred, lit.args)
