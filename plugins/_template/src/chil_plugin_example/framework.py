"""A framework: does the completion mention the reference's keywords?  (score = fraction found)

Every name that says ``example`` is renamed with the plugin (see "Write a plugin" in the README)."""

from __future__ import annotations

import re
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from chil_core import Evidence, Framework, FrameworkResult, Record, ToolCall, ToolResult
from chil_core.failures import tool_failure

WORD = re.compile(r"[A-Za-z]+")


class ExampleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_words: int = 2000


class ExampleFramework(Framework):
    name: ClassVar[str] = "example"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "Fraction of reference.keywords the completion mentions (after stemming)."
    capabilities: ClassVar[dict[str, bool]] = {"stemmer": True}
    #: the record fields a result depends on: the record cache's key (not the id, so that the equal
    #: completions of a GRPO group are scored once); leave out a field and a change to it reuses a result
    reads: ClassVar[tuple[str, ...]] = ("completion", "reference")
    Options = ExampleOptions

    def extract(self, record: Record) -> list[ToolCall]:
        keywords = (record.reference or {}).get("keywords")
        if not keywords:
            return []
        words = WORD.findall(record.completion)[: self.options.max_words]
        return [ToolCall(capability="stemmer", op="stem", payload={"words": [str(k) for k in keywords]}),
                ToolCall(capability="stemmer", op="stem", payload={"words": words})]

    def judge(self, record: Record, calls: list[ToolCall], results: list[ToolResult]) -> FrameworkResult:
        if not calls:
            return FrameworkResult.abstained("no reference.keywords to look for")
        for r in results:
            if not r.ok:
                # a failed check never pays: tool_failure makes it a status with its cause (the calls carry
                # the completion's words, so a timeout on them is the completion's doing and penalised)
                return tool_failure(r, "stemmer", completion_input=True)
        wanted, seen = results[0].value, set(results[1].value)
        missing = [w for w in wanted if w not in seen]
        found = len(wanted) - len(missing)
        return FrameworkResult.scored(
            found / len(wanted),
            components={"keywords": float(len(wanted)), "found": float(found)},
            verdict="complete" if not missing else "incomplete",
            # one sentence a person reads in `chil score` output to see why this reward
            explanation=f"mentions {found} of {len(wanted)} keywords" + (f"; missing {', '.join(missing)}" if missing else ""),
            evidence=[Evidence(kind="missing_keyword", text=f"missing {w!r}") for w in missing],
        )
