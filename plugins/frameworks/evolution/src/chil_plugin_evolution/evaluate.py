"""Batched fitness evaluation for the framework: every solution asked for within one event-loop turn
(the completions of a batch, GRPO groups included) is evaluated in one kernel call per problem
instance, and the population components (fitness rank and novelty within a group) are computed from
the same batch.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chil_core.capabilities.expression import Program
from chil_core.capabilities.optimizer import BOUND, Problem
from chil_plugin_evolution import kernels as K

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    fitness: float
    weight: int | None = None  # knapsack
    feasible: bool = True
    fitness_rank: float | None = None
    novelty: float | None = None
    group_size: int = 1


@dataclass
class _Request:
    problem: Problem
    solution: Any
    group: str | None
    future: asyncio.Future[Evaluation]
    result: Evaluation | None = None


@functools.lru_cache(maxsize=128)
def _arrays(problem: Problem) -> dict[str, np.ndarray]:
    inst = problem.instance()
    if problem.kind == "tsp":
        return {"coords": np.ascontiguousarray(inst.coords, dtype=np.float64)}
    if problem.kind == "knapsack":
        return {"values": np.asarray(inst.values, dtype=np.int64), "weights": np.asarray(inst.weights, dtype=np.int64)}
    if problem.kind == "symbolic_regression":
        return {"points": np.ascontiguousarray(inst.points, dtype=np.float64), "targets": np.asarray(inst.targets, dtype=np.float64)}
    return {}


def evaluate_batch(problem: Problem, solutions: list[Any], kern: K.Kernels) -> list[Evaluation]:
    """Fitness of checked solutions of one problem, in one kernel call."""
    a = _arrays(problem)
    kind = problem.kind
    if kind == "onemax":
        return [Evaluation(float(sum(s))) for s in solutions]
    if kind == "knapsack":
        picks = np.asarray(solutions, dtype=np.uint8).reshape(len(solutions), -1)
        vals, wts = kern.knapsack(a["values"], a["weights"], np.ascontiguousarray(picks))
        cap = problem.instance().capacity
        return [Evaluation(float(v) if w <= cap else 0.0, int(w), bool(w <= cap)) for v, w in zip(vals.tolist(), wts.tolist(), strict=True)]
    if kind == "tsp":
        tours = np.ascontiguousarray(np.asarray(solutions, dtype=np.int64).reshape(len(solutions), -1))
        return [Evaluation(float(f)) for f in kern.tour_lengths(a["coords"], tours).tolist()]
    if kind == "rastrigin":
        x = np.ascontiguousarray(np.asarray(solutions, dtype=np.float64).reshape(len(solutions), -1))
        return [Evaluation(float(f)) for f in kern.rastrigin(x).tolist()]
    if kind == "sphere":
        return [Evaluation(float(sum(v * v for v in s))) for s in solutions]
    code, args, offsets = K.pack_programs(solutions)
    return [Evaluation(float(f)) for f in kern.expr_mse(code, args, offsets, a["points"], a["targets"]).tolist()]


def distance(problem: Problem, a: Any, b: Any) -> float:
    """Distance in [0, 1] between two solutions of one problem (novelty)."""
    kind = problem.kind
    if kind in ("onemax", "knapsack"):
        return sum(x != y for x, y in zip(a, b, strict=True)) / len(a)
    if kind == "tsp":
        def edges(t: list[int]) -> set[frozenset[int]]:
            return {frozenset((t[i], t[(i + 1) % len(t)])) for i in range(len(t))}
        return 1.0 - len(edges(a) & edges(b)) / len(a)
    if kind in ("rastrigin", "sphere"):
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True))) / (2 * BOUND * math.sqrt(len(a)))
    assert isinstance(a, Program) and isinstance(b, Program)
    return 0.0 if (a.code, a.args) == (b.code, b.args) else 1.0


def population(problem: Problem, solutions: list[Any], evals: list[Evaluation]) -> None:
    """Fill ``fitness_rank`` (share of the others it beats, ties half) and ``novelty`` (mean distance
    to the others) for the valid members of one group.  Members with a non-finite fitness are left out."""
    idx = [i for i, e in enumerate(evals) if math.isfinite(e.fitness) and e.feasible]
    k = len(idx)
    for i in idx:
        evals[i].group_size = k
    if k < 2:
        return
    sign = 1.0 if problem.direction == "max" else -1.0
    for i in idx:
        fi = sign * evals[i].fitness
        beats = sum(1.0 if fi > sign * evals[j].fitness else 0.5 if fi == sign * evals[j].fitness else 0.0 for j in idx if j != i)
        evals[i].fitness_rank = beats / (k - 1)
        evals[i].novelty = sum(distance(problem, solutions[i], solutions[j]) for j in idx if j != i) / (k - 1)


@dataclass
class Batcher:
    """Collects evaluation requests made within one loop turn and evaluates them together."""

    kernels: K.Kernels
    pending: list[_Request] = field(default_factory=list)
    scheduled: bool = False

    def submit(self, problem: Problem, solution: Any, group: str | None) -> asyncio.Future[Evaluation]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Evaluation] = loop.create_future()
        self.pending.append(_Request(problem, solution, group, fut))
        if not self.scheduled:
            self.scheduled = True
            loop.call_soon(self.flush)
        return fut

    def flush(self) -> None:
        reqs, self.pending, self.scheduled = self.pending, [], False
        by_problem: dict[Problem, list[_Request]] = {}
        for r in reqs:
            by_problem.setdefault(r.problem, []).append(r)
        for problem, rs in by_problem.items():
            try:
                evals = evaluate_batch(problem, [r.solution for r in rs], self.kernels)
            except Exception as exc:  # noqa: BLE001 - a kernel bug fails these records, visibly
                log.exception("fitness kernel %s failed on %s", self.kernels.name, problem.kind)
                for r in rs:
                    if not r.future.done():
                        r.future.set_exception(exc)
                continue
            groups: dict[str, list[int]] = {}
            for i, r in enumerate(rs):
                if r.group is not None:
                    groups.setdefault(r.group, []).append(i)
            for members in groups.values():
                if len(members) > 1:
                    sub = [evals[i] for i in members]
                    population(problem, [rs[i].solution for i in members], sub)
            for r, e in zip(rs, evals, strict=True):
                if not r.future.done():
                    r.future.set_result(e)
