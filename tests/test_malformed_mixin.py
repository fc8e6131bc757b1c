"""The shared malformed-payload mixin (chil_core.testing.malformed) fails a backend that breaks its rule."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from chil_core import Tool, ToolCall, ToolResult
from chil_core.testing.conformance import ToolConformance
from chil_core.testing.malformed import MalformedPayloads


def echo(text: Any) -> ToolCall:
    return ToolCall(capability="echo", op="echo", payload={"text": text})


class Echo(Tool):
    name: ClassVar[str] = "echo"
    capability: ClassVar[str] = "echo"
    ops: ClassVar[frozenset[str]] = frozenset({"echo"})
    message: ClassVar[str] = "payload.text: must be a string"
    batch_fails: ClassVar[bool] = False

    def run_batch(self, calls: list[ToolCall]) -> list[Any]:
        bad = any(not isinstance(c.payload.get("text"), str) for c in calls)
        return [ToolResult.failure(self.message) if not isinstance(c.payload.get("text"), str) or (bad and self.batch_fails)
                else c.payload["text"] for c in calls]


class VagueEcho(Echo):
    message = "bad input"


class FragileEcho(Echo):
    batch_fails = True


class _Suite(MalformedPayloads, ToolConformance):
    tool_class: ClassVar[type[Tool]] = Echo

    def sample_calls(self) -> list[ToolCall]:
        return [echo("a"), echo("b")]

    def malformed_cases(self) -> list[tuple[ToolCall, str]]:
        return [(echo(3), "payload.text"), (echo(None), "payload.text")]


@pytest.mark.parametrize(("tool_class", "failure"), [(Echo, None), (VagueEcho, "does not name 'payload.text'"),
                                                     (FragileEcho, "failed its well-formed neighbour")])
def test_the_mixin_passes_a_good_backend_and_fails_a_bad_one(tool_class: type[Tool], failure: str | None,
                                                             request: pytest.FixtureRequest) -> None:
    suite = type("Suite", (_Suite,), {"tool_class": tool_class})()
    if failure is None:
        suite.test_malformed_payloads_name_the_field(request)
    else:
        with pytest.raises(AssertionError, match=failure):
            suite.test_malformed_payloads_name_the_field(request)
