"""The evolution framework the way a GRPO run uses it: right, wrong, empty, hostile completions."""

from __future__ import annotations

import json
import math
import random
from typing import Any

import numpy as np
import pytest
from chil_plugin_deap.tool import DeapOptimizer
from chil_plugin_evolution.framework import EvolutionFramework, EvolutionOptions
from chil_plugin_sqlite.memory import SqliteMemory

from chil_core.capabilities.optimizer import Problem, fitness
from chil_core.testing import score_direct
from chil_core.testing.conformance import FrameworkConformance


def block(obj: Any) -> str:
    return "Here is my solution.\n```json\n" + json.dumps(obj) + "\n```\n"


def rec(rid: str, completion: str, problem: dict[str, Any], **kw: Any) -> dict[str, Any]:
    md = {"problem": problem, **kw.pop("metadata", {})}
    return {"id": rid, "prompt": "solve", "completion": completion, "metadata": md, **kw}


def score(records: list[dict[str, Any]], tools: dict[str, Any] | None = None, **options: Any):  # type: ignore[no-untyped-def]
    fw = EvolutionFramework(EvolutionOptions(**options))
    return score_direct(fw, records, tools or {})


ONEMAX = {"kind": "onemax", "seed": 3, "n": 12}
KNAP = {"kind": "knapsack", "seed": 5, "n": 10}
TSP = {"kind": "tsp", "seed": 7, "n": 8}
RAS = {"kind": "rastrigin", "seed": 1, "dim": 3}
SR = {"kind": "symbolic_regression", "seed": 2, "target": "3*x^2 - x + 1"}


class TestEvolutionConformance(FrameworkConformance):
    framework_name = "evolution"
    config = {"frameworks": {"evolution": {"tools": {"optimizer": "deap"}}}}

    def sample_records(self) -> list[dict[str, Any]]:
        return [
            rec("1", block([1] * 12), ONEMAX),
            rec("2", block(list(range(8))), TSP),
            rec("3", block("3*x^2 - x + 1"), SR),
            {"id": "4", "prompt": "who as of 2010", "completion": "Answer: Bob", "reference": {"answer": "Bob"},
             "metadata": {"as_of": "2010", "other_answers": ["Alice"]}},
            {"id": "5", "prompt": "hello", "completion": "hi"},
        ]


def test_right_beats_wrong_and_the_optimum_scores_one() -> None:
    out = score([rec("r", block([1] * 12), ONEMAX), rec("w", block([1] * 6 + [0] * 6), ONEMAX),
                 rec("sr", block({"expression": "1 - x + 3*x^2"}), SR), rec("sr-w", block("3*x^2"), SR),
                 rec("ras", block([0.0, 0.0, 0.0]), RAS), rec("ras-w", block([4.5, -4.5, 4.5]), RAS)])
    assert [r.verdict for r in out] == ["fit"] * 6
    assert out[0].score == 1.0 and out[1].score < 0.2
    assert out[2].score == 1.0 and out[3].score < out[2].score
    assert out[4].score == 1.0 and out[5].score == 0.0


def test_fitness_is_recomputed_independently() -> None:
    rng = np.random.default_rng(0)
    problem = Problem.from_json(TSP)
    coords = np.asarray(problem.instance().coords)
    tours = [rng.permutation(8).tolist() for _ in range(20)]
    out = score([rec(str(i), block(t), TSP) for i, t in enumerate(tours)], {"optimizer": DeapOptimizer()})
    for t, r in zip(tours, out, strict=True):
        pts = coords[t]
        expected = float(np.linalg.norm(pts - np.roll(pts, -1, axis=0), axis=1).sum())
        assert math.isclose(r.components["fitness"], expected, rel_tol=1e-12)
    kp = Problem.from_json(KNAP).instance()
    picks = [rng.integers(0, 2, 10).tolist() for _ in range(20)]
    out = score([rec(str(i), block(p), KNAP) for i, p in enumerate(picks)])
    for p, r in zip(picks, out, strict=True):
        w = int(np.dot(p, kp.weights))
        if w > kp.capacity:
            assert r.verdict == "infeasible" and r.score == 0.0
        else:
            assert r.components["fitness"] == float(np.dot(p, kp.values))


