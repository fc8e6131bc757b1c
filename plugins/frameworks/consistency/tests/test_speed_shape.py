"""What makes consistency fast without changing a verdict (issue 19): one ``decide`` call per record,
premises parsed once per prompt, and a long (hostile) prompt parsed off the event loop."""

from __future__ import annotations

import asyncio
import time

from chil_plugin_consistency.framework import ConsistencyFramework, ConsistencyOptions

from chil_core import Record
from chil_core.testing import DirectContext

THEORY = "Bob is big. Dave is not kind. If something is big then it is red. If something is red then it is not nice."


class CountingContext(DirectContext):
    """A DirectContext that records every call it answers."""

    def __init__(self, tools: dict) -> None:
        super().__init__(tools)
        self.calls: list = []

    async def call_many(self, calls):  # type: ignore[override]
        self.calls.extend(calls)
        return await super().call_many(calls)


def score(fw: ConsistencyFramework, ctx: CountingContext, records: list[dict]) -> list:
    recs = [Record.model_validate({"id": str(i), **r}) for i, r in enumerate(records)]

    async def go() -> list:
        return list(await asyncio.gather(*(fw.score(r, ctx) for r in recs)))

    return asyncio.run(go())


def test_one_decide_call_per_record(backends) -> None:
    """Claims, the premises' consistency and the claims' joint consistency: one call, not two."""
    ctx = CountingContext({"logic_program": backends["clingo"]})
    fw = ConsistencyFramework()
    out = score(fw, ctx, [{"prompt": THEORY, "completion": "Bob is red."},
                          {"prompt": THEORY, "completion": "Bob is red. Bob is not nice. Dave is big."},
                          {"prompt": THEORY, "completion": "Bob is nice."}])
    assert [r.verdict for r in out] == ["entailed", "undetermined", "contradicted"]
    assert len(ctx.calls) == 3
    assert all(c.op == "decide" and "assume" in c.payload for c in ctx.calls)


def test_conflicting_claims_take_two_calls_not_one_per_pair(backends) -> None:
    """Only a jointly inconsistent completion asks more: each claim alone, then the pairs, one call each."""
    theory = "Bob is big. If something is red then it is cold. If something is round then it is not cold."
    ctx = CountingContext({"logic_program": backends["clingo"]})
    out = score(ConsistencyFramework(), ctx, [{"prompt": theory, "completion": "Ann is red. Ann is round. Bob is red."}])
    assert out[0].verdict == "self_contradictory" and out[0].score == 0.0
    assert len(ctx.calls) == 3
    assert [len(c.payload.get("assume", [])) for c in ctx.calls] == [1, 3, 3]  # joint; 3 singles; 3 pairs


def test_a_group_sharing_a_prompt_parses_its_theory_once(backends) -> None:
    fw = ConsistencyFramework()
    ctx = CountingContext({"logic_program": backends["clingo"]})
    group = [{"prompt": THEORY, "completion": c} for c in ("Bob is red.", "Bob is nice.", "Dave is kind.", "Bob is big.")]
    out = score(fw, ctx, group)
    assert [r.verdict for r in out] == ["entailed", "contradicted", "contradicted", "uninformative"]
    assert (fw.theories.misses, fw.theories.hits) == (1, 3)
    # the same verdicts as with the cache off
    fresh = score(ConsistencyFramework(ConsistencyOptions(theory_cache=0)), ctx, group)
    assert [(r.score, r.verdict) for r in fresh] == [(r.score, r.verdict) for r in out]


def test_the_cache_is_bounded() -> None:
    fw = ConsistencyFramework(ConsistencyOptions(theory_cache=2))
    for text in ("Bob is big.", "Ann is big.", "Dan is big.", "Bob is big."):
        fw.theories.parse(text)
    assert len(fw.theories._items) == 2 and fw.theories.misses == 4


