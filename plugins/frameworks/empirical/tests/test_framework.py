"""The empirical framework end to end: real Z3, real fact stores, real GSM8K lines, the Scorer."""

from __future__ import annotations

import json
import os
import random
import re
import stat
import time
from pathlib import Path

import pytest
from chil_plugin_empirical.framework import EmpiricalFramework, EmpiricalOptions
from chil_plugin_sqlite.facts import SqliteFactStore
from chil_plugin_z3.smt import Z3Smt

from chil_core import Scorer
from chil_core.plugins import PluginManager
from chil_core.testing import score_direct
from chil_core.testing.conformance import FrameworkConformance

DATA = Path(__file__).resolve().parents[4].parent / "shared" / "data"
GSM8K = DATA / "gsm8k" / "train.jsonl"
COUNTRIES = DATA / "countries_kg" / "countries_S1" / "train.txt"
STORE = {"triples": [["zambia", "locatedin", "eastern_africa"], ["eastern_africa", "locatedin", "africa"],
                     ["zambia", "neighbor", "angola"], ["palau", "neighbor", "fiji", "false"]],
         "transitive": ["locatedin"], "functional": ["locatedin"], "symmetric": ["neighbor"]}


def rec(completion: str, answer=None, **metadata) -> dict:
    return {"id": "r", "prompt": "p", "completion": completion, "metadata": metadata,
            "reference": None if answer is None else {"answer": answer}}


def score(records, fw=None, facts=True, **options):
    tools = {"smt": Z3Smt()}
    if facts:
        tools["fact_store"] = SqliteFactStore(SqliteFactStore.Options(**STORE))
    return score_direct(fw or EmpiricalFramework(EmpiricalOptions(**options)), records, tools=tools)


def test_correct_solution_scores_one() -> None:
    (r,) = score([rec("Natalia sold 48/2 = <<48/2=24>>24 clips.\nIn all 48+24 = <<48+24=72>>72 clips.\n#### 72", "72")])
    assert r.status == "scored" and r.score == 1.0 and r.verdict == "correct"
    assert r.components["arithmetic_steps"] == 2 and r.components["arithmetic_errors"] == 0
    assert r.components["answer_correct"] == 1


def test_wrong_step_and_wrong_answer_are_named() -> None:
    (r,) = score([rec("48/2 = 25, so 25 + 48 = 73. The answer is 73", 72)])
    assert r.verdict == "wrong_answer" and r.components["answer_correct"] == 0
    assert r.components["arithmetic_errors"] == 1 and r.components["arithmetic_accuracy"] == 0.5
    assert r.score == 0.0  # a wrong final answer earns nothing, however good the working
    steps = [e for e in r.evidence if e.kind == "arithmetic_step"]
    assert len(steps) == 1 and steps[0].text.startswith("48/2 = 25") and "24 = 25 is false" in steps[0].text


def test_symbolic_steps_use_z3_and_errors_are_carried_forward() -> None:
    (r,) = score([rec("Let x be the price. 2x + 3 = 13, so 2x = 10 and x = 6. Then 3x = 18.")])
    assert r.components["arithmetic_symbolic"] == 3  # "2x + 3 = 13" is a premise, not a step
    assert r.components["arithmetic_errors"] == 1  # x = 6 is wrong; 3x = 18 follows from it
    assert [e.text.split(":")[0] for e in r.evidence if e.kind == "arithmetic_step"] == ["x = 6"]


def test_symbolic_steps_are_skipped_without_smt_or_beyond_the_cap() -> None:
    (r,) = score_direct(EmpiricalFramework(), [rec("2x + 3 = 13 so 2x = 10 and 4 + 4 = 8")])
    assert r.components["arithmetic_symbolic_skipped"] == 2 and r.components["arithmetic_steps"] == 1
    many = " ".join(f"x{i} = {i} + 1." for i in range(40))
    (capped,) = score([rec(many)], max_symbolic=5)
    # too many to verify: unverifiable (by size), not silently skipped
    assert capped.components["arithmetic_unverifiable"] == 35 and capped.verdict == "unverifiable" and capped.score == 0.0


def test_facts_are_looked_up() -> None:
    (r,) = score([rec("Zambia is located in Africa. Zambia borders Angola. Zambia is located in Europe. "
                      "Palau does not border Fiji. Fiji borders Tonga.")])
    assert (r.components["facts_supported"], r.components["facts_refuted"], r.components["facts_unknown"]) == (3, 1, 1)
    assert r.verdict == "refuted_fact" and r.score == 0.0 and r.components["fact_accuracy"] == pytest.approx(3 / 4)
    refuted = [e for e in r.evidence if e.kind == "fact" and e.data["verdict"] == "refuted"]
    assert refuted[0].data["object"] == "europe" and refuted[0].data["facts"] == [["zambia", "locatedin", "eastern_africa", True]]


