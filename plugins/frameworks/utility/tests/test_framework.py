"""The utility framework judged the way a GRPO run uses it: right, wrong, empty, padded and hostile
completions, against the real exact game backend and HiGHS."""

from __future__ import annotations

import json

import pytest
from chil_plugin_exactgame.tool import ExactGame
from chil_plugin_highs.tool import HighsSolver
from chil_plugin_utility.framework import UtilityFramework, UtilityOptions

from chil_core.testing import score_direct
from chil_core.testing.conformance import FrameworkConformance

BOS = {"row_payoffs": [[2, 0], [0, 1]], "col_payoffs": [[1, 0], [0, 2]]}
KNAP = {"values": [10, 7, 5], "weights": [5, 4, 3], "capacity": 8, "items": ["a", "b", "c"]}


def block(obj: dict) -> str:
    return "```json\n" + json.dumps(obj) + "\n```"


def score(records: list[dict], **options) -> list:
    fw = UtilityFramework(UtilityOptions(**options))
    recs = [dict({"id": str(i), "prompt": "p"}, **r) for i, r in enumerate(records)]
    return score_direct(fw, recs, {"game": ExactGame(), "solver": HighsSolver()})


def game_record(completion: str, question: str | None = "all_equilibria", game: dict = BOS) -> dict:
    md = {"game": game}
    if question:
        md["question"] = question
    return {"metadata": md, "completion": completion}


ALL_BOS = block({"equilibria": [{"row": "Up", "col": "Left"}, {"row": "Down", "col": "Right"},
                                {"row": ["2/3", "1/3"], "col": ["1/3", "2/3"], "payoffs": ["2/3", "2/3"]}], "all": True})


class TestUtilityConformance(FrameworkConformance):
    framework_name = "utility"
    config = {"frameworks": {"utility": {"tools": {"game": "exact", "solver": "highs"}}}}

    def sample_records(self) -> list[dict]:
        return [
            dict(game_record(ALL_BOS), id="g", prompt="p"),
            {"id": "k", "prompt": "p", "metadata": {"knapsack": KNAP}, "reference": {"answer": "15"},
             "completion": block({"selected": ["a", "c"], "objective": 15})},
            {"id": "l", "prompt": "p", "metadata": {"lotteries": {"A": [["1/2", 10], ["1/2", 0]], "B": [[1, 4]]}},
             "completion": "E[A] = 5. Choose A."},
            {"id": "n", "prompt": "p", "completion": "nothing here"},
        ]


def test_games_right_wrong_and_non_answers():
    right, wrong, words, empty, banana, mixed_wrong = score([
        game_record(ALL_BOS),
        game_record(block({"equilibria": [{"row": "Up", "col": "Right"}], "all": True})),
        game_record("The row player plays Up and the column player plays Left.", question="equilibrium"),
        game_record(""),
        game_record("banana"),
        game_record(block({"equilibria": [{"row": ["1/2", "1/2"], "col": ["1/2", "1/2"]}]}), question="equilibrium"),
    ])
    assert (right.status, right.score, right.verdict) == ("scored", 1.0, "equilibrium")
    assert wrong.score == 0.0 and wrong.verdict == "not_equilibrium"
    assert "row player gains 1 by playing Down" in wrong.evidence[0].text
    assert wrong.evidence[0].data["deviation"] == {"player": "row", "strategy": "Down", "gain": "1"}
    assert words.score == 1.0
    assert empty.status == banana.status == "scored" and empty.score == banana.score == 0.0 and empty.verdict == "no_answer"
    assert mixed_wrong.score == 0.0 and "row player gains 1/4 by playing Up" in mixed_wrong.evidence[0].text


def test_games_completeness_payoffs_dominance():
    missing, bad_payoff, dominance, unique_wrong = score([
        game_record(block({"equilibria": [{"row": "Up", "col": "Left"}, {"row": "Down", "col": "Right"}], "all": True})),
        game_record(block({"equilibria": [{"row": "Up", "col": "Left", "payoffs": [2, 2]}]}), question="equilibrium"),
        game_record(block({"dominant": {"row": "Down", "col": "Right"}, "dominated": {"row": ["Up"]}}), question=None,
                    game={"row_payoffs": [[-1, -3], [0, -2]], "col_payoffs": [[-1, 0], [-3, -2]]}),
        game_record("(Up, Left) is the unique Nash equilibrium.", question=None),
    ])
    assert missing.components["complete_ok"] == 0.0 and "1 of 3 extreme equilibria missing" in missing.explanation
    assert missing.score < 1.0 and missing.verdict == "incomplete"
    assert bad_payoff.components["payoff_ok"] == 0.0 and bad_payoff.components["equilibrium_ok"] == 1.0
    assert dominance.score == 1.0 and dominance.components["dominant_ok"] == 1.0
    assert unique_wrong.verdict == "incomplete" and unique_wrong.score == 0.5


