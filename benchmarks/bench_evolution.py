"""The evolution framework's must-show figures, in one run (several tables).

    python benchmarks/bench_evolution.py [--quick]

1. **fitness**: the framework's recomputed fitness vs an independent NumPy computation written here
   (not the kernels) on generated solutions of every kind; planted wrong claimed fitness (off by
   0.5 % to 50 % (at least 0.01) or by 1) all caught and honest claims all accepted.
2. **reference optimisers**: deap, cma, evosax run twice at the same seed and budget: same answer.
3. **SituatedQA dev** (``../shared/data/situatedqa``): verdict accuracy for completions that give a gold
   answer (in rotating surface forms), an answer right at another time, another question's answer;
   disagreements listed.
4. **kernels**: evaluations/s of the python (reference), numpy, numba and native kernels on 10,000 tours
   of 200 cities and on symbolic regression over 1,000 points, same run; ratio to python.
5. **throughput**: records/s and p50/p99 ms per evaluation through the Scorer, cold and warm, against a
   naive per-record loop (pure-Python kernels, no batching, no scheduler) in the same run.
6. **hostile input**: each hostile completion's verdict and time: typed, nothing executed, nothing hangs.

The machine is shared (2 cores, up to 8 jobs): absolute figures are noisy; compare ratios of one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "evolution"))
from _common import percentile, table  # noqa: E402
from chil_plugin_evolution import kernels as K  # noqa: E402
from chil_plugin_evolution.framework import EvolutionFramework, EvolutionOptions  # noqa: E402
from chil_plugin_evolution.temporal import normalize  # noqa: E402
from data import fenced, surface, temporal_records  # noqa: E402

from chil_core import Record  # noqa: E402
from chil_core.capabilities.expression import compile_expression  # noqa: E402
from chil_core.capabilities.optimizer import Problem, check_solution, fitness, random_solution  # noqa: E402
from chil_core.scoring import Scorer  # noqa: E402
from chil_core.testing import DirectContext  # noqa: E402

# expressions with an independent NumPy twin (written by hand, not parsed)
EXPRS = {
    "3*x^2 - x + 1": lambda x: 3 * x**2 - x + 1,
    "sin(x)*exp(-x^2)": lambda x: np.sin(x) * np.exp(-(x**2)),
    "sqrt(abs(x)) + 1/(x + 3)": lambda x: np.sqrt(np.abs(x)) + 1 / (x + 3),
    "tanh(x)^3 - cos(pi*x)/2": lambda x: np.tanh(x) ** 3 - np.cos(np.pi * x) / 2,
    "x^5 - 2*x^3 + x": lambda x: x**5 - 2 * x**3 + x,
    "log(x^2 + 1) * e": lambda x: np.log(x**2 + 1) * np.e,
}


def independent(problem: Problem, sol: Any) -> float:
    inst = problem.instance()
    k = problem.kind
    if k == "onemax":
        return float(np.sum(sol))
    if k == "knapsack":
        w = float(np.dot(sol, inst.weights))
        return float(np.dot(sol, inst.values)) if w <= inst.capacity else 0.0
    if k == "tsp":
        pts = np.asarray(inst.coords)[sol]
        return float(np.linalg.norm(pts - np.roll(pts, -1, axis=0), axis=1).sum())
    if k == "symbolic_regression":
        pts = np.asarray(inst.points)[:, 0]
        return float(np.mean((EXPRS[sol](pts) - np.asarray(inst.targets)) ** 2))
    x = np.asarray(sol, dtype=float)
    if k == "rastrigin":
        return float(10 * x.size + np.sum(x**2 - 10 * np.cos(2 * np.pi * x)))
    return float(np.sum(x**2))  # sphere




def score_all(fw: EvolutionFramework, records: list[dict[str, Any]], tools: dict[str, Any] | None = None) -> list[Any]:
    ctx = DirectContext(tools or {})

    async def go() -> list[Any]:
        return list(await asyncio.gather(*(fw.score(Record.model_validate(r), ctx) for r in records)))

    try:
        return asyncio.run(go())
    finally:
        ctx.close()


# 1 -------------------------------------------------------------------------------------------------
def fitness_section(n_per_kind: int) -> list[dict[str, Any]]:
    rng = random.Random(0)
    from chil_plugin_deap.tool import DeapOptimizer

    specs = [{"kind": "onemax", "n": 64}, {"kind": "knapsack", "n": 40}, {"kind": "tsp", "n": 30},
             {"kind": "rastrigin", "dim": 8}, {"kind": "sphere", "dim": 8}, {"kind": "symbolic_regression", "n_points": 200}]
    rows = []
    fw = EvolutionFramework(EvolutionOptions())
    for spec in specs:
        honest, planted, sols, problems = [], [], [], []
        for i in range(n_per_kind):
            problem = Problem.from_json({**spec, "seed": i % 10})
            sol = rng.choice(list(EXPRS)) if spec["kind"] == "symbolic_regression" else random_solution(problem, rng)
            f = fitness(problem, check_solution(problem, sol))
            # off by 0.5 % to 50 % of the true value (at least 0.01), or by 1
            wrong = f + rng.choice([-1, 1]) * rng.choice([max(abs(f) * d, 0.01) for d in (0.005, 0.05, 0.5)] + [1.0])
            honest.append({"id": f"h{i}", "prompt": "p", "completion": fenced(sol, f), "metadata": {"problem": problem.to_json()}})
            planted.append({"id": f"w{i}", "prompt": "p", "completion": fenced(sol, wrong), "metadata": {"problem": problem.to_json()}})
            sols.append(sol)
            problems.append(problem)
        tools = {"optimizer": DeapOptimizer()} if spec["kind"] == "tsp" else {}
        out = score_all(fw, honest + planted, tools)
        h, w = out[:n_per_kind], out[n_per_kind:]
        agree = sum(math.isclose(r.components.get("fitness", math.nan), independent(p, s), rel_tol=1e-9, abs_tol=1e-9)
                    or (r.verdict == "infeasible" and independent(p, s) == 0.0)
                    for r, p, s in zip(h, problems, sols, strict=True))
        rows.append({"kind": spec["kind"], "solutions": n_per_kind, "fitness = independent": f"{agree}/{n_per_kind}",
                     "honest claims accepted": f"{sum(r.verdict in ('fit', 'infeasible') for r in h)}/{n_per_kind}",
                     "planted wrong claims caught": f"{sum(r.verdict == 'false_claim' for r in w)}/{n_per_kind}"})
    return rows


# 2 -------------------------------------------------------------------------------------------------
def optimizer_section() -> list[dict[str, Any]]:
    from chil_core.testing.optimizer import call_for

    rows = []
    runs = [("deap", {"kind": "tsp", "seed": 1, "n": 30}, 3000), ("deap", {"kind": "knapsack", "seed": 1, "n": 40}, 3000),
            ("cma", {"kind": "rastrigin", "seed": 1, "dim": 10}, 3000), ("evosax", {"kind": "rastrigin", "seed": 1, "dim": 10}, 3000),
            ("cma", {"kind": "sphere", "seed": 1, "dim": 10}, 3000), ("evosax", {"kind": "sphere", "seed": 1, "dim": 10}, 3000)]
    for backend, spec, budget in runs:
        if backend == "deap":
            from chil_plugin_deap.tool import DeapOptimizer as cls
        elif backend == "cma":
            from chil_plugin_cma.tool import CmaOptimizer as cls
        else:
            from chil_plugin_evosax.tool import EvosaxOptimizer as cls
        if cls.unavailable_reason():
            rows.append({"backend": backend, "problem": spec["kind"], "same twice": f"unavailable: {cls.unavailable_reason()}"})
            continue
        tool = cls()
        tool.start()
        call = call_for(spec, budget, 7)
        t0 = time.perf_counter()
        a = tool.run_batch([call])[0]
        t1 = time.perf_counter()
        b = tool.run_batch([call])[0]
        t2 = time.perf_counter()
        c = tool.run_batch([call_for(spec, budget, 8)])[0]
        rows.append({"backend": backend, "problem": f"{spec['kind']} ({spec.get('n') or spec.get('dim')})", "budget": budget,
                     "fitness": a["fitness"], "same twice": a == b, "seed 8 fitness": c["fitness"],
                     "first s": t1 - t0, "second s": t2 - t1})
    return rows


# 3 -------------------------------------------------------------------------------------------------
def situatedqa_section() -> tuple[list[dict[str, Any]], list[str]]:
    recs = temporal_records()
    rng = random.Random(0)
    pool = [g for r in recs for g in r["reference"]["answer"]]
    items: list[tuple[str, dict[str, Any]]] = []
    for i, r in enumerate(recs):
        items.append(("correct", {**r, "id": f"{r['id']}-c", "completion": surface(rng.choice(r["reference"]["answer"]), i)}))
        if r["metadata"]["other_answers"]:
            o = rng.choice(r["metadata"]["other_answers"])
            items.append(("stale", {**r, "id": f"{r['id']}-s", "completion": surface(o["answer"], i + 1)}))
        taken = {normalize(a) for a in r["reference"]["answer"]} | {normalize(o["answer"]) for o in r["metadata"]["other_answers"]}
        wrong = next(a for a in (rng.choice(pool) for _ in range(1000)) if normalize(a) not in taken)
        items.append(("wrong", {**r, "id": f"{r['id']}-w", "completion": surface(wrong, i + 2)}))
    fw = EvolutionFramework(EvolutionOptions())
    out = score_all(fw, [x for _, x in items])
    rows, disagreements = [], []
    for label in ("correct", "stale", "wrong"):
        sel = [(x, r) for (lab, x), r in zip(items, out, strict=True) if lab == label]
        ok = sum(r.verdict == label for _, r in sel)
        rows.append({"expected verdict": label, "records": len(sel), "agree": ok, "accuracy %": 100.0 * ok / max(1, len(sel))})
        for x, r in sel:
            if r.verdict != label:
                disagreements.append(f"{x['id']}: expected {label}, got {r.verdict}: {x['completion']!r} "
                                     f"(gold {x['reference']['answer']}, as of {x['metadata']['as_of']})")
    total = sum(r["records"] for r in rows)
    rows.append({"expected verdict": "all", "records": total, "agree": sum(r["agree"] for r in rows),
                 "accuracy %": 100.0 * sum(r["agree"] for r in rows) / total})
    return rows, disagreements


# 4 -------------------------------------------------------------------------------------------------
def kernel_section(tours_n: int, cities: int, points: int, exprs: int, python_cap: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(0)
    coords = rng.random((cities, 2))
    tours = np.stack([rng.permutation(cities) for _ in range(tours_n)]).astype(np.int64)
    x = np.ascontiguousarray(rng.uniform(-2, 2, (points, 1)))
    y = 3 * x[:, 0] ** 2 - x[:, 0] + 1
    texts = list(EXPRS)
    programs = [compile_expression(texts[i % len(texts)], ["x"]) for i in range(exprs)]
    impls = [K.PYTHON, K.NUMPY]
    t0 = time.perf_counter()
    nb = K.numba_kernels()
    if nb is not None:
        nb.tour_lengths(coords, tours[:2])
        nb.expr_mse(*K.pack_programs(programs[:2]), x, y)
        impls.append(nb)
    numba_compile = time.perf_counter() - t0
    native = K.native_kernels()
    if native is not None:
        impls.append(native)
    rows = []
    base: dict[str, float] = {}
    ref_tours = K.PYTHON.tour_lengths(coords, tours[:python_cap])
    for kern in impls:
        for work in ("tours", "expressions"):
            if work == "tours":
                n = min(tours_n, python_cap) if kern is K.PYTHON else tours_n
                t = time.perf_counter()
                out = kern.tour_lengths(coords, tours[:n])
                dt = time.perf_counter() - t
                agree = bool(np.allclose(out[: len(ref_tours)], ref_tours[: min(n, len(ref_tours))], rtol=1e-9))
                label = f"{tours_n:,} tours x {cities} cities"
            else:
                n = min(exprs, max(20, python_cap // 50)) if kern is K.PYTHON else exprs
                packed = K.pack_programs(programs[:n])
                t = time.perf_counter()
                out = kern.expr_mse(*packed, x, y)
                dt = time.perf_counter() - t
                agree = True
                label = f"{exprs:,} expressions x {points:,} points"
            rate = n / dt
            if kern is K.PYTHON:
                base[work] = rate
            rows.append({"workload": label, "kernels": kern.name, "evaluated": n, "seconds": dt, "evals/s": rate,
                         "x python": rate / base[work], "agrees": agree})
    if nb is not None:
        rows.append({"workload": "(numba first-call compile, cached on disk after)", "kernels": "numba", "seconds": numba_compile})
    return rows


# 5 -------------------------------------------------------------------------------------------------
def workload(n: int) -> list[dict[str, Any]]:
    rng = random.Random(1)
    specs = [{"kind": "tsp", "n": 100}, {"kind": "knapsack", "n": 200}, {"kind": "rastrigin", "dim": 50},
             {"kind": "symbolic_regression", "n_points": 500}]
    out = []
    for i in range(n):
        problem = Problem.from_json({**specs[i % 4], "seed": (i // 4) % 8})
        sol = rng.choice(list(EXPRS)) if problem.kind == "symbolic_regression" else random_solution(problem, rng)
        out.append({"id": f"t{i}", "prompt": "p", "completion": fenced(sol, None), "group": f"g{i // 8}",
                    "metadata": {"problem": problem.to_json()}})
    return out


class _MemoOptimizer:
    """The naive loop's reference cache (a dict), so it differs from the Scorer only in batching,
    kernels and scheduling, not in rerunning the optimiser."""

    def __init__(self) -> None:
        from chil_plugin_deap.tool import DeapOptimizer

        self.tool = DeapOptimizer()
        self.memo: dict[str, Any] = {}
        self.name = "deap"

    def start(self) -> None:
        self.tool.start()

    def close(self) -> None:
        pass

    def run_batch(self, calls: list[Any]) -> list[Any]:
        out = []
        for c in calls:
            key = json.dumps(c.payload, sort_keys=True)
            if key not in self.memo:
                self.memo[key] = self.tool.run_batch([c])[0]
            out.append(self.memo[key])
        return out


def throughput_section(n: int, sample: int) -> list[dict[str, Any]]:
    recs = workload(n)
    rows = []
    fw = EvolutionFramework(EvolutionOptions(kernels="python"))
    ctx = DirectContext({"optimizer": _MemoOptimizer()})
    loop = asyncio.new_event_loop()
    lats = {"cold": [], "warm": []}
    for phase in ("cold", "warm"):
        t0 = time.perf_counter()
        for r in recs:
            t = time.perf_counter()
            loop.run_until_complete(fw.score(Record.model_validate(r), ctx))
            lats[phase].append((time.perf_counter() - t) * 1000)
        dt = time.perf_counter() - t0
        rows.append({"mode": f"naive per-record loop, python kernels ({phase})", "records": n, "records/s": n / dt,
                     "p50 ms": percentile(lats[phase], 50), "p99 ms": percentile(lats[phase], 99)})
    loop.close()
    ctx.close()
    # a reference optimisation (DEAP on TSP-100) must fit in the per-call timeout, on a loaded machine too
    cfg = {"cache": {"enabled": True, "path": None}, "scheduler": {"timeout_s": 300},
           "frameworks": {"evolution": {"tools": {"optimizer": "deap"}}}}
    with Scorer.from_config(cfg, frameworks=["evolution"]) as scorer:
        for phase in ("cold", "warm"):
            t0 = time.perf_counter()
            failed = 0
            for i in range(0, n, 256):
                failed += sum(r.frameworks["evolution"].status != "scored" for r in scorer.score(recs[i : i + 256]))
            dt = time.perf_counter() - t0
            rows.append({"mode": f"Scorer, batches of 256, {K.select('auto').name} kernels ({phase})", "records": n,
                         "records/s": n / dt, "not scored": failed})
    with Scorer.from_config(cfg, frameworks=["evolution"]) as scorer:
        sub = recs[:sample]
        for phase in ("cold", "warm"):
            lat = []
            for r in sub:
                t = time.perf_counter()
                scorer.score([r])
                lat.append((time.perf_counter() - t) * 1000)
            rows.append({"mode": f"Scorer, one record per call ({phase})", "records": len(sub), "records/s": 1000 * len(sub) / sum(lat),
                         "p50 ms": percentile(lat, 50), "p99 ms": percentile(lat, 99)})
    return rows


# 6 -------------------------------------------------------------------------------------------------
def hostile_section() -> list[dict[str, Any]]:
    sr = {"kind": "symbolic_regression", "seed": 1}
    tsp = {"kind": "tsp", "seed": 1, "n": 10}
    ras = {"kind": "rastrigin", "seed": 1, "dim": 4}
    marker = "/tmp/chil-evolution-pwned"
    cases = [
        ("attribute access", sr, "x.__class__.__mro__[1].__subclasses__()"),
        ("import", sr, f"__import__('os').system('touch {marker}')"),
        ("keyword import", sr, "import os"),
        ("huge exponent", sr, "x ^ 99999999999"),
        ("exponent tower", sr, "2 ^ 2 ^ 2 ^ 2 ^ 2 ^ 2"),
        ("variable exponent", sr, "x ^ x"),
        ("deep nesting", sr, "(" * 5000 + "x" + ")" * 5000),
        ("10^5 terms", sr, "+".join(["x"] * 100_000)),
        ("division by zero", sr, "1/(x-x)"),
        ("tour with duplicates", tsp, [0, 1, 2, 3, 4, 5, 6, 7, 8, 8]),
        ("tour missing a city", tsp, [0, 1, 2, 3, 4, 5, 6, 7, 8]),
        ("tour out of range", tsp, [0, 1, 2, 3, 4, 5, 6, 7, 8, 10**18]),
        ("vector with NaN", ras, "NaN"),
        ("vector of 10^6 entries", ras, [0.0] * 1_000_000),
        ("JSON nested 10^5 deep", ras, "nest"),
        ("number with 10^5 digits", ras, "bigint"),
    ]
    rows = []
    fw = EvolutionFramework(EvolutionOptions())
    from chil_plugin_deap.tool import DeapOptimizer

    for name, spec, sol in cases:
        if sol == "NaN":
            text = "```json\n[NaN, 0, 0, 0]\n```"
        elif sol == "nest":
            text = "```json\n" + "[" * 100_000 + "]" * 100_000 + "\n```"
        elif sol == "bigint":
            text = "```json\n[" + "9" * 100_000 + ", 0, 0, 0]\n```"
        else:
            text = fenced(sol, None)
        rec = {"id": name, "prompt": "p", "completion": text, "metadata": {"problem": spec}}
        t = time.perf_counter()
        r = score_all(fw, [rec], {"optimizer": DeapOptimizer()})[0]
        rows.append({"hostile input": name, "status": r.status, "verdict": r.verdict, "score": r.score,
                     "ms": (time.perf_counter() - t) * 1000})
    rows.append({"hostile input": "side effects", "status": "none" if not os.path.exists(marker) else "FILE CREATED"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    a = ap.parse_args()
    q = a.quick
    print("== 1. fitness recomputation and claimed fitness")
    print(table(fitness_section(40 if q else 200)))
    print("\n== 2. reference optimisers at a fixed seed (seed 7 twice, then seed 8)")
    print(table(optimizer_section()))
    print("\n== 3. SituatedQA dev: temporal verdicts")
    rows, dis = situatedqa_section()
    print(table(rows))
    print(f"disagreements: {len(dis)}")
    for d in dis[:25]:
        print("  " + d)
    print("\n== 4. fitness kernels (evaluations/s; python is the reference, capped and extrapolated as a rate)")
    print(table(kernel_section(2_000 if q else 10_000, 200, 1_000, 200 if q else 2_000, 500 if q else 2_000)))
    print("\n== 5. throughput and latency per evaluation (mixed tsp-100 / knapsack-200 / rastrigin-50 / SR-500 records)")
    print(table(throughput_section(400 if q else 2_000, 50 if q else 200), ["mode", "records", "records/s", "p50 ms", "p99 ms", "not scored"]))
    print("\n== 6. hostile input")
    print(table(hostile_section()))


if __name__ == "__main__":
    main()