def test_every_planted_wrong_claim_is_caught() -> None:
    rng = random.Random(1)
    records, truths = [], []
    for i in range(60):
        spec = [ONEMAX, TSP, RAS, SR][i % 4]
        problem = Problem.from_json(spec)
        if spec is SR:
            sol: Any = rng.choice(["x", "x^2 + 1", "3*x^2 - x", "sin(x)"])
            from chil_core.capabilities.expression import compile_expression

            f = fitness(problem, compile_expression(sol, ["x"]))
        else:
            from chil_core.capabilities.optimizer import random_solution

            sol = random_solution(problem, rng)
            f = fitness(problem, sol)
        wrong = rng.choice([f * 1.05 + 0.01, f - 0.5, f + 1.0, f * 0.9 - 0.01, 0.0 if f > 0.01 else 1.0])
        records.append(rec(f"w{i}", block({"solution": sol, "fitness": wrong}), spec))
        records.append(rec(f"r{i}", block({"solution": sol, "fitness": round(f, 8)}), spec))
        truths.append(f)
    out = score(records, {"optimizer": DeapOptimizer()})
    wrong, right = out[0::2], out[1::2]
    assert all(r.verdict == "false_claim" and r.score == 0.0 for r in wrong)
    assert all(r.verdict == "fit" for r in right)


@pytest.mark.parametrize(("completion", "problem", "verdict"), [
    ("", ONEMAX, "no_solution"),
    ("banana", ONEMAX, "no_solution"),
    (block([1] * 12) + block([0] * 12), ONEMAX, "ambiguous"),
    ("```json\n[1, 1,\n```", ONEMAX, "malformed"),
    ("```json\n" + "[" * 150_000 + "]" * 150_000 + "\n```", ONEMAX, "oversize"),
    ("```json\n" + "[" * 5_000 + "]" * 5_000 + "\n```", ONEMAX, "malformed"),
    (block([1] * 11), ONEMAX, "wrong_length"),
    (block([2] * 12), ONEMAX, "not_binary"),
    (block([0, 1, 2, 3, 4, 5, 6, 6]), TSP, "not_permutation"),
    (block([0, 1, 2, 3, 4, 5, 6]), TSP, "wrong_length"),
    (block([0, 1, 2, 3, 4, 5, 6, 99]), TSP, "out_of_range"),
    (block([0, 1, 2, 3, 4, 5, 6, -1]), TSP, "out_of_range"),
    ("```json\n[NaN, 0, 0]\n```", RAS, "non_finite"),
    ("```json\n[1e999, 0, 0]\n```", RAS, "non_finite"),
    (block([0.0] * 1_000_000), RAS, "oversize"),
    (block([9.0, 0.0, 0.0]), RAS, "out_of_range"),
    (block("x.__class__.__bases__"), SR, "forbidden"),
    (block("__import__('os').system('touch /tmp/chil-pwned')"), SR, "forbidden"),
    (block("import os"), SR, "forbidden"),
    (block("x ** 99999999"), SR, "exponent_too_large"),
    (block("x ^ x"), SR, "exponent_too_large"),
    (block("2 ^ 2 ^ 2"), SR, "exponent_too_large"),
    (block("(" * 200 + "x" + ")" * 200), SR, "too_large"),
    (block("+".join(["x"] * 400)), SR, "too_large"),
    (block("y + 1"), SR, "unknown_name"),
    (block("x / (x - x)"), SR, "non_finite"),
    (block({"solution": [1] * 12, "fitness": "NaN"}), ONEMAX, "malformed"),
])
def test_hostile_and_broken_completions_are_typed_and_penalised(completion: str, problem: dict[str, Any], verdict: str) -> None:
    import os

    out = score([rec("h", completion, problem)])[0]
    assert out.status == "scored" and out.score == 0.0, out
    assert out.verdict == verdict, out
    assert not os.path.exists("/tmp/chil-pwned")


