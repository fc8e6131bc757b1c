"""The ``solver`` capability's data: linear / mixed-integer models, exact evaluation of a solution, and the
``solve`` op contract.

Every ``solver`` backend (``ortools``: GLOP / SCIP / CP-SAT through pywraplp; ``highs``: HiGHS through
highspy) validates its payload with :func:`load_solve` and answers with :func:`answer`, so they accept the
same models and report the same way.  Feasibility and objective of a *claimed* solution are computed here,
exactly in rationals (:func:`evaluate`): a solver's floating-point answer is only used for the optimum.

Model (``metadata.model`` of a record, a completion's ```json``` block, and the payload's ``model``)::

    {"sense": "max" | "min",
     "variables": [{"name": "x", "lb": 0, "ub": null, "integer": false}, ...]   # or {"x": {...}} or ["x", ...]
     "objective": {"x": 3, "y": "2/5"},                                          # or {"terms": {...}, "constant": c}
     "constraints": [{"name": "c1", "terms": {"x": 1, "y": 1}, "sense": "<=", "rhs": 4}, ...]}
    lb defaults to 0 and ub to +infinity (null), as in the CPLEX LP format; "binary": true is integer in [0, 1];
    numbers: JSON integers, finite floats, or strings "3", "2/5", "0.25".

Op ``solve``::

    payload {"model": model, "time_limit_s": 5.0}
    value   {"status": "optimal" | "infeasible" | "unbounded" | "infeasible_or_unbounded" | "time_limit" | "not_solved",
             "objective": float | null, "solution": {"x": float, ...} | null}
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from chil_core.capabilities.game import GameError, number

MAX_VARIABLES = 2_000
MAX_CONSTRAINTS = 2_000
MAX_NONZEROS = 100_000
MAX_NAME = 100
#: largest magnitude of a coefficient, bound or right-hand side: solvers work in doubles and take
#: 1e20 (HiGHS) or 1e30 as infinite, so larger numbers are refused rather than silently changed.
MAX_MAGNITUDE = Fraction(10**12)
_MAX_INT = 10**12
STATUSES = ("optimal", "infeasible", "unbounded", "infeasible_or_unbounded", "time_limit", "not_solved")
_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]*\Z")
_SENSES = {"<=": "<=", "=<": "<=", "≤": "<=", ">=": ">=", "=>": ">=", "≥": ">=", "=": "=", "==": "="}


class ModelError(ValueError):
    """A malformed model or solution; the message names the offending field."""


@dataclass(frozen=True, slots=True)
class Variable:
    name: str
    lb: Fraction | None = Fraction(0)
    ub: Fraction | None = None
    integer: bool = False


@dataclass(frozen=True, slots=True)
class Constraint:
    name: str
    terms: tuple[tuple[str, Fraction], ...]
    sense: str
    rhs: Fraction


@dataclass(frozen=True, slots=True)
class Model:
    sense: str
    variables: tuple[Variable, ...]
    objective: tuple[tuple[str, Fraction], ...]
    constant: Fraction
    constraints: tuple[Constraint, ...]

    @property
    def is_mip(self) -> bool:
        return any(v.integer for v in self.variables)

    def to_json(self) -> dict[str, Any]:
        def num(x: Fraction | int | None) -> str | int | None:
            if x is None:
                return None
            return x if type(x) is int else int(x) if x.denominator == 1 else str(x)

        return {
            "sense": self.sense,
            "variables": [{"name": v.name, "lb": num(v.lb), "ub": num(v.ub), "integer": v.integer} for v in self.variables],
            "objective": {"terms": {n: num(c) for n, c in self.objective}, "constant": num(self.constant)},
            "constraints": [{"name": c.name, "terms": {n: num(k) for n, k in c.terms}, "sense": c.sense, "rhs": num(c.rhs)}
                            for c in self.constraints],
        }


def _num(value: Any, where: str) -> Fraction:
    """An exact number of a model: a JSON integer stays a Python ``int`` (exact, and much faster than
    :class:`~fractions.Fraction` in the sums of :func:`evaluate`; it has ``numerator`` and
    ``denominator`` too), anything else becomes a Fraction."""
    if type(value) is int:
        if -_MAX_INT <= value <= _MAX_INT:
            return value  # type: ignore[return-value]
        raise ModelError(f"{where}: magnitude {float(value):.3g} exceeds {float(MAX_MAGNITUDE):.0e} (solvers would treat it as infinite)")
    try:
        out = number(value, where)
    except GameError as exc:
        raise ModelError(str(exc)) from None
    if abs(out.numerator) > _MAX_INT * out.denominator:
        raise ModelError(f"{where}: magnitude {float(out):.3g} exceeds {float(MAX_MAGNITUDE):.0e} (solvers would treat it as infinite)")
    return out


def _bound(value: Any, where: str) -> Fraction | None:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("inf", "+inf", "-inf", "infinity", "-infinity")):
        return None
    if isinstance(value, float) and math.isinf(value):
        return None
    return _num(value, where)


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value) or len(value) > MAX_NAME:
        raise ModelError(f"{where} must be a name of letters, digits, '_', '.', '[]' (at most {MAX_NAME} characters), got {str(value)[:40]!r}")
    return value


def _terms(data: Any, where: str, known: dict[str, Variable]) -> tuple[tuple[str, Fraction], ...]:
    if isinstance(data, list):  # [[name, coef], ...] or [{"var": , "coef": }]
        pairs = []
        for i, t in enumerate(data):
            if isinstance(t, dict) and set(t) <= {"var", "name", "coef", "coefficient"}:
                pairs.append((t.get("var", t.get("name")), t.get("coef", t.get("coefficient", 1))))
            elif isinstance(t, list) and len(t) == 2:
                pairs.append((t[0], t[1]))
            else:
                raise ModelError(f"{where}[{i}] must be [name, coefficient]")
    elif isinstance(data, dict):
        pairs = list(data.items())
    else:
        raise ModelError(f"{where} must be an object {{variable: coefficient}}")
    out: dict[str, Fraction] = {}
    for name, coef in pairs:
        n = name if name in known else _name(name, f"{where} variable")  # a declared name was checked
        if n not in known:
            raise ModelError(f"{where} uses undeclared variable {n!r}")
        c = _num(coef, f"{where}.{n}")
        out[n] = out[n] + c if n in out else c
    return tuple((n, c) for n, c in out.items() if c != 0)


def load_model(data: Any, where: str = "model", *, max_variables: int = MAX_VARIABLES,
               max_constraints: int = MAX_CONSTRAINTS, max_nonzeros: int = MAX_NONZEROS) -> Model:
    """Validate a model within the size bounds (the error names the field)."""
    if not isinstance(data, dict):
        raise ModelError(f"{where} must be an object {{sense, variables, objective, constraints}}")
    unknown = set(data) - {"sense", "variables", "objective", "constraints", "name"}
    if unknown:
        raise ModelError(f"{where} has unknown field(s) {sorted(unknown)}")
    sense = data.get("sense", "min")
    if not isinstance(sense, str) or sense.lower()[:3] not in ("min", "max"):
        raise ModelError(f"{where}.sense must be 'min' or 'max'")
    sense = sense.lower()[:3]
    vars_in = data.get("variables")
    if isinstance(vars_in, dict):
        vars_in = [dict(v if isinstance(v, dict) else {}, name=k) for k, v in vars_in.items()]
    if not isinstance(vars_in, list) or not vars_in:
        raise ModelError(f"{where}.variables must be a non-empty list")
    if len(vars_in) > max_variables:
        raise ModelError(f"{where} has {len(vars_in)} variables; at most {max_variables} are allowed")
    variables: dict[str, Variable] = {}
    for i, v in enumerate(vars_in):
        w = f"{where}.variables[{i}]"
        if isinstance(v, str):
            v = {"name": v}
        if not isinstance(v, dict):
            raise ModelError(f"{w} must be a name or an object {{name, lb, ub, integer}}")
        extra = set(v) - {"name", "lb", "ub", "integer", "binary", "type"}
        if extra:
            raise ModelError(f"{w} has unknown field(s) {sorted(extra)}")
        name = _name(v.get("name"), f"{w}.name")
        if name in variables:
            raise ModelError(f"{w}: duplicate variable {name!r}")
        binary = bool(v.get("binary")) or v.get("type") == "binary"
        integer = binary or bool(v.get("integer")) or v.get("type") in ("integer", "int")
        lb = _bound(v.get("lb", 0), f"{w}.lb")
        ub = _bound(v.get("ub"), f"{w}.ub")
        if binary:
            lb = Fraction(0) if lb is None else max(lb, Fraction(0))
            ub = Fraction(1) if ub is None else min(ub, Fraction(1))
        if lb is not None and ub is not None and lb > ub:
            raise ModelError(f"{w}: lb {lb} > ub {ub}")
        variables[name] = Variable(name, lb, ub, integer)
    obj_in = data.get("objective", {})
    constant = Fraction(0)
    if isinstance(obj_in, dict) and "terms" in obj_in:
        extra = set(obj_in) - {"terms", "constant", "sense"}
        if extra:
            raise ModelError(f"{where}.objective has unknown field(s) {sorted(extra)}")
        if "sense" in obj_in and "sense" not in data:
            sense = str(obj_in["sense"]).lower()[:3]
            if sense not in ("min", "max"):
                raise ModelError(f"{where}.objective.sense must be 'min' or 'max'")
        constant = _num(obj_in.get("constant", 0), f"{where}.objective.constant")
        obj_in = obj_in["terms"]
    objective = _terms(obj_in, f"{where}.objective", variables)
    cons_in = data.get("constraints", [])
    if not isinstance(cons_in, list):
        raise ModelError(f"{where}.constraints must be a list")
    if len(cons_in) > max_constraints:
        raise ModelError(f"{where} has {len(cons_in)} constraints; at most {max_constraints} are allowed")
    constraints = []
    nnz = len(objective)
    names: set[str] = set()
    for i, c in enumerate(cons_in):
        w = f"{where}.constraints[{i}]"
        if not isinstance(c, dict):
            raise ModelError(f"{w} must be an object {{name, terms, sense, rhs}}")
        extra = set(c) - {"name", "terms", "sense", "rhs"}
        if extra:
            raise ModelError(f"{w} has unknown field(s) {sorted(extra)}")
        cname = _name(c.get("name", f"c{i + 1}"), f"{w}.name")
        if cname in names:
            cname = f"{cname}_{i + 1}"
        names.add(cname)
        s = _SENSES.get(str(c.get("sense", "")).strip())
        if s is None:
            raise ModelError(f"{w}.sense must be one of <=, >=, =")
        terms = _terms(c.get("terms"), f"{w}.terms", variables)
        nnz += len(terms)
        if nnz > max_nonzeros:
            raise ModelError(f"{where} has more than {max_nonzeros} nonzero coefficients")
        constraints.append(Constraint(cname, terms, s, _num(c.get("rhs"), f"{w}.rhs")))
    return Model(sense, tuple(variables.values()), objective, constant, tuple(constraints))


def load_solution(model: Model, data: Any, where: str = "solution") -> tuple[dict[str, Fraction], list[str]]:
    """A claimed solution ``{name: value}``: (values, names missing from it, taken as 0)."""
    if not isinstance(data, dict):
        raise ModelError(f"{where} must be an object {{variable: value}}")
    known = {v.name for v in model.variables}
    out: dict[str, Fraction] = {}
    for k, v in data.items():
        if k not in known:
            raise ModelError(f"{where} names unknown variable {str(k)[:40]!r}")
        out[k] = _num(v, f"{where}.{k}")
    missing = [v.name for v in model.variables if v.name not in out]
    for name in missing:
        out[name] = 0  # type: ignore[assignment]
    return out, missing


@dataclass(slots=True)
class Evaluation:
    """A solution checked exactly: its objective value and every violation (name, detail)."""

    objective: Fraction
    violations: list[tuple[str, str]] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        return not self.violations


def evaluate(model: Model, values: dict[str, Fraction], tolerance: Fraction = Fraction(0)) -> Evaluation:
    """Objective and violations of ``values`` in exact rationals (``tolerance``: absolute slack allowed)."""
    # integers stay integers (JSON integer data): exact, and no Fraction is built unless one is needed
    obj = model.constant + sum(c * values[n] for n, c in model.objective)
    ev = Evaluation(obj)
    tolerance = tolerance or 0  # an exact check compares with the bounds themselves
    for v in model.variables:
        x = values[v.name]
        if v.lb is not None and x < v.lb - tolerance:
            ev.violations.append((v.name, f"{v.name} = {x} is below its lower bound {v.lb}"))
        if v.ub is not None and x > v.ub + tolerance:
            ev.violations.append((v.name, f"{v.name} = {x} is above its upper bound {v.ub}"))
        if v.integer and x.denominator != 1:
            ev.violations.append((v.name, f"{v.name} = {x} must be an integer"))
    for c in model.constraints:
        lhs = sum(k * values[n] for n, k in c.terms)
        bad = (c.sense == "<=" and lhs > c.rhs + tolerance) or (c.sense == ">=" and lhs < c.rhs - tolerance) \
            or (c.sense == "=" and abs(lhs - c.rhs) > tolerance)
        if bad:
            ev.violations.append((c.name, f"{c.name}: left side {lhs} {'>' if lhs > c.rhs else '<'} {c.rhs} (needs {c.sense} {c.rhs})"))
    return ev


def load_solve(payload: Any, **limits: int) -> tuple[Model, float]:
    """Validate a ``solve`` payload into a model and its time limit (seconds)."""
    if not isinstance(payload, dict):
        raise ModelError("payload must be an object {model, time_limit_s}")
    model = load_model(payload.get("model"), "payload.model", **limits)
    limit = payload.get("time_limit_s", 5.0)
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0 < limit <= 3600:
        raise ModelError("payload.time_limit_s must be a number of seconds in (0, 3600]")
    return model, float(limit)


def answer(status: str, objective: float | None = None, solution: dict[str, float] | None = None) -> dict[str, Any]:
    if status not in STATUSES:
        raise ValueError(f"unknown solve status {status!r}")
    if status != "optimal":
        return {"status": status, "objective": None, "solution": None}
    return {"status": status, "objective": float(objective) if objective is not None else None,
            "solution": {k: float(v) for k, v in (solution or {}).items()}}


def close(a: float | Fraction, b: float | Fraction, rel: float = 1e-6, abs_: float = 1e-6) -> bool:
    """Float comparison of a solver optimum with an exact value."""
    return abs(float(a) - float(b)) <= max(abs_, rel * max(abs(float(a)), abs(float(b))))
