"""Validity, throughput and hostile input of the utility framework, in one run, one table per part.

    .venv/bin/python benchmarks/bench_utility.py [--games 1000] [--records 2000] [--parts games,optim,speed,hostile]

* ``games``: the 2x2 games of ``../shared/data/llmgt_2x2_games`` (40 ``full`` + 40 ``variant``) and
  ``--games`` generated games from 1x1 to 6x6 (a quarter with payoffs in {0, 1, 2}, so degenerate ones are
  common): the ``exact`` backend's extreme equilibria against pygambit's (``gambit`` backend), the
  dataset's pure-equilibrium labels against ours, and planted non-equilibria (every pure non-equilibrium
  cell, and each mixed equilibrium with 1/7 of one player's mass moved to another strategy) judged by
  the exact check against pygambit's own regret (``max_regret() > 0``) as ground truth.
* ``optim``: the Mamo problems with hand-written gold models (``plugins/frameworks/utility/tests/data``):
  HiGHS and OR-Tools optima against the labelled answers (disagreements listed), and per model a right
  solution, a planted infeasible one and a planted suboptimal one scored by the framework.
* ``speed``: game claims (distinct games, one claimed profile per record, half of them with "all
  equilibria"; and GRPO-shaped groups of 8 completions per game, each claiming one to three profiles and
  that they are all) and LP checks (distinct 20-variable models with a claimed solution; and groups of 8
  claimed solutions per model), through the Scorer (cold cache, then warm) and in a naive loop (one
  ``scorer.score([record])`` per record, which also gives the p50 / p99 latency per evaluation), in the
  same run; rates per wall-clock second and per CPU-second of the process (all threads).
* ``hostile``: over-sized, unbounded, infeasible, NaN, huge and 1000x1000 inputs through the Scorer:
  status, verdict and time of each.

The machine is shared (2 cores): absolute rates are noisy; ratios within one run are the figures to read.
A claim is one judged item: a claimed profile, its payoffs, a completeness claim, a solution's feasibility,
objective and optimality; ``per s`` counts records.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import DATA, REPO, percentile, table  # noqa: E402

from chil_core.capabilities import game as G  # noqa: E402
from chil_core.capabilities import solver as S  # noqa: E402

GOLD = REPO / "plugins" / "frameworks" / "utility" / "tests" / "data" / "mamo_gold.jsonl"
CONFIG = {"frameworks": {"utility": {"tools": {"game": "exact", "solver": "highs"}}},
          "cache": {"enabled": True, "path": None}, "scheduler": {"max_batch": 256, "max_wait_ms": 1}}


def block(obj: dict[str, Any]) -> str:
    return "```json\n" + json.dumps(obj) + "\n```"


# ---------------------------------------------------------------------------------------------
# games
# ---------------------------------------------------------------------------------------------
def llmgt() -> list[tuple[str, dict[str, Any], list[str]]]:
    base = DATA / "llmgt_2x2_games"
    out = []
    for g in json.loads((base / "sampled_games_10_batches_full.json").read_text()):
        out.append((f"full:{g['id']}", {"row_payoffs": g["golds"]["p1_matrix"], "col_payoffs": g["golds"]["p2_matrix"]}, g["golds"]["nash"]))
    for g in json.loads((base / "sampled_games_10_batches_variant.json").read_text()):
        mat = g["matrix"]
        out.append((f"variant:{g['id']}", {"row_payoffs": [[c[0] for c in r] for r in mat], "col_payoffs": [[c[1] for c in r] for r in mat]},
                    g["gold_ne"]))
    return out


def generated(n: int, seed: int = 0) -> list[tuple[str, dict[str, Any], None]]:
    from chil_plugin_utility.tasks import random_game

    rng = random.Random(seed)
    return [(f"gen:{k}", random_game(rng, rng.randint(1, 6), rng.randint(1, 6), degenerate=k % 4 == 0), None) for k in range(n)]


def planted(game: G.Game, eqs: list[G.Profile]) -> list[G.Profile]:
    m, n = game.shape
    out = [G.pure_profile(game, c) for c in itertools.product(range(m), range(n))]
    for p, q in eqs:
        for player, probs in ((0, p), (1, q)):
            support = [i for i, x in enumerate(probs) if x]
            if len(probs) < 2:
                continue
            src = support[0]
            dst = next(i for i in range(len(probs)) if i != src)
            moved = list(probs)
            delta = min(moved[src], Fraction(1, 7))
            moved[src] -= delta
            moved[dst] += delta
            out.append((tuple(moved), q) if player == 0 else (p, tuple(moved)))
    return out


def games_part(n_games: int) -> list[dict[str, Any]]:
    import pygambit as gbt
    from chil_plugin_exactgame.tool import extreme_equilibria
    from chil_plugin_gambit.tool import solve as gambit_solve

    rows = []
    for label, games in (("llmgt 2x2 (full + variant)", llmgt()), (f"generated 1x1..6x6 ({n_games})", generated(n_games))):
        agree = degenerate = labels_ok = labelled = 0
        plants = caught = false_alarm = truly_eq = 0
        t_exact = t_gambit = 0.0
        disagreements = []
        for gid, gj, gold in games:
            game = G.load_game(gj)
            t0 = time.perf_counter()
            eqs, deg = extreme_equilibria(game, time.monotonic() + 60)
            t_exact += time.perf_counter() - t0
            t0 = time.perf_counter()
            theirs = gambit_solve(gbt, game)
            t_gambit += time.perf_counter() - t0
            degenerate += deg
            if set(eqs) == set(theirs):
                agree += 1
            else:
                disagreements.append(gid)
            if gold is not None:
                labelled += 1
                mine = {("T" if c[0] == 0 else "B") + ("L" if c[1] == 0 else "R") for c in G.pure_equilibria(game)}
                labels_ok += mine == set(gold)
            a, b = game.matrices()
            g = gbt.StrategicGame.from_arrays(a, b)
            for prof in planted(game, eqs):
                truth = g.mixed_strategy_profile([list(prof[0]), list(prof[1])], rational=True).max_regret() > 0
                ours = not G.check_profile(game, prof).equilibrium
                if truth:
                    plants += 1
                    caught += ours
                else:
                    truly_eq += 1
                    false_alarm += ours
        rows.append({"games": label, "n": len(games), "degenerate": degenerate, "exact == gambit": f"{agree}/{len(games)}",
                     "pure-NE labels ok": f"{labels_ok}/{labelled}" if labelled else "-",
                     "planted non-eq caught": f"{caught}/{plants}", "eq profiles wrongly flagged": f"{false_alarm}/{truly_eq}",
                     "exact s": t_exact, "gambit s": t_gambit})
        if disagreements:
            print(f"exact vs gambit disagree on: {disagreements[:20]}")
    return rows


# ---------------------------------------------------------------------------------------------
# optimisation
# ---------------------------------------------------------------------------------------------
def mamo_labels() -> dict[tuple[str, int], str]:
    out = {}
    for fn, kind in (("mamo_easy_lp.jsonl", "easy_lp"), ("mamo_complex_lp.jsonl", "complex_lp")):
        for line in open(DATA / "mamo" / fn, encoding="utf-8"):
            d = json.loads(line)
            out[(kind, d["id"])] = str(d["Answer"])
    return out


def plant_infeasible(model: S.Model, sol: dict[str, Fraction]) -> dict[str, Fraction] | None:
    for c in model.constraints:
        for name, _coef in c.terms:
            for step in (1, 10, 1000, -1, -10, -1000):
                cand = dict(sol)
                cand[name] = sol[name] + step
                if not S.evaluate(model, cand).feasible:
                    return cand
    return None


def plant_suboptimal(model: S.Model, sol: dict[str, Fraction], opt: float) -> dict[str, Fraction] | None:
    names = [v.name for v in model.variables]
    for step in (1, -1, 2, -2, 5, -5, 10, -10, 50, 100, 1000):
        for name in names:
            cand = dict(sol)
            cand[name] = sol[name] + step
            ev = S.evaluate(model, cand)
            if ev.feasible and not S.close(ev.objective, opt):
                return cand
        for a, b in itertools.permutations(names, 2):  # shift between two variables
            cand = dict(sol)
            cand[a], cand[b] = sol[a] + step, sol[b] - step
            ev = S.evaluate(model, cand)
            if ev.feasible and not S.close(ev.objective, opt):
                return cand
    return None


def optim_part() -> tuple[list[dict[str, Any]], list[str]]:
    import highspy
    from chil_plugin_highs.tool import HighsSolver
    from chil_plugin_highs.tool import solve as highs_solve
    from chil_plugin_ortools.tool import solve as ortools_solve
    from chil_plugin_utility.framework import UtilityFramework
    from chil_plugin_utility.lpformat import parse_lp
    from chil_plugin_utility.optim import answer_matches, reference_value
    from ortools.linear_solver import pywraplp

    from chil_core.testing import score_direct

    labels = mamo_labels()
    gold = [json.loads(line) for line in GOLD.read_text().splitlines() if line.strip()]
    agree_h = agree_o = 0
    notes = []
    records, kinds = [], []
    for g in gold:
        raw = parse_lp(g["lp"])
        model = S.load_model(raw)
        h = highs_solve(highspy, model, 10.0)
        o = ortools_solve(pywraplp, model, 10.0, "auto")
        ref = reference_value({"answer": labels[(g["set"], g["id"])]})
        assert ref is not None
        ok_h = h["status"] == "optimal" and answer_matches(Fraction(h["objective"]).limit_denominator(10**6), ref)
        ok_o = isinstance(o, dict) and o["status"] == "optimal" and answer_matches(Fraction(o["objective"]).limit_denominator(10**6), ref)
        agree_h += ok_h
        agree_o += ok_o
        if not (ok_h and ok_o):
            notes.append(f"mamo {g['set']} {g['id']}: label {labels[(g['set'], g['id'])]}, HiGHS {h.get('objective')}, "
                         f"OR-Tools {o.get('objective') if isinstance(o, dict) else o}")
        if h["status"] != "optimal":
            continue
        sol = {k: Fraction(v).limit_denominator(1000) for k, v in h["solution"].items()}
        if not S.evaluate(model, sol).feasible:
            sol = {k: Fraction(round(v)) for k, v in h["solution"].items()}
        base = {"prompt": f"mamo {g['set']} {g['id']}", "metadata": {"model": raw}, "reference": {"answer": labels[(g['set'], g['id'])]}}
        right_obj = S.evaluate(model, sol).objective
        records.append(dict(base, id=f"{g['id']}:right", completion=block({"solution": {k: str(v) for k, v in sol.items()}, "objective": str(right_obj)})))
        kinds.append("right")
        bad = plant_infeasible(model, sol)
        if bad:
            records.append(dict(base, id=f"{g['id']}:infeasible", completion=block({"solution": {k: str(v) for k, v in bad.items()},
                                                                                     "objective": str(S.evaluate(model, bad).objective)})))
            kinds.append("infeasible")
        worse = plant_suboptimal(model, sol, h["objective"])
        if worse:
            records.append(dict(base, id=f"{g['id']}:suboptimal", completion=block({"solution": {k: str(v) for k, v in worse.items()},
                                                                                     "objective": str(S.evaluate(model, worse).objective)})))
            kinds.append("suboptimal")
    results = score_direct(UtilityFramework(), records, {"solver": HighsSolver()})
    rows = [{"part": "Mamo gold models: optimum == label", "n": len(gold), "HiGHS": f"{agree_h}/{len(gold)}", "OR-Tools": f"{agree_o}/{len(gold)}"}]
    for kind in ("right", "infeasible", "suboptimal"):
        got = [r for r, k in zip(results, kinds, strict=True) if k == kind]
        if kind == "right":
            ok = sum(r.status == "scored" and r.score == 1.0 for r in got)
            rows.append({"part": "right solutions scored 1.0", "n": len(got), "HiGHS": f"{ok}/{len(got)}"})
        else:
            want = "infeasible_solution" if kind == "infeasible" else "suboptimal"
            ok = sum(r.status == "scored" and r.score < 1.0 and r.verdict == want for r in got)
            rows.append({"part": f"planted {kind} caught (verdict {want})", "n": len(got), "HiGHS": f"{ok}/{len(got)}"})
    return rows, notes


# ---------------------------------------------------------------------------------------------
# throughput
# ---------------------------------------------------------------------------------------------
def game_claim_records(n: int, seed: int = 1) -> list[dict[str, Any]]:
    from chil_plugin_exactgame.tool import extreme_equilibria
    from chil_plugin_utility.tasks import random_game

    rng = random.Random(seed)
    out = []
    for k in range(n):
        m, c = rng.randint(2, 4), rng.randint(2, 4)
        gj = random_game(rng, m, c)
        game = G.load_game(gj)
        eqs, _ = extreme_equilibria(game, time.monotonic() + 10)
        p, q = eqs[rng.randrange(len(eqs))] if rng.random() < 0.5 else G.pure_profile(game, (rng.randrange(m), rng.randrange(c)))
        claim = {"equilibria": [{"row": [str(x) for x in p], "col": [str(x) for x in q]}]}
        if k % 2:
            claim["all"] = True
        out.append({"id": f"gc{k}", "prompt": "game", "metadata": {"game": gj}, "completion": block(claim)})
    return out


def grouped_game_records(n: int, group: int = 8, seed: int = 3) -> list[dict[str, Any]]:
    """GRPO-shaped: ``group`` completions per game (one prompt, several samples), each claiming one to three
    profiles (equilibria or not) and that they are all the equilibria: the enumeration is shared."""
    from chil_plugin_exactgame.tool import extreme_equilibria
    from chil_plugin_utility.tasks import random_game

    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    while len(out) < n:
        m, c = rng.randint(2, 4), rng.randint(2, 4)
        gj = random_game(rng, m, c)
        game = G.load_game(gj)
        eqs, _ = extreme_equilibria(game, time.monotonic() + 10)
        for _ in range(group):
            claimed = [eqs[rng.randrange(len(eqs))] if rng.random() < 0.6 else G.pure_profile(game, (rng.randrange(m), rng.randrange(c)))
                       for _ in range(rng.randint(1, 3))]
            claim = {"equilibria": [{"row": [str(x) for x in p], "col": [str(x) for x in q]} for p, q in claimed], "all": True}
            out.append({"id": f"gg{len(out)}", "prompt": f"game {len(out) // group}", "metadata": {"game": gj}, "completion": block(claim)})
    return out[:n]


def lp_records(n: int, nvars: int = 20, seed: int = 2, group: int = 1) -> list[dict[str, Any]]:
    """Distinct 20-variable models (``group`` = 1), or GRPO-shaped: ``group`` claimed solutions per model."""
    rng = random.Random(seed)
    out = []
    model: dict[str, Any] = {}
    for k in range(n):
        names = [f"x{i}" for i in range(nvars)]
        if k % group:
            sol = {v: rng.randint(0, 1) for v in names}
            out.append({"id": f"lp{k}", "prompt": "lp", "metadata": {"model": model},
                        "completion": block({"solution": sol, "objective": sum(model["objective"][v] * x for v, x in sol.items())})})
            continue
        model = {"sense": "max", "variables": [{"name": v, "ub": rng.randint(5, 20)} for v in names],
                 "objective": {v: rng.randint(1, 20) for v in names},
                 "constraints": [{"name": f"c{j}", "terms": {v: rng.randint(0, 9) for v in names}, "sense": "<=", "rhs": rng.randint(50, 200)}
                                 for j in range(10)]}
        sol = {v: rng.randint(0, 1) for v in names}
        out.append({"id": f"lp{k}", "prompt": "lp", "metadata": {"model": model},
                    "completion": block({"solution": sol, "objective": sum(model["objective"][v] * x for v, x in sol.items())})})
    return out


def speed_part(n_records: int) -> list[dict[str, Any]]:
    """Each workload: a naive loop (one ``scorer.score([record])`` per record, cold then warm, which gives
    p50 / p99 per evaluation) and one Scorer batch (cold cache, then warm), in the same run.  ``per CPU-s``
    divides by the process's CPU time (all threads): on a shared machine it is closer to what one idle
    core does than the wall-clock rate."""
    from chil_core.scoring import Scorer

    rows = []
    n_lp = max(200, n_records // 4)
    for label, records in (("game claims, distinct games", game_claim_records(n_records)),
                           ("game claims, GRPO groups of 8", grouped_game_records(n_records)),
                           ("LP checks, 20 variables, distinct", lp_records(n_lp)),
                           ("LP checks, 20 variables, GRPO groups of 8", lp_records(n_lp, group=8, seed=4))):
        with Scorer.from_config(CONFIG, frameworks=["utility"]) as scorer:
            scorer.score([{"id": "w", "prompt": "p", "metadata": {"game": {"row_payoffs": [[1]], "col_payoffs": [[1]]}}, "completion": "x"},
                          {"id": "w2", "prompt": "p", "metadata": {"model": {"variables": ["x"], "objective": {"x": 1}}}, "completion": "x = 0"}])
            t0, c0 = time.perf_counter(), time.process_time()
            cold = scorer.score(records)
            t_cold, c_cold = time.perf_counter() - t0, time.process_time() - c0
            t0, c0 = time.perf_counter(), time.process_time()
            scorer.score(records)
            t_warm, c_warm = time.perf_counter() - t0, time.process_time() - c0
        failed = sum(r.frameworks["utility"].status not in ("scored",) for r in cold)
        n_claims = sum(int(r.frameworks["utility"].components.get("items", 0)) for r in cold)
        sample = records[: min(300, len(records))]
        with Scorer.from_config(CONFIG, frameworks=["utility"]) as scorer:
            scorer.score(records[-1:])
            lat_cold, lat_warm = [], []
            t0 = time.perf_counter()
            for r in sample:
                t1 = time.perf_counter()
                scorer.score([r])
                lat_cold.append((time.perf_counter() - t1) * 1000)
            t_naive = time.perf_counter() - t0
            for r in sample:
                t1 = time.perf_counter()
                scorer.score([r])
                lat_warm.append((time.perf_counter() - t1) * 1000)
        naive_rate = len(sample) / t_naive
        rows.append({"workload": label, "mode": "naive loop (one record per call), cold", "records": len(sample), "per s": naive_rate,
                     "p50 ms": percentile(lat_cold, 50), "p99 ms": percentile(lat_cold, 99), "x naive": 1.0})
        rows.append({"workload": label, "mode": "naive loop, warm cache", "records": len(sample), "per s": len(sample) / (sum(lat_warm) / 1000),
                     "p50 ms": percentile(lat_warm, 50), "p99 ms": percentile(lat_warm, 99), "x naive": len(sample) / (sum(lat_warm) / 1000) / naive_rate})
        rows.append({"workload": label, "mode": "Scorer batch, cold cache", "records": len(records), "per s": len(records) / t_cold,
                     "per CPU-s": len(records) / c_cold, "claims/s": n_claims / t_cold, "claims/CPU-s": n_claims / c_cold,
                     "x naive": len(records) / t_cold / naive_rate, "failed": failed})
        rows.append({"workload": label, "mode": "Scorer batch, warm cache", "records": len(records), "per s": len(records) / t_warm,
                     "per CPU-s": len(records) / c_warm, "claims/s": n_claims / t_warm, "claims/CPU-s": n_claims / c_warm,
                     "x naive": len(records) / t_warm / naive_rate})
    return rows


# ---------------------------------------------------------------------------------------------
# hostile input
# ---------------------------------------------------------------------------------------------
def hostile_part() -> list[dict[str, Any]]:
    from chil_core.scoring import Scorer
    from chil_core.testing.solver import hard_milp

    big_vars = {"sense": "max", "variables": [f"v{i}" for i in range(10_000)], "objective": {"v0": 1},
                "constraints": [{"terms": {"v0": 1, "v1": 1}, "sense": "<=", "rhs": 1}]}
    hard = hard_milp(80)
    bos = {"row_payoffs": [[2, 0], [0, 1]], "col_payoffs": [[1, 0], [0, 2]]}
    cases = [
        ("completion: 10,000-variable model", {"completion": block({**big_vars, "solution": {"v0": 1}, "objective_value": 1})}),
        ("record: 10,000-variable model", {"metadata": {"model": big_vars}, "completion": block({"solution": {"v0": 1}})}),
        ("completion: unbounded model", {"completion": "```lp\nMaximize\n obj: x + y\nSubject To\n c1: x - y <= 1\nEnd\n```\nx = 1, y = 0; optimal value 1"}),
        ("record: infeasible model, claimed infeasible", {"metadata": {"model": {"sense": "min", "variables": ["x"], "objective": {"x": 1},
                                                                               "constraints": [{"terms": {"x": 1}, "sense": ">=", "rhs": 5},
                                                                                               {"terms": {"x": 1}, "sense": "<=", "rhs": 3}]}},
                                                           "completion": "The problem is infeasible."}),
        ("completion: hard 80-variable MILP, 0.2 s limit", {"completion": block({"model": hard, "solution": {v["name"]: 0 for v in hard["variables"]}, "objective": 0})}),
        ("coefficient 1e300 in a model", {"completion": block({"sense": "max", "variables": ["x"], "objective": {"x": "1e300"}, "solution": {"x": 1}})}),
        ("payoffs of 10^50 (exact)", {"metadata": {"game": {"row_payoffs": [["1" + "0" * 50, 0], [0, 1]], "col_payoffs": [[1, 0], [0, "1" + "0" * 50]]},
                                                   "question": "all_equilibria"},
                                      "completion": block({"equilibria": [{"row": "Up", "col": "Left"}, {"row": "Down", "col": "Right"}], "all": True})}),
        ("NaN probability claimed", {"metadata": {"game": bos}, "completion": block({"equilibria": [{"row": ["NaN", 1], "col": [1, 0]}]})}),
        ("NaN payoff in the record", {"metadata": {"game": {"row_payoffs": [[float("nan"), 0], [0, 1]], "col_payoffs": [[1, 0], [0, 2]]}},
                                      "completion": block({"equilibria": [{"row": "Up", "col": "Left"}]})}),
        ("1000x1000 game", {"metadata": {"game": {"row_payoffs": [[0] * 1000] * 1000, "col_payoffs": [[0] * 1000] * 1000}},
                            "completion": block({"equilibria": [{"row": "R1", "col": "C1"}]})}),
        ("12x12 game, 'all' claimed", {"metadata": {"game": {"row_payoffs": [[(i * j) % 7 for j in range(12)] for i in range(12)],
                                                             "col_payoffs": [[(i + 2 * j) % 5 for j in range(12)] for i in range(12)]}},
                                       "completion": "(R1, C1) is the unique Nash equilibrium."}),
        ("200,000-character JSON block", {"metadata": {"game": bos}, "completion": "```json\n{\"equilibria\": [" + "1," * 100_000 + "1]}\n```"}),
    ]
    cfg = {**CONFIG, "frameworks": {"utility": {"tools": {"game": "exact", "solver": "highs"}, "options": {"time_limit_s": 0.2}}}}
    rows = []
    with Scorer.from_config(cfg, frameworks=["utility"]) as scorer:
        scorer.score([{"id": "w", "prompt": "p", "metadata": {"game": bos}, "completion": "x"}])
        for label, rec in cases:
            rec = {"id": label, "prompt": "p", **rec}
            t0 = time.perf_counter()
            (res,) = scorer.score([rec])
            ms = (time.perf_counter() - t0) * 1000
            fr = res.frameworks["utility"]
            rows.append({"input": label, "status": fr.status, "score": fr.score if fr.score is not None else "-",
                         "verdict": fr.verdict or "-", "ms": ms, "why": (fr.explanation or "")[:90]})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--games", type=int, default=1000)
    ap.add_argument("--records", type=int, default=2000)
    ap.add_argument("--parts", default="games,optim,speed,hostile")
    args = ap.parse_args()
    parts = args.parts.split(",")
    if "games" in parts:
        print(table(games_part(args.games)))
        print()
    if "optim" in parts:
        rows, notes = optim_part()
        print(table(rows, ["part", "n", "HiGHS", "OR-Tools"]))
        print("disagreements with the labels:", "; ".join(notes) if notes else "none")
        print()
    if "speed" in parts:
        print(table(speed_part(args.records), ["workload", "mode", "records", "per s", "per CPU-s", "claims/s", "claims/CPU-s", "x naive",
                                               "p50 ms", "p99 ms", "failed"]))
        print()
    if "hostile" in parts:
        print(table(hostile_part()))


if __name__ == "__main__":
    main()
