"""The ``optimizer`` capability: seeded problem instances, their solutions and fitness, and the one op
every optimiser backend (``deap``, ``cma``, ``evosax``) answers.

**Problems** (``metadata.problem`` of a record, and the ``problem`` of an ``optimize`` call) are
``{"kind": K, "seed": int, ...params}``; the instance is generated from the seed with Python's own
``random.Random`` (identical on every platform and NumPy version):

| kind | params (default, bound) | solution | fitness (direction) |
|---|---|---|---|
| ``onemax`` | ``n`` (32, ≤ 10,000) | n bits | ones (max) |
| ``knapsack`` | ``n`` (20, ≤ 2,000), ``max_weight`` (30), ``max_value`` (50) | n bits | value; over capacity = infeasible (max) |
| ``tsp`` | ``n`` cities (20, ≤ 5,000) in the unit square | a permutation of 0..n-1 | closed tour length (min) |
| ``rastrigin`` / ``sphere`` | ``dim`` (5, ≤ 1,000) in [-5.12, 5.12] | dim floats | Rastrigin (A=10) / Σx² (min) |
| ``symbolic_regression`` | ``target`` expression (seeded polynomial), ``variables`` (["x"]), ``n_points`` (20, ≤ 10,000), ``low``/``high`` (-2, 2) | an expression | mean squared error on the points (min) |

:func:`check_solution` turns a proposed solution (JSON from a completion: hostile) into a typed value or
a :class:`SolutionError` whose ``status`` is ``malformed``, ``wrong_length``, ``oversize``,
``not_binary``, ``not_permutation`` (duplicates or missing cities), ``out_of_range``, ``non_finite``,
or an expression status (``forbidden``, ``unknown_name``, ``too_large``, ``exponent_too_large``).
:func:`fitness` is the pure-Python reference that every faster kernel is tested against.

**Op** ``optimize``: payload ``{"problem": {...}, "budget": int (evaluations, ≤ 200,000), "seed": int}``
→ ``{"fitness": float, "solution": [...], "evaluations": int, "direction": "min" | "max"}``.  The same
payload gives the same answer (backends seed everything from ``seed``).  A backend that does not handle a
kind answers an ``error`` whose message starts with ``unsupported kind``.
"""

from __future__ import annotations

import functools
import json
import math
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chil_core.capabilities.expression import ExpressionError, Program, compile_expression, evaluate
from chil_core.components import Tool

KINDS: dict[str, str] = {
    "onemax": "max", "knapsack": "max", "tsp": "min", "rastrigin": "min", "sphere": "min", "symbolic_regression": "min",
}
DISCRETE = frozenset({"onemax", "knapsack", "tsp"})
CONTINUOUS = frozenset({"rastrigin", "sphere"})
BOUND = 5.12
MAX_BUDGET = 200_000
MAX_SEED = 2**63 - 1
_LIMITS = {"onemax": 10_000, "knapsack": 2_000, "tsp": 5_000, "rastrigin": 1_000, "sphere": 1_000}
_DEFAULT_N = {"onemax": 32, "knapsack": 20, "tsp": 20, "rastrigin": 5, "sphere": 5}


class ProblemError(ValueError):
    """A malformed problem spec; the message names the field."""


class SolutionError(ValueError):
    """A proposed solution that cannot be scored; ``status`` says why (see the module docstring)."""

    def __init__(self, status: str, message: str) -> None:
        self.status = status
        super().__init__(message)


def _int(spec: dict[str, Any], key: str, default: int, lo: int, hi: int, where: str) -> int:
    value = spec.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ProblemError(f"{where}.{key} must be an integer from {lo} to {hi}, got {value!r}")
    return value


