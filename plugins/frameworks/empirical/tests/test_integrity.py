"""Issue 7, reward integrity: the empirical reward cannot be padded, dodged by breaking the verifier or
by numbers too big to check, and names an empty completion as such."""

from __future__ import annotations

import pytest
from chil_plugin_empirical.framework import EmpiricalFramework, EmpiricalOptions
from chil_plugin_sqlite.facts import SqliteFactStore
from chil_plugin_z3.smt import Z3Smt

from chil_core import ToolResult
from chil_core.rewards import aggregate
from chil_core.testing import score_direct

RIGHT = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether.\n#### 72"
WRONG = RIGHT.replace("#### 72", "#### 79")
FILLER = "\n" + " ".join(f"{i} + 1 = {i + 1}." for i in range(31))


def score(completion: str, answer: str | None = "72", **options):
    rec = {"id": "r", "prompt": "Natalia sold clips to 48 of her friends in April, and then half as many in May.",
           "completion": completion, "reference": None if answer is None else {"answer": answer}}
    return score_direct(EmpiricalFramework(EmpiricalOptions(**options)), [rec], {"smt": Z3Smt()})[0]


# -- 4. padding ------------------------------------------------------------------------------
def test_a_wrong_final_answer_is_not_lifted_by_filler_steps() -> None:
    assert score(RIGHT).score == 1.0
    wrong = score(WRONG)
    assert wrong.verdict == "wrong_answer" and wrong.score == pytest.approx(0.3)  # right working on the problem
    assert score(WRONG + FILLER).score == wrong.score
    assert score(WRONG + "\nNatalia sold clips to 48 of her friends in April.").score == wrong.score
    bare = score("#### 79")
    padded = score("#### 79" + FILLER)  # steps that use no number of the problem earn nothing
    assert bare.score == padded.score == 0.0 and padded.components["arithmetic_filler"] == 31
    assert score("#### 72" + FILLER).score == 1.0  # and cost nothing either
    assert score("#### 79" + FILLER, filler_steps="count").score == pytest.approx(0.3)  # the old, gameable rule


def test_a_wrong_step_is_not_averaged_away_by_filler() -> None:
    wrong_step = RIGHT.replace("<<48/2=24>>", "<<48/2=25>>")
    base, padded = score(wrong_step), score(wrong_step + FILLER)
    assert base.verdict == padded.verdict == "arithmetic_error"
    assert base.score == padded.score == pytest.approx(0.7)  # the answer is right; the working is not
    assert padded.components["arithmetic_errors"] == 1 and padded.components["arithmetic_steps"] == base.components["arithmetic_steps"] + 31
    # no reference: the working alone, and one wrong step makes it 0 however many right ones surround it
    assert score("48/2 = 25." + FILLER, answer=None).score == 0.0


# -- 6. steps too big to verify ----------------------------------------------------------------
def test_a_step_too_big_to_verify_is_reported_and_not_rewarded() -> None:
    res = score("48 + 24 = 72. 100000! = 1\n#### 72")
    assert res.verdict == "unverifiable" and res.components["arithmetic_unverifiable"] == 1 and res.score < 1.0
    assert any("100000! = 1" in e.text and "bits" in e.text for e in res.evidence)
    assert score("100000! = 1", answer=None).score == 0.0
    assert score("48 + 24 = 72. 100000! = 1\n#### 72", unverifiable="ignore").score == 1.0
    assert score("5! = 120", answer=None).score == 1.0 and score("5! = 121", answer=None).score == 0.0


# -- 7. empty completions --------------------------------------------------------------------------
@pytest.mark.parametrize("completion", ["", "   \n"])
def test_empty_completion_is_empty(completion: str) -> None:
    res = score(completion)
    assert res.status == "scored" and res.verdict == "empty" and res.score == 0.0


# -- 3. a failure the completion caused is not a way out --------------------------------------
class _BrokenStore(SqliteFactStore):
    """A fact store whose lookups fail as ``status``: the only way to make one fail on demand."""

    error = "value too large for the index"

    def run_batch(self, calls):
        return [ToolResult.failure(self.error) for _ in calls]


def test_fact_lookup_failure_on_the_completions_claim_is_penalised() -> None:
    fw = EmpiricalFramework()
    rec = {"id": "r", "prompt": "p", "completion": "Zambia is located in Africa."}
    res = score_direct(fw, [rec], {"fact_store": _BrokenStore(SqliteFactStore.Options(triples=[["a", "b", "c"]]))})[0]
    assert (res.status, res.cause) == ("error", "completion")
    assert aggregate("r", {"empirical": res}, {"empirical": 1.0}).reward == 0.0
    # the record's own triples are facts, not claims: nothing of theirs is looked up, nothing can fail
    meta = {"id": "r", "prompt": "p", "completion": "", "metadata": {"triples": [["zambia", "locatedin", "africa"]]}}
    theirs = score_direct(fw, [meta], {"fact_store": _BrokenStore(SqliteFactStore.Options(triples=[["a", "b", "c"]]))})[0]
    assert theirs.status == "abstained"
    crashed = type("Crashed", (_BrokenStore,), {"error": "worker crashed (exit code -9); replaced"})
    res = score_direct(fw, [rec], {"fact_store": crashed(SqliteFactStore.Options(triples=[["a", "b", "c"]]))})[0]
    assert res.cause == "infrastructure"
