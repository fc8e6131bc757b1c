"""``chil doctor``'s self-test cases for the utility framework: right completions that must score, mutated
ones that must not be paid, hostile ones that must come back typed and unpaid."""

import json

from chil_core import hookimpl


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    from chil_core.selftest import SelfTest

    c = "utility"
    bos = {"row_payoffs": [[2, 0], [0, 1]], "col_payoffs": [[1, 0], [0, 2]]}
    knap = {"values": [10, 7, 5], "weights": [5, 4, 3], "capacity": 8, "items": ["a", "b", "c"]}

    def block(obj: dict) -> str:
        return "```json\n" + json.dumps(obj) + "\n```"

    def game(completion: str) -> dict:
        return {"prompt": "p", "completion": completion, "metadata": {"game": bos, "question": "all_equilibria"}}

    def sack(completion: str) -> dict:
        return {"prompt": "p", "completion": completion, "metadata": {"knapsack": knap}, "reference": {"answer": "15"}}

    all_eq = block({"equilibria": [{"row": "Up", "col": "Left"}, {"row": "Down", "col": "Right"},
                                   {"row": ["2/3", "1/3"], "col": ["1/3", "2/3"], "payoffs": ["2/3", "2/3"]}], "all": True})
    return [
        SelfTest.framework(c, "every equilibrium", "gold", game(all_eq), min_score=1.0),
        SelfTest.framework(c, "optimal knapsack", "gold", sack(block({"selected": ["a", "c"], "objective": 15})), min_score=1.0),
        SelfTest.framework(c, "a non-equilibrium", "negative", game(block({"equilibria": [{"row": "Up", "col": "Right"}], "all": True})),
                           max_score=0.0),
        SelfTest.framework(c, "over-capacity knapsack", "negative", sack(block({"selected": ["a", "b", "c"], "objective": 22})),
                           max_score=0.25),  # utility pays the share of claims that hold (here 1 of 4)
        SelfTest.framework(c, "empty completion", "hostile", sack("")),
        SelfTest.framework(c, "a 10 MB JSON block", "hostile", sack(block({"selected": ["a"] * 1_000_000, "objective": 15}))),
    ]
