"""The consistency framework end to end with real tools: verdicts, scores, self-consistency, memory,
abstentions, failures as statuses, hostile completions, and the Scorer."""

from __future__ import annotations

import pytest
from chil_plugin_consistency.framework import ConsistencyFramework, ConsistencyOptions

from chil_core import FrameworkResult
from chil_core.testing import score_direct
from chil_core.testing.conformance import FrameworkConformance

PW_LABELS = {"A": "entailed", "B": "contradicted", "C": "undetermined"}
FOLIO_LABELS = {"True": "entailed", "False": "contradicted", "Uncertain": "undetermined"}
LABEL_WORD = {"entailed": "True", "contradicted": "False", "undetermined": "Unknown"}
THEORY = "Bob is big. Dave is not kind. If something is big then it is red. If something is red then it is not nice."


def one(record: dict, tools: dict, **options) -> FrameworkResult:
    fw = ConsistencyFramework(ConsistencyOptions(**options))
    return score_direct(fw, [{"id": "r", **record}], tools)[0]


@pytest.fixture(scope="module")
def memory(tmp_path_factory):
    """A file-backed memory: score_direct starts and closes its tools on every call."""
    from chil_plugin_sqlite.memory import SqliteMemory, SqliteMemoryOptions

    return SqliteMemory(SqliteMemoryOptions(memory_path=str(tmp_path_factory.mktemp("memory") / "claims.sqlite")))


# -- verdicts and scores ----------------------------------------------------------------------
def test_folio_rows_agree_with_gold_labels(folio_dev: list[dict], smt) -> None:
    fw = ConsistencyFramework()
    rows = folio_dev[:20]
    records = [{"id": str(i), "prompt": " ".join(r["premises"]), "completion": f"So the answer is {r['label']}.",
                "metadata": {"premises_fol": r["premises-FOL"], "conclusion_fol": r["conclusion-FOL"]}}
               for i, r in enumerate(rows)]
    results = score_direct(fw, records, {"smt": smt})
    assert [r.verdict for r in results] == ["correct"] * len(rows)
    assert [r.evidence[0].data["expected"] for r in results] == [FOLIO_LABELS[r["label"]] for r in rows]
    entailed = next(r for r in results if r.evidence[0].data["expected"] == "entailed")
    assert entailed.score == 1.0 and any(e.kind == "unsat_core" for e in entailed.evidence)


@pytest.mark.parametrize("backend", ["z3", "prolog", "clingo"])
def test_proofwriter_and_prontoqa_rows_per_backend(proofwriter: list[dict], prontoqa: list[dict], backends, backend: str) -> None:
    fw = ConsistencyFramework()
    rows = proofwriter[:25] + prontoqa[:15]
    records = [{"id": r["id"], "prompt": r["context"] + " " + r["question"],
                "metadata": {"statement": r["question"].split("? ")[-1]},
                "completion": "Answer: " + LABEL_WORD[PW_LABELS[r["answer"]]]} for r in rows]
    results = score_direct(fw, records, {"logic_program": backends[backend]})
    assert [r.evidence[0].data["expected"] for r in results] == [PW_LABELS[r["answer"]] for r in rows]
    assert all(r.verdict == "correct" and r.score == 1.0 for r in results)


def test_score_formula(backends) -> None:
    tools = {"logic_program": backends["clingo"]}
    assert one({"prompt": THEORY, "completion": "Bob is red."}, tools).score == 1.0
    assert one({"prompt": THEORY, "completion": "Bob is nice."}, tools).score == 0.0
    assert one({"prompt": THEORY, "completion": "Erin is red."}, tools).score == 0.5
    # one contradicted claim is not averaged away by true ones; the restated premise counts for nothing
    mixed = one({"prompt": THEORY, "completion": "Bob is red. Bob is nice. Erin is red. Bob is big."}, tools)
    assert mixed.verdict == "contradicted" and mixed.score == 0.0
    assert mixed.components["claims"] == 4 and mixed.components["informative"] == 3 and mixed.components["filler"] == 1
    assert mixed.components["entailed"] == 1 and mixed.components["contradicted"] == 1
    half = one({"prompt": THEORY, "completion": "Bob is red. Erin is red. Bob is big."}, tools)
    assert half.verdict == "undetermined" and half.score == pytest.approx((1 + 1 / 2) / 2)
    # a repeated claim counts once
    assert one({"prompt": THEORY, "completion": "Bob is red. Bob is red. Bob is red."}, tools).components["claims"] == 1