def test_degenerate_game_completeness_counts_extreme_equilibria():
    game = {"row_payoffs": [[1, 1], [0, 0]], "col_payoffs": [[1, 1], [0, 0]]}
    ends, middle_only = score([
        game_record(block({"equilibria": [{"row": "Up", "col": "Left"}, {"row": "Up", "col": "Right"},
                                          {"row": [1, 0], "col": ["1/2", "1/2"]}], "all": True}), game=game),
        game_record(block({"equilibria": [{"row": [1, 0], "col": ["1/2", "1/2"]}], "all": True}), game=game),
    ])
    assert ends.score == 1.0
    assert middle_only.verdict == "incomplete"


def test_hostile_games_are_bounded():
    big = {"row_payoffs": [[0] * 1000] * 1000, "col_payoffs": [[0] * 1000] * 1000}
    nan_claim = block({"equilibria": [{"row": ["NaN", 1], "col": [1, 0]}]})
    r_big, r_nan, r_sum, r_huge, r_3p = score([
        game_record(ALL_BOS, game=big),
        game_record(nan_claim, question="equilibrium"),
        game_record(block({"equilibria": [{"row": ["1/3", "1/3"], "col": [1, 0]}]}), question="equilibrium"),
        game_record(block({"equilibria": [{"row": ["1", "0"], "col": ["1", "0"]}]}), question="equilibrium",
                    game={"row_payoffs": [["9" * 50, 0], [0, 1]], "col_payoffs": [["-" + "9" * 50, 0], [0, 1]]}),
        {"metadata": {"game": {"players": ["a", "b", "c"], "strategies": [2, 2, 2],
                               "payoffs": [[[[1, 1, 1], [0, 0, 0]], [[0, 0, 0], [0, 0, 0]]],
                                           [[[0, 0, 0], [0, 0, 0]], [[0, 0, 0], [2, 2, 2]]]]}},
         "completion": block({"equilibria": [{"profile": [[1, 0], [1, 0], [1, 0]]}, {"profile": [[0, 1], [1, 0], [1, 0]]}]})},
    ])
    assert r_big.status == "abstained" and "1000 rows; at most 100 strategies" in r_big.explanation
    assert r_nan.status == "scored" and r_nan.score == 0.0 and "not a number" in r_nan.explanation
    assert r_sum.score == 0.0 and "sums to 2/3" in r_sum.explanation
    assert r_huge.status == "scored" and r_huge.score == 0.0  # the column player gains 10**50 by deviating
    assert r_3p.components["equilibrium_ok"] == 0.5


def opt_record(completion: str, **extra) -> dict:
    return dict({"metadata": {"knapsack": KNAP}, "reference": {"answer": "15"}, "completion": completion}, **extra)


def test_optimisation_catches_infeasible_suboptimal_and_wrong_objective():
    right, infeasible, suboptimal, wrong_obj, empty = score([
        opt_record(block({"selected": ["a", "c"], "objective": 15})),
        opt_record(block({"selected": ["a", "b"], "objective": 17})),
        opt_record(block({"selected": ["b", "c"], "objective": 12})),
        opt_record(block({"selected": ["a", "c"], "objective": 16})),
        opt_record(""),
    ])
    assert right.score == 1.0 and right.verdict == "correct" and right.components["gap"] == 0.0
    assert infeasible.verdict == "infeasible_solution" and infeasible.score < 0.2
    assert "capacity: left side 9 > 8" in infeasible.evidence[0].text
    assert suboptimal.verdict == "suboptimal" and suboptimal.components["gap"] == 3.0 and suboptimal.score < 0.5
    assert wrong_obj.verdict == "wrong_objective" and wrong_obj.score < 1.0
    assert empty.status == "scored" and empty.score == 0.0 and empty.verdict == "no_answer"


LP = "```lp\nMaximize\n obj: 3 x + 2 y\nSubject To\n c1: x + y <= 4\n c2: x + 3 y <= 6\nEnd\n```\n"