def test_knapsack_reference_is_the_exact_optimum() -> None:
    import itertools

    problem = Problem.from_json(KNAP)
    inst = problem.instance()
    best = max(sum(v for v, b in zip(inst.values, bits, strict=True) if b)
               for bits in itertools.product((0, 1), repeat=10)
               if sum(w for w, b in zip(inst.weights, bits, strict=True) if b) <= inst.capacity)
    out = score([rec("k", block([0] * 10), KNAP)])[0]
    assert out.components["reference"] == best


def test_tsp_uses_the_optimizer_and_abstains_without_one() -> None:
    out = score([rec("t", block(list(range(8))), TSP)])[0]
    assert out.status == "abstained" and "no optimizer" in out.explanation
    out = score([rec("t", block(list(range(8))), TSP)], {"optimizer": DeapOptimizer()})[0]
    assert out.status == "scored" and "deap" in out.explanation
    bad = score([rec("t", block([0] * 8), TSP)])[0]  # invalid is penalised even without a reference
    assert bad.status == "scored" and bad.score == 0.0


def test_malformed_records_name_the_field_and_are_not_scored() -> None:
    out = score([rec("m", block([1]), {"kind": "onemax", "seed": 1, "n": 10**9}),
                 rec("m2", block([1]), {"kind": "nope"}),
                 {"id": "t", "prompt": "q", "completion": "Answer: x", "metadata": {"as_of": "whenever"}, "reference": {"answer": "x"}}])
    assert [r.status for r in out] == ["error", "error", "error"]
    assert "metadata.problem.n" in out[0].explanation and "metadata.problem.kind" in out[1].explanation
    assert "metadata.as_of" in out[2].explanation


