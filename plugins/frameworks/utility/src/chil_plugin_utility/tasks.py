"""Seeded task generators for the utility framework, and the ``chil tasks`` command.

Each generator returns chil records without a completion (``id``, ``prompt``, ``metadata`` and, where a
single number answers the task, ``reference.answer``), ready for ``chil train --data`` or for scoring.
The same seed gives the same records.  Kinds: ``games``, ``knapsack``, ``lp``, ``assignment``,
``scheduling``, ``lotteries``.
"""

from __future__ import annotations

import itertools
import json
import random
import sys
from fractions import Fraction
from pathlib import Path
from typing import Any

import click

KINDS = ("games", "knapsack", "lp", "assignment", "scheduling", "lotteries")

_GAME_FORMAT = ('Answer with a ```json``` block {"equilibria": [{"row": [probabilities], "col": [probabilities]}], '
                '"all": true} using exact fractions like "1/3".')


def random_game(rng: random.Random, m: int, n: int, degenerate: bool = False) -> dict[str, Any]:
    """A bimatrix game; ``degenerate`` draws payoffs from {0, 1, 2} so ties (degeneracy) are common."""
    lo, hi = (0, 2) if degenerate else (-5, 9)
    return {"row_payoffs": [[rng.randint(lo, hi) for _ in range(n)] for _ in range(m)],
            "col_payoffs": [[rng.randint(lo, hi) for _ in range(n)] for _ in range(m)]}