def test_completion_models_in_lp_and_json_format():
    right, subopt, unbounded, too_big, unparsable = score([
        {"completion": LP + "x = 4, y = 0. The optimal value is 12."},
        {"completion": LP + "x = 3, y = 1. The optimal value is 11."},
        {"completion": "```lp\nMaximize\n obj: x + y\nSubject To\n c1: x - y <= 1\nEnd\n```\nx = 1, y = 0, optimal value 1"},
        {"completion": block({"sense": "max", "variables": [f"v{i}" for i in range(10_000)], "objective": {"v0": 1},
                              "solution": {"v0": 1}, "objective_value": 1})},
        {"completion": "```lp\nMaximize\n obj: 3 x +\nSubject To\n c1: x + y <= 4 y\nEnd\n```\nx = 1"},
    ])
    assert right.score == 1.0
    assert subopt.verdict == "suboptimal" and subopt.components["optimum"] == 12.0
    assert unbounded.status == "scored" and unbounded.score < 0.5 and unbounded.verdict == "model_invalid"
    assert "the completion's model is unbounded" in unbounded.explanation
    assert too_big.status == "scored" and too_big.score == 0.0 and "10000 variables" in too_big.explanation
    assert unparsable.status == "scored" and unparsable.score == 0.0 and unparsable.verdict == "model_invalid"


def test_solver_time_limit_on_the_completions_model_is_penalised():
    from chil_core.testing.solver import hard_milp

    model = hard_milp(120)
    sol = {v["name"]: 0 for v in model["variables"]}
    (res,) = score([{"completion": block({"model": model, "solution": sol, "objective": 0})}], time_limit_s=0.05)
    assert res.status == "scored" and res.score < 0.5
    assert res.verdict == "solver_limit" and "could not solve the completion's model within its limit" in res.explanation


def test_infeasible_record_model_and_status_claims():
    model = {"sense": "min", "variables": ["x"], "objective": {"x": 1},
             "constraints": [{"terms": {"x": 1}, "sense": ">=", "rhs": 5}, {"terms": {"x": 1}, "sense": "<=", "rhs": 3}]}
    says_infeasible, claims_solution = score([
        {"metadata": {"model": model}, "completion": "The problem is infeasible."},
        {"metadata": {"model": model}, "completion": block({"solution": {"x": 4}, "objective": 4})},
    ])
    assert says_infeasible.score == 1.0
    assert claims_solution.score < 0.5 and claims_solution.components["feasible_ok"] == 0.0


def test_lotteries_expected_values_variance_dominance_choice():
    md = {"lotteries": {"A": [["1/2", 10], ["1/2", 0]], "B": [[1, 4]], "C": [["1/2", 11], ["1/2", 1]]}}
    right, wrong = score([
        {"metadata": md, "completion": block({"expected_values": {"A": 5, "B": 4, "C": 6}, "variances": {"A": 25, "B": 0},
                                              "dominates": [["C", "A"]], "choice": "C"})},
        {"metadata": md, "completion": "E[A] = 0.5*10 + 0.5*0 = 5. Var(A) = 50. A dominates B. Choose A."},
    ])
    assert right.score == 1.0
    assert wrong.components["expected_value_ok"] == 1.0 and wrong.components["variance_ok"] == 0.0
    assert wrong.components["dominance_ok"] == 0.0 and wrong.components["choice_ok"] == 0.0


def test_decision_tree():
    tree = {"decision": {"invest": {"chance": [["3/10", {"payoff": 100}], ["7/10", {"payoff": -20}]]}, "wait": {"payoff": 10}}}
    right, wrong = score([
        {"metadata": {"decision_tree": tree}, "completion": block({"expected_value": 16, "decision": "invest"})},
        {"metadata": {"decision_tree": tree}, "completion": block({"expected_value": 10, "decision": "wait"})},
    ])
    assert right.score == 1.0 and wrong.score == 0.0


def test_out_of_scope_abstains():
    (res,) = score([{"completion": "The sky is blue."}])
    assert res.status == "abstained"


def test_padding_and_repetition_do_not_lift_a_wrong_answer():
    wrong = block({"equilibria": [{"row": "Up", "col": "Right"}]})
    base, padded, repeated = score([
        game_record(wrong, question="equilibrium"),
        game_record(wrong + "\n1 = 1. 2 + 2 = 4. " * 8, question="equilibrium"),
        game_record("\n".join([wrong] * 5), question="equilibrium"),
    ])
    assert base.score == padded.score == repeated.score == 0.0


