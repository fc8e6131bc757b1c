"""The clingo backend (and Soufflé's availability and program text): decisions, escaping, limits."""

from __future__ import annotations

import re
import sys
import time

import pytest
from chil_plugin_clingo.clingo_tool import ClingoLogic
from chil_plugin_clingo.souffle_tool import SouffleLogic, program

from chil_core import ToolCall, ToolResult
from chil_core.capabilities.logic_program import load_decide_call, load_theory
from chil_core.testing.logic_program import LogicProgramConformance

HOSTILE = ["halt.", "shell('rm -rf /')", ":- initialization(halt).", 'x"). #include "/etc/passwd". h(pos,"x',
           "it's", 'a"b', "back\\slash", "new\nline", "Świątek", "X", "#show", "%*", "a,b", "})"]


def L(pred: str, *args: str, neg: bool = False) -> dict:
    return {"pred": pred, "args": list(args), "neg": neg}


def R(body: list[dict], head: dict) -> dict:
    return {"if": body, "then": head}


@pytest.fixture(scope="module")
def clingo():
    tool = ClingoLogic()
    tool.start()
    yield tool
    tool.close()


def decide(tool, theory: dict, queries: list):
    return tool.run_batch([ToolCall(capability="logic_program", op="decide", payload={"theory": theory, "queries": queries})])[0]


def test_decides_with_recursion_and_strong_negation(clingo: ClingoLogic) -> None:
    theory = {"facts": [L("kind", "bob"), L("rough", "bob"), L("a", "dave"), L("chase", "cat", "dog")],
              "rules": [R([L("kind", "?x"), L("rough", "?x")], L("red", "?x")),
                        R([L("a", "?x")], L("b", "?x")), R([L("b", "?x")], L("a", "?x")),
                        R([L("red", "?x")], L("cold", "?x", neg=True)),
                        R([L("chase", "?x", "dog")], L("chase", "dog", "?x"))]}
    out = decide(clingo, theory, [L("red", "bob"), L("cold", "bob"), L("b", "dave"), L("cold", "dave"), L("chase", "dog", "cat")])
    assert out == {"consistent": True, "clashes": [],
                   "answers": ["entailed", "contradicted", "entailed", "undetermined", "entailed"]}


def test_clashes_are_listed(clingo: ClingoLogic) -> None:
    theory = {"facts": [L("big", "bob"), L("nice", "bob")], "rules": [R([L("big", "?x")], L("nice", "?x", neg=True))]}
    out = decide(clingo, theory, [L("nice", "bob")])
    assert out == {"consistent": False, "clashes": [L("nice", "bob")], "answers": ["both"]}


def test_hostile_names_never_enter_the_program(clingo: ClingoLogic) -> None:
    theory = {"facts": [L(n, n) for n in HOSTILE], "rules": [R([L(n, "?x")], L("seen", "?x")) for n in HOSTILE]}
    queries = [L(n, n) for n in HOSTILE] + [L("seen", n) for n in HOSTILE] + [L(HOSTILE[0], HOSTILE[1])]
    out = decide(clingo, theory, queries)
    assert out["answers"] == ["entailed"] * (2 * len(HOSTILE)) + ["undetermined"]
    # names and constants are numbers in the program: its text holds none of them
    job = load_decide_call({"theory": theory, "queries": queries})
    prog = clingo.program([job])
    assert set(prog.predicates) == {*HOSTILE, "seen"} and set(prog.constants) == set(HOSTILE)
    assert re.fullmatch(r"[a-z0-9A-Z(),.:\-+=\\ \n]*", prog.text), prog.text  # numbers and generated names only
    # one line per fact and per rule, then the generic rules (one per arity used, one per rule shape)
    lines = prog.text.splitlines()
    assert sum(line.startswith("f1(0,") for line in lines) == len(HOSTILE)
    assert sum(line.startswith("r0(0,") for line in lines) == len(HOSTILE)


def test_bad_payload_is_an_error_naming_the_field(clingo: ClingoLogic) -> None:
    out = decide(clingo, {"rules": [R([L("p", "?x")], L("q", "?y"))]}, [])
    assert isinstance(out, ToolResult) and out.status == "error" and "payload.theory.rules[0]" in out.error


