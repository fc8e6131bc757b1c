"""The malformed-payload checks every capability suite shares, as one mixin.

A malformed call is answered ``error`` with a message naming the bad field (a model wrote the
payload: it gets a clear answer, never a traceback), and it does not fail the well-formed call batched
with it.  A suite lists its cases and mixes this in before :class:`ToolConformance`::

    class SentimentConformance(MalformedPayloads, ToolConformance):
        def malformed_cases(self):
            return [(polarity(3), "payload.text"),
                    (ToolCall(capability="sentiment", op="classify", payload={}), "no op 'classify'")]

A case's fragment is a string, or a tuple of strings the message must all contain.  The batch runs on
the suite's class-scoped fixture named in ``shared_tool_fixture`` when it has one, else on a fresh tool.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from chil_core.contracts import ToolCall, ToolResult

Case = tuple[ToolCall, "str | tuple[str, ...]"]


class MalformedPayloads:
    #: name of the suite's class-scoped tool fixture (None: each run starts a tool with ``make_tool``)
    shared_tool_fixture: ClassVar[str | None] = None

    def malformed_cases(self) -> list[Case]:
        """``(call, fragment)`` pairs: the call must be an error whose message contains ``fragment``."""
        raise NotImplementedError

    def well_formed_call(self) -> ToolCall:
        """A valid call batched after the malformed ones (default: the first sample call)."""
        return self.sample_calls()[0]  # type: ignore[attr-defined, no-any-return]

    def check_well_formed(self, result: ToolResult) -> None:
        """Further checks of the well-formed call's answer (override to assert its value)."""

    def answer_batch(self, request: pytest.FixtureRequest, calls: list[ToolCall]) -> list[ToolResult]:
        if self.shared_tool_fixture:
            tool = request.getfixturevalue(self.shared_tool_fixture)
            return [x if isinstance(x, ToolResult) else ToolResult.success(x) for x in tool.run_batch(calls)]
        self._skip_if_unavailable()  # type: ignore[attr-defined]
        return self._run(calls)  # type: ignore[attr-defined, no-any-return]

    def test_malformed_payloads_name_the_field(self, request: pytest.FixtureRequest) -> None:
        cases = self.malformed_cases()
        assert cases, "list the capability's malformed cases"
        good = self.well_formed_call()
        out = self.answer_batch(request, [call for call, _ in cases] + [good])
        assert len(out) == len(cases) + 1
        for (call, fragment), got in zip(cases, out, strict=False):
            where = f"{call.op} {_short(call.payload)}"
            assert got.status == "error", f"{where}: answered {got.status} {_short(got.value)}, not an error"
            for part in (fragment,) if isinstance(fragment, str) else fragment:
                assert part in (got.error or ""), f"{where}: {got.error!r} does not name {part!r}"
        assert out[-1].status == "ok", f"a malformed call failed its well-formed neighbour: {out[-1].error}"
        self.check_well_formed(out[-1])


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 200 else text[:200] + "..."


__all__ = ["Case", "MalformedPayloads"]