# -- self-consistency -------------------------------------------------------------------------
def test_self_contradiction_within_a_completion(backends) -> None:
    for name in ("z3", "prolog", "clingo"):
        res = one({"prompt": THEORY, "completion": "Erin is kind. So Bob is red. Erin is not kind."}, {"logic_program": backends[name]})
        assert res.verdict == "self_contradictory", name
        assert res.components["self_contradictions"] == 1
        pair = next(e for e in res.evidence if e.kind == "contradiction")
        assert pair.data["claims"] == ["Erin is kind.", "Erin is not kind."]


def test_pair_that_clashes_through_a_rule(backends) -> None:
    # each claim is possible, together they make Erin red and not nice, and nice
    res = one({"prompt": THEORY, "completion": "Erin is big. Erin is nice."}, {"logic_program": backends["prolog"]})
    assert res.verdict == "self_contradictory" and res.score == 0.0
    assert any(e.kind == "clash" and "¬nice(erin)" in e.text for e in res.evidence)


def test_claim_impossible_with_the_premises_is_penalised_not_relabelled(backends) -> None:
    prompt = "Gary is nice. If something is big then it is not nice."
    res = one({"prompt": prompt, "completion": "Gary is big."}, {"logic_program": backends["z3"]})
    assert res.verdict == "undetermined"  # nothing derives ¬big(gary): open-world answer
    assert res.components["premise_conflicts"] == 1 and res.score == 0.0


def test_fol_self_contradiction_and_malformed_claims(smt) -> None:
    prompt = "```fol\n∀x (Cat(x) → ¬Dog(x))\nCat(tom)\n```"
    res = one({"prompt": prompt, "completion": "```fol\nDog(rex)\nCat(rex)\n¬Dog(tom)\n```"}, {"smt": smt})
    assert res.verdict == "self_contradictory" and res.components["entailed"] == 1
    assert next(e for e in res.evidence if e.kind == "contradiction").data["claims"] == ["Dog(rex)", "Cat(rex)"]
    bad = one({"prompt": prompt, "completion": "```fol\nCat(tom) ∧\n¬Dog(tom)\n```"}, {"smt": smt})
    assert bad.components["unparseable"] == 1 and bad.components["entailed"] == 1 and bad.score == 0.0
    assert bad.verdict == "unparseable" and any("expected a formula" in e.text for e in bad.evidence)
    worst = one({"prompt": prompt, "completion": "```fol\n)(\n```"}, {"smt": smt})
    assert worst.verdict == "unparseable" and worst.score == 0.0


# -- episode memory ---------------------------------------------------------------------------
def test_episode_memory_finds_contradictions_across_records(backends, memory) -> None:
    fw = ConsistencyFramework()
    tools = {"logic_program": backends["clingo"], "text_index": memory}
    first = score_direct(fw, [{"id": "t1", "prompt": THEORY, "completion": "Erin is big.", "metadata": {"episode": "ep-a"}}], tools)[0]
    assert first.verdict == "undetermined"
    later = score_direct(fw, [
        {"id": "t2", "prompt": THEORY, "completion": "Erin is nice.", "metadata": {"episode": "ep-a"}},
        {"id": "t3", "prompt": THEORY, "completion": "Erin is nice.", "metadata": {"episode": "ep-b"}},
    ], tools)
    assert later[0].verdict == "contradicts_episode" and later[0].components["episode_contradictions"] == 1
    ev = next(e for e in later[0].evidence if e.kind == "contradiction")
    assert ev.data["record"] == "t1" and ev.data["claims"] == ["Erin is nice.", "Erin is big."]
    assert later[1].verdict == "undetermined"  # another episode


