"""``CmaOptimizer``: the ``optimizer`` capability with CMA-ES (``cma.CMAEvolutionStrategy``) for
continuous problems (``rastrigin``, ``sphere``).

Start point drawn from the seed in the box [-5.12, 5.12]^d, step size ``sigma0`` (default 2.0), the
box as bounds, ``maxfevals = budget``, IPOP-free single run (reproducible: ``seed`` is passed to cma
and the global NumPy state is seeded and restored under a lock).  The best solution ever evaluated
is answered; its fitness is recomputed by the core's reference.
"""

from __future__ import annotations

import random
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core.capabilities.optimizer import BOUND, OptimizerTool, Problem, fitness, seeded_globals


class CmaOptions(BaseModel):
    """Options of the cma backend (``[tools.cma]``)."""

    model_config = ConfigDict(extra="forbid")

    sigma0: float = Field(default=2.0, gt=0.0, le=10.0, description="Initial step size.")
    popsize: int | None = Field(default=None, ge=4, le=1000, description="Population size (cma's default 4+3ln(d) when unset).")


class CmaOptimizer(OptimizerTool):
    name: ClassVar[str] = "cma"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "CMA-ES (cma package) for continuous problems."
    Options: ClassVar[type[BaseModel]] = CmaOptions
    priority: ClassVar[int] = 5
    requires_modules: ClassVar[dict[str, str]] = {"cma": "cma"}
    kinds: frozenset[str] = frozenset({"rastrigin", "sphere"})

    options: CmaOptions

    def start(self) -> None:
        import cma  # noqa: F401

    def solve(self, problem: Problem, budget: int, seed: int) -> tuple[list[Any], int]:
        import cma

        n = problem.instance().size
        rng = random.Random(f"cma-x0:{seed}")
        x0 = [rng.uniform(-BOUND, BOUND) for _ in range(n)]
        opts: dict[str, Any] = {"seed": seed + 1, "bounds": [-BOUND, BOUND], "maxfevals": budget, "verbose": -9,
                                "verb_disp": 0, "verb_log": 0, "verb_filenameprefix": "", "tolfun": 1e-12}
        if self.options.popsize:
            opts["popsize"] = self.options.popsize
        best_x, best_f, evals = x0, fitness(problem, x0), 1
        with seeded_globals(seed):
            es = cma.CMAEvolutionStrategy(x0, self.options.sigma0, opts)
            while not es.stop() and evals < budget:
                xs = es.ask()
                fs = [fitness(problem, [min(BOUND, max(-BOUND, float(v))) for v in x]) for x in xs]
                es.tell(xs, fs)
                evals += len(xs)
                for x, f in zip(xs, fs, strict=True):
                    if f < best_f:
                        best_x, best_f = [min(BOUND, max(-BOUND, float(v))) for v in x], f
        return best_x, evals