def test_metadata_triples_are_facts_that_decide_the_completions_claims() -> None:
    given = [["Zambia", "locatedin", "Europe", "true"], ["Fiji", "neighbor", "Tonga", "false"]]  # the record's facts
    says_true, says_false, silent, empty, bad, conflict = score([
        rec("Zambia is located in Europe. Fiji does not border Tonga.", triples=given),
        rec("Zambia is located in Africa. Fiji borders Tonga.", triples=given),
        rec("2 + 2 = 4", triples=given),
        rec("", triples=[["Zambia", "locatedin", "Africa"]]),
        rec("", triples=[["a", "b"]]),
        rec("", triples=[["a", "r", "b"], ["a", "r", "b", "false"]]),
    ])
    # the given facts override the store (which says Zambia is in Africa) for this record, and decide
    # what the completion says: the same metadata, opposite claims, opposite rewards
    assert (says_true.score, says_true.components["facts_supported"], says_true.components["facts_refuted"]) == (1.0, 2, 0)
    assert all(e.data["facts"] and "metadata.triples" in e.text for e in says_true.evidence if e.kind == "fact")
    # "Africa" is not given: looked up in the store (supported); "Fiji borders Tonga" is given false
    assert (says_false.score, says_false.verdict, says_false.components["facts_refuted"]) == (0.0, "refuted_fact", 1)
    assert says_false.components["facts_supported"] == 1
    # triples the completion does not state earn and cost nothing: not claims of the completion
    assert silent.score == 1.0 and "facts_supported" not in silent.components
    assert empty.status == "abstained" and empty.score is None
    assert bad.status == "error" and "metadata.triples[0]" in bad.explanation
    assert conflict.status == "error" and "metadata.triples[1]" in conflict.explanation and "both" in conflict.explanation


def test_metadata_triples_decide_without_a_fact_store() -> None:
    given = [["Zambia", "locatedin", "Europe"]]
    yes, other = score([rec("Zambia is located in Europe.", triples=given), rec("Zambia is located in Africa.", triples=given)],
                       facts=False)
    assert (yes.score, yes.components["facts_supported"]) == (1.0, 1)
    assert other.status == "abstained"  # no store: a claim no given fact settles stays undecided


def test_nothing_to_check_abstains() -> None:
    (r,) = score([rec("Hello! I am happy to help.")])
    assert r.status == "abstained" and r.score is None


@pytest.mark.parametrize(
    "completion",
    ["9**9**9 = 5", "2^99999 = 7", "1" * 10_000 + " * 3 = 3", "(" * 3000 + "2" + ")" * 3000 + " = 2",
     "Robert'); DROP TABLE facts;-- borders France. " + "x" * 5000],
    ids=["tower", "huge-power", "10k-digits", "deep-parens", "injection"],
)
def test_hostile_completions_never_hang_and_fail_closed(completion: str) -> None:
    t0 = time.perf_counter()
    (r,) = score([rec(completion, "42")])
    assert time.perf_counter() - t0 < 2.0
    assert r.status == "scored" and r.components["answer_correct"] == 0
    if "=" in completion:
        assert r.verdict == "wrong_answer" and r.components["arithmetic_unverifiable"] == 1
        assert r.components["arithmetic_accuracy"] == 0  # unverifiable counts against the completion


def test_options_switch_parts_off_and_reweight() -> None:
    text = "48/2 = 25. #### 72"
    (only_answer,) = score([rec(text, 72)], arithmetic=False)
    assert only_answer.score == 1.0 and "arithmetic_steps" not in only_answer.components
    (even,) = score([rec(text, 72)], answer_weight=0.5)
    assert even.score == pytest.approx(0.5)


@pytest.mark.skipif(not GSM8K.is_file(), reason="GSM8K data not found under ../shared/data/gsm8k")
def test_real_gsm8k_gold_and_changed_numbers() -> None:
    rows = [json.loads(line) for line in GSM8K.read_text().splitlines()[:300]]
    gold = [rec(r["answer"], r["answer"].split("####")[-1].strip()) for r in rows]
    results = score(gold, facts=False)
    steps = sum(r.components["arithmetic_steps"] for r in results)
    errors = sum(r.components["arithmetic_errors"] + r.components["arithmetic_unverifiable"] for r in results)
    assert steps > 900 and errors / steps < 0.005
    assert all(r.components["answer_correct"] == 1 for r in results)

    rng = random.Random(5)
    mutated = []
    for g in gold:
        anns = list(re.finditer(r"<<[^=<>]*=(\d+)>>", g["completion"]))
        if not anns:
            continue
        m = rng.choice(anns)
        text = g["completion"][: m.start(1)] + str(int(m.group(1)) + rng.randint(1, 9)) + g["completion"][m.end(1) :]
        mutated.append(rec(text, g["reference"]["answer"]))
    caught = sum(r.components["arithmetic_errors"] > 0 for r in score(mutated, facts=False))
    assert len(mutated) > 250 and caught / len(mutated) > 0.97