def test_a_long_prompt_is_parsed_off_the_event_loop() -> None:
    """A 1.5-million-character theory (allowed here by max_premise_chars): the event loop keeps ticking
    while the record's job is built (on the loop, the loop would stand still for the whole build).

    No thread ticks through a garbage collection, and a full one walks the whole session's heap: after
    the rest of the default run it held the loop for 0.41 s of a 0.75 s build (CI's run; at 150,000
    characters even one after tests/test_scheduler.py was as long as the build).  The heap there before
    is frozen (``gc.freeze``) so that collections walk only what the build allocates, which is what the
    test is about: a 3-million-object heap took the longest gap from 0.11-0.13 s to 0.03-0.04 s here."""
    import gc

    from chil_plugin_consistency.claims import Job

    n = 30_000
    names = [f"Zed{chr(97 + i % 26)}{chr(97 + i // 26 % 26)}{chr(97 + i // 676 % 26)}{chr(97 + i // 17_576)}" for i in range(n)]
    long_prompt = " ".join(f"{name} is big. If something is big then it is red." for name in names)
    assert len(long_prompt) > 1_500_000
    fw = ConsistencyFramework(ConsistencyOptions(max_premise_chars=2_000_000))
    gc.collect()
    gc.freeze()

    async def go() -> tuple[float, float, object]:
        gaps: list[float] = []
        done = False

        async def ticker() -> None:
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(0.001)
                now = time.perf_counter()
                gaps.append(now - last)
                last = now

        tick = asyncio.create_task(ticker())
        t0 = time.perf_counter()
        job = await fw._build(Record(id="long", prompt=long_prompt, completion=f"{names[1]} is red."))
        build_s = time.perf_counter() - t0
        done = True
        await tick
        return max(gaps, default=build_s), build_s, job  # (no tick at all: the build held the loop throughout)

    try:
        worst_gap, build_s, job = asyncio.run(go())
    finally:
        gc.unfreeze()
        fw.close()
    assert isinstance(job, Job) and len(job.theory.facts) == n and len(job.claims) == 1
    assert worst_gap < 0.5 * build_s, (worst_gap, build_s)
    assert fw.theories.misses == 1  # and cached for the rest of its group


def test_an_oversized_prompt_is_an_error_naming_the_option(backends) -> None:
    fw = ConsistencyFramework(ConsistencyOptions(max_premise_chars=1_000))
    ctx = CountingContext({"logic_program": backends["clingo"]})
    out = score(fw, ctx, [{"prompt": "Bob is big. " * 200, "completion": "Bob is big."}])
    assert out[0].status == "error" and "max_premise_chars" in out[0].explanation
    assert ctx.calls == []


#: the bomb's timeout: the quick record must be scored within it.  Its call waits for a spare worker
#: (the only one runs the bomb), which a loaded machine starts slowly: at 2 s this failed at load 3 here.
BOMB_TIMEOUT_S = 4.0


def test_a_slow_record_does_not_hold_back_later_submissions() -> None:
    """consistency is sequential (episode memory), yet a record that runs out its solver timeout delays
    only itself: a record submitted after it is scored meanwhile (records of one episode still wait
    for each other, in input order: test_framework)."""
    from chil_core.scoring import Scorer

    theory = {"facts": [{"pred": "e", "args": [f"c{i}"]} for i in range(31)],
              "rules": [{"if": [{"pred": "e", "args": [v]} for v in ("?a", "?b", "?c", "?d")],
                         "then": {"pred": f"q{k}", "args": ["?a", "?b", "?c", "?d"]}} for k in range(4)]}
    bomb = {"id": "bomb", "prompt": "", "completion": "C1 is e.", "metadata": {"theory": theory}}
    fine = {"id": "fine", "prompt": THEORY, "completion": "Bob is red."}
    config = {"frameworks": {"consistency": {"tools": {"logic_program": "clingo"}}},
              "scheduler": {"backends": {"clingo": {"timeout_s": BOMB_TIMEOUT_S}}}, "cache": {"enabled": False}}
    with Scorer.from_config(config, frameworks=["consistency"]) as scorer:
        scorer.score([fine])  # workers started
        slow = scorer.submit([bomb])
        t0 = time.perf_counter()
        quick = scorer.submit([fine]).result(timeout=60)[0].frameworks["consistency"]
        quick_s = time.perf_counter() - t0
        assert not slow.done()
        late = slow.result(timeout=60)[0].frameworks["consistency"]
    assert quick.verdict == "entailed" and quick_s < BOMB_TIMEOUT_S, quick_s  # before the bomb is done (not slow.done() above)
    assert late.status == "timeout"
