"""The consistency framework in framework workers (``scheduler.framework_workers``), through the real
Scorer, real worker processes and their own copies of the real logic_program backends.

A record outside any episode is a function of itself: its batch sends it to the workers, which parse
it and decide its theory with their own copy of the backend; the result is the main process's, field
for field.  Records of an episode stay in the main process, in input order.  A theory past a copy's
budget goes back to the main process, where the backend's isolated workers decide it."""

from __future__ import annotations

import pytest

from chil_core.scoring import Scorer

BACKENDS = ("clingo", "prolog")


def config(tmp_path, backend: str, workers: int, **scheduler) -> dict:
    return {"frameworks": {"consistency": {"tools": {"logic_program": backend}}},
            "scheduler": {"framework_workers": workers, "framework_workers_min_records": 16,
                          "framework_workers_start_after": 0, **scheduler},
            "cache": {"path": str(tmp_path / f"cache-{backend}-{workers}")}}


def dev_records(proofwriter: list[dict], prontoqa: list[dict]) -> list[dict]:
    """ProofWriter one-claim records, their negations, and ProntoQA chains of thought, mixed."""
    out = []
    for r in proofwriter[:120]:
        statement = r["question"].split("? ")[-1]
        negated = statement.replace(" is not ", " is ") if " is not " in statement else statement.replace(" is ", " is not ", 1)
        out.append({"id": r["id"], "prompt": r["context"], "completion": statement})
        out.append({"id": r["id"] + "-neg", "prompt": r["context"], "completion": negated})
    out += [{"id": r["id"], "prompt": r["context"], "completion": " ".join(r["explanation"])} for r in prontoqa[:80]]
    out += [{"id": "empty", "prompt": proofwriter[0]["context"], "completion": ""},
            {"id": "filler", "prompt": proofwriter[0]["context"], "completion": "Let me think. " * 40}]
    return out


def score(tmp_path, backend: str, workers: int, records: list[dict], **scheduler) -> tuple[list, dict]:
    with Scorer.from_config(config(tmp_path, backend, workers, **scheduler), frameworks=["consistency"]) as scorer:
        if workers:
            assert scorer.start_workers(120)
        got = [r.frameworks["consistency"] for r in scorer.score(records)]
        return got, scorer.stats().get("workers:consistency", {})


@pytest.mark.parametrize("backend", BACKENDS)
def test_workers_judge_dev_records_as_the_main_process_does(tmp_path, backend, proofwriter, prontoqa) -> None:
    records = dev_records(proofwriter, prontoqa)
    got, pool = score(tmp_path, backend, 2, records)
    want, none = score(tmp_path, backend, 0, records)
    assert none == {}, "no workers: no pool"
    distinct = len({(r["prompt"], r["completion"]) for r in records})  # equal content is scored once
    # (this process may take a chunk too when the workers are behind)
    assert distinct // 2 <= pool["sent"] <= distinct and pool["returned"] == 0, pool
    assert [r.model_dump() for r in got] == [r.model_dump() for r in want]
    verdicts = {r.verdict for r in got}
    assert {"entailed", "contradicted", "undetermined"} <= verdicts, verdicts
    assert got[-2].status == "abstained" and got[-2].verdict == "empty"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_theory_past_a_copys_budget_is_decided_in_the_main_process(tmp_path, backend, proofwriter) -> None:
    """A structured theory whose grounding bound is past ``REPLICA_GROUNDINGS`` (60 constants, a
    3-variable rule: 216,000 instances by the bound; none fires, ``far`` has no facts, so the main
    process decides it at once) among ordinary records: the worker's copy refuses it unevaluated, the
    main process's isolated backend decides it; every result is the one given with no workers."""
    from chil_core.capabilities.logic_program import REPLICA_GROUNDINGS

    n = 60
    assert n**3 > REPLICA_GROUNDINGS
    facts = [{"pred": "thing", "args": [f"c{i}"], "neg": False} for i in range(n)]
    body = [{"pred": p, "args": [v], "neg": False} for p, v in (("thing", "?a"), ("thing", "?b"), ("far", "?c"))]
    big = {"id": "big", "prompt": "Is c1 near c2?", "completion": "C1 is big.",
           "metadata": {"theory": {"facts": facts, "rules": [{"if": body, "then": {"pred": "near", "args": ["?a", "?b", "?c"],
                                                                                    "neg": False}}]}}}
    records = [{"id": r["id"], "prompt": r["context"], "completion": r["question"].split("? ")[-1]} for r in proofwriter[:40]]
    records.insert(17, big)
    got, pool = score(tmp_path, backend, 2, records)
    want, _ = score(tmp_path, backend, 0, records)
    assert pool["returned"] == 1 and pool["restarts"] == 0, pool
    assert [r.model_dump() for r in got] == [r.model_dump() for r in want]
    assert got[17].verdict == "undetermined" and got[17].components["premises"] == n + 1, got[17]


def test_episode_records_stay_in_order_in_the_main_process_beside_the_workers(tmp_path, proofwriter) -> None:
    """Memory on: records of an episode are judged here, in input order (a later record sees the claims
    of the earlier ones), while the rest of the batch goes to the workers."""
    theory = "Bob is big. Dave is not kind. If something is big then it is red. If something is red then it is not nice."
    plain = [{"id": r["id"], "prompt": r["context"], "completion": r["question"].split("? ")[-1]} for r in proofwriter[:60]]
    episode = [{"id": "t1", "prompt": theory, "completion": "Erin is big.", "metadata": {"episode": "ep-a"}},
               {"id": "t2", "prompt": theory, "completion": "Erin is nice.", "metadata": {"episode": "ep-a"}}]
    records = plain[:20] + episode[:1] + plain[20:40] + episode[1:] + plain[40:]
    cfg = config(tmp_path, "clingo", 2)
    cfg["frameworks"]["consistency"]["tools"]["text_index"] = "sqlite"
    cfg["frameworks"]["consistency"]["options"] = {"memory": True}
    with Scorer.from_config(cfg, frameworks=["consistency"]) as scorer:
        assert scorer.start_workers(120)
        got = {r.id: r.frameworks["consistency"] for r in scorer.score(records)}
        pool = scorer.stats()["workers:consistency"]
    assert pool["sent"] == 60 and pool["returned"] == 0, pool
    assert got["t1"].verdict == "undetermined"
    assert got["t2"].verdict == "contradicts_episode", got["t2"]
    assert all(got[r["id"]].status == "scored" for r in plain)