def _float(spec: dict[str, Any], key: str, default: float, where: str) -> float:
    value = spec.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or abs(value) > 1e6:
        raise ProblemError(f"{where}.{key} must be a finite number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Problem:
    """A validated problem spec; ``params`` holds every parameter with its default filled in."""

    kind: str
    seed: int
    params: tuple[tuple[str, Any], ...]

    @property
    def direction(self) -> str:
        return KINDS[self.kind]

    def param(self, key: str) -> Any:
        return dict(self.params)[key]

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "seed": self.seed}
        for k, v in self.params:
            out[k] = list(v) if isinstance(v, tuple) else v
        return out

    def key(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, spec: Any, where: str = "problem") -> Problem:
        if not isinstance(spec, dict):
            raise ProblemError(f"{where} must be an object {{kind, seed, ...}}")
        kind = spec.get("kind")
        if kind not in KINDS:
            raise ProblemError(f"{where}.kind must be one of {', '.join(KINDS)}, got {kind!r}")
        seed = _int(spec, "seed", 0, 0, MAX_SEED, where)
        known = {"kind", "seed"}
        params: dict[str, Any] = {}
        if kind in _LIMITS:
            key = "dim" if kind in CONTINUOUS else "n"
            params[key] = _int(spec, key, _DEFAULT_N[kind], 2, _LIMITS[kind], where)
            known.add(key)
            if kind == "knapsack":
                params["max_weight"] = _int(spec, "max_weight", 30, 1, 10_000, where)
                params["max_value"] = _int(spec, "max_value", 50, 1, 10_000, where)
                known |= {"max_weight", "max_value"}
        else:
            variables = spec.get("variables", ["x"])
            if (not isinstance(variables, list) or not 1 <= len(variables) <= 8
                    or not all(isinstance(v, str) and v.isidentifier() and v.isascii() and len(v) <= 8 for v in variables)
                    or len(set(variables)) != len(variables)):
                raise ProblemError(f"{where}.variables must be 1-8 distinct short identifiers")
            params["variables"] = tuple(variables)
            params["n_points"] = _int(spec, "n_points", 20, 2, 10_000, where)
            params["low"] = _float(spec, "low", -2.0, where)
            params["high"] = _float(spec, "high", 2.0, where)
            if params["high"] <= params["low"]:
                raise ProblemError(f"{where}.high must exceed {where}.low")
            target = spec.get("target")
            if target is None:
                target = _seeded_target(seed, variables)
            try:
                compile_expression(target, variables)
            except ExpressionError as exc:
                raise ProblemError(f"{where}.target: {exc}") from None
            params["target"] = target
            known |= {"variables", "n_points", "low", "high", "target"}
        extra = sorted(set(spec) - known)
        if extra:
            raise ProblemError(f"{where}: unknown field(s) {', '.join(map(str, extra))} for kind {kind}")
        return cls(kind, seed, tuple(sorted(params.items())))

    def instance(self) -> Instance:
        return _instance(self)


def _seeded_target(seed: int, variables: list[str]) -> str:
    rng = random.Random(f"target:{seed}")
    x = variables[0]
    a, b, c = rng.randint(1, 5), rng.randint(-4, 4), rng.randint(-3, 3)
    return f"{a}*{x}^2 + {b}*{x} + {c}"


@dataclass(frozen=True)
class Instance:
    """Generated data of a problem.  Only the fields of its kind are set."""

    problem: Problem
    size: int
    coords: tuple[tuple[float, float], ...] = ()
    weights: tuple[int, ...] = ()
    values: tuple[int, ...] = ()
    capacity: int = 0
    points: tuple[tuple[float, ...], ...] = ()
    targets: tuple[float, ...] = ()
    target_program: Program | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@functools.lru_cache(maxsize=256)