def test_population_rank_and_novelty_within_a_group() -> None:
    sols = [[1] * 12, [1] * 12, [1] * 6 + [0] * 6, [0] * 6 + [1] * 6]
    recs = [rec(f"g{i}", block(s), ONEMAX, group="G") for i, s in enumerate(sols)]
    plain = score(recs)
    assert [r.components["fitness_rank"] for r in plain] == pytest.approx([5 / 6, 5 / 6, 1 / 6, 1 / 6])
    assert plain[0].components["novelty"] == pytest.approx((0 + 0.5 + 0.5) / 3)
    assert plain[2].components["novelty"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    assert plain[0].score == 1.0  # population_weight 0: components only
    weighted = score(recs, population_weight=0.5)
    assert weighted[2].score > plain[2].score and weighted[0].score < plain[0].score
    assert weighted[2].score < weighted[0].score  # diversity never beats fitness here


def test_episode_memory_penalises_repeats_and_rewards_improvement(tmp_path: Any) -> None:
    from chil_core.testing import DirectContext

    fw = EvolutionFramework(EvolutionOptions())
    mem = SqliteMemory(SqliteMemory.Options(memory_path=str(tmp_path / "m.sqlite")))
    ctx = DirectContext({"text_index": mem})
    import asyncio

    from chil_core import Record

    async def one(rid: str, sol: list[int]) -> Any:
        return await fw.score(Record.model_validate(rec(rid, block(sol), ONEMAX, metadata={"episode": "E"})), ctx)

    async def go() -> list[Any]:
        return [await one("1", [1] * 3 + [0] * 9), await one("2", [1] * 3 + [0] * 9),
                await one("3", [1] * 8 + [0] * 4), await one("4", [1] * 7 + [0] * 5)]

    first, repeat, better, worse = asyncio.run(go())
    ctx.close()
    assert first.verdict == "fit" and "improvement" not in first.components
    assert repeat.verdict == "repeated_failure" and repeat.score == 0.0
    assert better.components["improvement"] == 1.0 and worse.components["improvement"] == 0.0
    alone = score([rec("x", block([1] * 8 + [0] * 4), ONEMAX)])[0]
    assert better.score == pytest.approx(0.8 * alone.score + 0.2)


@pytest.mark.parametrize(("completion", "verdict", "reward"), [
    ("Answer: 2018", "correct", 1.0),
    ("The answer is the 2018 one.", "wrong", 0.0),
    ("the answer is 2018.", "correct", 1.0),
    ("#### Twenty-eighteen", "wrong", 0.0),
    ("2018", "correct", 1.0),
    ("Answer: 1990", "stale", 0.0),
    ("Answer: 1966", "wrong", 0.0),
    ("", "no_answer", 0.0),
    ("banana\nsplit", "no_answer", 0.0),
    ("Answer: 2018\nAnswer: 1990", "ambiguous", 0.0),
    ("Answer: " + "a" * 400, "oversize", 0.0),
])
def test_temporal_verdicts(completion: str, verdict: str, reward: float) -> None:
    r = {"id": "t", "prompt": "when did england last reach a world cup semi final as of 2019", "completion": completion,
         "reference": {"answer": ["2018"]}, "metadata": {"as_of": 2019, "other_answers": [{"answer": "1990", "as_of": "1998"}]}}
    out = score([r])[0]
    assert out.status == "scored" and (out.verdict, out.score) == (verdict, reward), out
    if verdict == "stale":
        assert out.evidence[0].data["right_at"] == ["1998"]


def test_temporal_normalisation() -> None:
    from chil_plugin_evolution.temporal import normalize

    assert normalize("The Two Towers!") == normalize("2 towers")
    assert normalize("twenty-one") == "21" and normalize("two hundred and five") == "205"
    assert normalize("An apple, a day") == "apple day"


def test_out_of_scope_records_abstain() -> None:
    out = score([{"id": "o", "prompt": "hi", "completion": "hello"}])[0]
    assert out.status == "abstained"


def test_episode_order_within_one_batch_through_the_scorer(tmp_path: Any) -> None:
    from chil_core.scoring import Scorer

    cfg = {"cache": {"path": str(tmp_path / "c")},
           "frameworks": {"evolution": {"tools": {"text_index": "sqlite", "optimizer": "deap"}}}}
    sols = [[1] * 2 + [0] * 10, [1] * 2 + [0] * 10, [1] * 9 + [0] * 3, [1] * 12]
    recs = [rec(f"e{i}", block(s), ONEMAX, metadata={"episode": "ep1"}) for i, s in enumerate(sols)]
    recs.insert(2, rec("other", block([1] * 2 + [0] * 10), ONEMAX, metadata={"episode": "ep2"}))
    with Scorer.from_config(cfg, frameworks=["evolution"]) as scorer:
        out = [r.frameworks["evolution"] for r in scorer.score(recs)]
    assert [o.verdict for o in out] == ["fit", "repeated_failure", "fit", "fit", "fit"]
    assert out[2].components["earlier_attempts"] == 0.0  # another episode
    assert out[3].components["improvement"] == 1.0 and out[4].components["improvement"] == 1.0
    assert out[4].score == 1.0


def test_population_components_through_the_scorer(tmp_path: Any) -> None:
    """A GRPO batch: two groups of four completions for two instances, scored in one call."""
    from chil_core.scoring import Scorer

    cfg = {"cache": {"path": str(tmp_path / "c")},
           "frameworks": {"evolution": {"options": {"population_weight": 0.3}}}}
    sols = [[1] * 12, [1] * 9 + [0] * 3, [0] * 3 + [1] * 9, "banana"]
    recs = []
    for g, spec in (("A", ONEMAX), ("B", {**ONEMAX, "seed": 4})):
        recs += [rec(f"{g}{i}", block(s) if s != "banana" else s, spec, group=g) for i, s in enumerate(sols)]
    with Scorer.from_config(cfg, frameworks=["evolution"]) as scorer:
        out = [r.frameworks["evolution"] for r in scorer.score(recs)]
    for g in (0, 4):
        best, mid1, mid2, bad = out[g : g + 4]
        assert best.components["group_size"] == 3.0 and bad.verdict == "no_solution" and bad.score == 0.0
        assert best.components["fitness_rank"] == 1.0 and mid1.components["fitness_rank"] == 0.25
        assert mid1.components["novelty"] == pytest.approx((0.25 + 0.5) / 2)
        assert best.score > mid1.score > bad.score
