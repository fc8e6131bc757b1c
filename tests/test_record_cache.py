"""The record-level result cache, through the real Scorer and a real LMDB store on disk.

A framework's result is cached under (framework name, version, code, options, backends, the record
fields it reads): a change to any of them misses; a result that an infrastructure failure made is not
cached; equal records of one batch (a GRPO group's equal completions) are scored once."""

from __future__ import annotations

import types
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

from chil_core import Framework, FrameworkResult, Tool, ToolCall, hookimpl
from chil_core.failures import tool_failure
from chil_core.plugins import PluginManager
from chil_core.scoring import Scorer
from chil_core.testing.tools import ChaosThreadTool


class TagOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tag: str = ""


class Upper(Tool):
    """Capability ``text``: upper-cases ``payload["text"]``; ``tag`` (an option) is appended."""

    name: ClassVar[str] = "upper"
    capability: ClassVar[str] = "text"
    version: ClassVar[str] = "1"
    ops: ClassVar[frozenset[str]] = frozenset({"up"})
    Options = TagOptions
    isolation = "inline"

    def run_batch(self, calls: list[ToolCall]) -> list[Any]:
        return [call.payload["text"].upper() + self.options.tag for call in calls]


class Upper2(Upper):
    name: ClassVar[str] = "upper2"


class Stateful(Upper):
    name: ClassVar[str] = "stateful"
    cacheable: ClassVar[bool] = False


class JudgeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    strip: bool = True


class Judge(Framework):
    """Bulk path (extract + judge): right when the upper-cased completion equals reference.answer."""

    name: ClassVar[str] = "judge"
    version: ClassVar[str] = "1"
    capabilities: ClassVar[dict[str, bool]] = {"text": False}
    reads: ClassVar[tuple[str, ...] | None] = ("prompt", "completion", "reference")
    Options = JudgeOptions
    judged: ClassVar[list[str]] = []

    def extract(self, record):
        text = record.completion.strip() if self.options.strip else record.completion
        return [ToolCall("text", "up", {"text": text})]

    def judge(self, record, calls, results):
        Judge.judged.append(record.id)
        if not results[0].ok:
            return tool_failure(results[0], "text", completion_input=True)
        right = results[0].value == (record.reference or {}).get("answer")
        return FrameworkResult.scored(1.0 if right else 0.0, verdict="right" if right else "wrong")


class Judge2(Judge):
    version: ClassVar[str] = "2"


class WholeJudge(Judge):
    """The same, with the default ``reads`` (the whole record, id included)."""

    name: ClassVar[str] = "whole"
    reads: ClassVar[tuple[str, ...] | None] = None


class Sleeper(Framework):
    """Per-record path (its own ``score``): asks chaos-thread to sleep ``metadata.s`` seconds; a failed
    call is judged by :func:`tool_failure` (completion_input: the completion chose the sleep), except
    that ``metadata.lenient`` scores a failed call 0.5 anyway (a framework that pays past a failure)."""

    name: ClassVar[str] = "sleeper"
    capabilities: ClassVar[dict[str, bool]] = {"chaos": False}
    reads: ClassVar[tuple[str, ...] | None] = ("completion", "metadata")
    runs: ClassVar[list[str]] = []

    async def score(self, record, ctx):
        Sleeper.runs.append(record.id)
        md = record.metadata
        res = await ctx.call(md.get("capability", "chaos"), md.get("op", "sleep"), {"s": md.get("s", 0), "c": record.completion})
        if res.ok:
            return FrameworkResult.scored(1.0)
        if md.get("lenient"):
            return FrameworkResult.scored(0.5)
        return tool_failure(res, "chaos", completion_input=True)


class Episodic(Judge):
    name: ClassVar[str] = "episodic"
    sequential: ClassVar[bool] = True


