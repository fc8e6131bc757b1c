"""The optimizer capability's contract in the core: problems, solutions, fitness, the expression parser."""

from __future__ import annotations

import math

import pytest

from chil_core.capabilities.expression import MAX_EXPONENT, ExpressionError, compile_expression, evaluate
from chil_core.capabilities.optimizer import (
    Problem,
    ProblemError,
    SolutionError,
    baseline,
    check_solution,
    exact_optimum,
    fitness,
    normalized,
)


@pytest.mark.parametrize(("text", "x", "expected"), [
    ("3*x^2 - x + 1", 2.0, 11.0),
    ("-x^2", 3.0, -9.0),            # unary minus binds looser than ^
    ("2*-x", 3.0, -6.0),
    ("x ** 3 / 4", 2.0, 2.0),
    ("sin(pi/2) + cos(0) + e", 0.0, 2.0 + math.e),
    ("sqrt(abs(x)) * log(exp(1))", -4.0, 2.0),
    ("1.5e1 - .5", 0.0, 14.5),
    ("x^-2", 2.0, 0.25),
    ("((x))", 7.0, 7.0),
    ("1/x", 0.0, math.inf),
])
def test_expressions_evaluate_like_the_formula(text: str, x: float, expected: float) -> None:
    assert evaluate(compile_expression(text, ["x"]), [x]) == pytest.approx(expected)


@pytest.mark.parametrize(("text", "status"), [
    ("x.real", "forbidden"), ("().__class__", "forbidden"), ("__import__('os')", "forbidden"),
    ("import os", "forbidden"), ("lambda: 1", "forbidden"), ("x[0]", "forbidden"), ("x = 1", "forbidden"),
    ("open(1)", "forbidden"), ("exec(1)", "forbidden"), ("'a'", "forbidden"),
    ("y", "unknown_name"), ("foo(x)", "unknown_name"), ("sinh(x)", "unknown_name"),
    (f"x^{MAX_EXPONENT + 1}", "exponent_too_large"), ("x^1e9", "exponent_too_large"), ("x^x", "exponent_too_large"),
    ("2^2^2", "exponent_too_large"), ("(" * 40 + "x" + ")" * 40, "too_large"), ("x" + "+x" * 300, "too_large"),
    ("x" * 3000, "too_large"), ("", "malformed"), ("x +", "malformed"), ("(x", "malformed"), ("x x", "malformed"),
    ("sin x", "malformed"), ("1e999", "malformed"), ("x % 2", "malformed"),
])
def test_hostile_expressions_are_typed(text: str, status: str) -> None:
    with pytest.raises(ExpressionError) as err:
        compile_expression(text, ["x"])
    assert err.value.status == status


def test_non_strings_are_refused() -> None:
    for value in (1, None, ["x"], {"x": 1}):
        with pytest.raises(ExpressionError):
            compile_expression(value, ["x"])


def test_problems_are_deterministic_and_validated() -> None:
    a = Problem.from_json({"kind": "tsp", "seed": 5, "n": 7}).instance()
    b = Problem.from_json({"kind": "tsp", "seed": 5, "n": 7}).instance()
    c = Problem.from_json({"kind": "tsp", "seed": 6, "n": 7}).instance()
    assert a.coords == b.coords != c.coords
    for bad, field in [({"kind": "tsp", "seed": 1, "n": 1}, "problem.n"), ({"kind": "x"}, "problem.kind"),
                       ({"kind": "onemax", "seed": 1.5}, "problem.seed"), ({"kind": "sphere", "dim": 3, "extra": 1}, "extra"),
                       ({"kind": "symbolic_regression", "target": "x.y"}, "problem.target"),
                       ({"kind": "symbolic_regression", "low": 2, "high": 1}, "problem.high")]:
        with pytest.raises(ProblemError, match=field):
            Problem.from_json(bad)


def test_solutions_are_checked() -> None:
    tsp = Problem.from_json({"kind": "tsp", "seed": 1, "n": 4})
    assert check_solution(tsp, [3, 1, 0, 2]) == [3, 1, 0, 2]
    cases = [([0, 1, 2, 2], "not_permutation"), ([0, 1, 2], "wrong_length"), ([0, 1, 2, 4], "out_of_range"),
             ([0, 1, 2, True], "malformed"), ("0123", "malformed"), ([0.0, 1, 2, 3], "malformed")]
    for sol, status in cases:
        with pytest.raises(SolutionError) as err:
            check_solution(tsp, sol)
        assert err.value.status == status, sol
    ras = Problem.from_json({"kind": "rastrigin", "seed": 1, "dim": 2})
    for sol, status in [([math.nan, 0], "non_finite"), ([6.0, 0], "out_of_range"), ([0] * 200_000, "oversize")]:
        with pytest.raises(SolutionError) as err:
            check_solution(ras, sol)
        assert err.value.status == status


def test_fitness_and_score_scale() -> None:
    one = Problem.from_json({"kind": "onemax", "seed": 0, "n": 10})
    assert fitness(one, [1] * 10) == 10 and exact_optimum(one) == 10
    assert normalized(one, 10, 10) == 1.0 and normalized(one, 0, 10) == 0.0
    assert 4 < baseline(one) < 6 and normalized(one, 8, 10) == pytest.approx((8 - baseline(one)) / (10 - baseline(one)))
    ras = Problem.from_json({"kind": "rastrigin", "seed": 0, "dim": 3})
    assert fitness(ras, [0.0, 0.0, 0.0]) == 0.0 and fitness(ras, [1.0, 0.0, 0.0]) == pytest.approx(1.0)
    assert normalized(ras, 0.0, 0.0) == 1.0 and normalized(ras, math.nan, 0.0) == 0.0
    sr = Problem.from_json({"kind": "symbolic_regression", "seed": 0, "target": "x^2"})
    assert fitness(sr, compile_expression("x^2", ["x"])) == 0.0
    assert fitness(sr, compile_expression("x^2 + 1", ["x"])) == pytest.approx(1.0)
