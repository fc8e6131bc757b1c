"""Issue 7, reward integrity: the consistency reward judges what the completion says, cannot be padded,
dodged by breaking the verifier, or changed by how the input was batched."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from chil_plugin_consistency.framework import ConsistencyFramework, ConsistencyOptions
from chil_plugin_consistency.labels import find_label

from chil_core import FrameworkResult
from chil_core.rewards import aggregate
from chil_core.testing import score_direct

FOL = {"premises_fol": ["∀x (Cat(x) → Animal(x))", "Cat(tom)"], "conclusion_fol": "Animal(tom)"}
THEORY = "Bob is big. Dave is not kind. If something is big then it is red. If something is red then it is not nice."


def one(record: dict, tools: dict, **options) -> FrameworkResult:
    fw = ConsistencyFramework(ConsistencyOptions(**options))
    return score_direct(fw, [{"id": "r", "prompt": "", **record}], tools)[0]


def reward(result: FrameworkResult) -> float | None:
    return aggregate("r", {"consistency": result}, {"consistency": 1.0}).reward


# -- 1. the gold conclusion is not judged in place of the completion ---------------------------
@pytest.mark.parametrize("completion", ["banana", "Answer: False", "Answer: Unknown", "", "Animal(tom)"])
def test_fol_question_is_not_paid_for_what_the_completion_did_not_say(completion: str, smt) -> None:
    res = one({"completion": completion, "metadata": FOL}, {"smt": smt})
    assert res.status == "scored" and res.score == 0.0, (res.verdict, res.explanation)
    assert reward(res) == 0.0  # a non-answer to a question is wrong, not masked


def test_fol_premises_without_a_question_or_claim_abstain(smt) -> None:
    res = one({"completion": "Answer: True", "metadata": {"premises_fol": FOL["premises_fol"]}}, {"smt": smt})
    assert res.status == "abstained" and "no claim" in res.explanation


# -- 2. answer labels ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("completion", "verdict"),
    [
        ("Tom is a cat, so he is an animal.\nAnswer: True", "correct"),
        ("the answer is **true**.", "correct"),
        ("True", "correct"),
        ("\\boxed{True}", "correct"),
        ("Answer: False", "wrong_answer"),
        ("Answer: True or False", "ambiguous"),
        ("Answer: not True", "ambiguous"),
        ("I think it is True. Answer: Unknown", "wrong_answer"),  # the final answer counts
        ("It could be true.", "no_answer"),
        ("", "empty"),
    ],
)
def test_fol_answer_label_against_the_provers_verdict(completion: str, verdict: str, smt) -> None:
    res = one({"completion": completion, "metadata": FOL}, {"smt": smt})
    assert res.verdict == verdict and res.score == (1.0 if verdict == "correct" else 0.0)
    assert res.evidence[0].kind == "answer" and res.evidence[0].data["expected"] == "entailed"
    assert any(e.kind == "unsat_core" and e.data["premises"] == [0, 1] for e in res.evidence)


def test_folio_uncertain_and_false_labels(smt) -> None:
    meta = {"premises_fol": ["∀x (Cat(x) → Animal(x))", "Cat(tom)", "¬Animal(rex)"]}
    assert one({"completion": "Answer: Uncertain", "metadata": {**meta, "conclusion_fol": "Dog(tom)"}}, {"smt": smt}).score == 1.0
    assert one({"completion": "Answer: False", "metadata": {**meta, "conclusion_fol": "Cat(rex)"}}, {"smt": smt}).score == 1.0
    assert one({"completion": "Answer: True", "metadata": {**meta, "conclusion_fol": "Cat(rex)"}}, {"smt": smt}).score == 0.0


@pytest.mark.parametrize("backend", ["clingo", "prolog", "z3"])
def test_controlled_english_statement(backend: str, backends) -> None:
    tools = {"logic_program": backends[backend]}
    prompt = THEORY + "\nQuestion: is the following statement True, False or Unknown? Bob is nice."
    record = {"prompt": prompt, "metadata": {"statement": "Bob is nice."}}
    assert one({**record, "completion": "Answer: False"}, tools).verdict == "correct"
    assert one({**record, "completion": "Answer: True"}, tools).verdict == "wrong_answer"
    assert one({**record, "completion": "Bob is not nice."}, tools).verdict == "no_answer"  # a claim is not a label
    unknown = {"prompt": THEORY, "metadata": {"statement": "Erin is red."}}
    assert one({**unknown, "completion": "Answer: Unknown"}, tools).score == 1.0


def test_options_by_letter(smt, backends) -> None:
    meta = {**FOL, "conclusion_fol": None, "options": ["Dog(tom)", "Animal(tom)", "¬Cat(tom)"]}
    for completion, score in [("the answer is (B)", 1.0), ("Answer: B", 1.0), ("(B)", 1.0), ("Answer: A", 0.0),
                              ("Answer: A or B", 0.0), ("banana", 0.0)]:
        res = one({"completion": completion, "metadata": meta}, {"smt": smt})
        assert res.score == score, completion
    res = one({"completion": "Answer: C", "prompt": THEORY, "metadata": {"options": {"A": "Bob is nice.", "C": "Bob is red."}}},
              {"logic_program": backends["clingo"]})
    assert res.verdict == "correct" and res.evidence[0].data["expected"] == "C"
    # no single entailed option: the prover cannot answer, so the framework does not judge
    none = one({"completion": "Answer: A", "metadata": {**meta, "options": ["Dog(tom)", "Dog(rex)"]}}, {"smt": smt})
    assert none.status == "abstained" and "no single answer" in none.explanation


def test_label_words_are_configurable(smt) -> None:
    labels = {"entailed": ["yes"], "contradicted": ["no"], "undetermined": ["maybe"]}
    assert one({"completion": "Answer: yes", "metadata": FOL}, {"smt": smt}, labels=labels).score == 1.0
    assert one({"completion": "Answer: True", "metadata": FOL}, {"smt": smt}, labels=labels).verdict == "no_answer"
    with pytest.raises(ValueError, match="names both"):
        ConsistencyOptions(labels={"entailed": ["yes"], "contradicted": ["Yes"]})
    with pytest.raises(ValueError, match="unknown verdict"):
        ConsistencyOptions(labels={"right": ["yes"]})


def test_find_label_reads_the_final_marker() -> None:
    assert find_label("Answer: True\n...\nAnswer: False").key == "contradicted"
    assert find_label("#### Unknown").key == "undetermined"
    assert find_label("The cat is true to its nature. Something else.") is None
    assert find_label("Answer: " + "a" * 300) is None
    assert find_label("Answer: (c)", letters=("A", "B", "C")).key == "C"


# -- 3. a failure the completion caused is not a way out --------------------------------------
def test_over_long_name_is_unparseable_not_an_error(smt) -> None:
    prompt = "```fol\n∀x (Cat(x) → ¬Dog(x))\nCat(tom)\n```"
    wrong = one({"prompt": prompt, "completion": "```fol\nDog(tom)\n```"}, {"smt": smt})
    long = one({"prompt": prompt, "completion": "```fol\nDog(tom)\nP(" + "a" * 300 + ")\n```"}, {"smt": smt})
    assert wrong.score == 0.0 and long.status == "scored" and long.score == 0.0 and reward(long) == 0.0
    assert any("longer than 200" in e.text for e in long.evidence)


def test_solver_limit_on_the_completions_claims_is_penalised(smt) -> None:
    """Claims that only infinite models satisfy make Z3 give up: the completion's doing."""
    from chil_plugin_z3.base import Z3Options
    from chil_plugin_z3.smt import Z3Smt

    tool = Z3Smt(Z3Options(timeout_ms=300, rlimit=0))
    tool.start()
    prompt = "```fol\n∀x (Cat(x) → ¬Dog(x))\nCat(tom)\n```"
    infinite = "∀x ∃y Lt(x, y)\n∀x ¬Lt(x, x)\n∀x ∀y ∀z (Lt(x, y) ∧ Lt(y, z) → Lt(x, z))"
    wrong = one({"prompt": prompt, "completion": "```fol\nDog(tom)\n```"}, {"smt": tool})
    res = one({"prompt": prompt, "completion": "```fol\nDog(tom)\n" + infinite + "\n```"}, {"smt": tool})
    tool.close()
    assert wrong.score == 0.0
    assert (res.status, res.cause, res.verdict) == ("timeout", "completion", "solver_limit")
    assert reward(res) == 0.0  # the default policy penalises it: not masked, not lifted


