"""Right/wrong completion pairs for the utility framework, for ``reward-probe``.

Sources: the llmgt 2x2 games (``../shared/data/llmgt_2x2_games``), generated games up to 4x4 (degenerate
ones included), knapsack, assignment, LP and scheduling instances and lotteries from ``chil tasks``'
generators, and generated three-player games (all pure equilibria, in words).  The
right completion states the exact answer (equilibria from the ``exact`` backend, optima by dynamic
programming, brute force or HiGHS rationalised and re-checked exactly); the wrong one plants a single
error (a non-equilibrium, an infeasible or suboptimal selection, a wrong expected value).

    .venv/bin/python benchmarks/utility/make_pairs.py -o /tmp/utility_pairs.jsonl
    CHIL=.venv/bin/chil .venv/bin/python ../shared/tools/reward-probe /tmp/utility_pairs.jsonl --frameworks utility
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data"


def block(obj: dict[str, Any]) -> str:
    return "```json\n" + json.dumps(obj) + "\n```"


def eq_json(p: tuple[Fraction, ...], q: tuple[Fraction, ...]) -> dict[str, Any]:
    return {"row": [str(x) for x in p], "col": [str(x) for x in q]}


def game_pair(rid: str, game_json: dict[str, Any], rng: random.Random, words: bool = False) -> dict[str, Any] | None:
    from chil_plugin_exactgame.tool import extreme_equilibria

    from chil_core.capabilities import game as G

    game = G.load_game(game_json)
    eqs, _ = extreme_equilibria(game, time.monotonic() + 30)
    eqs = sorted(set(eqs))
    m, n = game.shape
    non_eq = [c for c in itertools.product(range(m), range(n)) if not G.check_profile(game, G.pure_profile(game, c)).equilibrium]
    if not non_eq:
        return None
    bad = rng.choice(non_eq)
    rows, cols = game.strategies
    prompt = f"Find all Nash equilibria of the bimatrix game with row payoffs {game_json['row_payoffs']} and column payoffs {game_json['col_payoffs']}."
    rec: dict[str, Any] = {"id": rid, "prompt": prompt, "metadata": {"game": game_json, "question": "all_equilibria"}, "asks": True}
    pure = [e for e in eqs if all(x in (0, 1) for x in e[0] + e[1])]
    if words and len(eqs) == 1 and pure:
        (p, q), = eqs
        r, c = rows[p.index(1)], cols[q.index(1)]
        rec["right"] = f"The row player plays {r} and the column player plays {c}. This is the unique Nash equilibrium."
        rec["wrong"] = f"The row player plays {rows[bad[0]]} and the column player plays {cols[bad[1]]}. This is the unique Nash equilibrium."
        return rec
    right = [eq_json(p, q) for p, q in eqs]
    wrong = list(right)
    wrong[rng.randrange(len(wrong))] = {"row": rows[bad[0]], "col": cols[bad[1]]}
    rec["right"] = "Checking best responses cell by cell and the mixed supports:\n" + block({"equilibria": right, "all": True})
    rec["wrong"] = "Checking best responses cell by cell and the mixed supports:\n" + block({"equilibria": wrong, "all": True})
    return rec


def llmgt_games() -> list[dict[str, Any]]:
    path = DATA / "llmgt_2x2_games" / "sampled_games_10_batches_full.json"
    out = []
    for g in json.loads(path.read_text(encoding="utf-8")):
        out.append((g["id"], {"row_payoffs": g["golds"]["p1_matrix"], "col_payoffs": g["golds"]["p2_matrix"],
                              "row_strategies": ["Top", "Bottom"], "col_strategies": ["Left", "Right"]}))
    return out


def knapsack_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    from chil_plugin_utility.tasks import knapsack

    out = []
    for rec in knapsack(random.Random(seed), n):
        inst = rec["metadata"]["knapsack"]
        v, w, cap, items = inst["values"], inst["weights"], inst["capacity"], inst["items"]
        best = max((s for r in range(len(v) + 1) for s in itertools.combinations(range(len(v)), r)
                    if sum(w[i] for i in s) <= cap), key=lambda s: sum(v[i] for i in s))
        opt = sum(v[i] for i in best)
        assert str(opt) == rec["reference"]["answer"]
        worse = min((s for s in (tuple(x for x in best if x != i) for i in best)), key=lambda s: -sum(v[i] for i in s), default=())
        rec.update(asks=True, right=block({"selected": [items[i] for i in best], "objective": opt}),
                   wrong=block({"selected": [items[i] for i in worse], "objective": sum(v[i] for i in worse)}))
        out.append(rec)
    return out


def _assignment_claim(p: tuple[int, ...], c: list[list[int]], agents: list[str], tasks: list[str]) -> str:
    return block({"assignment": {agents[i]: tasks[p[i]] for i in range(len(p))}, "objective": sum(c[i][p[i]] for i in range(len(p)))})


def assignment_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    from chil_plugin_utility.tasks import assignment

    out = []
    for rec in assignment(random.Random(seed), n):
        inst = rec["metadata"]["assignment"]
        c, agents, tasks = inst["costs"], inst["agents"], inst["tasks"]
        perms = sorted(itertools.permutations(range(len(c))), key=lambda p: sum(c[i][p[i]] for i in range(len(c))))
        best = perms[0]
        worse = next(p for p in perms if sum(c[i][p[i]] for i in range(len(c))) > sum(c[i][best[i]] for i in range(len(c))))
        rec.update(asks=True, right=_assignment_claim(best, c, agents, tasks), wrong=_assignment_claim(worse, c, agents, tasks))
        out.append(rec)
    return out


def lp_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    import highspy
    from chil_plugin_highs.tool import solve
    from chil_plugin_utility.tasks import lp

    from chil_core.capabilities import solver as S

    out = []
    for rec in lp(random.Random(seed), n):
        model = S.load_model(rec["metadata"]["model"])
        res = solve(highspy, model, 5.0)
        if res["status"] != "optimal":
            continue
        sol = {k: Fraction(v).limit_denominator(1000) for k, v in res["solution"].items()}
        ev = S.evaluate(model, sol)
        if not ev.feasible or not S.close(ev.objective, res["objective"], rel=1e-9, abs_=1e-9):
            continue  # the rationalised vertex is not exact: skip rather than guess
        names = list(sol)
        zero = {k: 0 for k in names}
        rec.update(asks=True, right=block({"solution": {k: str(v) for k, v in sol.items()}, "objective": str(ev.objective)}),
                   wrong=block({"solution": zero, "objective": 0}) if ev.objective > 0 else None)
        if rec["wrong"]:
            out.append(rec)
    return out


def lottery_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    from chil_plugin_utility.lotteries import ev, load_lotteries, variance
    from chil_plugin_utility.tasks import lotteries

    out = []
    for rec in lotteries(random.Random(seed), n):
        lots = load_lotteries(rec["metadata"]["lotteries"], 100)
        evs = {k: ev(v) for k, v in lots.items()}
        best = max(evs, key=lambda k: evs[k])
        right = {"expected_values": {k: str(v) for k, v in evs.items()}, "variances": {k: str(variance(v)) for k, v in lots.items()},
                 "choice": best}
        wrong = json.loads(json.dumps(right))
        k0 = next(iter(evs))
        wrong["expected_values"][k0] = str(evs[k0] + 1)
        rec.update(asks=True, right=block(right), wrong=block(wrong))
        out.append(rec)
    return out


def scheduling_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    """Right: an optimal schedule found by trying every assignment; wrong: a schedule one unit worse or
    more (the optimal one with a job moved), with its own true makespan."""
    from chil_plugin_utility.tasks import scheduling

    out = []
    for rec in scheduling(random.Random(seed), n):
        inst = rec["metadata"]["scheduling"]
        d, jobs, machines = inst["durations"], inst["jobs"], inst["machines"]

        def span(combo: tuple[int, ...], d: list[int] = d, machines: list[str] = machines) -> int:
            loads = [0] * len(machines)
            for dur, m in zip(d, combo, strict=True):
                loads[m] += dur
            return max(loads)

        combos = sorted(itertools.product(range(len(machines)), repeat=len(d)), key=span)
        best = combos[0]
        assert str(span(best)) == rec["reference"]["answer"]
        worse = next(c for c in combos if span(c) > span(best))

        def claim(c: tuple[int, ...], d: list[int] = d, jobs: list[str] = jobs, machines: list[str] = machines) -> str:
            return block({"schedule": {mach: [jobs[j] for j in range(len(d)) if c[j] == m] for m, mach in enumerate(machines)},
                          "makespan": span(c)})

        rec.update(asks=True, right=claim(best), wrong=claim(worse))
        out.append(rec)
    return out


def n_player_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    """Three-player 2x2x2 games: right = every pure equilibrium and "these are all the pure equilibria";
    wrong = one of them replaced by a cell that is not an equilibrium."""
    from chil_plugin_utility.games import pure_equilibria

    from chil_core.capabilities import game as G

    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    names = [["Up", "Down"], ["Left", "Right"], ["Heads", "Tails"]]
    while len(out) < n:
        pay = [[[[rng.randint(0, 4) for _ in range(3)] for _ in range(2)] for _ in range(2)] for _ in range(2)]
        gj = {"players": ["Ann", "Bob", "Cat"], "strategies": names, "payoffs": pay}
        game = G.load_game(gj)
        pure = pure_equilibria(game)
        cells = list(itertools.product(range(2), repeat=3))
        non = [c for c in cells if c not in pure]
        if not pure or not non:
            continue
        words = lambda cs: " ".join(f"({', '.join(names[k][c[k]] for k in range(3))}) is an equilibrium." for c in cs)  # noqa: E731
        bad = list(pure)
        bad[rng.randrange(len(bad))] = rng.choice(non)
        rec = {"id": f"nplayer-{len(out)}", "prompt": f"Find all pure Nash equilibria of the three-player game {json.dumps(gj)}.",
               "metadata": {"game": gj, "question": "all_pure_equilibria"}, "asks": True,
               "right": words(pure) + " These are all the pure equilibria.", "wrong": words(bad) + " These are all the pure equilibria."}
        out.append(rec)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--output", default="utility_pairs.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("-n", type=int, default=20, help="pairs per generated kind")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    pairs: list[dict[str, Any]] = []
    for i, (gid, g) in enumerate(llmgt_games()):
        p = game_pair(f"llmgt-{gid}", g, rng, words=i % 2 == 0)
        if p:
            pairs.append(p)
    from chil_plugin_utility.tasks import random_game

    for k in range(a.n):
        m, n = rng.randint(2, 4), rng.randint(2, 4)
        p = game_pair(f"gen-game-{k}", random_game(rng, m, n, degenerate=k % 4 == 0), rng)
        if p:
            pairs.append(p)
    pairs += knapsack_pairs(a.n, a.seed) + assignment_pairs(a.n, a.seed) + lp_pairs(a.n, a.seed) + lottery_pairs(a.n, a.seed)
    pairs += scheduling_pairs(a.n, a.seed) + n_player_pairs(a.n, a.seed)
    Path(a.output).write_text("".join(json.dumps(p) + "\n" for p in pairs), encoding="utf-8")
    kinds: dict[str, int] = {}
    for p in pairs:
        key = p["id"].split("-")[0] if not p["id"].startswith("utility-") else p["id"].split("-")[1]
        kinds[key] = kinds.get(key, 0) + 1
    print(f"wrote {len(pairs)} pairs to {a.output}: {kinds}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