def test_a_grounding_bomb_past_the_bound_is_refused_up_front(clingo: ClingoLogic) -> None:
    theory = {"facts": [L("e", "bob")] + [L("e", f"c{i}") for i in range(400)],
              "rules": [R([L("e", "?a"), L("e", "?b"), L("e", "?c"), L("e", "?d")], L("q", "?a", "?b", "?c"))]}
    t0 = time.perf_counter()
    out = decide(clingo, theory, [L("e", "bob")])
    assert isinstance(out, ToolResult) and out.status == "error" and "may ground 401**4" in out.error
    assert time.perf_counter() - t0 < 1.0


def test_a_grounding_bomb_is_killed_by_the_scheduler() -> None:
    from chil_core.scoring import Scorer

    # within the grounding bound (31**4 instances), but millions of atoms: longer than the 1 s timeout
    theory = {"facts": [L("e", "bob")] + [L("e", f"c{i}") for i in range(30)],
              "rules": [R([L("e", "?a"), L("e", "?b"), L("e", "?c"), L("e", "?d")], L("q", "?a", "?b", "?c", "?d"))]}
    config = {"frameworks": {"consistency": {"tools": {"logic_program": "clingo"}}},
              "scheduler": {"backends": {"clingo": {"timeout_s": 1.0}}}, "cache": {"enabled": False}}
    bomb = {"id": "bomb", "prompt": "", "completion": "Bob is e.", "metadata": {"theory": theory}}
    fine = {"id": "fine", "prompt": "Bob is big. If something is big then it is red.", "completion": "Bob is red."}
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        first = scorer.score([bomb])[0].frameworks["consistency"]
        second = scorer.score([fine])[0].frameworks["consistency"]
    assert first.status == "timeout"
    assert second.status == "scored" and second.verdict == "entailed"


def test_souffle_reports_why_it_is_unavailable() -> None:
    reason = SouffleLogic.unavailable_reason()
    if reason is None:
        pytest.skip("souffle is installed here; its unavailability cannot be observed")
    assert "souffle" in reason and "PATH" in reason


def test_souffle_program_never_contains_the_names() -> None:
    theory = load_theory({"facts": [L(n, n) for n in HOSTILE], "rules": [R([L(HOSTILE[0], "?x")], L("q", "?x", "bob"))]})
    text, names, arities = program(theory)
    assert arities == [1, 2]
    assert set(names) == {*HOSTILE, "q", "bob"}
    for n in names:
        if n not in ("q", "bob"):
            assert n not in text
    assert '.decl h2(s: symbol, p: symbol, a0: symbol, a1: symbol)' in text
    assert f'h2("pos", "{names["q"]}", V0, "{names["bob"]}") :- h1("pos", "{names[HOSTILE[0]]}", V0).' in text


@pytest.mark.skipif(SouffleLogic.unavailable_reason() is not None, reason="souffle binary not on PATH")
def test_souffle_agrees_with_clingo(clingo: ClingoLogic) -> None:
    souffle = SouffleLogic()
    souffle.start()
    theory = {"facts": [L("kind", "bob"), L("big", "ann", neg=True)],
              "rules": [R([L("kind", "?x")], L("red", "?x")), R([L("big", "?x", neg=True)], L("nice", "?x"))]}
    queries = [L("red", "bob"), L("nice", "ann"), L("red", "ann", neg=True)]
    assert decide(souffle, theory, queries) == decide(clingo, theory, queries)


def _sample_calls() -> list[ToolCall]:
    theory = {"facts": [L("kind", "bob"), L("big", "ann", neg=True)],
              "rules": [R([L("kind", "?x")], L("red", "?x")), R([L("big", "?x", neg=True)], L("nice", "?x"))]}
    return [ToolCall(capability="logic_program", op="decide", payload={"theory": theory, "queries": [L("red", "bob")]}),
            ToolCall(capability="logic_program", op="decide",
                     payload={"theory": theory, "queries": [L("nice", "ann"), L("red", "ann", neg=True)]})]


def _hostile_calls() -> list[ToolCall]:
    return [ToolCall(capability="logic_program", op="decide", payload={"theory": {"facts": [L(n, n) for n in HOSTILE]},
                                                                      "queries": [L(n, n) for n in HOSTILE]}),
            ToolCall(capability="logic_program", op="decide", payload={"theory": "halt.", "queries": []})]