def manager(*frameworks: type[Framework]) -> PluginManager:
    pm = PluginManager(autoload=False)
    pm.load_entry_points()
    pm.add_plugin(types.SimpleNamespace(
        chil_register_frameworks=hookimpl(lambda register: [register(f) for f in frameworks]),
        chil_register_tools=hookimpl(lambda register: [register(t) for t in (Upper, Upper2, Stateful, Memo, ChaosThreadTool)]),
    ), "recordcache")
    return pm


@pytest.fixture(autouse=True)
def _reset_counters():
    Judge.judged.clear()
    Sleeper.runs.clear()


def config(tmp_path, name="judge", backend="upper", options=None, tools=None, **cache):
    tools_of = {"text": backend} if name != "sleeper" else {"chaos": "chaos-thread"}
    return {"frameworks": {name: {"tools": tools_of, "options": options or {}}},
            "tools": tools or {}, "scheduler": {"timeout_s": 0.5},
            "cache": {"path": str(tmp_path / "cache.lmdb"), **cache}}


def rec(i, completion="forty two", answer="FORTY TWO", **extra):
    return {"id": str(i), "prompt": "What is six times seven?", "completion": completion,
            "reference": {"answer": answer}, **extra}


def score(pm, cfg, records, name="judge"):
    with Scorer.from_config(cfg, plugin_manager=pm) as scorer:
        rewards = scorer.score(records)
        stats = scorer.stats().get(f"records:{name}")
    return [r.frameworks[name] for r in rewards], stats


def test_a_new_run_reads_results_from_the_lmdb_store(tmp_path):
    pm = manager(Judge)
    records = [rec(0), rec(1, completion="forty one")]
    first, st = score(pm, config(tmp_path), records)
    assert [r.score for r in first] == [1.0, 0.0] and Judge.judged == ["0", "1"]
    assert st["stored"] == 2 and st["hits"] == 0
    assert (tmp_path / "cache.lmdb" / "data.mdb").is_file()
    second, st = score(pm, config(tmp_path), records)  # a new Scorer: a new run on the same store
    assert second == first, "a cached result is the result"
    assert Judge.judged == ["0", "1"], "nothing judged again"
    assert st["hits"] == 2 and st["misses"] == 0


def test_fields_the_framework_does_not_read_still_hit(tmp_path):
    pm = manager(Judge)
    score(pm, config(tmp_path), [rec(0)])
    out, st = score(pm, config(tmp_path), [rec("another-id", metadata={"x": 1}, group="g")])
    assert out[0].score == 1.0 and st["hits"] == 1 and Judge.judged == ["0"]


@pytest.mark.parametrize("change", ["completion", "prompt", "reference", "option", "backend option", "backend",
                                    "framework version"])
def test_any_change_that_can_change_the_result_misses(tmp_path, change):
    pm = manager(Judge)
    base = rec(0)
    score(pm, config(tmp_path), [base])
    assert Judge.judged == ["0"]
    record, cfg = dict(base), config(tmp_path)
    if change == "completion":
        record["completion"] = "forty two "  # judged the same after strip(), but the field differs
    elif change == "prompt":
        record["prompt"] = "What is seven times six?"
    elif change == "reference":
        record["reference"] = {"answer": "42"}
    elif change == "option":
        cfg = config(tmp_path, options={"strip": False})
    elif change == "backend option":
        cfg = config(tmp_path, tools={"upper": {"tag": "!"}})
    elif change == "backend":
        cfg = config(tmp_path, backend="upper2")
    else:
        pm = manager(Judge2)
    out, st = score(pm, cfg, [record])
    assert st["hits"] == 0 and st["misses"] == 1 and Judge.judged == ["0", "0"], change
    expected = {"reference": 0.0, "backend option": 0.0, "option": 1.0}.get(change, 1.0)
    assert out[0].score == expected


