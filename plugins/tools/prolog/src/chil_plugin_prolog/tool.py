"""``PrologLogic``: the ``logic_program`` capability (op ``decide``) decided by SWI-Prolog.

A batch of payloads is validated in Python (``chil_core.capabilities.logic_program``), re-encoded as
one compact JSON text (each predicate and constant name written once, literals as numbers) and handed
to ``decide_batch_json/3`` (``decide.pl``, shipped with this package) as one atom argument: one goal
for the whole batch.  Prolog reads it with its JSON parser, never as program text, and decides each
distinct theory on its own (``holds(World, Sign, Pred, Args)`` clauses in the module ``chil_theory``,
retracted with every table before the next theory; world 0 is the theory alone, the others add an
assumed set's facts), under tabling and its own ``call_with_time_limit/2``.  The backend runs
process-isolated: the scheduler kills and replaces a worker that overruns its timeout or dies.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from chil_core import Tool, ToolCall, ToolResult

PROGRAM = Path(__file__).with_name("decide.pl")
log = logging.getLogger(__name__)


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
    version: ClassVar[str] = "0.2.0"
    description: ClassVar[str] = "SWI-Prolog: tabled derivation over data-built clauses, time-limited, own process."
    ops: ClassVar[frozenset[str]] = frozenset({"decide"})
    Options: ClassVar[type[BaseModel]] = PrologOptions
    isolation = "process"
    worker_batch: ClassVar[bool] = True
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
        self._decide = Functor("decide_batch_json", 3)

    def _once(self, goal: Any) -> bool:
        q = self._Query(goal)
        try:
            return bool(q.nextSolution())
        finally:
            q.closeQuery()

    def run_batch(self, calls: list[ToolCall]) -> list[ToolResult | Any]:
        """The batch's valid calls in one Prolog goal (:meth:`decide_many`); a malformed call is an
        error of its own.  Should the joint goal fail, each call is decided alone."""
        from chil_core.capabilities.logic_program import decide_batch

        return decide_batch(calls, self.decide_many, self.failure, "prolog: a joint goal")

    def decide(self, payload: Any) -> dict[str, Any] | ToolResult:
        """One ``decide`` payload alone."""
        from chil_core.capabilities.logic_program import load_decide_call

        return self.decide_many([load_decide_call(payload)])[0]

    def decide_many(self, jobs: list[Any]) -> list[dict[str, Any] | ToolResult]:
        """Validated payloads (:class:`~chil_core.capabilities.logic_program.Decide`) in one goal: each
        distinct theory once, with one world per distinct assumed set, its queries asked in world 0."""
        from chil_core.capabilities.logic_program import Literal, answer

        theories: dict[int, int] = {}
        blocks: list[dict[str, Any]] = []
        worlds: list[dict[tuple[Any, ...], int]] = []
        queries: list[dict[Literal, int]] = []
        plan: list[tuple[int, list[int], dict[Literal, int]]] = []
        names: dict[str, int] = {}  # every predicate and constant of the batch, numbered once

        def lit(x: Any, variables: dict[str, int] | None = None) -> list[Any]:
            """[sign, predicate number, argument numbers]; a rule's variables ("?x") are -1, -2, ..."""
            return [1 if x.neg else 0, names.setdefault(x.pred, len(names)),
                    [variables.setdefault(a, -1 - len(variables)) if variables is not None and a[:1] == "?"
                     else names.setdefault(a, len(names)) for a in x.args]]

        def rule(r: Any) -> list[Any]:
            variables: dict[str, int] = {}
            body = [lit(b, variables) for b in r.body]
            return [body, lit(r.head, variables)]

        for job in jobs:
            t = theories.get(id(job.theory))
            if t is None:
                t = theories[id(job.theory)] = len(blocks)
                th = job.theory
                blocks.append({"f": [lit(f) for f in th.facts], "r": [rule(r) for r in th.rules], "w": [], "q": []})
                worlds.append({})
                queries.append({})
            ws = []
            for extra in job.worlds():
                w = worlds[t].get(extra)
                if w is None:
                    w = worlds[t][extra] = len(blocks[t]["w"])
                    blocks[t]["w"].append([lit(x) for x in extra])
                ws.append(w)
            asked: dict[Literal, int] = {}
            for q in job.queries:
                for x in (q, q.complement()):
                    k = queries[t].get(x)
                    if k is None:
                        k = queries[t][x] = len(blocks[t]["q"])
                        blocks[t]["q"].append([ws[0], lit(x)])
                    asked[x] = k
            plan.append((t, ws, asked))
        text = json.dumps({"s": list(names), "b": blocks}, ensure_ascii=True, separators=(",", ":"))
        result = self._Variable()
        q = self._Query(self._decide(text, self.options.time_limit_ms, result))
        try:
            if not q.nextSolution():
                raise RuntimeError("decide_batch_json/3 failed")
            raw = result.value
        finally:
            q.closeQuery()
        data = json.loads(raw if isinstance(raw, str) else raw.decode())
        if "error" in data:  # the batch as a whole (its JSON): every call of it fails alike
            raise RuntimeError(f"prolog: {data['error'][:500]}")
        results = data["b"]
        clashes: list[dict[int, list[Literal]]] = []
        for res in results:
            per_world: dict[int, list[Literal]] = {}
            for w, p, a in res.get("c", []):
                per_world.setdefault(w, []).append(Literal(p, tuple(a)))
            clashes.append(per_world)
        out: list[dict[str, Any] | ToolResult] = []
        for job, (t, ws, asked) in zip(jobs, plan, strict=True):
            res = results[t]
            if "error" in res:
                if res["error"] == "time_limit_exceeded":
                    out.append(ToolResult.failure(f"prolog exceeded its {self.options.time_limit_ms} ms time limit", "timeout"))
                else:
                    out.append(ToolResult.failure(f"prolog: {res['error'][:500]}"))
                continue
            derivable = {lit: res["d"][k] for lit, k in asked.items()}
            assumed = None if job.assume is None else [clashes[t].get(w, []) for w in ws[1:]]
            out.append(answer(job.queries, derivable, clashes[t].get(ws[0], []), assumed))
        return out