class TestClingoConformance(LogicProgramConformance):
    tool_class = ClingoLogic

    def sample_calls(self):
        return _sample_calls()

    def hostile_calls(self):
        return _hostile_calls()


class TestSouffleConformance(LogicProgramConformance):
    """Skipped where the souffle binary is missing (the identity tests still run)."""

    tool_class = SouffleLogic

    def sample_calls(self):
        return _sample_calls()

    def hostile_calls(self):
        return _hostile_calls()


def test_a_grounding_bomb_inside_a_batch_fails_alone() -> None:
    """The bomb and ordinary records in one batch (one worker message): the batch overruns its deadline,
    the worker is killed, every call is re-run alone: the bomb times out, the others are scored."""
    from chil_core.scoring import Scorer

    theory = {"facts": [L("e", "bob")] + [L("e", f"c{i}") for i in range(30)],
              "rules": [R([L("e", "?a"), L("e", "?b"), L("e", "?c"), L("e", "?d")], L(f"q{k}", "?a", "?b", "?c", "?d"))
                        for k in range(4)]}
    config = {"frameworks": {"consistency": {"tools": {"logic_program": "clingo"}}},
              "scheduler": {"backends": {"clingo": {"timeout_s": 1.5}}}, "cache": {"enabled": False}}
    bomb = {"id": "bomb", "prompt": "", "completion": "Bob is e.", "metadata": {"theory": theory}}
    fine = [{"id": f"fine{i}", "prompt": "Bob is big. If something is big then it is red.", "completion": c}
            for i, c in enumerate(["Bob is red.", "Bob is not red.", "Bob is nice.", "Bob is big. Bob is red."])]
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        out = [r.frameworks["consistency"] for r in scorer.score([fine[0], bomb, *fine[1:]])]
        stats = scorer.stats()["logic_program:clingo"]
    assert out[1].status == "timeout"
    assert [(r.status, r.verdict) for r in out[:1] + out[2:]] == [
        ("scored", "entailed"), ("scored", "contradicted"), ("scored", "undetermined"), ("scored", "entailed")]
    assert stats["retried_batches"] >= 1 and stats["worker_restarts"] >= 1


def _one_worker_two_batches() -> tuple[dict, list[ToolCall]]:
    """A Scorer config with one clingo worker and batches of 2, and four small decide calls (two batches)."""
    config = {"frameworks": {"consistency": {"tools": {"logic_program": "clingo"}}}, "cache": {"enabled": False},
              "scheduler": {"spare_workers": 0, "backends": {"clingo": {"max_batch": 2, "workers": 1}}}}
    calls = [ToolCall(capability="logic_program", op="decide",
                      payload={"theory": {"facts": [L("big", f"c{i}")], "rules": [R([L("big", "?x")], L("red", "?x"))]},
                               "queries": [L("red", f"c{i}")]}) for i in range(4)]
    return config, calls


