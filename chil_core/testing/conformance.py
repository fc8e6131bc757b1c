"""Conformance suites a plugin's tests subclass to prove it honours the contracts.

```python
from chil_core.testing.conformance import FrameworkConformance, ToolConformance

class TestMyTool(ToolConformance):
    tool_class = MyTool
    options = {"path": "..."}
    def sample_calls(self):            # valid calls, at least two distinct ones
        return [ToolCall(capability="fact_store", op="lookup", payload={...}), ...]
    def hostile_calls(self):           # calls built from hostile completions
        return [...]

class TestMyFramework(FrameworkConformance):
    framework_name = "myfw"
    config = {"frameworks": {"myfw": {"tools": {"smt": "z3"}}}}
    def sample_records(self):          # at least one record the framework scores
        return [{"id": "1", "prompt": "...", "completion": "..."}]
```

Each ``test_*`` method is a pytest test; a suite fails loudly when a plugin breaks a contract.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from chil_core.components import Framework, Tool
from chil_core.contracts import FrameworkResult, Record, ToolCall, ToolResult, canonical_json


def _norm(item: Any) -> ToolResult:
    return item if isinstance(item, ToolResult) else ToolResult(status="ok", value=item)


def answers_of(tool_class: type[Tool], options: dict[str, Any], calls: list[ToolCall]) -> list[ToolResult]:
    """``calls`` answered in one batch by a fresh, started ``tool_class`` (closed afterwards): how a suite
    compares a backend with the other backends of its capability."""
    tool = tool_class(tool_class.Options.model_validate(options))
    tool.start()
    try:
        return [_norm(x) for x in tool.run_batch(calls)]
    finally:
        tool.close()


_UNCOPIED = object()


class ToolConformance:
    """Contract tests for a Tool backend."""

    tool_class: ClassVar[type[Tool]]
    options: ClassVar[dict[str, Any]] = {}

    def sample_calls(self) -> list[ToolCall]:
        raise NotImplementedError

    def hostile_calls(self) -> list[ToolCall]:
        return []

    # helpers ---------------------------------------------------------------------------
    def make_tool(self) -> Tool:
        tool = self.tool_class(self.tool_class.Options.model_validate(self.options))
        tool.start()
        return tool

    def _skip_if_unavailable(self) -> None:
        reason = self.tool_class.unavailable_reason()
        if reason:
            import pytest

            pytest.skip(f"{self.tool_class.name} unavailable here: {reason}")

    def _run(self, calls: list[ToolCall]) -> list[ToolResult]:
        """``calls`` answered by a fresh tool, in one batch, each as a ToolResult."""
        tool = self.make_tool()
        try:
            return [_norm(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()

    def other_backends(self) -> list[type[Tool]]:
        """The other installed and available backends of this capability (for agreement checks)."""
        from chil_core.plugins import get_registry

        reg = get_registry()
        return [cls for cls in reg.tools.get(self.tool_class.capability, {}).values()
                if cls is not self.tool_class and reg.unavailable_reason(cls) is None]

    def run_other(self, cls: type[Tool], calls: list[ToolCall]) -> list[ToolResult]:
        """``calls`` answered by another backend ``cls`` on its default options."""
        tool = cls(cls.Options())
        tool.start()
        try:
            return [_norm(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()

    # tests -----------------------------------------------------------------------------
    def test_declares_identity(self) -> None:
        cls = self.tool_class
        assert cls.name and cls.capability and cls.version, "name, capability and version are required"
        assert cls.isolation in ("inline", "thread", "process")
        assert cls.max_batch >= 1
        assert cls.ops, "declare the ops the backend answers"
        for call in self.sample_calls():
            assert call.capability == cls.capability
            assert call.op in cls.ops, f"sample op {call.op!r} is not declared in ops"

    def test_unavailable_reason_is_cheap(self) -> None:
        t0 = time.perf_counter()
        reason = self.tool_class.unavailable_reason()
        assert reason is None or (isinstance(reason, str) and reason)
        assert time.perf_counter() - t0 < 2.0, "unavailable_reason must not do heavy work"

    def test_batch_answers_each_call_in_order(self) -> None:
        self._skip_if_unavailable()
        calls = self.sample_calls()
        assert len(calls) >= 2, "give at least two sample calls"
        tool = self.make_tool()
        try:
            batched = [_norm(x) for x in tool.run_batch(calls)]
            single = [_norm(tool.run_batch([c])[0]) for c in calls]
            reversed_ = [_norm(x) for x in tool.run_batch(list(reversed(calls)))][::-1]
        finally:
            tool.close()
        assert len(batched) == len(calls)
        for b, s, r in zip(batched, single, reversed_, strict=True):
            assert (b.status, b.value) == (s.status, s.value), "a call's answer must not depend on its batch"
            assert (b.status, b.value) == (r.status, r.value), "a call's answer must not depend on its position"

    def test_payloads_are_read_not_changed(self) -> None:
        """A backend only reads its calls: frameworks share parts of payloads between calls (the
        consistency framework's facts and rules, built once per parsed sentence), and an inline or
        thread backend gets the very objects."""
        import copy

        self._skip_if_unavailable()
        calls = self.sample_calls() + self.hostile_calls()
        before: list[Any] = []
        for c in calls:
            try:
                before.append(copy.deepcopy(c.payload))
            except RecursionError:  # a hostile payload nested past Python's recursion limit: not compared
                before.append(_UNCOPIED)
        tool = self.make_tool()
        try:
            tool.run_batch(calls)
            tool.run_batch(calls[:1])
        finally:
            tool.close()
        for call, payload in zip(calls, before, strict=True):
            if payload is not _UNCOPIED:
                assert call.payload == payload, f"run_batch changed the payload of a {call.op!r} call"

    def test_results_are_json_and_deterministic(self) -> None:
        """Cacheable results must round-trip through JSON and be equal for equal calls (cache keys)."""
        self._skip_if_unavailable()
        calls = self.sample_calls()
        tool = self.make_tool()
        try:
            first = [_norm(x) for x in tool.run_batch(calls)]
            second = [_norm(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()
        for a, b in zip(first, second, strict=True):
            assert a.status in ("ok", "timeout", "error", "unavailable")
            if self.tool_class.cacheable:
                assert canonical_json(a.value) == canonical_json(b.value), "equal calls must give equal answers"
            wire = json.loads(json.dumps(a.to_dict()))  # what the cache and the worker pipe carry
            assert ToolResult.from_dict(wire).to_dict() == wire, "results must round-trip through JSON"

    def test_a_replicable_backend_answers_the_same_from_every_copy(self) -> None:
        """A backend a framework worker may copy (:meth:`Tool.replicable`) answers every call the same from
        two copies open at once, and is cacheable (its answers depend on the call alone)."""
        self._skip_if_unavailable()
        options = self.tool_class.Options.model_validate(self.options)
        t0 = time.perf_counter()
        replicable = self.tool_class.replicable(options)
        assert isinstance(replicable, bool) and time.perf_counter() - t0 < 0.5, "replicable() is a cheap bool"
        if not replicable:
            return
        assert self.tool_class.cacheable, "a replicable backend's answers depend on the call alone: cacheable"
        calls = self.sample_calls() + self.hostile_calls()
        first, second = self.make_tool(), self.make_tool()
        try:
            a = [_norm(x) for x in first.run_batch(calls)]
            b = [_norm(x) for x in second.run_batch(calls)]
        finally:
            first.close()
            second.close()
        assert [(x.status, canonical_json(x.value)) for x in a] == [(x.status, canonical_json(x.value)) for x in b]

    def test_hostile_calls_are_answered_not_raised(self) -> None:
        self._skip_if_unavailable()
        calls = self.hostile_calls()
        if not calls:
            return
        tool = self.make_tool()
        try:
            out = [_norm(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()
        assert len(out) == len(calls)

    def test_through_scheduler_with_cache(self, tmp_path: Path) -> None:
        """Through the real scheduler: answers equal direct calls; a second pass is served by the cache."""
        self._skip_if_unavailable()
        from chil_core.cache import Cache
        from chil_core.config import SchedulerSettings
        from chil_core.scheduler import Scheduler

        calls = self.sample_calls()
        cache = Cache(tmp_path / "cache")
        sched = Scheduler(cache)
        run = SchedulerSettings(timeout_s=60).for_tool(self.tool_class, self.tool_class.name)
        backend = sched.add_backend(self.tool_class, self.tool_class.Options.model_validate(self.options).model_dump(mode="json"), run)

        async def go() -> tuple[list[ToolResult], list[ToolResult]]:
            a = list(await asyncio.gather(*(backend.call(c) for c in calls)))
            b = list(await asyncio.gather(*(backend.call(c) for c in calls)))
            return a, b

        try:
            first, second = asyncio.run(go())
        finally:
            sched.close()
            cache.close()
        tool = self.make_tool()
        try:
            direct = [_norm(x) for x in tool.run_batch(calls)]
        finally:
            tool.close()
        assert [(r.status, r.value) for r in first] == [(r.status, r.value) for r in direct]
        if self.tool_class.cacheable:
            assert all(r.cached for r, d in zip(second, direct, strict=True) if d.status == "ok")


class SharedTool:
    """Mixin for suites whose tests take one started tool shared by the class: the ``tool`` fixture
    (skipped, saying why, where the backend is unavailable).  Mix it in before ToolConformance."""

    shared_tool_fixture: ClassVar[str | None] = "tool"

    @pytest.fixture(scope="class")
    @classmethod
    def tool(cls) -> Any:
        cls._skip_if_unavailable(cls)  # type: ignore[arg-type]
        tool = cls.make_tool(cls)  # type: ignore[arg-type]
        yield tool
        tool.close()


class _FailingContext:
    """Every tool call fails with ``status``: proves a framework maps tool failures to typed statuses.
    ``calls`` counts the calls, so a test knows whether a result could have depended on a tool."""

    def __init__(self, status: str) -> None:
        self.status = status
        self.calls = 0

    def has(self, capability: str) -> bool:
        return True

    def backend(self, capability: str) -> str | None:
        return "failing"

    async def call(self, capability: str, op: str, payload: dict[str, Any]) -> ToolResult:
        self.calls += 1
        return ToolResult(status=self.status, error=f"forced {self.status}", backend="failing")  # type: ignore[arg-type]

    async def call_many(self, calls: Sequence[ToolCall]) -> list[ToolResult]:
        return [await self.call(c.capability, c.op, c.payload) for c in calls]


class FrameworkConformance:
    """Contract tests for a Framework, run through the real Scorer and the installed backends."""

    framework_name: ClassVar[str]
    config: ClassVar[dict[str, Any]] = {}

    def sample_records(self) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _config(self, tmp_path: Path) -> dict[str, Any]:
        cfg = json.loads(json.dumps(self.config))
        cfg.setdefault("cache", {})["path"] = str(tmp_path / "cache")
        return cfg

    def _framework_class(self) -> type[Framework]:
        from chil_core.plugins import get_registry

        reg = get_registry()
        assert self.framework_name in reg.frameworks, f"framework {self.framework_name!r} is not installed (entry point?)"
        return reg.frameworks[self.framework_name]

    def test_registered_through_entry_point(self) -> None:
        cls = self._framework_class()
        assert cls.name == self.framework_name and cls.version
        cls.Options()  # defaults must validate

    def test_results_honour_the_contract(self, tmp_path: Path) -> None:
        from chil_core.scoring import Scorer

        records = self.sample_records()
        with Scorer.from_config(self._config(tmp_path), frameworks=[self.framework_name]) as scorer:
            rewards = scorer.score(records)
        assert [r.id for r in rewards] == [r["id"] for r in records], "one reward per record, in order"
        statuses = []
        for reward in rewards:
            result = reward.frameworks[self.framework_name]
            statuses.append(result.status)
            again = FrameworkResult.model_validate_json(result.model_dump_json())
            assert again == result, "results must round-trip through JSON (schema)"
            assert (result.score is not None) == (result.status == "scored")
        assert "scored" in statuses, "at least one sample record must be scored"

    def test_batch_equals_single(self, tmp_path: Path) -> None:
        """Scoring records together gives what scoring each alone gives (batching is invisible)."""
        from chil_core.scoring import Scorer

        records = self.sample_records()
        cfg = self._config(tmp_path)
        cfg["cache"]["enabled"] = False
        with Scorer.from_config(cfg, frameworks=[self.framework_name]) as scorer:
            together = scorer.score(records)
            alone = [scorer.score([r])[0] for r in records]
        for a, b in zip(together, alone, strict=True):
            fa, fb = a.frameworks[self.framework_name], b.frameworks[self.framework_name]
            assert (fa.status, fa.score, fa.verdict, fa.components) == (fb.status, fb.score, fb.verdict, fb.components)

    def test_second_pass_hits_the_cache(self, tmp_path: Path) -> None:
        from chil_core.scoring import Scorer

        records = self.sample_records()
        with Scorer.from_config(self._config(tmp_path), frameworks=[self.framework_name]) as scorer:
            first = scorer.score(records)
            before = scorer.cache.stats.hits if scorer.cache else 0
            second = scorer.score(records)
            used_tools = any(s.get("calls", 0) for k, s in scorer.stats().items() if k != "cache")
            after = scorer.cache.stats.hits if scorer.cache else 0
        for a, b in zip(first, second, strict=True):
            assert a.frameworks[self.framework_name] == b.frameworks[self.framework_name]
        if used_tools:
            assert after > before, "a second pass over the same records must be served by the cache"

    def test_reads_names_every_field_a_result_depends_on(self, tmp_path: Path) -> None:
        """``reads`` is the record cache's key: a record that differs from another only outside it (its
        id, its group, an extra field, an undeclared standard field) must get the same result, since the
        cache will give it that one.  The equal completions of a GRPO group (their ids differ) are then
        scored once: one miss, the rest in-batch duplicates."""
        from chil_core.scoring import Scorer

        cls = self._framework_class()
        if cls.reads is None:
            pytest.skip(f"{cls.name}: reads is None (the whole record, id included, is the key)")
        fw = cls(cls.Options())
        records = [r for r in self.sample_records() if fw.result_key(Record.model_validate(r)) is not None]
        if not records:
            pytest.skip(f"{cls.name}: no sample record is cached (sequential, cache_results = False, result_key)")
        outside = {"prompt": "A different prompt, 12 and 7.", "reference": {"answer": "zzz-unread"},
                   "metadata": {"unread": 1}}
        others = []
        for raw in records:
            other = dict(raw, id=f"{raw['id']}~other", group="another-group", unread_extra_field="x")
            other.update({f: v for f, v in outside.items() if f not in cls.reads})
            others.append(other)
        cfg = self._config(tmp_path)
        cfg["cache"]["enabled"] = False
        with Scorer.from_config(cfg, frameworks=[self.framework_name]) as scorer:
            got = scorer.score(records)
            again = scorer.score(others)
        for raw, a, b in zip(records, got, again, strict=True):
            fa, fb = a.frameworks[self.framework_name], b.frameworks[self.framework_name]
            assert (fa.status, fa.score, fa.verdict, fa.components, fa.explanation) == \
                   (fb.status, fb.score, fb.verdict, fb.components, fb.explanation), (
                f"record {raw['id']!r}: a field outside reads = {cls.reads} changed the result; declare it")
        scored = next((r for r, g in zip(records, got, strict=True) if g.frameworks[self.framework_name].status == "scored"), None)
        if scored is None:
            pytest.skip(f"{cls.name}: no cached sample record is scored (a group of one needs one)")
        group = [dict(scored, id=f"completion-{k}", group="q") for k in range(4)]
        with Scorer.from_config(self._config(tmp_path / "group"), frameworks=[self.framework_name]) as scorer:
            rewards = scorer.score(group)
            st = scorer.stats().get(f"records:{self.framework_name}")
        if st is None:
            pytest.skip(f"{cls.name}: the record cache is off in this config (a backend that is not cacheable)")
        assert len({r.frameworks[self.framework_name].score for r in rewards}) == 1
        assert (st["misses"], st["dedup_hits"]) == (1, 3), st

    def test_tool_failures_become_statuses(self) -> None:
        """A record whose tool calls all fail is never ``scored`` (a failed check must not pay, nor hide
        its penalty): ``timeout``/``error`` become a failure status; under ``unavailable`` a
        framework abstains, or scores only if it checks the record without the backend.  A record scored without calling any tool is unaffected."""
        cls = self._framework_class()
        fw = cls(cls.Options())
        # unavailable: abstained is the norm (chil_core.failures.tool_failure), a masked error is tolerated,
        # and a framework that checks the record itself when no backend is there (a built-in solver) may score
        expected = {"timeout": ("timeout", "error"), "error": ("error", "timeout"),
                    "unavailable": ("abstained", "error", "scored")}
        for status, allowed in expected.items():
            for raw in self.sample_records():
                ctx = _FailingContext(status)
                record = Record.model_validate(raw)
                result = asyncio.run(fw.score(record, ctx))
                assert isinstance(result, FrameworkResult)
                assert result.status in ("scored", "abstained", "timeout", "error")
                if ctx.calls:
                    assert result.status in allowed, (
                        f"record {record.id!r}: every tool call returned {status!r}, yet the result is "
                        f"{result.status!r} ({result.explanation})")