def test_options_reject_a_bad_tolerance():
    with pytest.raises(ValueError, match="feasibility_tol"):
        UtilityFramework(UtilityOptions(feasibility_tol="abc"))


def _three_player(payoff) -> dict:
    """A 2x2x2 game named Up/Down, Left/Right, Heads/Tails from ``payoff(i, j, k) -> [u1, u2, u3]``."""
    return {"players": ["Ann", "Bob", "Cat"], "strategies": [["Up", "Down"], ["Left", "Right"], ["Heads", "Tails"]],
            "payoffs": [[[payoff(i, j, k) for k in range(2)] for j in range(2)] for i in range(2)]}


# every player gains 1 by playing its second strategy whatever the others do: a unique equilibrium
DOMINANT3 = _three_player(lambda i, j, k: [i + (j + k) * 3, j + (i + k) * 3, k + (i + j) * 3])
# Cat's Tails strictly dominates Heads; Ann and Bob then play matching pennies: a unique, mixed equilibrium
PENNIES3 = _three_player(lambda i, j, k: [(1 if i == j else -1) + 5 * k, (-1 if i == j else 1) + 5 * k, k])
# everyone wants to match: pure equilibria (Up, Left, Heads) and (Down, Right, Tails), mixed ones too
COORD3 = _three_player(lambda i, j, k: [2 * (i == j == k == 0) + 3 * (i == j == k == 1)] * 3)


def test_n_player_all_equilibria_through_elimination_and_pure_enumeration():
    unique = block({"equilibria": [{"profile": ["Down", "Right", "Tails"]}], "all": True})
    wrong_unique = block({"equilibria": [{"profile": ["Up", "Left", "Heads"]}], "all": True})
    mixed = block({"equilibria": [{"profile": [["1/2", "1/2"], ["1/2", "1/2"], [0, 1]]}], "all": True})
    pure_only_pennies = block({"equilibria": [{"profile": ["Up", "Left", "Tails"]}], "all": True})
    both_pure = "(Up, Left, Heads) and (Down, Right, Tails) are equilibria. These are all the pure-strategy equilibria."
    one_pure = "(Down, Right, Tails) is an equilibrium. These are all the pure equilibria."
    claims_all = block({"equilibria": [{"profile": ["Up", "Left", "Heads"]}, {"profile": ["Down", "Right", "Tails"]}], "all": True})
    misses_one = block({"equilibria": [{"profile": ["Down", "Right", "Tails"]}], "all": True})
    r = score([game_record(unique, None, DOMINANT3), game_record(wrong_unique, None, DOMINANT3),
               game_record(mixed, None, PENNIES3), game_record(pure_only_pennies, None, PENNIES3),
               game_record(both_pure, None, COORD3), game_record(one_pure, None, COORD3),
               game_record(claims_all, None, COORD3), game_record(misses_one, None, COORD3),
               game_record("", "all_pure_equilibria", COORD3)])
    # reduced by elimination to one cell / to a 2x2 bimatrix: completeness is exact
    assert r[0].score == 1.0 and r[0].components["complete_ok"] == 1.0
    assert r[1].score == 0.0 and r[1].verdict == "not_equilibrium"
    assert r[2].score == 1.0 and r[2].components["complete_ok"] == 1.0
    assert any("reduced by eliminating" in e.text for e in r[2].evidence)
    assert r[3].score == 0.0 and r[3].components["complete_ok"] == 0.0
    # no reduction: "all the pure equilibria" is exact; "all the equilibria" is wrong when a pure one is
    # missing and is left unjudged (with a note) when every pure one is claimed, as mixed ones exist
    assert r[4].score == 1.0 and r[4].components["complete_ok"] == 1.0
    assert r[5].score == 0.5 and r[5].verdict == "incomplete" and "1 of 2 missing" in r[5].explanation
    assert r[6].score == 1.0 and "complete_ok" not in r[6].components
    assert any("not enumerated" in e.text for e in r[6].evidence)
    assert r[7].score == 0.5 and r[7].verdict == "incomplete"
    assert r[8].status == "scored" and r[8].score == 0.0 and r[8].verdict == "no_answer"


