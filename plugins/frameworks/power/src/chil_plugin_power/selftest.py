"""``chil doctor``'s self-test cases for the power framework: right completions that must score, mutated
ones that must not be paid, hostile ones that must come back typed and unpaid."""

import json

from chil_core import hookimpl


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    from chil_core.selftest import SelfTest

    c = "power"
    pop = [{"id": "a1", "group": "A", "label": 1}, {"id": "a2", "group": "A", "label": 0},
           {"id": "b1", "group": "B", "label": 1}, {"id": "b2", "group": "B", "label": 1}]
    graph = {"edges": [["S", "A", 3], ["S", "B", 2], ["A", "T", 3], ["B", "T", 4]]}
    game = {"quota": 51, "weights": {"A": 49, "B": 49, "C": 2}}

    def block(dec: dict) -> str:
        return "```json\n" + json.dumps({"decisions": dec}) + "\n```\n"

    def rec(completion: str, **metadata: object) -> dict:
        return {"prompt": "p", "completion": completion, "metadata": metadata}

    return [
        SelfTest.framework(c, "exact parity difference", "gold",
                           rec(block({"a1": 1, "a2": 0, "b1": 1, "b2": 1}) + "The demographic parity difference is 0.5.", population=pop),
                           min_score=1.0),
        SelfTest.framework(c, "max flow", "gold", rec("The maximum flow from S to T is 5.", graph=graph), min_score=1.0),
        SelfTest.framework(c, "wrong max flow", "negative", rec("The maximum flow from S to T is 7.", graph=graph), max_score=0.0),
        SelfTest.framework(c, "C called a dummy (each has 1/3)", "negative", rec("C is a dummy.", voting=game), max_score=0.0),
        SelfTest.framework(c, "wrong parity figure", "negative",
                           rec("The demographic parity difference is 0.5.", population=pop,
                               decisions={"a1": 1, "a2": 0, "b1": 1, "b2": 0}), max_score=0.0),
        SelfTest.framework(c, "empty completion", "hostile", rec("", graph=graph)),
        SelfTest.framework(c, "decisions for people who do not exist", "hostile", rec(block({"zz": 1, "a1": 7}), population=pop)),
    ]
