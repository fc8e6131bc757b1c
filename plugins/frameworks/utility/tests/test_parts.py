"""Parts of the utility framework: the LP-format reader, structured instances, the Mamo gold models
against their labels (HiGHS and OR-Tools), and the ``chil tasks`` generators."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from chil_plugin_utility import instances
from chil_plugin_utility.lpformat import parse_lp
from chil_plugin_utility.optim import answer_matches, reference_value

from chil_core.capabilities import solver as S

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[3]
MAMO = REPO.parent / "shared" / "data" / "mamo"


def test_lp_format_reads_sections_bounds_and_integers():
    text = """\\ a comment
Maximize
 obj: 3 x + 2/3 y - z + 4
Subject To
 c1: x + y
     <= 4
 c2: - x + 3 y >= -6
 x - 2 z = 1
Bounds
 x <= 3
 -1 <= y <= 10
 z free
General
 x
Binary
 b
End
"""
    m = S.load_model(parse_lp(text))
    assert m.sense == "max" and m.constant == 4
    assert dict(m.objective) == {"x": 3, "y": Fraction(2, 3), "z": -1}
    assert [(c.name, dict(c.terms), c.sense, c.rhs) for c in m.constraints] == [
        ("c1", {"x": 1, "y": 1}, "<=", 4), ("c2", {"x": -1, "y": 3}, ">=", -6), ("c3", {"x": 1, "z": -2}, "=", 1)]
    v = {x.name: x for x in m.variables}
    assert (v["x"].lb, v["x"].ub, v["x"].integer) == (0, 3, True)
    assert (v["y"].lb, v["y"].ub) == (-1, 10)
    assert (v["z"].lb, v["z"].ub) == (None, None)
    assert (v["b"].lb, v["b"].ub, v["b"].integer) == (0, 1, True)


@pytest.mark.parametrize("text, message", [
    ("Subject To\n c1: x <= 1\nEnd", "no objective"),
    ("Maximize\n x\nSubject To\n c1: x + y <= 4 y\nEnd", "no constant right-hand side"),
    ("Maximize\n x\nSubject To\n c1: x + 1/0 y <= 4\nEnd", "division by zero"),
    ("Maximize\n x ; rm -rf\nEnd", "unexpected"),
])
def test_lp_format_errors_name_the_problem(text, message):
    with pytest.raises(S.ModelError, match=message):
        S.load_model(parse_lp(text))


def test_exact_evaluation_names_the_violated_constraint():
    m = S.load_model({"sense": "max", "variables": [{"name": "x", "integer": True}, "y"], "objective": {"x": 1, "y": 1},
                      "constraints": [{"name": "cap", "terms": {"x": 1, "y": 1}, "sense": "<=", "rhs": "1/3"}]})
    ok = S.evaluate(m, {"x": Fraction(0), "y": Fraction(1, 3)})
    bad = S.evaluate(m, {"x": Fraction(1, 2), "y": Fraction(1, 3)})
    assert ok.feasible and ok.objective == Fraction(1, 3)
    assert [n for n, _ in bad.violations] == ["x", "cap"] and "must be an integer" in bad.violations[0][1]


def test_transportation_and_shortest_path_instances():
    import highspy
    from chil_plugin_highs.tool import solve

    tr = {"supply": [20, 30], "demand": [10, 25, 15], "costs": [[8, 6, 10], [9, 12, 13]]}
    model = S.load_model(instances.model_of("transportation", tr))
    assert solve(highspy, model, 5)["objective"] == pytest.approx(465)
    sol = instances.solution_of("transportation", tr, {"shipments": [[0, 20, 0], [10, 5, 15]]})
    ev = S.evaluate(model, S.load_solution(model, sol)[0])
    assert ev.feasible and ev.objective == 465
    sp = {"edges": [["s", "a", 1], ["a", "t", 5], ["s", "b", 2], ["b", "t", 1], ["a", "b", 1]], "source": "s", "target": "t"}
    model = S.load_model(instances.model_of("shortest_path", sp))
    assert solve(highspy, model, 5)["objective"] == pytest.approx(3)
    good = S.evaluate(model, S.load_solution(model, instances.solution_of("shortest_path", sp, {"path": ["s", "b", "t"]}))[0])
    assert good.feasible and good.objective == 3
    with pytest.raises(S.ModelError, match="not an edge"):
        instances.solution_of("shortest_path", sp, {"path": ["s", "t"]})


def gold_models():
    return [json.loads(line) for line in (HERE / "data" / "mamo_gold.jsonl").read_text().splitlines() if line.strip()]


@pytest.mark.skipif(not MAMO.exists(), reason="../shared/data/mamo not present")
def test_mamo_gold_models_reach_the_labelled_optimum_with_both_solvers():
    import highspy
    from chil_plugin_highs.tool import solve as highs
    from chil_plugin_ortools.tool import solve as ortools
    from ortools.linear_solver import pywraplp

    labels = {}
    for fn, kind in (("mamo_easy_lp.jsonl", "easy_lp"), ("mamo_complex_lp.jsonl", "complex_lp")):
        for line in (MAMO / fn).read_text().splitlines():
            d = json.loads(line)
            labels[(kind, d["id"])] = str(d["Answer"])
    gold = gold_models()
    assert len(gold) >= 30
    for g in gold:
        model = S.load_model(parse_lp(g["lp"]))
        ref = reference_value({"answer": labels[(g["set"], g["id"])]})
        for res in (highs(highspy, model, 10), ortools(pywraplp, model, 10, "auto")):
            assert res["status"] == "optimal", g
            assert answer_matches(Fraction(res["objective"]).limit_denominator(10**6), ref), (g["id"], res["objective"], ref)


def test_tasks_are_seeded_and_scoreable(tmp_path):
    from chil_plugin_utility.tasks import generate

    every = ["games", "knapsack", "lp", "assignment", "scheduling", "lotteries"]
    a, b = generate(every, 3, 5), generate(every, 3, 5)
    assert a == b and len(a) == 18
    assert generate(["games"], 3, 6) != generate(["games"], 3, 5)
    kinds = {r["metadata"]["task"] for r in a}
    assert kinds == set(every)
    for r in a:
        if r["metadata"]["task"] == "knapsack":
            from chil_plugin_utility.tasks import knapsack_optimum

            k = r["metadata"]["knapsack"]
            assert r["reference"]["answer"] == str(knapsack_optimum(k["values"], k["weights"], k["capacity"]))


def test_chil_tasks_command(tmp_path):
    from click.testing import CliRunner

    from chil_core.cli import _attach_plugin_commands, cli

    _attach_plugin_commands()  # what `chil` does at start-up: the command comes through the hook
    out = tmp_path / "t.jsonl"
    res = CliRunner().invoke(cli, ["tasks", "--kind", "games,lp", "-n", "2", "--seed", "1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["metadata"]["task"] for r in rows] == ["games", "games", "lp", "lp"]
    bad = CliRunner().invoke(cli, ["tasks", "--kind", "chess"])
    assert bad.exit_code == 2 and "unknown kind(s) chess" in bad.output


def test_integer_bimatrix_check_equals_the_rational_computation():
    """``check_profile`` of a two-player game runs in integers; on random games (integer, fractional and
    decimal payoffs) and random mixed and pure profiles it gives exactly what the plain rational
    computation from ``strategy_values`` gives: verdict, payoffs and the most profitable deviation."""
    import random

    from chil_core.capabilities import game as G

    def rational(game, profile):
        payoffs, best = [], None
        for player in range(2):
            values = G.strategy_values(game, profile, player)
            own = sum((v * pr for v, pr in zip(values, profile[player], strict=True)), Fraction(0))
            payoffs.append(own)
            top = max(range(len(values)), key=lambda s: values[s])
            if values[top] - own > 0 and (best is None or values[top] - own > best[2]):
                best = (player, top, values[top] - own)
        return best is None, payoffs, best

    def mixed(rng, k):
        w = [rng.randint(0, 3) for _ in range(k)]
        w[0] += sum(w) == 0
        return tuple(Fraction(x, sum(w)) for x in w)

    rng = random.Random(0)
    equilibria = 0
    for t in range(600):
        m, n = rng.randint(1, 5), rng.randint(1, 5)
        num = lambda: rng.choice([rng.randint(-9, 9), f"{rng.randint(-9, 9)}/{rng.randint(1, 7)}", rng.randint(-3, 3) * 0.5])  # noqa: E731
        game = G.load_game({"row_payoffs": [[num() for _ in range(n)] for _ in range(m)],
                            "col_payoffs": [[num() for _ in range(n)] for _ in range(m)]})
        profile = (mixed(rng, m), mixed(rng, n)) if t % 2 else G.pure_profile(game, (rng.randrange(m), rng.randrange(n)))
        got = G.check_profile(game, profile)
        assert (got.equilibrium, got.payoffs, got.deviation) == rational(game, profile)
        equilibria += got.equilibrium
    assert 0 < equilibria < 600  # both verdicts were exercised


def test_scheduling_tasks_reference_is_the_solver_optimum():
    """The brute-force makespan of each generated scheduling task equals HiGHS's optimum of the instance's
    model, and a completion stating it (no schedule) is paid in full; one more hour is not."""
    from chil_plugin_exactgame.tool import ExactGame
    from chil_plugin_highs.tool import HighsSolver
    from chil_plugin_utility.framework import UtilityFramework
    from chil_plugin_utility.tasks import generate

    from chil_core.testing import score_direct

    tasks = generate(["scheduling"], 12, 3)
    recs = [dict(t, completion=f"The minimum makespan is {t['reference']['answer']}.") for t in tasks]
    recs += [dict(t, id=t["id"] + "-off", completion=f"The minimum makespan is {int(t['reference']['answer']) + 1}.") for t in tasks]
    out = score_direct(UtilityFramework(), recs, {"game": ExactGame(), "solver": HighsSolver()})
    assert [r.score for r in out[:12]] == [1.0] * 12
    assert all(r.score == 0.0 and r.verdict == "suboptimal" for r in out[12:])
