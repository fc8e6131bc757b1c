"""A tool backend: capability ``stemmer``, op ``stem``: crude suffix stripping of a list of words."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

SUFFIXES = ("ing", "ed", "es", "s")


class ExampleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_length: int = Field(default=3, ge=1, description="Never shorten a word below this many letters.")


class ExampleTool(Tool):
    name: ClassVar[str] = "example"
    capability: ClassVar[str] = "stemmer"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Strips common English suffixes."
    ops: ClassVar[frozenset[str]] = frozenset({"stem"})
    Options = ExampleOptions
    isolation = "thread"
    max_batch = 512
    # What the backend needs, checked cheaply (nothing imported) by the default ``unavailable_reason``;
    # a missing one lists the backend as unavailable, with the reason, in ``chil plugins``.  E.g.
    # ``{"z3": "z3-solver"}`` (module -> distribution) and ``{"lean": "install Lean 4, e.g. with elan"}``.
    requires_modules: ClassVar[dict[str, str]] = {"pydantic": "pydantic"}
    requires_binaries: ClassVar[dict[str, str]] = {}

    def stem(self, word: str) -> str:
        w = word.lower()
        for suffix in SUFFIXES:
            if w.endswith(suffix) and len(w) - len(suffix) >= self.options.min_length:
                return w[: -len(suffix)]
        return w

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | list[str]]:
        out: list[ToolResult | list[str]] = []
        for call in calls:
            words = call.payload.get("words")
            if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
                out.append(ToolResult.failure("payload.words must be a list of strings"))
                continue
            out.append([self.stem(w) for w in words[:10_000]])  # bounded: hostile input
        return out