class _Failing:
    """A backend that fails every call whose claims are not empty, or every call (``always``)."""

    def __init__(self, inner, always: bool) -> None:
        self.inner, self.always = inner, always

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def run_batch(self, calls):
        from chil_core import ToolResult

        out = []
        for call in calls:
            if self.always or call.payload.get("claims"):
                out.append(ToolResult.failure("z3 gave up after 2000 ms (canceled)", "timeout"))
            else:
                out.extend(self.inner.run_batch([call]))
        return out


def test_failure_cause_is_decided_by_checking_the_premises_alone(smt) -> None:
    record = {"prompt": "```fol\nCat(tom)\n```", "completion": "```fol\nDog(tom)\nCat(tom) ∧ Dog(tom)\n```"}
    mine = one(record, {"smt": _Failing(smt, always=False)})
    assert (mine.status, mine.cause) == ("timeout", "completion") and reward(mine) == 0.0
    theirs = one(record, {"smt": _Failing(smt, always=True)})
    assert (theirs.status, theirs.cause) == ("timeout", "infrastructure") and reward(theirs) is None


class _SlowContext:
    """A scheduler-like context whose ``decide`` call with the completion's claims runs ``main_s`` and
    then times out (a theory the claims blow up), reporting ``running_s`` as a scheduler does: None
    while the call still waits for a worker (``queued_s``), then the time a worker has run it.  Every
    other call (the premises alone) goes to a real backend; when it began is recorded."""

    def __init__(self, tool, main_s: float, queued_s: float | None) -> None:
        self.tool, self.main_s, self.queued_s = tool, main_s, queued_s
        self.premises_at: list[float] = []
        self.t0 = 0.0

    def has(self, capability: str) -> bool:
        return capability == "logic_program"

    def backend(self, capability: str) -> str:
        return self.tool.name

    def submit(self, capability, op, payload):
        import asyncio

        from chil_core import ToolResult

        loop = asyncio.get_running_loop()
        self.t0 = loop.time()
        fut = loop.create_future()
        loop.call_later(self.main_s, fut.set_result, ToolResult.failure("exceeded its time limit", "timeout"))
        return fut

    def running_s(self, capability, op, payload):
        import asyncio

        now = asyncio.get_running_loop().time() - self.t0
        if self.queued_s is None:
            return math.inf
        return None if now < self.queued_s else now - self.queued_s

    async def call(self, capability, op, payload):
        import asyncio

        from chil_core import ToolCall, ToolResult

        self.premises_at.append(asyncio.get_running_loop().time() - self.t0)
        value = self.tool.run_batch([ToolCall(capability=capability, op=op, payload=payload)])[0]
        return value if isinstance(value, ToolResult) else ToolResult.success(value)