# -- through the Scorer --------------------------------------------------------------------------
def scorer_config(**tools) -> dict:
    return {"frameworks": {"empirical": {"tools": tools}}, "cache": {"enabled": False}}


@pytest.mark.skipif(not COUNTRIES.is_file(), reason="countries_kg data not found under ../shared/data")
@pytest.mark.parametrize("backend", ["duckdb", "oxigraph", "sqlite"])
def test_scorer_end_to_end_with_fact_store_swap(backend: str) -> None:
    cfg = scorer_config(fact_store=backend)
    cfg["tools"] = {backend: {"path": str(COUNTRIES), "symmetric": ["neighbor"], "transitive": ["locatedin"], "functional": ["locatedin"]}}
    records = [rec("2x + 3 = 13 so x = 5. Zambia is located in Africa. Zambia borders Spain. #### 5", 5),
               rec("Zambia is located in Europe. 3 * 4 = 13")]
    with Scorer.from_config(cfg, frameworks=["empirical"]) as scorer:
        first, second = (r.frameworks["empirical"] for r in scorer.score(records))
    assert first.status == "scored" and first.components["facts_supported"] == 1 and first.components["facts_unknown"] == 1
    assert first.components["arithmetic_symbolic"] == 1 and first.components["answer_correct"] == 1
    assert second.components["facts_refuted"] == 1 and second.components["arithmetic_errors"] == 1


def test_scorer_turns_a_broken_backend_into_a_status(tmp_path: Path) -> None:
    cfg = scorer_config(fact_store="duckdb")
    cfg["tools"] = {"duckdb": {"database": str(tmp_path / "missing.duckdb")}}
    with Scorer.from_config(cfg, frameworks=["empirical"]) as scorer:
        (reward,) = scorer.score([rec("Zambia is located in Africa. 2 + 2 = 4")])
    result = reward.frameworks["empirical"]
    assert result.status == "error" and "missing.duckdb" in result.explanation


def test_proofs_abstain_without_lean_and_run_with_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = "2 + 2 = 4\n```lean\ntheorem t : 2 + 2 = 4 := rfl\n```"
    with Scorer.from_config(scorer_config(), frameworks=["empirical"]) as scorer:
        (plain,) = scorer.score([rec(text)])
        (only_proof,) = scorer.score([rec("```lean\ntheorem t : True := trivial\n```")])
    assert plain.frameworks["empirical"].status == "scored"
    assert plain.frameworks["empirical"].components["proofs_skipped"] == 1
    assert only_proof.frameworks["empirical"].status == "abstained"

    fake = tmp_path / "lean"  # a stand-in binary: exit 0 and no error means "checked"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    pm = PluginManager()  # a fresh registry: availability is cached per registry
    pm.load_entry_points()
    with Scorer.from_config(scorer_config(), frameworks=["empirical"], plugin_manager=pm) as scorer:
        checked, preamble_only, with_preamble = scorer.score(
            [rec(text), rec("2 + 2 = 4", lean="theorem t : True := trivial"), rec(text, lean=["import Mathlib"])])
    result = checked.frameworks["empirical"]
    assert result.components["proofs_checked"] == 1 and result.components["proof_accuracy"] == 1
    # metadata.lean is the record's preamble, never a proof of the completion's
    assert "proofs_checked" not in preamble_only.frameworks["empirical"].components
    assert with_preamble.frameworks["empirical"].components["proofs_checked"] == 1


class TestEmpiricalConformance(FrameworkConformance):
    framework_name = "empirical"
    config = {"frameworks": {"empirical": {"tools": {"smt": "z3", "fact_store": "sqlite"}}}, "tools": {"sqlite": STORE}}

    def sample_records(self) -> list[dict]:
        return [{"id": "1", "prompt": "p", "completion": "48/2 = <<48/2=24>>24. #### 24", "reference": {"answer": "24"}},
                {"id": "2", "prompt": "p", "completion": "2x + 3 = 13, so x = 6. Zambia is located in Africa."},
                {"id": "3", "prompt": "p", "completion": "Nothing to check here."},
                # what the prompt and the metadata decide (reads): a step grounded in the prompt's numbers,
                # a claim the record's own triples settle
                {"id": "4", "prompt": "Tom has 48 apples and gives half away. How many are left?",
                 "completion": "48/2 = 24. 24 + 0 = 24. The answer is 24.", "reference": {"answer": "24"}},
                {"id": "5", "prompt": "p", "completion": "Zambia is located in Europe.",
                 "metadata": {"triples": [["Zambia", "locatedin", "Europe", "true"]]}}]


