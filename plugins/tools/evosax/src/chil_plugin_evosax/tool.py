"""``EvosaxOptimizer``: the ``optimizer`` capability with evosax's CMA-ES on JAX (CPU here), for
continuous problems (``rastrigin``, ``sphere``).

The whole run is one jitted ``lax.scan`` over generations (ask → vectorised fitness in JAX → tell),
keyed by ``jax.random.PRNGKey(seed)``: the same payload gives the same answer.  The start mean is drawn
from the seed in [-5.12, 5.12]^d, ``std_init`` 2.0, samples are clipped to the box before evaluation.
evosax minimises; the best solution ever seen is answered and its fitness recomputed (float64) by the
core's reference.  One compiled program per (dimension, population, generations) is kept.
"""

from __future__ import annotations

import random
import threading
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core.capabilities.optimizer import BOUND, OptimizerTool, Problem


class EvosaxOptions(BaseModel):
    """Options of the evosax backend (``[tools.evosax]``)."""

    model_config = ConfigDict(extra="forbid")

    std_init: float = Field(default=2.0, gt=0.0, le=10.0, description="Initial standard deviation.")
    popsize: int | None = Field(default=None, ge=4, le=1000, description="Population size (4+3ln(d) when unset).")


_COMPILED: dict[tuple[Any, ...], Any] = {}
_LOCK = threading.Lock()


class EvosaxOptimizer(OptimizerTool):
    name: ClassVar[str] = "evosax"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "evosax CMA-ES on JAX (CPU) for continuous problems."
    Options: ClassVar[type[BaseModel]] = EvosaxOptions
    priority: ClassVar[int] = 1
    requires_modules: ClassVar[dict[str, str]] = {"jax": "jax", "evosax": "evosax"}
    kinds: frozenset[str] = frozenset({"rastrigin", "sphere"})

    options: EvosaxOptions

    def start(self) -> None:
        import evosax  # noqa: F401
        import jax  # noqa: F401

    def _runner(self, kind: str, dim: int, popsize: int, generations: int) -> Any:
        key = (kind, dim, popsize, generations, self.options.std_init)
        with _LOCK:
            if key in _COMPILED:
                return _COMPILED[key]
        import jax
        import jax.numpy as jnp
        from evosax.algorithms import CMA_ES

        es = CMA_ES(population_size=popsize, solution=jnp.zeros(dim))
        params = es.default_params.replace(std_init=jnp.asarray(self.options.std_init))

        def fit(x: Any) -> Any:
            x = jnp.clip(x, -BOUND, BOUND)
            if kind == "rastrigin":
                return 10.0 * dim + jnp.sum(x * x - 10.0 * jnp.cos(2.0 * jnp.pi * x), axis=-1)
            return jnp.sum(x * x, axis=-1)

        def run(rng: Any, mean: Any) -> Any:
            rng, k0 = jax.random.split(rng)
            state = es.init(k0, mean, params)

            def step(carry: Any, _: Any) -> Any:
                rng, state = carry
                rng, ka, kt = jax.random.split(rng, 3)
                pop, state = es.ask(ka, state, params)
                state, _m = es.tell(kt, pop, fit(pop), state, params)
                return (rng, state), None

            (_, state), _ = jax.lax.scan(step, (rng, state), None, length=generations)
            return jnp.clip(state.best_solution, -BOUND, BOUND)

        compiled = jax.jit(run)
        with _LOCK:
            _COMPILED[key] = compiled
        return compiled

    def solve(self, problem: Problem, budget: int, seed: int) -> tuple[list[Any], int]:
        import math

        import jax
        import jax.numpy as jnp

        dim = problem.instance().size
        popsize = self.options.popsize or 4 + int(3 * math.log(dim))
        generations = max(1, budget // popsize)
        rng = random.Random(f"evosax-x0:{seed}")
        mean = jnp.asarray([rng.uniform(-BOUND, BOUND) for _ in range(dim)], dtype=jnp.float32)
        best = self._runner(problem.kind, dim, popsize, generations)(jax.random.PRNGKey(seed), mean)
        return [float(v) for v in best.tolist()], generations * popsize
