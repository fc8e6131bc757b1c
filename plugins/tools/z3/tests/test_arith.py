"""check_arith: symbolic arithmetic and inequalities decided with the real Z3."""

from __future__ import annotations

import pytest
from chil_plugin_z3.arith import check_arith
from chil_plugin_z3.base import SolverGaveUp


def n(x: str) -> list:
    return ["num", x]


def v(name: str) -> list:
    return ["var", name]


TWO_X_PLUS_3_IS_13 = ["=", ["+", ["*", n("2"), v("x")], n("3")], n("13")]


def verdict(claim, premises=()) -> str:
    return check_arith({"premises": list(premises), "claim": claim})["verdict"]


def test_entailed_contradicted_undetermined() -> None:
    assert verdict(["=", v("x"), n("5")], [TWO_X_PLUS_3_IS_13]) == "entailed"
    assert verdict(["=", v("x"), n("6")], [TWO_X_PLUS_3_IS_13]) == "contradicted"
    assert verdict(["=", v("y"), n("6")], [TWO_X_PLUS_3_IS_13]) == "undetermined"
    assert verdict(TWO_X_PLUS_3_IS_13) == "undetermined"


def test_identities_need_no_premise_and_divisors_are_nonzero() -> None:
    g = v("g")
    assert verdict(["=", ["+", ["*", n("200"), g], ["*", n("100"), g]], ["*", n("300"), g]]) == "entailed"
    assert verdict(["=", ["/", ["*", n("400"), g], ["*", n("200"), g]], n("2")]) == "entailed"
    assert verdict(["=", ["^", ["+", v("a"), v("b")], n("2")], ["+", ["+", ["*", v("a"), v("a")], ["*", n("2"), ["*", v("a"), v("b")]]], ["*", v("b"), v("b")]]]) == "entailed"


def test_inequalities_and_rationals() -> None:
    assert verdict(["≥", v("x"), n("4.5")], [TWO_X_PLUS_3_IS_13]) == "entailed"
    assert verdict(["<", v("x"), n("1/3")], [["=", v("x"), n("0.25")]]) == "entailed"
    assert verdict(["!=", v("x"), n("5")], [TWO_X_PLUS_3_IS_13]) == "contradicted"
    assert verdict([">", ["*", n("4"), v("s")], ["*", n("6"), v("s")]]) == "undetermined"


def test_inconsistent_premises_decide_nothing() -> None:
    out = check_arith({"premises": [["=", v("x"), n("1")], ["=", v("x"), n("2")]], "claim": ["=", v("y"), n("3")]})
    assert out["verdict"] == "undetermined" and "contradict" in out["reason"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"claim": ["=", v("x")]}, "claim"),
        ({"claim": ["=", ["num", "1e5"], v("x")]}, r"claim\[1\]"),
        ({"claim": ["=", ["num", "9" * 61], v("x")]}, r"claim\[1\]"),
        ({"claim": ["=", ["var", "__import__('os')"], n("1")]}, r"claim\[1\]"),
        ({"claim": ["=", ["^", v("x"), v("y")], n("1")]}, r"claim\[1\]\[2\]"),
        ({"claim": ["=", ["^", v("x"), n("99")], n("1")]}, r"claim\[1\]\[2\]"),
        ({"claim": ["=", ["eval", n("1"), n("2")], n("1")]}, r"claim\[1\]"),
        ({"premises": "x = 1", "claim": TWO_X_PLUS_3_IS_13}, "premises"),
        ({"premises": [TWO_X_PLUS_3_IS_13] * 65, "claim": TWO_X_PLUS_3_IS_13}, "premises"),
        ({"claim": TWO_X_PLUS_3_IS_13, "timeout_ms": 10**9}, "timeout_ms"),
        ({"premises": []}, "claim"),
    ],
)
def test_malformed_payloads_name_the_field(payload: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        check_arith(payload)


def test_term_size_is_bounded() -> None:
    term = n("1")
    for _ in range(3000):
        term = ["+", term, n("1")]
    with pytest.raises(ValueError, match="deeper than"):
        check_arith({"claim": ["=", term, n("3001")]})


def test_hard_nonlinear_problem_times_out_as_a_status() -> None:
    xs = [v(f"x{i}") for i in range(8)]
    poly = n("0")
    for i, x in enumerate(xs):
        poly = ["+", poly, ["*", ["^", x, n("7")], ["^", xs[(i + 1) % 8], n("5")]]]
    premises = [["=", poly, n("12345")]] + [[">", x, n("1/7")] for x in xs]
    with pytest.raises(SolverGaveUp) as info:
        check_arith({"premises": premises, "claim": ["<", xs[0], n("3")], "timeout_ms": 1})
    assert info.value.status == "timeout"
