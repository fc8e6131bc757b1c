"""Final answers: where they are found and how they are compared."""

from __future__ import annotations

import pytest
from chil_plugin_empirical.answer import answers_match, find_answer, read_answer, reference_answer


@pytest.mark.parametrize(
    "completion",
    [
        "so 72 in total.\n#### 72",
        "A: 72",
        r"The result is \boxed{72}.",
        "Therefore, the answer is 72.",
        "Final answer: 72.0",
        "The answer is 7.2e1",
        r"\boxed{\frac{144}{2}}",
        "The answer is $72.",
        "**Answer: 72**",
        "She has 70 + 2 = 72 apples.",  # fallback: the last number
    ],
)
def test_formats_of_72(completion: str) -> None:
    got = find_answer(completion)
    assert got is not None and answers_match(got, reference_answer({"answer": "72"}))


def test_explicit_marker_wins_over_later_numbers_and_last_occurrence_wins() -> None:
    got = find_answer("#### 12\nThen 5 more apples arrived: 17 in all.")
    assert got is not None and got.source == "####" and got.value == 12
    assert find_answer("The answer is 3. No wait, the answer is 4.").value == 4


def test_thousands_currency_percent_and_text() -> None:
    assert answers_match(read_answer("$1,200 dollars"), reference_answer({"answer": 1200}))
    assert answers_match(read_answer("50%"), reference_answer({"answer": "50"}))
    assert answers_match(read_answer("50%"), reference_answer({"answer": 0.5}))
    assert not answers_match(read_answer("51"), reference_answer({"answer": "50"}))
    assert not answers_match(read_answer("72.5"), reference_answer({"answer": "72"}))
    assert answers_match(read_answer("Paris."), reference_answer({"answer": "paris"}))
    assert not answers_match(read_answer("Lyon"), reference_answer({"answer": "Paris"}))


def test_no_answer_and_no_reference() -> None:
    assert find_answer("no numbers here", fallback=True) is None
    assert find_answer("only 3 apples", fallback=False) is None
    assert reference_answer(None) is None
    assert reference_answer({"other": 1}) is None


def test_oversized_answer_is_not_equal_and_says_why() -> None:
    got = read_answer("1" * 10_000)
    assert got.value is None and "digits" in got.problem
    assert not answers_match(got, reference_answer({"answer": "72"}))
