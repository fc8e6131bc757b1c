"""Batched ``decide`` == one theory per call, verdict for verdict, on every backend (issue 19).

The payloads are those the framework sends: every ProofWriter and ProntoQA dev item's theory (parsed
from its context) with the question's statement and, for ProntoQA, the chain-of-thought claims as
queries and as one assumed set; plus 1,500 random theories of the ``logic_program`` conformance suite
(with assumed sets).  Each backend answers them in batches of 64 (shuffled, theories repeated, a
malformed call among them) and one by one; every answer must be the same.  The full comparison is
slow (marked); the default run compares a sample.
"""

from __future__ import annotations

import random

import pytest
from chil_plugin_consistency.english import parse_claims, parse_theory

from chil_core import ToolCall
from chil_core.testing.conformance import _norm
from chil_core.testing.logic_program import assert_batch_equals_one_by_one, mixed_batch, random_payload

RANDOM_THEORIES = 1_500


def dataset_payloads(proofwriter: list[dict], prontoqa: list[dict]) -> list[dict]:
    out = []
    for row in proofwriter + prontoqa:
        theory = parse_theory(row["context"]).theory().to_json()
        statement = row["question"].split("? ")[-1]
        claims = parse_claims(" ".join(row.get("explanation", [])) + " " + statement)
        lits = [lit.to_json() for _, ls in claims.statements for lit in ls]
        assert lits, row["id"]
        out.append({"theory": theory, "queries": lits, "assume": [lits]})
    return out


def compare(backends: dict, payloads: list[dict], seed: int) -> dict[str, list]:
    rng = random.Random(seed)
    calls = mixed_batch(payloads, rng)
    answers = {}
    for name, tool in backends.items():
        assert assert_batch_equals_one_by_one(tool, calls, batch_size=64) == len(calls)
        answers[name] = [_norm(x) for i in range(0, len(calls), 64) for x in tool.run_batch(calls[i : i + 64])]
    # and the backends agree with each other on every call, batched (clashes up to z3's core-named subset)
    for a, b in zip(answers["clingo"], answers["prolog"], strict=True):
        assert (a.status, a.value) == (b.status, b.value)
    for a, b in zip(answers["clingo"], answers["z3"], strict=True):
        assert a.status == b.status and (a.status != "ok" or a.value["answers"] == b.value["answers"])
    return answers


def test_batched_equals_one_by_one_on_a_sample(backends, proofwriter, prontoqa) -> None:
    rng = random.Random(7)
    payloads = dataset_payloads(proofwriter[::25], prontoqa[::25]) + [random_payload(rng) for _ in range(60)]
    compare(backends, payloads, seed=1)


@pytest.mark.slow
def test_batched_equals_one_by_one_on_every_dev_item_and_1500_random_theories(backends, proofwriter, prontoqa) -> None:
    rng = random.Random(19)
    payloads = dataset_payloads(proofwriter, prontoqa) + [random_payload(rng) for _ in range(RANDOM_THEORIES)]
    assert len(payloads) == len(proofwriter) + len(prontoqa) + RANDOM_THEORIES
    compare(backends, payloads, seed=2)


def test_a_failing_theory_in_a_batch_fails_alone(backends) -> None:
    """A theory the backend cannot decide (Prolog: its time limit; all: a malformed payload) is a status
    of its own; the rest of the batch is answered."""
    fine = {"theory": {"facts": [{"pred": "big", "args": ["bob"]}], "rules": []}, "queries": [{"pred": "big", "args": ["bob"]}]}
    bad = {"theory": {"facts": [{"pred": "big", "args": ["?x"]}], "rules": []}, "queries": []}
    calls = [ToolCall(capability="logic_program", op="decide", payload=p) for p in (fine, bad, fine)]
    for name, tool in backends.items():
        out = [_norm(x) for x in tool.run_batch(calls)]
        assert [r.status for r in out] == ["ok", "error", "ok"], name
        assert out[0].value == out[2].value == {"consistent": True, "clashes": [], "answers": ["entailed"]}, name


def test_a_batch_of_records_starts_a_few_per_event_loop_turn() -> None:
    """The scorer starts a whole batch of records at once, and each would parse its premises and queue
    its decide call before the event loop could read a worker's answer.  The scorer lets at most
    PER_TURN of them start per turn of the loop while a worker has calls (chil_core.scoring._Turns),
    in order, so worker answers are read, and the next batch handed out, between chunks; every record
    is still judged."""
    import threading

    from chil_core import scoring
    from chil_core.scoring import Scorer

    records = [{"id": f"r{i}", "prompt": f"Bob{i} is big. If something is big then it is red.", "completion": f"Bob{i} is red."}
               for i in range(3 * scoring.PER_TURN + 5)]
    config = {"frameworks": {"consistency": {"tools": {"logic_program": "clingo"}}}, "cache": {"enabled": False}}
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        framework = scorer.frameworks["consistency"]
        started: list[tuple[int, str]] = []
        build = framework._build
        turn, running, ticked = [0], [True], threading.Event()

        async def traced(record):  # type: ignore[no-untyped-def]
            started.append((turn[0], record.id))
            return await build(record)

        def tick() -> None:
            turn[0] += 1
            ticked.set()
            if running[0]:
                scorer._loop.call_soon(tick)

        framework._build = traced  # type: ignore[method-assign]
        scorer._loop.call_soon_threadsafe(tick)
        ticked.wait(5)
        rewards = scorer.score(records)
        running[0] = False
    per_turn: dict[int, int] = {}
    for t, _ in started:
        per_turn[t] = per_turn.get(t, 0) + 1
    assert max(per_turn.values()) <= scoring.PER_TURN, per_turn
    assert len(per_turn) >= 4
    assert [rid for _, rid in started] == [r["id"] for r in records]  # in order
    assert [r.frameworks["consistency"].verdict for r in rewards] == ["entailed"] * len(records)