def test_a_full_worker_batch_starts_when_queued_and_its_calls_know_when_a_worker_took_them() -> None:
    """A batch filled while the event loop is busy goes to the idle worker at once (not after
    everything else the loop has queued); a call waiting for a worker reports no running time (the
    consistency framework's premises-only check counts from when a worker took the call)."""
    import asyncio

    from chil_core.scheduler import wait_all
    from chil_core.scoring import Scorer

    config, calls = _one_worker_two_batches()
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        scorer.score([{"id": "warm", "prompt": "Bob is big.", "completion": "Bob is big."}])  # one idle worker
        backend = scorer.scheduler.backend("logic_program", "clingo")

        async def go() -> tuple[list, list, list]:
            answers = backend.enqueue_many(calls)  # no await: the first batch of 2 is already in the worker
            queued = [backend.running_s(c) for c in calls]
            await wait_all({a.waiter for a in answers})
            return queued, [backend.running_s(c) for c in calls], [a.result for a in answers]

        queued, done, results = asyncio.run_coroutine_threadsafe(go(), scorer._loop).result(30)
    assert all(isinstance(x, float) and 0 <= x < 5 for x in queued[:2]), queued
    assert queued[2:] == [None, None]
    assert done == [float("inf")] * 4
    assert [r.value["answers"] for r in results] == [["entailed"]] * 4


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="batches are queued only where the kernel says what the pipe holds (Linux)")
def test_a_batch_is_queued_behind_the_batch_a_busy_worker_runs() -> None:
    """With one worker busy on a batch, the next full batch goes into that worker's pipe at once (the
    worker goes straight on to it, instead of waiting for the event loop to read its answer first);
    its calls report no running time until the worker is on it, and every answer is right."""
    import asyncio

    from chil_core.scheduler import wait_all
    from chil_core.scoring import Scorer

    config, calls = _one_worker_two_batches()
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        scorer.score([{"id": "warm", "prompt": "Bob is big.", "completion": "Bob is big."}])  # one idle worker
        backend = scorer.scheduler.backend("logic_program", "clingo")
        runner = backend._runner

        async def go() -> tuple[int, bool, list]:
            answers = backend.enqueue_many(calls)  # no await: batch 1 in the worker, batch 2 behind it
            (proc,) = runner.live
            queued = proc.queued is not None and not proc.queued.done()
            await wait_all({a.waiter for a in answers})
            return len(runner.live), queued, [a.result for a in answers]

        workers, queued, results = asyncio.run_coroutine_threadsafe(go(), scorer._loop).result(30)
        stats = scorer.stats()["logic_program:clingo"]
    assert queued and workers == 1
    assert [r.value["answers"] for r in results] == [["entailed"]] * 4
    assert stats["retried_batches"] == 0 and stats["worker_restarts"] == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="batches are queued only where the kernel says what the pipe holds (Linux)")
def test_a_batch_queued_behind_a_grounding_bomb_goes_to_another_worker() -> None:
    """The batch ahead holds a grounding bomb: it overruns its deadline and its worker is killed; the
    batch queued behind it never started there, so it is sent whole to another worker and answered
    (within a couple of seconds, not after the bomb's timeout); the bomb is re-run alone."""
    import asyncio

    from chil_core.scheduler import wait_all
    from chil_core.scoring import Scorer

    bomb_theory = {"facts": [L("e", "bob")] + [L("e", f"c{i}") for i in range(30)],
                   "rules": [R([L("e", "?a"), L("e", "?b"), L("e", "?c"), L("e", "?d")], L(f"q{k}", "?a", "?b", "?c", "?d"))
                             for k in range(4)]}
    fine = [{"theory": {"facts": [L("big", f"c{i}")], "rules": [R([L("big", "?x")], L("red", "?x"))]},
             "queries": [L("red", f"c{i}")]} for i in range(3)]
    payloads = [{"theory": bomb_theory, "queries": [L("e", "bob")]}, *fine]
    calls = [ToolCall(capability="logic_program", op="decide", payload=p) for p in payloads]
    config = {"frameworks": {"consistency": {"tools": {"logic_program": "clingo"}}}, "cache": {"enabled": False},
              "scheduler": {"spare_workers": 1, "backends": {"clingo": {"max_batch": 2, "workers": 1, "timeout_s": 5}}}}
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        scorer.score([{"id": "warm", "prompt": "Bob is big.", "completion": "Bob is big."}])
        backend = scorer.scheduler.backend("logic_program", "clingo")
        runner = backend._runner

        async def go() -> tuple[bool, float, list]:
            loop = asyncio.get_running_loop()
            t0 = loop.time()
            answers = backend.enqueue_many(calls)  # [bomb, fine0] in the worker, [fine1, fine2] behind them
            (proc,) = runner.live
            queued = proc.queued is not None
            await wait_all({answers[2].waiter, answers[3].waiter})
            second = loop.time() - t0
            await wait_all({a.waiter for a in answers})
            return queued, second, [a.result for a in answers]

        queued, second, results = asyncio.run_coroutine_threadsafe(go(), scorer._loop).result(60)
    assert queued
    assert second < 3.5, second  # the bomb batch's deadline (0.5 s) and a fresh worker, not the bomb's 5 s timeout
    # the bomb, re-run alone with its own 5 s: about 5-7 s of grounding on this machine, so it times out
    # or, on a faster one, is answered (rightly); never a wrong answer
    assert results[0].status == "timeout" or (results[0].status == "ok" and results[0].value["answers"] == ["entailed"]), results[0]
    assert [r.value["answers"] for r in results[1:]] == [["entailed"]] * 3