@pytest.mark.skipif(not GSM8K.is_file(), reason="GSM8K data not found under ../shared/data/gsm8k")
def test_framework_workers_give_the_main_process_results(tmp_path) -> None:
    """``scheduler.framework_workers``: GSM8K gold solutions, their one-number changes and statements with
    variables (a Z3 call: those records come back to the main process) score the same in worker
    processes as in the main process."""
    rows = [json.loads(line) for line in GSM8K.read_text().splitlines()[:200]]
    # the statements with variables first: the first chunk goes to a worker (the main process takes chunks
    # from the back of the queue), which sends them back for their Z3 call
    records = [rec(f"Let x be the side. x * x = {k * k}, so x = {k + (k % 3 == 0)}. The answer is {k}.", k)
               for k in range(2, 14)]
    records += [rec(r["answer"], r["answer"].split("####")[-1].strip()) for r in rows]
    records += [rec(r["answer"].replace("=", "= 1", 1), r["answer"].split("####")[-1].strip()) for r in rows[:60]]
    records = [{**r, "id": str(i)} for i, r in enumerate(records)]

    def run(workers: int):
        cfg = {"frameworks": {"empirical": {"tools": {"smt": "z3"}, "options": {"facts": False, "proofs": False}}},
               "scheduler": {"framework_workers": workers, "framework_workers_min_records": 16},
               "cache": {"path": str(tmp_path / f"cache{workers}.lmdb")}}
        with Scorer.from_config(cfg, frameworks=["empirical"]) as scorer:
            assert scorer.start_workers(120)
            got = [r.frameworks["empirical"] for r in scorer.score(records)]
            return got, scorer.stats().get("workers:empirical")

    off, none = run(0)
    on, stats = run(2)
    assert none is None and stats["sent"] > 100 and stats["returned"] > 0 and stats["restarts"] == 0, stats
    assert [r.model_dump() for r in on] == [r.model_dump() for r in off]
    assert sum(r.components.get("arithmetic_errors", 0) > 0 for r in on) >= 50


def test_framework_workers_answer_lookups_from_their_own_copy_as_the_main_process_does(tmp_path: Path) -> None:
    """The empirical framework's fact lookups, through the Scorer, with the framework workers' own copies
    of the store and with none: the same results, the lookups made in the workers."""
    import itertools

    places = ["Zambia is located in Africa.", "Zambia is located in Asia.", "Angola borders Zambia.", "Palau borders Fiji.",
              "Eastern Africa is located in Africa.", "Zambia borders Angola."]
    texts = [" ".join(p) for n in (1, 2, 3) for p in itertools.permutations(places, n)]  # 156 distinct
    records = [{"id": f"r{i}", "prompt": "Tell me about a country.", "completion": t} for i, t in enumerate(texts)]

    def run(workers: int) -> tuple[list, dict, int]:
        cfg = {"frameworks": {"empirical": {"tools": {"fact_store": "sqlite"}}},
               "tools": {"sqlite": STORE},
               "scheduler": {"framework_workers": workers, "framework_workers_min_records": 16},
               "cache": {"path": str(tmp_path / f"cache-{workers}.lmdb")}}
        with Scorer.from_config(cfg, frameworks=["empirical"]) as scorer:
            if workers:
                assert set(scorer.pools["empirical"].local) == {"fact_store"}
                assert scorer.start_workers(60)
            got = [r.frameworks["empirical"] for r in scorer.score(records)]
            stats = scorer.stats()
            return got, stats.get("workers:empirical", {}), scorer.scheduler.backend("fact_store", "sqlite").stats.calls

    pooled, pool_stats, main_calls = run(2)
    inline, _, inline_calls = run(0)
    assert [r.model_dump() for r in pooled] == [r.model_dump() for r in inline]
    assert sum(r.components.get("facts_refuted", 0) > 0 for r in inline) >= 50
    assert sum(r.components.get("facts_supported", 0) > 0 for r in inline) >= 50
    assert pool_stats["sent"] >= 100 and pool_stats["returned"] == 0, pool_stats
    assert main_calls < inline_calls / 2, (main_calls, inline_calls)