@pytest.mark.parametrize(("queued_s", "earliest", "latest"), [(None, 0.2, 1.0), (0.3, 0.5, 1.0)])
def test_a_long_call_starts_its_premises_check_beside_it(monkeypatch, backends, queued_s, earliest, latest) -> None:
    """A decide call a worker has run for SPECULATE_S starts the premises-only call beside it, so a
    theory the completion blows up costs one timeout, not two in a row; time queued for a worker does
    not count (queued until 0.3 s: looked at 0.2 s, queued; at 0.4 s, run 0.1 s; at 0.5 s, run 0.2 s:
    the premises check starts then, while the call still runs until 1.0 s)."""
    import asyncio

    from chil_plugin_consistency import framework as fw_module

    from chil_core.scoring import to_record

    monkeypatch.setattr(fw_module, "SPECULATE_S", 0.2)
    ctx = _SlowContext(backends["clingo"], main_s=1.0, queued_s=queued_s)
    fw = ConsistencyFramework()
    res = asyncio.run(fw.score(to_record({"id": "r", "prompt": THEORY, "completion": "Bob is red."}, 0), ctx))
    assert (res.status, res.cause) == ("timeout", "completion"), res.explanation  # the premises alone pass
    assert len(ctx.premises_at) == 1 and earliest - 0.05 <= ctx.premises_at[0] < latest, ctx.premises_at