def test_equal_records_of_a_batch_are_scored_once(tmp_path):
    """A GRPO group: 8 completions of one prompt, 3 distinct; ids differ, which Judge does not read."""
    pm = manager(Judge, WholeJudge)
    texts = ["forty two", "forty one", "forty two", "forty two", "", "forty one", "forty two", ""]
    group = [rec(f"g{i}", completion=t, group="q1") for i, t in enumerate(texts)]
    cfg = config(tmp_path)
    cfg["frameworks"]["whole"] = {"tools": {"text": "upper"}}
    with Scorer.from_config(cfg, plugin_manager=pm) as scorer:
        rewards = scorer.score(group)
        st = scorer.stats()
    assert [r.frameworks["judge"].score for r in rewards] == [1.0 if t == "forty two" else 0.0 for t in texts]
    assert [r.frameworks["whole"].score for r in rewards] == [1.0 if t == "forty two" else 0.0 for t in texts]
    assert st["records:judge"]["misses"] == 3 and st["records:judge"]["dedup_hits"] == 5
    # the default (whole record) reads the id, which differs: every record is scored
    assert st["records:whole"]["misses"] == 8 and st["records:whole"]["dedup_hits"] == 0
    assert len(Judge.judged) == 3 + 8


def test_infrastructure_failures_are_not_cached_completion_failures_are(tmp_path):
    pm = manager(Sleeper)
    cfg = config(tmp_path, name="sleeper")
    records = [
        # the completion asks for a 2 s sleep: a timeout the completion caused (penalised; cached)
        {"id": "slow", "prompt": "p", "completion": "sleep", "metadata": {"s": 2}},
        # no backend for the capability: infrastructure (abstained; not cached)
        {"id": "missing", "prompt": "p", "completion": "x", "metadata": {"capability": "nowhere"}},
        # the framework pays 0.5 past an infrastructure failure: scored, yet not cached
        {"id": "lenient", "prompt": "p", "completion": "y", "metadata": {"capability": "nowhere", "lenient": True}},
        {"id": "fine", "prompt": "p", "completion": "z", "metadata": {}},
    ]
    first, st = score(pm, cfg, records, "sleeper")
    by = dict(zip([r["id"] for r in records], first, strict=True))
    assert by["slow"].status == "timeout" and by["slow"].cause == "completion"
    assert by["missing"].status == "abstained" and by["missing"].cause == "infrastructure"
    assert by["lenient"].score == 0.5 and by["fine"].score == 1.0
    assert st["stored"] == 2 and st["not_stored"] == 2
    second, st = score(pm, cfg, records, "sleeper")
    assert second == first
    assert st["hits"] == 2 and st["misses"] == 2
    assert sorted(Sleeper.runs) == sorted(["slow", "missing", "lenient", "fine", "missing", "lenient"])


def test_not_cached_sequential_stateful_or_switched_off(tmp_path):
    records = [rec(0), rec(1)]
    # a sequential framework: results may depend on earlier records
    pm = manager(Episodic)
    for _ in range(2):
        _out, st = score(pm, config(tmp_path, name="episodic"), records, "episodic")
    assert len(Judge.judged) == 4 and st["hits"] == 0 and st["dedup_hits"] == 0
    Judge.judged.clear()
    # a backend that is not cacheable (its answers depend on state): no record cache for the framework
    pm = manager(Judge)
    for _ in range(2):
        _out, st = score(pm, config(tmp_path, backend="stateful"), records)
    assert st is None and len(Judge.judged) == 4
    Judge.judged.clear()
    # cache.records = false: tool calls only
    for _ in range(2):
        _out, st = score(pm, config(tmp_path, records=False), records)
    assert st is None and len(Judge.judged) == 4


def test_results_that_round_trip_through_the_store_are_equal(tmp_path):
    """Scores, verdicts, components, evidence and causes come back from LMDB exactly."""
    pm = manager(Judge)
    records = [rec(i, completion=c) for i, c in enumerate(["forty two", "nope", "  forty two  ", "FORTY TWO"])]
    first, _ = score(pm, config(tmp_path, memory_items=0), records)
    second, st = score(pm, config(tmp_path, memory_items=0), records)
    assert st["hits"] == 4 and second == first
    assert [r.model_dump() for r in second] == [r.model_dump() for r in first]


