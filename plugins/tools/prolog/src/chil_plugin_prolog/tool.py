"""``PrologLogic``: the ``logic_program`` capability (op ``decide``) decided by SWI-Prolog.

The payload is validated in Python (``chil_core.capabilities.logic_program``), re-encoded as compact JSON
and handed to ``decide_json/3`` (``decide.pl``, shipped with this package) as one atom argument:
Prolog reads it with its JSON parser, never as program text, builds ``holds(Sign, Pred, Args)``
clauses in a temporary module, and answers under tabling and ``call_with_time_limit/2``.  The backend
runs process-isolated: the scheduler kills and replaces a worker that overruns its timeout or dies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

PROGRAM = Path(__file__).with_name("decide.pl")


class PrologOptions(BaseModel):
    """Options of the prolog backend (``[tools.prolog]``)."""

    model_config = ConfigDict(extra="forbid")

    time_limit_ms: int = Field(default=2_000, ge=1, le=600_000, description="call_with_time_limit per call.")
    stack_limit_mb: int = Field(default=512, ge=16, description="SWI-Prolog stack_limit of the worker.")
    table_space_mb: int = Field(default=1_024, ge=16, description="SWI-Prolog table_space of the worker.")


class PrologLogic(Tool):
    """SWI-Prolog (via pyswip) as a ``logic_program`` backend, process-isolated."""

    name: ClassVar[str] = "prolog"
    capability: ClassVar[str] = "logic_program"
    version: ClassVar[str] = "0.1.0"
    description: ClassVar[str] = "SWI-Prolog: tabled derivation over data-built clauses, time-limited, own process."
    ops: ClassVar[frozenset[str]] = frozenset({"decide"})
    Options: ClassVar[type[BaseModel]] = PrologOptions
    isolation = "process"
    max_batch: ClassVar[int] = 64
    priority: ClassVar[int] = 3

    options: PrologOptions

    requires_modules: ClassVar[dict[str, str]] = {"pyswip": "pyswip"}
    requires_binaries: ClassVar[dict[str, str]] = {"swipl": "SWI-Prolog: apt-get install swi-prolog-nox"}

    def start(self) -> None:
        from pyswip import Functor, Prolog, Query, Variable

        self._Functor, self._Query, self._Variable = Functor, Query, Variable
        Prolog()  # initialises the embedded engine once per process
        setflag = Functor("set_prolog_flag", 2)
        for flag, mb in (("stack_limit", self.options.stack_limit_mb), ("table_space", self.options.table_space_mb)):
            self._once(setflag(flag, mb * 1024 * 1024))
        self._once(Functor("use_module", 1)(str(PROGRAM)))
        self._decide = Functor("decide_json", 3)

    def _once(self, goal: Any) -> bool:
        q = self._Query(goal)
        try:
            return bool(q.nextSolution())
        finally:
            q.closeQuery()

    def run_one(self, call: ToolCall) -> ToolResult | Any:
        return self.decide(call.payload)

    def decide(self, payload: Any) -> dict[str, Any] | ToolResult:
        from chil_core.capabilities.logic_program import Literal, answer, load_decide

        theory, queries = load_decide(payload)
        asked = list(dict.fromkeys(lit for q in queries for lit in (q, q.complement())))
        text = json.dumps({
            "f": [_lit(f) for f in theory.facts],
            "r": [[[_lit(b) for b in r.body], _lit(r.head)] for r in theory.rules],
            "q": [_lit(q) for q in asked],
        }, ensure_ascii=True, separators=(",", ":"))
        result = self._Variable()
        q = self._Query(self._decide(text, self.options.time_limit_ms, result))
        try:
            if not q.nextSolution():
                raise RuntimeError("decide_json/3 failed")
            raw = result.value
        finally:
            q.closeQuery()
        data = json.loads(raw if isinstance(raw, str) else raw.decode())
        if "error" in data:
            if data["error"] == "time_limit_exceeded":
                return ToolResult.failure(f"prolog exceeded its {self.options.time_limit_ms} ms time limit", "timeout")
            return ToolResult.failure(f"prolog: {data['error'][:500]}")
        derivable = dict(zip(asked, data["d"], strict=True))
        clashes = [Literal(p, tuple(a)) for p, a in data["c"]]
        return answer(queries, derivable, clashes)


def _lit(lit: Any) -> list[Any]:
    return ["-" if lit.neg else "+", lit.pred, list(lit.args)]