# -- 4. padding --------------------------------------------------------------------------------
def test_tautologies_and_restated_premises_do_not_lift_a_contradiction(smt, backends) -> None:
    prompt = "```fol\n∀x (Cat(x) → ¬Dog(x))\nCat(tom)\n```"
    wrong = "```fol\nDog(tom)\n```"
    padded = "```fol\nDog(tom)\n" + "\n".join(f"k{i} = k{i}" for i in range(31)) + "\n```"
    restated = "```fol\nDog(tom)\nCat(tom)\n∀x (Cat(x) → ¬Dog(x))\n```"
    scores = [one({"prompt": prompt, "completion": c}, {"smt": smt}) for c in (wrong, padded, restated)]
    assert [r.score for r in scores] == [0.0, 0.0, 0.0] and [r.verdict for r in scores] == ["contradicted"] * 3
    assert scores[1].components["filler"] == 31 and scores[2].components["filler"] == 2
    # filler alone says nothing: neutral, never "entailed"
    only = one({"prompt": prompt, "completion": "```fol\nCat(tom)\nk = k\n```"}, {"smt": smt})
    assert only.verdict == "uninformative" and only.score == 0.5
    english = one({"prompt": THEORY, "completion": "Bob is nice. Bob is big. Bob is big. Dave is not kind."},
                  {"logic_program": backends["clingo"]})
    assert english.score == 0.0 and english.components["filler"] == 2


# -- 5. formulas are judged as written ---------------------------------------------------------
def test_unbalanced_formula_is_unparseable_with_its_position(smt) -> None:
    prompt = "```fol\n∀x (Cat(x) → Animal(x))\nCat(tom)\n```"
    res = one({"prompt": prompt, "completion": "```fol\nAnimal(tom\n```"}, {"smt": smt})
    assert res.verdict == "unparseable" and res.score == 0.0
    ev = res.evidence[0]
    assert ev.kind == "parse_error" and "column 11" in ev.data["error"]
    # the data's own premises are still repaired (FOLIO misses parentheses), and say so
    ok = one({"prompt": "", "completion": "Answer: True", "metadata": {"premises_fol": ["Cat(tom", "∀x (Cat(x) → Animal(x))"],
                                                                         "conclusion_fol": "Animal(tom)"}}, {"smt": smt})
    assert ok.score == 1.0


# -- 7. empty completions ------------------------------------------------------------------------
def test_empty_completion_is_empty(smt, backends) -> None:
    assert one({"completion": "  \n", "metadata": FOL}, {"smt": smt}).verdict == "empty"
    claims = one({"prompt": THEORY, "completion": ""}, {"logic_program": backends["clingo"]})
    assert claims.status == "abstained" and claims.verdict == "empty"  # no question: nothing asked


# -- 8. batching does not change a reward ----------------------------------------------------------
def _episode_records() -> list[dict]:
    claims = ["Erin is big.", "Bob is red.", "Erin is nice.", "Erin is red."]
    out = []
    for i in range(24):
        rec = {"id": f"r{i}", "prompt": THEORY, "completion": claims[i % 4], "group": f"g{i % 3}"}
        if i % 3 != 2:
            rec["metadata"] = {"episode": f"e{i % 2}"}
        out.append(rec)
    return out


def test_rewards_do_not_depend_on_batch_size(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in _episode_records()), encoding="utf-8")
    chil = Path(sys.executable).with_name("chil")
    rewards = {}
    for size in (1, 3, 512):
        out = tmp_path / f"out{size}.jsonl"
        subprocess.run([str(chil), "score", str(src), "-o", str(out), "--frameworks", "consistency", "--batch-size", str(size)],
                       check=True, capture_output=True, env={"CHIL__CACHE__ENABLED": "false", "PATH": ""})
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        rewards[size] = [(r["id"], r["reward"], r["frameworks"]["consistency"].get("verdict")) for r in rows]
    assert rewards[1] == rewards[3] == rewards[512]
    verdicts = [v for _, _, v in rewards[1]]
    assert "contradicts_episode" in verdicts  # the episode memory was used, in input order
    by_id = {i: v for i, _, v in rewards[1]}
    assert by_id["r6"] == "contradicts_episode"  # "Erin is nice." after "Erin is big." (r0) in episode e0
    assert by_id["r8"] == by_id["r14"] == "undetermined"  # group siblings (g2, no episode) are not an episode