def test_a_hit_calls_no_backend(tmp_path):
    """The record cache sits in front of the tool-call cache: a hit calls no backend at all."""
    pm = manager(Judge)
    with Scorer.from_config(config(tmp_path), plugin_manager=pm) as scorer:
        scorer.score([rec(0)])
        calls = scorer.stats()["text:upper"]["calls"]
        scorer.score([rec(0)])
        assert scorer.stats()["text:upper"]["calls"] == calls == 1


class Memo(Upper):
    """Capability ``memory``, uncacheable: stands for an episode memory (its answers depend on state)."""

    name: ClassVar[str] = "memo"
    capability: ClassVar[str] = "memory"
    cacheable: ClassVar[bool] = False


class Remembering(Framework):
    """Sequential, per-record path: a record of an episode (``metadata.episode``) also asks the stateful
    ``memory`` backend, and is never keyed; any other record is keyed by its fields.  ``metadata.lenient``:
    it asks a capability nobody serves and scores 0.5 anyway (an infrastructure failure it pays past)."""

    name: ClassVar[str] = "remembering"
    capabilities: ClassVar[dict[str, bool]] = {"text": False, "memory": False}
    reads: ClassVar[tuple[str, ...] | None] = ("completion", "reference", "metadata")
    sequential: ClassVar[bool] = True
    stateful_capabilities: ClassVar[frozenset[str]] = frozenset({"memory"})
    runs: ClassVar[list[str]] = []

    def result_key(self, record):
        return None if record.metadata.get("episode") else self.content_key(record)

    async def score(self, record, ctx):
        Remembering.runs.append(record.id)
        if record.metadata.get("lenient"):
            res = await ctx.call("nothing", "up", {"text": record.completion})
            return FrameworkResult.scored(0.5)
        res = await ctx.call("text", "up", {"text": record.completion})
        if record.metadata.get("episode"):
            await ctx.call("memory", "up", {"text": record.completion})
        return FrameworkResult.scored(1.0 if res.value == (record.reference or {}).get("answer") else 0.0)


class Forgetful(Remembering):
    """The same, without declaring ``memory`` stateful: its uncacheable backend turns the record cache off."""

    name: ClassVar[str] = "forgetful"
    stateful_capabilities: ClassVar[frozenset[str]] = frozenset()


def test_a_declared_stateful_capability_leaves_unkeyed_records_out_and_caches_the_rest(tmp_path):
    """A GRPO group outside any episode is scored once per distinct completion, and again never; records
    of an episode are scored every time, in order; one an infrastructure failure touched is not stored."""
    group = [rec(f"g{i}", completion=c) for i, c in enumerate(["forty two", "nope", "forty two", "forty two"])]
    episode = [rec(f"e{i}", completion="forty two", metadata={"episode": "ep1"}) for i in range(2)]
    lenient = [rec("l0", metadata={"lenient": True})]
    records = group + episode + lenient
    pm = manager(Remembering, Forgetful)
    Remembering.runs.clear()
    cfg = config(tmp_path, name="remembering")
    cfg["frameworks"]["remembering"]["tools"] = {"text": "upper", "memory": "memo"}
    out, st = score(pm, cfg, records, "remembering")
    assert [r.score for r in out] == [1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.5]
    assert Remembering.runs == ["g0", "g1", "e0", "e1", "l0"]  # in input order; g2, g3 share g0's result
    assert (st["misses"], st["dedup_hits"], st["stored"], st["not_stored"]) == (5, 2, 2, 1)
    Remembering.runs.clear()
    out2, st = score(pm, cfg, records, "remembering")
    assert out2 == out and Remembering.runs == ["e0", "e1", "l0"] and st["hits"] == 2
    # undeclared: the uncacheable memory backend turns the record cache off for the whole framework
    Remembering.runs.clear()
    cfg = config(tmp_path, name="forgetful")
    cfg["frameworks"]["forgetful"]["tools"] = {"text": "upper", "memory": "memo"}
    for _ in range(2):
        _out, st = score(pm, cfg, group, "forgetful")
    assert st is None and len(Remembering.runs) == 8