def test_episode_memory_for_fol(smt, memory) -> None:
    fw = ConsistencyFramework()
    prompt = "```fol\n∀x (Cat(x) → ¬Dog(x))\n```"
    tools = {"smt": smt, "text_index": memory}
    ep = {"episode": "e-fol"}
    score_direct(fw, [{"id": "f1", "prompt": prompt, "completion": "```fol\nCat(tom)\n```", "metadata": ep}], tools)
    res = score_direct(fw, [{"id": "f2", "prompt": prompt, "completion": "```fol\nDog(tom)\n```", "metadata": ep}], tools)[0]
    assert res.verdict == "contradicts_episode"


# -- abstentions and failures ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "status", "fragment"),
    [
        ({"prompt": THEORY, "completion": "I am not sure what to say."}, "abstained", "no claim to judge"),
        ({"prompt": "Tell me a story.", "completion": "Bob is big."}, "abstained", "nothing to judge it against"),
        ({"prompt": "", "completion": "", "metadata": {"premises_fol": ["P(a)"]}}, "abstained", "no claim to judge"),
        ({"prompt": "", "completion": "", "metadata": {"premises_fol": ["P(a) ∧"], "conclusion_fol": "P(a)"}},
         "error", "metadata.premises_fol[0] does not parse"),
        ({"prompt": "", "completion": "", "metadata": {"premises_fol": 3}}, "error", "metadata.premises_fol must be"),
        ({"prompt": "", "completion": "", "metadata": {"premises_fol": ["P(a)"], "conclusion_fol": "P("}},
         "error", "metadata.conclusion_fol does not parse"),
        ({"prompt": "", "completion": "Bob is big.", "metadata": {"theory": {"facts": [{"pred": "p", "args": ["?x"]}]}}},
         "error", "metadata.theory.facts[0] must be ground"),
        ({"prompt": "Bob is big. Bob is not big.", "completion": "Bob is red."}, "abstained", "premises contradict"),
        ({"prompt": "", "completion": "", "metadata": {"premises_fol": ["P(a)", "¬P(a)"], "conclusion_fol": "Q(b)"}},
         "abstained", "premises contradict"),
    ],
)
def test_abstain_or_error_with_a_reason(record: dict, status: str, fragment: str, backends, smt) -> None:
    res = one(record, {"logic_program": backends["clingo"], "smt": smt})
    assert res.status == status and fragment in res.explanation


def test_missing_backend_abstains(smt) -> None:
    assert one({"prompt": THEORY, "completion": "Bob is red."}, {"smt": smt}).status == "abstained"


def test_backend_timeout_is_a_timeout_status() -> None:
    from chil_plugin_prolog.tool import PrologLogic, PrologOptions

    tool = PrologLogic(PrologOptions(time_limit_ms=50))
    facts = [{"pred": "e", "args": ["bob"]}] + [{"pred": "e", "args": [f"c{i}"]} for i in range(30)]  # 31**4 groundings: within the bound, past 50 ms
    rules = [{"if": [{"pred": "e", "args": [v]} for v in ("?a", "?b", "?c", "?d")], "then": {"pred": "q", "args": ["?a"]}}]
    res = one({"prompt": "", "completion": "Bob is q.", "metadata": {"theory": {"facts": facts, "rules": rules}}},
              {"logic_program": tool})
    assert res.status == "timeout" and "time limit" in res.explanation


# -- hostile completions ----------------------------------------------------------------------
HOSTILE = [
    "halt. Bob is red.",
    "shell('rm -rf /'). Bob is red.",
    ":- initialization(halt). Bob is red.",
    "Bob is red. The it's'\" cat is big.",
    "```fol\nhalt.\n:- initialization(shell('rm -rf /')).\nP(a') ∧ Q(\")\n```",
    "```fol\n" + "¬" * 30_000 + "P(a)\n```",
    "Bob is red. " * 5_000,
    "```fol\n" + "\n".join(f"P{i}(c{i})" for i in range(2_000)) + "\n```",
]


