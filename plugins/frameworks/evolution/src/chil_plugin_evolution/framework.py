"""The ``evolution`` framework: does the policy adapt and improve?

Three kinds of record, told apart by their metadata (anything else is out of scope: ``abstained``):

**Fitness** (``metadata.problem`` = ``{"kind", "seed", ...}``, see
:mod:`chil_core.capabilities.optimizer`).  The completion proposes a solution in a ```json block
(optionally with its claimed ``fitness``).  The framework checks it, recomputes its fitness (batched
kernels: :mod:`chil_plugin_evolution.kernels`), checks the claim, and scores it in [0, 1] between the
random baseline (0) and the reference (1): the exact optimum where it is known (onemax, knapsack by
dynamic programming, Rastrigin/sphere/symbolic regression at 0) or else (TSP, or ``reference =
"optimizer"``) the best fitness an ``optimizer`` backend finds at a fixed seed and budget (a cached
tool call, so once per instance).  Verdicts: ``fit`` (scored by fitness), and, scored 0 because the
completion caused them: ``no_solution``, ``ambiguous``, ``oversize``, ``malformed``, ``wrong_length``,
``not_binary``, ``not_permutation``, ``out_of_range``, ``non_finite``, ``forbidden``, ``unknown_name``,
``too_large``, ``exponent_too_large``, ``infeasible`` (knapsack over capacity), ``false_claim`` (the
claimed fitness is not the recomputed one).

**Temporal** (``metadata.as_of`` with ``reference.answer``): ``correct`` 1, ``stale`` (right at another
time) ``stale_score`` (0 by default), ``wrong`` / ``no_answer`` / ``ambiguous`` / ``oversize`` 0; see
:mod:`chil_plugin_evolution.temporal`.

**Population and episode** (on top of either): completions of one ``group`` evaluated together get
``fitness_rank`` and ``novelty`` components (weighted into the score by ``population_weight``); with
``metadata.episode`` and a ``text_index`` backend, an attempt that repeats an earlier failed attempt of
the episode is scored 0 (``repeated_failure``), and one that beats the best earlier fitness gets the
``improvement`` component (weighted by ``improvement_weight``).

A malformed record (a bad ``metadata.problem``) is an ``error`` naming the field with cause
``infrastructure`` (masked: it is the data's fault); a failing reference optimiser is ``timeout`` /
``error`` through :func:`chil_core.failures.tool_failure` (its payload is the record's problem, not the
completion: infrastructure, masked); what the completion caused (an invalid, oversize, hostile or
falsely claimed solution) is a verdict scored 0, never masked.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Evidence, Framework, FrameworkResult, Record, ToolResult
from chil_core.capabilities.optimizer import (
    Problem,
    ProblemError,
    SolutionError,
    baseline,
    check_solution,
    exact_optimum,
    normalized,
    optimize_payload,
)
from chil_core.capabilities.text_index import MAX_LIMIT, MAX_NAME, MAX_TEXT
from chil_core.failures import tool_failure
from chil_plugin_evolution import kernels as K
from chil_plugin_evolution import solutions, temporal
from chil_plugin_evolution.evaluate import Batcher, Evaluation

log = logging.getLogger(__name__)


class EvolutionOptions(BaseModel):
    """Options of the evolution framework (``[frameworks.evolution.options]``)."""

    model_config = ConfigDict(extra="forbid")

    kernels: Literal["auto", "native", "numba", "numpy", "python"] = Field(
        default="auto", description="Fitness kernels: auto = native C++ when built, else NumPy.")
    reference: Literal["auto", "exact", "optimizer"] = Field(
        default="auto", description="auto: exact optimum when known, else the optimizer backend's best.")
    budget: int = Field(default=2_000, ge=10, le=200_000, description="Evaluations of a reference optimiser run.")
    optimizer_seed: int = Field(default=0, ge=0, description="Seed of reference optimiser runs.")
    max_solution_chars: int = Field(default=200_000, ge=100, description="A larger solution block is 'oversize'.")
    max_entries: int = Field(default=100_000, ge=10, description="A longer solution vector is 'oversize'.")
    claim_tolerance: float = Field(default=1e-3, ge=0.0, le=0.1, description="Relative tolerance of a claimed fitness.")
    stale_score: float = Field(default=0.0, ge=0.0, le=1.0, description="Score of an answer right at another time.")
    population_weight: float = Field(default=0.0, ge=0.0, le=1.0, description="Weight of rank and novelty within a group.")
    novelty_share: float = Field(default=0.5, ge=0.0, le=1.0, description="Share of novelty (vs fitness rank) in the population part.")
    memory: bool = Field(default=True, description="Use the episode memory (text_index) when metadata.episode is set.")
    improvement_weight: float = Field(default=0.2, ge=0.0, le=1.0, description="Weight of beating the best earlier attempt.")
    failed_below: float = Field(default=0.5, ge=0.0, le=1.0, description="An attempt scored below this counts as failed.")


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()


class EvolutionFramework(Framework):
    """Fitness of proposed solutions, temporal adaptation, population and episode improvement."""

    name: ClassVar[str] = "evolution"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Does it adapt and improve? Recomputed fitness vs reference optimisers, temporal answers, population, episodes."
    capabilities: ClassVar[dict[str, bool]] = {"optimizer": False, "text_index": False}
    default_tools: ClassVar[dict[str, str]] = {"optimizer": "deap", "text_index": "sqlite"}
    default_weight: ClassVar[float] = 1.0
    Options: ClassVar[type[BaseModel]] = EvolutionOptions
    #: episode memory: a record's result depends on the attempts scored before it
    sequential: ClassVar[bool] = True

    options: EvolutionOptions

    def __init__(self, options: BaseModel | None = None) -> None:
        super().__init__(options)
        self.kernels = K.select(self.options.kernels)
        self._batchers: dict[int, Batcher] = {}
        self._episode_locks: dict[tuple[int, str], asyncio.Lock] = {}

    def _batcher(self) -> Batcher:
        loop = asyncio.get_running_loop()
        b = self._batchers.get(id(loop))
        if b is None:
            self._batchers = {id(loop): (b := Batcher(self.kernels))}  # one live loop at a time
        return b

    async def score(self, record: Record, ctx: Any) -> FrameworkResult:
        md = record.metadata or {}
        episode = md.get("episode")
        if episode in (None, "") or not self.options.memory or not ctx.has("text_index"):
            return await self._score(record, md, ctx)
        # attempts of one episode are judged one after another, in the order they were submitted
        # (records start in input order; asyncio.Lock wakes its waiters first come, first served)
        key = (id(asyncio.get_running_loop()), str(episode))
        lock = self._episode_locks.get(key)
        if lock is None:
            if len(self._episode_locks) > 10_000:
                self._episode_locks = {k: v for k, v in self._episode_locks.items() if v.locked()}
            lock = self._episode_locks[key] = asyncio.Lock()
        async with lock:
            return await self._score(record, md, ctx)

    async def _score(self, record: Record, md: dict[str, Any], ctx: Any) -> FrameworkResult:
        if "problem" in md:
            return await self._fitness(record, md, ctx)
        if "as_of" in md:
            return await self._temporal(record, md, ctx)
        return FrameworkResult.abstained("no metadata.problem or metadata.as_of: nothing the evolution framework judges")

    # -- fitness ----------------------------------------------------------------------------------
    async def _fitness(self, record: Record, md: dict[str, Any], ctx: Any) -> FrameworkResult:
        try:
            problem = Problem.from_json(md["problem"], "metadata.problem")
            problem.instance()
        except ProblemError as exc:
            return FrameworkResult.failed(f"malformed record: {exc}", cause="infrastructure")
        o = self.options
        prop = solutions.extract(record.completion, o.max_solution_chars)
        if prop.status != "ok":
            return await self._zero(record, problem, prop.status, prop.message, ctx)
        try:
            checked = check_solution(problem, prop.solution, max_entries=o.max_entries)
        except SolutionError as exc:
            return await self._zero(record, problem, exc.status, str(exc), ctx)
        ev: Evaluation = await self._batcher().submit(problem, checked, record.group)
        f = ev.fitness
        sol_digest = (_digest(problem.key(), repr(checked.to_json() if hasattr(checked, "to_json") else checked))
                      if self._remembers(record, ctx) else None)
        evidence = [Evidence(kind="fitness", text=f"recomputed {problem.kind} fitness {f:.6g} ({self.kernels.name} kernels)",
                             data={"fitness": f, "kernels": self.kernels.name, **({"weight": ev.weight} if ev.weight is not None else {})})]
        if not math.isfinite(f):
            return await self._zero(record, problem, "non_finite", f"the solution's fitness is {f} (e.g. a division by zero on a data point)", ctx, sol_digest)
        if prop.claimed is not None and not math.isclose(prop.claimed, f, rel_tol=o.claim_tolerance, abs_tol=o.claim_tolerance):
            evidence.append(Evidence(kind="false_claim", text=f"claimed fitness {prop.claimed:.6g}, recomputed {f:.6g}",
                                     data={"claimed": prop.claimed, "fitness": f}))
            return await self._zero(record, problem, "false_claim", f"claimed fitness {prop.claimed:.6g} is not the recomputed {f:.6g}",
                                    ctx, sol_digest, evidence)
        if not ev.feasible:
            cap = problem.instance().capacity
            return await self._zero(record, problem, "infeasible", f"weight {ev.weight} exceeds the capacity {cap}", ctx, sol_digest, evidence)
        ref = await self._reference(problem, ctx)
        if isinstance(ref, FrameworkResult):
            return ref
        ref_value, ref_source = ref
        base = await asyncio.to_thread(baseline, problem)
        fit_score = normalized(problem, f, ref_value)
        components: dict[str, float] = {"fitness": f, "reference": ref_value, "baseline": base, "fitness_score": fit_score}
        evidence.append(Evidence(kind="reference", text=f"reference {ref_value:.6g} ({ref_source}), random baseline {base:.6g}",
                                 data={"reference": ref_value, "source": ref_source, "baseline": base}))
        if prop.claimed is not None:
            components["claimed"] = prop.claimed
        score = fit_score
        if ev.fitness_rank is not None and ev.novelty is not None:
            components.update(fitness_rank=ev.fitness_rank, novelty=ev.novelty, group_size=float(ev.group_size))
            if o.population_weight:
                pop = (1 - o.novelty_share) * ev.fitness_rank + o.novelty_share * ev.novelty
                score = (1 - o.population_weight) * score + o.population_weight * pop
        verdict = "fit"
        failed = fit_score < o.failed_below
        mem = await self._episode(record, problem.key(), sol_digest, f, failed, problem.direction, ctx) if sol_digest else None
        if mem is not None:
            verdict, score = self._apply_memory(mem, verdict, score, fit_score, components, evidence)
        return FrameworkResult.scored(score, verdict=verdict, components=components, evidence=evidence,
                                      explanation=f"{problem.kind}: fitness {f:.6g}, reference {ref_value:.6g} ({ref_source})")

    async def _zero(self, record: Record, problem: Problem, status: str, message: str, ctx: Any,
                    sol_digest: str | None = None, evidence: list[Evidence] | None = None) -> FrameworkResult:
        """A failure the completion caused: scored 0 (penalised, never masked)."""
        evidence = list(evidence or []) + [Evidence(kind="invalid_solution", text=f"{status}: {message}", data={"status": status})]
        components = {"valid": 0.0}
        verdict = status
        if sol_digest is not None:
            mem = await self._episode(record, problem.key(), sol_digest, math.nan, True, problem.direction, ctx)
            if mem is not None:
                verdict, _ = self._apply_memory(mem, verdict, 0.0, 0.0, components, evidence)
        return FrameworkResult.scored(0.0, verdict=verdict, components=components, evidence=evidence, explanation=f"{problem.kind}: {status}: {message}")

    async def _reference(self, problem: Problem, ctx: Any) -> tuple[float, str] | FrameworkResult:
        o = self.options
        # a large knapsack's dynamic programme takes a moment the first time: off the event loop
        fallback = await asyncio.to_thread(exact_optimum, problem)
        exact = fallback if o.reference != "optimizer" else None
        if exact is not None:
            return exact, "exact optimum"
        if o.reference != "exact" and ctx.has("optimizer"):
            res: ToolResult = await ctx.call("optimizer", "optimize", optimize_payload(problem, o.budget, o.optimizer_seed))
            if res.ok:
                return float(res.value["fitness"]), f"{ctx.backend('optimizer')} at seed {o.optimizer_seed}, budget {o.budget}"
            if fallback is not None:
                log.info("optimizer failed (%s: %s); using the exact optimum", res.status, res.error)
                return fallback, "exact optimum"
            if (res.error or "").startswith("unsupported kind"):
                return FrameworkResult.abstained(f"no reference for {problem.kind}: {res.error}", cause="infrastructure")
            # the payload is the record's problem, not the completion: a failure is infrastructure (masked)
            return tool_failure(res, "optimizer", completion_input=False)
        if fallback is not None:
            return fallback, "exact optimum"
        return FrameworkResult.abstained(f"no reference for {problem.kind}: no optimizer backend is configured and no exact optimum is known")

    # -- temporal ---------------------------------------------------------------------------------
    async def _temporal(self, record: Record, md: dict[str, Any], ctx: Any) -> FrameworkResult:
        try:
            job = temporal.parse_record(md, record.reference)
        except temporal.TemporalRecordError as exc:
            return FrameworkResult.failed(f"malformed record: {exc}", cause="infrastructure")
        verdict, answer, data = temporal.judge(job, record.completion)
        score = 1.0 if verdict == "correct" else self.options.stale_score if verdict == "stale" else 0.0
        if verdict == "correct":
            text = f"{answer!r} is right as of {job.as_of}"
        elif verdict == "stale":
            when = ", ".join(data.get("right_at") or []) or "another time"
            text = f"{answer!r} was right at {when}, not as of {job.as_of}"
        elif verdict == "wrong":
            text = f"{answer!r} is not an answer of {job.as_of} nor of another time"
        else:
            text = f"{verdict}: {data.get('candidates') or 'no answer found'}"
        evidence = [Evidence(kind="temporal", text=text, data={"answer": answer, "verdict": verdict, **data})]
        components = {"correct": float(verdict == "correct"), "stale": float(verdict == "stale")}
        if answer is not None:
            mem = await self._episode(record, "temporal:" + _digest(record.prompt, job.as_of), _digest(temporal.normalize(answer)),
                                      score, verdict != "correct", "max", ctx)
            if mem is not None and mem.get("repeated"):
                verdict, score = self._apply_memory(mem, verdict, score, score, components, evidence)
        return FrameworkResult.scored(score, verdict=verdict, components=components, evidence=evidence, explanation=text)

    # -- episode memory ---------------------------------------------------------------------------
    def _remembers(self, record: Record, ctx: Any) -> bool:
        return (record.metadata or {}).get("episode") not in (None, "") and self.options.memory and ctx.has("text_index")

    async def _episode(self, record: Record, problem_key: str, sol_digest: str, fitness: float, failed: bool,
                       direction: str, ctx: Any) -> dict[str, Any] | None:
        episode = (record.metadata or {}).get("episode")
        if episode in (None, "") or not self.options.memory or not ctx.has("text_index"):
            return None
        episode = str(episode)[:MAX_NAME]
        pterm = "p:" + _digest(problem_key)
        res = await ctx.call("text_index", "search", {"episode": episode, "terms": [pterm], "kind": "evolution",
                                                      "exclude_record": record.id[:MAX_NAME], "limit": MAX_LIMIT})
        if not res.ok:
            log.warning("episode memory search failed (%s: %s)", res.status, res.error)
            return {"note": f"episode memory unavailable ({res.status})"}
        earlier = [h["data"] for h in res.value.get("hits", []) if isinstance(h.get("data"), dict)]
        repeated = any(d.get("digest") == sol_digest and d.get("failed") for d in earlier)
        fits = [d["fitness"] for d in earlier if isinstance(d.get("fitness"), int | float) and math.isfinite(d["fitness"])]
        best = (max(fits) if direction == "max" else min(fits)) if fits else None
        claim = {"kind": "evolution", "text": f"attempt {sol_digest} fitness {fitness}"[:MAX_TEXT],
                 "data": {"digest": sol_digest, "fitness": fitness if math.isfinite(fitness) else None, "failed": failed},
                 "terms": [pterm, "s:" + sol_digest]}
        add = await ctx.call("text_index", "add", {"episode": episode, "record": record.id[:MAX_NAME], "claims": [claim]})
        if not add.ok:
            log.warning("episode memory add failed (%s: %s)", add.status, add.error)
        improved = None
        if best is not None and math.isfinite(fitness):
            improved = fitness > best if direction == "max" else fitness < best
        return {"repeated": repeated, "earlier": len(earlier), "best": best, "improved": improved}

    def _apply_memory(self, mem: dict[str, Any], verdict: str, score: float, fit_score: float,
                      components: dict[str, float], evidence: list[Evidence]) -> tuple[str, float]:
        if "note" in mem:
            evidence.append(Evidence(kind="episode", text=mem["note"]))
            return verdict, score
        components["earlier_attempts"] = float(mem["earlier"])
        if mem["repeated"]:
            components["repeated_failure"] = 1.0
            evidence.append(Evidence(kind="episode", text="repeats an attempt that already failed in this episode", data=mem))
            return "repeated_failure", 0.0
        if mem["improved"] is not None:
            improved = 1.0 if (mem["improved"] or fit_score >= 1.0) else 0.0
            components["improvement"] = improved
            evidence.append(Evidence(kind="episode", text=("improves on" if mem["improved"] else "does not improve on")
                                     + f" the best earlier fitness {mem['best']:.6g}", data=mem))
            w = self.options.improvement_weight
            score = (1 - w) * score + w * improved
        return verdict, score
