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