@pytest.mark.parametrize("backend", ["z3", "prolog", "clingo"])
def test_hostile_completions_are_data(backend: str, backends, smt, tmp_path) -> None:
    fw = ConsistencyFramework()
    records = [{"id": str(i), "prompt": THEORY, "completion": c} for i, c in enumerate(HOSTILE)]
    results = score_direct(fw, records, {"logic_program": backends[backend], "smt": smt})
    for r in results:
        assert r.status in ("scored", "abstained"), (r.status, r.explanation)
    assert results[0].verdict == "entailed"  # "halt." is not a sentence of the grammar; "Bob is red." is judged
    # "halt." is a well-formed zero-arity proposition (undetermined); the other two lines do not parse
    assert results[4].components["unparseable"] == 2 and results[4].components["undetermined"] == 1
    assert results[5].verdict == "unparseable" and "longer than" in results[5].evidence[0].text
    assert results[6].components["claims"] == 1
    assert results[7].components["claims"] == 32  # max_claims
    # the backend still answers after all of that
    assert score_direct(fw, [{"id": "after", "prompt": THEORY, "completion": "Bob is red."}],
                        {"logic_program": backends[backend]})[0].verdict == "entailed"


# -- through the real Scorer ------------------------------------------------------------------
def test_scorer_end_to_end_and_backends_swap_by_config(proofwriter: list[dict]) -> None:
    from chil_core.scoring import Scorer

    rows = proofwriter[:12]
    records = [{"id": r["id"], "prompt": r["context"], "metadata": {"statement": r["question"].split("? ")[-1]},
                "completion": "The answer is " + LABEL_WORD[PW_LABELS[r["answer"]]]} for r in rows]
    verdicts = {}
    for backend in ("z3", "prolog", "clingo"):
        config = {"frameworks": {"consistency": {"tools": {"logic_program": backend}}}, "cache": {"enabled": False}}
        with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
            rewards = scorer.score(records)
        verdicts[backend] = [rw.frameworks["consistency"].evidence[0].data["expected"] for rw in rewards]
        assert all(rw.reward == 1.0 for rw in rewards)
    assert verdicts["z3"] == verdicts["prolog"] == verdicts["clingo"] == [PW_LABELS[r["answer"]] for r in rows]


def test_scorer_episode_memory_across_batches() -> None:
    from chil_core.scoring import Scorer

    config = {"frameworks": {"consistency": {"tools": {"logic_program": "clingo", "text_index": "sqlite"}}},
              "cache": {"enabled": False}}
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        first = scorer.score([{"id": "s1", "prompt": THEORY, "completion": "Erin is big.", "metadata": {"episode": "g"}}])[0]
        second = scorer.score([{"id": "s2", "prompt": THEORY, "completion": "Erin is nice.", "metadata": {"episode": "g"}},
                               {"id": "s3", "prompt": THEORY, "completion": "Erin is nice.", "metadata": {"episode": "other"}}])
    assert first.frameworks["consistency"].verdict == "undetermined"
    assert second[0].frameworks["consistency"].verdict == "contradicts_episode"
    assert second[1].frameworks["consistency"].verdict == "undetermined"


class TestConsistencyConformance(FrameworkConformance):
    framework_name = "consistency"
    config = {"frameworks": {"consistency": {"tools": {"logic_program": "clingo", "smt": "z3"}}}}

    def sample_records(self):
        return [
            {"id": "ce", "prompt": THEORY, "completion": "Bob is red. Erin is big. Erin is nice."},
            {"id": "fol", "prompt": "```fol\n∀x (Cat(x) → ¬Dog(x))\nCat(tom)\n```", "completion": "```fol\n¬Dog(tom)\n```"},
            {"id": "none", "prompt": THEORY, "completion": "I cannot tell."},
        ]
