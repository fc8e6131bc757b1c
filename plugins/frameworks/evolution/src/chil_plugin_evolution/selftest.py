"""``chil doctor``'s self-test cases for the evolution framework: right completions that must score, mutated
ones that must not be paid, hostile ones that must come back typed and unpaid."""

import json

from chil_core import hookimpl


@hookimpl
def chil_self_tests():  # type: ignore[no-untyped-def]
    from chil_core.selftest import SelfTest

    c = "evolution"
    onemax = {"kind": "onemax", "seed": 3, "n": 12}

    def block(obj: object) -> str:
        return "Here is my solution.\n```json\n" + json.dumps(obj) + "\n```\n"

    def rec(completion: str, problem: dict | None = onemax, **kw: object) -> dict:
        return {"prompt": "solve", "completion": completion, "metadata": {"problem": problem} if problem else {}, **kw}

    temporal = {"reference": {"answer": "Bob"}, "metadata": {"as_of": "2010", "other_answers": ["Alice"]}}
    return [
        SelfTest.framework(c, "onemax optimum", "gold", rec(block([1] * 12)), min_score=1.0),
        SelfTest.framework(c, "answer right as of the date", "gold",
                           {"prompt": "who as of 2010", "completion": "Answer: Bob", **temporal}, min_score=1.0),
        SelfTest.framework(c, "onemax far from the optimum", "negative", rec(block([0] * 12)), max_score=0.5),
        SelfTest.framework(c, "stale answer", "negative", {"prompt": "who as of 2010", "completion": "Answer: Alice", **temporal},
                           max_score=0.5),
        SelfTest.framework(c, "solution of the wrong length", "hostile", rec(block([1] * 13))),
        SelfTest.framework(c, "empty completion", "hostile", rec("")),
        SelfTest.framework(c, "code instead of a solution", "hostile", rec(block("__import__('os').system('id')"))),
    ]