def test_pure_equilibria_by_best_responses_equal_the_cell_by_cell_check():
    import itertools
    import random

    from chil_plugin_utility.games import pure_equilibria

    from chil_core.capabilities import game as G

    rng = random.Random(5)
    found = 0
    for _ in range(150):
        shape = [rng.randint(1, 3) for _ in range(rng.randint(2, 4))]
        cells = list(itertools.product(*(range(k) for k in shape)))
        table = {c: [rng.randint(0, 3) for _ in shape] for c in cells}

        def nest(prefix, depth, shape=shape, table=table):
            if depth == len(shape):
                return table[tuple(prefix)]
            return [nest([*prefix, i], depth + 1, shape, table) for i in range(shape[depth])]

        game = G.load_game({"strategies": shape, "payoffs": nest([], 0)}) if len(shape) > 2 else \
            G.load_game({"row_payoffs": [[table[(i, j)][0] for j in range(shape[1])] for i in range(shape[0])],
                         "col_payoffs": [[table[(i, j)][1] for j in range(shape[1])] for i in range(shape[0])]})
        assert sorted(pure_equilibria(game)) == sorted(G.pure_equilibria(game))
        found += len(pure_equilibria(game))
    assert found > 50


SCHED = {"durations": [5, 4, 3, 3, 3], "jobs": ["a", "b", "c", "d", "e"], "machines": ["M1", "M2"]}  # optimum 9


def test_scheduling_instances_are_checked_against_the_optimal_makespan():
    rec = lambda text: {"metadata": {"scheduling": SCHED}, "reference": {"answer": "9"}, "completion": text}  # noqa: E731
    right, by_job, in_words, suboptimal, missing_job, twice, wrong_value, unknown, empty = score([
        rec(block({"schedule": {"M1": ["a", "b"], "M2": ["c", "d", "e"]}, "makespan": 9})),
        rec(block({"machine_of": {"a": "M1", "b": "M1", "c": "M2", "d": "M2", "e": "M2"}})),
        rec("Put a and b on M1, the rest on M2. The minimum makespan is 9."),
        rec(block({"schedule": {"M1": ["a", "c"], "M2": ["b", "d", "e"]}, "makespan": 10})),
        rec(block({"schedule": {"M1": ["a", "b"], "M2": ["c", "d"]}, "makespan": 9})),
        rec(block({"schedule": {"M1": ["a", "b", "c"], "M2": ["c", "d", "e"]}, "makespan": 9})),
        rec(block({"schedule": {"M1": ["a", "b"], "M2": ["c", "d", "e"]}, "makespan": 8})),
        rec(block({"schedule": {"M1": ["a", "b"], "M3": ["c", "d", "e"]}})),
        rec(""),
    ])
    assert right.score == 1.0 and right.verdict == "correct"
    assert by_job.score == 1.0
    assert in_words.score == 1.0  # the value alone, against the solver's optimum and the reference
    assert suboptimal.score < 0.5 and suboptimal.verdict == "suboptimal" and "gap 1" in suboptimal.explanation
    assert missing_job.score < 1.0 and missing_job.verdict == "infeasible_solution" and "job_4" in " ".join(e.text for e in missing_job.evidence)
    assert twice.verdict == "infeasible_solution"
    assert wrong_value.score < 1.0 and wrong_value.verdict == "wrong_objective"
    assert unknown.score == 0.0 and "unknown job or machine" in unknown.explanation
    assert empty.status == "scored" and empty.score == 0.0 and empty.verdict == "no_answer"


def test_all_equilibria_of_a_game_with_huge_payoffs_is_judged_exactly():
    """The backend's equilibria of a game with payoffs of 10^50 have long exact fractions: they are read
    without the bound on a completion's numbers (a crash here once made the record an error)."""
    big = "1" + "0" * 50
    game = {"row_payoffs": [[big, 0], [0, 1]], "col_payoffs": [[1, 0], [0, big]]}
    mixed = {"row": [f"{big}/{int(big) + 1}", f"1/{int(big) + 1}"], "col": [f"1/{int(big) + 1}", f"{big}/{int(big) + 1}"]}
    right = block({"equilibria": [{"row": "Up", "col": "Left"}, {"row": "Down", "col": "Right"}, mixed], "all": True})
    partial = block({"equilibria": [{"row": "Up", "col": "Left"}], "all": True})
    r_right, r_partial = score([game_record(right, game=game), game_record(partial, game=game)], max_digits=200)
    assert r_right.status == "scored" and r_right.score == 1.0
    assert r_partial.status == "scored" and r_partial.verdict == "incomplete"
