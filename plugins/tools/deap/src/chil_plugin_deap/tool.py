"""``DeapOptimizer``: the ``optimizer`` capability with DEAP's ``eaSimple`` genetic algorithm.

- bit strings (``onemax``, ``knapsack``): two-point crossover, bit-flip mutation;
- permutations (``tsp``): ordered crossover, index-shuffle mutation;
- real vectors (``rastrigin``, ``sphere``): blend crossover and Gaussian mutation clipped to the box.

Tournament selection (size 3), population ``clamp(budget / 50, 20, 200)``, as many generations as the
evaluation budget allows, the best individual ever seen (hall of fame) is the answer.  DEAP draws from
the global ``random`` module: every run seeds it under a process-wide lock and restores it
(:class:`chil_core.capabilities.optimizer.seeded_globals`), so a seed gives the same answer every time.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core.capabilities.optimizer import (
    BOUND,
    OptimizerTool,
    Problem,
    fitness,
    seeded_globals,
)


class DeapOptions(BaseModel):
    """Options of the deap backend (``[tools.deap]``)."""

    model_config = ConfigDict(extra="forbid")

    crossover: float = Field(default=0.7, ge=0.0, le=1.0, description="Crossover probability.")
    mutation: float = Field(default=0.2, ge=0.0, le=1.0, description="Mutation probability per individual.")


class DeapOptimizer(OptimizerTool):
    name: ClassVar[str] = "deap"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "DEAP genetic algorithm: bit strings, permutations (TSP), real vectors."
    Options: ClassVar[type[BaseModel]] = DeapOptions
    priority: ClassVar[int] = 10
    requires_modules: ClassVar[dict[str, str]] = {"deap": "deap"}
    kinds: frozenset[str] = frozenset({"onemax", "knapsack", "tsp", "rastrigin", "sphere"})

    options: DeapOptions

    def start(self) -> None:
        from deap import base, creator, tools  # noqa: F401 - imported once here

        for name, weight in (("ChilFitMax", 1.0), ("ChilFitMin", -1.0)):
            if not hasattr(creator, name):
                creator.create(name, base.Fitness, weights=(weight,))
        for name, fit in (("ChilIndMax", "ChilFitMax"), ("ChilIndMin", "ChilFitMin")):
            if not hasattr(creator, name):
                creator.create(name, list, fitness=getattr(creator, fit))

    def solve(self, problem: Problem, budget: int, seed: int) -> tuple[list[Any], int]:
        import random

        from deap import algorithms, base, creator, tools

        n = problem.instance().size
        ind_cls = creator.ChilIndMax if problem.direction == "max" else creator.ChilIndMin
        tb = base.Toolbox()
        kind = problem.kind
        if kind in ("onemax", "knapsack"):
            tb.register("attr", random.randint, 0, 1)
            tb.register("individual", tools.initRepeat, ind_cls, tb.attr, n)
            tb.register("mate", tools.cxTwoPoint)
            tb.register("mutate", tools.mutFlipBit, indpb=1.0 / n)
        elif kind == "tsp":
            tb.register("perm", random.sample, range(n), n)
            tb.register("individual", tools.initIterate, ind_cls, tb.perm)
            tb.register("mate", tools.cxOrdered)
            tb.register("mutate", tools.mutShuffleIndexes, indpb=2.0 / n)
        else:
            tb.register("attr", random.uniform, -BOUND, BOUND)
            tb.register("individual", tools.initRepeat, ind_cls, tb.attr, n)
            tb.register("mate", tools.cxBlend, alpha=0.3)

            def mutate(ind: list[float]) -> tuple[list[float]]:
                tools.mutGaussian(ind, mu=0.0, sigma=0.3, indpb=1.0 / n)
                for i, v in enumerate(ind):
                    ind[i] = min(BOUND, max(-BOUND, v))
                return (ind,)

            tb.register("mutate", mutate)

            def mate(a: list[float], b: list[float]) -> tuple[list[float], list[float]]:
                tools.cxBlend(a, b, alpha=0.3)
                for ind in (a, b):
                    for i, v in enumerate(ind):
                        ind[i] = min(BOUND, max(-BOUND, v))
                return a, b

            tb.register("mate", mate)
        tb.register("population", tools.initRepeat, list, tb.individual)
        tb.register("evaluate", lambda ind: (fitness(problem, list(ind)),))
        tb.register("select", tools.selTournament, tournsize=3)
        pop_size = max(20, min(200, budget // 50))
        generations = max(1, (budget - pop_size) // pop_size)
        with seeded_globals(seed):
            pop = tb.population(n=pop_size)
            hof = tools.HallOfFame(1)
            _, log = algorithms.eaSimple(pop, tb, cxpb=self.options.crossover, mutpb=self.options.mutation,
                                         ngen=generations, halloffame=hof, verbose=False,
                                         stats=None)
        evaluations = sum(rec["nevals"] for rec in log)
        best = list(hof[0])
        return best, evaluations