def _instance(p: Problem) -> Instance:
    rng = random.Random(f"{p.kind}:{p.seed}")
    if p.kind == "onemax":
        return Instance(p, p.param("n"))
    if p.kind == "knapsack":
        n = p.param("n")
        weights = tuple(rng.randint(1, p.param("max_weight")) for _ in range(n))
        values = tuple(rng.randint(1, p.param("max_value")) for _ in range(n))
        return Instance(p, n, weights=weights, values=values, capacity=max(1, sum(weights) // 2))
    if p.kind == "tsp":
        n = p.param("n")
        return Instance(p, n, coords=tuple((rng.random(), rng.random()) for _ in range(n)))
    if p.kind in CONTINUOUS:
        return Instance(p, p.param("dim"))
    variables = p.param("variables")
    prog = compile_expression(p.param("target"), variables)
    lo, hi = p.param("low"), p.param("high")
    points = tuple(tuple(rng.uniform(lo, hi) for _ in variables) for _ in range(p.param("n_points")))
    targets = tuple(evaluate(prog, pt) for pt in points)
    if not all(math.isfinite(t) for t in targets):
        raise ProblemError("problem.target is not finite on the generated points")
    return Instance(p, len(points), points=points, targets=targets, target_program=prog)


# -- solutions ------------------------------------------------------------------------------------
def check_solution(problem: Problem, value: Any, *, max_entries: int = 100_000) -> Any:
    """Validate a proposed solution; return its canonical form (list of ints / floats, or a
    :class:`Program`) or raise :class:`SolutionError`."""
    inst = problem.instance()
    kind = problem.kind
    if kind == "symbolic_regression":
        try:
            return compile_expression(value, problem.param("variables"))
        except ExpressionError as exc:
            raise SolutionError(exc.status, str(exc)) from None
    if not isinstance(value, list):
        raise SolutionError("malformed", f"a {kind} solution is a JSON list, got {type(value).__name__}")
    if len(value) > max_entries:
        raise SolutionError("oversize", f"{len(value)} entries (at most {max_entries})")
    if len(value) != inst.size:
        raise SolutionError("wrong_length", f"{len(value)} entries, the instance has {inst.size}")
    if kind in ("onemax", "knapsack"):
        if not all(type(b) is int and b in (0, 1) for b in value):
            raise SolutionError("not_binary", "every entry must be 0 or 1")
        return list(value)
    if kind == "tsp":
        if not all(type(c) is int for c in value):
            raise SolutionError("malformed", "cities are integers")
        if not all(0 <= c < inst.size for c in value):
            raise SolutionError("out_of_range", f"cities are 0..{inst.size - 1}")
        if len(set(value)) != inst.size:
            dup = len(value) - len(set(value))
            raise SolutionError("not_permutation", f"{dup} duplicate(s), {inst.size - len(set(value))} missing cit(ies)")
        return list(value)
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in value):
        raise SolutionError("malformed", "entries must be numbers")
    xs = [float(x) for x in value]
    if not all(math.isfinite(x) for x in xs):
        raise SolutionError("non_finite", "NaN or infinite entries")
    if not all(-BOUND <= x <= BOUND for x in xs):
        raise SolutionError("out_of_range", f"entries must lie in [-{BOUND}, {BOUND}]")
    return xs


def tour_length(coords: tuple[tuple[float, float], ...] | list, tour: list[int]) -> float:
    total = 0.0
    n = len(tour)
    for i in range(n):
        x1, y1 = coords[tour[i]]
        x2, y2 = coords[tour[(i + 1) % n]]
        total += math.sqrt((x1 - x2) * (x1 - x2) + (y1 - y2) * (y1 - y2))
    return total


def knapsack_value_weight(inst: Instance, bits: list[int]) -> tuple[int, int]:
    v = w = 0
    for b, vi, wi in zip(bits, inst.values, inst.weights, strict=True):
        if b:
            v += vi
            w += wi
    return v, w


def rastrigin(x: list[float]) -> float:
    total = 10.0 * len(x)
    for xi in x:
        total += xi * xi - 10.0 * math.cos(2.0 * math.pi * xi)
    return total


def mse(program: Program, points: tuple[tuple[float, ...], ...], targets: tuple[float, ...]) -> float:
    total = 0.0
    for pt, t in zip(points, targets, strict=True):
        d = evaluate(program, pt) - t
        total += d * d
    return total / len(points)


def fitness(problem: Problem, solution: Any) -> float:
    """Pure-Python reference fitness of a checked solution.  A knapsack over capacity has fitness 0
    (:func:`knapsack_value_weight` gives the parts); symbolic regression may give ``inf``/``nan``
    (the caller reports it as non-finite)."""
    inst = problem.instance()
    kind = problem.kind
    if kind == "onemax":
        return float(sum(solution))
    if kind == "knapsack":
        v, w = knapsack_value_weight(inst, solution)
        return float(v) if w <= inst.capacity else 0.0
    if kind == "tsp":
        return tour_length(inst.coords, solution)
    if kind == "rastrigin":
        return rastrigin(solution)
    if kind == "sphere":
        return sum(x * x for x in solution)
    return mse(solution, inst.points, inst.targets)


def better(problem: Problem, a: float, b: float) -> bool:
    """True when fitness ``a`` is strictly better than ``b``."""
    return a > b if problem.direction == "max" else a < b


# -- references a score is measured against ------------------------------------------------------
@functools.lru_cache(maxsize=256)
def baseline(problem: Problem, samples: int = 32) -> float:
    """Mean fitness of ``samples`` seeded random solutions (the 0 of the score)."""
    inst = problem.instance()
    if problem.kind == "symbolic_regression":  # predicting the mean: MSE = variance
        mean = sum(inst.targets) / len(inst.targets)
        return sum((t - mean) ** 2 for t in inst.targets) / len(inst.targets)
    rng = random.Random(f"baseline:{problem.key()}")
    total = 0.0
    for _ in range(samples):
        if problem.kind in ("onemax", "knapsack"):
            sol: Any = [rng.randint(0, 1) for _ in range(inst.size)]
        elif problem.kind == "tsp":
            sol = list(range(inst.size))
            rng.shuffle(sol)
        else:
            sol = [rng.uniform(-BOUND, BOUND) for _ in range(inst.size)]
        total += fitness(problem, sol)
    return total / samples


@functools.lru_cache(maxsize=256)
def exact_optimum(problem: Problem, max_cells: int = 5_000_000) -> float | None:
    """The exact optimum where it is known or cheap: onemax (n), knapsack (dynamic programming when
    n·capacity ≤ ``max_cells``), Rastrigin and sphere (0 at the origin), symbolic regression (0, the
    target itself).  None for TSP (a reference optimiser run is used)."""
    inst = problem.instance()
    if problem.kind == "onemax":
        return float(inst.size)
    if problem.kind in CONTINUOUS or problem.kind == "symbolic_regression":
        return 0.0
    if problem.kind == "knapsack" and inst.size * inst.capacity <= max_cells:
        best = [0] * (inst.capacity + 1)
        for v, w in zip(inst.values, inst.weights, strict=True):
            for c in range(inst.capacity, w - 1, -1):
                cand = best[c - w] + v
                if cand > best[c]:
                    best[c] = cand
        return float(best[inst.capacity])
    return None


def normalized(problem: Problem, value: float, reference: float) -> float:
    """Score in [0, 1]: 0 at the random baseline (or worse), 1 at ``reference`` (or better)."""
    base = baseline(problem)
    span = reference - base
    if span == 0 or not math.isfinite(value):
        return 0.0 if not math.isfinite(value) else float(not better(problem, reference, value))
    return max(0.0, min(1.0, (value - base) / span))


def optimize_payload(problem: Problem, budget: int, seed: int) -> dict[str, Any]:
    return {"problem": problem.to_json(), "budget": int(budget), "seed": int(seed)}


def parse_optimize(payload: Any) -> tuple[Problem, int, int]:
    """Validate an ``optimize`` payload; raises :class:`ProblemError` naming the field."""
    if not isinstance(payload, dict):
        raise ProblemError("payload must be an object {problem, budget, seed}")
    problem = Problem.from_json(payload.get("problem"), "payload.problem")
    budget = _int(payload, "budget", 2_000, 10, MAX_BUDGET, "payload")
    seed = _int(payload, "seed", 0, 0, 2**32 - 1, "payload")
    return problem, budget, seed


def random_solution(problem: Problem, rng: random.Random) -> list[Any]:
    n = problem.instance().size
    if problem.kind in ("onemax", "knapsack"):
        return [rng.randint(0, 1) for _ in range(n)]
    if problem.kind == "tsp":
        tour = list(range(n))
        rng.shuffle(tour)
        return tour
    return [rng.uniform(-BOUND, BOUND) for _ in range(n)]


class OptimizerTool(Tool):
    """Base of the ``optimizer`` backends: validates payloads, answers ``optimize`` with
    :meth:`solve`, checks what the optimiser returned against the reference :func:`fitness` (an
    optimiser's own bookkeeping is not trusted), and maps problems to typed errors.

    A backend sets ``name``, ``kinds`` (the problem kinds it handles) and ``requires_modules``, and
    implements ``solve(problem, budget, seed) -> (solution, evaluations)``."""

    capability: ClassVar[str] = "optimizer"
    ops: ClassVar[frozenset[str]] = frozenset({"optimize"})
    max_batch: ClassVar[int] = 8
    kinds: frozenset[str] = frozenset()

    def solve(self, problem: Problem, budget: int, seed: int) -> tuple[list[Any], int]:
        raise NotImplementedError

    def run_one(self, call: Any) -> Any:
        from chil_core.contracts import ToolResult

        if call.op != "optimize":
            return ToolResult.failure(f"optimizer has no op {call.op!r} (ops: optimize)")
        try:
            problem, budget, seed = parse_optimize(call.payload)
        except ProblemError as exc:
            return ToolResult.failure(str(exc))
        if problem.kind not in self.kinds:
            return ToolResult.failure(f"unsupported kind {problem.kind!r} (this backend handles {', '.join(sorted(self.kinds))})")
        solution, evaluations = self.solve(problem, budget, seed)
        checked = check_solution(problem, solution, max_entries=10**7)
        value = fitness(problem, checked)
        return {"fitness": value, "solution": checked, "evaluations": int(evaluations), "direction": problem.direction}


_GLOBAL_RNG_LOCK = __import__("threading").Lock()


class seeded_globals:  # noqa: N801 - used as a context manager
    """Seed the global ``random`` (and ``numpy.random``) state for a library that draws from them
    (DEAP, cma), under a process-wide lock, and restore the previous state afterwards, so that runs
    are reproducible and other threads' draws are not disturbed."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def __enter__(self) -> seeded_globals:
        _GLOBAL_RNG_LOCK.acquire()
        import numpy as np

        self._py = random.getstate()
        self._np = np.random.get_state()
        random.seed(self.seed)
        np.random.seed(self.seed % 2**32)
        return self

    def __exit__(self, *exc: object) -> None:
        import numpy as np

        random.setstate(self._py)
        np.random.set_state(self._np)
        _GLOBAL_RNG_LOCK.release()