def _matrix_text(game: dict[str, Any], rows: list[str], cols: list[str]) -> str:
    lines = ["| | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for i, r in enumerate(rows):
        cells = [f"({game['row_payoffs'][i][j]}, {game['col_payoffs'][i][j]})" for j in range(len(cols))]
        lines.append(f"| {r} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def games(rng: random.Random, n: int, max_size: int = 4) -> list[dict[str, Any]]:
    from chil_core.capabilities.game import default_strategy_names

    out = []
    for k in range(n):
        m, c = rng.randint(2, max_size), rng.randint(2, max_size)
        g = random_game(rng, m, c, degenerate=rng.random() < 0.2)
        rows, cols = default_strategy_names(0, m), default_strategy_names(1, c)
        prompt = (f"In this bimatrix game the row player chooses {', '.join(rows)} and the column player chooses "
                  f"{', '.join(cols)}; each cell gives (row payoff, column payoff).\n\n{_matrix_text(g, rows, cols)}\n\n"
                  f"Find all Nash equilibria, pure and mixed. {_GAME_FORMAT}")
        out.append({"id": f"utility-games-{k}", "prompt": prompt,
                    "metadata": {"task": "games", "game": g, "question": "all_equilibria"}})
    return out


def knapsack_optimum(values: list[int], weights: list[int], capacity: int) -> int:
    best = [0] * (capacity + 1)
    for v, w in zip(values, weights, strict=True):
        for c in range(capacity, w - 1, -1):
            best[c] = max(best[c], best[c - w] + v)
    return best[capacity]


def knapsack(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        size = rng.randint(4, 10)
        items = [f"item{i + 1}" for i in range(size)]
        values = [rng.randint(1, 30) for _ in range(size)]
        weights = [rng.randint(1, 20) for _ in range(size)]
        capacity = max(1, sum(weights) // 2)
        table = "\n".join(f"- {it}: value {v}, weight {w}" for it, v, w in zip(items, values, weights, strict=True))
        prompt = (f"Choose items with total weight at most {capacity} to maximise the total value.\n{table}\n\n"
                  'Answer with a ```json``` block {"selected": [item names], "objective": total value}.')
        inst = {"values": values, "weights": weights, "capacity": capacity, "items": items}
        out.append({"id": f"utility-knapsack-{k}", "prompt": prompt, "metadata": {"task": "knapsack", "knapsack": inst},
                    "reference": {"answer": str(knapsack_optimum(values, weights, capacity))}})
    return out


def lp(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Bounded, feasible LPs: maximise a positive objective under <= constraints with positive coefficients."""
    out = []
    for k in range(n):
        nv, nc = rng.randint(2, 4), rng.randint(2, 4)
        names = [chr(ord("x") + i) if i < 3 else f"w{i}" for i in range(nv)]
        obj = {v: rng.randint(1, 9) for v in names}
        cons = [{"name": f"c{j + 1}", "terms": {v: rng.randint(1, 6) for v in names}, "sense": "<=", "rhs": rng.randint(10, 60)}
                for j in range(nc)]
        model = {"sense": "max", "variables": [{"name": v} for v in names], "objective": obj, "constraints": cons}
        text = "maximise " + " + ".join(f"{c} {v}" for v, c in obj.items()) + "\nsubject to\n" + "\n".join(
            " + ".join(f"{c} {v}" for v, c in con["terms"].items()) + f" <= {con['rhs']}" for con in cons) + \
            "\n" + ", ".join(names) + " >= 0"
        prompt = (f"Solve the linear program\n{text}\n\n"
                  'Answer with a ```json``` block {"solution": {variable: value}, "objective": value} using exact fractions.')
        out.append({"id": f"utility-lp-{k}", "prompt": prompt, "metadata": {"task": "lp", "model": model}})
    return out


def assignment(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        size = rng.randint(3, 5)
        agents = [f"A{i + 1}" for i in range(size)]
        tasks = [f"T{j + 1}" for j in range(size)]
        costs = [[rng.randint(1, 20) for _ in range(size)] for _ in range(size)]
        best = min(sum(costs[i][p[i]] for i in range(size)) for p in itertools.permutations(range(size)))
        table = "\n".join(f"- {a}: " + ", ".join(f"{t} costs {costs[i][j]}" for j, t in enumerate(tasks)) for i, a in enumerate(agents))
        prompt = (f"Assign each agent to a different task at minimum total cost.\n{table}\n\n"
                  'Answer with a ```json``` block {"assignment": {agent: task}, "objective": total cost}.')
        inst = {"costs": costs, "agents": agents, "tasks": tasks}
        out.append({"id": f"utility-assignment-{k}", "prompt": prompt, "metadata": {"task": "assignment", "assignment": inst},
                    "reference": {"answer": str(best)}})
    return out


def makespan_optimum(durations: list[int], machines: int) -> int:
    """The minimum makespan by trying every assignment (machines**jobs; the generator keeps it small)."""
    best = sum(durations)
    for combo in itertools.product(range(machines), repeat=len(durations)):
        loads = [0] * machines
        for d, m in zip(durations, combo, strict=True):
            loads[m] += d
        best = min(best, max(loads))
    return best


def scheduling(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Jobs on identical parallel machines, minimum makespan (4-7 jobs, 2-3 machines)."""
    out = []
    for k in range(n):
        size, machines = rng.randint(4, 7), rng.randint(2, 3)
        jobs = [chr(ord("A") + i) for i in range(size)]
        durations = [rng.randint(1, 12) for _ in range(size)]
        names = [f"M{i + 1}" for i in range(machines)]
        table = "\n".join(f"- job {j}: {d} hours" for j, d in zip(jobs, durations, strict=True))
        prompt = (f"Schedule these jobs on {machines} identical machines ({', '.join(names)}); each job runs on one machine, "
                  f"a machine runs one job at a time. Minimise the makespan (the time the last machine finishes).\n{table}\n\n"
                  'Answer with a ```json``` block {"schedule": {machine: [jobs]}, "makespan": hours}.')
        inst = {"durations": durations, "jobs": jobs, "machines": names}
        out.append({"id": f"utility-scheduling-{k}", "prompt": prompt, "metadata": {"task": "scheduling", "scheduling": inst},
                    "reference": {"answer": str(makespan_optimum(durations, machines))}})
    return out


def lotteries(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for k in range(n):
        lots = {}
        for name in ("A", "B", "C")[: rng.randint(2, 3)]:
            size = rng.randint(2, 3)
            cuts = sorted(rng.sample(range(1, 10), size - 1))
            probs = [Fraction(b - a, 10) for a, b in zip([0, *cuts], [*cuts, 10], strict=True)]
            lots[name] = [[str(p), rng.randint(-20, 50)] for p in probs]
        desc = "\n".join(f"- {nm}: " + ", ".join(f"{x} with probability {p}" for p, x in lot) for nm, lot in lots.items())
        prompt = (f"Lotteries:\n{desc}\n\nGive each lottery's expected value and variance and the lottery a risk-neutral "
                  'decision maker should choose. Answer with a ```json``` block {"expected_values": {name: value}, '
                  '"variances": {name: value}, "choice": name} using exact fractions.')
        out.append({"id": f"utility-lotteries-{k}", "prompt": prompt, "metadata": {"task": "lotteries", "lotteries": lots}})
    return out


GENERATORS = {"games": games, "knapsack": knapsack, "lp": lp, "assignment": assignment, "scheduling": scheduling,
              "lotteries": lotteries}


# -- worked solutions: the warm start of ``chil train --task utility:KIND`` ---------------------------
def _block(answer: dict[str, Any]) -> str:
    return "```json\n" + json.dumps(answer, separators=(",", ":")) + "\n```"


def _frac(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def solution(record: dict[str, Any]) -> str | None:
    """A completion that earns the full reward on a generated ``record``, in the format its prompt asks
    for; None for the kinds without one here (games, lp: their answers need the solvers the framework
    checks with)."""
    md = record["metadata"]
    kind = md["task"]
    if kind == "lotteries":
        evs, vrs = {}, {}
        for name, lot in md["lotteries"].items():
            pairs = [(Fraction(p), Fraction(x)) for p, x in lot]
            ev = sum(p * x for p, x in pairs)
            evs[name], vrs[name] = ev, sum(p * (x - ev) ** 2 for p, x in pairs)
        best = max(evs, key=lambda n: evs[n])
        return _block({"expected_values": {n: _frac(v) for n, v in evs.items()},
                       "variances": {n: _frac(v) for n, v in vrs.items()}, "choice": best})
    if kind == "knapsack":
        inst = md["knapsack"]
        values, weights, cap = inst["values"], inst["weights"], inst["capacity"]
        best = [[0] * (cap + 1)]  # best[i][c]: the optimum with the first i items and capacity c
        for v, w in zip(values, weights, strict=True):
            row = best[-1]
            best.append([max(row[c], row[c - w] + v) if c >= w else row[c] for c in range(cap + 1)])
        chosen, c = [], cap
        for i in range(len(values), 0, -1):
            if best[i][c] != best[i - 1][c]:
                chosen.append(i - 1)
                c -= weights[i - 1]
        return _block({"selected": [inst["items"][i] for i in sorted(chosen)], "objective": best[-1][cap]})
    if kind == "assignment":
        inst = md["assignment"]
        costs, size = inst["costs"], len(inst["agents"])
        perm = min(itertools.permutations(range(size)), key=lambda p: sum(costs[i][p[i]] for i in range(size)))
        return _block({"assignment": {inst["agents"][i]: inst["tasks"][perm[i]] for i in range(size)},
                       "objective": sum(costs[i][perm[i]] for i in range(size))})
    if kind == "scheduling":
        inst = md["scheduling"]
        durations, machines = inst["durations"], inst["machines"]
        best, combo = None, None
        for c in itertools.product(range(len(machines)), repeat=len(durations)):
            loads = [0] * len(machines)
            for d, m in zip(durations, c, strict=True):
                loads[m] += d
            if best is None or max(loads) < best:
                best, combo = max(loads), c
        assert combo is not None
        return _block({"schedule": {m: [j for j, k in zip(inst["jobs"], combo, strict=True) if k == i]
                                    for i, m in enumerate(machines)}, "makespan": best})
    return None


#: kinds ``chil train --task utility:KIND`` offers (those with a worked solution)
TRAINING_KINDS = ("lotteries", "knapsack", "assignment", "scheduling")
#: bytes of the longest worked solution of each kind (a test checks them): sizes max_new_tokens
_LONGEST_SOLUTION = {"lotteries": 160, "knapsack": 110, "assignment": 100, "scheduling": 100}
#: rows generated per embedded task, and how many of them are held out
TRAINING_ROWS, HELD_OUT = 600, 64


def training_rows(kind: str, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training rows with their ``solution``, held-out rows) of ``kind``, seeded."""
    rows = GENERATORS[kind](random.Random(f"{seed}:{kind}:train"), TRAINING_ROWS)
    for r in rows:
        r["solution"] = solution(r)
    return rows[HELD_OUT:], [{k: v for k, v in r.items() if k != "solution"} for r in rows[:HELD_OUT]]


def embedded_tasks() -> list[Any]:
    """The ``chil train --task utility:KIND`` tasks: the tiny byte-level policy is warm-started on the
    worked solutions (until 20% of probed training prompts are answered exactly, at most 600 steps),
    then trained with GRPO on the utility framework's reward."""
    from functools import partial

    from chil_core.training.tasks import EmbeddedTask

    out = []
    for kind in TRAINING_KINDS:
        longest = _LONGEST_SOLUTION[kind]
        out.append(EmbeddedTask(
            name=f"utility:{kind}", description=f"chil tasks --kind {kind}: prompts generated with worked solutions",
            make_rows=partial(training_rows, kind), frameworks=("utility",),
            train={"max_new_tokens": longest + 32, "max_prompt_length": 1024, "prompts_per_step": 8},
            policy={"max_positions": 1536},
            warm_start={"max_steps": 600, "batch_size": 32, "learning_rate": 3e-3, "target": 0.2}))
    return out


def generate(kinds: list[str], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` records of each kind, seeded."""
    out = []
    for kind in kinds:
        out += GENERATORS[kind](random.Random(f"{seed}:{kind}"), n)
    return out


@click.command("tasks")
@click.option("--kind", "kinds", default="all", show_default=True, help=f"Comma-separated: {', '.join(KINDS)} or all.")
@click.option("-n", "--count", default=100, show_default=True, type=click.IntRange(1, 1_000_000), help="Records per kind.")
@click.option("--seed", default=0, show_default=True, type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="JSONL file (default: stdout).")
def tasks_command(kinds: str, count: int, seed: int, output: str | None) -> None:
    """Write seeded utility tasks (games, knapsack, LP, assignment, scheduling, lotteries) as JSONL records."""
    chosen = list(KINDS) if kinds == "all" else [k.strip() for k in kinds.split(",") if k.strip()]
    unknown = [k for k in chosen if k not in GENERATORS]
    if unknown:
        raise click.BadParameter(f"unknown kind(s) {', '.join(unknown)}; choose from {', '.join(KINDS)}", param_hint="--kind")
    records = generate(chosen, count, seed)
    text = "".join(json.dumps(r) + "\n" for r in records)
    if output:
        tmp = Path(output).with_suffix(Path(output).suffix + ".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
        click.echo(f"wrote {len(records)} records to {output}", err=True)
    else:
        sys.stdout.write(text)
