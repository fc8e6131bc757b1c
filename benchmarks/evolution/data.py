"""Records for the evolution framework built from development data and from generated problem instances.

* SituatedQA dev (``../shared/data/situatedqa/qa_data/temp.dev.jsonl``; source and licence note in its
  SOURCE.txt): one temporal record per row: ``metadata.as_of`` = the row's date, ``reference.answer`` =
  its gold answers, ``metadata.other_answers`` = the answers of the same question at its other dates
  (with those dates) and its ``any_answer`` entries that are not gold at this date.
* Generated problems: seeded instances of every problem kind, with a right solution (the exact optimum,
  or the reference optimiser's best) and wrong ones (a random valid solution; the right solution with a
  false claimed fitness).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import DATA  # noqa: E402
from chil_plugin_evolution.temporal import normalize  # noqa: E402

from chil_core.capabilities.optimizer import Problem, fitness, random_solution  # noqa: E402

SITUATEDQA = DATA / "situatedqa" / "qa_data" / "temp.dev.jsonl"


def situatedqa_rows() -> list[dict[str, Any]]:
    if not SITUATEDQA.exists():
        raise SystemExit(f"development data {SITUATEDQA} is absent")
    return [json.loads(line) for line in SITUATEDQA.read_text(encoding="utf-8").splitlines() if line.strip()]


def temporal_records(rows: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One record per dev row (without a completion), with ``_stale`` (answers right at another time,
    normalised differently from every gold answer) for the builders below."""
    rows = rows if rows is not None else situatedqa_rows()
    by_q: dict[Any, list[dict[str, Any]]] = {}
    for r in rows:
        by_q.setdefault(r["id"], []).append(r)
    out = []
    for i, r in enumerate(rows):
        gold = [g for g in dict.fromkeys(r["answer"]) if g.strip()]
        if not gold:
            continue
        gold_norm = {normalize(g) for g in gold}
        others: list[dict[str, Any]] = []
        seen = set(gold_norm)
        for o in by_q[r["id"]]:
            if o is r:
                continue
            for a in o["answer"]:
                if normalize(a) not in seen and normalize(a):
                    seen.add(normalize(a))
                    others.append({"answer": a, "as_of": o["date"]})
        for a in r.get("any_answer", []):
            if normalize(a) not in seen and normalize(a):
                seen.add(normalize(a))
                others.append({"answer": a})
        out.append({"id": f"sqa{i}", "prompt": r["edited_question"], "reference": {"answer": gold},
                    "metadata": {"as_of": r["date"], "other_answers": others}})
    return out


def surface(answer: str, k: int) -> str:
    """A few ways a completion states an answer (the normalisation must see through them)."""
    forms = [f"Answer: {answer}", f"The answer is {answer}.", f"#### {answer}", answer,
             f"Let me think about the date.\nAnswer: {answer.upper()}", f"**Answer:** the {answer}!"]
    return forms[k % len(forms)]


# -- generated problems ----------------------------------------------------------------------------
PROBLEMS: list[dict[str, Any]] = [
    {"kind": "onemax", "n": 40}, {"kind": "knapsack", "n": 24}, {"kind": "tsp", "n": 12},
    {"kind": "rastrigin", "dim": 4}, {"kind": "sphere", "dim": 6},
    {"kind": "symbolic_regression", "n_points": 30},
]


def knapsack_optimum(problem: Problem) -> list[int]:
    inst = problem.instance()
    n, cap = inst.size, inst.capacity
    best = [[0] * (cap + 1) for _ in range(n + 1)]
    for i in range(n):
        v, w = inst.values[i], inst.weights[i]
        for c in range(cap + 1):
            best[i + 1][c] = max(best[i][c], best[i][c - w] + v if c >= w else 0)
    bits, c = [0] * n, cap
    for i in range(n, 0, -1):
        if best[i][c] != best[i - 1][c]:
            bits[i - 1] = 1
            c -= inst.weights[i - 1]
    return bits


def right_solution(problem: Problem) -> Any:
    inst = problem.instance()
    if problem.kind == "onemax":
        return [1] * inst.size
    if problem.kind == "knapsack":
        return knapsack_optimum(problem)
    if problem.kind in ("rastrigin", "sphere"):
        return [0.0] * inst.size
    if problem.kind == "symbolic_regression":
        return problem.param("target")
    from chil_plugin_deap.tool import DeapOptimizer  # the framework's default reference, same seed and budget

    from chil_core.testing.optimizer import call_for

    tool = DeapOptimizer()
    tool.start()
    return tool.run_batch([call_for(problem.to_json(), 2_000, 0)])[0]["solution"]


def wrong_solution(problem: Problem, rng: random.Random) -> Any:
    if problem.kind == "symbolic_regression":
        return rng.choice(["x", "x + 1", "2*x", "x^3"])
    if problem.kind == "knapsack":
        inst = problem.instance()
        bits = [0] * inst.size
        order = list(range(inst.size))
        rng.shuffle(order)
        weight = 0
        for i in order[: inst.size // 4]:  # a few items, feasible, far from the optimum
            if weight + inst.weights[i] <= inst.capacity:
                bits[i] = 1
                weight += inst.weights[i]
        return bits
    return random_solution(problem, rng)


def solution_fitness(problem: Problem, sol: Any) -> float:
    from chil_core.capabilities.optimizer import check_solution

    return fitness(problem, check_solution(problem, sol))


def fenced(sol: Any, claimed: float | None) -> str:
    body: Any = sol if claimed is None else {"solution": sol, "fitness": claimed}
    return "My solution:\n```json\n" + json.dumps(body) + "\n```"


def problem_pairs(per_kind: int = 6, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    pairs = []
    for spec in PROBLEMS:
        for k in range(per_kind):
            problem = Problem.from_json({**spec, "seed": 100 + k})
            right = right_solution(problem)
            f_right = solution_fitness(problem, right)
            if k % 2 == 0:  # a worse valid solution, honestly claimed
                wrong = wrong_solution(problem, rng)
                wrong_text = fenced(wrong, round(solution_fitness(problem, wrong), 9))
            else:  # the right solution with a false claim
                wrong_text = fenced(right, round(f_right * 1.1 + 1.0, 6))
            prompt = (f"Propose a solution to the {problem.kind} instance with seed {problem.seed}. "
                      "Answer with a json block holding the solution and its fitness.")
            pairs.append({"id": f"{problem.kind}-{k}", "prompt": prompt, "metadata": {"problem": problem.to_json()},
                          "asks": True, "right": fenced(right, round(f_right, 9)), "wrong": wrong_text})
    return pairs


def temporal_pairs(n: int = 60, seed: int = 0) -> list[dict[str, Any]]:
    """Half the wrong answers are stale (right at another time), half belong to another question."""
    recs = temporal_records()
    rng = random.Random(seed)
    with_stale = [r for r in recs if r["metadata"]["other_answers"]]
    pool = [g for r in recs for g in r["reference"]["answer"]]
    pairs = []
    for r in rng.sample(with_stale, min(n, len(with_stale))):
        if len(pairs) % 2 == 0:
            wrong = r["metadata"]["other_answers"][0]["answer"]
        else:
            taken = {normalize(a) for a in r["reference"]["answer"]} | {normalize(o["answer"]) for o in r["metadata"]["other_answers"]}
            wrong = next(a for a in (rng.choice(pool) for _ in range(1000)) if normalize(a) not in taken)
        pairs.append({**r, "right": surface(r["reference"]["answer"][0], len(pairs)), "wrong": f"Answer: {wrong}"})
    return pairs
